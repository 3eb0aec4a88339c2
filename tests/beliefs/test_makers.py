"""Cost-function market makers: closed forms, sympy proofs, stable numerics, bad input."""

from __future__ import annotations

import doctest
import json
import math
import time

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from deepmarkets.beliefs import makers
from deepmarkets.beliefs.makers import LMSR, LSLMSR, MarketMaker, Quadratic
from deepmarkets.beliefs.properties import MakerReport, PropertyCheck
from deepmarkets.errors import DeclarationError

FAST = settings(max_examples=30, deadline=None)


def test_docstring_examples_run():
    failures, tried = doctest.testmod(makers, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


# ---------------------------------------------------------------------------
# verify(): what is proven, checked, or fails
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(2, 11))
def test_lmsr_proves_its_properties_and_worst_case_loss_b_log_n(n):
    mm = LMSR(n, b=3.0)
    report = mm.verify(points=20, rng=n)
    assert {"prices_sum_to_one", "translation_invariance", "convexity", "worst_case_loss",
            "prices_in_unit_interval"} <= report.proven
    assert report.fails == frozenset()
    b = sympy.Symbol("b", positive=True)
    assert sympy.simplify(report["worst_case_loss"].value - b * sympy.log(n)) == 0


def test_lmsr_worst_case_loss_is_approached_numerically():
    # the supremum b log n is approached as the outcome's quantity grows, never exceeded
    mm = LMSR(4, b=2.0)
    for t in (1.0, 10.0, 60.0):
        q = np.array([t, 0.0, 0.0, 0.0])
        loss = q[0] - (mm.cost(q) - mm.cost(np.zeros(4)))
        assert loss < 2.0 * math.log(4)
    assert loss == pytest.approx(2.0 * math.log(4), abs=1e-9)


@pytest.mark.parametrize("n", [2, 3, 6])
def test_quadratic_proofs_and_its_price_region(n):
    b = 5.0
    mm = Quadratic(n, b=b)
    report = mm.verify(points=50, rng=1)
    assert {"prices_sum_to_one", "translation_invariance", "convexity", "worst_case_loss"} <= report.proven
    bs = sympy.Symbol("b", positive=True)
    assert sympy.simplify(report["worst_case_loss"].value - bs * (n - 1) / (2 * n)) == 0
    # unrestricted prices leave [0, 1]: the counterexample is real
    bad = report["prices_in_unit_interval"]
    assert bad.status == "fails"
    p = mm._prices(np.array([bad.counterexample["q"]]))[0]
    assert not ((p >= 0) & (p <= 1)).all()
    # the worst case is attained at q = b (e_w - 1/n), on the edge of the allowed region
    q = b * (np.eye(n)[0] - 1.0 / n)
    assert mm.prices(q)[0] == pytest.approx(1.0)
    assert q[0] - mm.cost(q) + mm.cost(np.zeros(n)) == pytest.approx(b * (n - 1) / (2 * n), rel=1e-12)


def test_lslmsr_reports_what_fails_and_what_holds():
    alpha, n, initial = 0.05, 3, 2.0
    mm = LSLMSR(n, alpha=alpha, initial=initial)
    report = mm.verify(points=60, rng=2)
    assert {"prices_sum_to_one", "translation_invariance", "prices_in_unit_interval"} <= report.fails
    assert "convexity" in report.checked and "prices_sum_at_least_one" in report.checked
    assert {"worst_case_loss", "homogeneity"} <= report.proven
    a, init = sympy.symbols("alpha initial", positive=True)
    assert sympy.simplify(report["worst_case_loss"].value - n * a * init * sympy.log(n)) == 0
    # counterexamples are genuine
    ti = report["translation_invariance"].counterexample
    q, k = np.array(ti["q"]), ti["k"]
    assert abs(mm.cost(q + k) - mm.cost(q) - k) > 1e-6
    s1 = report["prices_sum_to_one"].counterexample
    assert mm.prices(np.array(s1["q"])).sum() > 1 + 1e-9
    # p_0 at q = e_0 exceeds 1 (independent 50-digit evaluation of p_i = s_i + alpha H(s))
    mpmath.mp.dps = 50
    x = [mpmath.mpf(1) / mpmath.mpf("0.05")] + [mpmath.mpf(0)] * (n - 1)
    z = mpmath.fsum(mpmath.e ** v for v in x)
    s = [mpmath.e ** v / z for v in x]
    h = -mpmath.fsum(si * mpmath.log(si) for si in s)
    p0 = s[0] + mpmath.mpf("0.05") * h
    assert p0 > 1
    assert report["prices_in_unit_interval"].counterexample["price_minus_one"] == pytest.approx(float(p0 - 1),
                                                                                                 rel=1e-6)


