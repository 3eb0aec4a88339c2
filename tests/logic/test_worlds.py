"""World search: the Tseitin/SAT back-end agrees with brute force; greedy worlds are possible;
exact minima match enumeration; warm-started coherence checks."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, Verdict, at_most_one, atoms, check_coherence, exactly_one, iff, ints
from deepmarkets.logic.testing import possible_truth_table, random_cnf_instance
from deepmarkets.logic.worlds import WorldSearch


def _mixed_instance(seed: int):
    """Sentences using every connective the CNF encoder handles, under a random theory."""
    inst = random_cnf_instance(7, 3, 1.5, coherent=False, rng=seed)
    a, b, c, d, e = atoms("x0 x1 x2 x3 x4")
    sentences = [*inst.sentences, a ^ b, iff(c, d), a.implies(e), at_most_one(a, b, c), exactly_one(c, d, e),
                 ~(b & d)]
    return sentences, inst.theory


@pytest.mark.parametrize("seed", range(6))
def test_possible_truth_vectors_match_brute_force(seed):
    sentences, theory = _mixed_instance(seed)
    search = WorldSearch(theory, sentences)
    assert search._sat is not None  # propositional: the SAT back-end
    table = {tuple(bool(v) for v in row) for row in possible_truth_table(sentences, theory)}
    for world in itertools.product([False, True], repeat=len(sentences)):
        assert search.is_possible(world) == (world in table)


@pytest.mark.parametrize("seed", range(6))
def test_greedy_worlds_are_possible_and_minimum_is_exact(seed):
    sentences, theory = _mixed_instance(seed)
    table = possible_truth_table(sentences, theory).astype(float)
    search = WorldSearch(theory, sentences)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        weights = [Fraction(int(v), 8) for v in rng.integers(-16, 17, size=len(sentences))]
        brute = min(table @ np.array([float(w) for w in weights]))
        value, world = search.minimum(dict(enumerate(weights)))
        assert float(value) == pytest.approx(brute, abs=1e-12)
        assert search.is_possible(world)
        greedy = search.greedy(np.array([float(w) for w in weights]), rng=rng, noise=0.3)
        assert search.is_possible(greedy)
        assert float(np.array(greedy, dtype=float) @ [float(w) for w in weights]) >= brute - 1e-12


def test_greedy_finds_the_optimum_of_independent_atoms():
    a, b, c = atoms("a b c")
    search = WorldSearch(Theory(), [a, b, c])
    assert search.greedy(np.array([1.0, -2.0, 0.5])) == (False, True, False)


def test_arithmetic_goes_through_z3():
    x, y = ints("x y")
    theory = Theory([x >= 0, x <= 5, y >= 0, y <= 5, x + y <= 6])
    sentences = [x >= 4, y >= 4, x + y >= 6]
    search = WorldSearch(theory, sentences)
    assert search._sat is None
    assert not search.is_possible((True, True, True))
    assert search.is_possible((True, False, True))
    assert search.greedy(np.array([-1.0, -1.0, 0.0])) in {(True, False, True), (False, True, True)}
    assert search.minimum({0: Fraction(-1), 1: Fraction(-1)})[0] == -1


def test_known_worlds_certify_a_mixture_without_exact_calls():
    inst = random_cnf_instance(30, 20, 2.0, coherent=False, rng=4)
    search = WorldSearch(inst.theory, list(inst.sentences))
    rng = np.random.default_rng(0)
    worlds = [search.greedy(rng.standard_normal(20)) for _ in range(8)]
    weights = [Fraction(1, 8)] * 8
    prices = [sum((w for w, world in zip(weights, worlds, strict=True) if world[i]), Fraction(0)) for i in range(20)]
    report = check_coherence(list(zip(inst.sentences, prices, strict=True)), inst.theory, worlds=worlds)
    assert report.verdict is Verdict.COHERENT
    assert report.stats["rounds"] == 1 and report.stats["exact_calls"] == 0


@pytest.mark.parametrize("eps", [Fraction(1, 10**9), Fraction(1, 10**12)])
def test_known_worlds_certify_quotes_within_tolerance_of_a_face(eps):
    # weights of 1e-9 and below sit inside HiGHS's tolerance; the exact hull still finds them
    a, b, c = atoms("a b c")
    worlds = [(True, False, False), (False, True, False), (False, False, True), (True, True, False)]
    weights = [eps, Fraction(1, 2), Fraction(1, 2) - 2 * eps, eps]
    prices = [sum((w for w, world in zip(weights, worlds, strict=True) if world[i]), Fraction(0)) for i in range(3)]
    report = check_coherence(list(zip((a, b, c), prices, strict=True)), worlds=worlds)
    assert report.verdict is Verdict.COHERENT
    assert sum(p for p, _ in report.distribution) == 1
    for i in range(3):
        assert sum((p for p, w in report.distribution if w[i][0]), Fraction(0)) == prices[i]


def test_bad_known_worlds_are_rejected():
    a, b = atoms("a b")
    theory = Theory([a.implies(b)])
    prices = {a: 0.3, b: 0.6}
    with pytest.raises(DeclarationError, match="not possible"):
        check_coherence(prices, theory, worlds=[(True, False)])
    with pytest.raises(DeclarationError, match="one per price"):
        check_coherence(prices, theory, worlds=[(True,)])
    with pytest.raises(DeclarationError, match="two truth values"):
        check_coherence([(a, 0.3), (a, 0.3)], theory, worlds=[(True, False)])
    with pytest.raises(DeclarationError, match="unconditional"):
        check_coherence(None, theory, conditional={(a, b): 0.5}, worlds=[(True,)])
