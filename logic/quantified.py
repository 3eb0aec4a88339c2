"""Betting on quantified sentences: verification–falsification games and a repeated market (PM1).

After Pallavi Sudhir & Tran-Thanh (2024), "Betting on what is neither verifiable nor
falsifiable". A sentence such as "there are infinitely many primes", ``∀x ∃y. y > x ∧ prime(y)``,
can be neither verified nor falsified by a finite check, but a *contract* on it can still be
settled: the contract is a game. The holder of ``∃x P(x)`` must name a witness, the issuer of
``∀x P(x)`` must name a counterexample, alternating down the quantifier prefix until a
quantifier-free ground instance remains, which z3 settles (sat: true, unsat: false). z3
``unknown`` is never read as false: :func:`settle` raises
:class:`~deepmarkets.errors.SolverUnknownError`, and :func:`play` returns an *unsettled*
:class:`GameResult` (``outcome is None``) carrying z3's reason.

Agents are a trader (a demand for the sentence and for its negation as a function of price) and a
constructor (the strategy that chooses witnesses and counterexamples). Built-in constructors use
z3 (:class:`Z3Constructor`, a Skolem-style search for a move through solver models on the
mover's bounded domain); any Python callable ``constructor(state) -> int | None`` also works.

The market (:class:`QuantifiedMarket`) repeats a one-shot market. Each round:

1. the equilibrium price ``p`` balances the units of the sentence demanded with the units of its
   negation demanded (each pair is one dollar, minted by the market); for Kelly traders this is
   the wealth-weighted mean belief ``p = Σ w_i b_i / Σ w_i``;
2. the game is played: holders (agents net long the sentence, by stake) make the ∃ moves,
   issuers (net short) the ∀ moves, each side's move coming from the first of its constructors,
   largest stake first, that offers one; a side with no move forfeits;
3. positions pay one dollar per unit on the winning side; wealth is updated (the wealth-weighted
   rule of the paper: a Kelly trader's wealth is multiplied by ``b/p`` on a win of the sentence
   and by ``(1-b)/(1-p)`` on a loss, a Bayesian update of the market's belief). An unsettled round
   refunds every position at its price.

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
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import z3

from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.helpers import as_rng
from deepmarkets.logic.sentence import Piece, Sentence, Term, _constants, render

__all__ = [
    "Binder",
    "QuantifiedSentence",
    "GameState",
    "Move",
    "GameResult",
    "Agent",
    "RoundRecord",
    "MarketRun",
    "QuantifiedMarket",
    "Z3Constructor",
    "BenchmarkResult",
    "prime",
    "settle",
    "play",
    "equilibrium_price",
    "constant",
    "offset",
    "random_integers",
    "roles",
    "next_prime_witness",
    "kelly_population",
    "pm1_benchmark",
    "infinitely_many_primes",
    "largest_number",
    "plot_prices",
    "DEFAULT_RLIMIT",
]

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
    """A prenex sentence ``Q1 x1 … Qk xk. M`` over integer domains, ``M`` quantifier-free in z3.

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


# --- constructors --------------------------------------------------------------------------------
def constant(value: int) -> Constructor:
    """A constructor that always plays ``value``.

    >>> constant(7)(None)
    7
    """

    def play_constant(state: GameState) -> int:
        return int(value)

    play_constant.__name__ = f"constant({value})"
    return play_constant


def offset(variable: str, delta: int) -> Constructor:
    """A constructor that plays an earlier move plus ``delta`` (e.g. ``y = x + 1``)."""

    def play_offset(state: GameState) -> int | None:
        if variable not in state.assignment:
            return None
        return state.assignment[variable] + int(delta)

    play_offset.__name__ = f"{variable}{delta:+d}"
    return play_offset


