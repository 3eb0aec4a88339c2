"""Scoring rules: closed forms, symbolic properness, and market scoring rules vs cost functions."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from deepmarkets.beliefs import scoring
from deepmarkets.beliefs.makers import LMSR, Quadratic
from deepmarkets.beliefs.scoring import LogScore, QuadraticScore, ScoringRule, SphericalScore, is_proper, msr_payout
from deepmarkets.errors import DeclarationError

FAST = settings(max_examples=30, deadline=None)
RULES = [LogScore(b=1.5), QuadraticScore(b=2.0), SphericalScore(b=0.5)]


def test_docstring_examples_run():
    failures, tried = doctest.testmod(scoring, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_published_values():
    # Brier (1950) in the "higher is better" form 2 p_w - sum p^2; log and spherical by hand
    assert QuadraticScore().score([0.7, 0.3], 0) == pytest.approx(2 * 0.7 - (0.49 + 0.09))
    assert QuadraticScore().score([1.0, 0.0, 0.0], 0) == 1.0
    assert QuadraticScore().score([1.0, 0.0, 0.0], 1) == -1.0
    assert LogScore(b=2).score([0.5, 0.25, 0.25], 1) == pytest.approx(2 * math.log(0.25))
    assert SphericalScore().score([0.6, 0.4], 0) == pytest.approx(0.6 / math.sqrt(0.52))
    assert LogScore().score([1.0, 0.0], 1) == -math.inf


@pytest.mark.parametrize("rule", RULES, ids=repr)
@pytest.mark.parametrize("n", [2, 3, 5])
def test_numeric_scores_match_the_sympy_definition(rule, n):
    rng = np.random.default_rng(n)
    P = rng.dirichlet(np.ones(n), size=20)
    w = rng.integers(0, n, size=20)
    p = ScoringRule.symbols(n)
    expected = [float(rule.expression(n, int(k)).subs(dict(zip(p, row, strict=True)))) for row, k in zip(P, w,
                                                                                                         strict=True)]
    assert np.allclose(rule.score(P, w), expected, rtol=1e-12)
    # the generic lambdified path gives the same numbers
    assert np.allclose(ScoringRule._numeric(rule, P, w), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("rule", [LogScore(), QuadraticScore(), SphericalScore()], ids=repr)
def test_standard_rules_are_proven_proper(rule, n):
    check = is_proper(rule, n, points=30, rng=0)
    assert check.status == "proven", check.detail
    assert "gradient" in check.detail and "convex" in check.detail


@pytest.mark.parametrize("formula", [
    lambda p, w: p[w],                                   # linear: report the mode
    lambda p, w: p[w] ** 2,                              # squared probability
    lambda p, w: sympy.log(p[w]) + 2 * p[w],             # a proper rule plus an improper term
], ids=["linear", "squared", "log-plus-linear"])
@pytest.mark.parametrize("n", [2, 3])
def test_improper_rules_fail_with_a_real_counterexample(formula, n):
    rule = ScoringRule(formula, name="improper")
    check = is_proper(rule, n, points=50, rng=1)
    assert check.status == "fails"
    r, p = np.array(check.counterexample["r"]), np.array(check.counterexample["p"])

    def expected(report):
        return sum(r[w] * rule.score(report, w) for w in range(n))

    assert expected(p) > expected(r) + 1e-9


def test_symbolic_failure_is_not_called_proven():
    # first-order condition fails symbolically for the linear rule, so even without a
    # numerical search budget it can never be reported proven
    assert scoring._symbolic_properness(ScoringRule(lambda p, w: p[w]), 2) is None
    assert scoring._symbolic_properness(LogScore(), 2) is not None


@FAST
@given(st.integers(2, 5).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n),
    st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))))
def test_truthful_report_maximises_expected_score(pair):
    r = np.array(pair[0]) / sum(pair[0])
    p = np.array(pair[1]) / sum(pair[1])
    n = len(r)
    for rule in RULES:
        truthful = sum(r[w] * rule.score(r, w) for w in range(n))
        other = sum(r[w] * rule.score(p, w) for w in range(n))
        assert other <= truthful + 1e-12


# ---------------------------------------------------------------------------
# market scoring rules = cost-function makers
# ---------------------------------------------------------------------------
@FAST
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-20, 20), min_size=n, max_size=n),
    st.lists(st.floats(-20, 20), min_size=n, max_size=n),
    st.integers(0, n - 1))), st.floats(0.5, 30.0))
def test_lmsr_is_the_log_market_scoring_rule(case, b):
    q, q2, w = np.array(case[0]), np.array(case[1]), case[2]
    mm = LMSR(len(q), b=b)
    # cost-function payout of moving q -> q2: receive (q2 - q)_w, pay C(q2) - C(q)
    payout = (q2 - q)[w] - mm.trade_cost(q, q2 - q)
    msr = msr_payout(mm.scoring_rule(), mm.prices(q), mm.prices(q2), w)
    assert msr == pytest.approx(payout, rel=1e-9, abs=1e-9)
    assert msr == pytest.approx(msr_payout(LogScore(b=b), mm.prices(q), mm.prices(q2), w), rel=1e-12)


@FAST
@given(st.integers(2, 5).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-1, 1), min_size=n, max_size=n),
    st.lists(st.floats(-1, 1), min_size=n, max_size=n),
    st.integers(0, n - 1))), st.floats(10.0, 100.0))
def test_quadratic_maker_is_the_quadratic_market_scoring_rule(case, b):
    q, q2, w = np.array(case[0]), np.array(case[1]), case[2]
    mm = Quadratic(len(q), b=b)  # |q_i - mean| <= 2 < b/n: inside the price region
    payout = (q2 - q)[w] - mm.trade_cost(q, q2 - q)
    msr = msr_payout(QuadraticScore(b=b / 2), mm.prices(q), mm.prices(q2), w)
    assert msr == pytest.approx(payout, rel=1e-9, abs=1e-9)


def test_msr_payout_is_vectorised_and_validated():
    before = np.array([[0.5, 0.5], [0.2, 0.8]])
    after = np.array([[0.8, 0.2], [0.4, 0.6]])
    out = msr_payout(LogScore(), before, after, [0, 1])
    assert out == pytest.approx([math.log(0.8 / 0.5), math.log(0.6 / 0.8)])
    with pytest.raises(DeclarationError, match="not finite"):
        msr_payout(LogScore(), [0.5, 0.5], [1.0, 0.0], 1)
    with pytest.raises(DeclarationError, match="sum to 1"):
        LogScore().score([0.5, 0.6], 0)
    with pytest.raises(DeclarationError, match="nonnegative"):
        QuadraticScore().score([1.5, -0.5], 0)
    with pytest.raises(DeclarationError, match="outcomes must be in 0..1"):
        QuadraticScore().score([0.5, 0.5], 2)
    with pytest.raises(DeclarationError, match="2 forecasts"):
        QuadraticScore().score(before, [0, 1, 1])
    with pytest.raises(DeclarationError, match="expected a positive finite number"):
        LogScore(b=0)
    with pytest.raises(DeclarationError, match="ScoringRule"):
        msr_payout("log", [0.5, 0.5], [0.5, 0.5], 0)
    with pytest.raises(DeclarationError, match="may only use the forecast"):
        ScoringRule(lambda p, w: p[w] * sympy.Symbol("k")).expression(2, 0)
    with pytest.raises(DeclarationError, match="whole number >= 2"):
        is_proper(LogScore(), 1)
