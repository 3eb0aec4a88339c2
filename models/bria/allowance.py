"""Allowance schedules A(n, i) = c · n^-a · i^-b: what the bank gives hypothesis i in round n.

The auction is a boundedly rational inductive agent when the schedule meets three requirements
(Oesterheld, Demski & Conitzer 2023, Theorem 1), all checked when a schedule is made:

finite per round
    Σ_i A(n, i) < ∞ for every n, however many hypotheses are enumerated: b > 1.
divergent per hypothesis
    Σ_n A(n, i) = ∞ for every i, so a hypothesis that keeps its promises is never starved
    forever: a <= 1.
vanishing average
    (1/T) Σ_{n<=T} Σ_i A(n, i) → 0, which bounds the agent's average overestimation: a > 0.

Choosing a schedule: the paper's example A = 1/(n·i²) meets all three, but i^-2 starves late
hypotheses (the 41st gets 1/1681 of the first's allowance), so an early under-promiser can hold
the agent for longer than any experiment runs. A flatter b (just above 1) and a larger c (the
allowance of a round should pay for a few losing tests of each hypothesis) test every
hypothesis early: A = 5/(n·i^1.1) is the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.validate import positive_float

__all__ = ["Allowance"]


@dataclass(frozen=True)
class Allowance:
    """The schedule A(n, i) = c · n^-a · i^-b (rounds n and hypotheses i count from 1).

    Parameters
    ----------
    c : float
        The scale: the first hypothesis's allowance in the first round (> 0).
    a : float
        Decay over rounds, 0 < a <= 1.
    b : float
        Decay over the enumeration of hypotheses, b > 1.

    Raises
    ------
    DeclarationError
        When a requirement fails; the message names the requirement and the bound.

    Examples
    --------
    >>> A = Allowance(c=1, a=1, b=2)          # the paper's example 1/(n i^2)
    >>> float(A(2, 3))
    0.05555555555555555
    >>> Allowance(a=1.5)
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: a=1.5; expected 0 < a <= 1: ...
    """

    c: float = 5.0
    a: float = 1.0
    b: float = 1.1

    def __post_init__(self):
        positive_float(self.c, "c", hint="the allowance's scale")
        a, b = _real(self.a, "a"), _real(self.b, "b")
        if a > 1:
            raise DeclarationError(f"a={self.a!r}; expected 0 < a <= 1: with a > 1 the allowance per hypothesis "
                                   "sum_n A(n, i) is finite, so a hypothesis that keeps its promises can be starved "
                                   "forever (use a=1)")
        if a <= 0:
            raise DeclarationError(f"a={self.a!r}; expected 0 < a <= 1: with a <= 0 the average allowance per round "
                                   "does not vanish, so the agent may overestimate by a constant on average (use a=1)")
        if b <= 1:
            raise DeclarationError(f"b={self.b!r}; expected b > 1: with b <= 1 the allowance of one round "
                                   "sum_i A(n, i) is infinite over an unbounded enumeration of hypotheses (use e.g. "
                                   "b=1.1)")
        object.__setattr__(self, "c", float(self.c))
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def __call__(self, n, i) -> np.ndarray:
        """A(n, i) for rounds ``n`` and hypotheses ``i`` (both from 1; arrays broadcast)."""
        n, i = np.asarray(n, dtype=float), np.asarray(i, dtype=float)
        if np.any(n < 1) or np.any(i < 1):
            raise DeclarationError("A(n, i) is defined for rounds n >= 1 and hypotheses i >= 1")
        return self.c * n ** -self.a * i ** -self.b

    def weights(self, k: int) -> np.ndarray:
        """i^-b for the first ``k`` hypotheses: A(n, ·) = c · n^-a · weights(k)."""
        return np.arange(1, k + 1, dtype=float) ** -self.b

    def scale(self, n: int) -> float:
        """c · n^-a: the factor of round ``n``."""
        return self.c * float(n) ** -self.a

    def round_bound(self, n: int) -> float:
        """An upper bound on Σ_i A(n, i) over every hypothesis ever enumerated: c n^-a ζ(b)."""
        from scipy.special import zeta

        return self.scale(n) * float(zeta(self.b))

    def __str__(self) -> str:
        return f"{self.c:g}/(n^{self.a:g} i^{self.b:g})"

    def to_dict(self) -> dict:
        """The three parameters."""
        return {"c": self.c, "a": self.a, "b": self.b}


def _real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(float(value)):
        raise DeclarationError(f"{name}={value!r}; expected a finite number")
    return float(value)
