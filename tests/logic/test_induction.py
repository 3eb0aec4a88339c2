"""The logical inductor: features, market maker, budgeter, deductive process, empirical properties."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError, DeepMarketsError
from deepmarkets.logic import Theory, atoms, exactly_one
from deepmarkets.logic.induction import (
    DeductiveProcess,
    InductionError,
    Inductor,
    Trader,
    arbitrageurs,
    exclusive_exhaustive_trader,
    frequency_trader,
    plot_exploitation,
    plot_prices,
    threshold_trader,
)
from deepmarkets.logic.induction.features import FeatureGraph, const, fmax, fmin, price, ramp, safe_reciprocal
from deepmarkets.logic.induction.features import _PastLookup as PastLookup
from deepmarkets.logic.induction.scenarios import (
    paradox,
    pi_coherence,
    provability,
    sha_bit,
    sha_frequencies,
)

a, b, c = atoms("a b c")


# features ----------------------------------------------------------------------------------
def test_feature_values_match_closed_form():
    f = fmax(price(a) * 2 - 0.5, fmin(price(b), 0.1)) + safe_reciprocal(price(a) * 10)
    pa, pb = 0.4, 0.7
    expected = max(2 * pa - 0.5, min(pb, 0.1)) + 1 / max(1, 10 * pa)
    assert f.evaluate({a: pa, b: pb}) == pytest.approx(expected)
    assert ramp((0.3 - price(a)) / 0.1).evaluate({a: 0.25}) == pytest.approx(0.5)


def test_features_are_hash_consed_and_shared():
    g = FeatureGraph()
    f1 = ramp(0.3 - price(a))
    f2 = ramp(0.3 - price(a))
    assert f1 == f2 and hash(f1) == hash(f2)
    n1 = g.compile(f1)
    size = len(g)
    assert g.compile(f2) == n1 and len(g) == size
    g.compile(f1 + price(b))  # reuses f1's node
    assert len(g) <= size + 3


def test_exact_and_float_evaluation_agree_and_past_prices():
    g = FeatureGraph()
    f = price(a, lag=1) * 3 + fmin(price(b), Fraction(1, 3)) - const(1) / 7
    node = g.compile(f)
    past = PastLookup([{a: Fraction(1, 5), b: Fraction(1, 2)}], today=2)
    now = np.array([[0.25], [0.9]])
    v = g.evaluate(now, {a: 0, b: 1}, past)[node, 0]
    exact = g.exact([node], {a: Fraction(1, 4), b: Fraction(9, 10)}, past)[node]
    assert exact == Fraction(3, 5) + Fraction(1, 3) - Fraction(1, 7)
    assert v == pytest.approx(float(exact))


def test_future_price_is_rejected():
    ind = Inductor([a], [Trader("peek", {a: price(a, day=5)})])
    with pytest.raises(DeclarationError, match="earlier days"):
        ind.step()


# market maker --------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 5])
def test_linear_trader_fixed_point_is_exact(k):
    xs = atoms([f"x{i}" for i in range(k)])
    t = Trader("buy below 0.3", {x: 0.3 - price(x) for x in xs})
    res = Inductor(list(xs), [t], exploitation=False).run(2, progressbar=False)
    for x in xs:
        assert res.price(x) == pytest.approx(0.3, abs=1e-9)
    for d in res.days:
        assert d.residual <= d.tolerance


def test_coupled_traders_reach_the_joint_fixed_point():
    # buy a while p_a < 1 - p_b; buy b while p_b < p_a / 2  -> p_a = 2/3, p_b = 1/3
    ta = Trader("ta", {a: 1 - price(b) - price(a)})
    tb = Trader("tb", {b: price(a) * 0.5 - price(b)})
    res = Inductor([a, b], [ta, tb], exploitation=False).run(1, progressbar=False)
    assert res.price(a) == pytest.approx(2 / 3, abs=1e-9)
    assert res.price(b) == pytest.approx(1 / 3, abs=1e-9)


def test_discontinuous_demand_is_refused_not_mispriced():
    # a step: buy 1 below 0.5, sell 1 at or above: no price passes the exact residual check
    step = ramp((0.5 - price(a)) * 10**30) - ramp((price(a) - 0.5) * 10**30 + 1)
    with pytest.raises(InductionError, match="residual .* too steep"):
        Inductor([a], [Trader("step", {a: step})], exploitation=False).run(12, progressbar=False)


def test_exclusive_exhaustive_prices_sum_to_one():
    ds = atoms([f"d{i}" for i in range(5)])
    th = Theory([exactly_one(*ds)])
    traders = arbitrageurs(th, ds)
    assert [t.name for t in traders] == [exclusive_exhaustive_trader(ds).name]
    res = Inductor(list(ds), traders, theory=th).run(3, progressbar=False)
    assert sum(res.days[-1].prices.values()) == pytest.approx(1, abs=1e-9)


def test_implication_arbitrageur():
    th = Theory([a.implies(b)])
    traders = arbitrageurs(th, [a, b]) + [threshold_trader(a, buy_below=0.8)]
    res = Inductor([a, b], traders, theory=th, initial=0.2).run(3, progressbar=False)
    assert res.price(a) <= res.price(b) + 0.05


# settled sentences, deductive process ---------------------------------------------------------
def test_settled_sentences_priced_at_truth_and_entered_logged():
    res = Inductor([a, b], [threshold_trader(a, buy_below=0.7, sell_above=0.7)], deductive=[[], [~a], [b]]).run(
        3, progressbar=False)
    assert res.price(a, 1) == pytest.approx(0.7)
    assert res.price(a, 2) == 0 and res.price(b, 3) == 1
    assert res.entered_day() == {"~a": 2, "b": 3}


def test_theory_settles_consequences():
    th = Theory([exactly_one(a, b, c)])
    res = Inductor([a, b, c], [], theory=th, deductive=[[a]]).run(1, progressbar=False)
    assert (res.price(a), res.price(b), res.price(c)) == (1, 0, 0)


def test_prover_adds_theorems_deterministically():
    x, y = atoms("x y")
    proc = DeductiveProcess(prove=Theory([x, x.implies(y)]), rlimit_per_day=5000)
    r1 = Inductor([x, y], [], deductive=proc).run(1, progressbar=False)
    r2 = Inductor([x, y], [], deductive=proc).run(1, progressbar=False)
    assert r1.days[0].entered == r2.days[0].entered == ["x", "y"]


def test_callable_process_sees_past_prices():
    seen = []

    def process(day, prices):
        if day > 1:
            seen.append(prices(a, day - 1))
        return []

    Inductor([a], [threshold_trader(a, buy_below=0.7, sell_above=0.7)], deductive=process).run(2, progressbar=False)
    assert seen == [Fraction(7, 10)] or seen[0] == pytest.approx(0.7)


def test_inconsistent_process_is_a_declaration_error():
    with pytest.raises(DeclarationError, match="no possible world"):
        Inductor([a], [], deductive=[[a, ~a]]).run(1, progressbar=False)


def test_unknown_sentence_and_bad_arguments():
    with pytest.raises(DeclarationError, match="not one of the inductor"):
        Inductor([a], [Trader("t", {b: 1})]).run(1, progressbar=False)
    with pytest.raises(DeclarationError, match="budgets"):
        Inductor([a], [], budgets=[0])
    with pytest.raises(DeclarationError, match="distinct"):
        Inductor([a], [Trader("t", {}), Trader("t", {})])
    assert issubclass(InductionError, DeepMarketsError)


# budgeter ----------------------------------------------------------------------------------------
def test_budgeter_bankrupts_a_trader_that_keeps_buying_a_false_sentence():
    # buys 1 unit of b every day; b is refuted on day 2 -> the b=1 budget loses, goes bankrupt
    t = Trader("always buys b", {b: const(1)})
    ind = Inductor([a, b], [t, threshold_trader(a, buy_below=0.6)], deductive=[[], [~b]], budgets=(1, 2),
                   settle=False)
    res = ind.run(4, progressbar=False)
    factors = res.days[0].budget_factors
    assert factors["always buys b|b=1"] <= 1
    bankrupt = [name for d in res.days for name in d.bankrupt]
    assert "always buys b|b=1" in bankrupt
    assert res.days[-1].budget_factors["always buys b|b=1"] == 0
    for d in res.days:
        assert d.firm_value_max < 1


def test_budget_factor_scales_a_large_trade():
    t = Trader("big", {a: const(10)})
    res = Inductor([a], [t], budgets=(1,), settle=False).run(1, progressbar=False)
    f = res.days[0].budget_factors["big|b=1"]
    # the price goes to 1; buying 10 at 1 loses 10 if a is false: factor 1/10
    assert res.price(a) == 1
    assert f == pytest.approx(0.1)


# logs and plots ------------------------------------------------------------------------------------
def test_log_is_json_lines_and_atomic(tmp_path):
    out = tmp_path / "run.jsonl"
    res = Inductor([a], [threshold_trader(a, buy_below=0.7, sell_above=0.7)]).run(3, log=out, progressbar=False)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["day"] for x in lines] == [1, 2, 3]
    assert lines[0]["prices"]["a"] == pytest.approx(0.7)
    assert set(lines[0]) >= {"prices", "trades", "residual", "budget_factors", "bankrupt", "entered"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.jsonl"]
    assert "3 days" in repr(res) and res.to_dict()["days"][0]["day"] == 1


def test_plots_return_figures():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    trader = threshold_trader(a, buy_below=0.7, sell_above=0.7)
    res = Inductor([a, b], [trader], deductive=[[], [b]]).run(3, progressbar=False)
    assert plot_prices(res).axes and plot_exploitation(res).axes


def test_logic_does_not_import_sympy_or_pymc():
    code = ("import sys, deepmarkets.logic.induction.inductor, deepmarkets.logic.induction.scenarios; "
            "print(any(m in sys.modules for m in ('sympy', 'pymc', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# empirical properties (small) ----------------------------------------------------------------------
def test_pseudorandom_frequencies():
    ind, bits = sha_frequencies(40, delay=3)
    res = ind.run(40, progressbar=False)
    freq = np.mean([sha_bit(n) for n in range(1, 38)])
    assert res.price(bits[-1]) == pytest.approx(freq, abs=1e-6)
    assert abs(res.price(bits[-1]) - 0.5) <= 0.1


def test_exclusive_exhaustive_coherence_before_reveal():
    ind, groups = pi_coherence(6, delay=3)
    res = ind.run(5, progressbar=False)
    for n, g in enumerate(groups, start=1):
        if n + 3 > 5:  # not yet revealed
            assert abs(sum(res.price(s) for s in g) - 1) <= 0.05


def test_provability_induction():
    ind, thetas = provability(6)
    res = ind.run(12, progressbar=False)
    for n, t in enumerate(thetas, start=1):
        assert res.price(t, n) >= 0.9


def test_paradox_resistance():
    ind, chis = paradox(40)
    res = ind.run(40, progressbar=False)
    late = [res.price(chis[n - 1], n) for n in range(30, 41)]
    assert max(abs(p - 0.5) for p in late) <= 0.05


def test_frequency_trader_only_trades_visible_unrevealed():
    xs = atoms("x1 x2 x3 x4")
    t = frequency_trader(xs, revealed=lambda n: 1, visible=lambda n: 3)
    assert sorted(str(s) for s in t.demand_on(5)) == ["x2", "x3"]


@pytest.mark.parametrize("name", ["deepmarkets.logic.induction.inductor", "deepmarkets.logic.induction.features",
                                  "deepmarkets.logic.induction.fixedpoint", "deepmarkets.logic.induction.scenarios"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
