"""Exact numbers from user input: one rule, a float is the decimal it prints as.

A price typed as ``0.1`` is read as 1/10, not as the binary float nearest to it
(3602879701896397/36028797018963968): ``Fraction(repr(x))``, the shortest decimal that rounds
to the float. Ints, fractions and decimal strings are taken as they are.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from deepmarkets.errors import DeclarationError

__all__ = ["to_fraction", "to_rational"]


def to_fraction(value: Any, what: str = "number") -> Fraction:
    """An exact fraction from an int, Fraction, decimal string or float (by its shortest repr).

    Examples
    --------
    >>> to_fraction(0.1), to_fraction("2/3"), to_fraction(3)
    (Fraction(1, 10), Fraction(2, 3), Fraction(3, 1))
    >>> to_fraction(float("nan"), "price")
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: price must be a finite number, got nan
    """
    if isinstance(value, bool):
        raise DeclarationError(f"{what} must be a number, got {value!r}")
    try:
        if isinstance(value, Fraction):
            return value
        if isinstance(value, int):
            return Fraction(value)
        if isinstance(value, str):
            return Fraction(value.strip())
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise DeclarationError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise DeclarationError(f"{what} must be a finite number, got {value!r}")
    return Fraction(repr(f))


def to_rational(value: Any, what: str = "number"):
    """:func:`to_fraction` as a sympy ``Rational``.

    Examples
    --------
    >>> to_rational(0.25)
    1/4
    """
    import sympy

    f = to_fraction(value, what)
    return sympy.Rational(f.numerator, f.denominator)
