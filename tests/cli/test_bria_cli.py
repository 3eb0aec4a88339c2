"""``deepmarkets bria``: a TOML spec run end to end, its plot and JSON, and bad specs refused before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepmarkets.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bria.toml"
LOTTERY = """rounds = 300
seed = 1
[task]
kind = "lottery"
safe = 0.4
[[hypotheses]]
family = "constant"
promises = [0.3, 0.45, 1.0]
"""


def test_example_spec_runs_and_plots(tmp_path, capsys):
    png = tmp_path / "bria.png"
    assert main(["bria", str(EXAMPLE), "--rounds", "500", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "AuctionBRIA(63 hypotheses" in out and "rounds 500" in out and "overestimation L_T" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_is_the_runs_summary_and_obeys_the_identity(tmp_path, capsys):
    spec = tmp_path / "lottery.toml"
    spec.write_text(LOTTERY)
    assert main(["bria", str(spec), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rounds"] == 300 and d["hypotheses"] == 6 and set(d["option_shares"]) == {"safe", "lottery"}
    assert abs(d["identity_error"]) < 1e-9 and d["overestimation"] <= d["total_allowance"]
    assert d["allowance"] == {"c": 5.0, "a": 1.0, "b": 1.1}


@pytest.mark.parametrize(("spec", "message"), [
    ('[task]\nkind = "maze"\n', "kind='maze'"),
    ('[task]\nkind = "bandit"\nmeans = [0.5, 2]\n[[hypotheses]]\nfamily = "constant"\n', "means[k]=2"),
    ('[task]\nkind = "bandit"\narms = 3\n', "unknown key 'arms'"),
    ('[task]\nkind = "bandit"\n[allowance]\nb = 1\n[[hypotheses]]\nfamily = "constant"\n', "b=1; expected b > 1"),
    ('[task]\nkind = "bandit"\n[allowance]\na = 2\n[[hypotheses]]\nfamily = "constant"\n', "a=2; expected 0 < a <= 1"),
    ('[task]\nkind = "bandit"\n', "no [[hypotheses]] were declared"),
    ('[task]\nkind = "bandit"\n[[hypotheses]]\nfamily = "oracle"\n', "family='oracle'"),
    ('[task]\nkind = "bandit"\n[[hypotheses]]\nfamily = "constant"\npromises = [0.5, 1.5]\n', "promise 1.5"),
    ('[task]\nkind = "bandit"\n[[hypotheses]]\nfamily = "constant"\npromises = []\n', "promises=[]"),
    ('[task]\nkind = "bandit"\n[[hypotheses]]\nfamily = "copy_best"\norder = "x"\n', "unknown key 'order'"),
    ('rounds = 0\n[task]\nkind = "bandit"\n[[hypotheses]]\nfamily = "constant"\n', "rounds=0"),
    ('days = 3\n', "unknown key 'days'"),
    ('[task\n', "not valid TOML"),
])
def test_bad_specs_fail_before_any_work(tmp_path, capsys, spec, message):
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    png = tmp_path / "out.png"
    assert main(["bria", str(path), "--plot", str(png)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and not png.exists()


def test_bad_options(tmp_path, capsys):
    assert main(["bria", str(EXAMPLE), "--rounds", "0"]) == 2
    assert main(["bria", str(EXAMPLE), "--plot", str(tmp_path / "x.txt")]) == 2
    assert main(["bria", str(tmp_path / "missing.toml")]) == 2
    assert "no such spec file" in capsys.readouterr().err