def random_integers(low: int, high: int) -> Constructor:
    """A constructor that plays a uniform integer in ``[low, high]`` (clipped to the domain), from ``state.rng``."""
    if low > high:
        raise DeclarationError(f"random_integers needs low <= high, got {low} > {high}")

    def play_random(state: GameState) -> int:
        b = state.binder
        lo = low if b.low is None else max(low, b.low)
        hi = high if b.high is None else min(high, b.high)
        if lo > hi:
            raise DeclarationError(f"random_integers({low}, {high}) does not meet the domain {b.domain_text()}")
        return int(state.rng.integers(lo, hi + 1))

    play_random.__name__ = f"random_integers({low}, {high})"
    return play_random


def roles(verifier: Constructor | None = None, falsifier: Constructor | None = None) -> Constructor:
    """One constructor from two strategies: ``verifier`` at ∃ moves, ``falsifier`` at ∀ moves."""

    def play_role(state: GameState) -> int | None:
        c = verifier if state.role == "verifier" else falsifier
        return None if c is None else c(state)

    play_role.__name__ = f"roles({getattr(verifier, '__name__', None)}, {getattr(falsifier, '__name__', None)})"
    return play_role


def next_prime_witness(state: GameState) -> int | None:
    """The smallest prime above every value played so far (a plain-Python constructor).

    Designed for ``∀x ∃y. y > x ∧ prime(y)``; returns None when that prime is outside the domain.
    """
    floor = max(state.assignment.values(), default=1)
    n = max(floor + 1, 2)
    while any(n % d == 0 for d in range(2, math.isqrt(n) + 1)):
        n += 1
    return n if state.binder.contains(n) else None


class Z3Constructor:
    """A z3 strategy: a Skolem-style search for the current move through solver models.

    With the earlier moves substituted, the mover asks z3 for a value of its variable in its
    domain (intersected with ``window``) under which the rest of the game is winnable for it:
    the remaining prefix is kept as z3 quantifiers over its bounded domains (the Skolem function's
    value at this history). If z3 answers ``unsat`` no winning move exists and it returns None
    (concedes). If z3 answers ``unknown`` it retries with the remaining variables free (treated as
    the mover's own choices, an optimistic relaxation, exact when no opponent move remains), and
    returns None if that is unknown too; the reasons are kept in ``self.log``.

    Parameters
    ----------
    window : (low, high) or None
        Extra inclusive bounds on the move (``None`` on a side: unbounded).
    minimize : bool
        Prefer the smallest value (by repeatedly asking for a smaller one, at most ``max_steps``).
    rlimit : int
        z3's resource limit per query.

    Examples
    --------
    >>> import z3
    >>> x, y = z3.Ints("x y")
    >>> primes = QuantifiedSentence([("forall", "x", None), ("exists", "y", None)], z3.And(y > x, prime(y)))
    >>> play(primes, verifier=Z3Constructor(minimize=True), falsifier=constant(90)).moves[-1].value
    97
    """

    def __init__(
        self,
        window: tuple[int | None, int | None] | None = None,
        *,
        minimize: bool = False,
        max_steps: int = 64,
        rlimit: int = DEFAULT_RLIMIT,
    ):
        self.window = window
        self.minimize = minimize
        self.max_steps = max_steps
        self.rlimit = rlimit
        self.log: list[str] = []
        self.__name__ = "Z3Constructor"

    def _goal(self, state: GameState, exact: bool) -> z3.BoolRef:
        s = state.sentence
        mine = "exists" if state.role == "verifier" else "forall"
        body = s.matrix if state.role == "verifier" else z3.Not(s.matrix)
        if exact:
            for b in reversed(s.prefix[state.index + 1 :]):
                v = z3.Int(b.variable)
                dom = b.bounds(v)
                if b.quantifier == mine:  # the mover's own later choices: exists, within the domain
                    body = z3.Exists([v], z3.And(*dom, body)) if dom else z3.Exists([v], body)
                else:  # the opponent's choices: for all in the domain
                    body = z3.ForAll([v], z3.Implies(z3.And(*dom), body)) if dom else z3.ForAll([v], body)
        subs = [(z3.Int(k), z3.IntVal(val)) for k, val in state.assignment.items()]
        return z3.substitute(body, *subs) if subs else body

    def _solve(self, state: GameState, goal: z3.BoolRef) -> tuple[Any, int | None]:
        v = z3.Int(state.variable)
        s = _solver(self.rlimit)
        s.add(goal, *state.binder.bounds(v))
        if self.window is not None:
            lo, hi = self.window
            if lo is not None:
                s.add(v >= lo)
            if hi is not None:
                s.add(v <= hi)
        r = s.check()
        if r != z3.sat:
            return (r, s.reason_unknown() if r == z3.unknown else None), None
        best = s.model().eval(v, model_completion=True).as_long()
        for _ in range(self.max_steps if self.minimize else 0):
            s.push()
            s.add(v < best)
            if s.check() != z3.sat:
                s.pop()
                break
            best = s.model().eval(v, model_completion=True).as_long()
            s.pop()
        return (z3.sat, None), best

    def __call__(self, state: GameState) -> int | None:
        remaining = state.sentence.prefix[state.index + 1 :]
        (r, why), value = self._solve(state, self._goal(state, exact=True))
        if r == z3.sat:
            return value
        if r == z3.unsat:
            self.log.append(f"{state.variable}: no winning move (unsat)")
            return None
        self.log.append(f"{state.variable}: exact query unknown ({why})")
        if not remaining:
            return None
        (r, why), value = self._solve(state, self._goal(state, exact=False))
        if r == z3.sat:
            return value
        self.log.append(f"{state.variable}: relaxed query {r} ({why})")
        return None

    def __repr__(self) -> str:
        return f"Z3Constructor(window={self.window}, minimize={self.minimize})"


