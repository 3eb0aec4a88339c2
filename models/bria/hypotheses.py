"""Hypotheses: each round, a recommendation (an option) and a promise (the reward it claims, in [0, 1]).

A hypothesis is any callable ``h(history) -> (option, promise)``; the built-in families
compute a whole set of hypotheses at once as numpy arrays (``propose(history) -> (options,
promises)``), which is what makes auctions among 10^4 hypotheses fast:

* :func:`constant` -- always the same option, always the same promise (option × promise grids);
* :func:`copy_best` -- the option with the best average reward so far, at each promise of a grid;
* :func:`strategies` -- repeated-game strategies (cooperate, defect, tit for tat, grim, Pavlov)
  reading the opponent's last moves, at each promise of a grid;
* :func:`callables` -- plain Python callables, asked one by one;
* :func:`~deepmarkets.models.bria.sentences.decided` (in ``sentences``) -- bets on sentences
  decided by z3, and :func:`~deepmarkets.models.bria.sentences.feature_promises` -- promises
  that are logical-induction features of the observed frequencies.

The order of the families, and of the hypotheses inside each, is the enumeration: hypothesis i
(from 1) receives the allowance A(n, i).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["History", "Hypothesis", "Family", "Constant", "CopyBest", "Strategies", "Callables", "STRATEGIES",
           "constant", "copy_best", "strategies", "callables", "promise_grid"]


class History:
    """What hypotheses see before round ``round`` is auctioned: the agent's past choices and rewards.

    Attributes
    ----------
    round : int
        The round about to be played (from 1).
    n_options : int
        The number of options.
    counts, totals : numpy.ndarray
        Per option: times chosen, and the rewards it paid.
    choices, rewards, observations : list
        Every past round's choice, reward and observation (e.g. the opponent's move; -1 when none).
    seen : numpy.ndarray
        Per option: how often it was observed (e.g. how often the opponent played it).
    """

    def __init__(self, n_options: int):
        self.round = 1
        self.n_options = n_options
        self.counts = np.zeros(n_options, dtype=np.int64)
        self.totals = np.zeros(n_options)
        self.seen = np.zeros(n_options, dtype=np.int64)
        self.choices: list[int] = []
        self.rewards: list[float] = []
        self.observations: list[int] = []

    def record(self, choice: int, reward: float, observation: int = -1) -> None:
        """Add one played round."""
        self.counts[choice] += 1
        self.totals[choice] += reward
        if 0 <= observation < self.n_options:
            self.seen[observation] += 1
        self.choices.append(choice)
        self.rewards.append(reward)
        self.observations.append(observation)
        self.round += 1

    @property
    def last_observation(self) -> int:
        """The last round's observation, -1 before the first round."""
        return self.observations[-1] if self.observations else -1

    def means(self, untried: float = np.inf) -> np.ndarray:
        """The average reward of each option so far (``untried`` where never chosen)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.totals / np.maximum(self.counts, 1), untried)


@runtime_checkable
class Hypothesis(Protocol):
    """One hypothesis: ``h(history) -> (option, promise)`` with 0 <= promise <= 1."""

    def __call__(self, history: History) -> tuple[int, float]: ...


@runtime_checkable
class Family(Protocol):
    """A set of hypotheses computed together (see the module docstring)."""

    names: list[str]
    static: bool  # the same options and promises in every round

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """Every member's option (ints) and promise (floats in [0, 1]) for ``history.round``."""
        ...


def promise_grid(low: float = 0.05, high: float = 1.0, step: float = 0.05) -> np.ndarray:
    """Promises ``low, low + step, ..., high`` (rounded to 10 decimals).

    Examples
    --------
    >>> promise_grid(0.25, 1.0, 0.25).tolist()
    [0.25, 0.5, 0.75, 1.0]
    """
    if not (0 <= low <= high <= 1) or not step > 0:
        raise DeclarationError(f"promise_grid(low={low!r}, high={high!r}, step={step!r}); expected "
                               "0 <= low <= high <= 1 and step > 0")
    return np.round(np.arange(low, high + step / 2, step), 10)


