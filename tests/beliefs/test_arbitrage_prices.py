"""Arbitrage-free projection reads prices on sentences as check_coherence does: every shape, one answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import z3

from deepmarkets.beliefs.arbitrage import exact_projection, project
from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, atoms
from deepmarkets.logic.testing import random_cnf_instance


def _shapes(sentences, prices):
    """The same prices as a mapping, a list of pairs, a one-pass iterator of pairs, text keys and a Series."""
    texts = [str(s) for s in sentences]
    return {
        "pairs": list(zip(sentences, prices, strict=True)),
        "mapping": dict(zip(sentences, prices, strict=True)),
        "iterator": zip(sentences, prices, strict=True),
        "text pairs": list(zip(texts, prices, strict=True)),
        "series": pd.Series(list(prices), index=texts),
    }


def _same(r, first):
    np.testing.assert_array_equal(r.mu, first.mu)
    assert r.mu_exact == first.mu_exact and r.worlds == first.worlds and r.weights == first.weights
    assert r.divergence == first.divergence and r.gap == first.gap and r.status == first.status


@pytest.mark.parametrize("seed", [0, 1])
def test_every_shape_gives_the_same_projection(seed):
    inst = random_cnf_instance(6, 5, coherent=False, rng=seed)
    prices = np.clip(np.asarray(inst.prices), 0.05, 0.95)
    assert len(set(inst.sentences)) == len(inst.sentences)  # so the mapping keeps every price
    results = {shape: project(priced, inst.theory, rng=0) for shape, priced in _shapes(inst.sentences, prices).items()}
    first = results.pop("pairs")
    assert first.converged and first.divergence > 0
    for r in results.values():
        _same(r, first)
    exact = {shape: exact_projection(priced, inst.theory) for shape, priced in _shapes(inst.sentences, prices).items()}
    first_exact = exact.pop("pairs")
    np.testing.assert_allclose(first_exact.mu, first.mu, atol=1e-6)
    for r in exact.values():
        _same(r, first_exact)


def test_sentences_as_z3_and_values_as_text():
    a, b = atoms("a b")
    x, y = z3.Bools("a b")
    r = project({a: 0.6, b: 0.7, a & b: 0.2})
    for priced in ([(x, "0.6"), (y, "0.7"), (z3.And(x, y), "0.2")], {"a": 0.6, "b": 0.7, "a & b": 0.2}):
        _same(project(priced), r)
    # the closed form of the module's docstring, whatever the shape
    np.testing.assert_allclose(r.mu, [0.561215, 0.665506, 0.226720], atol=1e-6)


def test_order_follows_the_prices():
    a, b = atoms("a b")
    forward = project([(a, 0.6), (b, 0.7), (a & b, 0.2)])
    backward = project([(a & b, 0.2), (b, 0.7), (a, 0.6)])
    np.testing.assert_allclose(backward.mu, forward.mu[::-1], atol=1e-9)


@pytest.mark.parametrize("prices, match", [
    ([0.6, 0.7, 0.2], r"prices: item 0 is 0\.6; expected \{sentence: price\} or \(sentence, price\) pairs "
                      r"\(numbers alone name no sentence"),
    ([("a", 0.6), ("b",)], r"prices: item 1 is \('b',\); expected"),
    ([("a", 0.6), "b"], r"prices: item 1 is 'b'; expected"),
    ([(0.6, "a")], r"prices: item 0: cannot make a sentence from float 0\.6"),
    ("a", r"prices must be .* pairs; got str 'a'"),
    (np.float64(0.5), r"prices must be .* pairs; got float64 "),
])
def test_bad_shapes_name_the_item(prices, match):
    for function in (project, exact_projection):
        with pytest.raises(DeclarationError, match=match):
            function(prices)


def test_no_prices_and_a_theory_in_second_place():
    a, b = atoms("a b")
    with pytest.raises(DeclarationError, match="no securities"):
        project([])
    # the second argument is the theory: with a -> b, P(a) <= P(b) in the projection
    r = project({a: 0.7, b: 0.4}, Theory([a.implies(b)]))
    assert r.mu[0] <= r.mu[1] + 1e-12
    assert project({a: 0.7, b: 0.4}, [a.implies(b)]).mu_exact == r.mu_exact
