"""Agreement between two labellings of the same items.

:func:`adjusted_rand_index` compares two partitions without caring how their classes are
named, which is what a latent class fit needs: its classes are found only up to relabelling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["adjusted_rand_index", "contingency_table"]


def contingency_table(a: Any, b: Any) -> np.ndarray:
    """Counts ``n[i, j]`` of items in class ``i`` of ``a`` and class ``j`` of ``b`` (classes in sorted order).

    Examples
    --------
    >>> contingency_table(["x", "x", "y"], [0, 1, 1]).tolist()
    [[1, 1], [0, 1]]
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or len(a) != len(b):
        raise DeclarationError(
            f"expected two labellings of the same items (1-d, equal length), got shapes {a.shape} and {b.shape}"
        )
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    ia, ib = ia.reshape(-1), ib.reshape(-1)
    na, nb = int(ia.max(initial=-1)) + 1, int(ib.max(initial=-1)) + 1
    return np.bincount(ia * nb + ib, minlength=na * nb).reshape(na, nb)


def _pairs(n: np.ndarray) -> float:
    n = np.asarray(n, dtype=np.float64)
    return float(np.sum(n * (n - 1) / 2.0))


def adjusted_rand_index(a: Any, b: Any) -> float:
    """Adjusted Rand index of two partitions of the same items (Hubert & Arabie 1985).

    ``(index - expected) / (max - expected)`` over pairs of items, where ``index`` counts
    pairs put together by both labellings, ``expected`` is its value for random labellings
    with the same class sizes and ``max`` is the mean of the pairs put together by each.
    1 for identical partitions (up to names), about 0 for independent ones, and negative
    when they agree less than chance. When both partitions are trivial (all items in one
    class, or every item alone) and equal, the index is 1.

    Parameters
    ----------
    a, b : array-like
        Class labels of the same items (any hashable, sortable values).

    Returns
    -------
    float

    Examples
    --------
    >>> adjusted_rand_index([0, 0, 1, 1], ["b", "b", "a", "a"])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 4)
    -0.5
    """
    table = contingency_table(a, b)
    n = int(table.sum())
    if n < 2:
        return 1.0
    index = _pairs(table)
    sum_a = _pairs(table.sum(axis=1))
    sum_b = _pairs(table.sum(axis=0))
    total = n * (n - 1) / 2.0
    expected = sum_a * sum_b / total
    maximum = (sum_a + sum_b) / 2.0
    if maximum == expected:
        return 1.0 if index == maximum else 0.0
    return float((index - expected) / (maximum - expected))
