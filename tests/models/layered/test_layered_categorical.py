"""Categorical emissions: the exact distribution of a row of answers, q-preserving moves, and a market that finds
the published latent class fits of the carcinoma book."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.models.layered.categorical import CategoricalState, categorical_em_step, encode_answers
from deepmarkets.models.layered.market import LayeredLatentMarket
from deepmarkets.models.layered.traders import EMTrader, Plan

CARCINOMA = Path(__file__).resolve().parents[4] / "shared" / "data" / "poLCA" / "carcinoma.csv"


def _random(rng, k=3, levels=(2, 3, 4)):
    tables = [rng.dirichlet(np.ones(lj), size=k) for lj in levels]
    return CategoricalState.from_tables(rng.dirichlet(np.ones(k)), tables)


def test_the_distribution_of_answers_sums_to_one_and_is_the_brute_force_mixture():
    rng = np.random.default_rng(0)
    s = _random(rng)
    rows = np.array(list(itertools.product(range(2), range(3), range(4))), dtype=float)
    q = np.exp(s.log_q(rows))
    assert abs(q.sum() - 1) < 1e-12
    brute = [sum(s.weights[a] * np.prod([s.tables[j][a, int(r[j])] for j in range(3)]) for a in range(3)) for r in rows]
    assert np.allclose(q, brute, rtol=1e-12)
    for moved in (s.permuted([2, 0, 1]), s.split_copy(1)):
        assert np.max(np.abs(moved.log_q(rows) - s.log_q(rows))) < 1e-12
    assert s.split_copy(0).n_parameters == s.n_parameters + 1 + (1 + 2 + 3)


def test_em_never_lowers_the_likelihood():
    for seed in range(4):
        rng = np.random.default_rng(seed)
        truth = _random(rng)
        z = rng.choice(3, 300, p=truth.weights)
        x = np.column_stack([[rng.choice(t.shape[1], p=t[a]) for a in z] for t in truth.tables]).astype(float)
        s = _random(rng)
        ll = s.log_q(x).sum()
        for step in range(20):
            s = categorical_em_step(s, x, columns=None if step % 3 else [1], weights=step % 2 == 0)
            assert s.log_q(x).sum() >= ll - 1e-9 * abs(ll)
            ll = s.log_q(x).sum()


def test_bad_answers_are_refused():
    with pytest.raises(DeclarationError, match="missing answers"):
        encode_answers(pd.DataFrame({"a": ["x", None, "y"]}))
    with pytest.raises(DeclarationError, match="single answer"):
        encode_answers(pd.DataFrame({"a": ["x", "x"], "b": ["x", "y"]}))
    with pytest.raises(DeclarationError, match="codes"):
        LayeredLatentMarket(np.full((20, 2), 0.5), emission="categorical")
    s = CategoricalState.one_class(np.array([[0, 1], [1, 0]] * 5, dtype=float), [2, 2])
    with pytest.raises(DeclarationError, match="codes 0"):
        s.log_q([[0, 2]])
    with pytest.raises(DeclarationError, match="positive"):
        CategoricalState.from_tables([1.0], [[[1.0, 0.0]]])


def test_relabelling_pays_nothing_and_a_layer_is_refused():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"q1": rng.choice(["yes", "no"], 100), "q2": rng.choice(["a", "b", "c"], 100)})
    m = LayeredLatentMarket(frame, emission="categorical", max_states=3, rng=1).run(3, progressbar=False)
    assert m.columns == ["q1", "q2"] and m.state.levels == [2, 3]
    if m.state.n_states > 1:
        t = m.trade("relabeller", Plan(lambda s, d: s.permuted(np.arange(s.n_states)[::-1])))
        assert t.accepted and abs(t.payout) < 1e-12
    t = m.trade("layer", Plan(lambda s, d: s.with_layer()))
    assert not t.accepted and "Gaussian" in t.reason


@pytest.mark.skipif(not CARCINOMA.is_file(), reason="../shared/data/poLCA/carcinoma.csv is not present")
def test_carcinoma_market_finds_the_published_fits():
    book = pd.read_csv(CARCINOMA)
    m = LayeredLatentMarket(book, emission="categorical", max_states=4, rng=0).run(6, progressbar=False)
    # poLCA (Agresti 2002, Table 13.2): log-likelihood -293.705 with three classes, which BIC prefers
    assert m.state.n_states == 3
    assert abs(m.rounds["log_likelihood"].iloc[-1] * len(book) - (-293.705)) < 1e-3
    # EM traders alone with two classes reach the published two-class optimum, -317.2568
    best = -np.inf
    for seed in range(3):
        rng = np.random.default_rng(seed)
        init = CategoricalState.from_tables([0.5, 0.5], [rng.dirichlet([1, 1], size=2) for _ in range(7)])
        two = LayeredLatentMarket(book, emission="categorical", init=init, traders=[EMTrader()], rent=None, rng=seed)
        two.run(200, progressbar=False)
        best = max(best, two.rounds["log_likelihood"].iloc[-1] * len(book))
    assert abs(best - (-317.2568)) < 1e-3
