"""Decision tasks for the hypothesis auction: a bandit, a pseudo-random lottery and repeated games.

A task names its options and pays a reward in [0, 1] for the option chosen in round n:
``reward(n, option, rng) -> (reward, observation)``, where the observation is what the agent
sees besides the reward (the opponent's move in a game; -1 when nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.validate import finite_float

__all__ = ["Task", "Bandit", "Lottery", "RepeatedGame", "PrisonersDilemma", "sha256_bit", "play"]


@runtime_checkable
class Task(Protocol):
    """Options and a reward in [0, 1] for each choice."""

    options: tuple[str, ...]

    def reward(self, n: int, option: int, rng: np.random.Generator) -> tuple[float, int]: ...


def _unit(value, name: str) -> float:
    v = finite_float(value, name, low=0)
    if v > 1:
        raise DeclarationError(f"{name}={value!r}; expected a number in [0, 1] (rewards lie in [0, 1])")
    return v


class Bandit:
    """Bernoulli arms: option k pays 1 with probability ``means[k]``, else 0.

    Examples
    --------
    >>> b = Bandit([0.3, 0.5, 0.7])
    >>> b.options, b.best
    (('arm 0.3', 'arm 0.5', 'arm 0.7'), 0.7)
    """

    def __init__(self, means: Sequence[float] = (0.3, 0.5, 0.7)):
        self.means = np.array([_unit(m, "means[k]") for m in means])
        if len(self.means) < 1:
            raise DeclarationError("means=[]; a bandit needs at least one arm")
        self.options = tuple(f"arm {m:g}" for m in self.means)
        self.best = float(self.means.max())

    def reward(self, n: int, option: int, rng: np.random.Generator) -> tuple[float, int]:
        return float(rng.random() < self.means[option]), -1

    def __repr__(self) -> str:
        return f"Bandit(means={self.means.tolist()})"


def sha256_bit(n: int) -> int:
    """Bit 0 (the lowest bit of the first byte) of SHA-256 of the decimal text of ``n``.

    Examples
    --------
    >>> [sha256_bit(n) for n in range(1, 9)]
    [1, 0, 0, 1, 1, 1, 1, 0]
    """
    return hashlib.sha256(str(n).encode()).digest()[0] & 1


class Lottery:
    """A safe option paying ``safe`` against a lottery paying :func:`sha256_bit` of the round (Theorem 4).

    The lottery is deterministic but no cheap hypothesis predicts it: it averages
    0.49555 over rounds 1..20,000 and 0.49851 over 1..100,000.

    Examples
    --------
    >>> Lottery().reward(2, 1, None), Lottery().reward(2, 0, None)
    ((0.0, -1), (0.4, -1))
    """

    def __init__(self, safe: float = 0.4):
        self.safe = _unit(safe, "safe")
        self.options = ("safe", "lottery")

    def reward(self, n: int, option: int, rng) -> tuple[float, int]:
        return (float(sha256_bit(n)) if option == 1 else self.safe), -1

    def mean(self, rounds: int) -> float:
        """The lottery's average payment over rounds 1..``rounds``."""
        return float(np.mean([sha256_bit(n) for n in range(1, rounds + 1)]))

    def __repr__(self) -> str:
        return f"Lottery(safe={self.safe:g})"


class RepeatedGame:
    """A two-player game repeated every round: ``payoffs[a][b]`` is what playing a against b pays (in [0, 1]).

    ``opponent`` plays the other side: a strategy name of
    :data:`~deepmarkets.models.bria.hypotheses.STRATEGIES` read from this side's moves, or
    None when the opponent is driven from outside (see :func:`play`).
    """

    def __init__(self, payoffs, options: Sequence[str], opponent: str | None = None):
        from deepmarkets.models.bria.hypotheses import STRATEGIES, History

        p = np.asarray(payoffs, dtype=float)
        if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] != len(options):
            raise DeclarationError(f"payoffs of shape {p.shape}; expected a square table, one row per option")
        if not np.all((p >= 0) & (p <= 1)):
            raise DeclarationError("payoffs must lie in [0, 1]; rescale the game (e.g. divide by its largest payoff)")
        if opponent is not None and opponent not in STRATEGIES:
            raise DeclarationError(f"opponent={opponent!r}; expected one of {', '.join(STRATEGIES)} or None")
        self.payoffs, self.options, self.opponent = p, tuple(options), opponent
        self._rule = STRATEGIES[opponent] if opponent else None
        self._their = History(len(options)) if opponent else None  # the opponent's view of the game

    def maximin(self) -> float:
        """The most this side can guarantee itself with a pure option."""
        return float(self.payoffs.min(axis=1).max())

    def reward(self, n: int, option: int, rng) -> tuple[float, int]:
        if self._rule is None:
            raise DeclarationError("this game's opponent is driven from outside; run it with play(agent, other, n)")
        theirs = int(self._rule(self._their))
        self._their.record(theirs, float(self.payoffs[theirs, option]), observation=option)
        return float(self.payoffs[option, theirs]), theirs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(opponent={self.opponent!r})"


class PrisonersDilemma(RepeatedGame):
    """The prisoner's dilemma with payoffs 5, 3, 1, 0 divided by 5; option 0 cooperates, 1 defects.

    Mutual defection pays 0.2, the maximin value.

    Examples
    --------
    >>> g = PrisonersDilemma("defect")
    >>> g.maximin(), g.reward(1, 0, None), g.reward(2, 1, None)
    (0.2, (0.0, 1), (0.2, 1))
    """

    def __init__(self, opponent: str | None = "defect"):
        super().__init__([[0.6, 0.0], [1.0, 0.2]], ("cooperate", "defect"), opponent)


def play(first, second, rounds: int, *, progressbar: bool = False) -> np.ndarray:
    """Two agents play their (shared) game ``rounds`` times; returns the counts of each pair of moves.

    Both agents' tasks are the same :class:`RepeatedGame` with ``opponent=None``; each sees the
    other's move as its observation.

    Examples
    --------
    >>> from deepmarkets.models.bria import AuctionBRIA, strategies
    >>> a = AuctionBRIA(strategies(["defect"], [0.2]), PrisonersDilemma(None), rng=0)
    >>> b = AuctionBRIA(strategies(["defect"], [0.2]), PrisonersDilemma(None), rng=1)
    >>> play(a, b, 10).tolist()
    [[0, 0], [0, 10]]
    """
    from deepmarkets.helpers.progress import track
    from deepmarkets.helpers.validate import whole_number

    rounds = whole_number(rounds, "rounds", 1)
    game = first.task
    if not isinstance(game, RepeatedGame) or not isinstance(second.task, RepeatedGame):
        raise DeclarationError("play(first, second, rounds) needs two agents whose tasks are repeated games")
    k = len(game.options)
    counts = np.zeros((k, k), dtype=np.int64)
    for _ in track(range(rounds), "repeated game", rounds, enabled=progressbar):
        a, b = first.decide(), second.decide()
        first.settle(float(game.payoffs[a, b]), b)
        second.settle(float(second.task.payoffs[b, a]), a)
        counts[a, b] += 1
    return counts
