"""``deepmarkets replay``: numbers checked against the LMSR closed form, JSON, the PNG plot, bad input.

Most cases call :func:`deepmarkets.cli.main` in-process; one runs the real command in a subprocess.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepmarkets.cli import main

B = 10.0
OUTCOMES = ["rain", "snow", "dry"]
#: (trader, security, quantity); rain is outcome 0, snow 1, dry 2
TRADES = [
    ("ann", "rain", 8.0), ("bob", "snow", 5.0), ("cat", "dry", 6.0), ("ann", "rain", 4.0), ("bob", "rain", -3.0),
    ("dan", "snow", -4.0), ("cat", "dry", -2.0), ("dan", "rain", 6.0), ("ann", "snow", -2.0), ("bob", "dry", 3.0),
]
MARKET_TOML = f"""\
name = "weather"
theory = ["~(rain & snow)"]

[maker]
kind = "lmsr"
b = {B}

[[securities]]
name = "rain"
sentence = "rain"

[[securities]]
name = "snow"
sentence = "snow"

[[securities]]
name = "dry"
sentence = "~rain & ~snow"
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------
# the LMSR by hand, independently of the package
# ---------------------------------------------------------------------------
def lmsr_cost(q: np.ndarray) -> float:
    z = q / B
    m = z.max()
    return float(B * (m + math.log(np.exp(z - m).sum())))


def expected(trades=TRADES, outcome: str | None = "rain") -> dict:
    """Per-trade costs, final state and prices, per-trader cash/payout/pnl, maker revenue and loss."""
    q = np.zeros(3)
    costs = []
    for _, sec, k in trades:
        delta = np.zeros(3)
        delta[OUTCOMES.index(sec)] = k
        costs.append(lmsr_cost(q + delta) - lmsr_cost(q))
        q = q + delta
    prices = np.exp(q / B - (q / B).max())
    prices /= prices.sum()
    traders: dict[str, dict[str, float]] = {}
    for (who, sec, k), c in zip(trades, costs, strict=True):
        t = traders.setdefault(who, {"cash": 0.0, "payout": 0.0, "trades": 0})
        t["cash"] -= c
        t["trades"] += 1
        t["payout"] += k if sec == outcome else 0.0
    for t in traders.values():
        t["pnl"] = t["cash"] + t["payout"]
    revenue = lmsr_cost(q) - lmsr_cost(np.zeros(3))
    payout = q[OUTCOMES.index(outcome)] if outcome else float("nan")
    return {"costs": costs, "q": q, "prices": dict(zip(OUTCOMES, prices, strict=True)), "traders": traders,
            "revenue": revenue, "loss": payout - revenue}


# ---------------------------------------------------------------------------
# fixtures and small utilities
# ---------------------------------------------------------------------------
def book_frame(trades=TRADES, prices: list[float] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(trades, columns=["trader", "security", "quantity"])
    frame.insert(0, "time", np.arange(1.0, len(trades) + 1))
    if prices is not None:
        frame["price"] = prices
    return frame


def write_book(path: Path, frame: pd.DataFrame) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False))
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


@pytest.fixture
def market(tmp_path) -> Path:
    path = tmp_path / "weather.toml"
    path.write_text(MARKET_TOML, encoding="utf-8")
    return path


@pytest.fixture
def book(tmp_path) -> Path:
    return write_book(tmp_path / "book.csv", book_frame())


@pytest.fixture
def world(tmp_path) -> Path:
    path = tmp_path / "world.txt"
    path.write_text("# it rained\nrain\n~snow\n", encoding="utf-8")
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["replay", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out: str, first: str) -> list[str]:
    """The cells of the output line starting with ``first``."""
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no line starting with {first!r} in:\n{out}")