def _promises(promises: Iterable[float] | None) -> np.ndarray:
    p = promise_grid() if promises is None else np.asarray(list(promises), dtype=float).ravel()
    if p.size == 0:
        raise DeclarationError("promises=[]; expected at least one promise in [0, 1]")
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        raise DeclarationError(f"promise {float(p[bad][0])!r} is not a number in [0, 1]; a promise is a reward "
                               "claimed, and rewards lie in [0, 1]")
    return p


def _label(option: int, labels: Sequence[str] | None) -> str:
    return str(labels[option]) if labels is not None else str(option)


class Constant:
    """Hypotheses that always recommend the same option with the same promise (see :func:`constant`)."""

    static = True

    def __init__(self, options: np.ndarray, promises: np.ndarray, labels: Sequence[str] | None = None):
        self.options, self.promises = options, promises
        self.names = [f"always {_label(o, labels)} @ {p:g}" for o, p in zip(options.tolist(), promises.tolist(),
                                                                            strict=True)]

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        return self.options, self.promises


def constant(options: int | Iterable[int], promises: Iterable[float] | None = None, *,
             labels: Sequence[str] | None = None, order: str = "option") -> Constant:
    """Every (option, promise) pair of ``options`` (a count or the option numbers) × ``promises``.

    The default promises are 0.05, 0.10, ..., 1.0. ``order="option"`` enumerates option by option
    (every promise of option 0 first), ``order="promise"`` promise by promise (every option at the
    lowest promise first); the enumeration decides who gets the larger allowances.

    Examples
    --------
    >>> h = constant(3, [0.5, 1.0])
    >>> h.names[:3]
    ['always 0 @ 0.5', 'always 0 @ 1', 'always 1 @ 0.5']
    >>> h.propose(History(3))[0].tolist()
    [0, 0, 1, 1, 2, 2]
    """
    opts = np.arange(options) if isinstance(options, int | np.integer) else np.asarray(list(options), dtype=np.int64)
    if opts.size == 0:
        raise DeclarationError("options=[]; expected at least one option")
    p = _promises(promises)
    opts = opts.astype(np.int64)
    if order == "option":
        return Constant(np.repeat(opts, len(p)), np.tile(p, len(opts)), labels)
    if order == "promise":
        return Constant(np.tile(opts, len(p)), np.repeat(p, len(opts)), labels)
    raise DeclarationError(f"order={order!r}; expected 'option' or 'promise'")


class CopyBest:
    """The option with the best average so far (untried first), at each promise (see :func:`copy_best`)."""

    static = False

    def __init__(self, promises: np.ndarray):
        self.promises = promises
        self.names = [f"copy the best @ {p:g}" for p in promises.tolist()]
        self._options = np.zeros(len(promises), dtype=np.int64)

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        self._options.fill(int(np.argmax(history.means())))
        return self._options, self.promises


def copy_best(promises: Iterable[float] | None = None) -> CopyBest:
    """Hypotheses that copy the best option so far (ties to the lowest option), one per promise.

    Examples
    --------
    >>> h, past = copy_best([0.5]), History(2)
    >>> past.record(0, 0.2); past.record(1, 0.9); past.record(0, 0.3)
    >>> int(h.propose(past)[0][0])
    1
    """
    return CopyBest(_promises(promises))


#: Repeated-game strategies for two options (0 = cooperate, 1 = defect), from the opponent's moves.
STRATEGIES: dict[str, Callable[[History], int]] = {
    "cooperate": lambda h: 0,
    "defect": lambda h: 1,
    "tit_for_tat": lambda h: 0 if h.last_observation < 0 else h.last_observation,
    "grim": lambda h: 1 if h.seen[1] > 0 else 0,
    "pavlov": lambda h: 0 if not h.choices else (h.choices[-1] if h.rewards[-1] >= 0.5 else 1 - h.choices[-1]),
}