def test_lslmsr_worst_case_loss_from_its_start():
    mm = LSLMSR(2, alpha=0.1, initial=1.0)
    q0 = mm.initial_state()
    bound = 0.1 * 2 * 1.0 * math.log(2)
    # a trader buying outcome 0 heavily never makes the maker lose more than the bound
    for t in (0.5, 5.0, 500.0):
        q = q0 + np.array([t, 0.0])
        loss = t - (mm.cost(q) - mm.cost(q0))
        assert loss <= bound + 1e-12
    # selling almost everything back approaches it: q -> 0 along the diagonal
    q = q0 * 1e-9
    loss = (q[0] - q0[0]) - (mm.cost(q) - mm.cost(q0))
    assert loss <= bound and loss == pytest.approx(bound, rel=1e-6)


def test_custom_maker_lmsr_form_is_proven_except_the_loss():
    q0, q1, q2, beta = sympy.symbols("x y z beta")
    cost = beta * sympy.log(sympy.exp(q0 / beta) + sympy.exp(q1 / beta) + sympy.exp(q2 / beta))
    mm = MarketMaker(cost, [q0, q1, q2], parameters={beta: 2.0})
    report = mm.verify(points=40, rng=3)
    assert {"prices_sum_to_one", "translation_invariance", "convexity"} <= report.proven
    loss = report["worst_case_loss"]
    assert loss.status == "checked"  # a numerical lower bound, labelled as such
    assert loss.value <= 2.0 * math.log(3) + 1e-9
    assert loss.value == pytest.approx(2.0 * math.log(3), rel=1e-3)


def test_custom_maker_counterexamples():
    q0, q1 = sympy.symbols("q0 q1")
    concave = MarketMaker((q0 + q1) / 2 - (q0 - q1) ** 2 / 8, [q0, q1])
    report = concave.verify(points=40, rng=4)
    assert report["convexity"].status == "fails"
    ce = report["convexity"].counterexample
    x, y = np.array(ce["x"]), np.array(ce["y"])
    assert concave.cost(y) < concave.cost(x) + concave.prices(x) @ (y - x)

    tilted = MarketMaker(sympy.log(sympy.exp(q0) + sympy.exp(q1)) + (q0 + q1) / 10, [q0, q1])
    report = tilted.verify(points=20, rng=5)
    assert report["prices_sum_to_one"].status == "fails"
    assert report["prices_sum_to_one"].counterexample["sum"] == pytest.approx(1.2)

    linear = MarketMaker((q0 + q1) / 2, [q0, q1])
    assert linear.verify(points=20, rng=6)["worst_case_loss"].status == "fails"  # unbounded


def test_incomplete_maker_skips_the_sum_property():
    q0, q1 = sympy.symbols("q0 q1")
    two_binaries = MarketMaker(sympy.log(1 + sympy.exp(q0)) + sympy.log(1 + sympy.exp(q1)), [q0, q1],
                               complete=False)
    report = two_binaries.verify(points=20, rng=7)
    assert "prices_sum_to_one" not in {c.name for c in report.checks}
    assert report["prices_in_unit_interval"].status in ("checked", "proven")


def test_report_formats():
    report = LMSR(2, b=1.0).verify(points=10, rng=0)
    assert isinstance(report, MakerReport)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["maker"] == "LMSR(n=2, b=1)"
    assert [c["status"] for c in data["checks"]] == ["proven"] * 5
    text = report.summary()
    for c in report.checks:
        assert c.name in text
    assert report._repr_markdown_().count("| proven |") == 5
    assert "worst_case_loss: proven" in repr(report)
    assert report.proven | report.checked | report.fails == {c.name for c in report.checks}
    with pytest.raises(KeyError, match="convexity"):
        report["nope"]
    with pytest.raises(DeclarationError):
        PropertyCheck("x", "maybe", "")


