"""Standard bandit algorithms on the same tasks: epsilon-greedy, UCB1 and Thompson sampling.

They assume what the hypothesis auction does not: rewards drawn independently from a fixed
distribution per option. Each returns a :class:`BanditRun` with the choices and rewards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import finite_float, whole_number

__all__ = ["BanditRun", "epsilon_greedy", "ucb1", "thompson", "BASELINES"]


@dataclass(repr=False)
class BanditRun:
    """Choices and rewards of a baseline on a task."""

    method: str
    choices: np.ndarray
    rewards: np.ndarray

    def average_reward(self) -> float:
        return float(self.rewards.mean()) if len(self.rewards) else float("nan")

    def counts(self, n_options: int) -> np.ndarray:
        """How often each option was taken."""
        return np.bincount(self.choices, minlength=n_options)

    def to_dict(self) -> dict:
        return {"method": self.method, "rounds": len(self.rewards), "average_reward": self.average_reward()}

    def __repr__(self) -> str:
        return f"BanditRun({self.method}, {len(self.rewards)} rounds, average reward {self.average_reward():.4f})"


def _play(task, rounds: int, rng, choose, method: str) -> BanditRun:
    rounds = whole_number(rounds, "rounds", 1)
    gen = as_rng(rng)
    task_rng, own_rng = gen.spawn(2)  # the task's stream, as in AuctionBRIA, and the algorithm's own
    k = len(task.options)
    counts, totals = np.zeros(k), np.zeros(k)
    choices, rewards = np.zeros(rounds, dtype=np.int64), np.zeros(rounds)
    for t in range(rounds):
        a = choose(t + 1, counts, totals, own_rng)
        r, _ = task.reward(t + 1, a, task_rng)
        counts[a] += 1
        totals[a] += r
        choices[t], rewards[t] = a, r
    return BanditRun(method, choices, rewards)


def epsilon_greedy(task, rounds: int, *, epsilon: float = 0.1, rng=None) -> BanditRun:
    """With probability ``epsilon`` a uniformly random option, else the best average so far (untried first).

    Examples
    --------
    >>> from deepmarkets.models.bria.tasks import Bandit
    >>> epsilon_greedy(Bandit([0.0, 1.0]), 100, epsilon=0.0, rng=0).counts(2).tolist()
    [1, 99]
    """
    eps = finite_float(epsilon, "epsilon", low=0)
    if eps > 1:
        raise DeclarationError(f"epsilon={epsilon!r}; expected a probability in [0, 1]")

    def choose(t, counts, totals, rng):
        if eps and rng.random() < eps:
            return int(rng.integers(len(counts)))
        means = np.where(counts > 0, totals / np.maximum(counts, 1), np.inf)
        return int(np.argmax(means))

    return _play(task, rounds, rng, choose, f"epsilon-greedy ({eps:g})")


def ucb1(task, rounds: int, *, rng=None) -> BanditRun:
    """UCB1 (Auer et al. 2002): every option once, then the largest mean + sqrt(2 ln t / count).

    Examples
    --------
    >>> from deepmarkets.models.bria.tasks import Bandit
    >>> ucb1(Bandit([0.0, 1.0]), 50, rng=0).counts(2).tolist()
    [4, 46]
    """

    def choose(t, counts, totals, rng):
        untried = np.flatnonzero(counts == 0)
        if len(untried):
            return int(untried[0])
        return int(np.argmax(totals / counts + np.sqrt(2 * math.log(t) / counts)))

    return _play(task, rounds, rng, choose, "UCB1")


def thompson(task, rounds: int, *, rng=None) -> BanditRun:
    """Thompson sampling with Beta(1, 1) priors (rewards in [0, 1] enter as Bernoulli trials of their value).

    Examples
    --------
    >>> from deepmarkets.models.bria.tasks import Bandit
    >>> bool(thompson(Bandit([0.0, 1.0]), 200, rng=0).counts(2)[1] > 180)
    True
    """

    def choose(t, counts, totals, rng):
        return int(np.argmax(rng.beta(1 + totals, 1 + counts - totals)))

    return _play(task, rounds, rng, choose, "Thompson")


#: The baselines by name.
BASELINES = {"epsilon_greedy": epsilon_greedy, "ucb1": ucb1, "thompson": thompson}
