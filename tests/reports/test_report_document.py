"""The HTML page itself: self-contained, escaped, numbers as the data has them, written whole or not at all."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from report_pages import Page, external_references  # noqa: E402

from deepmarkets.errors import DeclarationError  # noqa: E402
from deepmarkets.reports import Report, format_number  # noqa: E402
from deepmarkets.reports.document import DATA_ID, SIGNIFICANT  # noqa: E402


def test_a_page_is_self_contained_with_its_figure_inline():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    report = Report("t")
    report.section("plots").figure(fig, alt="a line")
    text = report.to_html({"x": 1})
    assert external_references(text) == []
    (img,) = [a for t, a in Page(text).tags if t == "img"]
    assert img["src"].startswith("data:image/png;base64,") and img["alt"] == "a line"
    assert not plt.fignum_exists(fig.number)  # closed once embedded


def test_text_is_escaped_and_data_cannot_close_its_script():
    hostile = "</script><script>alert(1)</script> & <b>"
    report = Report(hostile, subtitle=hostile)
    report.section(hostile).text(hostile).facts({hostile: hostile}).table([[hostile, 1.5]], ["a", "b"])
    text = report.to_html({"s": hostile, "nested": [hostile]})
    page = Page(text)
    assert [t for t, _ in page.tags].count("script") == 1  # only the data element
    assert page.data == {"s": hostile, "nested": [hostile]}
    assert "<b>" not in text.split("<main>")[1].split(f'id="{DATA_ID}"')[0]


def test_non_finite_numbers_are_null_in_the_data_and_a_dash_in_tables():
    report = Report("t")
    report.section("s").table([[math.nan, None, 2.0]], ["a", "b", "c"])
    page = Page(report.to_html({"a": math.nan, "b": math.inf, "c": [1.0, -math.inf]}))
    assert page.data == {"a": None, "b": None, "c": [1.0, None]}
    assert page.numbers == ["–", "2"]  # NaN is a number cell shown as a dash; None is a text cell


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_shown_float_is_the_value_to_the_stated_significant_digits(x):
    shown = format_number(x)
    assert float(shown) == float(f"{x:.{SIGNIFICANT}g}")
    if x != 0:
        assert abs(float(shown) - x) <= abs(x) * 10 ** (1 - SIGNIFICANT) / 2 * (1 + 1e-9)


@pytest.mark.parametrize(("value", "shown"), [(12, "12"), (True, "true"), (None, "–"), ("x", "x"),
                                              (0.1 + 0.2, "0.3"), (1e-12, "1e-12"), (123456789, "123456789")])
def test_format_number_cases(value, shown):
    assert format_number(value) == shown


def test_tables_from_frames_rows_and_mappings_agree():
    frame = pd.DataFrame({"name": ["a", "b"], "p": [0.25, 0.75]})
    pages = []
    for rows, columns in ((frame, None), ([["a", 0.25], ["b", 0.75]], ["name", "p"]),
                          ([{"name": "a", "p": 0.25}, {"name": "b", "p": 0.75}], None)):
        report = Report("t")
        report.section("s").table(rows, columns)
        pages.append(Page(report.to_html()))
    assert [p.numbers for p in pages] == [["0.25", "0.75"]] * 3


def test_long_tables_say_how_many_rows_are_left_out():
    report = Report("t")
    report.section("s").table([[i] for i in range(30)], ["i"], max_rows=10)
    text = report.to_html()
    assert Page(text).numbers == [str(i) for i in range(10)] and "20 more rows" in text


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.table([[1, 2]], ["a"]), "does not have the 1 columns"),
    (lambda s: s.table([[1, 2]]), "needs its column names"),
    (lambda s: s.table(5), "needs a DataFrame or a list of rows"),
    (lambda s: s.verdict("x", "great"), "expected one of good, bad, neutral"),
])
def test_bad_sections_are_refused(call, message):
    with pytest.raises(DeclarationError, match=message):
        call(Report("t").section("s"))


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old")
    report = Report("t")
    with pytest.raises(TypeError):  # JSON cannot hold this value: nothing is written
        report.write(target, data={"x": object()})
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.html"]
    report.write(target, data={"x": 1})
    assert Page(target.read_text()).data == {"x": 1}
