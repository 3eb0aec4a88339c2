"""Arbitrage-free pricing: closed forms, brute force over worlds, exact certificates, bad input."""

from __future__ import annotations

import doctest
import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import deepmarkets.beliefs.arbitrage as arbitrage
from deepmarkets.beliefs.arbitrage import (
    ArbitrageFreeMarket,
    exact_projection,
    project,
    world_lmsr_prices,
)
from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, Verdict, atoms, check_coherence
from deepmarkets.logic.cases import CASES
from deepmarkets.logic.testing import brute_force_coherence, possible_truth_table, random_cnf_instance

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# independent reference formulas (written out here, not taken from the module)
# ---------------------------------------------------------------------------
def binary_cost(q: float, b: float) -> float:
    """The binary LMSR cost ``b log(1 + exp(q / b))``."""
    return b * float(np.logaddexp(0.0, q / b))


def kl(mu: np.ndarray, p: np.ndarray, b: float) -> float:
    """``b * sum KL(mu_i || p_i)`` for interior ``mu``."""
    mu, p = np.asarray(mu, dtype=float), np.asarray(p, dtype=float)
    return b * float(np.sum(mu * np.log(mu / p) + (1 - mu) * np.log((1 - mu) / (1 - p))))


def trade_payoff(delta, p, b, world) -> float:
    """Payoff of buying ``delta`` shares from independent binary LMSRs quoting ``p``, in ``world``."""
    q = b * np.log(np.asarray(p) / (1 - np.asarray(p)))
    return sum(d * float(v) - (binary_cost(qi + d, b) - binary_cost(qi, b))
               for d, qi, v in zip(delta, q, world, strict=True))


def scipy_projection(p, table, b=1.0) -> np.ndarray:
    """The projection by SLSQP over distributions on the distinct rows of a truth table."""
    rows = np.unique(np.asarray(table, dtype=float), axis=0)
    p = np.asarray(p, dtype=float)
    k = len(rows)

    def objective(x):
        mu = np.clip(x @ rows, 1e-12, 1 - 1e-12)
        grad = rows @ (b * (np.log(mu / (1 - mu)) - np.log(p / (1 - p))))
        return kl(mu, p, b), grad

    res = minimize(objective, np.full(k, 1.0 / k), jac=True, method="SLSQP", bounds=[(0, 1)] * k,
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones_like(x)}],
                   options={"ftol": 1e-16, "maxiter": 5000})
    return res.x @ rows


def brute_gap(result, table) -> float:
    """Frank–Wolfe gap of a projection, minimised over every row of an explicit truth table."""
    free = np.isfinite(result.arbitrage)
    g = result.arbitrage[free]
    values = np.asarray(table, dtype=float)[:, free] @ g
    return float(g @ result.mu[free] - values.min())


# ---------------------------------------------------------------------------
# closed form
# ---------------------------------------------------------------------------
def test_closed_form_three_securities():
    a, b = atoms("a b")
    p = np.array([0.6, 0.7, 0.2])
    r = project(zip([a, b, a & b], p, strict=True))
    assert r.converged
    np.testing.assert_allclose(r.mu, [0.561215, 0.665506, 0.226720], atol=1e-6)
    assert r.divergence == pytest.approx(0.0080409, abs=1e-6)
    assert r.divergence == pytest.approx(kl(r.mu, p, 1.0), abs=1e-14)
    assert r.gap < 1e-12
    # the arbitrage trade moves each binary LMSR from p to mu
    np.testing.assert_allclose(r.arbitrage, np.log(r.mu / (1 - r.mu)) - np.log(p / (1 - p)), atol=1e-12)
    # ... and earns at least the divergence in every one of the four worlds (brute force)
    worlds = [(x, y, x and y) for x, y in itertools.product([False, True], repeat=2)]
    payoffs = [trade_payoff(r.arbitrage, p, 1.0, w) for w in worlds]
    assert min(payoffs) >= r.divergence - r.gap - 1e-12
    assert min(payoffs) == pytest.approx(r.guaranteed_profit, abs=1e-12)
    assert r.guaranteed_profit == pytest.approx(r.divergence - r.gap, abs=1e-12)
    # the worlds of the active set are possible and their exact mixture is exactly the quote
    assert sum(r.weights) == 1 and all(w > 0 for w in r.weights)
    for i in range(3):
        assert sum(w for w, world in zip(r.weights, r.worlds, strict=True) if world[i]) == r.mu_exact[i]
    assert all(world[2] == (world[0] and world[1]) for world in r.worlds)