# --- traders and equilibrium ---------------------------------------------------------------------
@dataclass
class Agent:
    """A trader and its constructor.

    Parameters
    ----------
    name : str
    belief : float
        Subjective probability, in (0, 1), that the agent's side wins the game of the sentence.
    wealth : float
        Current wealth (> 0).
    constructor : callable or None
        ``f(state) -> int | None``, asked for moves on whichever side the agent is on.
        None: it can make no moves.
    demand : callable or None
        ``f(price, wealth) -> (units of the sentence, units of its negation)``; the default is the
        Kelly bettor ``(w·b/p, w·(1-b)/(1-p))``, who spends all its wealth in proportion to belief.
        A demand must cost at most the wealth: ``units·p + neg_units·(1-p) ≤ w``.
    """

    name: str
    belief: float
    wealth: float = 1.0
    constructor: Constructor | None = None
    demand: Callable[[float, float], tuple[float, float]] | None = None

    def __post_init__(self):
        if not (0.0 < float(self.belief) < 1.0):
            raise DeclarationError(f"agent {self.name}: belief must be in (0, 1), got {self.belief}")
        if not (float(self.wealth) > 0.0):
            raise DeclarationError(f"agent {self.name}: wealth must be > 0, got {self.wealth}")

    def units(self, price: float) -> tuple[float, float]:
        """Units of the sentence and of its negation demanded at ``price``."""
        if self.demand is None:
            return self.wealth * self.belief / price, self.wealth * (1.0 - self.belief) / (1.0 - price)
        a, c = self.demand(price, self.wealth)
        a, c = float(a), float(c)
        if a < 0 or c < 0 or not (math.isfinite(a) and math.isfinite(c)):
            raise DeclarationError(f"agent {self.name}: demand at price {price} gave ({a}, {c}); expected finite >= 0")
        if a * price + c * (1 - price) > self.wealth * (1 + 1e-9):
            raise DeclarationError(
                f"agent {self.name}: demand ({a}, {c}) at price {price} costs more than its wealth {self.wealth}"
            )
        return a, c


