"""Declaring markets: outcome checks with z3, index and conditional securities, worlds, MARKET.toml."""

from __future__ import annotations

import doctest
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy

from deepmarkets.beliefs import market as market_module
from deepmarkets.beliefs.makers import LMSR, LSLMSR, MAX_AMOUNT, MarketMaker, Quadratic
from deepmarkets.beliefs.market import Market, conditional, contract, current_market, index
from deepmarkets.errors import DeclarationError, ParseError
from deepmarkets.logic import atoms, exactly_one, ints, parse


def test_docstring_examples_run():
    failures, tried = doctest.testmod(market_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def _weather(maker=None):
    with Market("weather", theory=["~(rain & snow)"], maker=maker or LMSR(b=10)) as m:
        contract("rain")
        contract("snow")
        contract("~rain & ~snow", name="dry")
    return m


def _goals(maker=None):
    (x,) = ints("x")
    m = Market("goals", theory=[x >= 0, x <= 3], maker=maker or LMSR(b=5.0))
    for k in range(4):
        m.contract(x == k, name=f"x={k}")
    return m, x


# ---------------------------------------------------------------------------
# declaration
# ---------------------------------------------------------------------------
def test_with_block_declares_and_freezes():
    m = _weather()
    assert m.frozen and m.outcomes == ("rain", "snow", "dry")
    assert repr(m.maker) == "LMSR(n=3, b=10)"
    assert m.prices().tolist() == pytest.approx([1 / 3] * 3)
    with pytest.raises(DeclarationError, match="frozen"):
        m.contract("hail")
    with pytest.raises(DeclarationError, match="no market is being declared"):
        contract("rain")


def test_exception_inside_the_block_leaves_no_current_market():
    with pytest.raises(RuntimeError):
        with Market("broken"):
            contract("a")
            raise RuntimeError("boom")
    with pytest.raises(DeclarationError, match="no market is being declared"):
        current_market()


def test_nested_blocks_use_the_innermost_market():
    with Market("outer") as outer:
        contract("a")
        contract("~a")
        with Market("inner") as inner:
            contract("b")
            contract("~b")
    assert outer.outcomes == ("a", "~a") and inner.outcomes == ("b", "~b")


def test_market_without_with_freezes_on_first_use():
    m = Market("coin", maker=LMSR(b=2.0))
    heads, = atoms("heads")
    m.contract(heads)
    m.contract(~heads, name="tails")
    assert not m.frozen
    cost = m.trade("heads", 1.0)
    assert m.frozen
    assert cost == pytest.approx(2 * math.log((math.exp(0.5) + 1) / 2), rel=1e-14)
    assert m.state.tolist() == [1.0, 0.0]


def test_trading_moves_prices_like_the_maker():
    m = _weather()
    c = m.trade("rain", 10, trader="ann")
    assert c == pytest.approx(10 * math.log((math.e + 2) / 3), rel=1e-14)
    e = np.exp(np.array([1.0, 0.0, 0.0]))
    assert m.prices().to_numpy() == pytest.approx(e / e.sum(), rel=1e-14)
    assert m.quote("rain", -10) == pytest.approx(-c, rel=1e-12)
    assert m.prices()["rain"] == pytest.approx(e[0] / e.sum())  # quote did not trade
    m.reset()
    assert m.state.tolist() == [0.0, 0.0, 0.0] and m.history.empty


def test_trades_beyond_the_accurate_size_are_refused_and_leave_the_market_as_it_was():
    m = _weather()
    with pytest.raises(DeclarationError, match=r"a trade of 1e\+308 units of 'rain' exceeds the limit of 1e\+09 units"):
        m.trade("rain", 1e308)
    assert MAX_AMOUNT == 1e9 and m.trade("rain", 6e8) == pytest.approx(6e8 - 10 * math.log(3), rel=1e-15)
    with pytest.raises(DeclarationError, match=r"the maker would hold 1.2e\+09 units of outcome 'rain', beyond"):
        m.trade("rain", 6e8)
    assert m.state.tolist() == [6e8, 0.0, 0.0] and len(m.history) == 1
    m, x = _goals()
    m.index(x, name="goals")  # pays x: a unit moves outcome x=3 three units
    m.trade("goals", 3e8)
    with pytest.raises(DeclarationError, match=r"would hold 1.2e\+09 units of outcome 'x=3'"):
        m.trade("goals", 1e8)


def test_unknown_and_duplicate_names():
    m = _weather()
    with pytest.raises(DeclarationError, match=r"no security 'hail'; known securities: 'rain', 'snow', 'dry'"):
        m.trade("hail", 1)
    with pytest.raises(DeclarationError, match="finite"):
        m.trade("rain", float("nan"))
    with pytest.raises(DeclarationError, match="non-zero"):
        m.trade("rain", 0)
    with pytest.raises(DeclarationError, match="already has a security named 'rain'"):
        with Market("dup"):
            contract("rain")
            contract("~rain", name="rain")


def test_outcomes_must_be_exclusive_and_exhaustive():
    with pytest.raises(DeclarationError, match=r"'rain' and 'wet' can both be true.*arbitrage"):
        with Market("overlap"):
            contract("rain")
            contract("wet")
            contract("~rain & ~wet")
    with pytest.raises(DeclarationError, match=r"not exhaustive.*rain=False"):
        with Market("gap"):
            contract("rain")
            contract("snow & ~rain")
    with pytest.raises(DeclarationError, match="'hail' .* is impossible"):
        with Market("impossible", theory=["~hail"]):
            contract("rain")
            contract("~rain & ~hail", name="dry")
            contract("hail")
    # the theory can make overlapping-looking sentences exclusive
    a, b, c = atoms("a b c")
    with Market("field", theory=[exactly_one(a, b, c)]) as m:
        for s in (a, b, c):
            contract(s)
    assert len(m.outcomes) == 3
    with pytest.raises(DeclarationError, match="no contracts"):
        Market("empty").freeze()


def test_maker_binding():
    with pytest.raises(DeclarationError, match=r"prices 2 securities but market 'weather' declares 3"):
        _weather(LMSR(2, b=1.0))
    assert _weather(Quadratic(b=30.0)).maker.n == 3
    with pytest.raises(DeclarationError, match="MarketMaker"):
        Market("m", maker="lmsr")


def test_incomplete_maker_allows_overlapping_contracts():
    q0, q1 = sympy.symbols("q0 q1")
    binaries = MarketMaker(sympy.log(1 + sympy.exp(q0)) + sympy.log(1 + sympy.exp(q1)), [q0, q1], complete=False)
    with Market("two questions", maker=binaries) as m:
        contract("rain")
        contract("wind")
    assert m.prices().tolist() == pytest.approx([0.5, 0.5])
    assert m.outcome_truth({"rain": True, "wind": True}).tolist() == [1.0, 1.0]
    with pytest.raises(DeclarationError, match="needs a complete maker"):
        with Market("no index", maker=binaries):
            contract("rain")
            contract("wind")
            index(atoms("rain")[0], name="r")


# ---------------------------------------------------------------------------
# index and conditional securities
# ---------------------------------------------------------------------------
def test_index_security_is_a_bundle_of_outcomes():
    m, x = _goals()
    m.index(x, name="goals")
    m.index(sympy.Symbol("x", integer=True) ** 2, name="goals squared")
    m.index(x >= 2, name="two or more")
    m.index(1.5, name="constant")
    p = m.prices()
    assert p["goals"] == pytest.approx(1.5) and p["goals squared"] == pytest.approx(3.5)
    assert p["two or more"] == pytest.approx(0.5) and p["constant"] == pytest.approx(1.5)
    b, k = 5.0, 2.0
    f = np.arange(4.0)
    cost = m.trade("goals", k)
    assert cost == pytest.approx(b * math.log(np.exp(k * f / b).mean()), rel=1e-13)
    assert m.state.tolist() == pytest.approx((k * f).tolist())
    w = np.exp(k * f / b) / np.exp(k * f / b).sum()
    assert m.prices()["goals"] == pytest.approx(w @ f, rel=1e-13)
    assert m.quote("constant", 2.0) == pytest.approx(3.0, rel=1e-12)  # a sure payoff costs its value


def test_index_payoff_must_be_decided_by_the_outcomes():
    (x,) = ints("x")
    (y,) = ints("y")
    with pytest.raises(DeclarationError, match="not decided by the outcome 'low'"):
        with Market("m", theory=[x >= 0, x <= 3]):
            contract(x <= 1, name="low")
            contract(x >= 2, name="high")
            index(x, name="x")
    with pytest.raises(DeclarationError, match="uses z, which no sentence"):
        with Market("m", theory=[x >= 0, x <= 1, y == 0]):
            contract(x == 0)
            contract(x == 1)
            index(sympy.Symbol("z"), name="z")
    with pytest.raises(DeclarationError, match="index payoff must be"):
        Market("m").index("x")


def test_conditional_price_trade_and_settlement():
    b = 10.0
    with Market("c", theory=[exactly_one(*atoms("a1 a2 a3 a4"))], maker=LMSR(b=b)) as m:
        for name in ("a1", "a2", "a3", "a4"):
            contract(name)
        conditional("a1", given="a1 | a2", name="a1|a12")
    m.trade("a1", 3.0)
    m.trade("a3", -2.0)
    p = m.prices()
    assert p["a1|a12"] == pytest.approx(p["a1"] / (p["a1"] + p["a2"]), rel=1e-14)
    before = m.prices()
    k = 4.0
    pi = before["a1|a12"]
    cost = m.trade("a1|a12", k, trader="cat")
    assert cost == pytest.approx(b * math.log(pi * math.exp(k / b) + 1 - pi), rel=1e-12)
    after = m.prices()
    # Hanson's semantics: P(B) and the distribution outside B are unchanged
    assert after["a1"] + after["a2"] == pytest.approx(before["a1"] + before["a2"], rel=1e-12)
    assert after[["a3", "a4"]].to_numpy() == pytest.approx(before[["a3", "a4"]].to_numpy(), rel=1e-12)
    assert after["a1|a12"] > pi
    # the bundle refunds the cost in ~B outcomes and pays k in A & B
    delta = m.state.to_numpy() - np.array([3.0, 0.0, -2.0, 0.0])
    assert delta[2] == pytest.approx(cost, rel=1e-12) and delta[3] == pytest.approx(cost, rel=1e-12)
    assert delta[0] == pytest.approx(k) and delta[1] == 0.0


def test_conditional_is_self_financing_for_the_quadratic_maker():
    with Market("c", theory=[exactly_one(*atoms("a b c"))], maker=Quadratic(b=50.0)) as m:
        for name in "abc":
            contract(name)
        conditional("a", given="a | b", name="a|ab")
    q = m.state.to_numpy()
    cost = m.trade("a|ab", 3.0)
    delta = m.state.to_numpy() - q
    assert delta[0] == pytest.approx(3.0) and delta[1] == 0.0
    assert delta[2] == pytest.approx(cost, rel=1e-10)  # refund in ~B equals what was paid
    assert m.maker.trade_cost(q, delta) == pytest.approx(cost, rel=1e-14)


def test_conditional_closed_form_matches_root_finding():
    # the same LMSR written as a custom maker goes through the generic self-financing root
    q = sympy.symbols("q0:3")
    b = sympy.Symbol("b")
    custom = MarketMaker(b * sympy.log(sum(sympy.exp(s / b) for s in q)), q, parameters={b: 3.0})
    markets = []
    for maker in (LMSR(b=3.0), custom):
        with Market("c", theory=[exactly_one(*atoms("a b c"))], maker=maker) as m:
            for name in "abc":
                contract(name)
            conditional("a", given="a | b", name="a|ab")
        markets.append(m)
    for security, k in [("a", 2.0), ("a|ab", 5.0), ("c", -1.0), ("a|ab", -7.5), ("a|ab", 0.25)]:
        costs = [m.trade(security, k) for m in markets]
        assert costs[0] == pytest.approx(costs[1], rel=1e-9, abs=1e-12)
    assert markets[0].state.to_numpy() == pytest.approx(markets[1].state.to_numpy(), rel=1e-9)


def test_conditional_needs_a_translation_invariant_maker():
    with pytest.raises(DeclarationError, match="translation-invariant maker"):
        with Market("c", theory=[exactly_one(*atoms("a b"))], maker=LSLMSR(alpha=0.05)):
            contract("a")
            contract("b")
            conditional("a", given="a | b")


def test_conditional_must_be_decided_and_possible():
    with pytest.raises(DeclarationError, match="not decided by the outcome"):
        with Market("m"):
            contract("a")
            contract("~a")
            conditional("a", given="b")
    with pytest.raises(DeclarationError, match="false in every outcome"):
        with Market("m", theory=["~b"]):
            contract("a")
            contract("~a")
            conditional("a", given="b")


# ---------------------------------------------------------------------------
# worlds
# ---------------------------------------------------------------------------
def test_world_forms(tmp_path):
    m = _weather()
    assert m.outcome_truth("snow").tolist() == [0, 1, 0]
    assert m.outcome_truth({"rain": False, "snow": False}).tolist() == [0, 0, 1]
    rain, snow = atoms("rain snow")
    assert m.outcome_truth({rain: True}).tolist() == [1, 0, 0]
    assert m.outcome_truth("~rain\n~snow  # a dry day").tolist() == [0, 0, 1]
    assert m.outcome_truth(snow).tolist() == [0, 1, 0]
    assert m.outcome_truth([~rain, "snow"]).tolist() == [0, 1, 0]
    facts = tmp_path / "world.txt"
    facts.write_text("rain\n")
    assert m.outcome_truth(facts).tolist() == [1, 0, 0]
    goals, x = _goals()
    assert goals.outcome_truth({"x": 2}).tolist() == [0, 0, 1, 0]
    assert goals.outcome_truth({x: 3}).tolist() == [0, 0, 0, 1]


def test_files_with_a_byte_order_mark(tmp_path):
    # Notepad and Excel start UTF-8 files with a byte-order mark; it is not part of the first line
    (tmp_path / "theory.txt").write_text("rain -> wet\n", encoding="utf-8-sig")
    (tmp_path / "m.toml").write_text('name = "bom"\ntheory = "theory.txt"\n[[securities]]\nsentence = "rain"\n'
                                     '[[securities]]\nsentence = "~rain"\n', encoding="utf-8-sig")
    m = Market.from_toml(tmp_path / "m.toml")
    assert m.name == "bom" and [str(a) for a in m.theory.axioms] == ["rain -> wet"]
    facts = tmp_path / "world.txt"
    facts.write_text("~rain\n", encoding="utf-8-sig")
    assert m.outcome_truth(facts).tolist() == [0, 1]


def test_bad_worlds():
    m = _weather()
    with pytest.raises(DeclarationError, match="makes 2 outcomes true"):
        m.outcome_truth({"rain": True, "snow": True})
    with pytest.raises(DeclarationError, match="does not decide the outcome 'rain'"):
        m.outcome_truth({"snow": False})
    with pytest.raises(DeclarationError, match="does not mention; declared names: rain, snow"):
        m.outcome_truth({"hail": True})
    with pytest.raises(DeclarationError, match="needs True or False"):
        m.outcome_truth({"rain": 1})
    with pytest.raises(DeclarationError, match="cannot read a world"):
        m.outcome_truth(3.5)
    goals, _ = _goals()
    with pytest.raises(DeclarationError, match="makes no outcome true"):
        goals.outcome_truth({"x": 7})
    with Market("wet", theory=["rain -> wet"]) as wet:
        contract("rain")
        contract("~rain")
    with pytest.raises(DeclarationError, match="contradicts the theory of market 'wet'"):
        wet.outcome_truth({"rain": True, "wet": False})
    with pytest.raises(DeclarationError, match="x is an integer"):
        goals.outcome_truth({"x": 1.5})


# ---------------------------------------------------------------------------
# MARKET.toml
# ---------------------------------------------------------------------------
def _doc_toml() -> str:
    doc = Market.from_toml.__doc__
    block = doc.split("Example ``MARKET.toml``::", 1)[1].split("A security's", 1)[0]
    return textwrap.dedent(block)


@pytest.fixture
def market_toml(tmp_path) -> Path:
    path = tmp_path / "MARKET.toml"
    path.write_text(_doc_toml())
    return path


def test_from_toml_reads_the_documented_example(market_toml):
    m = Market.from_toml(market_toml)
    assert m.name == "goals" and m.frozen
    assert [s.name for s in m.securities] == ["none", "one", "two", "goals", "two if any"]
    assert [s.kind for s in m.securities] == ["contract"] * 3 + ["index", "conditional"]
    assert repr(m.maker) == "LMSR(n=3, b=10)"
    assert m.prices().to_dict() == pytest.approx({"none": 1 / 3, "one": 1 / 3, "two": 1 / 3, "goals": 1.0,
                                                  "two if any": 0.5})
    assert m.outcome_truth({"goals": 1}).tolist() == [0, 1, 0]


def test_from_toml_with_a_theory_file_and_other_makers(tmp_path):
    (tmp_path / "theory.txt").write_text("# one winner\nexactly_one(a, b)\n")
    (tmp_path / "m.toml").write_text(textwrap.dedent("""
        theory = "theory.txt"
        [maker]
        kind = "lslmsr"
        alpha = 0.1
        initial = 2.0
        [[securities]]
        sentence = "a"
        [[securities]]
        sentence = "b"
        [[securities]]
        payoff = "3"
        name = "three"
    """))
    m = Market.from_toml(tmp_path / "m.toml")
    assert m.name == "m" and repr(m.maker) == "LSLMSR(n=2, alpha=0.1, initial=2)"
    assert m.state.tolist() == [2.0, 2.0]
    assert m.prices()["three"] == pytest.approx(3 * m.prices()[["a", "b"]].sum())


@pytest.mark.parametrize(("body", "message"), [
    ('colour = "red"\n[[securities]]\nsentence = "a"', "unknown key(s) colour"),
    ('[maker]\nkind = "cpmm"\n[[securities]]\nsentence = "a"', "maker.kind = 'cpmm'"),
    ('[maker]\nkind = "lmsr"\nc = 1\n[[securities]]\nsentence = "a"', "maker.c is not a parameter of lmsr"),
    ('[maker]\nkind = "quadratic"\nb = -1\n[[securities]]\nsentence = "a"', "b=-1; expected a positive finite number"),
    ('name = "x"', "expected one or more [[securities]]"),
    ('[[securities]]\nsentence = 3', "securities[1]: 'sentence' must be a sentence as text"),
    ('[[securities]]\nsentence = "a"\ncolour = 1', "securities[1]: unknown key(s) colour"),
    ('[[securities]]\nsentence = "a"\n[[securities]]\nsentence = "~a"\n[[securities]]\npayoff = "a & b"',
     "not an arithmetic expression"),
    ('theory = 3\n[[securities]]\nsentence = "a"', "'theory' must be a list"),
    ('theory = "missing.txt"\n[[securities]]\nsentence = "a"', "theory = 'missing.txt': "),
    ('name = [', "not valid TOML"),
])
def test_from_toml_errors_name_the_key(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(DeclarationError, match=re.escape(message)):
        Market.from_toml(path)


def test_from_toml_bad_sentence_is_a_parse_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[securities]]\nsentence = "a & "\n')
    with pytest.raises(ParseError, match="securities"):
        Market.from_toml(path)
    with pytest.raises(DeclarationError, match="no such market file"):
        Market.from_toml(tmp_path / "absent.toml")


def test_display_and_dict():
    m = _weather()
    m.trade("snow", 1.0)
    assert "snow" in m.summary() and "LMSR(n=3, b=10)" in repr(m)
    data = m.to_dict()
    assert data["theory"] == ["~(rain & snow)"] and data["state"] == [0.0, 1.0, 0.0]
    assert sum(data["prices"].values()) == pytest.approx(1.0)
    assert parse("rain") == m.securities[0].sentence