class Strategies:
    """Repeated-game strategies × promises (see :func:`strategies`)."""

    static = False

    def __init__(self, names: Sequence[str], promises: np.ndarray):
        self.strategies = list(names)
        self.rules = [STRATEGIES[n] for n in names]
        self.promises = np.tile(promises, len(names))
        self.names = [f"{n} @ {p:g}" for n in names for p in promises.tolist()]
        self._k = len(promises)
        self._options = np.zeros(len(self.promises), dtype=np.int64)

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        for j, rule in enumerate(self.rules):
            self._options[j * self._k:(j + 1) * self._k] = rule(history)
        return self._options, self.promises


def strategies(names: Iterable[str] = tuple(STRATEGIES), promises: Iterable[float] | None = None) -> Strategies:
    """Strategies of a repeated two-option game (see :data:`STRATEGIES`), strategy-major, one per promise.

    Examples
    --------
    >>> h, past = strategies(["tit_for_tat"], [0.6]), History(2)
    >>> int(h.propose(past)[0][0]); past.record(0, 0.0, observation=1); int(h.propose(past)[0][0])
    0
    1
    """
    names = list(names)
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise DeclarationError(f"strategies={names!r}; expected names among {', '.join(STRATEGIES)}")
    return Strategies(names, _promises(promises))


class Callables:
    """Plain callables ``h(history) -> (option, promise)``, asked one by one (see :func:`callables`)."""

    static = False

    def __init__(self, hypotheses: Sequence[Callable[[History], tuple[int, float]]], names: Sequence[str]):
        self.hypotheses = list(hypotheses)
        self.names = list(names)
        self._options = np.zeros(len(self.hypotheses), dtype=np.int64)
        self._promises = np.zeros(len(self.hypotheses))

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        for j, h in enumerate(self.hypotheses):
            out = h(history)
            try:
                option, promise = out
                if isinstance(option, bool):
                    raise TypeError
                self._options[j] = operator.index(option)  # an int, never a float silently truncated
                self._promises[j] = promise
            except (TypeError, ValueError):
                raise DeclarationError(f"hypothesis {self.names[j]!r} returned {out!r} in round {history.round}; "
                                       "expected (option, promise) with an int option and a promise in [0, 1]"
                                       ) from None
        return self._options, self._promises


def callables(hypotheses: Iterable[Callable[[History], tuple[int, float]]],
              names: Iterable[str] | None = None) -> Callables:
    """User hypotheses, each a callable ``h(history) -> (option, promise)``.

    Examples
    --------
    >>> h = callables([lambda past: (past.round % 2, 0.5)], names=["alternate"])
    >>> [a.tolist() for a in h.propose(History(2))]
    [[1], [0.5]]
    """
    hs = list(hypotheses)
    if not all(callable(h) for h in hs):
        raise DeclarationError("callables(...) takes callables h(history) -> (option, promise)")
    names = [getattr(h, "__name__", f"hypothesis {j}") for j, h in enumerate(hs)] if names is None else list(names)
    if len(names) != len(hs):
        raise DeclarationError(f"{len(names)} names for {len(hs)} hypotheses; give one name per hypothesis")
    return Callables(hs, names)


def as_families(hypotheses: Any) -> list:
    """A family, a callable, or a list of both, as a list of families (callables grouped in order)."""
    items = [hypotheses] if isinstance(hypotheses, Family) or callable(hypotheses) else list(hypotheses)
    families: list = []
    loose: list = []
    for item in items:
        if isinstance(item, Family):
            if loose:
                families.append(callables(loose))
                loose = []
            families.append(item)
        elif callable(item):
            loose.append(item)
        else:
            raise DeclarationError(f"{item!r} is not a hypothesis: expected a family (constant(...), copy_best(...), "
                                   "...) or a callable h(history) -> (option, promise)")
    if loose:
        families.append(callables(loose))
    if sum(len(f.names) for f in families) == 0:
        raise DeclarationError("no hypotheses were given; an auction needs at least one (e.g. constant(2))")
    return families