def test_closed_form_is_certified_coherent_and_matches_scipy():
    a, b = atoms("a b")
    r = project({a: 0.6, b: 0.7, a & b: 0.2})
    report = check_coherence(list(zip([a, b, a & b], r.mu_exact, strict=True)))
    assert report.verdict is Verdict.COHERENT
    np.testing.assert_allclose(scipy_projection([0.6, 0.7, 0.2], [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]]),
                               r.mu, atol=1e-6)


def test_liquidity_scales_the_divergence_not_the_projection():
    a, b, c = atoms("a b c")
    sents = [a, b, c, a | b, b & c]
    p = [0.3, 0.8, 0.5, 0.2, 0.7]
    r1, r3 = project(zip(sents, p, strict=True)), project(zip(sents, p, strict=True), b=3.0)
    np.testing.assert_allclose(r1.mu, r3.mu, atol=1e-9)
    assert r3.divergence == pytest.approx(3 * r1.divergence, rel=1e-9)
    np.testing.assert_allclose(r3.arbitrage, 3 * r1.arbitrage, rtol=1e-7)


def test_coherent_prices_project_to_themselves():
    a, b = atoms("a b")
    p = [0.6, 0.7, 0.4]  # P(a & b) = 0.4 is within [0.3, 0.6]: coherent, and interior
    r = project(zip([a, b, a & b], p, strict=True))
    np.testing.assert_allclose(r.mu, p, atol=1e-9)
    assert r.divergence < 1e-15 and abs(r.guaranteed_profit) < 1e-12


def test_entailed_and_impossible_sentences_are_fixed():
    a, b = atoms("a b")
    theory = Theory([a.implies(b)])
    sents = [a, b, a & ~b, ~a | b]  # a & ~b is impossible, ~a | b entailed
    p = np.array([0.5, 0.4, 0.3, 0.6])
    r = project(zip(sents, p, strict=True), theory)
    assert r.impossible == (2,) and r.entailed == (3,)
    assert r.mu[2] == 0 and r.mu[3] == 1 and r.mu_exact[2] == 0 and r.mu_exact[3] == 1
    assert r.arbitrage[2] == -math.inf and r.arbitrage[3] == math.inf
    # the free part: a -> b, with independent prices 0.5 and 0.4 (incoherent: P(a) > P(b))
    e = exact_projection(zip(sents, p, strict=True), theory)
    np.testing.assert_allclose(r.mu, e.mu, atol=1e-9)
    fixed = math.log(1 / 0.7) + math.log(1 / 0.6)  # KL(0 || 0.3) + KL(1 || 0.6)
    assert r.divergence == pytest.approx(kl(r.mu[:2], p[:2], 1.0) + fixed, abs=1e-12)
    # profit: the limit payoff of the fixed legs plus the free legs, in each of the three worlds
    for x, y in [(False, False), (False, True), (True, True)]:
        free = trade_payoff(r.arbitrage[:2], p[:2], 1.0, (x, y))
        assert r.payoff((x, y, False, True)) == pytest.approx(free + fixed, abs=1e-12)
        assert free + fixed >= r.divergence - r.gap - 1e-12
    assert r.guaranteed_profit == pytest.approx(r.divergence - r.gap, abs=1e-12)


def test_only_fixed_sentences():
    a, = atoms("a")
    r = project({a | ~a: 0.3, a & ~a: 0.9})
    assert r.mu.tolist() == [1.0, 0.0] and r.iterations == 0
    assert r.divergence == pytest.approx(math.log(1 / 0.3) + math.log(1 / 0.1), abs=1e-12)
    assert r.guaranteed_profit == pytest.approx(r.divergence, abs=1e-12)
    assert r.worlds == ((True, False),) and r.weights == (Fraction(1),)


