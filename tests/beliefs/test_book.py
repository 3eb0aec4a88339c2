"""Books: aliases, kind detection, messages that point at the row, round trips and atomic writes."""

from __future__ import annotations

import doctest
import gzip
import math
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepmarkets.beliefs.book as book_module
import deepmarkets.helpers.files as io_module
from deepmarkets.beliefs.book import REPORT_COLUMNS, TRADE_COLUMNS, Book
from deepmarkets.errors import BookError, DeclarationError
from deepmarkets.helpers import atomic_path, atomic_write

FORMATS = ["csv", "csv.gz", "parquet", "jsonl", "ndjson.gz"]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def trade(**extra):
    return {"trader": "ann", "security": "rain", "quantity": 1.0, **extra}


# ---------------------------------------------------------------------------
# column names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("canonical", "alias"), [(c, a) for c, al in TRADE_COLUMNS.items() for a in al])
def test_every_trade_alias_maps_to_its_column(canonical, alias):
    base = {"time": [1.0], "trader": ["ann"], "security": ["rain"], "quantity": [2.0], "price": [0.5]}
    data = {(f"  {alias.upper()} " if c == canonical else c): v for c, v in base.items()}
    book = Book.from_frame(pd.DataFrame(data), kind="trades")
    assert list(book.frame.columns) == ["time", "trader", "security", "quantity", "price"]
    assert book.frame.iloc[0].tolist() == [1.0, "ann", "rain", 2.0, 0.5]


@pytest.mark.parametrize(("canonical", "alias"), [(c, a) for c, al in REPORT_COLUMNS.items() for a in al])
def test_every_report_alias_maps_to_its_column(canonical, alias):
    base = {"time": [1.0], "question": ["q1"], "trader": ["ann"], "answer": ["yes"], "probability": [0.25]}
    data = {(alias.title() if c == canonical else c): v for c, v in base.items()}
    book = Book.from_frame(pd.DataFrame(data), kind="reports")
    assert list(book.frame.columns) == ["time", "question", "trader", "answer", "probability"]
    assert book.frame.iloc[0].tolist() == [1.0, "q1", "ann", "yes", 0.25]


def test_two_columns_for_one_name_are_an_error_naming_both():
    frame = pd.DataFrame({"user": ["a"], "Worker": ["b"], "security": ["x"], "quantity": [1]})
    with pytest.raises(BookError, match=r"'user' and 'Worker' both name the trader column"):
        Book.from_frame(frame)
    with pytest.raises(BookError, match=r"'price' and 'cost' both name the price"):
        Book.from_records([trade(price=0.1, cost=0.2)])


def test_extra_columns_are_kept_after_the_canonical_ones(tmp_path):
    path = write(tmp_path / "t.csv", "note,qty,security, agent ,venue\nhello,2,rain,ann,\n")
    frame = Book.read(path).frame
    assert list(frame.columns) == ["time", "trader", "security", "quantity", "price", "note", "venue"]
    assert frame["note"].tolist() == ["hello"] and pd.isna(frame["venue"].iloc[0])


def test_bad_column_names(tmp_path):
    with pytest.raises(BookError, match=r"column name 0 is a int; column names must be text"):
        Book.from_frame(pd.DataFrame([["a", "x", 1]]))
    with pytest.raises(BookError, match=r"line 2: column 5 has an empty name"):
        Book.read(write(tmp_path / "t.csv", "\ntrader,security,quantity,note,\nann,x,1,,\n"))
    with pytest.raises(BookError, match=r"line 1: the column 'note' appears twice"):
        Book.read(write(tmp_path / "t.csv", "trader,security,quantity,note,note\nann,x,1,a,b\n"))
    with pytest.raises(BookError, match=r"the index is named 'time'.*reset_index\(\)"):
        Book.from_frame(pd.DataFrame({"time": [1.0], **{k: [v] for k, v in trade().items()}}).set_index("time"))


