"""Reports: encoding books of answers and forecasts into integer arrays (long and wide layouts)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepmarkets.beliefs import Book
from deepmarkets.errors import BookError, InferenceError
from deepmarkets.models.data import PROBABILITY_CLIP, Reports, sort_labels

DATA = Path(__file__).parents[2].parent / "shared" / "data"


def decode(r: Reports) -> list[tuple[str, str, str]]:
    """(question, trader, answer) of every row, through the LCA code."""
    return [(str(r.questions[q]), str(r.traders[t]), str(r.levels[t][a]))
            for q, t, a in zip(r.question, r.trader, r.answer, strict=True)]


def test_long_frame_codes_and_orders():
    frame = pd.DataFrame({
        "item": ["b", "a", "b", "c", "a"],
        "worker": ["w2", "w1", "w1", "w2", "w2"],
        "label": ["10", "2", "x", "2", "10"],
    })
    with pytest.warns(UserWarning, match="mix whole numbers and text"):
        r = Reports.from_frame(frame)
    assert r.questions.tolist() == ["b", "a", "c"]  # first appearance
    assert r.traders.tolist() == ["w2", "w1"]
    assert r.labels.tolist() == ["2", "10", "x"]  # integers numerically, then text
    assert [lv.tolist() for lv in r.levels] == [["2", "10"], ["2", "x"]]
    assert decode(r) == list(zip(frame["item"], frame["worker"], frame["label"], strict=True))
    # the Dawid-Skene code names the same label
    assert [r.labels[c] for c in r.label] == frame["label"].tolist()
    assert (r.n_questions, r.n_traders, r.n_answers) == (3, 2, 5)
    assert r.probability is None
    assert r.n_levels.tolist() == [2, 2]
    assert "3 questions" in repr(r) and json.dumps(r.to_dict())


def test_sort_labels_numeric_then_text():
    assert sort_labels(["10", "9", "-1", "b", "a", "01"]).tolist() == ["-1", "01", "9", "10", "a", "b"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4), st.sampled_from(["1", "2", "3", "10", "no", "yes"])),
                min_size=1, max_size=40))
def test_encoding_round_trips(rows):
    frame = pd.DataFrame(rows, columns=["question", "trader", "answer"]).astype({"question": str, "trader": str})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        r = Reports.from_frame(frame, repeats=True)
    assert decode(r) == [(str(q), str(t), a) for q, t, a in rows]
    for t, lv in enumerate(r.levels):  # each trader's levels: sorted, exactly the labels it used
        used = {a for (_, tr, a) in decode(r) if tr == r.traders[t]}
        assert set(lv.tolist()) == used
        assert lv.tolist() == sort_labels(lv).tolist()
    assert r.answer.max() < r.n_levels[r.trader].max()


def test_wide_frame_layout_and_missing_cells():
    wide = pd.DataFrame({"question": ["q1", "q2", "q3"], "A": [1.0, np.nan, 2.0], "B": ["1", "", "na"],
                         "C": [2, 2, 1]})
    r = Reports.from_frame(wide, wide=True)
    assert r.questions.tolist() == ["q1", "q2", "q3"]
    assert r.traders.tolist() == ["A", "B", "C"]
    assert decode(r) == [("q1", "A", "1"), ("q1", "B", "1"), ("q1", "C", "2"), ("q2", "C", "2"),
                         ("q3", "A", "2"), ("q3", "C", "1")]
    assert r.wide().tolist() == [[0, 0, 1], [-1, -1, 1], [1, -1, 0]]
    # without a question column the questions are the row numbers
    r2 = Reports.from_frame(wide.drop(columns="question"), wide=True)
    assert r2.questions.tolist() == ["1", "2", "3"]


@pytest.mark.parametrize("cell, message", [(1.5, "not a label"), (True, "boolean"), (np.inf, "not a label")])
def test_wide_frame_rejects_cells_that_are_not_labels(cell, message):
    wide = pd.DataFrame({"A": [1, 2], "B": [cell, 1]}, dtype=object)
    with pytest.raises(BookError, match=message) as err:
        Reports.from_frame(wide, wide=True)
    assert "row 1, column 'B'" in str(err.value)


def test_wide_frame_errors_and_warnings():
    with pytest.raises(BookError, match="question 'q1' has two rows"):
        Reports.from_frame(pd.DataFrame({"question": ["q1", "q1"], "A": [1, 2]}), wide=True)
    with pytest.raises(BookError, match="every cell is empty"):
        Reports.from_frame(pd.DataFrame({"A": [None, None]}), wide=True)
    with pytest.raises(BookError, match="no rows"):
        Reports.from_frame(pd.DataFrame({"A": []}), wide=True)
    with pytest.raises(BookError, match="DataFrame"):
        Reports.from_frame([[1, 2]], wide=True)
    # an unknown label among numeric codes (a typo, or a code for 'missing') is flagged
    with pytest.warns(UserWarning, match=r"\['\?'\] are not numbers"):
        Reports.from_frame(pd.DataFrame({"A": ["1", "2", "?"], "B": ["1", "2", "2"]}), wide=True)
    # an id column left among the traders is flagged
    ids = pd.DataFrame({"patient": range(1, 31), "A": [1, 2] * 15, "B": [2, 1] * 15})
    with pytest.warns(UserWarning, match="'patient' has a different value in every row"):
        Reports.from_frame(ids, wide=True)


def test_repeated_reports_are_refused_unless_asked_for():
    frame = pd.DataFrame({"question": ["q1", "q2", "q1", "q2", "q2"], "trader": ["ann", "ann", "bob", "ann", "bob"],
                          "answer": ["1", "2", "1", "2", "2"]})
    with pytest.raises(BookError, match=r"row 4: trader 'ann' reports on question 'q2' again \(first in .*row 2; "
                                        r"1 question-trader pair reported more than once\); expected one report per "
                                        r"trader and question.*repeats=True"):
        Reports.from_frame(frame)
    probs = pd.DataFrame({"question": ["q1", "q1"], "trader": ["ann", "ann"], "probability": [0.2, 0.3]})
    with pytest.raises(BookError, match="trader 'ann' reports on question 'q1' again"):
        Reports.from_frame(probs)
    assert Reports.from_frame(frame, repeats=True).n_answers == 5  # replicate ratings, each counted


def test_wide_table_refuses_repeated_answers():
    frame = pd.DataFrame({"question": ["q1", "q1", "q2"], "trader": ["ann", "ann", "bob"], "answer": ["1", "2", "1"]})
    r = Reports.from_frame(frame, repeats=True)
    assert r.n_answers == 3
    with pytest.raises(InferenceError, match="trader 'ann' answered question 'q1' 2 times"):
        r.wide()


def test_forecast_books_and_clipping():
    frame = pd.DataFrame({"question": ["a", "a", "b"], "forecaster": ["x", "y", "x"], "p": [0.0, 0.3, 1.0]})
    with pytest.warns(UserWarning, match=r"2 probabilities of exactly 0 or 1 moved by 1e-06"):
        r = Reports.from_frame(frame)
    assert r.probability.tolist() == [PROBABILITY_CLIP, 0.3, 1 - PROBABILITY_CLIP]
    assert r.labels.size == 0 and (r.answer == -1).all() and (r.label == -1).all()
    assert [lv.size for lv in r.levels] == [0, 0]
    with pytest.raises(InferenceError, match="probabilities only"):
        r.wide()
    # answers and probabilities together: rows may have one or both
    both = pd.DataFrame({"question": ["a", "b"], "trader": ["x", "x"], "answer": ["yes", None], "probability":
                         [np.nan, 0.7]})
    r2 = Reports.from_frame(both)
    assert r2.answer.tolist() == [0, -1] and np.isnan(r2.probability[0])


def test_from_book_checks_its_input(tmp_path):
    trades = Book.simulate_trades(2, 5, rng=0)
    with pytest.raises(BookError, match="trades book"):
        Reports.from_book(trades)
    with pytest.raises(BookError, match="takes a deepmarkets Book"):
        Reports.from_book(pd.DataFrame({"question": ["a"], "trader": ["b"], "answer": ["c"]}))
    path = tmp_path / "book.csv"
    path.write_text("question,trader,answer\nq1,ann,1\nq1,bob,2\nq2,ann,2\n")
    a = Reports.from_book(Book.read(path))
    b = Reports.from_frame(pd.read_csv(path))
    assert decode(a) == decode(b) == [("q1", "ann", "1"), ("q1", "bob", "2"), ("q2", "ann", "2")]


def test_carcinoma_patterns():
    path = DATA / "poLCA" / "carcinoma.csv"
    if not path.exists():
        pytest.skip("../shared/data/poLCA/carcinoma.csv is not present")
    table = pd.read_csv(path)
    r = Reports.from_frame(table, wide=True)
    assert (r.n_questions, r.n_traders, r.n_answers) == (118, 7, 826)
    pats, counts, which = r.patterns()
    assert pats.shape == (20, 7) and counts.sum() == 118
    assert np.array_equal(pats[which], r.wide())
    assert np.array_equal(r.wide() + 1, table.to_numpy())  # codes are 0-based levels "1", "2"
    assert np.array_equal(np.bincount(which), counts)