# ---------------------------------------------------------------------------
# good runs
# ---------------------------------------------------------------------------
def test_table_numbers_match_the_closed_form(capsys, market, book, world):
    code, out, err = run_cli(capsys, book, "--market", market, "--world", world)
    assert code == 0, err
    exp = expected()
    assert "outcome: rain" in out
    for who, t in exp["traders"].items():
        cells = table_row(out, who)
        assert int(cells[1]) == t["trades"]
        assert float(cells[2]) == pytest.approx(t["cash"], rel=1e-5)
        assert float(cells[3]) == pytest.approx(t["payout"], rel=1e-5)
        assert float(cells[4]) == pytest.approx(t["pnl"], rel=1e-5)
    # P&L per trader sums to the maker's loss (money is conserved), shown on the total line
    total = table_row(out, "total")
    assert float(total[4]) == pytest.approx(exp["loss"], rel=1e-5)
    assert sum(t["pnl"] for t in exp["traders"].values()) == pytest.approx(exp["loss"], rel=1e-12)
    loss = float(re.search(r"maker loss \(payout - revenue\): (\S+)", out).group(1))
    assert loss == pytest.approx(exp["loss"], rel=1e-5)
    revenue = float(re.search(r"maker revenue \(C\(q_T\) - C\(q_0\)\): (\S+)", out).group(1))
    assert revenue == pytest.approx(exp["revenue"], rel=1e-5)
    for name, p in exp["prices"].items():
        cells = table_row(out, name)
        assert float(cells[1]) == pytest.approx(1 / 3, rel=1e-5)  # start
        assert float(cells[2]) == pytest.approx(p, rel=1e-5)  # final
    assert "price mismatches: none (0 recorded price(s) checked" in out


def test_json_is_the_replay_dict(capsys, market, book, world):
    code, out, err = run_cli(capsys, book, "--market", market, "--world", world, "--json")
    assert code == 0, err
    data = json.loads(out)
    exp = expected()
    assert data["market"] == "weather" and data["n_trades"] == len(TRADES) and data["outcome"] == "rain"
    assert data["mismatches"] == 0
    assert data["maker_revenue"] == pytest.approx(exp["revenue"], rel=1e-12)
    assert data["maker_loss"] == pytest.approx(exp["loss"], rel=1e-12)
    assert sum(t["pnl"] for t in data["traders"]) == pytest.approx(data["maker_loss"], rel=1e-12)
    assert data["final_prices"] == pytest.approx(exp["prices"], rel=1e-12)
    assert sum(data["final_prices"].values()) == pytest.approx(1.0, abs=1e-12)
    by_name = {t["trader"]: t for t in data["traders"]}
    assert set(by_name) == set(exp["traders"])
    for who, t in exp["traders"].items():
        assert by_name[who]["cash"] == pytest.approx(t["cash"], rel=1e-12)
        assert by_name[who]["pnl"] == pytest.approx(t["pnl"], rel=1e-12)
    assert by_name["ann"]["position[rain]"] == 12.0 and by_name["ann"]["position[snow]"] == -2.0
    # the maker cannot lose more than b log n, whatever happened
    assert data["maker_loss"] <= B * math.log(3) + 1e-12


def test_world_given_as_an_outcome_name(capsys, market, book):
    code, out, err = run_cli(capsys, book, "--market", market, "--world", "snow", "--json")
    assert code == 0, err
    data = json.loads(out)
    exp = expected(outcome="snow")
    assert data["outcome"] == "snow"
    assert data["maker_loss"] == pytest.approx(exp["loss"], rel=1e-12)
    # snow ended with q = 5 - 4 - 2 = -1: the maker collected the revenue and paid -1
    assert exp["q"][1] == -1.0 and data["maker_loss"] == pytest.approx(-1.0 - exp["revenue"], rel=1e-12)


