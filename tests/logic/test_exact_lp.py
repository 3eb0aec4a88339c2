"""Exact linear programming: optimal values against z3's rational simplex, certificates checked in fractions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import z3

from deepmarkets.logic.exact_lp import ExactLP, SingularBasis


def _highs():
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _z3_minimum(columns, costs, rhs) -> Fraction:
    v = [z3.Real(f"v{j}") for j in range(len(columns))]
    opt = z3.Optimize()
    opt.add(*(x >= 0 for x in v))
    for i, b in enumerate(rhs):
        opt.add(z3.Sum([z3.RealVal(c[i]) * x for c, x in zip(columns, v, strict=True)]) == z3.RealVal(b))
    objective = z3.Sum([z3.RealVal(c) * x for c, x in zip(costs, v, strict=True)])
    opt.minimize(objective)
    assert opt.check() == z3.sat
    return opt.model().eval(objective).as_fraction()


def _random_lp(rng):
    """A random bounded feasible LP: a pair of slack columns (+e_i, -e_i, cost 1) per row, then random columns."""
    m, k = int(rng.integers(1, 6)), int(rng.integers(1, 10))
    rhs = [Fraction(int(rng.integers(-3, 4)), int(rng.integers(1, 4))) for _ in range(m)]
    columns, costs = [], []
    for i in range(m):
        for sign in (1, -1):
            columns.append([Fraction(sign if r == i else 0) for r in range(m)])
            costs.append(Fraction(1))
    for _ in range(k):
        columns.append([Fraction(int(rng.integers(-3, 4)), int(rng.integers(1, 4))) for _ in range(m)])
        costs.append(Fraction(int(rng.integers(0, 4)), 2))
    return columns, costs, rhs


@pytest.mark.parametrize("refine", [False, True])
def test_optimum_and_certificates_match_z3_from_any_basis(refine):
    rng = np.random.default_rng(20260611)
    solved = 0
    for _ in range(150):
        columns, costs, rhs = _random_lp(rng)
        lp = ExactLP(rhs)
        for c, cost in zip(columns, costs, strict=True):
            lp.add_column(c, cost)
        basis = list(rng.choice(len(columns), size=len(rhs), replace=False))
        try:
            s = lp.solve(basis, highs=_highs if refine else None)
        except SingularBasis:
            continue
        solved += 1
        assert s.value == _z3_minimum(columns, costs, rhs)
        # primal: A v = b with v >= 0 on the basis; dual: every reduced cost >= 0; equal objectives
        assert all(v > 0 for v in s.primal.values()) and set(s.primal) <= set(s.basis)
        for i, b in enumerate(rhs):
            assert sum(columns[j][i] * v for j, v in s.primal.items()) == b
        assert all(cost - sum(y * a for y, a in zip(s.dual, col, strict=True)) >= 0
                   for col, cost in zip(columns, costs, strict=True))
        assert sum(y * b for y, b in zip(s.dual, rhs, strict=True)) == s.value
    assert solved >= 50


def test_columns_given_as_integers_over_a_denominator():
    lp = ExactLP([Fraction(1)])
    lp.add_column([3], Fraction(1), denominator=10)  # 3/10: needs 10/3 units
    lp.add_column({0: Fraction(1, 2)}, Fraction(1))  # needs 2 units
    assert lp.solve([0]).value == 2


def test_singular_basis_infeasible_and_unbounded_programmes_are_errors():
    lp = ExactLP([Fraction(1), Fraction(1)])
    lp.add_column([1, 1])
    lp.add_column([2, 2])
    with pytest.raises(SingularBasis):
        lp.solve([0, 1])
    with pytest.raises(SingularBasis):
        lp.solve([0, 0])
    infeasible = ExactLP([Fraction(-1)])
    infeasible.add_column([1])
    infeasible.add_column([1])
    with pytest.raises(ValueError, match="infeasible"):
        infeasible.solve([0])
    unbounded = ExactLP([Fraction(1)])
    unbounded.add_column([1])
    unbounded.add_column([1], cost=-1)
    unbounded.add_column([-1], cost=-1)
    with pytest.raises(ValueError, match="unbounded"):
        unbounded.solve([0])