# ---------------------------------------------------------------------------
# kind detection
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["trader", "security", "quantity"], "trades"),
        (["Agent", "contract", "shares", "paid"], "trades"),
        (["item", "worker", "label"], "reports"),
        (["task", "annotator", "p"], "reports"),
        (["question", "forecaster", "forecast", "label", "timestamp"], "reports"),
    ],
)
def test_kind_is_detected_from_the_columns(columns, kind):
    values = {"quantity": 1, "shares": 1, "paid": 0.5, "p": 0.5, "forecast": 0.5, "timestamp": 3}
    frame = pd.DataFrame({c: [values.get(c, "v")] for c in columns})
    assert Book.from_frame(frame).kind == kind


def test_ambiguous_and_unknown_kinds():
    both = pd.DataFrame({"item": ["x"], "worker": ["w"], "label": ["a"], "qty": [2]})
    with pytest.raises(BookError, match=r"fit both a trades book and a reports book; pass kind="):
        Book.from_frame(both)
    assert Book.from_frame(both, kind="reports").frame.columns.tolist() == ["question", "trader", "answer", "qty"]
    assert Book.from_frame(both, kind="trades").frame.columns.tolist()[:4] == ["time", "trader", "security", "quantity"]
    with pytest.raises(BookError, match=r"cannot tell whether.*columns \['a', 'b'\].*security \(or contract"):
        Book.from_frame(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(DeclarationError, match=r"kind='trade' is not a kind of book"):
        Book.from_frame(both, kind="trade")


def test_missing_column_lists_found_columns_and_aliases(tmp_path):
    path = write(tmp_path / "t.csv", "trader,security,size_x\nann,rain,1\n")
    with pytest.raises(BookError) as err:
        Book.read(path, kind="trades")
    message = str(err.value)
    assert "no column for quantity (or qty, shares, size, amount)" in message
    assert "columns found: ['trader', 'security', 'size_x']" in message
    with pytest.raises(BookError, match=r"no column for answer \(or label, response, choice\) or probability"):
        Book.from_records([{"question": "q", "trader": "t"}], kind="reports")


# ---------------------------------------------------------------------------
# messages that point at the row, line and column
# ---------------------------------------------------------------------------

HEADER = "time,trader,security,quantity,price\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1,a,x,1,\n2,a,x,abc,\n", "row 2 (line 3), column quantity: 'abc' is not a number"),
        ("1,a,x,1,\n\n\n2,a,x,abc,\n", "row 2 (line 5), column quantity: 'abc' is not a number"),
        ('1,"a\nb",x,1,\n2,a,x,1,\n3,a,x,nan,\n', "row 3 (line 5), column quantity: the quantity is missing"),
        ("1,a,x,inf,\n", "row 1 (line 2), column quantity: inf is not a finite number"),
        ("1,a,x,2,\n2,a,x,0,\n3,a,x,0.0,\n", "row 2 (line 3), column quantity: a quantity of 0 trades nothing"),
        ("1,a,x,1,\n2, ,x,1,\n", "row 2 (line 3), column trader: the value is missing or empty"),
        ("1,a,,1,\n", "row 1 (line 2), column security: the value is missing or empty"),
        ("1,a,x,1,-inf\n", "row 1 (line 2), column price: -inf is not a finite price"),
        ("1,a,x,1,cheap\n", "row 1 (line 2), column price: 'cheap' is not a number"),
        ("1,a,x,1,\n,a,x,1,\n", "row 2 (line 3), column time: the value is missing"),
        ("2024-01-01,a,x,1,\n5,a,x,1,\n", "row 2 (line 3), column time: '5' is a number, but the first time is a"),
        ("5,a,x,1,\nnoon,a,x,1,\n", "row 2 (line 3), column time: 'noon' is not a number; the first time is a number"),
        ("2024-01-01,a,x,1,\n2024-13-01,a,x,1,\n", "row 2 (line 3), column time: '2024-13-01' is not a date-time"),
        ("2024-01-01,a,x,1,\n3000-01-01,a,x,1,\n", "row 2 (line 3), column time: '3000-01-01' is not a date-time"),
        ("1,a,x,1,\n2,a,x,1\n", "row 2 (line 3): expected 5 fields like the header on line 1, found 4"),
    ],
)
def test_csv_errors_name_row_line_column_and_value(tmp_path, body, expected):
    path = write(tmp_path / "trades.csv", HEADER + body)
    with pytest.raises(BookError) as err:
        Book.read(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_messages_use_the_users_column_name_and_count_repeats(tmp_path):
    path = write(tmp_path / "t.csv", "ts,agent,contract,qty\n1,a,x,0\n2,a,x,1\n3,a,x,0\n4,a,x,0\n")
    with pytest.raises(BookError, match=r"row 1 \(line 2\), column 'qty' \(read as quantity\).*2 more rows"):
        Book.read(path)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"question": "q", "trader": "t", "prob": 0.2}, {"question": "q", "trader": "u", "prob": 1.5}],
         "row 2, column 'prob' (read as probability): 1.5 is outside [0, 1]"),
        ([{"question": "q", "trader": "t", "probability": -0.1}], "row 1, column probability: -0.1 is outside"),
        ([{"question": "q", "trader": "t", "probability": None}], "row 1, column probability: the probability is "
                                                                  "missing"),
        ([{"question": "q", "trader": "t", "answer": "a", "probability": 0.5},
          {"question": "q", "trader": "t", "answer": " ", "probability": float("nan")}],
         "row 2, column answer and column probability: both are missing"),
        ([{"question": "", "trader": "t", "answer": "a"}], "row 1, column question: the value is missing or empty"),
        ([{"question": "q", "trader": "t", "answer": None}], "row 1, column answer: the value is missing"),
        ([{"question": "q", "trader": 2.5, "answer": "a"}], "row 1, column trader: 2.5 is a number with a decimal"),
        ([trade(quantity=True)], "row 1, column quantity: True is not a number"),
        ([trade(), trade(quantity=[1, 2])], "row 2, column quantity: [1, 2] is not a number"),
    ],
)
def test_record_errors(records, expected):
    with pytest.raises(BookError) as err:
        Book.from_records(records)
    assert str(err.value).startswith("records: ")
    assert expected in str(err.value)


