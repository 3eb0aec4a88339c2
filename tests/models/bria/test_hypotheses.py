"""Hypothesis families: enumeration order, copy the best, repeated-game strategies, user callables."""

from __future__ import annotations

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.models.bria import History, callables, constant, copy_best, promise_grid, strategies


def test_constant_grids_in_both_orders():
    by_option = constant(2, [0.1, 0.2, 0.3])
    opts, proms = by_option.propose(History(2))
    assert opts.tolist() == [0, 0, 0, 1, 1, 1] and proms.tolist() == [0.1, 0.2, 0.3] * 2
    opts, proms = constant(2, [0.1, 0.2, 0.3], order="promise").propose(History(2))
    assert opts.tolist() == [0, 1] * 3 and proms.tolist() == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]
    assert len(constant(3).names) == 60 and promise_grid().tolist()[:3] == [0.05, 0.1, 0.15]
    assert constant(2, [0.5], labels=("safe", "lottery")).names == ["always safe @ 0.5", "always lottery @ 0.5"]
    with pytest.raises(DeclarationError, match="order='arm'"):
        constant(2, order="arm")


def test_copy_best_tries_untried_options_first_then_follows_the_best_mean():
    h, past = copy_best([0.3, 0.6]), History(3)
    picks = []
    for reward in (0.2, 0.9, 0.5):
        opts, proms = h.propose(past)
        picks.append(int(opts[0]))
        assert opts.tolist() == [picks[-1]] * 2 and proms.tolist() == [0.3, 0.6]
        past.record(picks[-1], reward)
    assert picks == [0, 1, 2] and int(h.propose(past)[0][0]) == 1


@pytest.mark.parametrize(("name", "theirs", "ours", "expected"), [
    ("cooperate", [1, 1, 1], [0, 0, 0], [0, 0, 0, 0]),
    ("defect", [0, 0, 0], [1, 1, 1], [1, 1, 1, 1]),
    ("tit_for_tat", [0, 1, 0], [0, 0, 1], [0, 0, 1, 0]),
    ("grim", [0, 1, 0], [0, 0, 1], [0, 0, 1, 1]),
    ("pavlov", [0, 1, 1], [0, 0, 1], [0, 0, 1, 0]),  # stay after a reward >= 0.5, shift otherwise
])
def test_strategies_follow_their_rules(name, theirs, ours, expected):
    from deepmarkets.models.bria import PrisonersDilemma

    payoffs = PrisonersDilemma(None).payoffs
    h, past, moves = strategies([name], [0.5]), History(2), []
    for mine, other in zip(ours, theirs, strict=True):
        moves.append(int(h.propose(past)[0][0]))
        past.record(mine, float(payoffs[mine, other]), observation=other)
    moves.append(int(h.propose(past)[0][0]))
    assert moves == expected


def test_callables_are_asked_in_order_with_the_history():
    seen = []

    def alternate(past):
        seen.append(past.round)
        return past.round % 2, 0.25

    h = callables([alternate, lambda past: (0, 1.0)], names=["alternate", "zero"])
    past = History(2)
    assert [a.tolist() for a in h.propose(past)] == [[1, 0], [0.25, 1.0]]
    past.record(1, 0.0)
    assert h.propose(past)[0].tolist() == [0, 0] and seen == [1, 2]
    with pytest.raises(DeclarationError, match="2 names for 1 hypotheses"):
        callables([alternate], names=["a", "b"])
    with pytest.raises(DeclarationError, match="takes callables"):
        callables([1])


def test_promise_grid_rejects_bad_bounds():
    with pytest.raises(DeclarationError, match="expected 0 <= low <= high <= 1"):
        promise_grid(0.5, 1.5)
    assert np.allclose(promise_grid(0.01, 1, 0.01), np.arange(1, 101) / 100)
