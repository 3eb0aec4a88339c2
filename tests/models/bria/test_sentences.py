"""Sentence bets: truths decided by z3, the z3 hypothesis keeps its promises, feature promises as Feature.evaluate."""

from __future__ import annotations

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, atoms
from deepmarkets.logic.induction.features import price, ramp
from deepmarkets.models.bria import AuctionBRIA, History, SentenceBets, constant, decided, feature_promises


@pytest.fixture(scope="module")
def task():
    a, b, c = atoms("a b c")
    return SentenceBets([a, b, c, b & ~c], Theory([a, a.implies(b), ~c]), safe=0.5)


def test_truths_come_from_the_theory(task):
    assert task.truths == (True, True, False, True)
    assert [task.reward(n, 0, None) for n in range(1, 6)] == [(1.0, 1), (1.0, 1), (0.0, 0), (1.0, 1), (1.0, 1)]
    a, d = atoms("a d")
    with pytest.raises(DeclarationError, match="decides neither d nor its negation"):
        SentenceBets([a, d], Theory([a]))


def test_the_z3_hypothesis_keeps_every_promise_and_is_never_rejected(task):
    agent = AuctionBRIA([decided(task), constant(2)], task, rng=0, check=True)
    run = agent.run(400, progressbar=False)
    z3_wins = run.winners == 0
    assert run.records[0] == 0.0 and run.rejections[0] == 0  # it pays exactly what it is paid, bids its promise
    assert run.wealth[0] == pytest.approx(run.allowance_received[0], rel=1e-12)
    # the rounds it decides are paid in full: 1 on true sentences (a bet), 0.5 on the false one (a pass)
    expected = np.array([1.0 if task.truths[(n - 1) % 4] else 0.5 for n in range(1, 401)])
    np.testing.assert_array_equal(run.rewards[z3_wins], expected[z3_wins])
    # it never loses a round it bids for in full, so every round it lost went to a bid at least as high
    assert (run.estimates >= expected - 1e-12).all()


def test_feature_promises_are_the_features_of_the_observed_frequencies(task):
    a, b, c = atoms("a b c")
    features = [(a, 0, ramp(price(a) - 0.1)), (c, 1, ramp(0.2 + price(b) * 0.3)), (b, 0, ramp(price(b, lag=2)))]
    h = feature_promises(task, features)
    past, truths = History(2), [1, 1, 0, 1, 1, 1, 0]
    for n, truth in enumerate(truths, start=1):
        opts, proms = h.propose(past)
        prices = dict(zip(task.sentences, h.prices().tolist(), strict=True))
        offered = task.sentences[task.offered(n)]
        for j, (s, option, f) in enumerate(features):
            if s == offered and "lag" not in repr(f):  # today's frequencies only: Feature.evaluate agrees
                assert proms[j] == pytest.approx(f.evaluate(prices), abs=1e-12) and opts[j] == option
            elif s != offered:
                assert proms[j] == 0.0 and opts[j] == 1
        past.record(0, float(truth), truth)
    assert h.prices().tolist() == [1.0, 1.0, 0.0, 1.0]


def test_bad_members(task):
    a, d = atoms("a d")
    with pytest.raises(DeclarationError, match="d is not one of the task's sentences"):
        feature_promises(task, [(d, 0, price(a))])
    with pytest.raises(DeclarationError, match="option=2"):
        feature_promises(task, [(a, 2, price(a))])
    with pytest.raises(DeclarationError, match="SentenceBets"):
        decided("task")
    agent = AuctionBRIA(feature_promises(task, [(a, 0, price(a) * 3)]), task, rng=0)
    with pytest.raises(DeclarationError, match="promised 1.5 in round 1"):
        agent.step()
