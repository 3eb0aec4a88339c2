"""``deepmarkets sweep``: the example spec run end to end, its table written atomically, failed tasks exit 1,
and bad specs or options refused with exit 2 before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from deepmarkets.cli import main
from deepmarkets.helpers import cluster
from deepmarkets.sweeps import runner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sweep.toml"
COHERENCE = """task = "coherence"
repeats = 2
[grid]
n_atoms = [2, 3]
kind = ["exactly_one", "{bad}"]
"""


def _spec(tmp_path, text: str) -> str:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return str(path)


def test_the_example_runs_and_writes_parquet(tmp_path, capsys):
    out = tmp_path / "results.parquet"
    assert main(["sweep", str(EXAMPLE), "--scheduler", "serial", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sweep of economy: 12 tasks (6 points x 2 repeats) on serial" in text and "0 failed" in text
    assert "auction" in text and "clones" in text and f"table written to {out}" in text
    table = pd.read_parquet(out)
    assert len(table) == 12 and table["credit_conserved"].all() and table["error"].isna().all()
    assert set(zip(table["auction"], table["clones"], strict=True)) == \
        {(a, c) for a in ("ccv", "vickrey", "first") for c in (1, 2)}
    assert (table.loc[table["auction"] != "vickrey", "minted"] == 0).all()
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]   # no temporary file left


def test_json_holds_every_row_with_the_seeds_of_the_api(tmp_path, capsys):
    spec = _spec(tmp_path, COHERENCE.format(bad="conjunctions"))
    assert main(["sweep", spec, "--scheduler", "serial", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["tasks"] == 8 and d["failed"] == 0 and d["parameters"] == ["n_atoms", "kind"]
    point = {"n_atoms": d["rows"][3]["n_atoms"], "kind": d["rows"][3]["kind"]}
    assert d["rows"][3]["seed"] == runner.task_seed(point, d["rows"][3]["repeat"], 0)


def test_failed_tasks_exit_1_and_keep_their_rows(tmp_path, capsys):
    out = tmp_path / "results.csv"
    spec = _spec(tmp_path, COHERENCE.format(bad="bogus"))
    assert main(["sweep", spec, "--scheduler", "serial", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "4 failed" in captured.out and "first error: DeclarationError: kind='bogus'" in captured.out
    assert "warning: 4 of 8 sweep tasks failed" in captured.err
    table = pd.read_csv(out)
    assert len(table) == 8 and table["error"].notna().sum() == 4
    assert table.loc[table["kind"] == "exactly_one", "max_profit"].notna().all()


def test_a_task_named_by_module_and_function(tmp_path, capsys):
    spec = _spec(tmp_path, 'task = "deepmarkets.sweeps.tasks:coherence"\n[grid]\nn_atoms = [2]\n')
    assert main(["sweep", spec, "--scheduler", "serial", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["sentences"] == 2


@pytest.mark.parametrize(("spec", "args", "message"), [
    ('task = "coherence"\n[grid]\nn_atoms = 3\n', [], "expected a list of values"),
    ('task = "coherence"\nepisodes = 3\n[grid]\nn_atoms = [3]\n', [], "unknown key 'episodes'"),
    ('[grid]\nn_atoms = [3]\n', [], "no task"),
    ('task = "nope"\n[grid]\nn_atoms = [3]\n', [], "expected a built-in task"),
    ('task = "no_such_module:fn"\n[grid]\nn_atoms = [3]\n', [], "cannot import 'no_such_module'"),
    ('task = "coherence"\n', [], "either a [grid] table"),
    ('task = "coherence"\nrepeats = 0\n[grid]\nn_atoms = [3]\n', [], "repeats=0"),
    ('task = "coherence"\n[grid]\nn_atoms = [3]\n', ["--scheduler", "threads"], "expected None or 'local'"),
    ('task = "coherence"\n[grid]\nn_atoms = [3]\n', ["--out", "results.txt"], "ending in .parquet or .csv"),
    ('task = "coherence"\n[grid\n', [], "not valid TOML"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, spec, args, message):
    out = tmp_path / "old.csv"
    out.write_text("old\n")
    path = _spec(tmp_path, spec)
    args = [a if a != "results.txt" else str(tmp_path / a) for a in args]
    args += [] if "--scheduler" in args else ["--scheduler", "serial"]
    args += [] if "--out" in args else ["--out", str(out)]
    assert main(["sweep", path, *args]) == 2
    assert message in capsys.readouterr().err
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["old.csv", "spec.toml"]


def test_an_unreachable_scheduler_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    spec = _spec(tmp_path, 'task = "coherence"\n[grid]\nn_atoms = [2]\n')
    assert main(["sweep", spec, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
