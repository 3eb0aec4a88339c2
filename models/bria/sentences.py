"""Betting on sentences: a task whose rounds offer a bet on a sentence, and hypotheses from the logic package.

:class:`SentenceBets` offers, in round n, a bet on sentence ``n mod m`` of a list: betting pays 1
when the theory makes the sentence true and 0 when false; passing pays ``safe``. Two families of
hypotheses use the logic package:

* :func:`decided` -- one hypothesis that asks z3 (within its own resource limit) whether the
  theory entails the sentence or its negation, and promises exactly what that proof pays; a
  sentence z3 cannot decide in its budget gets promise 0 (it abstains).
* :func:`feature_promises` -- hypotheses whose promises are logical-induction features
  (:mod:`deepmarkets.logic.induction.features`) of the observed frequencies: the "price" of a
  sentence is how often it was true among the rounds it was offered (1/2 before the first), and
  every member's feature is evaluated in one pass of a shared feature graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.models.bria.hypotheses import History

__all__ = ["SentenceBets", "Decided", "FeaturePromises", "decided", "feature_promises"]

BET, PASS = 0, 1


class SentenceBets:
    """Round n offers a bet on ``sentences[(n - 1) % m]``: option 0 bets (pays its truth), option 1 passes (``safe``).

    Every sentence must be decided by the theory (z3 proves it or its negation); its truth is
    the observation of the round.

    Examples
    --------
    >>> from deepmarkets.logic import Theory, atoms
    >>> a, b = atoms("a b")
    >>> task = SentenceBets([a, b, a & ~b], Theory([a, a.implies(b)]), safe=0.5)
    >>> task.truths, task.reward(3, 0, None), task.reward(3, 1, None)
    ((True, True, False), (0.0, 0), (0.5, 0))
    """

    def __init__(self, sentences: Iterable[Any], theory, *, safe: float = 0.5):
        from deepmarkets.helpers.validate import finite_float
        from deepmarkets.logic import sentence
        from deepmarkets.logic.worlds import WorldOracle

        self.sentences = tuple(sentence(s) for s in sentences)
        if not self.sentences:
            raise DeclarationError("sentences=[]; a sentence bet needs at least one sentence")
        self.safe = finite_float(safe, "safe", low=0)
        if self.safe > 1:
            raise DeclarationError(f"safe={safe!r}; expected a number in [0, 1]")
        self.theory = theory
        oracle = WorldOracle(theory)
        truths = []
        for s in self.sentences:
            if oracle.entails(s):
                truths.append(True)
            elif oracle.entails(~s):
                truths.append(False)
            else:
                raise DeclarationError(f"the theory decides neither {s} nor its negation; every sentence offered "
                                       "must be true or false in every possible world (add an axiom)")
        self.truths = tuple(truths)
        self.options = ("bet", "pass")

    def offered(self, n: int) -> int:
        """The index of the sentence offered in round ``n``."""
        return (n - 1) % len(self.sentences)

    def reward(self, n: int, option: int, rng) -> tuple[float, int]:
        truth = self.truths[self.offered(n)]
        return (float(truth) if option == BET else self.safe), int(truth)

    def __repr__(self) -> str:
        return f"SentenceBets({len(self.sentences)} sentences, safe={self.safe:g})"


class Decided:
    """The z3 hypothesis of :func:`decided`."""

    static = False

    def __init__(self, task: SentenceBets, rlimit: int):
        from deepmarkets.logic import Theory
        from deepmarkets.logic.worlds import WorldOracle

        self.task = task
        self.names = [f"z3 decides (rlimit {rlimit})"]
        self._oracle = WorldOracle(Theory(task.theory.axioms, rlimit=rlimit))
        self._memo: dict[int, tuple[int, float]] = {}
        self._options = np.zeros(1, dtype=np.int64)
        self._promises = np.zeros(1)

    def _decide(self, k: int) -> tuple[int, float]:
        s = self.task.sentences[k]
        try:
            if self._oracle.entails(s):
                return BET, 1.0
            if self._oracle.entails(~s):
                return PASS, self.task.safe
        except SolverUnknownError:
            pass
        return PASS, 0.0  # undecided within the budget: abstain

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        k = self.task.offered(history.round)
        if k not in self._memo:
            self._memo[k] = self._decide(k)
        self._options[0], self._promises[0] = self._memo[k]
        return self._options, self._promises


def decided(task: SentenceBets, *, rlimit: int = 2_000_000) -> Decided:
    """A hypothesis that proves or refutes the offered sentence with z3 (resource limit ``rlimit``).

    Examples
    --------
    >>> from deepmarkets.logic import Theory, atoms
    >>> a, b = atoms("a b")
    >>> task = SentenceBets([a, ~b], Theory([a, b]), safe=0.4)
    >>> h, past = decided(task), History(2)
    >>> [x.tolist() for x in h.propose(past)]; past.record(0, 1.0, 1); [x.tolist() for x in h.propose(past)]
    [[0], [1.0]]
    [[1], [0.4]]
    """
    from deepmarkets.helpers.validate import whole_number

    if not isinstance(task, SentenceBets):
        raise DeclarationError(f"decided(task) takes a SentenceBets task, got {task!r}")
    return Decided(task, whole_number(rlimit, "rlimit", 1))


class FeaturePromises:
    """Members (sentence, option, feature) of :func:`feature_promises`."""

    static = False

    def __init__(self, task: SentenceBets, members: Sequence[tuple[int, int, Any]], names: Sequence[str]):
        from deepmarkets.logic.induction.features import FeatureGraph, as_feature

        self.task, self.names = task, list(names)
        self._sentence = np.array([m[0] for m in members], dtype=np.int64)
        self._option = np.array([m[1] for m in members], dtype=np.int64)
        self._graph = FeatureGraph()
        self._nodes = [self._graph.compile(as_feature(m[2])) for m in members]
        self._index = {s: k for k, s in enumerate(task.sentences)}
        self._days: list[dict] = []  # the prices of every earlier round, for features with lags
        self._true = np.zeros(len(task.sentences))
        self._shown = np.zeros(len(task.sentences))
        self._seen_rounds = 0
        self._options = np.zeros(len(members), dtype=np.int64)
        self._promises = np.zeros(len(members))

    def prices(self) -> np.ndarray:
        """How often each sentence was true among the rounds it was offered (1/2 before the first)."""
        return np.where(self._shown > 0, self._true / np.maximum(self._shown, 1), 0.5)

    def _catch_up(self, history: History) -> None:
        while self._seen_rounds < len(history.observations):
            n = self._seen_rounds + 1
            self._days.append(dict(zip(self.task.sentences, self.prices().tolist(), strict=True)))
            k = self.task.offered(n)
            self._shown[k] += 1
            self._true[k] += history.observations[n - 1] == 1
            self._seen_rounds = n

    def _past(self, s, kind: str, k: int) -> float:
        today = len(self._days) + 1
        day = today - k if kind == "lag" else k
        if day >= today:
            raise DeclarationError(f"a promise uses price({s}, {kind}={k}) in round {today}: a feature may use "
                                   "the frequencies up to now only")
        return 0.5 if day < 1 else float(self._days[day - 1][s])

    def propose(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        self._catch_up(history)
        values = self._graph.evaluate(self.prices()[:, None], self._index, self._past, self._nodes)
        offered = self.task.offered(history.round)
        here = self._sentence == offered
        self._promises[:] = np.where(here, values[self._nodes, 0], 0.0)
        self._options[:] = np.where(here, self._option, PASS)
        return self._options, self._promises


def feature_promises(task: SentenceBets, members: Iterable[tuple[Any, int, Any]]) -> FeaturePromises:
    """Hypotheses ``(sentence, option, feature)``: when ``sentence`` is offered, take ``option`` promising
    ``feature`` of the observed frequencies (e.g. ``ramp(price(s) - 0.1)``); otherwise pass, promising 0.

    Examples
    --------
    >>> from deepmarkets.logic import Theory, atoms
    >>> from deepmarkets.logic.induction.features import price, ramp
    >>> a, = atoms("a")
    >>> task = SentenceBets([a], Theory([a]))
    >>> h, past = feature_promises(task, [(a, 0, ramp(price(a) - 0.25))]), History(2)
    >>> h.propose(past)[1].tolist(); past.record(0, 1.0, 1); h.propose(past)[1].tolist()
    [0.25]
    [0.75]
    """
    from deepmarkets.logic import sentence

    items = list(members)
    if not items:
        raise DeclarationError("feature_promises(task, []): give at least one (sentence, option, feature)")
    index = {s: k for k, s in enumerate(task.sentences)}
    resolved, names = [], []
    for s, option, feature in items:
        s = sentence(s)
        if s not in index:
            raise DeclarationError(f"{s} is not one of the task's sentences ({', '.join(map(str, task.sentences))})")
        if option not in (BET, PASS):
            raise DeclarationError(f"option={option!r}; expected 0 (bet) or 1 (pass)")
        resolved.append((index[s], option, feature))
        names.append(f"{task.options[option]} {s} @ {feature!r}")
    return FeaturePromises(task, resolved, names)
