"""The possible worlds of a theory: whether one exists where given sentences hold, and searches for
ones where a weighted sum of sentences is small.

:class:`WorldOracle` is the one "is this possible" question of the project: is there a possible
world where these sentences hold (or have these truth values)? z3 answers it under assumptions;
its ``unknown`` raises :class:`~deepmarkets.errors.SolverUnknownError`, never a guess.
:class:`Theory <deepmarkets.logic.theory.Theory>`, markets and arbitrage-free pricing ask through it.

Coherence checking asks, round after round, for a possible world that makes a book of bets
pay little. :class:`WorldSearch` answers in two ways:

* :meth:`WorldSearch.greedy`, fast and without a guarantee: the sentences are taken in order of
  their weight and each is given its preferred truth value if some possible world still allows
  it (incremental SAT under assumptions). Propositional theories go through a Tseitin CNF and
  the MiniSat-family solvers of PySAT; anything else (arithmetic, general cardinality) through
  z3.
* :meth:`WorldSearch.minimum`, exact: the least weighted sum over all possible worlds, by
  weighted MaxSAT in z3 with rational weights (:func:`minimum_world`). This is what certificates
  rest on.

:func:`minimum_world` is the one exact weighted MaxSAT call of the project: coherence, induction,
:meth:`Theory.maximize <deepmarkets.logic.theory.Theory.maximize>` and arbitrage-free pricing all
go through it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import z3

from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.logic.sentence import Sentence, op_kind, postorder

if TYPE_CHECKING:
    from deepmarkets.logic.theory import Theory

__all__ = ["WorldOracle", "WorldSearch", "OutOfTime", "decide", "minimum_world", "MAXSAT_ENGINE"]

#: z3's weighted MaxSAT engine for exact minima: ``wmax`` solved every workload of
#: ``benchmarks/worlds.py`` (the project's own calls) 1.2-2x faster than z3's default ``maxres``.
MAXSAT_ENGINE = "wmax"


class OutOfTime(Exception):
    """The deadline passed during a search."""


def decide(solver: z3.Solver, assumptions: Sequence[z3.BoolRef], what: str | Callable[[], str],
           rlimit: int) -> bool:
    """sat -> True, unsat -> False, unknown -> SolverUnknownError naming ``what`` (a callable is only
    called then: printing a large sentence costs more than deciding it)."""
    result = solver.check(*assumptions)
    if result == z3.unknown:
        what = what() if callable(what) else what
        raise SolverUnknownError(f"z3 could not decide {what} within rlimit={rlimit}", solver.reason_unknown())
    return result == z3.sat


class WorldOracle:
    """Whether some possible world of ``theory`` makes given sentences true.

    One z3 solver holds the theory's axioms and ``facts``; each question is asked under
    assumptions, so the solver is reused. z3's ``unknown`` (the theory's ``rlimit`` reached)
    raises :class:`~deepmarkets.errors.SolverUnknownError` naming the question.

    Parameters
    ----------
    theory : Theory
        The axioms, and the resource limit of each question.
    facts : iterable of Sentence, optional
        Sentences held true besides the axioms.

    Examples
    --------
    >>> from deepmarkets.logic import Theory, atoms
    >>> a, b = atoms("a b")
    >>> oracle = WorldOracle(Theory([a.implies(b)]))
    >>> oracle.possible(a, ~b), oracle.possible(a, b), oracle.entails(a.implies(b))
    (False, True, True)
    >>> oracle.possible(a, b, values=(False, True))
    True
    >>> sorted(oracle.worlds([a, b]))
    [(False, False), (False, True), (True, True)]
    """

    def __init__(self, theory: Theory, facts: Iterable[Sentence] = ()):
        self.theory = theory
        self.facts = tuple(facts)
        self._solver = theory.solver(*self.facts)

    def possible(self, *sentences: Sentence, values: Sequence[bool] | None = None,
                 what: str | Callable[[], str] | None = None) -> bool:
        """Whether some possible world makes every sentence true (with ``values``: gives ``sentences[k]``
        the truth value ``values[k]``). No sentences: whether the theory and facts are consistent.
        ``what`` names the question in the error raised when z3 cannot decide it (a callable is only
        called then)."""
        if values is not None and len(values) != len(sentences):
            raise DeclarationError(f"{len(sentences)} sentences but {len(values)} truth values; give one value "
                                   "per sentence")
        wanted = [bool(v) for v in values] if values is not None else [True] * len(sentences)
        lits = [s.z3 if v else z3.Not(s.z3) for s, v in zip(sentences, wanted, strict=True)]

        def question() -> str:
            if what is not None:
                return what() if callable(what) else what
            if not sentences:
                return "whether the theory is consistent"
            return f"whether {' & '.join(str(s if v else ~s) for s, v in zip(sentences, wanted, strict=True))} " \
                   "is possible"

        return decide(self._solver, lits, question, self.theory.rlimit)

    def entails(self, s: Sentence) -> bool:
        """Whether ``s`` holds in every possible world."""
        return not self.possible(s, values=(False,), what=lambda: f"whether the theory entails {s}")

    def worlds(self, sentences: Sequence[Sentence], *, limit: int | None = None) -> Iterator[tuple[bool, ...]]:
        """The possible truth-vectors of ``sentences``, lazily, each once (z3 with blocking clauses on a
        solver of its own); ``limit`` caps how many."""
        sents = list(sentences)
        s = self.theory.solver(*self.facts)
        count = 0
        while limit is None or count < limit:
            if not decide(s, (), "the next possible world", self.theory.rlimit):
                return
            m = s.model()
            values = tuple(z3.is_true(m.eval(x.z3, model_completion=True)) for x in sents)
            yield values
            count += 1
            if not sents:
                return
            s.add(z3.Or([z3.Not(x.z3) if v else x.z3 for x, v in zip(sents, values, strict=True)]))


def minimum_world(hard: Sequence[z3.BoolRef], sentences: Sequence[Sentence], weights: Mapping[int, Fraction], *,
                  rlimit: int, deadline: float | None = None, unknown: str | Callable[[], str],
                  engine: str = MAXSAT_ENGINE) -> tuple[Fraction, tuple[bool, ...]] | None:
    """Exact minimum of ``sum_k weights[k] [sentence_k]`` over the models of ``hard``, and a world attaining it.

    Weighted MaxSAT in z3 (engine ``engine``) with the rational weights as they are. ``rlimit``
    caps z3's work; ``deadline`` (a ``time.monotonic()`` instant) its time.

    Returns
    -------
    (Fraction, tuple of bool) or None
        The least sum and the sentences' truth values in a world attaining it; None when
        ``hard`` has no model.

    Raises
    ------
    SolverUnknownError
        When z3 answers unknown; the message is ``unknown`` (a callable is only called then).

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> minimum_world([(a | b).z3], [a, b], {0: Fraction(2), 1: Fraction(3)}, rlimit=10**6, unknown="a minimum")
    (Fraction(2, 1), (True, False))
    """
    opt = z3.Optimize()
    options = {"maxsat_engine": engine, "rlimit": rlimit}
    if deadline is not None:
        options["timeout"] = max(1, int(1000 * (deadline - time.monotonic())))
    opt.set(**options)  # all parameters in one call: a later ``set`` can drop an earlier engine choice
    opt.add(*hard)
    for k, w in weights.items():
        if w:  # minimise: a positive weight prefers the sentence false
            text = str(abs(w.numerator)) if w.denominator == 1 else f"{abs(w.numerator)}/{w.denominator}"
            opt.add_soft(z3.Not(sentences[k].z3) if w > 0 else sentences[k].z3, text)
    result = opt.check()
    if result == z3.unknown:
        raise SolverUnknownError(unknown() if callable(unknown) else unknown, opt.reason_unknown())
    if result == z3.unsat:
        return None
    m = opt.model()
    world = tuple(z3.is_true(m.eval(s.z3, model_completion=True)) for s in sentences)
    return sum((w for k, w in weights.items() if world[k]), Fraction(0)), world


class _NotPropositional(Exception):
    pass


class _Tseitin:
    """Tseitin CNF of propositional z3 formulas: every subformula gets a literal (an int)."""

    def __init__(self):
        self.n = 0
        self.clauses: list[list[int]] = []
        self._memo: dict[int, int] = {}
        self._true: int | None = None

    def _new(self) -> int:
        self.n += 1
        return self.n

    def _const_true(self) -> int:
        if self._true is None:
            self._true = self._new()
            self.clauses.append([self._true])
        return self._true

    def literal(self, e: z3.ExprRef) -> int:
        memo = self._memo
        for node, kids in postorder(e, done=memo):  # children first, so their literals are known
            memo[node.get_id()] = self._encode(node, kids)
        return memo[e.get_id()]

    def _known(self, e: z3.ExprRef) -> int:
        return self._memo[e.get_id()]

    def _encode(self, e: z3.ExprRef, kids: list[z3.ExprRef]) -> int:
        """The literal of ``e``, whose children have literals already."""
        kind = op_kind(e)
        if kind is None or not z3.is_bool(e):
            raise _NotPropositional
        if kind == z3.Z3_OP_TRUE:
            return self._const_true()
        if kind == z3.Z3_OP_FALSE:
            return -self._const_true()
        if kind == z3.Z3_OP_UNINTERPRETED and not kids:
            return self._new()
        if kind == z3.Z3_OP_NOT:
            return -self._known(kids[0])
        if kind in (z3.Z3_OP_AND, z3.Z3_OP_OR, z3.Z3_OP_IMPLIES):
            lits = [self._known(c) for c in kids]
            if kind == z3.Z3_OP_IMPLIES:
                lits[0] = -lits[0]
            if kind == z3.Z3_OP_AND:
                return -self._or([-x for x in lits])
            return self._or(lits)
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_IFF, z3.Z3_OP_XOR, z3.Z3_OP_DISTINCT) and len(kids) == 2:
            a, b = (self._known(c) for c in kids)
            v = self._new()  # v <-> (a <-> b)
            self.clauses += [[-v, -a, b], [-v, a, -b], [v, a, b], [v, -a, -b]]
            return v if kind in (z3.Z3_OP_EQ, z3.Z3_OP_IFF) else -v
        if kind == z3.Z3_OP_ITE:
            c, a, b = (self._known(x) for x in kids)
            v = self._new()
            self.clauses += [[-v, -c, a], [-v, c, b], [v, -c, -a], [v, c, -b]]
            return v
        if kind == z3.Z3_OP_PB_AT_MOST and e.params()[0] == 1:
            return self._at_most_one([self._known(c) for c in kids])
        if kind == z3.Z3_OP_PB_EQ and list(e.params()) == [1] + [1] * len(kids):
            lits = [self._known(c) for c in kids]
            return -self._or([-self._at_most_one(lits), -self._or(lits)])
        raise _NotPropositional

    def _or(self, lits: list[int]) -> int:
        v = self._new()  # v <-> OR(lits)
        self.clauses.append([-v, *lits])
        self.clauses += [[v, -x] for x in lits]
        return v

    def _at_most_one(self, lits: list[int]) -> int:
        # v <-> no two are true: v -> (~a | ~b) for every pair; (a & b) -> ~v
        v = self._new()
        pairs = [(a, b) for i, a in enumerate(lits) for b in lits[i + 1:]]
        both = [-self._or([-a, -b]) for a, b in pairs]
        self.clauses += [[-v, -x] for x in both]
        self.clauses.append([v, *both])
        return v


class WorldSearch:
    """Possible worlds of ``theory`` (within ``restriction``) seen through ``sentences``.

    A world is the tuple of truth values of ``sentences``. ``deadline`` is a
    ``time.monotonic()`` instant after which every search raises :class:`OutOfTime`.
    """

    def __init__(self, theory: Theory, sentences: Sequence[Sentence], restriction: Sentence | None = None,
                 deadline: float | None = None):
        self.theory = theory
        self.sentences = list(sentences)
        self.deadline = deadline
        self.greedy_calls = 0
        self.exact_calls = 0
        hard = [a.z3 for a in theory.axioms] + ([restriction.z3] if restriction is not None else [])
        self._hard = hard
        self._sat = None
        try:
            cnf = _Tseitin()
            roots = [cnf.literal(h) for h in hard]
            self._lits = [cnf.literal(s.z3) for s in self.sentences]
        except _NotPropositional:
            cnf = None
        if cnf is not None:
            from pysat.solvers import Solver

            self._sat = Solver(name="minisat22", bootstrap_with=cnf.clauses + [[r] for r in roots])
            self._clauses = cnf.clauses + [[r] for r in roots]
            self._mip = None
        else:
            self._flags = [z3.FreshBool("psi") for _ in self.sentences]
            self._z3 = z3.Solver()
            self._z3.set("rlimit", theory.rlimit)
            self._z3.add(*hard, *(f == s.z3 for f, s in zip(self._flags, self.sentences, strict=True)))

    def close(self) -> None:
        if self._sat is not None:
            self._sat.delete()
            self._sat = None

    def __del__(self):
        self.close()

    # incremental SAT under assumptions ------------------------------------------------
    def _solve(self, assumptions: list[tuple[int, bool]]) -> np.ndarray | None:
        """Truth values of the sentences in a world meeting ``(index, value)`` assumptions, or None."""
        self._tick()
        if self._sat is not None:
            lits = [self._lits[k] if v else -self._lits[k] for k, v in assumptions]
            if not self._sat.solve(assumptions=lits):
                return None
            model = self._sat.get_model()  # variables in no clause are missing: they are free, say false
            return np.array([(abs(x) <= len(model) and model[abs(x) - 1] > 0) == (x > 0) for x in self._lits],
                            dtype=bool)
        flags = [self._flags[k] if v else z3.Not(self._flags[k]) for k, v in assumptions]
        self._set_timeout(self._z3)
        with self._late_is_out_of_time():
            if not decide(self._z3, flags, "a possible world under the current assumptions", self.theory.rlimit):
                return None
        m = self._z3.model()
        return np.array([z3.is_true(m.eval(f, model_completion=True)) for f in self._flags], dtype=bool)

    def world_where(self, assumptions: Mapping[int, bool]) -> tuple[bool, ...] | None:
        """A possible world giving sentence ``k`` the truth value ``assumptions[k]``, or None if there is none."""
        values = self._solve([(int(k), bool(v)) for k, v in assumptions.items()])
        return None if values is None else tuple(bool(v) for v in values)

    def is_possible(self, world: Sequence[bool]) -> bool:
        """Whether some possible world gives the sentences exactly these truth values."""
        return self._solve([(k, bool(v)) for k, v in enumerate(world)]) is not None

    def greedy(self, weights: np.ndarray, *, rng: np.random.Generator | None = None,
               noise: float = 0.0) -> tuple[bool, ...]:
        """A possible world with a small ``sum_k weights[k] [sentence_k]`` (a heuristic, no guarantee).

        Sentences are visited by decreasing ``|weight|`` (perturbed by ``noise`` when ``rng`` is
        given); each keeps its preferred value if a possible world allows it with the choices so far.
        """
        self.greedy_calls += 1
        w = np.asarray(weights, dtype=float)
        key = np.abs(w)
        if rng is not None and noise > 0:
            key = key * np.exp(noise * rng.standard_normal(len(w)))
        values = self._solve([])
        if values is None:
            raise DeclarationError("the theory has no possible world where these bets are active")
        chosen: list[tuple[int, bool]] = []
        for k in np.argsort(-key, kind="stable"):
            if w[k] == 0:
                break  # sorted by |weight|: the rest are zero too
            want = bool(w[k] < 0)
            if values[k] == want:
                chosen.append((int(k), want))
                continue
            found = self._solve([*chosen, (int(k), want)])
            if found is None:
                chosen.append((int(k), not want))
            else:
                chosen.append((int(k), want))
                values = found
        return tuple(bool(v) for v in values)

    def mip_world(self, weights: np.ndarray, seconds: float, below: float = math.inf,
                  solutions: int = 2**31 - 1) -> tuple[bool, ...] | None:
        """A possible world with a small ``sum_k weights[k] [sentence_k]`` found by HiGHS's MIP solver within
        ``seconds`` (a heuristic: the best world found in time), or None (no world in time, or a theory
        that is not propositional). Only worlds with a sum below ``below`` are searched for, and the search
        stops after ``solutions`` of them. The world is a model of the theory's CNF, checked clause by clause."""
        if self._sat is None:
            return None
        self._tick()
        if self.deadline is not None:
            seconds = min(seconds, self.deadline - time.monotonic())
        if seconds <= 0:
            return None
        h = self._mip_model()
        n = h.getNumCol()
        cost = np.zeros(n)
        for lit, w in zip(self._lits, np.asarray(weights, dtype=float), strict=True):
            cost[abs(lit) - 1] += w if lit > 0 else -w
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        h.setOptionValue("time_limit", float(seconds))
        h.setOptionValue("objective_bound", float(below))
        h.setOptionValue("mip_max_improving_sols", int(solutions))
        h.run()
        values = np.asarray(h.getSolution().col_value)
        if len(values) != n or not h.getSolution().value_valid:
            return None
        truth = values > 0.5
        if not all(any(truth[abs(x) - 1] == (x > 0) for x in c) for c in self._clauses):
            return None
        return tuple(bool(truth[abs(x) - 1] == (x > 0)) for x in self._lits)

    def _mip_model(self):
        """The theory's CNF as a 0-1 programme: one row ``sum of literals >= 1`` per clause."""
        if self._mip is None:
            import highspy

            from deepmarkets.logic.coherence import _new_highs  # a silent model

            h = _new_highs()
            n = max([1, *(abs(x) for c in self._clauses for x in c), *(abs(x) for x in self._lits)])
            h.addVars(n, np.zeros(n), np.ones(n))
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                    np.full(n, highspy.HighsVarType.kInteger))
            starts, index, value, lower = [], [], [], []
            for c in self._clauses:
                starts.append(len(index))
                index += [abs(x) - 1 for x in c]
                value += [1.0 if x > 0 else -1.0 for x in c]
                lower.append(1.0 - sum(x < 0 for x in c))
            h.addRows(len(lower), np.array(lower), np.full(len(lower), highspy.kHighsInf), len(index),
                      np.array(starts, np.int32), np.array(index, np.int32), np.array(value))
            self._mip = h
        return self._mip

    # exact ------------------------------------------------------------------------------
    def minimum(self, weights: Mapping[int, Fraction], *,
                rlimit: int | None = None) -> tuple[Fraction, tuple[bool, ...]]:
        """Exact minimum of ``sum_k weights[k] [sentence_k]`` over possible worlds, and a world attaining it.

        :func:`minimum_world` over the theory's axioms and the restriction; ``rlimit`` caps the work
        (default: the theory's).
        """
        self._tick()
        self.exact_calls += 1
        rlimit = rlimit or self.theory.rlimit
        with self._late_is_out_of_time():
            found = minimum_world(self._hard, self.sentences, weights, rlimit=rlimit, deadline=self.deadline,
                                  unknown=f"z3 could not decide the world where the book pays least within "
                                          f"rlimit={rlimit}")
        if found is None:
            raise DeclarationError("the theory has no possible world where these bets are active")
        return found

    # plumbing ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime

    def _set_timeout(self, s: z3.Solver) -> None:
        if self.deadline is not None:
            s.set("timeout", max(1, int(1000 * (self.deadline - time.monotonic()))))

    @contextlib.contextmanager
    def _late_is_out_of_time(self):
        """z3's unknown after the deadline is :class:`OutOfTime` (the timeout hit), not an undecided question."""
        try:
            yield
        except SolverUnknownError:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise OutOfTime from None
            raise
