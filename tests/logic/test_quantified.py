"""PM1: quantified sentences, their verification–falsification games and the repeated market."""

from __future__ import annotations

import doctest
import importlib
import math
import subprocess
import sys

import numpy as np
import pytest
import z3

import deepmarkets.logic.quantified as quantified
from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.logic.quantified import (
    Agent,
    QuantifiedMarket,
    QuantifiedSentence,
    Z3Constructor,
    constant,
    equilibrium_price,
    infinitely_many_primes,
    kelly_population,
    largest_number,
    next_prime_witness,
    offset,
    play,
    pm1_benchmark,
    prime,
    random_integers,
    roles,
    settle,
)

x, y, z = z3.Ints("x y z")


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


# --- sentences -----------------------------------------------------------------------------------
def test_readable_text_negation_and_identity():
    s = infinitely_many_primes()
    assert str(s) == "∀x ∃y. y > x ∧ prime(y)"
    assert str(largest_number()) == "∃x ∀y. y ≤ x"
    assert str(~largest_number()) == "∀x ∃y. ¬(y ≤ x)"
    bounded = QuantifiedSentence([("∀", "x", (0, None)), ("∃", y, (None, 5))], x % 2 == y)
    assert str(bounded) == "∀x∈[0, ∞) ∃y∈(-∞, 5]. x mod 2 = y"
    assert ~~s == s and hash(~~s) == hash(s) and s != largest_number()
    assert s.to_dict()["prefix"][1] == {"quantifier": "exists", "variable": "y", "low": None, "high": None}
    assert "prime(y)" in repr(s)


@pytest.mark.parametrize(
    "prefix, matrix, message",
    [
        ([("forall", "x", None)], y > x, "does not bind"),
        ([("forall", "x", None), ("exists", "x", None)], x > 0, "bound once"),
        ([("some", "x", None)], x > 0, "quantifier must be"),
        ([("forall", "x", (3, 1))], x > 0, "empty"),
        ([("forall", "x", (0.5, 1))], x > 0, "integers or None"),
        ([("forall", "x", [1])], x > 0, "must be None or"),
        ([("forall", "x")], x > 0, "prefix entry"),
        ([("forall", "x", None)], 3, "matrix must be"),
    ],
)
def test_bad_declarations_say_what_is_wrong(prefix, matrix, message):
    with pytest.raises(DeclarationError, match=message):
        QuantifiedSentence(prefix, matrix)


def test_prime_matches_trial_division():
    for n in range(-3, 160):
        assert settle(prime(z3.IntVal(n))) == _is_prime(n), n
    assert settle(prime(7919)) and not settle(prime(7917))
    with pytest.raises(DeclarationError, match="integer term"):
        prime(z3.Real("r"))


def test_unknown_is_never_false():
    big = prime(z3.IntVal(104729))
    with pytest.raises(SolverUnknownError, match="rlimit=100"):
        settle(big, rlimit=100)
    game = play(infinitely_many_primes(), constant(104729), constant(104700), rlimit=100)
    assert game.outcome is None and "unsettled" in game.reason
    # a market whose games cannot be settled refunds every position: prices and wealth do not move
    agents = kelly_population(5, roles(constant(104729), constant(104700)))
    run = QuantifiedMarket(infinitely_many_primes(), agents, rlimit=100).run(3, rng=0, progressbar=False)
    assert run.outcomes == (None, None, None)
    assert run.prices == pytest.approx([0.5] * 4) and sum(run.wealth.values()) == pytest.approx(5.0)
    with pytest.raises(DeclarationError, match="not ground"):
        settle(y > 3)


# --- games ---------------------------------------------------------------------------------------
def _brute_truth(s: QuantifiedSentence, assignment=None, i=0) -> bool:
    assignment = assignment or {}
    if i == len(s.prefix):
        return z3.is_true(z3.simplify(s.ground(assignment)))
    b = s.prefix[i]
    values = (_brute_truth(s, {**assignment, b.variable: v}, i + 1) for v in range(b.low, b.high + 1))
    return all(values) if b.quantifier == "forall" else any(values)