# ---------------------------------------------------------------------------
# brute force over worlds
# ---------------------------------------------------------------------------
@PROPERTY
@given(seed=st.integers(0, 10_000), n_atoms=st.integers(3, 8), n_sents=st.integers(2, 7),
       b=st.sampled_from([0.5, 1.0, 4.0]))
def test_profit_property_random_incoherent_prices(seed, n_atoms, n_sents, b):
    inst = random_cnf_instance(n_atoms, n_sents, coherent=False, rng=seed)
    prices = np.clip(np.asarray(inst.prices), 0.02, 0.98)
    r = project(zip(inst.sentences, prices, strict=True), inst.theory, b=b, rng=seed)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    assert r.converged
    payoffs = [r.payoff(row) for row in table]
    assert min(payoffs) >= r.divergence - r.gap - 1e-9
    assert min(payoffs) == pytest.approx(r.guaranteed_profit, abs=1e-9)
    assert brute_gap(r, table) <= r.gap + 1e-12
    e = exact_projection(zip(inst.sentences, prices, strict=True), inst.theory, b=b, table=table)
    np.testing.assert_allclose(r.mu, e.mu, atol=1e-6)
    assert r.divergence == pytest.approx(e.divergence, abs=1e-9)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n_atoms=st.integers(2, 5), n_sents=st.integers(2, 5))
def test_exact_projection_is_optimal_and_matches_scipy(seed, n_atoms, n_sents):
    inst = random_cnf_instance(n_atoms, n_sents, coherent=False, rng=seed)
    prices = np.clip(np.asarray(inst.prices), 0.05, 0.95)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    e = exact_projection(zip(inst.sentences, prices, strict=True), inst.theory)
    assert brute_gap(e, table) < 1e-12
    free = np.isfinite(e.arbitrage)
    np.testing.assert_allclose(e.mu[free], scipy_projection(prices[free], table[:, free]), atol=1e-6)


def test_world_lmsr_prices_closed_form():
    a, b = atoms("a b")
    q = np.array([0.4, -1.2, 2.0])
    worlds = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 1)]
    weights = np.array([math.exp(np.dot(q, w) / 2.0) for w in worlds])
    expected = (weights / weights.sum()) @ np.array(worlds, dtype=float)
    np.testing.assert_allclose(world_lmsr_prices(q, [a, b, a & b], b=2.0), expected, rtol=1e-12)
    # a theory removes worlds: with a -> b the assignment (a, ~b) is gone
    kept = [0, 2, 3]
    expected = (weights[kept] / weights[kept].sum()) @ np.array(worlds, dtype=float)[kept]
    np.testing.assert_allclose(world_lmsr_prices(q, [a, b, a & b], Theory([a.implies(b)]), 2.0), expected,
                               rtol=1e-12)
    # prices are coherent by construction: the world LMSR quotes are in the marginal polytope
    prices = world_lmsr_prices(q, [a, b, a & b])
    assert project(zip([a, b, a & b], prices, strict=True)).divergence < 1e-12


# ---------------------------------------------------------------------------
# the market
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [3, 8])
def test_market_random_trades_certified_and_exact(seed):
    inst = random_cnf_instance(12, 12, coherent=False, rng=seed)
    rng = np.random.default_rng(seed)
    market = ArbitrageFreeMarket(inst.sentences, inst.theory, prices=rng.uniform(0.2, 0.8, 12), rng=seed)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    for _ in range(30):
        i, x = int(rng.integers(12)), float(rng.uniform(-1, 1))
        q = market.state
        before = market.prices().to_numpy()
        cost = market.trade(i, x)
        if math.isfinite(q[i]):
            assert cost == pytest.approx(binary_cost(q[i] + x, 1.0) - binary_cost(q[i], 1.0), abs=1e-12)
            # the projection is the gradient of a convex function: buying never lowers the quote
            assert (market.prices().to_numpy()[i] - before[i]) * x >= -1e-9
        else:
            assert cost == pytest.approx(x if q[i] > 0 else 0.0)
        # exactly coherent: an exact mixture of possible worlds, certified by check_coherence
        assert market.certificate().verify()
        assert market.check().verdict is Verdict.COHERENT
        # and the right quote: the exact projection of the post-trade independent prices
        q[i] += x
        finite = np.isfinite(q)
        p = np.where(finite, 1 / (1 + np.exp(-np.where(finite, q, 0.0))), 0.5)
        exact = exact_projection(zip(inst.sentences, p, strict=True), inst.theory, table=table)
        np.testing.assert_allclose(market.prices().to_numpy(), exact.mu, atol=1e-6)
        last = market.records[-1]
        assert last.guaranteed_profit >= last.divergence - last.gap - 1e-9
    # warm starts: a trade usually needs one or two oracle calls
    assert np.median([h.oracle_calls for h in market.records]) <= 2
    assert market.certificate().verify(inst.theory)


