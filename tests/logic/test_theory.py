"""Theories: worlds, entailment and the weighted-sum oracle against brute force."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import SolverUnknownError
from deepmarkets.logic import Theory, at_most_one, atoms
from deepmarkets.logic.testing import possible_truth_table, random_cnf_instance


@pytest.mark.parametrize("seed", range(15))
def test_worlds_and_optimum_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    inst = random_cnf_instance(8, 6, 2.0, coherent=False, rng=rng)
    truth = possible_truth_table(list(inst.sentences), inst.theory)
    expected = {tuple(bool(v) for v in row) for row in truth}
    found = list(inst.theory.worlds(inst.sentences))
    assert len(found) == len(set(found)) == len(expected)
    assert set(found) == expected
    weights = [Fraction(int(w), 7) for w in rng.integers(-7, 8, size=len(inst.sentences))]
    best = inst.theory.maximize(inst.sentences, weights)
    values = truth.astype(int) @ np.array([float(w) for w in weights])
    assert float(best.value) == pytest.approx(values.max())
    assert best.value == sum(w for w, v in zip(weights, best.world, strict=True) if v)
    assert float(inst.theory.minimize(inst.sentences, weights).value) == pytest.approx(values.min())


def test_entailment_consistency_and_limits():
    a, b, c = atoms("a b c")
    t = Theory([a.implies(b), b.implies(c)])
    assert t.is_consistent() and t.entails(a.implies(c)) and not t.entails(c)
    assert not Theory([a, ~a]).is_consistent()
    assert list(Theory([at_most_one(a, b, c)]).worlds([a, b, c], limit=2)).__len__() == 2
    assert sorted(Theory([at_most_one(a, b, c)]).worlds([a, b, c])) == sorted(
        [(False, False, False), (True, False, False), (False, True, False), (False, False, True)]
    )
    with pytest.raises(SolverUnknownError, match="rlimit"):
        Theory([a | b], rlimit=1).is_consistent()


def test_theory_from_text():
    t = Theory.from_text("# exclusive\nexactly_one(a, b, c)\nc -> d\n")
    a, b, c, d = atoms("a b c d")
    assert t.entails(~(a & b)) and t.entails(c.implies(d)) and not t.entails(d)