# ---------------------------------------------------------------------------
# numerics: stable versions agree with the sympy definitions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mm", [LMSR(4, b=2.5), Quadratic(4, b=40.0), LSLMSR(4, alpha=0.07)],
                         ids=["lmsr", "quadratic", "lslmsr"])
def test_stable_numerics_match_the_sympy_definition(mm):
    rng = np.random.default_rng(0)
    Q = rng.uniform(1.0, 6.0, size=(50, 4))
    D = rng.uniform(-0.5, 0.5, size=(50, 4))
    assert np.allclose(mm._cost(Q), MarketMaker._cost(mm, Q), rtol=1e-12, atol=1e-12)
    assert np.allclose(mm._prices(Q), MarketMaker._prices(mm, Q), rtol=1e-10, atol=1e-12)
    assert np.allclose(mm._trade_cost(Q, D), MarketMaker._trade_cost(mm, Q, D), rtol=1e-9, atol=1e-11)


def test_closed_forms():
    b = 3.0
    mm = LMSR(3, b=b)
    q = np.array([1.0, -2.0, 0.5])
    e = np.exp(q / b)
    assert mm.prices(q) == pytest.approx(e / e.sum(), rel=1e-14)
    assert mm.cost(q) == pytest.approx(b * math.log(e.sum()), rel=1e-14)
    assert mm.trade_cost(q, [0.0, 2.0, 0.0]) == pytest.approx(
        b * math.log((e[0] + math.exp(0.0) * e[1] * math.exp(2 / b) + e[2]) / e.sum()), rel=1e-13)
    quad = Quadratic(2, b=4.0)
    # C = (q0 + q1)/2 + (q0 - q1)^2 / (4 b)
    assert quad.cost([1.0, -1.0]) == pytest.approx(0 + 4 / 16)
    assert quad.prices([1.0, -1.0]).tolist() == pytest.approx([0.75, 0.25])
    ls = LSLMSR(3, alpha=0.1)
    q = np.array([3.0, 1.0, 2.0])
    bq = 0.1 * q.sum()
    s = np.exp(q / bq) / np.exp(q / bq).sum()
    entropy = -(s * np.log(s)).sum()
    assert ls.prices(q) == pytest.approx(s + 0.1 * entropy, rel=1e-12)
    assert ls.prices(q).sum() == pytest.approx(1 + 0.1 * 3 * entropy, rel=1e-12)


def test_lmsr_does_not_overflow_at_large_quantities():
    mm = LMSR(3, b=1.0)
    q = np.array([1e6, 0.0, -5.0])
    assert mm.cost(q) == 1e6
    assert mm.prices(q).tolist() == [1.0, 0.0, 0.0]
    assert mm.trade_cost(q, [1.0, 0.0, 0.0]) == pytest.approx(1.0, rel=1e-15)
    assert mm.trade_cost(q, [0.0, 1.0, 0.0]) == pytest.approx(0.0, abs=1e-300)
    # tiny trade at a huge state: no cancellation
    small = mm.trade_cost([0.0, 1e6, 1e6], [1e-6, 0.0, 0.0])
    assert 0.0 <= small <= 1e-300
    half = LMSR(2, b=1.0).trade_cost([1e6, 1e6], [1e-6, 0.0])
    assert half == pytest.approx(math.log((math.exp(1e-6) + 1) / 2), rel=1e-12)


def test_price_path_matches_a_per_trade_loop():
    rng = np.random.default_rng(1)
    for mm in (LMSR(5, b=4.0), Quadratic(5, b=500.0), LSLMSR(5, alpha=0.05, initial=5.0)):
        D = np.zeros((2000, 5))
        D[np.arange(2000), rng.integers(0, 5, 2000)] = rng.uniform(-1.0, 1.5, 2000)
        q0 = mm.initial_state()
        path = mm.price_path(q0, D)
        q = q0.copy()
        loop_costs = np.empty(2000)
        for t in range(2000):
            loop_costs[t] = mm.trade_cost(q, D[t])
            q = q + D[t]
        assert np.allclose(path.costs, loop_costs, rtol=1e-9, atol=1e-12)
        assert np.array_equal(path.q[-1], q)
        assert np.allclose(path.prices[-1], mm.prices(q), rtol=1e-12)
        # path independence: total paid = C(q_T) - C(q_0)
        assert path.costs.sum() == pytest.approx(mm.cost(q) - mm.cost(q0), rel=1e-9, abs=1e-9)