def test_frame_errors_count_rows_from_one():
    frame = pd.DataFrame({"trader": ["a", "b", "c"], "security": ["x"] * 3, "quantity": [1.0, 2.0, np.nan]})
    with pytest.raises(BookError, match=r"^frame: row 3, column quantity: the quantity is missing"):
        Book.from_frame(frame)
    with pytest.raises(BookError, match=r"row 1, column quantity: True is a boolean"):
        Book.from_frame(pd.DataFrame({"trader": ["a"], "security": ["x"], "quantity": [True]}))


def test_file_level_errors(tmp_path):
    with pytest.raises(BookError, match=r"nope\.csv: no such file"):
        Book.read(tmp_path / "nope.csv")
    with pytest.raises(BookError, match=r"cannot tell the format from the suffix \.txt; expected one of \.csv"):
        Book.read(write(tmp_path / "t.txt", HEADER))
    with pytest.raises(BookError, match=r"format='xlsx' is not a book format"):
        Book.read(write(tmp_path / "t.csv", HEADER), format="xlsx")
    with pytest.raises(BookError, match=r"the file is empty; expected a header line naming the columns \(e.g. "
                                        r"time,trader,security,quantity,price for trades or question,trader,answer "
                                        r"for reports\)"):
        Book.read(write(tmp_path / "empty.csv", "\n\n"))
    with pytest.raises(BookError, match=r"the file is empty; expected .*\(e.g. question,trader,answer\)"):
        Book.read(tmp_path / "empty.csv", kind="reports")
    with pytest.raises(BookError, match=r"the file is empty; expected .*\(e.g. time,trader,security,quantity,price\)"):
        Book.read(tmp_path / "empty.csv", kind="trades")
    with pytest.raises(BookError, match=r"the book has no rows: the header \(line 1\) is there"):
        Book.read(write(tmp_path / "header.csv", HEADER + "\n"))
    with pytest.raises(BookError, match=r"the book has no rows"):
        Book.read(write(tmp_path / "empty.jsonl", "\n"))
    with pytest.raises(BookError, match=r"is a folder"):
        Book.read(tmp_path, format="csv")
    with pytest.raises(BookError, match=r"row 2 \(line 3\), character 12: not valid JSON"):
        Book.read(write(tmp_path / "bad.jsonl", '{"trader": "a", "security": "x", "quantity": 1}\n\n{"trader": a}\n'))
    with pytest.raises(BookError, match=r"row 1 \(line 1\): a JSON list, not an object"):
        Book.read(write(tmp_path / "list.jsonl", "[1, 2]\n"))
    with pytest.raises(BookError, match=r"row 2 \(line 4\), column quantity: 'two' is not a number"):
        Book.read(write(tmp_path / "q.ndjson", '{"trader": "a", "security": "x", "quantity": 1}\n\n\n'
                                               '{"trader": "a", "security": "x", "quantity": "two"}\n'))
    empty = pd.DataFrame({"trader": pd.Series([], dtype="str"), "security": pd.Series([], dtype="str"),
                          "quantity": pd.Series([], dtype=float)})
    empty.to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(BookError, match=r"empty\.parquet: the book has no rows"):
        Book.read(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BookError, match=r"junk\.parquet: cannot read the file as Parquet"):
        Book.read(tmp_path / "junk.parquet")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(HEADER.encode() + b"1,a,x,1,\n")[:-12])
    with pytest.raises(BookError, match=r"cut\.csv\.gz: cannot read the file"):
        Book.read(tmp_path / "cut.csv.gz")
    (tmp_path / "latin.csv").write_bytes(HEADER.encode() + "1,Jos\xe9,x,1,\n".encode("latin-1"))
    with pytest.raises(BookError, match=r"latin\.csv: not UTF-8 text"):
        Book.read(tmp_path / "latin.csv")
    with pytest.raises(BookError, match=r"records: record 2 is a str, not a mapping"):
        Book.from_records([trade(), "ann,rain,1"])
    with pytest.raises(BookError, match=r"records: the book has no rows"):
        Book.from_records([])