@pytest.mark.parametrize("seed", range(12))
def test_z3_constructors_play_optimally_on_bounded_domains(seed):
    """With z3 on both sides the game's winner is the sentence's truth (brute force), for φ and ¬φ."""
    rng = np.random.default_rng(seed)
    qs = ["forall", "exists"]
    prefix = [(qs[rng.integers(2)], v, (0, int(rng.integers(2, 5)))) for v in "xyz"]
    a, b, c, k = (int(t) for t in rng.integers(-3, 4, size=4))
    matrix = z3.Or(a * x + b * y + c * z >= k, (x + y) % 3 == z)
    s = QuantifiedSentence(prefix, matrix)
    truth = _brute_truth(s)
    assert play(s, Z3Constructor(), Z3Constructor(), rng=seed).outcome is truth
    assert play(~s, Z3Constructor(), Z3Constructor(), rng=seed).outcome is (not truth)


def test_z3_witness_search_finds_the_next_prime():
    finder = Z3Constructor(minimize=True)
    for x0 in (0, 1, 13, 89, 1000, 7907):
        game = play(infinitely_many_primes(), finder, constant(x0))
        assert game.outcome is True
        assert (
            game.moves[-1].value
            == next_prime_witness(_state(x0))
            == min(n for n in range(x0 + 1, x0 + 200) if _is_prime(n))
        )
    # no largest number: z3 proves that no x wins, so the holder concedes
    concede = Z3Constructor()
    game = play(largest_number(), concede, offset("x", 1))
    assert game.outcome is False and game.moves[0].value is None and "unsat" in concede.log[-1]
    # on a bounded domain the largest number exists and z3 finds it
    bounded = QuantifiedSentence([("exists", "x", (0, 9)), ("forall", "y", (0, 9))], y <= x)
    assert play(bounded, Z3Constructor(), Z3Constructor()).moves[0].value == 9


def _state(x0: int):
    return quantified.GameState(infinitely_many_primes(), 1, {"x": x0}, "verifier", np.random.default_rng(0))


def test_moves_forfeits_and_bad_constructors():
    game = play(largest_number(), constant(10**6), offset("x", 1))
    assert game.outcome is False and [m.value for m in game.moves] == [10**6, 10**6 + 1]
    assert "1000001 ≤ 1000000: False" in game.reason
    assert play(largest_number(), None, offset("x", 1)).outcome is False  # no witness: holder loses
    assert play(~largest_number(), offset("x", 1), None).outcome is True  # no counterexample: holder wins
    # the first constructor with a move plays it
    game = play(largest_number(), [lambda s: None, constant(5)], offset("x", 1))
    assert game.moves[0].value == 5 and game.moves[0].by == "constant(5)"
    bounded = QuantifiedSentence([("exists", "x", (0, 9))], x >= 0)
    with pytest.raises(DeclarationError, match="outside its domain"):
        play(bounded, constant(10), None)
    with pytest.raises(DeclarationError, match="expected an int"):
        play(bounded, lambda s: "3", None)
    r = [
        play(infinitely_many_primes(), next_prime_witness, random_integers(0, 10**4), rng=7).moves[0].value
        for _ in range(2)
    ]
    assert r[0] == r[1]


# --- traders and equilibrium ---------------------------------------------------------------------
def test_equilibrium_balances_demand_and_matches_the_kelly_closed_form():
    rng = np.random.default_rng(3)
    beliefs, wealth = rng.uniform(0.05, 0.95, 8), rng.uniform(0.5, 3.0, 8)
    kelly = [Agent(f"a{i}", b, w) for i, (b, w) in enumerate(zip(beliefs, wealth, strict=True))]
    closed = float(np.dot(beliefs, wealth) / wealth.sum())
    assert equilibrium_price(kelly) == pytest.approx(closed, abs=1e-12)

    def kelly_demand(b):
        return lambda p, w: (w * b / p, w * (1 - b) / (1 - p))

    general = [Agent(a.name, a.belief, a.wealth, demand=kelly_demand(a.belief)) for a in kelly]
    p = equilibrium_price(general)
    assert p == pytest.approx(closed, abs=1e-9)
    units = np.array([a.units(p) for a in general])
    assert units[:, 0].sum() == pytest.approx(units[:, 1].sum(), rel=1e-8)
    with pytest.raises(DeclarationError, match="no price"):
        equilibrium_price([Agent("bull", 0.5, demand=lambda p, w: (w / p, 0.0))])
    with pytest.raises(DeclarationError, match="more than its wealth"):
        Agent("spender", 0.5, demand=lambda p, w: (10 * w / p, 0.0)).units(0.5)
    with pytest.raises(DeclarationError, match="belief"):
        Agent("sure", 1.0)
    with pytest.raises(DeclarationError, match="at least one"):
        equilibrium_price([])