def equilibrium_price(agents: Sequence[Agent], *, tol: float = 1e-12) -> float:
    """The price at which units of the sentence demanded equal units of its negation demanded.

    Found by bisection on the excess demand (which must fall as the price rises). For Kelly
    agents this is the wealth-weighted mean belief.

    Raises
    ------
    DeclarationError
        With no agents, or when no price in (0, 1) balances the demands.

    Examples
    --------
    >>> round(equilibrium_price([Agent("a", 0.9, 1.0), Agent("b", 0.3, 3.0)]), 6)
    0.45
    """
    if not agents:
        raise DeclarationError("equilibrium_price needs at least one agent")
    if all(ag.demand is None for ag in agents):  # Kelly traders: the closed form
        return sum(ag.wealth * ag.belief for ag in agents) / sum(ag.wealth for ag in agents)

    def excess(p: float) -> float:
        total = 0.0
        for ag in agents:
            a, c = ag.units(p)
            total += a - c
        return total

    lo, hi = 1e-9, 1 - 1e-9
    e_lo, e_hi = excess(lo), excess(hi)
    if e_lo < 0 or e_hi > 0:
        raise DeclarationError(
            f"no price in (0, 1) balances demand: excess demand is {e_lo:.3g} at p≈0 and {e_hi:.3g} at p≈1; "
            "demand for the sentence must fall (and for its negation rise) as the price rises"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def kelly_population(n: int, constructor: Constructor | None, *, wealth: float = 1.0) -> list[Agent]:
    """``n`` Kelly agents with beliefs evenly spread on (0, 1) (``(k + 1/2)/n``), sharing a constructor.

    Their wealth-weighted market prices a sentence whose game the holders win ``s`` times in
    ``t`` rounds near Laplace's rule ``(s + 1)/(t + 2)``.
    """
    if n < 1:
        raise DeclarationError(f"n must be >= 1, got {n}")
    return [Agent(f"trader{k}", (k + 0.5) / n, wealth, constructor) for k in range(n)]


# --- the market ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundRecord:
    """One round: the price it cleared at, the game played and the total wealth afterwards."""

    round: int
    price: float
    game: GameResult
    wealth: float

    def to_dict(self) -> dict:
        return {"round": self.round, "price": self.price, "game": self.game.to_dict(), "wealth": self.wealth}


@dataclass(frozen=True)
class MarketRun:
    """The history of a :class:`QuantifiedMarket`: ``prices[t]`` is the price before round ``t + 1``'s game,
    ``prices[-1]`` the price after the last round."""

    sentence: str
    prices: tuple[float, ...]
    rounds: tuple[RoundRecord, ...]
    wealth: dict[str, float] = field(default_factory=dict)

    @property
    def outcomes(self) -> tuple[bool | None, ...]:
        return tuple(r.game.outcome for r in self.rounds)

    def price_after(self, t: int) -> float:
        """The price once ``t`` rounds have been played (``t = 0``: the opening price)."""
        return self.prices[t]

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence,
            "prices": list(self.prices),
            "rounds": [r.to_dict() for r in self.rounds],
            "wealth": dict(self.wealth),
        }

    def __repr__(self) -> str:
        wins = sum(o is True for o in self.outcomes)
        unsettled = sum(o is None for o in self.outcomes)
        return (
            f"MarketRun({self.sentence!r}: {len(self.rounds)} rounds, holder won {wins}, unsettled {unsettled}, "
            f"price {self.prices[0]:.3f} -> {self.prices[-1]:.3f})"
        )

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {r.round} | {r.price:.4f} | {r.game.outcome} |" for r in self.rounds)
        return f"**{self.sentence}**\n\n| round | price | holder won |\n|---|---|---|\n{rows}\n"


