"""Coherence checks under a time budget, the summed-groups lower bound, and progress lines.

Every bound is compared with brute force (all assignments of the atoms) on small instances.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import StatusLine
from deepmarkets.logic import Verdict, check_coherence
from deepmarkets.logic.coherence import TRUE, Bet, _groups_book, _Layer
from deepmarkets.logic.testing import (
    brute_force_max_profit,
    possible_truth_table,
    random_cnf_instance,
    random_possible_worlds,
)

SEEDS = range(30)


def _exact_payoffs(book, inst) -> list[Fraction]:
    """The book's exact payoff in every possible world of the instance (brute force)."""
    table = possible_truth_table(list(inst.sentences), inst.theory)
    index = {s: i for i, s in enumerate(inst.sentences)}
    return [sum((p.stake * ((1 if row[index[p.bet.sentence]] else 0) - p.bet.price) for p in book.positions),
                Fraction(0)) for row in table]


def _layer(inst) -> _Layer:
    bets = [Bet(s, Fraction(str(p))) for s, p in inst.price_map]
    return _Layer(inst.theory, bets, None, TRUE, None)


@pytest.mark.parametrize("seed", SEEDS)
def test_summed_groups_bound_is_proved_by_brute_force(seed):
    inst = random_cnf_instance(12, 14, 2.0, coherent=False, rng=seed)
    layer = _layer(inst)
    best = brute_force_max_profit(inst.price_map, inst.theory)
    if not _groups_book(layer):
        return  # no incoherent group: nothing claimed
    bound, stakes, world = layer.best_book
    assert all(-1 <= x <= 1 for x in stakes)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    payoffs = [sum((x * ((1 if t else 0) - b.price) for x, t, b in zip(stakes, row, layer.bets, strict=True)),
                   Fraction(0)) for row in table]
    assert 0 < bound <= min(payoffs)  # the book wins at least the bound in every possible world
    assert bound <= best  # so it is a lower bound on the max profit
    assert tuple(world) in {tuple(bool(v) for v in row) for row in table}
    if layer.best_proof.startswith("exact minimum"):
        assert bound == min(payoffs)


@pytest.mark.parametrize("seed", range(20))
def test_bounds_under_a_short_budget_hold_the_optimum(seed):
    # a budget from 0.1 s to 0.6 s cuts searches short at any point (about a third end with bounds),
    # and lets others finish
    inst = random_cnf_instance(18, 30, 2.0, coherent=seed % 5 == 0, rng=100 + seed)
    budget = 0.1 + 0.5 * (seed % 6) / 5
    started = time.monotonic()
    r = check_coherence(inst.price_map, inst.theory, time_limit=budget, progressbar=False)
    assert time.monotonic() - started < budget + 3  # a margin for a loaded machine
    best = brute_force_max_profit(inst.price_map, inst.theory)
    if r.verdict is Verdict.UNKNOWN:
        assert r.stats["time_limit_reached"] and r.dutch_book is None
        return
    if r.verdict is Verdict.COHERENT:
        assert best == 0
        return
    payoffs = _exact_payoffs(r.dutch_book, inst)
    assert 0 < r.dutch_book.guaranteed_profit <= min(payoffs)
    if not r.dutch_book.proof.startswith("at least"):
        assert r.dutch_book.guaranteed_profit == min(payoffs)
    if r.max_profit is not None:
        assert r.max_profit == pytest.approx(float(best), abs=1e-9)
    else:
        low, high = r.max_profit_bounds
        assert low == float(r.dutch_book.guaranteed_profit)
        assert low <= float(best) * (1 + 1e-12) and float(best) <= high * (1 + 1e-9) + 1e-9


def test_a_two_second_budget_on_a_large_instance():
    # 100 random clauses over 200 atoms under 400 random clauses: minutes to the optimum
    inst = random_cnf_instance(200, 100, 2.0, coherent=False, rng=np.random.default_rng([0, 2, 200, 100, 200, 0, 0]))
    started = time.monotonic()
    r = check_coherence(inst.price_map, inst.theory, time_limit=2, progressbar=False)
    assert time.monotonic() - started < 2 + 8  # a margin for a loaded machine
    assert r.stats["time_limit_reached"]
    if r.verdict is Verdict.UNKNOWN:  # only on a machine too loaded to certify anything in 2 s
        return
    assert r.verdict is Verdict.INCOHERENT
    low, high = r.max_profit_bounds
    assert 0 < low == float(r.dutch_book.guaranteed_profit) <= high
    # the book wins at least its guaranteed profit in random possible worlds
    index = {s: i for i, s in enumerate(inst.sentences)}
    for world in random_possible_worlds(inst.theory, 200, 40, rng=1):
        payoff = sum((p.stake * ((1 if p.bet.sentence.evaluate(world) else 0) - p.bet.price)
                      for p in r.dutch_book.positions), Fraction(0))
        assert payoff >= r.dutch_book.guaranteed_profit, index


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "soon", True])
def test_time_limit_must_be_a_positive_number(value):
    with pytest.raises(DeclarationError, match=r"time_limit=.*; expected a positive finite number; time_limit is in"):
        check_coherence({"a": 0.5}, time_limit=value)


def test_status_line_is_sparse_off_a_terminal(capsys, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    with StatusLine("working", every=5) as status:
        for step in range(12):  # one update a second
            status.update(f"step {step}")
            clock[0] += 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["working: step 5 (5 s)", "working: step 10 (10 s)"]
    with StatusLine("working", enabled=False, every=0) as status:
        status.update("step")
    assert capsys.readouterr().err == ""
