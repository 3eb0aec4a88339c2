"""Trades as outcome columns: the sparse layout in which price paths are computed and books replayed.

A batch of ``T`` trades on ``n`` outcomes is a matrix ``D`` (T, n) that is mostly zero; it is kept
as one column per outcome, sparse (trade numbers and values) or dense (a value per trade).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Columns", "columns_from_coo", "columns_from_dense", "dense_from_columns", "BLOCK", "DENSE_FRACTION"]

#: A column is dense when at least this fraction of its trades change it.
DENSE_FRACTION = 1 / 3
#: Time steps per block when prices are computed (a block of all outcomes stays in cache).
BLOCK = 8192

#: ``columns[j] = (pos, vals)``: the trades that change outcome ``j``, at the sorted trade
#: numbers ``pos`` by ``vals``; or ``(None, vals)`` with one value per trade (a dense column).
Columns = list[tuple[np.ndarray | None, np.ndarray]]


def columns_from_coo(T: int, n: int, rows: np.ndarray | None, cols: np.ndarray, vals: np.ndarray) -> Columns:
    """Outcome columns of ``T`` trades given as entries ``D[rows, cols] = vals``.

    ``rows`` is sorted, with no (row, col) pair twice; ``None`` stands for ``0, ..., T - 1``.
    """
    key = cols.astype(np.uint8 if n <= 256 else np.uint16 if n <= 65536 else np.intp, copy=False)
    order = np.argsort(key, kind="stable")  # radix sort; keeps each column's trades in time order
    del key
    ends = np.cumsum(np.bincount(cols, minlength=n))
    out: Columns = []
    start = 0
    for j in range(n):
        stop = int(ends[j])
        take = order[start:stop]
        pos, v = (take if rows is None else rows[take]), vals[take]
        if stop - start > DENSE_FRACTION * T:
            dense = np.zeros(T)
            dense[pos] = v
            out.append((None, dense))
        else:
            out.append((pos, v))
        start = stop
    return out


def columns_from_dense(D: np.ndarray) -> Columns:
    """Outcome columns of a C-contiguous matrix of trades (T, n)."""
    T, n = D.shape
    changes = D != 0  # -0.0 is no change
    if np.count_nonzero(changes) > DENSE_FRACTION * T * n:
        DT = np.ascontiguousarray(D.T)
        return [(None, DT[j]) for j in range(n)]
    flat = np.flatnonzero(changes)
    rows = flat // n
    return columns_from_coo(T, n, rows, flat - rows * n, D.ravel()[flat])


def dense_from_columns(T: int, n: int, columns: Columns) -> np.ndarray:
    """The matrix of trades (T, n) of outcome columns."""
    D = np.zeros((T, n))
    for j, (pos, vals) in enumerate(columns):
        if pos is None:
            D[:, j] = vals
        else:
            D[pos, j] = vals
    return D
