"""Tasks: the SHA-256 lottery against hashlib, the prisoner's dilemma table, bandit rewards, two agents playing."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.models.bria import AuctionBRIA, Bandit, Lottery, PrisonersDilemma, play, sha256_bit, strategies
from deepmarkets.models.bria.tasks import RepeatedGame


def test_lottery_bit_is_bit_zero_of_sha256_and_its_means_are_the_published_ones():
    for n in (1, 7, 12345, 10**6):
        assert sha256_bit(n) == hashlib.sha256(str(n).encode()).digest()[0] % 2
    lottery = Lottery(0.4)
    assert lottery.mean(20_000) == 0.49555 and lottery.mean(100_000) == 0.49851
    assert [lottery.reward(n, 0, None)[0] for n in range(1, 5)] == [0.4] * 4
    assert [lottery.reward(n, 1, None)[0] for n in range(1, 5)] == [float(sha256_bit(n)) for n in range(1, 5)]


def test_prisoners_dilemma_is_scaled_to_the_unit_interval_with_maximin_one_fifth():
    g = PrisonersDilemma("defect")
    np.testing.assert_array_equal(g.payoffs * 5, [[3, 0], [5, 1]])
    assert g.maximin() == 0.2 and g.reward(1, 0, None) == (0.0, 1)
    tft = PrisonersDilemma("tit_for_tat")
    moves = [tft.reward(n, c, None)[1] for n, c in enumerate([1, 0, 0, 1, 1], start=1)]
    assert moves == [0, 1, 0, 0, 1]  # cooperates first, then copies our last move


def test_bandit_rewards_are_bernoulli_within_monte_carlo_error():
    b, gen, n = Bandit([0.3, 0.5, 0.7]), np.random.default_rng(0), 20_000
    for k, mean in enumerate(b.means):
        draws = [b.reward(t, k, gen)[0] for t in range(n)]
        assert set(draws) <= {0.0, 1.0}
        assert abs(np.mean(draws) - mean) < 5 * math.sqrt(mean * (1 - mean) / n)  # 5 standard errors


def test_two_agents_play_every_round_and_see_each_others_moves():
    a = AuctionBRIA(strategies(), PrisonersDilemma(None), rng=0, check=True)
    b = AuctionBRIA(strategies(), PrisonersDilemma(None), rng=1, check=True)
    counts = play(a, b, 300)
    assert counts.sum() == 300
    ra, rb = a.result, b.result
    np.testing.assert_array_equal(ra.observations, rb.choices)
    np.testing.assert_array_equal(rb.observations, ra.choices)
    expected = PrisonersDilemma(None).payoffs[ra.choices, rb.choices]
    np.testing.assert_array_equal(ra.rewards, expected)
    assert counts[0, 0] == int(((ra.choices == 0) & (rb.choices == 0)).sum())


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Bandit([0.5, 1.5]), "means[k]=1.5; expected a number in [0, 1]"),
    (lambda: Bandit([float("nan")]), "means[k]=nan"),
    (lambda: Lottery(-0.1), "safe=-0.1"),
    (lambda: RepeatedGame([[0, 3], [5, 1]], ("c", "d")), "payoffs must lie in [0, 1]"),
    (lambda: RepeatedGame([[0, 1]], ("c", "d")), "expected a square table"),
    (lambda: PrisonersDilemma("random"), "opponent='random'"),
])
def test_bad_tasks(make, message):
    with pytest.raises(DeclarationError) as err:
        make()
    assert message in str(err.value)


def test_a_game_without_opponent_must_be_played_by_two_agents():
    a = AuctionBRIA(strategies(), PrisonersDilemma(None), rng=0)
    with pytest.raises(DeclarationError, match="driven from outside"):
        a.step()