class QuantifiedMarket:
    """A repeated one-shot market in a quantified sentence, settled each round by its game.

    Update rule (wealth-weighted, as in the paper): each round every agent buys its demand at the
    equilibrium price, the holders' constructors play the game against the issuers', and each unit
    on the winning side pays 1. A Kelly agent's wealth becomes ``w·b/p`` if the sentence's side
    wins and ``w·(1-b)/(1-p)`` otherwise, so the next price is the wealth-weighted mean belief.
    An unsettled round (z3 unknown) refunds positions: wealth is unchanged.

    Parameters
    ----------
    sentence : QuantifiedSentence
    agents : sequence of Agent
    rlimit : int
        z3's resource limit for each settlement.

    Examples
    --------
    >>> import z3
    >>> x, y = z3.Ints("x y")
    >>> largest = QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)
    >>> agents = kelly_population(9, roles(constant(10**6), offset("x", 1)))
    >>> run = QuantifiedMarket(largest, agents).run(5, rng=0, progressbar=False)
    >>> run.prices[-1] < 0.2
    True
    """

    def __init__(self, sentence: QuantifiedSentence, agents: Sequence[Agent], *, rlimit: int = DEFAULT_RLIMIT):
        if not isinstance(sentence, QuantifiedSentence):
            raise DeclarationError(f"QuantifiedMarket needs a QuantifiedSentence, got {type(sentence).__name__}")
        if not agents:
            raise DeclarationError("QuantifiedMarket needs at least one agent")
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise DeclarationError(f"agent names must be distinct, got {names}")
        self.sentence = sentence
        self.agents = list(agents)
        self.rlimit = rlimit

    def step(self, round_number: int, rng: np.random.Generator) -> RoundRecord:
        """Play one round and update the agents' wealth in place."""
        p = equilibrium_price(self.agents)
        positions = [(ag, *ag.units(p)) for ag in self.agents]
        holders = sorted((t for t in positions if t[1] > t[2]), key=lambda t: t[2] - t[1])
        issuers = sorted((t for t in positions if t[2] > t[1]), key=lambda t: t[1] - t[2])
        verifier = [(t[0].name, t[0].constructor) for t in holders if t[0].constructor is not None]
        falsifier = [(t[0].name, t[0].constructor) for t in issuers if t[0].constructor is not None]
        game = play(self.sentence, verifier, falsifier, rng=rng, rlimit=self.rlimit)
        for ag, a, c in positions:
            spent = a * p + c * (1 - p)
            if game.outcome is None:
                payoff = spent
            else:
                payoff = a if game.outcome else c
            ag.wealth = ag.wealth - spent + payoff
        return RoundRecord(round_number, p, game, sum(ag.wealth for ag in self.agents))

    def run(self, rounds: int, *, rng: int | np.random.Generator | None = None, progressbar: bool = True) -> MarketRun:
        """Play ``rounds`` rounds; returns the price path (opening price first) and each game."""
        if not isinstance(rounds, int) or rounds < 0:
            raise DeclarationError(f"rounds must be a non-negative integer, got {rounds!r}")
        gen = as_rng(rng)
        records = []
        iterator: Iterable[int] = range(1, rounds + 1)
        if progressbar:
            from rich.progress import track

            iterator = track(iterator, description=f"PM1 {self.sentence}", total=rounds)
        for t in iterator:
            records.append(self.step(t, gen))
        prices = tuple(r.price for r in records) + (equilibrium_price(self.agents),)
        return MarketRun(str(self.sentence), prices, tuple(records), {a.name: a.wealth for a in self.agents})


# --- acceptance benchmark ------------------------------------------------------------------------
def infinitely_many_primes() -> QuantifiedSentence:
    """``∀x ∃y. y > x ∧ prime(y)``."""
    x, y = z3.Ints("x y")
    return QuantifiedSentence([("forall", "x", None), ("exists", "y", None)], z3.And(y > x, prime(y)))


def largest_number() -> QuantifiedSentence:
    """``∃x ∀y. y ≤ x``."""
    x, y = z3.Ints("x y")
    return QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)