# ---------------------------------------------------------------------------
# values: parsing, time, sorting
# ---------------------------------------------------------------------------


def test_csv_values_are_parsed_and_normalised(tmp_path):
    text = "\ufeffTime , Agent,contract,QTY,cost\n3, ann ,rain, 2 ,0.5\n1,bob,rain,-1e1,\n1,17,sun,+3,N/A\n"
    book = Book.read(write(tmp_path / "t.csv", text))
    frame = book.frame
    assert frame["time"].tolist() == [1.0, 1.0, 3.0]
    assert frame["trader"].tolist() == ["bob", "17", "ann"]
    assert frame["quantity"].tolist() == [-10.0, 3.0, 2.0]
    assert frame["price"].isna().tolist() == [True, True, False] and frame["price"].iloc[2] == 0.5
    assert [str(t) for t in frame.dtypes] == ["float64", "str", "str", "float64", "float64"]
    assert [book.row_origin(i) for i in range(3)] == [f"{tmp_path / 't.csv'} row {r} (line {r + 1})" for r in (2, 3, 1)]


def test_without_a_time_column_the_row_order_is_the_time():
    book = Book.from_records([trade(trader="b"), trade(trader="a"), trade(trader="c")])
    assert book.frame["time"].tolist() == [0.0, 1.0, 2.0]
    assert book.traders == ("b", "a", "c")
    assert book.frame["price"].isna().all()