def test_price_path_is_much_faster_than_a_loop():
    # 10^5 trades on a 10-outcome LMSR; the loop is timed on its first 10^4 trades (it is linear in T)
    mm = LMSR(10, b=20.0)
    rng = np.random.default_rng(2)
    T = 100_000
    D = np.zeros((T, 10))
    D[np.arange(T), rng.integers(0, 10, T)] = rng.normal(0, 1, T)
    start = time.perf_counter()
    path = mm.price_path(np.zeros(10), D)
    vectorised = time.perf_counter() - start
    m = 10_000
    q = np.zeros(10)
    costs = np.empty(m)
    start = time.perf_counter()
    for t in range(m):
        costs[t] = mm.trade_cost(q, D[t])
        q = q + D[t]
        mm.prices(q)
    looped = (time.perf_counter() - start) * (T / m)
    assert np.allclose(path.costs[:m], costs, rtol=1e-9, atol=1e-12)
    assert looped / vectorised >= 5


# ---------------------------------------------------------------------------
# properties on random trade sequences
# ---------------------------------------------------------------------------
def _trades(n_max: int, lo: float, hi: float):
    return st.integers(2, n_max).flatmap(lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.floats(lo, hi, allow_nan=False)), min_size=1, max_size=15),
    ))


def _deltas(n, trades):
    D = np.zeros((len(trades), n))
    for t, (i, k) in enumerate(trades):
        D[t, i] = k
    return D


@FAST
@given(_trades(5, -30.0, 30.0), st.floats(0.5, 50.0))
def test_lmsr_random_sequences(case, b):
    n, trades = case
    mm = LMSR(n, b=b)
    D = _deltas(n, trades)
    path = mm.price_path(np.zeros(n), D)
    assert ((path.prices >= 0) & (path.prices <= 1)).all()
    assert np.allclose(path.prices.sum(axis=1), 1.0, atol=1e-12)
    total = mm.cost(path.q[-1]) - mm.cost(path.q[0])
    assert path.costs.sum() == pytest.approx(total, rel=1e-9, abs=1e-9 * (1 + np.abs(path.costs).sum()))
    # any order of the same trades costs the same in total
    again = mm.price_path(np.zeros(n), D[::-1])
    assert again.costs.sum() == pytest.approx(path.costs.sum(), rel=1e-9, abs=1e-9 * (1 + np.abs(path.costs).sum()))


@FAST
@given(_trades(4, -1.0, 1.0))
def test_quadratic_random_sequences(case):
    n, trades = case
    mm = Quadratic(n, b=100.0)  # 15 trades of at most 1 unit stay inside the price region
    D = _deltas(n, trades)
    path = mm.price_path(np.zeros(n), D)
    assert ((path.prices >= 0) & (path.prices <= 1)).all()
    assert np.allclose(path.prices.sum(axis=1), 1.0, atol=1e-12)
    assert path.costs.sum() == pytest.approx(mm.cost(path.q[-1]) - mm.cost(path.q[0]), rel=1e-9, abs=1e-12)
    assert mm.price_path(np.zeros(n), D[::-1]).costs.sum() == pytest.approx(path.costs.sum(), rel=1e-9,
                                                                            abs=1e-12)


@FAST
@given(_trades(4, -0.5, 5.0), st.floats(0.01, 0.3))
def test_lslmsr_random_sequences(case, alpha):
    n, trades = case
    mm = LSLMSR(n, alpha=alpha, initial=10.0)
    D = _deltas(n, trades)
    path = mm.price_path(mm.initial_state(), D)
    sums = path.prices.sum(axis=1)
    assert (path.prices >= 0).all()
    assert (sums >= 1 - 1e-12).all() and (sums <= 1 + alpha * n * math.log(n) + 1e-12).all()
    assert path.costs.sum() == pytest.approx(mm.cost(path.q[-1]) - mm.cost(path.q[0]), rel=1e-9, abs=1e-9)
    assert mm.price_path(mm.initial_state(), D[::-1]).costs.sum() == pytest.approx(path.costs.sum(), rel=1e-9,
                                                                                   abs=1e-9)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("b", [0, -1.0, float("nan"), float("inf"), "x", True])