def test_market_conserves_money_and_follows_the_wealth_weighted_rule():
    agents = kelly_population(10, roles(next_prime_witness, random_integers(0, 500)))
    beliefs = np.array([a.belief for a in agents])
    run = QuantifiedMarket(infinitely_many_primes(), agents).run(8, rng=1, progressbar=False)
    assert run.outcomes == (True,) * 8
    for t, price in enumerate(run.prices):  # w_i ∝ b_i^t after t wins
        assert price == pytest.approx((beliefs ** (t + 1)).sum() / (beliefs**t).sum(), rel=1e-12)
    assert [r.wealth for r in run.rounds] == pytest.approx([10.0] * 8)
    assert run.to_dict()["prices"][0] == 0.5 and "holder won 8" in repr(run)
    with pytest.raises(DeclarationError, match="distinct"):
        QuantifiedMarket(largest_number(), [Agent("a", 0.5), Agent("a", 0.4)])


# --- acceptance (PM1) ----------------------------------------------------------------------------
def test_pm1_acceptance_is_met_and_deterministic():
    result = pm1_benchmark(rng=0)
    assert result.passed, result.table()
    primes = result.runs["primes, next-prime"].prices
    none = result.runs["primes, no witnesses"].prices
    largest = result.runs["largest number"].prices
    assert primes[50] >= 0.95 and max(none[10:]) <= 0.15 and largest[25] <= 0.12
    assert np.all(np.diff(primes) > 0) and np.all(np.diff(none) < 0) and np.all(np.diff(largest) < 0)
    again = pm1_benchmark(rng=0)
    assert all(again.runs[k].prices == result.runs[k].prices for k in result.runs)
    assert [r.game.moves[0].value for r in again.runs["largest number"].rounds] == [
        r.game.moves[0].value for r in result.runs["largest number"].rounds
    ]
    assert result.to_dict()["passed"] is True and "PASS" in result.table()


def test_z3_witness_market_matches_the_python_constructor():
    """Ten rounds with the z3 witness search give the same moves and prices as next_prime_witness."""
    runs = [
        QuantifiedMarket(infinitely_many_primes(), kelly_population(10, roles(c, random_integers(0, 2000)))).run(
            10, rng=5, progressbar=False
        )
        for c in (Z3Constructor(minimize=True), next_prime_witness)
    ]
    assert runs[0].prices == runs[1].prices
    moves = [[[(m.variable, m.value) for m in r.game.moves] for r in run.rounds] for run in runs]
    assert moves[0] == moves[1]
    assert all(_is_prime(y0) and y0 > x0 for r in moves[0] for (_, x0), (_, y0) in [r])


def test_docstring_examples_run():
    results = [doctest.testmod(importlib.import_module(f"deepmarkets.logic.quantified.{name}"),
                               optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
               for name in ("games", "constructors", "market", "scenarios")]
    failures, tried = map(sum, zip(*results, strict=True))
    assert tried > 10 and failures == 0


def test_plot_prices_returns_a_figure(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    fig = quantified.plot_prices(pm1_benchmark(n_agents=10).runs)
    assert len(fig.axes[0].lines) == 3


def test_logic_stays_light():
    code = (
        "import sys, deepmarkets.logic.quantified.games, deepmarkets.logic.quantified.constructors, "
        "deepmarkets.logic.quantified.market, deepmarkets.logic.quantified.scenarios; "
        "print([m for m in ('sympy', 'pymc', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_exist():
    assert set(quantified.__all__) <= set(dir(quantified))