def test_reports_keep_their_order_without_time_and_integer_ids_become_text():
    book = Book.from_frame(pd.DataFrame({"item": [3, 1, 2], "worker": [10, 10, 11], "label": [1, 0, 1]}))
    assert book.kind == "reports" and "time" not in book.frame.columns
    assert book.questions == ("3", "1", "2") and book.traders == ("10", "11")
    assert book.frame["answer"].tolist() == ["1", "0", "1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.5, -1.0]), st.integers(1, 5)), min_size=1, max_size=12))
def test_sort_is_stable_by_time(rows):
    records = [{"time": t, "trader": f"t{i}", "security": "x", "quantity": q} for i, (t, q) in enumerate(rows)]
    book = Book.from_records(records)
    expected = sorted(records, key=lambda r: r["time"])  # Python's sort is stable
    assert book.traders == tuple(r["trader"] for r in expected)
    assert book.frame["time"].tolist() == [r["time"] for r in expected]
    assert [book.row_origin(i) for i in range(len(book))] == [f"records row {int(r['trader'][1:]) + 1}"
                                                              for r in expected]


def test_datetimes_become_utc_and_sort_across_offsets(tmp_path):
    path = write(
        tmp_path / "t.csv",
        "timestamp,trader,security,quantity\n"
        "2024-01-01T01:00:00+02:00,a,x,1\n"   # 23:00 UTC the day before
        "2023-12-31 23:30,b,x,1\n"             # naive: UTC
        "2023-12-31T23:00:00Z,c,x,1\n"         # tie with the first row: keeps file order
        "2023-12-31T22:00:00.000000001Z,d,x,1\n",
    )
    frame = Book.read(path).frame
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["trader"].tolist() == ["d", "a", "c", "b"]
    assert frame["time"].iloc[0] == pd.Timestamp("2023-12-31T22:00:00.000000001Z")
    aware = pd.DataFrame({"time": pd.to_datetime(["2024-06-01 12:00"]).tz_localize("America/New_York"), **{
        k: [v] for k, v in trade().items()}})
    assert Book.from_frame(aware).frame["time"].iloc[0] == pd.Timestamp("2024-06-01T16:00:00Z")
    naive = aware.assign(time=pd.to_datetime(["2024-06-01 12:00"]))
    assert Book.from_frame(naive).frame["time"].iloc[0] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_the_frame_is_a_copy():
    source = pd.DataFrame({"trader": [" a "], "security": ["x"], "quantity": [1]})
    book = Book.from_frame(source)
    assert source["trader"].tolist() == [" a "] and source["quantity"].dtype == np.int64
    view = book.frame
    view.loc[0, "quantity"] = 99.0
    view["trader"] = "z"
    assert book.frame["quantity"].tolist() == [1.0] and book.traders == ("a",)
    assert book.frame is not book.frame


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------

names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6).map(str.strip).filter(bool)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
nonzero = finite.filter(lambda x: x != 0)
stamps = st.builds(
    lambda t, ns: pd.Timestamp(t).tz_localize("UTC") + pd.Timedelta(ns, "ns"),
    st.datetimes(min_value=pd.Timestamp("1800-01-01").to_pydatetime(),
                 max_value=pd.Timestamp("2200-01-01").to_pydatetime()),
    st.integers(0, 999),
)


@st.composite
def trade_books(draw):
    n = draw(st.integers(1, 6))
    times = draw(st.one_of(st.lists(stamps, min_size=n, max_size=n),
                           st.lists(st.sampled_from([0.0, 0.5, 1e-9, -3.0]) | finite, min_size=n, max_size=n),
                           st.none()))
    records = []
    for i in range(n):
        r = {"trader": draw(names), "security": draw(names), "quantity": draw(nonzero),
             "price": draw(st.none() | st.just(math.nan) | finite)}
        if times is not None:
            r["time"] = times[i]
        records.append(r)
    return Book.from_records(records)


