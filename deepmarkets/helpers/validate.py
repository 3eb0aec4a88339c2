"""Argument checks: one message for each kind of bad argument.

Every message reads ``name=value; expected ...`` and may end with a hint on how to fix it. A bad
argument raises :class:`~deepmarkets.errors.DeclarationError` unless the caller names another
subclass of :class:`~deepmarkets.errors.DeepMarketsError` (inference arguments raise
:class:`~deepmarkets.errors.InferenceError`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, DeepMarketsError

__all__ = ["whole_number", "positive_float", "finite_float"]


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""


def whole_number(value: Any, name: str, low: int, error: type[DeepMarketsError] = DeclarationError, *,
                 hint: str = "") -> int:
    """``value`` as an int, or ``error`` saying that ``name`` must be a whole number ``>= low``.

    Examples
    --------
    >>> whole_number(3, "draws", 1)
    3
    >>> whole_number(1.5, "draws", 1)
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: draws=1.5; expected a whole number >= 1
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise error(f"{name}={value!r}; expected a whole number >= {low}{_hint(hint)}")
    return int(value)


def _real(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value)


def positive_float(value: Any, name: str, error: type[DeepMarketsError] = DeclarationError, *,
                   hint: str = "") -> float:
    """``value`` as a float, or ``error`` saying that ``name`` must be a positive finite number.

    Examples
    --------
    >>> positive_float(0.5, "tol")
    0.5
    >>> positive_float(0, "b", hint="the liquidity; pass e.g. b=10")
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: b=0; expected a positive finite number; the liquidity; pass e.g. b=10
    """
    v = _real(value)
    if v is None or not math.isfinite(v) or v <= 0:
        raise error(f"{name}={value!r}; expected a positive finite number{_hint(hint)}")
    return v


def finite_float(value: Any, name: str, error: type[DeepMarketsError] = DeclarationError, *,
                 low: float | None = None, hint: str = "") -> float:
    """``value`` as a float, or ``error`` saying that ``name`` must be a finite number (``>= low`` if given).

    Examples
    --------
    >>> finite_float(-2, "quantity")
    -2.0
    >>> finite_float(float("nan"), "tol", low=0)
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: tol=nan; expected a finite number >= 0
    """
    v = _real(value)
    if v is None or not math.isfinite(v) or (low is not None and v < low):
        bound = "" if low is None else f" >= {low:g}"
        raise error(f"{name}={value!r}; expected a finite number{bound}{_hint(hint)}")
    return v
