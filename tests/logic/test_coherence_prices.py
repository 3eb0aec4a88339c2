"""Prices on sentences in every accepted shape: one reading (logic.prices), the same answers, clear errors."""

from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest
import sympy
import z3

from deepmarkets.errors import DeclarationError, ParseError
from deepmarkets.logic import Theory, atoms, check_coherence, find_distribution, sentence
from deepmarkets.logic.cases import CASES
from deepmarkets.logic.prices import conditional_prices, sentence_prices
from deepmarkets.logic.testing import brute_force_max_profit

UNCONDITIONAL = sorted(n for n, c in CASES.items() if not c.given)
CONDITIONAL = sorted(n for n, c in CASES.items() if c.given)


def _shapes(priced):
    """The same prices as a mapping by Sentence, a mapping by text, a list of pairs, a one-pass
    iterator of pairs, and a pandas Series indexed by the text."""
    return {
        "mapping": {sentence(s): p for s, p in priced},
        "text mapping": dict(priced),
        "pairs": [(sentence(s), p) for s, p in priced],
        "iterator": ((s, p) for s, p in priced),
        "series": pd.Series([p for _, p in priced], index=[s for s, _ in priced], dtype=object),
    }


def _answer(report) -> dict:
    out = report.to_dict()
    del out["stats"]  # timings
    return out


@pytest.mark.parametrize("name", UNCONDITIONAL)
def test_every_shape_gives_the_same_report(name):
    case = CASES[name]
    answers = {shape: _answer(check_coherence(prices, case.theory(), progressbar=False))
               for shape, prices in _shapes(case.priced).items()}
    first = answers.pop("mapping")
    assert first["verdict"] == case.verdict
    for shape, answer in answers.items():
        assert answer == first, shape


@pytest.mark.parametrize("name", UNCONDITIONAL)
def test_brute_force_reads_every_shape_alike(name):
    case = CASES[name]
    for shape, prices in _shapes(case.priced).items():
        assert brute_force_max_profit(prices, case.theory()) == case.max_profit, shape


@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_mapping_and_triples_give_the_same_report(name):
    case = CASES[name]
    as_mapping = check_coherence(case.prices() or None, case.theory(), case.conditional(), progressbar=False)
    as_triples = check_coherence(list(case.priced) or None, case.theory(), list(case.given), progressbar=False)
    assert as_mapping.verdict.value == case.verdict
    assert _answer(as_triples) == _answer(as_mapping)


def test_sentences_may_be_text_z3_sympy_or_sentence():
    a, b = atoms("a b")
    x, y = sympy.symbols("a b")
    forms = [sentence_prices({a & b: 0.2}), sentence_prices({"a & b": 0.2}),
             sentence_prices([(z3.And(z3.Bool("a"), z3.Bool("b")), 0.2)]), sentence_prices([(x & y, 0.2)])]
    for pairs in forms:
        assert pairs == [(a & b, 0.2)]


def test_order_repeats_and_values_are_kept_as_given():
    a, b = atoms("a b")
    assert sentence_prices([(b, "0.3"), (a, Fraction(1, 2)), (b, 0.3)]) == [(b, "0.3"), (a, Fraction(1, 2)), (b, 0.3)]
    assert sentence_prices({}) == []
    assert conditional_prices([("a", "b", "0.5")]) == conditional_prices({(a, b): "0.5"}) == [(a, b, "0.5")]


@pytest.mark.parametrize("prices, match", [
    ([0.6, 0.7], r"prices: item 0 is 0\.6; expected \{sentence: price\} or \(sentence, price\) pairs "
                 r"\(numbers alone name no sentence: pair them"),
    ([("a", 0.6), ("b", 0.7, 0.1)], r"prices: item 1 is \('b', 0\.7, 0\.1\); expected"),
    ([("a", 0.6), "b"], r"prices: item 1 is 'b'; expected"),
    ([("a", 0.6), "ab"], r"prices: item 1 is 'ab'; expected"),  # a text of two characters is no pair
    ([("a", 0.6), None], r"prices: item 1 is None; expected"),
    ([(0.6, "a")], r"prices: item 0: cannot make a sentence from float 0\.6"),
    ({("a", "b"): 0.5}, r"prices: item 0: cannot make a sentence from tuple"),
    ("a", r"prices must be \{sentence: price\} or \(sentence, price\) pairs; got str 'a'"),
    (0.5, r"prices must be .* pairs; got float 0\.5"),
])
def test_bad_shapes_name_the_item(prices, match):
    with pytest.raises(DeclarationError, match=match):
        sentence_prices(prices)
    with pytest.raises(DeclarationError, match=match):
        check_coherence(prices, progressbar=False)
    with pytest.raises(DeclarationError, match=match):
        find_distribution(prices)


def test_a_long_item_is_shown_cut_short():
    (a,) = atoms("a")
    with pytest.raises(DeclarationError) as err:
        sentence_prices([(a, 0.5), "x" * 1000])
    assert "item 1 is 'xxx" in str(err.value) and len(str(err.value)) < 200


@pytest.mark.parametrize("conditional, match", [
    ([("a", "b")], r"conditional prices: item 0 is \('a', 'b'\); expected \{\(sentence, given\): price\} or "
                   r"\(sentence, given, price\) triples"),
    ({"a": 0.5}, r"conditional prices: item 0 is 'a'; expected \{\(sentence, given\): price\}"),
    ([("a", 3, 0.5)], r"conditional prices: item 0: cannot make a sentence from int 3"),
])
def test_bad_conditional_shapes_name_the_item(conditional, match):
    with pytest.raises(DeclarationError, match=match):
        check_coherence(None, None, conditional, progressbar=False)


def test_bad_text_is_a_parse_error_with_its_column():
    with pytest.raises(ParseError) as err:
        sentence_prices({"a & & b": 0.5})
    assert err.value.column > 0


def test_find_distribution_reads_the_same_shapes():
    a, b = atoms("a b")
    priced = [(a, "0.5"), (b, "0.5"), (a | b, "0.75")]
    theory = Theory([])
    for prices in (dict(priced), priced, iter(priced)):
        found = find_distribution(prices, theory)
        assert sum(p for p, _ in found) == 1
        for i, (_, price) in enumerate(priced):
            assert sum(p for p, world in found if world[i]) == Fraction(price)
    with pytest.raises(DeclarationError, match="no prices"):
        find_distribution({})
    with pytest.raises(DeclarationError, match=r"the price of a is 1\.5"):
        find_distribution({a: 1.5})
