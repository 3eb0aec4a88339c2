"""World search: the one "is this possible" oracle and every question asked through it agree with brute
force, and z3's unknown is an error; the Tseitin/SAT back-end agrees with brute force; greedy worlds are
possible; exact minima match enumeration; warm-started coherence checks."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.beliefs import Market, contract
from deepmarkets.beliefs.arbitrage import QuoteCertificate
from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.logic import Theory, Verdict, at_most_one, atoms, check_coherence, exactly_one, iff, ints
from deepmarkets.logic.testing import possible_truth_table, random_cnf_instance
from deepmarkets.logic.worlds import WorldOracle, WorldSearch


def _mixed_instance(seed: int):
    """Sentences using every connective the CNF encoder handles, under a random theory."""
    inst = random_cnf_instance(7, 3, 1.5, coherent=False, rng=seed)
    a, b, c, d, e = atoms("x0 x1 x2 x3 x4")
    sentences = [*inst.sentences, a ^ b, iff(c, d), a.implies(e), at_most_one(a, b, c), exactly_one(c, d, e),
                 ~(b & d)]
    return sentences, inst.theory


def _small_theory(seed: int):
    """Three random sentences over five atoms under a random theory; every third seed adds a contradiction."""
    rng = np.random.default_rng(seed)
    inst = random_cnf_instance(5, 3, float(rng.choice([1.0, 1.6, 2.2])), coherent=False, rng=rng)
    theory = inst.theory.with_axioms(atoms("x0")[0], ~atoms("x0")[0]) if seed % 3 == 2 else inst.theory
    return list(inst.sentences), theory


@pytest.mark.parametrize("seed", range(12))
def test_every_possibility_question_agrees_with_brute_force(seed):
    sentences, theory = _small_theory(seed)
    table = {tuple(bool(v) for v in row) for row in possible_truth_table(sentences, theory)}
    oracle = WorldOracle(theory)
    search = WorldSearch(theory, sentences)
    x, y = ints("x y")  # the same sentences with arithmetic beside them: WorldSearch's z3 back end
    arithmetic = WorldSearch(theory.with_axioms(x >= 0, x <= 1), [*sentences, x + y >= y])
    assert arithmetic._sat is None
    assert theory.is_consistent() == oracle.possible() == bool(table)
    assert set(theory.worlds(sentences)) == set(oracle.worlds(sentences)) == table
    for world in itertools.product([False, True], repeat=len(sentences)):
        expected = world in table
        literals = [s if v else ~s for s, v in zip(sentences, world, strict=True)]
        assert oracle.possible(*sentences, values=world) == expected
        assert oracle.possible(*literals) == expected
        assert theory.is_possible(literals[0] & literals[1] & literals[2]) == expected
        assert search.is_possible(world) == expected
        assert arithmetic.is_possible((*world, True)) == expected
        certificate = QuoteCertificate(tuple(sentences), (world,), (Fraction(1),), tuple(Fraction(v) for v in world))
        assert certificate.verify(theory) == expected
    for s in sentences:
        column = {w[sentences.index(s)] for w in table}
        assert theory.entails(s) == oracle.entails(s) == (column <= {True})
        assert theory.is_possible(s) == (True in column)


@pytest.mark.parametrize("seed", range(12))
def test_markets_reject_exactly_the_impossible_contracts(seed):
    sentences, theory = _small_theory(seed)
    s = sentences[0]
    column = {bool(v) for v in possible_truth_table([s], theory)[:, 0]}

    def declare() -> list[float]:
        with Market(f"m{seed}", theory=theory) as market:
            contract(s, name="yes")
            contract(~s, name="no")
        return market.prices().tolist()

    if column == {False, True}:
        assert declare() == pytest.approx([0.5, 0.5])
    else:
        with pytest.raises(DeclarationError, match="impossible under the theory" if column else "no possible world"):
            declare()


def _pigeonhole(rlimit: int) -> Theory:
    """Four pigeons in three holes: no world, and not decidable with almost no work."""
    holes = [[atoms(f"p{i}h{j}")[0] for j in range(3)] for i in range(4)]
    axioms = [row[0] | row[1] | row[2] for row in holes]
    axioms += [~(holes[i][j] & holes[k][j]) for j in range(3) for i in range(4) for k in range(i + 1, 4)]
    return Theory(axioms, rlimit=rlimit)


def test_z3_unknown_is_an_error_naming_the_question():
    a = atoms("p0h0")[0]
    theory = _pigeonhole(rlimit=1)
    assert not _pigeonhole(rlimit=10**7).is_consistent()  # decided with room to work
    questions = {
        "whether the theory is consistent": theory.is_consistent,
        "whether p0h0 is possible": lambda: theory.is_possible(a),
        "whether the theory entails p0h0": lambda: theory.entails(a),
        "the next possible world": lambda: list(theory.worlds([a])),
        "whether p0h0 & ~p0h0 is possible": lambda: WorldOracle(theory).possible(a, a, values=(True, False)),
        "whether a certificate's world is possible":
            lambda: QuoteCertificate((a,), ((True,),), (Fraction(1),), (Fraction(1),)).verify(theory),
    }
    for what, ask in questions.items():
        with pytest.raises(SolverUnknownError, match=f"z3 could not decide {what} within rlimit=1"):
            ask()
    x = ints("x")[0]
    search = WorldSearch(theory.with_axioms(x >= 0), [a, x >= 1])
    with pytest.raises(SolverUnknownError, match="rlimit=1"):
        search.is_possible((True, True))
    with pytest.raises(SolverUnknownError, match="z3 could not decide .* within rlimit=1"):
        with Market("holes", theory=theory):
            contract(a, name="yes")
            contract(~a, name="no")


def test_truth_values_must_match_the_sentences():
    a, b = atoms("a b")
    with pytest.raises(DeclarationError, match="2 sentences but 1 truth values"):
        WorldOracle(Theory()).possible(a, b, values=(True,))


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
