"""Quantified sentences and their verification–falsification games.

After Pallavi Sudhir & Tran-Thanh (2024), "Betting on what is neither verifiable nor
falsifiable". A sentence such as "there are infinitely many primes", ``∀x ∃y. y > x ∧ prime(y)``,
can be neither verified nor falsified by a finite check, but a *contract* on it can still be
settled: the contract is a game. The holder of ``∃x P(x)`` must name a witness, the issuer of
``∀x P(x)`` must name a counterexample, alternating down the quantifier prefix until a
quantifier-free ground instance remains, which z3 settles (sat: true, unsat: false). z3
``unknown`` is never read as false: :func:`settle` raises
:class:`~deepmarkets.errors.SolverUnknownError`, and :func:`play` returns an *unsettled*
:class:`GameResult` (``outcome is None``) carrying z3's reason.

A move comes from a constructor (:mod:`~deepmarkets.logic.quantified.constructors`).

Example
-------
>>> from deepmarkets.logic.quantified import QuantifiedSentence, constant, next_prime_witness, play, prime
>>> import z3
>>> x, y = z3.Ints("x y")
>>> primes = QuantifiedSentence([("forall", "x", None), ("exists", "y", None)], z3.And(y > x, prime(y)))
>>> str(primes)
'∀x ∃y. y > x ∧ prime(y)'
>>> play(primes, verifier=next_prime_witness, falsifier=constant(100)).outcome
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import z3

from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.helpers import as_rng
from deepmarkets.logic.sentence import Piece, Sentence, Term, _constants, render

__all__ = ["DEFAULT_RLIMIT", "Binder", "QuantifiedSentence", "GameState", "Move", "GameResult", "prime", "settle",
           "play"]

#: z3's deterministic resource limit for one settlement or one constructor query.
DEFAULT_RLIMIT = 20_000_000

Quantifier = Literal["forall", "exists"]
Role = Literal["verifier", "falsifier"]
_QUANTIFIERS = {"forall": "forall", "∀": "forall", "exists": "exists", "∃": "exists"}


# --- prime, as a z3 recursive function (exact for every integer) ---------------------------------
def _make_prime() -> z3.FuncDeclRef:
    no_divisor = z3.RecFunction("no_divisor_from", z3.IntSort(), z3.IntSort(), z3.BoolSort())
    n, d = z3.Ints("n d")
    z3.RecAddDefinition(no_divisor, [n, d], z3.If(d * d > n, True, z3.And(n % d != 0, no_divisor(n, d + 1))))
    is_prime = z3.RecFunction("prime", z3.IntSort(), z3.BoolSort())
    z3.RecAddDefinition(is_prime, [n], z3.And(n >= 2, no_divisor(n, 2)))
    return is_prime


# z3 refuses to define a recursive function twice in its global context, so a reloaded module
# (importlib.reload, doctest of this file) reuses the definition made by the first load.
_PRIME = getattr(z3, "_deepmarkets_prime", None)
if _PRIME is None:
    _PRIME = _make_prime()
    z3._deepmarkets_prime = _PRIME


def prime(term: Any) -> z3.BoolRef:
    """``prime(t)``: t ≥ 2 and no d with 2 ≤ d, d² ≤ t divides t (a z3 recursive function).

    On a ground instance z3 unfolds the definition (about √t steps); on a variable it searches
    for a model, so ``y > 5000 ∧ prime(y)`` is solved directly.

    >>> import z3
    >>> settle(prime(z3.IntVal(7919))), settle(prime(z3.IntVal(7917)))
    (True, False)
    """
    if isinstance(term, Term):
        term = term.z3
    elif isinstance(term, int) and not isinstance(term, bool):
        term = z3.IntVal(term)
    if not (isinstance(term, z3.ArithRef) and term.is_int()):
        raise DeclarationError(f"prime() takes an integer term or int, got {term!r}")
    return _PRIME(term)


# --- sentences -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Binder:
    """One quantifier of a prefix: ``quantifier`` over integer ``variable`` in ``[low, high]``.

    ``low``/``high`` are inclusive; ``None`` means unbounded on that side.
    """

    quantifier: Quantifier
    variable: str
    low: int | None = None
    high: int | None = None

    def contains(self, value: int) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def domain_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "(-∞" if self.low is None else f"[{self.low}"
        hi = "∞)" if self.high is None else f"{self.high}]"
        return f"∈{lo}, {hi}"

    def bounds(self, v: z3.ArithRef) -> list[z3.BoolRef]:
        out = []
        if self.low is not None:
            out.append(v >= self.low)
        if self.high is not None:
            out.append(v <= self.high)
        return out

    def to_dict(self) -> dict:
        return {"quantifier": self.quantifier, "variable": self.variable, "low": self.low, "high": self.high}


def _binder(spec: Any) -> Binder:
    if isinstance(spec, Binder):
        return spec
    if not isinstance(spec, (tuple, list)) or len(spec) != 3:
        raise DeclarationError(
            f"a prefix entry is (quantifier, variable, bounds), e.g. ('forall', 'x', None) or "
            f"('exists', 'y', (0, 100)); got {spec!r}"
        )
    q, var, bounds = spec
    if q not in _QUANTIFIERS:
        raise DeclarationError(f"quantifier must be 'forall', 'exists', '∀' or '∃', got {q!r}")
    if isinstance(var, Term):
        var = var.z3
    if isinstance(var, z3.ArithRef):
        if not (z3.is_const(var) and var.is_int()):
            raise DeclarationError(f"a bound variable must be an integer variable, got {var}")
        var = var.decl().name()
    if not isinstance(var, str) or not var:
        raise DeclarationError(f"a bound variable is a name or an integer variable, got {var!r}")
    low = high = None
    if bounds is not None:
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise DeclarationError(
                f"bounds of {var} must be None or (low, high) with None for unbounded; got {bounds!r}"
            )
        low, high = bounds
        for b in (low, high):
            if b is not None and (not isinstance(b, (int, np.integer)) or isinstance(b, bool)):
                raise DeclarationError(f"bounds of {var} must be integers or None, got {bounds!r}")
        low = None if low is None else int(low)
        high = None if high is None else int(high)
        if low is not None and high is not None and low > high:
            raise DeclarationError(f"bounds of {var} are empty: low={low} > high={high}")
    return Binder(_QUANTIFIERS[q], var, low, high)


class QuantifiedSentence:
    """A prenex sentence, quantifiers ``Q1 x1 … Qk xk`` over integer domains and a z3 matrix ``M`` free of them.

    Parameters
    ----------
    prefix : sequence of (quantifier, variable, bounds)
        ``quantifier`` is ``"forall"``/``"exists"`` (or ``∀``/``∃``); ``variable`` a name or a
        z3/:class:`~deepmarkets.logic.Term` integer variable; ``bounds`` ``None`` (all integers) or
        ``(low, high)`` inclusive with ``None`` for an open side.
    matrix : z3 Boolean or Sentence
        The body. Its free integer variables must all be bound by the prefix. It may use
        :func:`prime`, integer arithmetic and ``%``.

    Examples
    --------
    >>> import z3
    >>> x, y = z3.Ints("x y")
    >>> s = QuantifiedSentence([("exists", x, None), ("forall", y, None)], y <= x)
    >>> str(s), str(~s)
    ('∃x ∀y. y ≤ x', '∀x ∃y. ¬(y ≤ x)')
    """

    __slots__ = ("prefix", "matrix")

    def __init__(self, prefix: Iterable[Any], matrix: Any):
        binders = tuple(_binder(b) for b in prefix)
        names = [b.variable for b in binders]
        if len(set(names)) != len(names):
            raise DeclarationError(f"each prefix variable must be bound once, got {names}")
        if isinstance(matrix, Sentence):
            matrix = matrix.z3
        if isinstance(matrix, bool):
            matrix = z3.BoolVal(matrix)
        if not isinstance(matrix, z3.BoolRef):
            raise DeclarationError(f"the matrix must be a z3 Boolean or a Sentence, got {type(matrix).__name__}")
        free = {d.name(): d for d in _constants(matrix)}
        unbound = sorted(set(free) - set(names))
        if unbound:
            raise DeclarationError(
                f"the matrix {_show(matrix)} mentions {unbound}, which the prefix {names} does not bind; "
                "bind every variable (a sentence has no free variables)"
            )
        for name in names:
            if name in free and free[name].range() != z3.IntSort():
                raise DeclarationError(f"bound variable {name} is used as {free[name].range()}, expected Int")
        object.__setattr__(self, "prefix", binders)
        object.__setattr__(self, "matrix", matrix)

    def __setattr__(self, name, value):
        raise AttributeError("QuantifiedSentence is immutable")

    def variable(self, name: str) -> z3.ArithRef:
        """The z3 integer constant of a prefix variable."""
        return z3.Int(name)

    def negate(self) -> QuantifiedSentence:
        """The negation: dual quantifiers, negated matrix (``¬∀x P ≡ ∃x ¬P``; ``¬¬P`` is ``P``)."""
        dual = {"forall": "exists", "exists": "forall"}
        m = self.matrix
        negated = m.arg(0) if z3.is_not(m) else z3.Not(m)
        return QuantifiedSentence([Binder(dual[b.quantifier], b.variable, b.low, b.high) for b in self.prefix], negated)

    __invert__ = negate

    def ground(self, assignment: dict[str, int]) -> z3.BoolRef:
        """The matrix with every prefix variable replaced by its value in ``assignment``."""
        missing = [b.variable for b in self.prefix if b.variable not in assignment]
        if missing:
            raise DeclarationError(f"the assignment gives no value for {missing}")
        subs = [(z3.Int(b.variable), z3.IntVal(int(assignment[b.variable]))) for b in self.prefix]
        return z3.substitute(self.matrix, *subs) if subs else self.matrix

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuantifiedSentence) and self.prefix == other.prefix and self.matrix.eq(other.matrix)

    def __hash__(self) -> int:
        return hash((self.prefix, self.matrix.hash()))

    def __str__(self) -> str:
        sym = {"forall": "∀", "exists": "∃"}
        head = " ".join(f"{sym[b.quantifier]}{b.variable}{b.domain_text()}" for b in self.prefix)
        return f"{head}. {_show(self.matrix)}" if head else _show(self.matrix)

    def __repr__(self) -> str:
        return f"QuantifiedSentence({str(self)!r})"

    def _repr_markdown_(self) -> str:
        return f"`{self}`"

    def to_dict(self) -> dict:
        return {"text": str(self), "prefix": [b.to_dict() for b in self.prefix], "matrix": self.matrix.sexpr()}


# --- readable printing of z3 matrices ------------------------------------------------------------
_CMP = {
    z3.Z3_OP_LE: "≤",
    z3.Z3_OP_LT: "<",
    z3.Z3_OP_GE: "≥",
    z3.Z3_OP_GT: ">",
    z3.Z3_OP_EQ: "=",
    z3.Z3_OP_DISTINCT: "≠",
}
_ARITH = {
    z3.Z3_OP_ADD: ("+", 8),
    z3.Z3_OP_SUB: ("-", 8),
    z3.Z3_OP_MUL: ("·", 9),
    z3.Z3_OP_MOD: ("mod", 9),
    z3.Z3_OP_IDIV: ("div", 9),
}


def _show(e: z3.ExprRef) -> str:
    return render(e, _layout)


def _joined(kids: list[z3.ExprRef], sym: str, levels: Iterable[int]) -> list[Piece]:
    pieces: list[Piece] = []
    for i, (c, level) in enumerate(zip(kids, levels, strict=False)):
        pieces += [sym] * (i > 0) + [(c, level, False)]
    return pieces


def _layout(e: z3.ExprRef) -> tuple[int, list[Piece]]:
    if z3.is_true(e):
        return 10, ["⊤"]
    if z3.is_false(e):
        return 10, ["⊥"]
    if z3.is_int_value(e):
        v = e.as_long()
        return (10 if v >= 0 else 9), [str(v)]
    if not z3.is_app(e):
        return 10, [e.sexpr()]
    k, kids = e.decl().kind(), e.children()
    if z3.is_const(e):
        return 10, [e.decl().name()]
    if k == z3.Z3_OP_NOT:
        return 6, ["¬", (kids[0], 10, False)]
    if k in (z3.Z3_OP_AND, z3.Z3_OP_OR):
        sym, prec = (" ∧ ", 5) if k == z3.Z3_OP_AND else (" ∨ ", 3)
        return prec, _joined(kids, sym, itertools.repeat(prec + 1))
    if k == z3.Z3_OP_IMPLIES:
        return 2, [(kids[0], 3, False), " → ", (kids[1], 2, False)]
    if k in _CMP and len(kids) == 2:
        return 7, [(kids[0], 8, False), f" {_CMP[k]} ", (kids[1], 8, False)]
    if k in _ARITH:
        sym, prec = _ARITH[k]
        return prec, _joined(kids, f" {sym} ", [prec] + [prec + 1] * (len(kids) - 1))
    if k == z3.Z3_OP_UMINUS:
        return 9, ["-", (kids[0], 10, False)]
    if k in (z3.Z3_OP_UNINTERPRETED, z3.Z3_OP_RECURSIVE):
        return 10, [f"{e.decl().name()}(", *_joined(kids, ", ", itertools.repeat(0)), ")"]
    return 10, [e.sexpr()]


# --- settlement ----------------------------------------------------------------------------------
def _solver(rlimit: int) -> z3.Solver:
    s = z3.Solver()
    s.set("rlimit", int(rlimit))
    return s


def settle(ground: Any, *, rlimit: int = DEFAULT_RLIMIT) -> bool:
    """Truth of a closed quantifier-free (ground) z3 sentence: sat → True, unsat → False.

    Raises
    ------
    SolverUnknownError
        If z3 answers ``unknown`` (never read as false).
    DeclarationError
        If the sentence still has free variables.

    Examples
    --------
    >>> import z3
    >>> settle(z3.IntVal(3) % 2 == 1)
    True
    """
    if isinstance(ground, Sentence):
        ground = ground.z3
    if not isinstance(ground, z3.BoolRef):
        raise DeclarationError(f"settle() takes a z3 Boolean, got {type(ground).__name__}")
    free = sorted(d.name() for d in _constants(ground))
    if free:
        raise DeclarationError(f"{_show(ground)} is not ground: {free} have no values; play the game first")
    s = _solver(rlimit)
    s.add(ground)
    r = s.check()
    if r == z3.unknown:
        raise SolverUnknownError(f"z3 could not settle {_show(ground)} within rlimit={rlimit}", s.reason_unknown())
    return r == z3.sat


# --- games ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GameState:
    """What a constructor sees when it must move.

    ``role`` is ``"verifier"`` (moving for an ∃ of the sentence) or ``"falsifier"`` (an ∀);
    ``assignment`` holds the moves so far; ``binder`` the quantifier being played;
    ``rng`` a seeded generator for randomised strategies.
    """

    sentence: QuantifiedSentence
    index: int
    assignment: dict[str, int]
    role: Role
    rng: np.random.Generator
    rlimit: int = DEFAULT_RLIMIT

    @property
    def binder(self) -> Binder:
        return self.sentence.prefix[self.index]

    @property
    def variable(self) -> str:
        return self.binder.variable


Constructor = Callable[[GameState], "int | None"]


@dataclass(frozen=True)
class Move:
    """One move: ``role`` set ``variable`` to ``value`` (``None``: it found no move and forfeited)."""

    role: Role
    variable: str
    value: int | None
    by: str = ""

    def to_dict(self) -> dict:
        return {"role": self.role, "variable": self.variable, "value": self.value, "by": self.by}


@dataclass(frozen=True)
class GameResult:
    """A played game: ``outcome`` True (verifier won), False (falsifier won) or None (unsettled)."""

    sentence: str
    moves: tuple[Move, ...]
    outcome: bool | None
    reason: str

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence,
            "moves": [m.to_dict() for m in self.moves],
            "outcome": self.outcome,
            "reason": self.reason,
        }

    def __repr__(self) -> str:
        moves = ", ".join(f"{m.variable}={m.value}" for m in self.moves)
        return f"GameResult({self.sentence!r}: {moves} -> {self.outcome} ({self.reason}))"


def _candidates(c: Any) -> list[tuple[str, Constructor]]:
    if c is None:
        return []
    if callable(c):
        return [(getattr(c, "__name__", type(c).__name__), c)]
    out = []
    for item in c:
        if isinstance(item, tuple) and len(item) == 2:
            out.append(item)
        elif item is None:
            continue
        elif callable(item):
            out.append((getattr(item, "__name__", type(item).__name__), item))
        else:
            raise DeclarationError(f"a constructor must be callable(state) -> int | None, got {item!r}")
    return out


def play(
    sentence: QuantifiedSentence,
    verifier: Any,
    falsifier: Any,
    *,
    rng: int | np.random.Generator | None = None,
    rlimit: int = DEFAULT_RLIMIT,
) -> GameResult:
    """Play the verification–falsification game of ``sentence`` down to a ground instance.

    Parameters
    ----------
    sentence : QuantifiedSentence
    verifier, falsifier : constructor, list of constructors, or None
        A constructor is ``f(state: GameState) -> int | None``. The verifier moves at ∃, the
        falsifier at ∀. With a list, the first constructor that offers a move plays it. A side
        with no move (None, or no constructors) forfeits and loses the game.
    rng : int, Generator or None
        Passed to constructors as ``state.rng``.
    rlimit : int
        z3's deterministic resource limit for the settlement.

    Returns
    -------
    GameResult
        ``outcome`` None with z3's reason when z3 answers unknown on the ground instance.

    Raises
    ------
    DeclarationError
        If a constructor returns a non-integer or a value outside its variable's domain.

    Examples
    --------
    >>> import z3
    >>> from deepmarkets.logic.quantified.constructors import constant, offset
    >>> x, y = z3.Ints("x y")
    >>> largest = QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)
    >>> play(largest, verifier=constant(10**6), falsifier=offset("x", 1)).outcome
    False
    """
    gen = as_rng(rng)
    sides = {"verifier": _candidates(verifier), "falsifier": _candidates(falsifier)}
    assignment: dict[str, int] = {}
    moves: list[Move] = []
    for i, b in enumerate(sentence.prefix):
        role: Role = "verifier" if b.quantifier == "exists" else "falsifier"
        state = GameState(sentence, i, dict(assignment), role, gen, rlimit)
        chosen, by = None, ""
        for name, c in sides[role]:
            value = c(state)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise DeclarationError(
                    f"constructor {name} returned {value!r} for {b.variable}; expected an int or None"
                )
            if not b.contains(int(value)):
                raise DeclarationError(
                    f"constructor {name} chose {b.variable}={value}, outside its domain {b.domain_text()}"
                )
            chosen, by = int(value), name
            break
        moves.append(Move(role, b.variable, chosen, by))
        if chosen is None:
            winner = "falsifier" if role == "verifier" else "verifier"
            return GameResult(
                str(sentence),
                tuple(moves),
                winner == "verifier",
                f"the {role} found no value for {b.variable} and forfeited",
            )
        assignment[b.variable] = chosen
    ground = sentence.ground(assignment)
    try:
        truth = settle(ground, rlimit=rlimit)
    except SolverUnknownError as err:
        return GameResult(str(sentence), tuple(moves), None, f"unsettled: z3 unknown on {_show(ground)} ({err.reason})")
    return GameResult(str(sentence), tuple(moves), truth, f"z3 settled {_show(ground)}: {truth}")
