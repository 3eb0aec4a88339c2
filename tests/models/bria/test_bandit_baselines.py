"""Bandit baselines: closed-form behaviour on deterministic arms, shared task randomness, bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.models.bria import Bandit, epsilon_greedy, thompson, ucb1


@pytest.mark.parametrize("seed", range(5))
def test_ucb1_pulls_a_losing_deterministic_arm_at_most_2_ln_t_plus_1_times(seed):
    # arm 0 pays 0, arm 1 pays 1: arm 0 is pulled at t only if sqrt(2 ln t / n0) >= 1, so n0 <= 2 ln T + 1
    run = ucb1(Bandit([0.0, 1.0]), 2000, rng=seed)
    assert run.counts(2)[0] <= 2 * math.log(2000) + 1 and run.counts(2).sum() == 2000


@pytest.mark.parametrize("seed", range(5))
def test_greedy_without_exploration_stays_on_the_first_paying_arm(seed):
    run = epsilon_greedy(Bandit([0.0, 1.0, 0.0]), 500, epsilon=0.0, rng=seed)
    assert run.counts(3).tolist() == [1, 498, 1]  # each arm once (untried first), then always arm 1
    assert run.average_reward() == 498 / 500


def test_thompson_posterior_draws_separate_deterministic_arms():
    # with m failures of arm 0 and n successes of arm 1, arm 0's draw wins with probability
    # (m+1) B(n+2, m+1) <= 2/((n+2)(n+3)) for m >= 1: about one pull of arm 0 in expectation after the first
    run = thompson(Bandit([0.0, 1.0]), 2000, rng=0)
    assert run.counts(2)[0] < 20


def test_epsilon_greedy_explores_at_rate_epsilon_within_monte_carlo_error():
    n, eps = 20_000, 0.2
    run = epsilon_greedy(Bandit([0.0, 1.0]), n, epsilon=eps, rng=3)
    expected = eps / 2 * n  # random pulls land on arm 0 half the time
    assert abs(run.counts(2)[0] - expected) < 5 * math.sqrt(n * eps / 2 * (1 - eps / 2)) + 1


def test_bad_arguments():
    with pytest.raises(DeclarationError, match="epsilon=1.5"):
        epsilon_greedy(Bandit(), 10, epsilon=1.5)
    with pytest.raises(DeclarationError, match="rounds=0"):
        ucb1(Bandit(), 0)


def test_same_seed_same_rewards_stream_as_the_auction():
    # baselines and AuctionBRIA spawn the task's stream the same way: arm rewards line up by round
    from deepmarkets.models.bria import AuctionBRIA, constant

    run = epsilon_greedy(Bandit([0.5]), 50, epsilon=0.0, rng=7)
    agent = AuctionBRIA(constant(1, [0.5]), Bandit([0.5]), rng=7).run(50, progressbar=False)
    np.testing.assert_array_equal(run.rewards, agent.rewards)
