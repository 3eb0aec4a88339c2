"""Linear programmes in exact rational arithmetic, from a basis found in floating point.

A floating-point solver (HiGHS) finds an optimal basis quickly but decides with a tolerance.
Where an answer hangs on the last digits of the data, :class:`ExactLP` takes that basis and
solves its systems exactly (python-flint's rational matrices). When the basis is not optimal in
exact arithmetic, iterative refinement asks HiGHS for a better one: the correction problem, with
the exact solution's infeasibilities scaled up to order 1, warm-started from the basis (Gleixner,
Steffy and Wolter, "Iterative refinement for linear programming", INFORMS J. Comput. 28, 2016).
Without HiGHS, or if refinement stalls, exact pivots finish the job: primal simplex from a primal
feasible basis, dual simplex from a dual feasible one, and when it is neither, the costs of the
offending columns are shifted first (dual simplex to a primal feasible basis, then primal simplex
on the true costs). Bland's rule chooses every exact pivot, so the method terminates. Products
with the constraint matrix are exact integer matrix products (each column is kept as integers
over one denominator).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import numpy as np

__all__ = ["ExactLP", "ExactSolution", "SingularBasis"]

#: Refinement steps before exact pivoting takes over.
MAX_REFINEMENTS = 10


class SingularBasis(ValueError):
    """The columns given as a starting basis are linearly dependent."""


@dataclass(frozen=True)
class ExactSolution:
    """An optimal basic solution, exact.

    Attributes
    ----------
    value : the optimal objective ``c . v``.
    primal : ``{column: value}`` for the basic columns with a nonzero value.
    dual : ``y`` with ``A^T y <= c`` and ``b . y = value``, one entry per row.
    basis : the optimal basis, one column per row.
    """

    value: Fraction
    primal: dict[int, Fraction]
    dual: tuple[Fraction, ...]
    basis: tuple[int, ...]


def _scale(least: float) -> float:
    """A power of two that brings a negative ``least`` to about -1 (1 when nothing is negative)."""
    return 1.0 if least >= 0 else 2.0 ** min(200, -math.frexp(-least)[1] + 1)


def _fraction(value: flint.fmpq) -> Fraction:
    return Fraction(int(value.p), int(value.q))


class ExactLP:
    """Minimise ``c . v`` subject to ``A v = b`` and ``v >= 0``, exactly; columns can be added between solves.

    Parameters
    ----------
    rhs : sequence of Fraction
        ``b``, one entry per row.

    Examples
    --------
    >>> from fractions import Fraction
    >>> lp = ExactLP([Fraction(1)])
    >>> lp.add_column({0: 1}, cost=Fraction(1, 3)), lp.add_column({0: 2}, cost=Fraction(1, 2))
    (0, 1)
    >>> s = lp.solve([0])
    >>> s.value, s.primal, s.basis
    (Fraction(1, 4), {1: Fraction(1, 2)}, (1,))
    """

    def __init__(self, rhs: Sequence[Fraction]):
        self.m = len(rhs)
        self._rhs = flint.fmpq_mat(self.m, 1, [flint.fmpq(Fraction(v).numerator, Fraction(v).denominator)
                                               for v in rhs])
        self._numerators: list[list[int]] = []  # column j is numerators[j] / denominators[j]
        self._denominators: list[int] = []
        self._costs: list[Fraction] = []
        self._integer: flint.fmpz_mat | None = None  # the numerators, one row per column
        self._float = np.zeros((0, self.m))  # A transposed, in floating point
        self._highs = None

    def __len__(self) -> int:
        return len(self._costs)

    def add_column(self, column: Mapping[int, Fraction] | Sequence[Fraction], cost: Fraction = Fraction(0), *,
                   denominator: int | None = None) -> int:
        """Add a column (``{row: value}`` or dense) with its cost; returns its index.

        With ``denominator``, ``column`` is dense integers and the column is ``column / denominator``.
        """
        if denominator is None:
            dense = [Fraction(0)] * self.m
            for i, v in (column.items() if isinstance(column, Mapping) else enumerate(column)):
                dense[int(i)] = Fraction(v)
            denominator = math.lcm(*(v.denominator for v in dense))
            column = [v.numerator * (denominator // v.denominator) for v in dense]
        elif len(column) != self.m:
            raise ValueError(f"a column needs {self.m} entries, got {len(column)}")
        self._numerators.append([int(v) for v in column])
        self._denominators.append(int(denominator))
        self._costs.append(Fraction(cost))
        return len(self._costs) - 1

    def solve(self, basis: Sequence[int], *, tick: Callable[[], None] | None = None,
              highs: Callable[[], Any] | None = None) -> ExactSolution:
        """An optimal basic solution, starting from ``basis`` (one column per row).

        ``tick`` is called before every step (to enforce a deadline by raising); ``highs``
        makes a silent ``highspy.Highs`` for iterative refinement (without it, exact pivots only).

        Raises
        ------
        SingularBasis
            When the starting columns are linearly dependent.
        ValueError
            When the programme is infeasible or unbounded.
        """
        basis = [int(j) for j in basis]
        if len(basis) != self.m or len(set(basis)) != self.m or not all(0 <= j < len(self) for j in basis):
            raise SingularBasis(f"a basis needs {self.m} distinct columns, got {basis}")
        if self._integer is None or self._integer.nrows() != len(self):
            self._integer = flint.fmpz_mat(len(self), self.m, [v for col in self._numerators for v in col])
        good = None  # the last basis known to be nonsingular
        for _ in range(MAX_REFINEMENTS if highs is not None else 0):
            if tick is not None:
                tick()
            try:
                matrix, x = self._factor(basis)
            except ZeroDivisionError:
                if good is None:
                    raise SingularBasis("the starting columns are linearly dependent") from None
                break
            good = basis
            reduced = self._reduced(matrix, basis, self._costs)
            if min(reduced) >= 0 and all(x[i, 0] >= 0 for i in range(self.m)):
                return self._solution(matrix, basis, x)
            refined = self._refine(basis, x, reduced, highs)
            if refined is None or sorted(refined) == sorted(basis):
                break
            basis = refined
        return self._pivot(list(good if good is not None else basis), tick)

    # linear algebra ---------------------------------------------------------------------
    def _factor(self, basis: list[int]) -> tuple[flint.fmpq_mat, flint.fmpq_mat]:
        """The basis matrix and the basic solution; ZeroDivisionError when it is singular."""
        entries = [flint.fmpq(self._numerators[j][i], self._denominators[j]) for i in range(self.m) for j in basis]
        matrix = flint.fmpq_mat(self.m, self.m, entries)
        return matrix, matrix.solve(self._rhs)

    def _products(self, v: flint.fmpq_mat) -> list[Fraction]:
        """``v . A_j`` for every column ``j``, exactly."""
        numerators, denominator = v.numer_denom()
        products = (self._integer * numerators).entries()
        return [Fraction(int(p), int(denominator) * d) for p, d in zip(products, self._denominators, strict=True)]

    def _reduced(self, matrix: flint.fmpq_mat, basis: list[int], costs: list[Fraction]) -> list[Fraction]:
        """The reduced costs ``c_j - y . A_j`` with the duals ``y`` of ``basis`` under ``costs``."""
        y = matrix.transpose().solve(flint.fmpq_mat(self.m, 1, [flint.fmpq(costs[j].numerator, costs[j].denominator)
                                                                for j in basis]))
        return [c - p for c, p in zip(costs, self._products(y), strict=True)]

    # refinement -------------------------------------------------------------------------
    def _refine(self, basis: list[int], x, reduced: list[Fraction], highs: Callable[[], Any]) -> list[int] | None:
        """One step of iterative refinement: the basis HiGHS finds for the correction problem
        ``min d . D`` subject to ``A D = 0`` and ``D >= -x``, with the basic solution ``x`` and the
        reduced costs ``d`` of ``basis`` each scaled so that its worst violation is about 1; None
        when HiGHS fails."""
        import highspy

        k = len(self)
        if self._float.shape[0] != k:
            self._float = np.array([[v / d for v in col] for col, d in zip(self._numerators, self._denominators,
                                                                               strict=True)]).reshape(k, self.m)
        value = np.zeros(k)
        value[basis] = [float(x[i, 0]) for i in range(self.m)]
        cost = np.array([float(v) for v in reduced])
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = k, self.m
        lp.col_cost_ = cost * _scale(cost.min())
        lp.col_lower_ = -value * _scale(value.min())
        lp.col_upper_ = np.full(k, highspy.kHighsInf)
        lp.row_lower_ = lp.row_upper_ = np.zeros(self.m)
        cols, rows = np.nonzero(self._float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(cols, np.arange(k + 1)).astype(np.int32)
        lp.a_matrix_.index_ = rows.astype(np.int32)
        lp.a_matrix_.value_ = self._float[cols, rows]
        if self._highs is None:
            self._highs = highs()
        h = self._highs
        h.passModel(lp)
        kinds = highspy.HighsBasisStatus
        start = highspy.HighsBasis()
        inside = set(basis)
        start.col_status = [kinds.kBasic if j in inside else kinds.kLower for j in range(k)]
        start.row_status = [kinds.kLower] * self.m
        start.valid = True
        h.setBasis(start)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        found = [j for j, v in enumerate(h.getBasis().col_status) if v == kinds.kBasic]
        return found if len(found) == self.m else None

    # exact pivots -----------------------------------------------------------------------
    def _pivot(self, basis: list[int], tick: Callable[[], None] | None) -> ExactSolution:
        """Exact simplex pivots under Bland's rule from ``basis`` to an optimal basis."""
        costs = self._costs
        try:
            while True:
                if tick is not None:
                    tick()
                matrix, x = self._factor(basis)
                reduced = self._reduced(matrix, basis, costs)
                negative = [i for i in range(self.m) if x[i, 0] < 0]
                entering = next((j for j, d in enumerate(reduced) if d < 0), None)  # Bland: the smallest index
                if not negative:
                    if entering is None:
                        if costs is self._costs:
                            return self._solution(matrix, basis, x)
                        costs = self._costs  # primal feasible under shifted costs: back to the true ones
                        continue
                    self._primal_pivot(matrix, basis, x, entering)
                elif entering is not None:  # neither primal nor dual feasible: shift costs to make it dual feasible
                    costs = [c - d if d < 0 else c for c, d in zip(costs, reduced, strict=True)]
                else:
                    self._dual_pivot(matrix, basis, reduced, negative)
        except ZeroDivisionError:
            raise SingularBasis("the starting columns are linearly dependent") from None

    def _primal_pivot(self, matrix, basis: list[int], x, entering: int) -> None:
        column = flint.fmpq_mat(self.m, 1, [flint.fmpq(v, self._denominators[entering])
                                            for v in self._numerators[entering]])
        u = matrix.solve(column)
        best = None
        for i in range(self.m):
            if u[i, 0] > 0:
                ratio = x[i, 0] / u[i, 0]
                if best is None or ratio < best[0] or (ratio == best[0] and basis[i] < basis[best[1]]):
                    best = (ratio, i)
        if best is None:
            raise ValueError("the linear programme is unbounded")
        basis[best[1]] = entering

    def _dual_pivot(self, matrix, basis: list[int], reduced: list[Fraction], negative: list[int]) -> None:
        r = min(negative, key=lambda i: basis[i])  # Bland: the leaving column of smallest index
        unit = flint.fmpq_mat(self.m, 1)
        unit[r, 0] = 1
        alpha = self._products(matrix.transpose().solve(unit))  # row r of the basis inverse times A
        best = None
        for j, a in enumerate(alpha):
            if a < 0 and (best is None or reduced[j] / -a < best[0]):
                best = (reduced[j] / -a, j)
        if best is None:
            raise ValueError("the linear programme is infeasible")
        basis[r] = best[1]

    def _solution(self, matrix, basis: list[int], x) -> ExactSolution:
        primal = {j: _fraction(x[k, 0]) for k, j in enumerate(basis) if x[k, 0] != 0}
        costs = [flint.fmpq(self._costs[j].numerator, self._costs[j].denominator) for j in basis]
        y = matrix.transpose().solve(flint.fmpq_mat(self.m, 1, costs))
        value = sum((self._costs[j] * v for j, v in primal.items()), Fraction(0))
        return ExactSolution(value, primal, tuple(_fraction(y[i, 0]) for i in range(self.m)), tuple(basis))
