"""The conditional market: EM traders alone are EM, relabelled experts pay nothing, payouts telescope, bad trades
are rejected."""

from __future__ import annotations

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.models.layered.conditional import fit_conditional, init_conditional
from deepmarkets.models.layered.conditional_market import ConditionalLatentMarket, bishop_inverse
from deepmarkets.models.layered.traders import Plan


def test_em_traders_alone_move_the_state_as_em_does_and_payouts_telescope():
    x, y = bishop_inverse(300, rng=1)
    init = init_conditional(x, y, 3, rng=1)
    m = ConditionalLatentMarket(x, y, init=init, b=0.5, rng=1)
    first = m.held_out_log_score
    m.run(15, progressbar=False)
    ref = fit_conditional(init, x, y, steps=15)
    assert np.max(np.abs(m.state.log_q(x, y) - ref.log_q(x, y))) < 1e-10
    assert np.isclose(m.trade_log["payout"].sum(), 0.5 * len(x) * (m.held_out_log_score - first), rtol=1e-12)
    assert m.held_out_log_score > first and abs(m.balances().sum()) < 1e-9


def test_relabelled_experts_pay_nothing_and_bad_trades_are_rejected():
    x, y = bishop_inverse(200, rng=2)
    m = ConditionalLatentMarket(x, y, experts=3, rng=2).run(3, progressbar=False)
    t = m.trade("relabeller", Plan(lambda s, d: s.permuted([2, 0, 1])))
    assert t.accepted and abs(t.payout) < 1e-12
    before = m.state
    t = m.trade("broken", Plan(lambda s, d: s.__class__(s.gate * np.nan, s.expert, s.log_sigma, s.features)))
    assert not t.accepted and t.payout == 0 and m.state is before
    with pytest.raises(DeclarationError):
        ConditionalLatentMarket(x, y[:-1])
    with pytest.raises(DeclarationError, match="ConditionalState"):
        ConditionalLatentMarket(x, y, init="three experts")