def test_market_quotes_respect_the_theory():
    a, b, c = atoms("a b c")
    theory = Theory([a.implies(b), b.implies(c)])
    m = ArbitrageFreeMarket([a, b, c, a & c], theory, b=2.0)
    for sec, x in [(0, 5.0), (c, -3.0), (a & c, -4.0), (1, 2.5)]:
        m.trade(sec, x)
        pa, pb, pc, pac = m.prices_exact
        assert pa <= pb <= pc and pac == pa  # a -> b -> c, and a & c is a
    assert m.index(a & c) == 3 and m.price(a) == pytest.approx(float(m.prices_exact[0]))
    assert m.check().verdict is Verdict.COHERENT
    assert m.cash == pytest.approx(sum(h.cost for h in m.records))
    d = m.to_dict()
    assert d["trades"] == 4 and json.dumps(d) and json.dumps(m.records[0].to_dict())
    assert "ArbitrageFreeMarket(4 securities" in repr(m) and "TradeRecord(buy 5" in repr(m.records[0])
    cert = m.certificate()
    assert repr(cert).startswith(f"QuoteCertificate({len(cert.worlds)} possible worlds")
    assert [Fraction(p) for p in cert.to_dict()["prices"]] == list(m.prices_exact)


def test_entailed_security_trades_at_one():
    a, = atoms("a")
    m = ArbitrageFreeMarket([a, a | ~a])
    assert m.prices().iloc[1] == 1.0 and math.isinf(m.state[1])
    assert m.trade(1, 3.0) == pytest.approx(3.0)
    assert m.prices().iloc[1] == 1.0 and m.records[-1].oracle_calls == 0


def test_extreme_trades_keep_exact_certificates():
    inst = random_cnf_instance(8, 8, coherent=False, rng=11)
    rng = np.random.default_rng(11)
    m = ArbitrageFreeMarket(inst.sentences, inst.theory, rng=0)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    for _ in range(12):
        m.trade(int(rng.integers(8)), float(rng.normal(0, 8)))
        cert = m.certificate()
        assert cert.verify()
        assert all(any(row.tolist() == list(w) for row in table) for w in cert.worlds)
        assert m.records[-1].status == "converged"


def test_market_opens_at_a_coherent_quote():
    inst = random_cnf_instance(10, 10, coherent=False, rng=4)
    m = ArbitrageFreeMarket(inst.sentences, inst.theory, rng=1)
    first = m.initial
    assert first.status == "converged" and first.gap == 0 and first.divergence < 1e-15
    assert m.certificate().verify(inst.theory) and m.check().verdict is Verdict.COHERENT
    # opening needs no projection: the arbitrage trade is zero and earns nothing
    assert np.all(first.arbitrage[np.isfinite(first.arbitrage)] == 0) and first.guaranteed_profit == 0


