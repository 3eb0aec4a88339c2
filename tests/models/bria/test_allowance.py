"""Allowance schedules: the formula, and the paper's three requirements refused with a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError, DeepMarketsError
from deepmarkets.models.bria import Allowance


def test_formula_weights_and_scale_agree():
    A = Allowance(c=3, a=0.5, b=1.5)
    n, i = np.meshgrid(np.arange(1, 6), np.arange(1, 8), indexing="ij")
    expected = 3 * n ** -0.5 * i ** -1.5
    np.testing.assert_allclose(A(n, i), expected, rtol=1e-15)
    for round_ in range(1, 6):
        np.testing.assert_allclose(A.scale(round_) * A.weights(7), expected[round_ - 1], rtol=1e-15)


def test_round_bound_is_the_zeta_closed_form_and_bounds_every_partial_sum():
    A = Allowance(c=1, a=1, b=2)
    assert A.round_bound(1) == pytest.approx(math.pi ** 2 / 6, rel=1e-12)
    assert A.round_bound(4) == pytest.approx(math.pi ** 2 / 24, rel=1e-12)
    assert float(A(4, np.arange(1, 10**5)).sum()) < A.round_bound(4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"a": 1.5}, "a=1.5; expected 0 < a <= 1: with a > 1 the allowance per hypothesis"),
    ({"a": 0}, "a=0; expected 0 < a <= 1: with a <= 0 the average allowance per round does not vanish"),
    ({"a": -1}, "with a <= 0"),
    ({"b": 1}, "b=1; expected b > 1: with b <= 1 the allowance of one round"),
    ({"b": 0.5}, "b=0.5; expected b > 1"),
    ({"c": 0}, "c=0; expected a positive finite number"),
    ({"c": float("nan")}, "c=nan"),
    ({"a": float("nan")}, "a=nan; expected a finite number"),
    ({"b": True}, "b=True; expected a finite number"),
    ({"b": "2"}, "b='2'; expected a finite number"),
])
def test_requirements_are_checked_at_construction(kwargs, message):
    with pytest.raises(DeclarationError) as err:
        Allowance(**kwargs)
    assert message in str(err.value) and isinstance(err.value, DeepMarketsError)


def test_boundary_schedules_are_accepted():
    assert Allowance(c=1, a=1, b=1.0001).a == 1.0  # a = 1 diverges (harmonic series); b just above 1 converges
    assert str(Allowance(c=1, a=1, b=2)) == "1/(n^1 i^2)"


def test_rounds_and_hypotheses_count_from_one():
    with pytest.raises(DeclarationError, match="n >= 1 and hypotheses i >= 1"):
        Allowance()(0, 1)
