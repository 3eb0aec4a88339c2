"""Values ready for JSON: one rule for numpy types, fractions and non-finite floats."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as plain Python, fractions as text ("1/3") and
    non-finite floats (NaN, infinities, which JSON cannot hold) as None, inside dicts and lists.

    Examples
    --------
    >>> json_safe({"x": np.arange(2), "p": Fraction(1, 3), "r": float("nan"), 1: np.float64(0.5)})
    {'x': [0, 1], 'p': '1/3', 'r': None, '1': 0.5}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Fraction):
        return str(value)
    return value