def test_uncertified_mode_keeps_quotes_exactly_coherent():
    inst = random_cnf_instance(10, 12, coherent=False, rng=6)
    rng = np.random.default_rng(6)
    prices = rng.uniform(0.1, 0.9, 12)
    fast = project(zip(inst.sentences, prices, strict=True), inst.theory, certify=False, rng=0)
    assert fast.status == "uncertified" and not fast.converged and fast.oracle_calls == 0
    assert math.isnan(fast.gap) and math.isnan(fast.guaranteed_profit) and fast.greedy_calls > 0
    assert sum(fast.weights) == 1
    for i in range(12):
        assert sum(w for w, world in zip(fast.weights, fast.worlds, strict=True) if world[i]) == fast.mu_exact[i]
    table = possible_truth_table(list(inst.sentences), inst.theory)
    rows = {tuple(bool(v) for v in row) for row in table}
    assert all(w in rows for w in fast.worlds)
    # the certified projection is at least as close to the prices, in divergence
    exact = project(zip(inst.sentences, prices, strict=True), inst.theory, rng=0)
    assert exact.converged and exact.divergence <= fast.divergence + 1e-12


def test_trades_to_coherent_prices_are_their_own_projection():
    inst = random_cnf_instance(12, 12, coherent=False, rng=5)
    rng = np.random.default_rng(5)
    m = ArbitrageFreeMarket(inst.sentences, inst.theory, rng=0)
    fast = 0
    for _ in range(20):
        i, x = int(rng.integers(12)), float(rng.normal(0, 0.5))
        lp = m.state / m.b
        if not math.isfinite(lp[i]):
            continue
        lp[i] += x / m.b
        p = 1.0 / (1.0 + np.exp(-lp))
        m.trade(i, x)
        h = m.records[-1]
        if h.iterations == 0:  # no Frank-Wolfe step: the post-trade prices were certified coherent
            fast += 1
            assert h.status == "converged" and h.oracle_calls == 0 and h.gap == 0
            finite = np.isfinite(lp)
            assert [m.prices_exact[k] for k in np.flatnonzero(finite)] == [Fraction(float(v)) for v in p[finite]]
            assert brute_force_coherence(list(zip(inst.sentences, m.prices_exact, strict=True)), inst.theory)[0]
        assert m.certificate().verify(inst.theory)
    assert fast >= 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_max_exact_caps_the_exact_calls_and_certifies_the_gap(seed):
    inst = random_cnf_instance(12, 14, coherent=False, rng=seed)
    prices = np.random.default_rng(seed).uniform(0.05, 0.95, 14)
    table = possible_truth_table(list(inst.sentences), inst.theory)
    priced = list(zip(inst.sentences, prices, strict=True))
    best = exact_projection(priced, inst.theory, table=table)
    r = project(priced, inst.theory, max_exact=1, rng=0)
    assert r.status in ("converged", "budget") and r.oracle_calls <= 1
    # the certified gap bounds how far the divergence is from the optimum
    assert best.divergence - 1e-12 <= r.divergence <= best.divergence + r.gap + 1e-12
    assert r.guaranteed_profit >= r.divergence - r.gap - 1e-9
    with pytest.raises(DeclarationError, match="max_exact"):
        project(priced, inst.theory, max_exact=0)
    with pytest.raises(DeclarationError, match="max_exact"):
        ArbitrageFreeMarket(inst.sentences, inst.theory, max_exact=True)


def test_z3_oracle_is_exact_and_greedy_is_possible():
    inst = random_cnf_instance(9, 10, coherent=False, rng=2)
    table = possible_truth_table(list(inst.sentences), inst.theory).astype(float)
    oracle = arbitrage._Z3Oracle(inst.theory, list(inst.sentences))
    rng = np.random.default_rng(2)
    rows = {tuple(bool(v) for v in row) for row in table}
    for _ in range(10):
        g = rng.normal(size=10)
        value, world = oracle.minimize(g)
        assert float(value) == pytest.approx((table @ g).min(), abs=1e-12)
        assert value == sum(Fraction(float(x)) for x, v in zip(g, world, strict=True) if v)
        greedy_value, greedy_world = oracle.greedy(g)
        assert greedy_world in rows and greedy_value >= float(value) - 1e-12


