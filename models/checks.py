"""Argument checks shared by the models: one message for each kind of bad argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, DeepMarketsError

__all__ = ["whole_number", "positive_float"]


def whole_number(value: Any, name: str, low: int, error: type[DeepMarketsError] = DeclarationError) -> int:
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
        raise error(f"{name}={value!r}; expected a whole number >= {low}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    """``value`` as a float, or a DeclarationError saying that ``name`` must be a positive finite number.

    Examples
    --------
    >>> positive_float(0.5, "tol")
    0.5
    >>> positive_float(0, "tol")
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: tol=0; expected a positive finite number
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or \
            not math.isfinite(float(value)) or float(value) <= 0:
        raise DeclarationError(f"{name}={value!r}; expected a positive finite number")
    return float(value)
