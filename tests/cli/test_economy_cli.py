"""``deepmarkets economy``: a TOML spec run end to end, its log, plot and JSON, and bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepmarkets.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "economy.toml"


def test_example_spec_runs_logs_every_episode_and_plots(tmp_path, capsys):
    log, png = tmp_path / "episodes.jsonl", tmp_path / "economy.png"
    assert main(["economy", str(EXAMPLE), "--episodes", "400", "--log", str(log), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "auction='ccv'" in out and "episodes 400" in out and "prices against V*" in out
    episodes = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["episode"] for e in episodes] == list(range(1, 401))
    assert all(abs(e["conservation_error"]) < 1e-9 * 1e4 for e in episodes)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_summary(capsys):
    assert main(["economy", str(EXAMPLE), "--episodes", "50", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["auction"] == "ccv" and d["run"]["episodes"] == 50 and d["minted"] == 0
    assert 0 <= d["run"]["success_rate"] <= 1 and "spearman" in d["equilibrium"]


@pytest.mark.parametrize(("spec", "message"), [
    ('[environment]\nkind = "maze"\n', "kind='maze'"),
    ('[environment]\nkind = "chain"\nn_states = 4\n[economy]\nauction = "dutch"\n', "auction='dutch'"),
    ('[environment]\nkind = "chain"\nn_states = 4\n[economy]\ntax = -1\n', "tax=-1"),
    ('[environment]\nkind = "chain"\nn_states = 4\n[economy]\nsalary = 3\n', "unknown key 'salary'"),
    ('[environment]\nkind = "chain"\nlength = 4\n', "unknown key 'length'"),
    ('episodes = 0\n[environment]\nkind = "chain"\nn_states = 4\n', "episodes=0"),
    ('[environment\n', "not valid TOML"),
])
def test_bad_specs_fail_before_any_work(tmp_path, capsys, spec, message):
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    log = tmp_path / "out.jsonl"
    assert main(["economy", str(path), "--log", str(log)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and not log.exists()