def test_projection_result_objects():
    a, b = atoms("a b")
    r = project({a: 0.6, b: 0.7, a & b: 0.2})
    d = r.to_dict()
    assert json.dumps(d) and d["status"] == "converged" and len(d["worlds"]) == len(d["weights_exact"])
    assert sum(Fraction(w) for w in d["weights_exact"]) == 1
    text = repr(r)
    assert text.startswith("Projection(mu=[0.561215, 0.665506, 0.22672]") and "converged" in text
    assert r.error_bound == pytest.approx(math.sqrt(r.gap / 2))


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("prices, match", [
    ([0.5, 1.0], "the price of b is 1.0; .* strictly between 0 and 1"),
    ([0.0, 0.5], "the price of a is 0.0; .* strictly between 0 and 1"),
    ([0.5, float("nan")], "the price of b is nan; .* not be NaN"),
    ([0.5, -0.2], "the price of b is -0.2; .* strictly between"),
    (["x", 0.5], "the price of a is 'x'; .* must be numbers"),
])
def test_bad_prices(prices, match):
    a, b = atoms("a b")
    with pytest.raises(DeclarationError, match=match):
        project(zip([a, b], prices, strict=True))


@pytest.mark.parametrize("liquidity", [0, -1.0, float("nan"), float("inf"), "big", True])
def test_bad_liquidity(liquidity):
    a, = atoms("a")
    with pytest.raises(DeclarationError, match="liquidity b"):
        project({a: 0.5}, b=liquidity)
    with pytest.raises(DeclarationError, match="liquidity b"):
        ArbitrageFreeMarket([a], b=liquidity)


def test_bad_declarations():
    a, b = atoms("a b")
    with pytest.raises(DeclarationError, match="no securities"):
        project({})
    with pytest.raises(DeclarationError, match="no securities"):
        ArbitrageFreeMarket([])
    with pytest.raises(DeclarationError, match="no possible world"):
        project({a: 0.5}, Theory([a, ~a]))
    with pytest.raises(DeclarationError, match="no possible world"):
        ArbitrageFreeMarket([a, b], [b & ~b])
    with pytest.raises(DeclarationError, match="tol"):
        project({a: 0.5}, tol=-1)
    with pytest.raises(DeclarationError, match="max_iter"):
        project({a: 0.5}, max_iter=0)
    with pytest.raises(DeclarationError, match="finite share counts"):
        world_lmsr_prices([0.0, float("nan")], [a, b])


def test_bad_trades():
    a, b, c = atoms("a b c")
    m = ArbitrageFreeMarket([a, b])
    with pytest.raises(DeclarationError, match=r"unknown security index 2; the market has securities 0\.\.1"):
        m.trade(2, 1.0)
    with pytest.raises(DeclarationError, match="unknown security index -1"):
        m.trade(-1, 1.0)
    with pytest.raises(DeclarationError, match="unknown security c"):
        m.trade(c, 1.0)
    with pytest.raises(DeclarationError, match=r"quantity=nan; expected a finite number; quantity is a number"):
        m.trade(0, float("nan"))
    with pytest.raises(DeclarationError, match="number of shares"):
        m.trade(0, "lots")
    assert m.records == []


def test_docstring_examples_run():
    failures, tried = doctest.testmod(arbitrage, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


# projection works in floating point: cases incoherent by less than 1e-9 are beyond its resolution
_PROJECTABLE = [c for c in CASES.values() if not c.given and c.max_profit is not None
                and (c.max_profit == 0 or c.max_profit > 1e-9) and all(0 < Fraction(p) < 1 for _, p in c.priced)]


@pytest.mark.parametrize("case", _PROJECTABLE, ids=lambda c: c.name)
def test_projection_agrees_with_the_coherence_catalogue(case):
    """Coherent prices project onto themselves; incoherent ones move, and the move is a certified arbitrage."""
    proj = project(case.prices(), case.theory())
    assert check_coherence(dict(zip(proj.sentences, proj.mu_exact, strict=True)), case.theory()).coherent
    if case.max_profit == 0:
        assert proj.divergence <= 1e-12
        np.testing.assert_allclose(proj.mu, [float(p) for _, p in case.priced], atol=1e-9)
    else:  # the maker's arbitrage earns at least the divergence (up to the certified gap) in every world
        assert proj.divergence > 0 and proj.guaranteed_profit >= proj.divergence - proj.gap - 1e-12
