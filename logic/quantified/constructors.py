"""Constructors: the strategies that choose witnesses and counterexamples in a game.

Built-in constructors play fixed, shifted or random values, the next prime, or use z3
(:class:`Z3Constructor`, a Skolem-style search for a move through solver models on the
mover's bounded domain); any Python callable ``constructor(state) -> int | None`` also works.
"""

from __future__ import annotations

import math
from typing import Any

import z3

from deepmarkets.errors import DeclarationError
from deepmarkets.logic.quantified.games import DEFAULT_RLIMIT, Constructor, GameState, _solver

__all__ = ["Z3Constructor", "constant", "offset", "random_integers", "roles", "next_prime_witness"]

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
    """A constructor that plays an earlier move plus ``delta``, as in ``y = x + 1``."""

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
    >>> from deepmarkets.logic.quantified.games import QuantifiedSentence, play, prime
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
