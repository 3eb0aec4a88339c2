"""Baseline policies that economies are compared with: random, greedy one-step lookahead and tabular Q-learning.

A policy is a callable ``policy(env, obs, rng) -> action``; :func:`evaluate` runs one on fresh
episodes of an environment and reports the success rate and the number of steps against the
shortest solution.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.jsonsafe import json_safe
from deepmarkets.helpers.progress import ProgressBar
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import finite_float, whole_number
from deepmarkets.models.economies.envs import BlocksWorld, _BuiltinEnv, as_discrete_env

__all__ = ["Policy", "random_policy", "greedy_policy", "QLearning", "QLearningRun", "Evaluation", "evaluate"]

#: A policy: ``policy(env, obs, rng) -> action``.
Policy = Callable[[Any, Any, np.random.Generator], int]


def _argmax_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """The index of a largest value, ties broken uniformly at random."""
    best = np.flatnonzero(values == values.max())
    return int(best[0] if best.size == 1 else rng.choice(best))


def random_policy(env: Any, obs: Any, rng: np.random.Generator) -> int:
    """A uniformly random action.

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import Chain
    >>> random_policy(Chain(3), 0, np.random.default_rng(0)) in (0, 1)
    True
    """
    return int(rng.integers(env.n_actions))


def greedy_policy(env: Any, obs: Any, rng: np.random.Generator) -> int:
    """One-step lookahead on the built-in environment's model, ties broken at random.

    On :class:`~deepmarkets.models.economies.envs.BlocksWorld` the score of an action is the
    number of correctly placed blocks after it (the goal scoring highest); elsewhere it is the
    expected one-step reward.

    Raises
    ------
    DeclarationError
        For an environment that is not a built-in (no model to look ahead with).

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import BlocksWorld
    >>> env = BlocksWorld(3)
    >>> env.action_names[greedy_policy(env, ((0, 1), (2,), ()), np.random.default_rng(0))]
    '1->0'
    """
    if not isinstance(env, _BuiltinEnv):
        raise DeclarationError(f"greedy_policy needs the model of a built-in environment; got {env!r}")
    key = env.state_key(obs)
    scores = np.empty(env.n_actions)
    for a in range(env.n_actions):
        nxt, reward, goal = env.transition(key, a)
        scores[a] = (env.n_blocks + 1 if goal else env.correct(nxt)) if isinstance(env, BlocksWorld) else reward
    return _argmax_random(scores, rng)


@dataclass
class QLearningRun:
    """Per-episode record of a :class:`QLearning` run: success, steps and (undiscounted) return."""

    success: np.ndarray
    steps: np.ndarray
    returns: np.ndarray

    @property
    def episodes(self) -> int:
        """The number of episodes."""
        return int(self.success.size)

    def to_dict(self) -> dict:
        """Plain data (lists), ready for JSON."""
        return json_safe({"episodes": self.episodes, "success": self.success, "steps": self.steps,
                          "returns": self.returns})

    def __repr__(self) -> str:
        last = min(100, self.episodes)
        rate = float(self.success[-last:].mean()) if last else float("nan")
        return f"QLearningRun({self.episodes} episodes, success {rate:.2f} over the last {last})"


class QLearning:
    """Tabular Q-learning with an epsilon-greedy behaviour policy, on the same episodes an economy sees.

    Values start at 0 and each step updates
    ``Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a))`` (no bootstrap after a terminal
    step). The learner is itself a policy: greedy in Q, ties (and unseen states) at random.

    Parameters
    ----------
    env : environment
        A built-in environment or anything :func:`~deepmarkets.models.economies.envs.as_discrete_env` accepts.
    alpha : float, default 0.1
        Learning rate in (0, 1].
    gamma : float, default 0.95
        Discount in (0, 1]; below 1 it prefers short solutions.
    epsilon : float, default 0.1
        Probability of a random action while learning, in [0, 1].
    rng : int, Generator or None
        Seeds the exploration and the episodes' starts.

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import Chain
    >>> learner = QLearning(Chain(4), alpha=0.5, rng=0)
    >>> run = learner.run(200, progressbar=False)
    >>> bool(run.success[-1]), learner(learner.env, 0, np.random.default_rng(0))
    (True, 1)
    """

    def __init__(self, env: Any, *, alpha: float = 0.1, gamma: float = 0.95, epsilon: float = 0.1,
                 rng: int | np.random.Generator | None = None):
        self.env = as_discrete_env(env)
        self.alpha = _unit(alpha, "alpha", low_open=True)
        self.gamma = _unit(gamma, "gamma", low_open=True)
        self.epsilon = _unit(epsilon, "epsilon", low_open=False)
        self.rng = as_rng(rng)
        self.q: dict[Hashable, np.ndarray] = {}

    def _values(self, key: Hashable) -> np.ndarray:
        q = self.q.get(key)
        if q is None:
            q = self.q[key] = np.zeros(self.env.n_actions)
        return q

    def __call__(self, env: Any, obs: Any, rng: np.random.Generator) -> int:
        """The greedy action in Q (random among ties and in states never seen)."""
        q = self.q.get(self.env.state_key(obs))
        return random_policy(env, obs, rng) if q is None else _argmax_random(q, rng)

    def step(self) -> tuple[bool, int, float]:
        """Learn from one episode; returns ``(success, steps, return)``."""
        env, rng = self.env, self.rng
        obs, _ = env.reset(seed=int(rng.integers(2**63)))
        steps, total, success = 0, 0.0, False
        while True:
            key = env.state_key(obs)
            q = self._values(key)
            a = int(rng.integers(env.n_actions)) if rng.random() < self.epsilon else _argmax_random(q, rng)
            obs, reward, terminated, truncated, info = env.step(a)
            target = reward if terminated else reward + self.gamma * self._values(env.state_key(obs)).max()
            q[a] += self.alpha * (target - q[a])
            steps, total = steps + 1, total + reward
            if terminated or truncated:
                success = _succeeded(info, terminated, reward)
                return success, steps, total

    def run(self, episodes: int, *, progressbar: bool = True) -> QLearningRun:
        """Learn from ``episodes`` episodes (a progress bar unless ``progressbar=False``)."""
        n = whole_number(episodes, "episodes", 1)
        success, steps, returns = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.zeros(n)
        with ProgressBar("Q-learning", n, enabled=progressbar) as bar:
            for i in range(n):
                success[i], steps[i], returns[i] = self.step()
                bar.advance()
        return QLearningRun(success, steps, returns)


def _unit(value: Any, name: str, *, low_open: bool) -> float:
    v = finite_float(value, name, low=0)
    if v > 1 or (low_open and v == 0):
        raise DeclarationError(f"{name}={value!r}; expected a number in {'(0' if low_open else '[0'}, 1]")
    return v


def _succeeded(info: Any, terminated: bool, reward: float) -> bool:
    """``info["success"]`` when the environment reports it, else a terminal step with a positive reward."""
    if isinstance(info, dict) and "success" in info:
        return bool(info["success"])
    return bool(terminated and reward > 0)


@dataclass
class Evaluation:
    """What :func:`evaluate` measured.

    Attributes
    ----------
    episodes : int
    success_rate : float
        Share of episodes that reached the goal (``info["success"]``, else a terminal step with a
        positive reward).
    mean_steps : float
        Mean episode length over all episodes (failures count their full length).
    steps_over_optimal : float
        Mean over successful episodes of steps / shortest solution from the start; NaN when none
        succeeded or the shortest solution is unknown (wrapped environments).
    mean_return : float
        Mean undiscounted return.
    """

    episodes: int
    success_rate: float
    mean_steps: float
    steps_over_optimal: float
    mean_return: float
    success: np.ndarray = field(repr=False)
    steps: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """Plain data, ready for JSON (NaN becomes None)."""
        return json_safe({k: getattr(self, k) for k in ("episodes", "success_rate", "mean_steps",
                                                         "steps_over_optimal", "mean_return", "success", "steps")})


def evaluate(policy: Policy, env: Any, episodes: int, *, rng: int | np.random.Generator | None = None) -> Evaluation:
    """Run ``policy`` on ``episodes`` fresh episodes of ``env`` and measure success and solution length.

    Parameters
    ----------
    policy : callable
        ``policy(env, obs, rng) -> action``; a :class:`QLearning` learner is one.
    env : environment
        A built-in environment or anything :func:`~deepmarkets.models.economies.envs.as_discrete_env` accepts.
    episodes : int
        Number of episodes (each reset with a seed drawn from ``rng``).
    rng : int, Generator or None
        Seeds the episodes and the policy's random choices.

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import BlocksWorld
    >>> result = evaluate(greedy_policy, BlocksWorld(2), 20, rng=0)
    >>> result.success_rate, result.steps_over_optimal >= 1
    (1.0, True)
    """
    env = as_discrete_env(env)
    n = whole_number(episodes, "episodes", 1)
    rng = as_rng(rng)
    success, steps, returns = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.zeros(n)
    ratios = []
    for i in range(n):
        obs, _ = env.reset(seed=int(rng.integers(2**63)))
        optimal = env.optimal_steps(env.state_key(obs)) if isinstance(env, _BuiltinEnv) else None
        while True:
            a = policy(env, obs, rng)
            obs, reward, terminated, truncated, info = env.step(a)
            steps[i] += 1
            returns[i] += reward
            if terminated or truncated:
                break
        success[i] = _succeeded(info, terminated, reward)
        if success[i] and optimal:
            ratios.append(steps[i] / optimal)
    return Evaluation(episodes=n, success_rate=float(success.mean()), mean_steps=float(steps.mean()),
                      steps_over_optimal=float(np.mean(ratios)) if ratios else float("nan"),
                      mean_return=float(returns.mean()), success=success, steps=steps)
