"""Every case of the catalogue (:mod:`deepmarkets.logic.cases`) through every implementation that answers it."""

from __future__ import annotations

import csv
import json
from fractions import Fraction

import pytest

from deepmarkets.cli import main
from deepmarkets.logic import Verdict, check_coherence
from deepmarkets.logic.cases import CASES
from deepmarkets.logic.testing import brute_force_max_profit

NAMES = sorted(CASES)
EXIT = {"coherent": 0, "incoherent": 1, "unknown": 3}


@pytest.mark.parametrize("name", NAMES)
def test_check_coherence_gives_the_known_answer(name):
    case = CASES[name]
    report = check_coherence(case.prices() or None, case.theory(), case.conditional(), progressbar=False)
    assert report.verdict is Verdict(case.verdict)
    if case.max_profit is not None:
        assert report.max_profit == pytest.approx(float(case.max_profit), rel=1e-12, abs=0)
    if report.verdict is Verdict.INCOHERENT:
        assert 0 < report.dutch_book.guaranteed_profit
        if case.max_profit is not None:
            assert report.dutch_book.guaranteed_profit == case.max_profit  # the optimal book, exactly


@pytest.mark.parametrize("name", [n for n in NAMES if not CASES[n].given])
def test_brute_force_agrees_with_the_catalogue(name):
    case = CASES[name]
    assert brute_force_max_profit(case.prices(), case.theory()) == case.max_profit


@pytest.mark.parametrize("name", NAMES)
def test_the_command_line_gives_the_known_answer(name, tmp_path, capsys):
    case = CASES[name]
    prices = tmp_path / "prices.csv"
    with prices.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence", "price", "given"])
        writer.writerows([(s, p, "") for s, p in case.priced] + [(s, p, h) for s, h, p in case.given])
    args = ["check", str(prices), "--json", "--quiet"]
    if case.axioms:
        (tmp_path / "theory.txt").write_text("\n".join(case.axioms) + "\n", encoding="utf-8")
        args += ["--theory", str(tmp_path / "theory.txt")]
    code = main(args)
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == case.verdict
    # exit 0 for incoherence within the default tolerance (1e-9, float noise)
    noise = case.max_profit is not None and 0 < case.max_profit <= Fraction(1, 10**9)
    assert code == (0 if noise else EXIT[case.verdict])
