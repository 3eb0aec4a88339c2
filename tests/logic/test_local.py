"""Dutch books on small groups of sentences, and the greedy-only distribution search: brute force on small cases."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, Verdict, atoms, check_coherence, exactly_one
from deepmarkets.logic.coherence import find_distribution
from deepmarkets.logic.local import group_truth_vectors, local_books, neighbourhoods, summed_books
from deepmarkets.logic.testing import brute_force_max_profit, possible_truth_table, random_cnf_instance
from deepmarkets.logic.worlds import WorldSearch

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_group_truth_vectors_match_brute_force(seed):
    inst = random_cnf_instance(9, 10, coherent=False, rng=seed)
    search = WorldSearch(inst.theory, inst.sentences)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    for group in neighbourhoods(inst.sentences)[:8]:
        got = sorted(group_truth_vectors(search, group))
        want = sorted({tuple(bool(v) for v in row[list(group)]) for row in table})
        assert got == want


def test_neighbourhoods_pairs_first_and_share_symbols():
    a, b, c, d, e = atoms("a b c d e")
    sents = [a | b, ~a | c, c & d, e]
    groups = neighbourhoods(sents, size=3)
    # pairs of neighbours first, then each sentence with its neighbours; e shares nothing
    assert groups == [(0, 1), (1, 2), (0, 1, 2), (3,)]
    for g in groups:  # some member (the centre) shares a symbol with every other member
        names = [sents[i].atom_names for i in g]
        assert any(all(names[c] & names[o] for o in range(len(g)) if o != c) for c in range(len(g)))


@pytest.mark.parametrize("seed", SEEDS)
def test_local_books_win_in_every_possible_world(seed):
    inst = random_cnf_instance(9, 12, coherent=False, rng=seed)
    search = WorldSearch(inst.theory, inst.sentences)
    table = possible_truth_table(list(inst.sentences), inst.theory).astype(float)
    prices = np.array(inst.prices)
    found = 0
    for profit, stakes in local_books(search, prices):
        idx = list(stakes)
        x = np.array([stakes[k] for k in idx])
        worst = ((table[:, idx] - prices[idx]) @ x).min()
        assert worst >= profit - 1e-9 > 0
        found += 1
    # uniform prices on overlapping clauses are nearly always locally incoherent somewhere
    assert found or check_coherence(inst.price_map, inst.theory).verdict is not Verdict.INCOHERENT


def test_coherence_falls_back_to_a_local_book_when_the_dense_book_is_too_hard():
    inst = random_cnf_instance(1000, 300, 2.0, coherent=False, rng=np.random.default_rng([0, 2, 1000, 300, 200, 0, 0]))
    r = check_coherence(inst.price_map, inst.theory, profit="first", time_limit=60)
    assert r.verdict is Verdict.INCOHERENT
    book = r.dutch_book
    assert len(book.positions) < 10 and book.guaranteed_profit > 0
    lo, hi = r.max_profit_bounds
    assert lo == pytest.approx(float(book.guaranteed_profit)) and hi > lo


@pytest.mark.parametrize("seed", SEEDS)
def test_find_distribution_is_exact_or_none(seed):
    coherent = seed % 2 == 0
    inst = random_cnf_instance(10, 10, coherent=coherent, rng=seed)
    prices = [Fraction(str(p)) for p in inst.prices]
    found = find_distribution(inst.price_map, inst.theory)
    truth = check_coherence(inst.price_map, inst.theory).verdict
    if found is None:
        assert not coherent or truth is Verdict.COHERENT  # one-sided: None never claims incoherence
        return
    assert truth is Verdict.COHERENT
    assert sum(p for p, _ in found) == 1 and all(p > 0 for p, _ in found)
    table = {tuple(bool(v) for v in row) for row in possible_truth_table(list(inst.sentences), inst.theory)}
    assert all(w in table for _, w in found)
    for i, price in enumerate(prices):
        assert sum(p for p, w in found if w[i]) == price


def test_find_distribution_on_coherent_mixtures_is_found():
    hits = 0
    for seed in range(6):
        inst = random_cnf_instance(12, 12, coherent=True, rng=100 + seed)
        hits += find_distribution(inst.price_map, inst.theory) is not None
    assert hits == 6


def test_find_distribution_rejects_repeated_sentences():
    a, b = atoms("a b")
    with pytest.raises(DeclarationError, match="distinct"):
        find_distribution([(a, 0.5), (a, 0.5), (b, 0.5)], Theory())


def _summed_bound(groups, prices) -> float:
    """The sum over groups of the group book's least payoff over the group's truth vectors."""
    return sum(min(float(np.dot(x, np.array(v, dtype=float) - np.asarray(prices)[list(g)])) for v in vs)
               for g, vs, x in groups)


@pytest.mark.parametrize("seed", SEEDS)
def test_summed_books_are_a_lower_bound_with_stakes_in_range(seed):
    inst = random_cnf_instance(10, 12, 2.0, coherent=False, rng=seed)
    prices = [float(p) for p in inst.prices]
    groups = summed_books(WorldSearch(inst.theory, inst.sentences), prices)
    total = np.zeros(len(prices))
    for g, _, x in groups:
        total[list(g)] += x
    assert np.all(np.abs(total) <= 1 + 1e-9)
    assert _summed_bound(groups, prices) <= float(brute_force_max_profit(inst.price_map, inst.theory)) + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_summed_books_are_exact_when_one_group_holds_every_sentence(seed):
    # four sentences sharing the atom a: one neighbourhood is all of them, so the relaxation is exact
    a, b, c, d = atoms("a b c d")
    sentences = [a | b, a & c, ~a | d, a ^ (b & d)]
    prices = np.round(np.random.default_rng(seed).random(4), 2).tolist()
    theory = Theory([b.implies(c)])
    groups = summed_books(WorldSearch(theory, sentences), prices)
    best = brute_force_max_profit(dict(zip(sentences, prices, strict=True)), theory)
    assert _summed_bound(groups, prices) == pytest.approx(float(best), abs=1e-9)


def test_coherent_prices_give_no_summed_book():
    # one nominee field priced coherently: no group has a book that wins
    a, b, c, d, e = atoms("a b c d e")
    prices = {a: 0.2, b: 0.2, c: 0.2, d: 0.2, e: 0.2}
    theory = Theory([exactly_one(a, b, c, d, e)])
    groups = summed_books(WorldSearch(theory, list(prices)), list(prices.values()))
    assert _summed_bound(groups, list(prices.values())) == pytest.approx(0, abs=1e-9)
    assert check_coherence(prices, theory).verdict is Verdict.COHERENT
