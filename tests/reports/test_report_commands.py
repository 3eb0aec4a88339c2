"""``--report OUT.html`` on every job command: the page holds the --json data, shows its numbers, and is
self-contained; bad input writes nothing."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from report_pages import Page, external_references, shown_numbers, without_seconds

from deepmarkets.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SWEEP = """task = "economy"
repeats = 1
seed = 3
[fixed]
environment = "chain"
env_n_states = 4
episodes = 30
[grid]
auction = ["ccv", "vickrey"]
"""

#: command, its arguments (a "{tmp}" is the test's folder), and what the page must say
JOBS = {
    "check": (["check", EXAMPLES / "prices.csv", "--theory", EXAMPLES / "theory.txt"],
              ["INCOHERENT", "Dutch book", "guaranteed profit (exact)", "1/5"]),
    "check-coherent": (["check", "{tmp}/coherent.csv"], ["COHERENT", "A distribution over possible worlds"]),
    "replay": (["replay", EXAMPLES / "weather_book.csv", "--market", EXAMPLES / "weather.toml", "--world",
                EXAMPLES / "weather_world.txt"], ["REPLAYED", "maker loss", "final price"]),
    "infer": (["infer", EXAMPLES / "answers.csv"], ["CONVERGED", "Confusion matrix of ann", "reliability"]),
    "induct": (["induct", EXAMPLES / "induction.toml", "--days", "12"],
               ["EVERY DAY CHECKED EXACTLY", "day entered the deductive process"]),
    "economy": (["economy", EXAMPLES / "economy.toml", "--episodes", "40"],
                ["CREDIT CONSERVED", "Spearman rank correlation"]),
    "bria": (["bria", EXAMPLES / "bria.toml", "--rounds", "150"], ["L_T WITHIN THE ALLOWANCE", "Hypotheses by wins"]),
    "layered": (["layered", "wine", "--rounds", "2", "--restarts", "1"],
                ["adjusted Rand index (location vs", "held-out log score per datum (nats)"]),
    "sweep": (["sweep", "{tmp}/sweep.toml", "--scheduler", "serial"], ["EVERY TASK RAN", "Mean of each output"]),
}


def _args(args, tmp: Path) -> list[str]:
    return [str(a).replace("{tmp}", str(tmp)) for a in args]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each job run twice, with --json and with --report: (exit codes, JSON, page text)."""
    import matplotlib

    matplotlib.use("Agg")
    tmp = tmp_path_factory.mktemp("reports")
    (tmp / "coherent.csv").write_text("sentence,price\na,0.6\nb,0.7\na & b,0.3\n")
    (tmp / "sweep.toml").write_text(SWEEP)
    out = {}
    for name, (args, _) in JOBS.items():
        argv = _args(args, tmp)
        page = tmp / f"{name}.html"
        code_report = main([*argv, "--report", str(page)])
        out[name] = (code_report, page)
    return tmp, out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(JOBS))
def test_the_page_holds_the_json_and_shows_its_numbers(runs, capsys, name):
    tmp, pages = runs
    code_report, path = pages[name]
    capsys.readouterr()
    code_json = main([*_args(JOBS[name][0], tmp), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert code_report == code_json
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    # the same numbers as --json (timings aside: the two runs are separate)
    assert without_seconds(page.data) == without_seconds(printed)
    # every number a result table shows is one of the data's, to the digits shown (the inputs are the command's)
    allowed = shown_numbers(page.data)
    stray = [n for section, numbers in page.numbers_by_section.items() if section != "Inputs"
             for n in numbers if n != "–" and n not in allowed]
    assert not stray, f"numbers shown but not in the data: {stray[:10]}"
    for phrase in JOBS[name][1]:
        assert phrase in text, phrase
    assert f"<code>deepmarkets {' '.join(_args(JOBS[name][0], tmp))} --report {path}</code>" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", list(JOBS))
def test_the_page_is_self_contained_and_its_images_decode(runs, name):
    _, pages = runs
    text = pages[name][1].read_text(encoding="utf-8")
    assert external_references(text) == []
    images = [a for t, a in Page(text).tags if t == "img"]
    assert images and all(a.get("alt") for a in images)
    for a in images:
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(a["src"].split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.01  # a picture, not a blank


@pytest.mark.parametrize("args", [
    ["check", "{tmp}/missing.csv"],
    ["replay", EXAMPLES / "weather_book.csv", "--market", "{tmp}/missing.toml"],
    ["infer", "{tmp}/missing.csv"],
    ["induct", "{tmp}/missing.toml"],
    ["economy", "{tmp}/missing.toml"],
    ["bria", "{tmp}/missing.toml"],
    ["layered", "{tmp}/missing.csv"],
    ["sweep", "{tmp}/missing.toml"],
    ["check", "{tmp}/bad.csv"],
])
def test_bad_input_writes_no_report(tmp_path, capsys, args):
    (tmp_path / "bad.csv").write_text("sentence,price\na,1.5\n")
    page = tmp_path / "r.html"
    assert main([*_args(args, tmp_path), "--report", str(page)]) == 2
    assert not page.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("command", ["check", "replay", "infer", "induct", "economy", "bria", "layered", "sweep",
                                     "demo"])
def test_a_report_not_named_html_is_refused_before_any_work(tmp_path, capsys, command):
    args = {"replay": ["book.csv", "--market", "m.toml"], "demo": []}.get(command, ["input.csv"])
    assert main([command, *args, "--report", str(tmp_path / "r.pdf")]) == 2
    assert "--report" in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_nuts_fit_that_fails_the_convergence_rule_says_so(tmp_path, capsys):
    page = tmp_path / "nuts.html"
    # one chain always fails the rule (R-hat needs two); the exit status says so, and so does the page
    code = main(["infer", str(EXAMPLES / "answers.csv"), "--method", "nuts", "--chains", "1", "--draws", "60",
                 "--tune", "60", "--report", str(page)])
    capsys.readouterr()
    text = page.read_text(encoding="utf-8")
    data = Page(text).data
    assert code == 1 and data["method"] == "nuts" and data["diagnostics"]["chains"] == 1
    assert "DIAGNOSTICS FAILED" in text and "The convergence rule (R-hat &lt;= 1.01" in text
    assert text.count("<img ") == 2  # class shares with their posterior intervals, reliabilities


def test_incoherence_within_the_tolerance_is_neutral_on_the_page(tmp_path, capsys):
    prices, page = tmp_path / "p.csv", tmp_path / "p.html"
    prices.write_text("sentence,price\na,0.43000000000000005\n~a,0.5700000000000001\n")  # 1.5e-16 above 1
    assert main(["check", str(prices), "--report", str(page)]) == 0
    capsys.readouterr()
    text = page.read_text(encoding="utf-8")
    assert '<div class="verdict neutral">INCOHERENT</div>' in text and "the incoherence is rounding noise" in text
    assert Page(text).data["within_tolerance"] is True