@st.composite
def report_books(draw):
    n = draw(st.integers(1, 6))
    columns = draw(st.sampled_from([("answer",), ("probability",), ("answer", "probability")]))
    records = []
    for _ in range(n):
        r = {"question": draw(names), "trader": draw(names)}
        answer = draw(names) if "answer" in columns else None
        prob = draw(st.floats(0, 1)) if "probability" in columns else None
        if len(columns) == 2 and draw(st.booleans()):
            if draw(st.booleans()):
                answer = None
            else:
                prob = None
        if "answer" in columns:
            r["answer"] = answer
        if "probability" in columns:
            r["probability"] = prob
        records.append(r)
    if draw(st.booleans()):
        for r in records:
            r["t"] = draw(st.integers(-5, 5))
    return Book.from_records(records)


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(book=st.one_of(trade_books(), report_books()))
def test_round_trip(tmp_path, fmt, book):
    path = tmp_path / f"book.{fmt}"
    assert book.write(path) == path
    again = Book.read(path)
    assert again == book
    assert again.kind == book.kind and list(again.frame.dtypes) == list(book.frame.dtypes)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_round_trip_keeps_extra_columns_where_the_format_can(tmp_path):
    book = Book.from_records([trade(venue="ä", n=3, time="2024-01-01T00:00:00Z"), trade(venue=None, n=4,
                                                                                        time="2024-01-01T00:00:01Z")])
    for fmt in ("parquet", "jsonl"):
        assert Book.read(book.write(tmp_path / f"b.{fmt}")) == book
    text = Book.read(book.write(tmp_path / "b.csv")).frame  # CSV: extra columns come back as text
    assert text["n"].tolist() == ["3", "4"] and text["venue"].iloc[0] == "ä" and pd.isna(text["venue"].iloc[1])
    assert (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()[1].startswith("2024-01-01T00:00:00Z,ann,")


def test_explicit_format_and_gzip(tmp_path):
    book = Book.simulate_trades(2, 5, rng=3)
    book.write(tmp_path / "b.data", format="csv.gz")
    assert (tmp_path / "b.data").read_bytes()[:2] == b"\x1f\x8b"
    assert Book.read(tmp_path / "b.data", format="csv.gz") == book
    book.write(tmp_path / "b.log", format="ndjson")
    assert Book.read(tmp_path / "b.log", format="jsonl") == book
    # gzip output does not depend on the clock or the temporary name
    one, two = book.write(tmp_path / "1.csv.gz").read_bytes(), book.write(tmp_path / "2.csv.gz").read_bytes()
    assert one == two


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, fmt):
    path = tmp_path / f"book.{fmt}"
    old = Book.simulate_trades(2, 4, rng=0)
    old.write(path)
    before = path.read_bytes()
    new = Book.simulate_trades(3, 50, rng=1)

    def half_then_fail(frame, tmp, *args, **kwargs):
        with open(tmp, "wb") as f:
            f.write(b"time,trader,sec")
        raise RuntimeError("disk full")

    if fmt == "parquet":  # break the real frame writer mid-file
        monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, tmp, **kw: half_then_fail(self, tmp))
    else:
        monkeypatch.setitem(book_module._WRITERS, fmt, half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        new.write(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.undo()
    assert Book.read(path) == old
    new.write(path)
    assert Book.read(path) == new
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_unwritable_extra_column_is_a_book_error_and_writes_nothing(tmp_path):
    book = Book.from_records([trade(blob={"a": 1})])
    with pytest.raises(BookError, match=r"column 'blob' holds a dict"):
        book.write(tmp_path / "b.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_success_failure_and_interrupt(tmp_path):
    target = tmp_path / "out.png"
    seen = []

    def writer(tmp):
        seen.append(tmp)
        tmp.write_bytes(b"new")

    assert atomic_write(target, writer) == target
    assert target.read_bytes() == b"new"
    assert seen[0].parent == tmp_path and seen[0].name.endswith(".tmp-out.png") and seen[0].name.startswith(".")
    for error in (ValueError("bad"), KeyboardInterrupt()):
        def failing(tmp, error=error):
            tmp.write_bytes(b"partial")
            raise error

        with pytest.raises(type(error)):
            atomic_write(target, failing)
        assert target.read_bytes() == b"new"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    with atomic_path(tmp_path / "ctx.txt") as tmp:
        tmp.write_text("done")
        assert not (tmp_path / "ctx.txt").exists()
    assert (tmp_path / "ctx.txt").read_text() == "done"


def test_atomic_write_permissions_follow_the_umask_and_bad_targets_fail(tmp_path):
    atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
    (tmp_path / "b.txt").write_text("x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "b.txt").st_mode)
    with pytest.raises(DeclarationError, match=r"the folder .*missing.* does not exist"):
        atomic_write(tmp_path / "missing" / "a.txt", lambda tmp: None)
    with pytest.raises(DeclarationError, match=r"it is a folder"):
        atomic_write(tmp_path, lambda tmp: None)
    with pytest.raises(DeclarationError, match=r"does not exist"):
        Book.simulate_trades(1, 1, rng=0).write(tmp_path / "missing" / "b.csv")


# ---------------------------------------------------------------------------
# convenience, summaries, simulation
# ---------------------------------------------------------------------------


def test_summaries_and_filter(tmp_path):
    records = [
        {"time": "2024-01-02T00:00:00Z", "trader": "bob", "security": "sun", "quantity": -1, "price": 0.3},
        {"time": "2024-01-01T00:00:00Z", "trader": "ann", "security": "rain", "quantity": 2},
        {"time": "2024-01-03T00:00:00Z", "trader": "ann", "security": "sun", "quantity": 1},
    ]
    book = Book.from_records(records)
    assert len(book) == 3 and book.traders == ("ann", "bob") and book.securities == ("rain", "sun")
    assert book.to_dict() == {
        "kind": "trades", "rows": 3, "traders": 2, "securities": 2, "prices_recorded": 1,
        "time": {"type": "datetime", "start": "2024-01-01T00:00:00+00:00", "end": "2024-01-03T00:00:00+00:00"},
        "columns": ["time", "trader", "security", "quantity", "price"], "source": None,
    }
    assert repr(book) == ("Book(trades: 3 rows, 2 traders, 2 securities, "
                          "time 2024-01-01T00:00:00+00:00 to 2024-01-03T00:00:00+00:00)")
    md = book._repr_markdown_()
    assert "| time | trader | security | quantity | price |" in md
    assert "| 2024-01-02T00:00:00Z | bob | sun | -1.0 | 0.3 |" in md
    sub = book.filter(trader="ann", security=["sun", "moon"])
    assert len(sub) == 1 and sub.frame["time"].iloc[0] == pd.Timestamp("2024-01-03", tz="UTC")
    assert sub.row_origin(0) == "records row 3"
    with pytest.raises(BookError, match=r"no row matches.*traders \['ann', 'bob'\]"):
        book.filter(trader="carl")
    with pytest.raises(BookError, match=r"use book.securities"):
        _ = book.questions
    with pytest.raises(BookError, match=r"for reports books"):
        book.filter(question="q")
    reports = Book.from_records([{"item": "q1", "worker": "w", "prob": 0.5}, {"item": "q2", "worker": "w", "prob": 1}])
    assert reports.to_dict()["questions"] == 2 and reports.to_dict()["probabilities"] == 2
    assert reports.to_dict()["answers"] == 0 and reports.to_dict()["time"] is None
    assert repr(reports) == "Book(reports: 2 rows, 1 trader, 2 questions, probability given)"
    with pytest.raises(BookError, match=r"use book.questions"):
        _ = reports.securities
    path = reports.write(tmp_path / "r.csv")
    assert repr(Book.read(path)).endswith(f"source={str(path)!r})")
    assert book != reports and book == Book.from_records(list(reversed(records)))
    assert book != Book.from_records(records[:2])


def test_simulate_trades():
    book = Book.simulate_trades(["rain", "sun", "snow"], 400, traders=["ann", "bob"], rng=7, max_quantity=3.0)
    frame = book.frame
    assert len(book) == 400 and set(book.securities) == {"rain", "sun", "snow"} and set(book.traders) == {"ann", "bob"}
    assert np.all(np.diff(frame["time"].to_numpy()) > 0)
    q = frame["quantity"].to_numpy()
    assert np.all((np.abs(q) > 0) & (np.abs(q) <= 3.0))
    assert 150 < (q > 0).sum() < 250  # both sides, about half each (binomial sd 10)
    assert frame["price"].isna().all()
    assert book == Book.simulate_trades(["rain", "sun", "snow"], 400, traders=["ann", "bob"], rng=7,
                                        max_quantity=3.0)
    assert book != Book.simulate_trades(["rain", "sun", "snow"], 400, traders=["ann", "bob"], rng=8,
                                        max_quantity=3.0)
    gen = np.random.default_rng(5)
    assert Book.simulate_trades(2, 3, rng=gen).traders[0].startswith("trader")
    for bad in [dict(securities=0, n_trades=1), dict(securities=2, n_trades=0), dict(securities=["a", "a"], n_trades=1),
                dict(securities="ab", n_trades=1), dict(securities=2, n_trades=1, max_quantity=math.inf),
                dict(securities=2, n_trades=1, traders=[" a"])]:
        with pytest.raises(DeclarationError):
            Book.simulate_trades(**bad)


@pytest.mark.parametrize("module", [book_module, io_module])
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_the_alias_tables_in_the_docstring_match_the_code():
    doc = Book.__doc__
    for title, table in (("trades", TRADE_COLUMNS), ("reports", REPORT_COLUMNS)):
        block = re.search(rf"^ *{title} +aliases\n(.*?)\n\n", doc, re.S | re.M).group(1)
        rows = [line.split(None, 1) for line in block.splitlines() if line.strip() and not line.strip().startswith("=")]
        documented = {name: tuple(a.strip() for a in rest.split(",")) for name, rest in rows}
        assert documented == {name: aliases[1:] for name, aliases in table.items()}