@pytest.mark.parametrize("cls", [LMSR, Quadratic])
def test_liquidity_must_be_positive_and_finite(cls, b):
    with pytest.raises(DeclarationError, match=r"b=.*; expected a positive finite number"):
        cls(2, b=b)


@pytest.mark.parametrize("alpha", [0, -0.1, float("inf")])
def test_lslmsr_alpha_must_be_positive(alpha):
    with pytest.raises(DeclarationError, match=r"alpha=.*; expected a positive finite number"):
        LSLMSR(2, alpha=alpha)


def test_bad_quantities_are_named():
    mm = LMSR(3, b=1.0)
    with pytest.raises(DeclarationError, match=r"security 1 \(q1\) is nan"):
        mm.prices([0.0, float("nan"), 0.0])
    with pytest.raises(DeclarationError, match=r"shape \(2,\).*3 securities"):
        mm.cost([0.0, 1.0])
    with pytest.raises(DeclarationError, match=r"security 0 \(q0\) inf"):
        mm.trade_cost([1e308, 0.0, 0.0], [1e308, 0.0, 0.0])
    with pytest.raises(DeclarationError, match=r"the cost is nan at q = \[10000000000.0, 0.0\]"):
        LMSR(2, b=1e-300).cost([1e10, 0.0])
    with pytest.raises(DeclarationError, match="3 states but delta has 2"):
        mm.trade_cost(np.zeros((3, 3)), np.zeros((2, 3)))
    with pytest.raises(DeclarationError, match="deltas must have shape"):
        mm.price_path(np.zeros(3), np.zeros(3))


def test_quadratic_refuses_to_leave_its_region():
    mm = Quadratic(2, b=4.0)
    with pytest.raises(DeclarationError, match=r"-2 <= q_i - mean\(q\) <= 2"):
        mm.trade_cost([0.0, 0.0], [5.0, 0.0])
    with pytest.raises(DeclarationError, match="outside"):
        mm.prices([10.0, 0.0])
    assert mm.trade_cost([0.0, 0.0], [4.0, 0.0]) == pytest.approx(2 + 16 / 16)  # exactly to the edge


def test_lslmsr_domain():
    mm = LSLMSR(2, alpha=0.05)
    with pytest.raises(DeclarationError, match=r"sum\(q\) > 0"):
        mm.trade_cost(mm.initial_state(), [-3.0, 0.0])
    with pytest.raises(DeclarationError, match=r"sum\(q\) > 0"):
        mm.prices([0.0, 0.0])


def test_unbound_makers_and_declarations():
    spec = LMSR(b=10)
    assert not spec.is_bound and spec.bind(4).n == 4 and repr(spec) == "LMSR(b=10)"
    with pytest.raises(DeclarationError, match="no number of outcomes"):
        spec.prices([0.0, 0.0])
    with pytest.raises(DeclarationError, match="prices 3 securities, but 2"):
        LMSR(3, b=1.0).bind(2)
    assert LSLMSR(alpha=0.1).bind(3).initial_state().tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(DeclarationError, match="whole number >= 2"):
        LMSR(1, b=1.0)
    x, y, c = sympy.symbols("x y c")
    with pytest.raises(DeclarationError, match="c, which is neither"):
        MarketMaker(c * (x + y), [x, y])
    with pytest.raises(DeclarationError, match="sympy expression"):
        MarketMaker("x + y", [x, y])
    with pytest.raises(DeclarationError, match="distinct"):
        MarketMaker(x, [x, x])


def test_scoring_rules_of_the_makers():
    assert repr(LMSR(2, b=3.0).scoring_rule()) == "LogScore(b=3)"
    assert repr(Quadratic(2, b=3.0).scoring_rule()) == "QuadraticScore(b=1.5)"
    with pytest.raises(DeclarationError, match="no market scoring rule"):
        LSLMSR(2).scoring_rule()