@dataclass(frozen=True)
class BenchmarkResult:
    """Price paths of the three PM1 acceptance scenarios, with their targets and verdicts."""

    runs: dict[str, MarketRun]
    checks: dict[str, tuple[str, float, bool]]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.checks.values())

    def table(self, every: int = 5) -> str:
        """Price by round (every ``every`` rounds) for each scenario, then the checks."""
        names = list(self.runs)
        n = max(len(r.prices) for r in self.runs.values())
        lines = ["round  " + "  ".join(f"{k:>22}" for k in names)]
        for t in range(0, n, every):
            cells = [f"{self.runs[k].prices[t]:22.4f}" if t < len(self.runs[k].prices) else " " * 22 for k in names]
            lines.append(f"{t:5d}  " + "  ".join(cells))
        lines.append("")
        for k, (target, value, ok) in self.checks.items():
            lines.append(f"{k}: {target}: {value:.4f} {'PASS' if ok else 'FAIL'}")
        lines.append(f"total {self.seconds:.2f} s")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "runs": {k: r.to_dict() for k, r in self.runs.items()},
            "checks": {k: {"target": t, "value": v, "passed": ok} for k, (t, v, ok) in self.checks.items()},
            "seconds": self.seconds,
            "passed": self.passed,
        }

    def __repr__(self) -> str:
        return self.table()


def pm1_benchmark(
    *, n_agents: int = 50, rng: int | np.random.Generator | None = 0, progressbar: bool = False
) -> BenchmarkResult:
    """The PM1 acceptance runs (seeded, deterministic).

    * primes, next-prime constructor (:func:`next_prime_witness`), falsifier x uniform in [0, 10⁴]:
      price ≥ 0.95 by round 50;
    * primes, holders without a witness constructor: price ≤ 0.15 at every round from 10 to 50;
      (``Z3Constructor(minimize=True)`` plays the same moves, about 0.2 s each, so it is left out here);
    * largest number, holders choosing x uniform in [0, 10⁶], falsifier y = x + 1: price ≤ 0.12
      by round 25.

    Examples
    --------
    >>> pm1_benchmark(n_agents=20).passed
    True
    """
    import time

    gen = as_rng(rng)
    start = time.perf_counter()
    falsify_x = random_integers(0, 10_000)
    runs = {
        "primes, next-prime": QuantifiedMarket(
            infinitely_many_primes(), kelly_population(n_agents, roles(next_prime_witness, falsify_x))
        ).run(50, rng=gen, progressbar=progressbar),
        "primes, no witnesses": QuantifiedMarket(
            infinitely_many_primes(), kelly_population(n_agents, roles(None, falsify_x))
        ).run(50, rng=gen, progressbar=progressbar),
        "largest number": QuantifiedMarket(
            largest_number(), kelly_population(n_agents, roles(random_integers(0, 10**6), offset("x", 1)))
        ).run(25, rng=gen, progressbar=progressbar),
    }
    seconds = time.perf_counter() - start
    p1 = runs["primes, next-prime"].prices
    p2 = runs["primes, no witnesses"].prices
    p3 = runs["largest number"].prices
    checks = {
        "primes, next-prime": ("price at round 50 >= 0.95", p1[50], p1[50] >= 0.95),
        "primes, no witnesses": ("max price over rounds 10..50 <= 0.15", max(p2[10:51]), max(p2[10:51]) <= 0.15),
        "largest number": ("price at round 25 <= 0.12", p3[25], p3[25] <= 0.12),
    }
    return BenchmarkResult(runs, checks, seconds)


def plot_prices(runs: dict[str, MarketRun] | MarketRun, ax=None):
    """Price trajectories by round (one line per run); returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if isinstance(runs, MarketRun):
        runs = {runs.sentence: runs}
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for label, run in runs.items():
        ax.plot(range(len(run.prices)), run.prices, marker=".", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("price")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("PM1: prices of quantified sentences")
    return fig
