"""``deepmarkets induct``: a TOML spec run end to end, its log and plot, and bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepmarkets.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "induction.toml"


def test_example_spec_runs_logs_every_day_and_plots(tmp_path, capsys):
    log, png = tmp_path / "days.jsonl", tmp_path / "prices.png"
    assert main(["induct", str(EXAMPLE), "--log", str(log), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "3 sentences, 3 traders, 20 days" in out
    days = [json.loads(line) for line in log.read_text().splitlines()]
    assert [d["day"] for d in days] == list(range(1, 21))
    # rain is observed on day 10; from then on rain and wet (rain -> wet) are settled true
    assert days[9]["prices"]["rain"] == 1.0 and days[-1]["prices"]["wet"] == 1.0
    assert all(float(d["residual_float"]) <= 2.0 ** -min(d["day"], 32) for d in days)
    # the arbitrageur keeps P(rain) <= P(wet) every day
    assert all(d["prices"]["rain"] <= d["prices"]["wet"] + 1e-9 for d in days)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_days_option_and_json(capsys):
    assert main(["induct", str(EXAMPLE), "--days", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["days"]) == 4 and d["sentences"] == ["rain", "wet", "cold"]


@pytest.mark.parametrize(("spec", "message"), [
    ('days = 3\nsentences = ["a"]\n', "no traders"),
    ('days = 3\nsentences = ["a &"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = 0.5\n', "line 1"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "oracle"\n', "unknown kind"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "arbitrageurs"\n', "add theory"),
    # entries exist but the theory yields no arbitrageur: say so, not "no traders"
    ('days = 3\nsentences = ["a", "b"]\ntheory = ["a | b"]\n[[traders]]\nkind = "arbitrageurs"\n',
     "trader 1 (arbitrageurs): the theory's axioms ['a | b'] give no arbitrageurs"),
    ('days = 3\nsentences = ["a"]\ntheory = ["a -> c"]\n[[traders]]\nkind = "arbitrageurs"\n',
     "whose sentences are all listed in sentences"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = 1.5\n',
     "trader 1 (threshold): buy_below = 1.5; expected a price between 0 and 1"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nsell_above = -0.1\n',
     "sell_above = -0.1; expected a price between 0 and 1"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = nan\n',
     "buy_below = nan; expected a price between 0 and 1"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = "0.5"\n',
     "buy_below = '0.5'; expected a price between 0 and 1"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = 0.5\nwidth = 0\n',
     "width = 0; expected a finite number > 0"),
    ('days = 3\nsentences = ["a", "b"]\n[[traders]]\nkind = "exclusive_exhaustive"\nsentences = ["a", "b"]\n'
     'width = -1\n', "trader 1 (exclusive_exhaustive): width = -1; expected a finite number > 0"),
    ('days = 3\nsentences = ["a"]\ntheory = ["a -> a"]\n[[traders]]\nkind = "arbitrageurs"\nwidth = "x"\n',
     "width = 'x'; expected a finite number > 0"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\n',
     "trader 1 (threshold): give buy_below and/or sell_above"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = 0.7\n'
     'sell_above = 0.3\n', "buy_below = 0.7 > sell_above = 0.3"),
    ('days = 3\nsentences = ["a"]\n[[traders]]\nkind = "threshold"\nsentence = "a"\nbuy_below = 0.5\nname = 5\n',
     "name = 5; expected a non-empty text"),
    ('days = 3\nsentences = ["a"]\ncolour = 1\n', "unknown keys"),
    ('days = 3\nsentences = ["a"]\n[[deductive]]\nday = 9\nsentences = ["a"]\n', "between 1 and 3"),
    ("days = [", "not valid TOML"),
])
def test_bad_specs_exit_2_and_write_nothing(tmp_path, capsys, spec, message):
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    log = tmp_path / "days.jsonl"
    assert main(["induct", str(path), "--log", str(log)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err
    assert not log.exists()


def test_bad_output_names(tmp_path, capsys):
    assert main(["induct", str(EXAMPLE), "--plot", str(tmp_path / "p.jpg")]) == 2
    assert "ending in .png" in capsys.readouterr().err
    assert main(["induct", str(EXAMPLE), "--log", str(tmp_path / "no" / "d.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