def test_without_a_world_nothing_is_settled(capsys, market, book):
    code, out, err = run_cli(capsys, book, "--market", market)
    assert code == 0, err
    assert "not settled" in out and "maker loss" not in out
    assert table_row(out, "ann")[3:] == ["-", "-"]
    code, out, err = run_cli(capsys, book, "--market", market, "--json")
    data = json.loads(out)
    assert data["outcome"] is None and data["maker_loss"] is None
    assert all(t["pnl"] is None for t in data["traders"])
    assert data["maker_revenue"] == pytest.approx(expected()["revenue"], rel=1e-12)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_json_lines_books_give_the_same_replay(capsys, market, book, world, tmp_path, suffix):
    other = write_book(tmp_path / f"book{suffix}", book_frame())
    _, out_csv, _ = run_cli(capsys, book, "--market", market, "--world", world, "--json")
    code, out, err = run_cli(capsys, other, "--market", market, "--world", world, "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(out_csv)


def test_plot_is_a_png_written_atomically(capsys, market, book, world, tmp_path):
    png = tmp_path / "plots" / "prices.png"
    png.parent.mkdir()
    code, out, err = run_cli(capsys, book, "--market", market, "--world", world, "--plot", png)
    assert code == 0, err
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert f"price paths written to {png}" in out
    assert sorted(p.name for p in png.parent.iterdir()) == ["prices.png"]  # no temporary file left
    # the PNG header's width and height (IHDR) describe a real figure
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 200 and height > 100


def test_recorded_prices_checked(capsys, market, tmp_path, world):
    per_unit = [c / k for c, (_, _, k) in zip(expected()["costs"], TRADES, strict=True)]
    good = write_book(tmp_path / "good.csv", book_frame(prices=[round(p, 8) for p in per_unit]))
    code, out, err = run_cli(capsys, good, "--market", market, "--world", world)
    assert code == 0, err
    assert f"price mismatches: none ({len(TRADES)} recorded price(s) checked, tolerance 1e-06)" in out

    wrong = list(per_unit)
    wrong[4] += 0.01  # bob's sale of rain, the fifth row (line 6)
    bad = write_book(tmp_path / "bad.csv", book_frame(prices=wrong))
    code, out, err = run_cli(capsys, bad, "--market", market, "--world", world)
    assert code == 1, err
    assert f"price mismatches: 1 of {len(TRADES)} trades" in out
    cells = table_row(out, str(bad))
    assert cells[1:4] == ["row", "5", "(line"] and cells[6:8] == ["rain", "-3"]
    assert float(cells[8]) == pytest.approx(wrong[4], rel=1e-9)
    assert float(cells[9]) == pytest.approx(per_unit[4], rel=1e-9)
    code, out, err = run_cli(capsys, bad, "--market", market, "--json", "--price-tol", "0.02")
    assert code == 0 and json.loads(out)["mismatches"] == 0


def test_subprocess_run_and_bad_input(market, book, world, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deepmarkets", "replay", str(book), "--market", str(market),
                           "--world", str(world)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "outcome: rain" in proc.stdout
    missing = tmp_path / "nope.csv"
    proc = subprocess.run([sys.executable, "-m", "deepmarkets", "replay", str(missing), "--market", str(market)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and str(missing) in proc.stderr and "no such file" in proc.stderr


# ---------------------------------------------------------------------------
# bad input: exit 2, one line naming the problem, no traceback, no plot
# ---------------------------------------------------------------------------
def bad_run(capsys, tmp_path, *args) -> str:
    png = tmp_path / "out.png"
    code, out, err = run_cli(capsys, *args, "--plot", png)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ") and "Traceback" not in err
    assert not png.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    return err


def test_missing_column(capsys, tmp_path, market):
    path = write_book(tmp_path / "b.csv", book_frame().drop(columns=["security"]))
    err = bad_run(capsys, tmp_path, path, "--market", market)
    assert str(path) in err and "no column for security" in err


def test_unknown_security(capsys, tmp_path, market):
    path = write_book(tmp_path / "b.csv", book_frame([*TRADES[:3], ("eve", "hail", 1.0)]))
    err = bad_run(capsys, tmp_path, path, "--market", market)
    assert f"{path} row 4 (line 5)" in err and "no security 'hail'" in err and "'rain', 'snow', 'dry'" in err


def test_bad_value_names_row_and_column(capsys, tmp_path, market):
    path = tmp_path / "b.csv"
    path.write_text("trader,security,quantity\nann,rain,2\nbob,snow,lots\n", encoding="utf-8")
    err = bad_run(capsys, tmp_path, path, "--market", market)
    assert f"{path}: row 2 (line 3), column quantity" in err and "'lots' is not a number" in err


def test_bad_toml(capsys, tmp_path, book):
    path = tmp_path / "m.toml"
    path.write_text('name = "weather"\n[maker\nkind = "lmsr"\n', encoding="utf-8")
    err = bad_run(capsys, tmp_path, book, "--market", path)
    assert str(path) in err and "not valid TOML" in err and "line 2" in err


def test_market_that_is_not_exhaustive(capsys, tmp_path, book):
    path = tmp_path / "m.toml"
    path.write_text(MARKET_TOML.replace('sentence = "~rain & ~snow"', 'sentence = "~rain & ~snow & cold"'),
                    encoding="utf-8")
    err = bad_run(capsys, tmp_path, book, "--market", path)
    assert str(path) in err and "are not exhaustive" in err and "{cold=False, rain=False, snow=False}" in err


@pytest.mark.parametrize("which", ["book", "market"])
def test_nonexistent_file(capsys, tmp_path, market, book, which):
    missing = tmp_path / "nope.csv"
    args = (missing, "--market", market) if which == "book" else (book, "--market", tmp_path / "nope.toml")
    err = bad_run(capsys, tmp_path, *args)
    assert (str(missing) in err and "no such file" in err) if which == "book" else "no such market file" in err


def test_world_with_two_outcomes(capsys, tmp_path, market, book):
    path = tmp_path / "w.txt"
    path.write_text("rain\nsnow\n", encoding="utf-8")
    err = bad_run(capsys, tmp_path, book, "--market", market, "--world", path)
    assert str(path) in err and "makes 2 outcomes true (rain, snow)" in err


def test_world_that_decides_nothing_or_is_unknown(capsys, tmp_path, market, book):
    path = tmp_path / "w.txt"
    path.write_text("~snow\n", encoding="utf-8")
    err = bad_run(capsys, tmp_path, book, "--market", market, "--world", path)
    assert str(path) in err and "does not decide the outcome" in err
    err = bad_run(capsys, tmp_path, book, "--market", market, "--world", "hail")
    assert "no such world file, and not an outcome" in err and "(rain, snow, dry)" in err


def test_world_syntax_error_points_at_the_line(capsys, tmp_path, market, book):
    path = tmp_path / "w.txt"
    path.write_text("# comment\nrain & & snow\n", encoding="utf-8")
    err = bad_run(capsys, tmp_path, book, "--market", market, "--world", path)
    assert str(path) in err and "line 2, column 8" in err


def test_trade_the_maker_refuses_names_the_row(capsys, tmp_path, book):
    path = tmp_path / "m.toml"
    path.write_text(MARKET_TOML.replace('kind = "lmsr"\nb = 10.0', 'kind = "lslmsr"\nalpha = 0.05'),
                    encoding="utf-8")
    sells = write_book(tmp_path / "b.csv", book_frame([("ann", "rain", 1.0), ("bob", "snow", -50.0)]))
    err = bad_run(capsys, tmp_path, sells, "--market", path)
    assert f"{sells} row 2 (line 3)" in err and "sum(q) > 0" in err


def test_bad_options(capsys, tmp_path, market, book):
    code, out, err = run_cli(capsys, book, "--market", market, "--price-tol", "-1")
    assert code == 2 and out == "" and "Invalid value for '--price-tol': '-1': expected a finite number >= 0" in err
    code, out, err = run_cli(capsys, book, "--market", market, "--plot", tmp_path / "x.jpg")
    assert code == 2 and "ending in .png" in err and not (tmp_path / "x.jpg").exists()
    code, out, err = run_cli(capsys, book, "--market", market, "--plot", tmp_path / "no" / "x.png")
    assert code == 2 and "does not exist" in err
    code, out, err = run_cli(capsys, book)
    assert code == 2 and "Missing option '--market'" in err


def test_bad_input_leaves_an_existing_plot_alone(capsys, tmp_path, market, book):
    png = tmp_path / "out.png"
    png.write_bytes(b"old")
    path = tmp_path / "w.txt"
    path.write_text("rain\nsnow\n", encoding="utf-8")
    code, out, err = run_cli(capsys, book, "--market", market, "--world", path, "--plot", png)
    assert code == 2
    assert png.read_bytes() == b"old"


def test_shipped_example(capsys):
    examples = Path(__file__).resolve().parents[2] / "examples"
    book, market, world = (examples / n for n in ("weather_book.csv", "weather.toml", "weather_world.txt"))
    if not book.exists():
        pytest.skip("examples/ is not part of this checkout")
    code, out, err = run_cli(capsys, book, "--market", market, "--world", world, "--json")
    assert code == 0, err  # every recorded price matches the replay
    data = json.loads(out)
    exp = expected()  # the example holds the same trades as TRADES, with prices recorded to 6 decimals
    assert data["n_trades"] == len(TRADES) and data["mismatches"] == 0 and data["outcome"] == "rain"
    assert data["maker_loss"] == pytest.approx(exp["loss"], rel=1e-12)
    assert data["final_prices"] == pytest.approx(exp["prices"], rel=1e-12)
