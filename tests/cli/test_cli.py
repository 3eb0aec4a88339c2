"""The ``deepmarkets`` command line: exit codes and messages.

A few cases run the real command in a subprocess (start-up time, no tracebacks);
the rest call :func:`deepmarkets.cli.main` in-process so the suite stays fast.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepmarkets.cli import main
from deepmarkets.logic.cases import CASES

INCOHERENT_ROWS = list(CASES["conjunction_too_cheap"].priced)


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    """A price table written by the csv module, so quoting is exactly what a spreadsheet would write."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deepmarkets", *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def incoherent_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "prices.csv", ["sentence", "price"], INCOHERENT_ROWS)


@pytest.fixture
def coherent_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "coherent.csv", ["sentence", "price"], [("a", "0.6"), ("b", "0.7"), ("a & b", "0.3")])


# ---------------------------------------------------------------------------
# end to end (subprocess)
# ---------------------------------------------------------------------------
def _median_seconds(cmd: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        times.append(time.perf_counter() - start)
        assert proc.returncode == 0, proc.stderr
        assert "Usage:" in proc.stdout and "check" in proc.stdout and "demo" in proc.stdout
    return statistics.median(times)


def test_help_is_fast_with_python_m():
    seconds = _median_seconds([sys.executable, "-m", "deepmarkets", "--help"])
    assert seconds < 1.0, f"`python -m deepmarkets --help` took {seconds:.2f} s (median of 3)"


def test_help_is_fast_with_console_script():
    script = shutil.which("deepmarkets", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("no deepmarkets console script next to the interpreter")
    seconds = _median_seconds([script, "--help"])
    assert seconds < 1.0, f"`deepmarkets --help` took {seconds:.2f} s (median of 3)"


def test_subprocess_incoherent_exit_code_and_table(incoherent_csv):
    proc = run_module("check", incoherent_csv)
    assert proc.returncode == 1, proc.stderr
    assert "INCOHERENT" in proc.stdout
    assert "guaranteed profit: 0.1 (1/10)" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_subprocess_coherent(coherent_csv):
    proc = run_module("check", coherent_csv)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: COHERENT" in proc.stdout


def test_subprocess_bad_input_has_no_traceback(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", ["sentence", "price"], [("a", "0.5"), ("a & & b", "0.3")])
    proc = run_module("check", bad)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "line 3" in proc.stderr
    assert proc.stdout == ""

    missing = tmp_path / "nope.csv"
    proc = run_module("check", missing)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(missing) in proc.stderr and "no such prices file" in proc.stderr


def test_subprocess_demo_json():
    proc = run_module("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["verdict"] for r in json.loads(proc.stdout)] == ["incoherent", "incoherent", "coherent", "incoherent"]
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------
def test_coherent(capsys, coherent_csv):
    code, out, err = run_cli(capsys, "check", coherent_csv)
    assert code == 0, err
    assert "verdict: COHERENT" in out
    assert "certificate: a distribution over 3 possible worlds" in out
    assert "Dutch book" not in out


def test_incoherent_dutch_book_table(capsys, incoherent_csv):
    code, out, err = run_cli(capsys, "check", incoherent_csv)
    assert code == 1, err
    assert "verdict: INCOHERENT" in out
    assert re.search(r"^a\s+sell\s+1\s+0\.6$", out, re.M), out
    assert re.search(r"^b\s+sell\s+1\s+0\.7$", out, re.M), out
    assert re.search(r"^a & b\s+buy\s+1\s+0\.2$", out, re.M), out
    assert "guaranteed profit: 0.1 (1/10)" in out
    assert "max profit with stakes in [-1, 1]: 0.1" in out
    assert "L1 distance to the nearest coherent prices: 0.1" in out


def test_incoherent_json(capsys, incoherent_csv):
    code, out, err = run_cli(capsys, "check", incoherent_csv, "--json")
    assert code == 1, err
    data = json.loads(out)
    assert {"verdict", "dutch_book", "max_profit", "l1_distance"} <= data.keys()
    assert data["verdict"] == "incoherent"
    assert data["max_profit"] == pytest.approx(0.1, abs=1e-9)
    assert data["l1_distance"] == pytest.approx(0.1, abs=1e-9)
    book = data["dutch_book"]
    sides = {p["sentence"]: p["side"] for p in book["positions"]}
    assert sides == {"a": "sell", "b": "sell", "a & b": "buy"}
    assert book["guaranteed_profit_exact"] == "1/10"


def test_coherent_json(capsys, coherent_csv):
    code, out, err = run_cli(capsys, "check", coherent_csv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"] == "coherent"
    assert data["dutch_book"] is None
    assert data["max_profit"] == 0.0 and data["l1_distance"] == 0.0
    assert sum(w["probability"] for w in data["distribution"]) == pytest.approx(1.0)


def test_first_reports_profit_bounds(capsys, incoherent_csv):
    code, out, err = run_cli(capsys, "check", incoherent_csv, "--first")
    assert code == 1, err
    assert "verdict: INCOHERENT" in out
    assert "guaranteed profit: 0.1" in out
    assert "max profit with stakes in [-1, 1]: between" in out


def test_conditional_prices_with_given_column(capsys, tmp_path):
    path = write_csv(tmp_path / "cond.csv", ["sentence", "price", "given"],
                     [("H", "0", ""), ("E", "0.3", "H"), ("~E", "0.9", "H")])
    code, out, err = run_cli(capsys, "check", path)
    assert code == 1, err
    assert "verdict: INCOHERENT" in out
    assert re.search(r"^E given H\s+sell\s+1\s+0\.3$", out, re.M), out
    assert re.search(r"^~E given H\s+sell\s+1\s+0\.9$", out, re.M), out
    assert "guaranteed profit: 0.2 (1/5)" in out


def test_conditional_prices_zero_probability_condition_coherent(capsys, tmp_path):
    path = write_csv(tmp_path / "cond.csv", ["sentence", "price", "given"],
                     [("H", "0", ""), ("E", "0.3", "H"), ("~E", "0.7", "H")])
    code, out, err = run_cli(capsys, "check", path)
    assert code == 0, err
    assert "verdict: COHERENT" in out


def test_theory_file_with_comments_and_exactly_one(capsys, tmp_path):
    prices = write_csv(tmp_path / "field.csv", ["sentence", "price"],
                       [("Wins(biden)", "0.5"), ("Wins(sanders)", "0.4"), ("Wins(warren)", "0.2")])
    theory = tmp_path / "field.txt"
    theory.write_text(
        "# one and only one candidate wins\n"
        "\n"
        "exactly_one(Wins(biden), Wins(sanders), Wins(warren))   # the field\n",
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "check", prices)
    assert code == 0, err  # without the theory the three prices are unrelated
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory)
    assert code == 1, err
    assert "verdict: INCOHERENT" in out
    for name in ("biden", "sanders", "warren"):
        assert re.search(rf"^Wins\({name}\)\s+sell\s+1\s", out, re.M), out
    assert "guaranteed profit: 0.1 (1/10)" in out


@pytest.mark.parametrize(("dem", "rep", "profit"), [
    ("0.43000000000000005", "0.5700000000000001", "3/20000000000000000"),
    ("0.52", "0.48000000000000004", "1/25000000000000000"),
])
def test_float_noise_at_the_boundary_gets_the_exact_verdict_within_tolerance(capsys, tmp_path, dem, rep, profit):
    prices = write_csv(tmp_path / "prices.csv", ["sentence", "price"], [("dem", dem), ("rep", rep)])
    theory = tmp_path / "theory.txt"
    theory.write_text("exactly_one(dem, rep)\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory)
    assert code == 0, err  # incoherent only by rounding noise: within the default tolerance
    assert "verdict: INCOHERENT" in out and f"({profit})" in out
    assert re.search(r"^within tolerance: incoherent by [0-9.e-]+, within the tolerance 1e-09 of coherent prices; "
                     r"nearest coherent prices \(to 12 digits\): dem = 0\.\d+, rep = 0\.\d+$", out, re.M), out
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory, "--json")
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "incoherent" and report["within_tolerance"] is True
    assert report["dutch_book"]["guaranteed_profit_exact"] == profit
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory, "--tolerance", "0")
    assert code == 1 and "verdict: INCOHERENT" in out and "within tolerance" not in out


def test_price_a_hair_above_one_is_noise_within_tolerance(capsys, tmp_path):
    prices = write_csv(tmp_path / "prices.csv", ["sentence", "price"], [("a", "1.0000000000000002"), ("b", "0.5")])
    code, out, err = run_cli(capsys, "check", prices)
    assert code == 0, err
    assert "verdict: INCOHERENT" in out and "guaranteed profit: 2e-16 (1/5000000000000000)" in out
    assert "note: the price of a is 1.0000000000000002, outside [0, 1] by 2e-16" in out
    assert "price 1.0000000000000002 is outside [0, 1]" in _bad(capsys, prices, "--tolerance", "0")
    far = write_csv(tmp_path / "far.csv", ["sentence", "price"], [("a", "1.01")])
    assert "line 2: price 1.01 is outside [0, 1] by more than the tolerance 1e-09" in _bad(capsys, far)


@pytest.mark.parametrize("tolerance", ["-1e-9", "nan", "1"])
def test_bad_tolerance_is_bad_input(capsys, coherent_csv, tolerance):
    assert "--tolerance" in _bad(capsys, coherent_csv, "--tolerance", tolerance)


def test_quoted_names(capsys, tmp_path):
    path = write_csv(tmp_path / "quoted.csv", ["sentence", "price"],
                     [('"Biden wins"', "0.6"), ('"Sanders wins"', "0.5"), ('"Biden wins" & "Sanders wins"', "0")])
    theory = tmp_path / "quoted.txt"
    theory.write_text('at_most_one("Biden wins", "Sanders wins")\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "check", path, "--theory", theory, "--json")
    assert code == 1, err
    data = json.loads(out)
    expected = ['"Biden wins"', '"Sanders wins"', '"Biden wins" & "Sanders wins"']
    assert [p["sentence"] for p in data["prices"]] == expected
    sides = {p["sentence"]: p["side"] for p in data["dutch_book"]["positions"]}
    assert sides['"Biden wins"'] == "sell" and sides['"Sanders wins"'] == "sell"
    assert data["max_profit"] == pytest.approx(0.1, abs=1e-9)


def test_unknown_when_conditioning_event_impossible(capsys, tmp_path):
    prices = write_csv(tmp_path / "cond.csv", ["sentence", "price", "given"], [("b", "0.5", "a"), ("b", "0.2", "")])
    theory = tmp_path / "theory.txt"
    theory.write_text("~a  # a never happens\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory)
    assert code == 3, err
    assert "verdict: UNKNOWN" in out
    assert "the conditioning event a is impossible under the theory" in out
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory, "--json")
    assert code == 3, err
    data = json.loads(out)
    assert data["verdict"] == "unknown" and data["dutch_book"] is None
    assert "impossible" in data["reason"]


def test_unknown_when_the_time_limit_ends_before_a_certificate(capsys, incoherent_csv):
    code, out, err = run_cli(capsys, "check", incoherent_csv, "--time-limit", "1e-9")
    assert code == 3, err
    assert "verdict: UNKNOWN" in out
    assert "time limit reached" in out
    assert "run with --time-limit 120 to search longer" in out


@pytest.fixture(scope="module")
def slow_check_files(tmp_path_factory) -> tuple[Path, Path]:
    """100 random clauses over 200 atoms under 400 random clauses: minutes to the optimum."""
    import numpy as np

    from deepmarkets.logic.testing import random_cnf_instance

    inst = random_cnf_instance(200, 100, 2.0, coherent=False, rng=np.random.default_rng([0, 2, 200, 100, 200, 0, 0]))
    folder = tmp_path_factory.mktemp("slow")
    prices = write_csv(folder / "prices.csv", ["sentence", "price"],
                       [(str(s), str(p)) for s, p in inst.price_map])
    theory = folder / "theory.txt"
    theory.write_text("".join(f"{a}\n" for a in inst.theory.axioms), encoding="utf-8")
    return prices, theory


@pytest.mark.parametrize("quiet", [False, True])
def test_check_answers_within_its_time_limit_with_bounds(slow_check_files, quiet):
    prices, theory = slow_check_files
    started = time.monotonic()
    proc = run_module("check", prices, "--theory", theory, "--time-limit", "6", *(["--quiet"] if quiet else []))
    assert time.monotonic() - started < 6 + 15  # start-up, reading and a loaded machine
    assert proc.returncode == 1, proc.stderr
    assert "verdict: INCOHERENT" in proc.stdout and "guaranteed profit" in proc.stdout
    hint = re.search(r"stopped at the time limit \(6 s\): max profit in \[([0-9.e+-]+), ([0-9.e+-]+)\]; "
                     r"run with --time-limit 120 for a tighter bound", proc.stdout)
    assert hint and 0 < float(hint[1]) <= float(hint[2])
    # progress off a terminal: a plain line every 5 s on standard error, none with --quiet
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("checking coherence: round ")]
    assert proc.stderr == "" if quiet else lines and "max profit in [" in lines[0]


# ---------------------------------------------------------------------------
# bad input: exit 2, the file (and the line) named, never a traceback
# ---------------------------------------------------------------------------
def _bad(capsys, *args) -> str:
    code, out, err = run_cli(capsys, "check", *args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ")
    assert "Traceback" not in err
    return err


def test_malformed_sentence_names_line_and_column(capsys, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["sentence", "price"], [("a", "0.5"), ("a & & b", "0.3")])
    err = _bad(capsys, path)
    assert str(path) in err
    assert "line 3, column 5" in err
    assert "in the 'sentence' cell" in err
    assert "    a & & b\n        ^" in err  # the cell with a pointer under the bad token


def test_malformed_given_names_column(capsys, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["sentence", "price", "given"], [("a", "0.5", "b |")])
    err = _bad(capsys, path)
    assert str(path) in err and "line 2" in err and "in the 'given' cell" in err


def test_unknown_column(capsys, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["sentence", "price", "odds"], [("a", "0.5", "1")])
    err = _bad(capsys, path)
    assert str(path) in err and "line 1" in err and "unknown column(s) 'odds'" in err


def test_missing_price_column(capsys, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["sentence"], [("a",)])
    err = _bad(capsys, path)
    assert str(path) in err and "line 1" in err and "missing column(s) price" in err


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("1.5", "price 1.5 is outside [0, 1]"),
        ("-0.1", "price -0.1 is outside [0, 1]"),
        ("NaN", "price is NaN"),
        ("abc", "price 'abc' is not a number"),
        ("", "price '' is not a number"),
    ],
)
def test_bad_price(capsys, tmp_path, price, message):
    path = write_csv(tmp_path / "p.csv", ["sentence", "price"], [("a", "0.5"), ("b", price)])
    err = _bad(capsys, path)
    assert str(path) in err and "line 3" in err and message in err


def test_empty_file(capsys, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    err = _bad(capsys, path)
    assert str(path) in err and "the file is empty" in err


def test_header_only(capsys, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["sentence", "price"], [])
    err = _bad(capsys, path)
    assert str(path) in err and "no prices" in err


def test_missing_file(capsys, tmp_path):
    path = tmp_path / "nope.csv"
    err = _bad(capsys, path)
    assert str(path) in err and "no such prices file" in err


def test_missing_theory_file(capsys, coherent_csv, tmp_path):
    theory = tmp_path / "nope.txt"
    err = _bad(capsys, coherent_csv, "--theory", theory)
    assert str(theory) in err and "no such theory file" in err


def test_row_with_too_many_fields(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sentence,price\na,0.5\nb,0.3,extra\n", encoding="utf-8")
    err = _bad(capsys, path)
    assert str(path) in err and "line 3" in err and "expected 2 fields, found 3" in err


def test_theory_syntax_error_names_theory_line(capsys, coherent_csv, tmp_path):
    theory = tmp_path / "theory.txt"
    theory.write_text("# comment\na -> b\nb & & a\n", encoding="utf-8")
    err = _bad(capsys, coherent_csv, "--theory", theory)
    assert str(theory) in err
    assert "line 3, column 5" in err
    assert "b & & a" in err  # the offending line is shown


def test_theory_without_possible_world(capsys, coherent_csv, tmp_path):
    theory = tmp_path / "theory.txt"
    theory.write_text("a\n~a\n", encoding="utf-8")
    err = _bad(capsys, coherent_csv, "--theory", theory)
    assert str(theory) in err
    assert "no possible world" in err


def test_usage_errors_exit_2(capsys):
    code, out, err = run_cli(capsys, "check")
    assert code == 2 and "Missing argument" in err
    code, out, err = run_cli(capsys, "frobnicate")
    assert code == 2 and "No such command" in err


# ---------------------------------------------------------------------------
# other commands
# ---------------------------------------------------------------------------
def test_help_and_version(capsys):
    code, out, err = run_cli(capsys, "--help")
    assert code == 0 and "check" in out and "demo" in out
    code, out, err = run_cli(capsys, "check", "--help")
    assert code == 0 and ("0 coherent or incoherent within --tolerance, 1 incoherent by more, 3 unknown, 2 bad input"
                          in " ".join(out.split()))
    code, out, err = run_cli(capsys, "--version")
    assert code == 0 and "0.1.0" in out


@pytest.mark.slow
def test_demo(capsys, tmp_path):
    png, page = tmp_path / "latent.png", tmp_path / "demo.html"
    code, out, err = run_cli(capsys, "demo", "--plot", str(png), "--report", str(page))
    assert code == 0, err
    assert out.rstrip().endswith(f"report of the whole demo written to {page.resolve()}")
    _check_demo_report(page)
    assert "verdict: INCOHERENT" in out
    assert "verdict: COHERENT" in out
    assert "Wins(Biden)" in out
    kl = re.search(r"KL\(true \|\| market\) [0-9.]+ -> ([0-9.]+) nats, below 0.02 after (\d+) trades", out)
    assert kl and float(kl.group(1)) < 0.02
    inside = re.search(r"(\d+)% of its parameters lie inside the 90% credible intervals", out)
    assert inside and int(inside.group(1)) >= 80
    nuts = re.search(r"2 chains x (\d+) draws .*max R-hat ([0-9.]+), min bulk ESS (\d+), min tail ESS (\d+), "
                     r"(\d+) divergences", out)
    assert nuts
    draws, rhat, bulk, tail, div = (float(v) for v in nuts.groups())
    passes = rhat <= 1.01 and bulk >= 100 * 2 and tail >= 100 * 2 and div == 0
    # the printed verdict is the convergence rule applied to the printed numbers (up to their rounding)
    assert ("diagnostics pass the convergence rule" in out) == passes
    assert ("diagnostics FAILED the convergence rule" in out) == (not passes)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_demo_report(page: Path) -> None:
    """The demo's page: every part of the main job, and numbers that obey their closed forms."""
    from fractions import Fraction

    from deepmarkets.demo import PREDICTIT, shared_data

    text = page.read_text(encoding="utf-8")
    for part in ("Declare a market", "Trade, and replay the book", "Coherence: built-in cases",
                 "Infer the hidden truth behind a book of reports", "A latent-variable market converging"):
        assert f">{part}</a>" in text, part  # in the page's contents
    data = json.loads(re.search(r'<script type="application/json" id="deepmarkets-data">(.*?)</script>', text,
                                re.S).group(1).replace("<\\/", "</"))
    assert [r["verdict"] for r in data["coherence"]] == ["incoherent", "incoherent", "coherent", "incoherent"]
    replay = data["replay"]
    assert sum(t["pnl"] for t in replay["traders"]) == pytest.approx(replay["maker_loss"], abs=1e-9)
    assert data["fit"]["model"] == "dawid-skene" and data["latent_market"]["kl_final"] < data["latent_market"][
        "kl_initial"]
    folder = shared_data()
    if folder is None or not (folder / PREDICTIT).is_file():
        assert data["predictit"] is None
        return
    import pandas as pd

    closes = pd.read_csv(folder / PREDICTIT)
    last = closes[closes["date"] == closes["date"].max()]["close"]
    excess = sum(Fraction(f"{c:.2f}") for c in last) - 1   # at most one nominee: selling every contract
    book = data["predictit"]["dutch_book"]
    assert data["predictit"]["verdict"] == "incoherent" and Fraction(book["guaranteed_profit_exact"]) == excess
    assert {p["side"] for p in book["positions"]} == {"sell"} and len(book["positions"]) == len(last)
    assert "Coherence of real prices: PredictIt" in text


def test_demo_rejects_a_plot_that_is_not_png(capsys, tmp_path):
    code, out, err = run_cli(capsys, "demo", "--plot", str(tmp_path / "x.jpg"))
    assert code == 2 and "ending in .png" in err and not (tmp_path / "x.jpg").exists()


def test_demo_json(capsys):
    code, out, err = run_cli(capsys, "demo", "--json")
    assert code == 0, err
    reports = json.loads(out)
    assert [r["verdict"] for r in reports] == ["incoherent", "incoherent", "coherent", "incoherent"]
    assert reports[0]["max_profit"] == pytest.approx(0.08, abs=1e-9)


# ---------------------------------------------------------------------------
# files as users have them: a byte-order mark, long cells, repeated sentences, long sentences
# ---------------------------------------------------------------------------
def test_files_saved_with_a_byte_order_mark(capsys, tmp_path):
    prices = tmp_path / "excel.csv"
    prices.write_text("sentence,price\na,0.6\nb,0.5\n", encoding="utf-8-sig")  # as Excel saves CSV UTF-8
    theory = tmp_path / "theory.txt"
    theory.write_text("a -> b\n", encoding="utf-8-sig")
    assert prices.read_bytes().startswith(b"\xef\xbb\xbf")
    code, out, err = run_cli(capsys, "check", prices, "--theory", theory)
    assert code == 1, err  # P(a) = 0.6 > P(b) = 0.5 although a implies b
    assert "guaranteed profit: 0.1 (1/10)" in out


def test_cell_longer_than_the_csv_module_limit(capsys, tmp_path):
    name = "n" * 140_000  # over the csv module's default cell limit of 131,072 characters
    path = write_csv(tmp_path / "long.csv", ["sentence", "price"], [(f'"{name}"', "0.3"), (f'~"{name}"', "0.8")])
    limit = csv.field_size_limit()
    code, out, err = run_cli(capsys, "check", path)
    assert code == 1, err and "Traceback" not in err
    assert "guaranteed profit: 0.1 (1/10)" in out
    assert csv.field_size_limit() == limit  # lifted for this file only


def test_a_sentence_priced_twice(capsys, tmp_path):
    same = write_csv(tmp_path / "same.csv", ["sentence", "price"], [("a & b", "0.3"), ("a", "0.5"), ("a&b", "0.3")])
    code, out, err = run_cli(capsys, "check", same)
    assert code == 0, err
    assert "note: a & b is priced 2 times, each at 0.3; counted once" in out
    differ = write_csv(tmp_path / "differ.csv", ["sentence", "price"], [("a & b", "0.3"), ("a&b", "0.4")])
    code, out, err = run_cli(capsys, "check", differ)
    assert code == 1, err
    assert re.search(r"^a & b\s+buy\s+1\s+0\.3$", out, re.M) and re.search(r"^a & b\s+sell\s+1\s+0\.4$", out, re.M)
    assert "guaranteed profit: 0.1 (1/10)" in out
    assert "buying it at 0.3 and selling it at 0.4 wins 0.1 whatever happens, a Dutch book by itself" in out


def test_subprocess_deep_sentences_have_no_traceback(tmp_path):
    wide = write_csv(tmp_path / "wide.csv", ["sentence", "price"],
                     [(" | ".join(f"x{i}" for i in range(600)), "0.9"), ("x0", "0.2"), ("x1", "0.3")])
    proc = run_module("check", wide)
    assert proc.returncode == 0 and "verdict: COHERENT" in proc.stdout, proc.stderr
    deep = write_csv(tmp_path / "deep.csv", ["sentence", "price"], [("~" * 601 + "a", "0.3"), ("a", "0.8")])
    proc = run_module("check", deep)
    assert proc.returncode == 1 and "guaranteed profit: 0.1 (1/10)" in proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_sentence_of_1e5_atoms_in_a_price_file(capsys, tmp_path):
    wide = " | ".join(f"x{i}" for i in range(100_000))
    path = write_csv(tmp_path / "wide.csv", ["sentence", "price"], [(wide, "0.1"), ("x7", "0.2")])
    code, out, err = run_cli(capsys, "check", path, "--time-limit", "600")  # about 15 s: no budget on a busy machine
    assert code == 1, err  # x7 implies the disjunction
    assert "guaranteed profit: 0.1 (1/10)" in out


# ---------------------------------------------------------------------------
# internal errors and outputs that cannot be written
# ---------------------------------------------------------------------------
def test_an_internal_error_is_one_line_and_its_own_exit_status(capsys, monkeypatch, coherent_csv):
    import deepmarkets.logic

    def broken(*args, **kwargs):
        raise RuntimeError("the solver fell over")

    monkeypatch.setattr(deepmarkets.logic, "check_coherence", broken)
    monkeypatch.delenv("DEEPMARKETS_DEBUG", raising=False)
    code, out, err = run_cli(capsys, "check", coherent_csv)
    assert code == 70 and out == ""
    assert err.startswith("internal error: RuntimeError: the solver fell over\n")
    assert "please report it" in err and "deepmarkets --debug" in err
    assert "Traceback" not in err
    code, out, err = run_cli(capsys, "--debug", "check", coherent_csv)
    assert code == 70 and "Traceback (most recent call last)" in err and "internal error: RuntimeError" in err
    monkeypatch.setenv("DEEPMARKETS_DEBUG", "1")
    code, out, err = run_cli(capsys, "check", coherent_csv)
    assert code == 70 and "Traceback (most recent call last)" in err


OUTPUTS = [
    ("demo", [], "--plot", ".png"),
    ("replay", ["book.csv", "--market", "market.toml"], "--plot", ".png"),
    ("infer", ["book.csv"], "--labels", ".csv"),
    ("infer", ["book.csv", "--method", "nuts"], "--posterior", ".nc"),
    ("induct", ["spec.toml"], "--log", ".jsonl"),
    ("induct", ["spec.toml"], "--plot", ".png"),
]


@pytest.mark.parametrize(("command", "args", "option", "suffix"), OUTPUTS)
def test_an_output_under_a_file_fails_before_any_work(capsys, tmp_path, monkeypatch, command, args, option, suffix):
    # the inputs do not exist: the output is checked first, so the message is about the output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    code, out, err = run_cli(capsys, command, *args, option, f"notes.txt/out{suffix}")
    assert code == 2 and out == ""
    assert err == f"error: {option} notes.txt/out{suffix}: {tmp_path / 'notes.txt'} is a file, not a folder\n"


@pytest.mark.parametrize(("command", "args", "option", "suffix"), OUTPUTS)
def test_an_output_in_a_folder_that_refuses_files_fails_before_any_work(capsys, tmp_path, command, args, option,
                                                                         suffix):
    if os.name != "posix" or os.geteuid() == 0:
        folder = Path("/proc")  # refuses new files even to root
        if not folder.is_dir():
            pytest.skip("no folder here refuses new files")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
    target = folder / f"out{suffix}"
    code, out, err = run_cli(capsys, command, *(tmp_path / a if "." in a else a for a in args), option, target)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {option} {target}: cannot create a file in {folder} (")
    assert not target.exists()


@pytest.mark.parametrize(("args", "option", "expected"), [
    (["check", "p.csv", "--time-limit", "-1"], "--time-limit", "a finite number > 0"),
    (["check", "p.csv", "--time-limit", "0"], "--time-limit", "a finite number > 0"),
    (["check", "p.csv", "--time-limit", "nan"], "--time-limit", "a finite number > 0"),
    (["check", "p.csv", "--time-limit", "inf"], "--time-limit", "a finite number > 0"),
    (["replay", "b.csv", "--market", "m.toml", "--price-tol", "nan"], "--price-tol", "a finite number >= 0"),
    (["replay", "b.csv", "--market", "m.toml", "--price-tol", "-1e-9"], "--price-tol", "a finite number >= 0"),
    (["infer", "b.csv", "--chains", "0"], "--chains", "a whole number >= 1"),
    (["infer", "b.csv", "--draws", "1.5"], "--draws", "a whole number >= 1"),
    (["infer", "b.csv", "--draws", "nan"], "--draws", "a whole number >= 1"),
    (["infer", "b.csv", "--tune", "-1"], "--tune", "a whole number >= 0"),
    (["infer", "b.csv", "--restarts", "0"], "--restarts", "a whole number >= 1"),
    (["infer", "b.csv", "--classes", "-2"], "--classes", "a whole number >= 1"),
    (["infer", "b.csv", "--seed", "-1"], "--seed", "a whole number >= 0"),
    (["induct", "s.toml", "--days", "0"], "--days", "a whole number >= 1"),
])
def test_numeric_options_must_be_finite_and_in_range(capsys, tmp_path, args, option, expected):
    # checked before any file is read: the files named here do not exist
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert f"Invalid value for '{option}': '{args[-1]}': expected {expected}" in err
