"""Categorical emissions: a layered market over answer books (a latent class model traded by a market).

Each location state ``a`` has a weight ``w_a`` and, for every categorical column ``j``, a table
``P(x_j = l | a)``; the columns are independent given the state, so the implied distribution of a
row of answers is exact,

.. math::

    q_θ(x) = \\sum_a w_a \\prod_j P(x_j \\mid a).

Answers are coded ``0 .. L_j - 1`` (:func:`encode_answers` codes any table of labels). The EM
update of a table adds a pseudo-count ``alpha`` to every cell (default ``1e-6``), so no answer is
impossible: a row with an answer no training row gave still has a finite (low) score when it is
held out.

Examples
--------
>>> x = np.array([[0, 0], [0, 0], [1, 1], [1, 1]] * 10, dtype=float)
>>> s = CategoricalState.one_class(x, [2, 2])
>>> round(float(s.log_q(x[:1])[0]), 6)           # log(1/2 · 1/2)
-1.386294
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from deepmarkets.errors import DeclarationError

__all__ = ["CategoricalState", "encode_answers", "categorical_em_step", "ALPHA"]

#: Pseudo-count added to every cell of a table by the EM update.
ALPHA = 1e-6


def encode_answers(frame: pd.DataFrame) -> tuple[np.ndarray, list[int], dict[str, list]]:
    """Codes ``0`` to ``L_j - 1`` per column (levels in sorted order), the number of levels, and the levels."""
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        raise DeclarationError(f"column {col!r} has missing answers; drop those rows or code 'missing' as an answer")
    codes, levels = [], {}
    for c in frame.columns:
        cat = pd.Categorical(frame[c])
        codes.append(cat.codes.astype(np.float64))
        levels[str(c)] = list(cat.categories)
    counts = [len(v) for v in levels.values()]
    if any(k < 2 for k in counts):
        bad = [c for c, v in levels.items() if len(v) < 2]
        raise DeclarationError(f"columns {bad} have a single answer; a categorical column needs at least two")
    return np.column_stack(codes), counts, levels




@dataclass(frozen=True, eq=False)
class CategoricalState:
    """Weights and answer tables of a latent class model (see the module docstring).

    It plays the part of :class:`~deepmarkets.models.layered.state.LayeredState` in the market:
    the same names for weights, ids, relabelling, splitting and removing states; it has no
    coarse layer.
    """

    weights: np.ndarray
    tables: tuple[np.ndarray, ...]
    ids: tuple[str, ...] = ()
    next_id: int = field(default=0)

    emission = "categorical"
    layered = False
    shape_ids: tuple[str, ...] = ()

    @classmethod
    def from_tables(cls, weights: Any, tables: Sequence[Any]) -> CategoricalState:
        w = np.array(weights, dtype=np.float64)
        t = tuple(np.array(tab, dtype=np.float64) for tab in tables)
        state = cls(w, t, tuple(f"s{i + 1}" for i in range(len(w))), len(w))
        return state.validate()

    @classmethod
    def one_class(cls, x: np.ndarray, levels: Sequence[int]) -> CategoricalState:
        """One state whose tables are the answers' frequencies."""
        tables = []
        for j, lj in enumerate(levels):
            counts = np.bincount(x[:, j].astype(np.int64), minlength=lj) + ALPHA
            tables.append((counts / counts.sum())[None])
        return cls.from_tables([1.0], tables)

    def validate(self) -> CategoricalState:
        k = len(self.weights)
        if k == 0 or not np.all(np.isfinite(self.weights)) or np.any(self.weights <= 0) \
                or abs(self.weights.sum() - 1) > 1e-9:
            raise DeclarationError(f"weights must be positive and sum to 1, got {self.weights.tolist()}")
        for j, t in enumerate(self.tables):
            if t.ndim != 2 or t.shape[0] != k or t.shape[1] < 2:
                raise DeclarationError(f"table {j} has shape {t.shape}; expected ({k}, levels >= 2)")
            if not np.all(np.isfinite(t)) or np.any(t <= 0) or not np.allclose(t.sum(axis=1), 1.0, atol=1e-9):
                raise DeclarationError(f"table {j}: every row must be positive and sum to 1 (no NaN)")
        return self

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        return len(self.weights)

    @property
    def n_shapes(self) -> int:
        return 0

    @property
    def dim(self) -> int:
        return len(self.tables)

    @property
    def levels(self) -> list[int]:
        return [t.shape[1] for t in self.tables]

    @property
    def n_parameters(self) -> int:
        """``(K - 1) + K Σ_j (L_j - 1)``."""
        return self.n_states - 1 + self.n_states * sum(lj - 1 for lj in self.levels)

    @property
    def means(self) -> np.ndarray:
        """Every state's tables side by side, ``(K, Σ L_j)`` (used to match labellings)."""
        return np.concatenate(self.tables, axis=1)

    # ------------------------------------------------------------------ densities
    def log_joint(self, x: Any) -> np.ndarray:
        codes = np.asarray(x, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != self.dim:
            raise DeclarationError(f"answers of shape {codes.shape}; expected (n, {self.dim})")
        idx = codes.astype(np.int64)
        if np.any(idx != codes) or np.any(idx < 0) or any(np.any(idx[:, j] >= lj) for j, lj in enumerate(self.levels)):
            raise DeclarationError(f"answers must be codes 0 .. L_j - 1 with L = {self.levels}")
        out = np.broadcast_to(np.log(self.weights), (len(idx), self.n_states)).copy()
        for j, t in enumerate(self.tables):
            out += np.log(t).T[idx[:, j]]
        return out

    def log_q(self, x: Any) -> np.ndarray:
        return logsumexp(self.log_joint(x), axis=-1)

    def responsibilities(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        lj = self.log_joint(x)
        lq = logsumexp(lj, axis=-1)
        return np.exp(lj - lq[:, None]), lq

    # ------------------------------------------------------------------ structure
    def permuted(self, order: Sequence[int]) -> CategoricalState:
        o = np.asarray(order, dtype=np.int64)
        if sorted(o.tolist()) != list(range(self.n_states)):
            raise DeclarationError(f"order={o.tolist()} is not a permutation of 0..{self.n_states - 1}")
        return replace(self, weights=self.weights[o], tables=tuple(t[o] for t in self.tables),
                       ids=tuple(self.ids[i] for i in o))

    def split_copy(self, a: int) -> CategoricalState:
        """State ``a`` becomes two identical copies with half its weight (``q`` unchanged)."""
        w = self.weights.copy()
        w[a] /= 2.0
        return replace(self, weights=np.append(w, w[a]), tables=tuple(np.vstack([t, t[a]]) for t in self.tables),
                       ids=self.ids + (f"s{self.next_id + 1}",), next_id=self.next_id + 1)

    def split_along(self, a: int, j: int) -> CategoricalState:
        """State ``a`` split in two; the copies lean to the lower and the upper half of column ``j``'s answers."""
        s = self.split_copy(a)
        t = s.tables[j].copy()
        lean = np.where(np.arange(t.shape[1]) < t.shape[1] / 2, 0.75, 0.25)
        for row, w in ((a, lean), (-1, 1 - lean)):
            t[row] = t[row] * w
            t[row] /= t[row].sum()
        return replace(s, tables=s.tables[:j] + (t,) + s.tables[j + 1:])

    def without_state(self, a: int) -> CategoricalState:
        if self.n_states == 1:
            raise DeclarationError("cannot remove the only location state")
        keep = np.delete(np.arange(self.n_states), a)
        return replace(self, weights=self.weights[keep] / self.weights[keep].sum(),
                       tables=tuple(t[keep] for t in self.tables), ids=tuple(self.ids[i] for i in keep))

    def merged(self, a: int, b: int) -> CategoricalState:
        """State ``b`` merged into ``a``: ``a`` takes ``b``'s weight and ``b`` goes."""
        if a == b:
            raise DeclarationError("merging needs two different location states")
        w = self.weights.copy()
        w[a] += w[b]
        return replace(self, weights=w).without_state(b)

    def with_layer(self) -> CategoricalState:
        raise DeclarationError("a coarse layer shares covariances: it needs Gaussian emissions, not categorical")

    def with_arrays(self, **arrays: Any) -> CategoricalState:
        return replace(self, **arrays)

    def to_dict(self) -> dict[str, Any]:
        return {"emission": "categorical", "layered": False, "ids": list(self.ids), "weights": self.weights.tolist(),
                "tables": [t.tolist() for t in self.tables], "n_parameters": self.n_parameters}

    def __repr__(self) -> str:
        return f"CategoricalState({self.n_states} location states, {self.dim} columns, levels {self.levels})"


def categorical_em_step(state: CategoricalState, x: np.ndarray, *, columns: Sequence[int] | None = None,
                        weights: bool = True, resp: np.ndarray | None = None, alpha: float = ALPHA) -> CategoricalState:
    """One EM step: the weights (when ``weights``) and the tables of ``columns`` (default all)."""
    if resp is None:
        resp, _ = state.responsibilities(x)
    idx = np.asarray(x).astype(np.int64)
    nk = resp.sum(axis=0)
    new_w = (nk + 10 * np.finfo(float).eps) / (nk.sum() + 10 * np.finfo(float).eps * len(nk)) if weights \
        else state.weights
    chosen = set(range(state.dim) if columns is None else columns)
    tables = []
    for j, t in enumerate(state.tables):
        if j not in chosen:
            tables.append(t)
            continue
        counts = np.stack([resp[idx[:, j] == level].sum(axis=0) for level in range(t.shape[1])], axis=1) + alpha
        tables.append(counts / counts.sum(axis=1, keepdims=True))
    return state.with_arrays(weights=new_w, tables=tuple(tables))
