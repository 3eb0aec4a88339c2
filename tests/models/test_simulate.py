"""Simulated reports books and the adjusted Rand index."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepmarkets.beliefs import Book
from deepmarkets.errors import DeclarationError
from deepmarkets.models.data import Reports
from deepmarkets.models.metrics import adjusted_rand_index, contingency_table
from deepmarkets.models.simulate import simulate_reports

# ---------------------------------------------------------------------------
# simulate_reports
# ---------------------------------------------------------------------------


def test_lca_book_shape_and_levels():
    book, truth, params = simulate_reports(200, 5, classes=3, levels=[2, 3, 4, 3, 5], rng=0)
    assert isinstance(book, Book) and book.kind == "reports" and len(book) == 1000
    assert book.questions == tuple(f"q{i + 1}" for i in range(200))
    assert truth.shape == (200,) and set(truth) <= {0, 1, 2}
    assert params["model"] == "lca" and params["class_shares"].sum() == pytest.approx(1.0)
    assert [t.shape for t in params["response"]] == [(3, 2), (3, 3), (3, 4), (3, 3), (3, 5)]
    for t in params["response"]:
        assert np.allclose(t.sum(axis=1), 1.0) and (t > 0).all()
    r = Reports.from_book(book)
    for name, lv in zip(r.traders, r.levels, strict=True):
        j = int(name[1:]) - 1
        assert set(lv.tolist()) <= {str(v) for v in range(1, params["response"][j].shape[1] + 1)}


def test_answers_follow_the_response_probabilities():
    book, truth, params = simulate_reports(4000, 2, classes=2, levels=3, rng=1)
    frame = book.frame
    q = frame["question"].str[1:].astype(int).to_numpy() - 1
    for j in range(2):
        rows = frame["trader"].to_numpy() == f"t{j + 1}"
        for k in range(2):
            sel = rows & (truth[q] == k)
            answers = frame["answer"].to_numpy()[sel].astype(int) - 1
            freq = np.bincount(answers, minlength=3) / sel.sum()
            # binomial standard error at n >= ~1000 is <= 0.016; allow 4 of them
            assert freq == pytest.approx(params["response"][j][k], abs=0.065)
    shares = np.bincount(truth, minlength=2) / len(truth)
    assert shares == pytest.approx(params["class_shares"], abs=0.03)


def test_missing_answers_and_every_question_answered():
    book, truth, _ = simulate_reports(500, 6, missing=0.8, rng=2)
    r = Reports.from_book(book)
    assert r.n_questions == 500
    # each pair is reported with probability 0.2; a question left empty (probability 0.8**6) gets one report
    assert len(book) / (500 * 6) == pytest.approx(0.2 + 0.8**6 / 6, abs=0.02)
    assert set(np.unique(r.question)) == set(range(500))


def test_dawid_skene_and_forecast_books():
    book, truth, params = simulate_reports(300, 4, classes=3, model="dawid-skene", rng=3)
    r = Reports.from_book(book)
    assert r.labels.tolist() == ["1", "2", "3"]
    for t in params["response"]:  # the diagonal is boosted: traders are better than chance
        assert (np.diag(t) > 0.5).all()
    book, truth, params = simulate_reports(300, 4, classes=2, model="forecast", rng=3)
    frame = book.frame
    assert "answer" not in frame.columns and frame["probability"].between(0, 1, inclusive="neither").all()
    assert params["mean"].shape == (4, 2) and params["sigma"].shape == (4,)
    assert (params["mean"][:, 1] > params["mean"][:, 0]).all()


def test_simulation_is_reproducible():
    a = simulate_reports(50, 3, missing=0.3, rng=9)
    b = simulate_reports(50, 3, missing=0.3, rng=np.random.default_rng(9))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert not simulate_reports(50, 3, rng=10)[0] == a[0]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_questions": 0}, "n_questions"),
    ({"classes": 0}, "classes"),
    ({"levels": [2, 2]}, "2 entries for 3 traders"),
    ({"levels": 0}, "levels"),
    ({"missing": 1.0}, "missing"),
    ({"separation": float("inf")}, "separation"),
    ({"model": "nope"}, "model"),
    ({"model": "dawid-skene", "classes": 1}, "classes >= 2"),
])
def test_bad_simulation_arguments(kwargs, match):
    args = {"n_questions": 10, "n_traders": 3, **kwargs}
    with pytest.raises(DeclarationError, match=match):
        simulate_reports(**args)


# ---------------------------------------------------------------------------
# adjusted Rand index
# ---------------------------------------------------------------------------


def brute_force_ari(a, b) -> float:
    """ARI from a count over all pairs of items (no contingency table)."""
    n = len(a)
    both = only_a = only_b = 0
    for i, j in itertools.combinations(range(n), 2):
        same_a, same_b = a[i] == a[j], b[i] == b[j]
        both += same_a and same_b
        only_a += same_a
        only_b += same_b
    pairs = n * (n - 1) / 2
    expected = only_a * only_b / pairs
    maximum = (only_a + only_b) / 2
    if maximum == expected:
        return 1.0 if both == maximum else 0.0
    return (both - expected) / (maximum - expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=2, max_size=30))
def test_ari_equals_brute_force_pair_count(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    assert adjusted_rand_index(a, b) == pytest.approx(brute_force_ari(a, b), abs=1e-12)
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_index(b, a), abs=1e-12)
    # relabelling either side changes nothing
    assert adjusted_rand_index([f"c{3 - v}" for v in a], b) == pytest.approx(adjusted_rand_index(a, b), abs=1e-12)


def test_ari_known_values():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0  # identical up to names
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    # a hand count: pairs together in both 1, in a 2, in b 1, 6 pairs -> (1 - 1/3) / (3/2 - 1/3) = 4/7
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == 0.0
    assert adjusted_rand_index([5, 5, 5], ["a", "a", "a"]) == 1.0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 20000), rng.integers(0, 3, 20000)
    assert abs(adjusted_rand_index(a, b)) < 0.01  # independent labellings: about 0
    assert contingency_table(a, b).sum() == 20000
    with pytest.raises(DeclarationError, match="same items"):
        adjusted_rand_index([0, 1], [0, 1, 2])
    assert math.isclose(adjusted_rand_index(["x"], ["y"]), 1.0)
