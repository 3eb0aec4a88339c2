"""LatentMarket: exact joints, log-score payouts, gauge invariance, conservation and informed traders."""

from __future__ import annotations

import doctest
import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import sympy

import deepmarkets.models.latent_market as lm
from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.infer_market import MarketPosterior
from deepmarkets.models.latent_market import LatentMarket, LatentState, Settlement, plot_tables
from deepmarkets.models.simulate import InformedTraders, plot_kl

OBSERVABLES = {
    "motive": ["yes", "no"],
    "alibi": ["yes", "no"],
    "witness": ["saw the suspect", "saw someone else", "saw nothing"],
    "fingerprints": ["found", "not found"],
}


def suspect(**kw) -> LatentMarket:
    return LatentMarket("suspect", latent=["guilty", "innocent"], observables=OBSERVABLES, **kw)


def true_state(m: LatentMarket) -> LatentState:
    return m.state_from(prior=[0.35, 0.65], tables={
        "motive": [[0.85, 0.15], [0.3, 0.7]],
        "alibi": [[0.15, 0.85], [0.6, 0.4]],
        "witness": [[0.6, 0.1, 0.3], [0.1, 0.4, 0.5]],
        "fingerprints": [[0.7, 0.3], [0.1, 0.9]],
    }, base=m.uniform_state())


def brute_joint(state: LatentState, x: tuple[int, ...]) -> float:
    """q(x) by the definition: sum over y of P(y) prod_i P(x_i | y), skipping unresolved (-1) entries."""
    total = 0.0
    for y in range(state.n_classes):
        term = state.prior[y]
        for i, xi in enumerate(x):
            if xi >= 0:
                term *= state.tables[i][y, xi]
        total += term
    return total


def three_class_market(b: float = 1.0) -> LatentMarket:
    return LatentMarket("three", latent=3, observables={"a": ["0", "1"], "c": ["x", "y", "z"], "d": ["0", "1"]}, b=b)


# ---------------------------------------------------------------------------
# declarations
# ---------------------------------------------------------------------------
def test_module_docstring_examples():
    failures, tried = doctest.testmod(lm, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 10 and failures == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"latent": 1, "observables": {"a": [0, 1]}}, "at least two states"),
        ({"latent": True, "observables": {"a": [0, 1]}}, "latent must"),
        ({"latent": ["g", "g"], "observables": {"a": [0, 1]}}, "distinct"),
        ({"latent": "gi", "observables": {"a": [0, 1]}}, "latent must"),
        ({"latent": 2, "observables": {}}, "non-empty mapping"),
        ({"latent": 2, "observables": {"a": ["only"]}}, "at least two"),
        ({"latent": 2, "observables": {"a": "yes/no"}}, "levels must be a sequence"),
        ({"latent": 2, "observables": {"a": ["y", "y", "n"]}}, "repeats"),
        ({"latent": 2, "observables": {"a": [1, "1"]}}, "repeats"),
        ({"latent": 2, "observables": {"a": [0, 1]}, "b": 0}, "positive finite number; b is the liquidity"),
        ({"latent": 2, "observables": {"a": [0, 1]}, "b": float("nan")}, "positive finite number; b is the liquidity"),
        ({"latent": 2, "observables": {"a": [0, 1]}, "state": {"prior": [0.5, 0.5]}}, "'prior' and 'tables'"),
        ({"latent": 2, "observables": {"a": [0, 1]}, "state": [0.5, 0.5]}, "LatentState or a mapping"),
    ],
)
def test_bad_declarations(kwargs, match):
    with pytest.raises(DeclarationError, match=match):
        LatentMarket("m", **kwargs)


@pytest.mark.parametrize(
    "prior, table, match",
    [
        ([0.5, 0.6], [[0.5, 0.5], [0.5, 0.5]], "sums to 1.1"),
        ([0.5, 0.5, 0.0], [[0.5, 0.5], [0.5, 0.5]], "shape \\(3,\\), expected \\(2,\\)"),
        ([1.0, 0.0], [[0.5, 0.5], [0.5, 0.5]], "in \\(0, 1\\]"),
        ([1.5, -0.5], [[0.5, 0.5], [0.5, 0.5]], "in \\(0, 1\\]"),
        ([float("nan"), 0.5], [[0.5, 0.5], [0.5, 0.5]], "non-finite"),
        ([0.5, 0.5], [[0.5, 0.5]], "P\\(a \\| Y\\) has shape \\(1, 2\\), expected \\(2, 2\\)"),
        ([0.5, 0.5], [[0.5, 0.5], [0.2, 0.7]], "P\\(a \\| Y\\) row 1 sums to 0.9"),
        ([0.5, 0.5], [[0.5, 0.5], [0.5, "x"]], "must be numbers"),
    ],
)
def test_bad_states(prior, table, match):
    m = LatentMarket("m", latent=2, observables={"a": [0, 1]})
    with pytest.raises(DeclarationError, match=match):
        m.state_from(prior=prior, tables={"a": table})
    with pytest.raises(DeclarationError, match=match):
        LatentMarket("m", latent=2, observables={"a": [0, 1]}, state={"prior": prior, "tables": {"a": table}})


def test_state_mismatches_are_named():
    m = suspect()
    other = LatentMarket("other", latent=3, observables=OBSERVABLES)
    with pytest.raises(DeclarationError, match="belongs to another market"):
        m.move("ann", other.uniform_state())
    with pytest.raises(DeclarationError, match="'gun', which is not an observable"):
        m.state_from(tables={"gun": [[0.5, 0.5], [0.5, 0.5]]})
    with pytest.raises(DeclarationError, match="one table per observable"):
        m.state_from(tables=[[[0.5, 0.5], [0.5, 0.5]]])
    with pytest.raises(DeclarationError, match="either a whole state"):
        m.move("ann", m.uniform_state(), prior=[0.5, 0.5])
    with pytest.raises(DeclarationError, match="needs a new state"):
        m.move("ann")
    with pytest.raises(DeclarationError, match="trader must be"):
        m.move("", prior=[0.5, 0.5])
    with pytest.raises(DeclarationError, match="permutation of 0..1"):
        m.relabel([0, 0])
    with pytest.raises(DeclarationError, match="permutation of 0..1"):
        m.relabel([0, 1, 2])
    plain = true_state(m).to_dict()
    del plain["tables"]["alibi"]
    with pytest.raises(DeclarationError, match="no table for alibi"):
        m.move("ann", plain)
    plain = true_state(m).to_dict()
    del plain["prior"]["guilty"]
    with pytest.raises(DeclarationError, match="no entry for 'guilty'"):
        m.move("ann", plain)
    assert not m.moves


def test_states_are_immutable_and_round_trip_through_to_dict():
    m = suspect()
    s = true_state(m)
    with pytest.raises(ValueError):
        s.prior[0] = 0.9
    again = m.state_from(base=s.to_dict())
    assert again.distance(s) == 0.0
    assert json.loads(json.dumps(s.to_dict()))["tables"]["witness"]["guilty"]["saw the suspect"] == 0.6
    assert "guilty" in repr(s) and "| guilty |" in s._repr_markdown_()
    assert list(s.frame().columns[:3]) == ["P(Y)", "motive=yes", "motive=no"]


# ---------------------------------------------------------------------------
# the joint: exact sympy, compiled numpy, brute force
# ---------------------------------------------------------------------------
def test_joint_expression_is_exact_and_sums_to_one():
    m = three_class_market()
    rng = np.random.default_rng(0)
    # a state whose floats are exact binary fractions, so the Rational values equal the floats
    prior = np.array([0.25, 0.5, 0.25])
    tables = []
    for lv in m.levels:
        rows = rng.integers(1, 8, size=(3, len(lv))).astype(float)
        rows[:, -1] = 0
        rows = rows / 16
        rows[:, -1] = 1 - rows[:, :-1].sum(axis=1)
        tables.append(rows)
    s = m.state_from(prior=prior, tables=tables)
    exact = m.values(s, exact=True)
    total = sympy.Integer(0)
    for x in itertools.product(*(range(len(lv)) for lv in m.levels)):
        expr = m.joint_expression(np.array(x))
        value = expr.subs(exact)
        assert value.is_Rational
        frac = Fraction(0)
        for y in range(3):
            term = Fraction(prior[y])
            for i, xi in enumerate(x):
                term *= Fraction(tables[i][y, xi])
            frac += term
        assert value == sympy.Rational(frac.numerator, frac.denominator)
        assert m.probability(np.array(x), s) == pytest.approx(float(frac), rel=1e-13)
        total += value
    assert total == 1
    # as a polynomial in the symbols: K terms, each of degree 1 + number of observables
    expr = m.joint_expression({"a": "1", "c": "z", "d": "0"})
    assert len(expr.args) == 3 and all(sympy.Poly(t).total_degree() == 4 for t in expr.args)


def test_compiled_log_probability_matches_brute_force_and_marginalises():
    m = three_class_market()
    for seed in range(5):
        s = m.random_state(seed, concentration=0.7)
        codes = m.outcomes()
        brute = np.array([brute_joint(s, tuple(x)) for x in codes])
        assert np.allclose(m.probability(codes, s), brute, rtol=1e-12, atol=0)
        assert m.joint(s).sum() == pytest.approx(1.0, abs=1e-12)
        # partially resolved cases: the unresolved observables are summed out
        partial = np.array([[1, -1, 0], [-1, 2, -1], [-1, -1, -1]])
        assert np.allclose(m.probability(partial, s), [brute_joint(s, tuple(x)) for x in partial], rtol=1e-12)
        assert m.probability({"a": "1", "d": "0"}, s) == pytest.approx(brute[(codes[:, 0] == 1)
                                                                             & (codes[:, 2] == 0)].sum(), rel=1e-12)


def test_log_probability_is_stable_for_tiny_probabilities():
    m = LatentMarket("m", latent=2, observables={f"x{i}": ["0", "1"] for i in range(40)})
    s = m.state_from(prior=[0.5, 0.5], tables=[[[1e-300, 1 - 1e-300], [0.5, 0.5]]] * 40)
    x = np.zeros(40, dtype=np.int64)
    # class 1 gives 0.5**40 and class 0 gives 1e-12000 (underflows): log q = log(0.5) + 40 log(0.5)
    assert m.log_probability(x, s) == pytest.approx(41 * math.log(0.5), rel=1e-12)
    ones = np.ones(40, dtype=np.int64)
    assert m.log_probability(ones, s) == pytest.approx(math.log(0.5 + 0.5 * 0.5 ** 40), rel=1e-12)


def test_encoding_of_cases():
    m = suspect()
    s = true_state(m)
    case = {"motive": "yes", "alibi": "no", "witness": "saw nothing", "fingerprints": "found"}
    as_list = ["yes", "no", "saw nothing", "found"]
    codes = np.array([0, 1, 2, 0])
    frame = pd.DataFrame([case, case])
    p = m.probability(case, s)
    assert m.probability(as_list, s) == p and m.probability(codes, s) == p
    assert np.allclose(m.probability(frame, s), [p, p]) and np.allclose(m.probability([case, as_list], s), [p, p])
    assert m.decode(m.encode(frame)[0]).equals(frame)
    with pytest.raises(DeclarationError, match="'maybe' is not a level; expected one of yes, no"):
        m.probability({"motive": "maybe"}, s)
    with pytest.raises(DeclarationError, match="not an observable"):
        m.probability({"weapon": "knife"}, s)
    with pytest.raises(DeclarationError, match="has 2 values, expected 4"):
        m.probability(["yes", "no"], s)
    with pytest.raises(DeclarationError, match="out of range"):
        m.probability(np.array([0, 0, 3, 0]), s)
    with pytest.raises(DeclarationError, match="not observables"):
        m.probability(pd.DataFrame({"weapon": ["knife"]}), s)
    # numbers as levels match by value or by text
    n = LatentMarket("n", latent=2, observables={"count": [0, 1, 2]})
    assert n.encode({"count": 2})[0].tolist() == [[2]] and n.encode({"count": "2"})[0].tolist() == [[2]]


def test_posterior_over_the_hidden_state_is_bayes_rule():
    m = suspect()
    s = true_state(m)
    case = {"motive": "yes", "alibi": "no", "witness": "saw the suspect", "fingerprints": "found"}
    x = m.encode(case)[0][0]
    joint = np.array([s.prior[y] * np.prod([s.tables[i][y, x[i]] for i in range(4)]) for y in range(2)])
    assert np.allclose(m.posterior_latent(case, s), joint / joint.sum(), rtol=1e-12)


# ---------------------------------------------------------------------------
# payouts
# ---------------------------------------------------------------------------
def test_payout_is_the_log_score_difference():
    m = three_class_market(b=2.5)
    p, q = m.random_state(1), m.random_state(2)
    codes = m.outcomes()
    expected = 2.5 * np.log([brute_joint(p, tuple(x)) / brute_joint(q, tuple(x)) for x in codes])
    assert np.allclose(m.payout(q, p, codes), expected, rtol=1e-12)
    assert isinstance(m.payout(q, p, codes[0]), float)


@pytest.mark.parametrize("seed", range(20))
def test_gauge_equivalent_states_pay_the_same(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    m = LatentMarket("g", latent=k, observables={"a": ["0", "1", "2"], "c": ["0", "1"], "d": ["0", "1", "2", "3"]},
                     b=float(rng.uniform(0.5, 5)))
    before, after = m.random_state(rng, concentration=0.5), m.random_state(rng, concentration=0.5)
    perm_before, perm_after = rng.permutation(k), rng.permutation(k)
    before_g, after_g = m.relabel(perm_before, before), m.relabel(perm_after, after)
    assert before_g.distance(before) > 0 or np.array_equal(perm_before, np.arange(k))
    codes = m.outcomes()
    cases = m.sample(50, before, rng)[0]
    for x in (codes, cases):
        assert np.max(np.abs(m.payout(before, after, x) - m.payout(before_g, after_g, x))) <= 1e-9
        assert np.max(np.abs(m.payout_sequential(before, after, x)
                             - m.payout_sequential(before_g, after_g, x))) <= 1e-9
    assert abs(m.kl(after, before) - m.kl(after_g, before_g)) <= 1e-9
    # relabelling permutes the posterior over the hidden state the same way
    assert np.allclose(m.posterior_latent(cases, before_g), m.posterior_latent(cases, before)[:, perm_before])


@pytest.mark.parametrize("b", [1.0, 3.0])
def test_expected_payout_of_moving_q_to_p_under_p_is_b_kl(b):
    m = three_class_market(b=b)
    for seed in range(5):
        p, q = m.random_state(10 + seed), m.random_state(20 + seed)
        kl = 0.0
        for x in m.outcomes():
            px, qx = brute_joint(p, tuple(x)), brute_joint(q, tuple(x))
            kl += px * math.log(px / qx)
        assert m.expected_payout(q, p, p) == pytest.approx(b * kl, rel=1e-10)
        assert m.kl(p, q) == pytest.approx(kl, rel=1e-10)
        # the log score is proper: under belief p no other move pays more in expectation
        other = m.random_state(30 + seed)
        assert m.expected_payout(q, other, p) < m.expected_payout(q, p, p)
        assert m.expected_payout(q, p, q) == pytest.approx(-b * m.kl(q, p), rel=1e-10)


def test_sequential_payouts_are_conditional_log_scores_that_sum_to_the_payout():
    m = three_class_market(b=1.7)
    before, after = m.random_state(3), m.random_state(4)
    codes = m.outcomes()
    full = m.payout(before, after, codes)
    steps = m.payout_sequential(before, after, codes)
    assert steps.shape == (codes.shape[0], 3)
    assert np.allclose(steps.sum(axis=1), full, rtol=0, atol=1e-12)
    reordered = m.payout_sequential(before, after, codes, order=["d", "a", "c"])
    assert np.allclose(reordered.sum(axis=1), full, rtol=0, atol=1e-12)
    # each step by brute force: log q(x_i | x_<i) from the joint table
    x = tuple(codes[7])
    for step, i in enumerate([2, 0, 1]):
        known = [2, 0, 1][:step]

        def cond(s, x=x, i=i, known=known):
            def marg(keep):
                return brute_joint(s, tuple(x[j] if j in keep else -1 for j in range(3)))
            return math.log(marg([*known, i]) / marg(known))

        assert reordered[7, step] == pytest.approx(1.7 * (cond(after) - cond(before)), rel=1e-10)
    with pytest.raises(DeclarationError, match="every observable once"):
        m.payout_sequential(before, after, codes, order=["a", "c"])


def test_moves_book_and_partial_updates():
    m = suspect()
    t = true_state(m)
    mv1 = m.move("ann", prior=[0.4, 0.6])
    assert mv1.changed == ("P(Y)",) and m.state.prior.tolist() == [0.4, 0.6]
    assert m.state.table("motive").tolist() == mv1.before.table("motive").tolist()
    mv2 = m.move("bob", tables={"witness": t.table("witness")}, time=17.5)
    assert mv2.changed == ("P(witness | Y)",) and mv2.time == 17.5
    assert np.array_equal(m.state.table("witness"), t.table("witness")) and m.state.prior.tolist() == [0.4, 0.6]
    m.move("cat", t)
    book = m.history.drop_duplicates(["time", "trader"])
    assert book["trader"].tolist() == ["ann", "bob", "cat"] and book["time"].tolist() == [1.0, 17.5, 3.0]
    assert m.moves[1].before is m.moves[0].after and m.initial_state is m.moves[0].before
    assert "bob" in repr(mv2) and json.dumps(mv2.to_dict())


def test_settlement_conserves_money_exactly():
    m = suspect(b=4.0)
    t = true_state(m)
    rng = np.random.default_rng(5)
    traders = ["ann", "bob", "cat"]
    for k in range(12):
        who = traders[k % 3]
        kind = k % 4
        if kind == 0:
            m.move(who, m.random_state(rng))
        elif kind == 1:
            m.move(who, prior=rng.dirichlet([1, 1]))
        elif kind == 2:
            m.move(who, tables={"alibi": rng.dirichlet([1, 1], size=2)})
        else:
            m.move(who, m.relabel([1, 0]))  # a pure gauge move: pays nothing
    cases = m.decode(m.sample(200, t, rng)[0])
    st = m.settle(cases)
    assert isinstance(st, Settlement) and st.n_cases == 200
    telescoped = 4.0 * float(np.sum(m.log_probability(cases, m.state) - m.log_probability(cases, m.initial_state)))
    assert st.maker_loss == pytest.approx(telescoped, rel=1e-12, abs=1e-9)
    assert sum(st.positions.values()) == pytest.approx(st.maker_loss, rel=1e-12, abs=1e-12)
    assert st.conserved
    for who in traders:
        direct = sum(float(np.sum(m.payout(mv.before, mv.after, cases))) for mv in m.moves if mv.trader == who)
        assert st.positions[who] == pytest.approx(direct, rel=1e-12, abs=1e-9)
    assert np.allclose(st.move_payouts[3::4], 0.0, atol=1e-9)
    assert json.loads(json.dumps(st.to_dict()))["conserved"] is True
    assert "maker loss" in repr(st) and "| ann |" in st._repr_markdown_()
    with pytest.raises(DeclarationError, match="no moves"):
        suspect().settle(cases)


# ---------------------------------------------------------------------------
# informed traders
# ---------------------------------------------------------------------------
def test_best_permutation_undoes_a_relabelling():
    m = three_class_market()
    s = m.random_state(8, concentration=0.5)
    for perm in itertools.permutations(range(3)):
        shuffled = s.relabel(perm)
        back = lm._best_permutation(shuffled, s)
        assert shuffled.relabel(back).distance(s) == 0.0


def test_informed_traders_drive_kl_below_threshold_and_recover_the_tables():
    m = suspect()
    truth = true_state(m)
    sim = m.simulate_informed_traders(truth, n_traders=20, cases_per_trader=50, rounds=3, rng=2, progressbar=False)
    assert isinstance(sim, InformedTraders)
    assert sim.n_trades == 60 and len(m.moves) == 60 and sim.kl.shape == (60,)
    assert sim.kl_initial == pytest.approx(m.kl(truth, m.uniform_state()), rel=1e-12)
    assert sim.kl[-1] == pytest.approx(m.kl(truth), rel=1e-12)
    assert sim.kl[-1] < 0.02 and sim.trades_to_threshold is not None
    assert sim.kl[sim.trades_to_threshold - 1] < 0.02 <= (sim.kl[sim.trades_to_threshold - 2]
                                                          if sim.trades_to_threshold > 1 else sim.kl_initial)
    # the latent tables are recovered up to relabelling (the market never sees Y)
    assert sim.table_error < 0.15
    best = min(m.relabel(p, sim.final_state).distance(truth) for p in itertools.permutations(range(2)))
    assert sim.table_error == pytest.approx(best)
    # reproducible from the seed
    again = suspect().simulate_informed_traders(truth, 20, 50, 3, rng=2, progressbar=False)
    assert np.array_equal(again.kl, sim.kl)
    d = json.loads(json.dumps(sim.to_dict()))
    assert d["trades_to_threshold"] == sim.trades_to_threshold and len(d["kl"]) == 60
    assert "below 0.02 nats after" in repr(sim) and "KL(true ‖ market)" in sim._repr_markdown_()
    # informed traders profit on fresh cases; the maker's loss is their total
    fresh = m.sample(2000, truth, 99)[0]
    st = m.settle(fresh)
    assert st.maker_loss > 0 and st.conserved


def em_step(m: LatentMarket, state: LatentState, codes: np.ndarray, pseudo: float) -> LatentState:
    """One EM step on resolved cases, with ``pseudo`` cases spread uniformly over the cells (MAP)."""
    k = m.n_classes
    r = m.posterior_latent(codes, state)
    prior = r.sum(axis=0) + pseudo / k
    tables = [r.T @ np.eye(len(lv))[codes[:, i]] + pseudo / (k * len(lv)) for i, lv in enumerate(m.levels)]
    return m.state_from(prior=prior / prior.sum(), tables=[t / t.sum(axis=1, keepdims=True) for t in tables],
                        base=state)


def test_informed_traders_converge_to_an_em_fixed_point_of_the_pooled_cases():
    # no trader sees more than 40 cases, yet the market ends where EM on all 400 would stop (with the
    # starting state's smoothing pseudo-case, spread uniformly, as the only prior); after 40 rounds the
    # slowest of six seeds is at KL 1.7e-9 and distance 6e-5 from the EM fixed point
    m = suspect()
    sim = m.simulate_informed_traders(true_state(m), 10, 40, rounds=40, rng=4, progressbar=False)
    final = sim.final_state
    step = em_step(m, final, sim.cases, pseudo=1.0)
    assert m.kl(step, final) < 1e-7 and step.distance(final) < 2e-4
    # while the market after the first round is still visibly away from it
    after_first = m.moves[9].after
    assert em_step(m, after_first, sim.cases, pseudo=1.0).distance(after_first) > 10 * step.distance(final)


def test_simulation_arguments_are_checked():
    m = suspect()
    truth = true_state(m)
    with pytest.raises(DeclarationError, match=r"n_traders=0; expected a whole number >= 1"):
        m.simulate_informed_traders(truth, 0, 10, progressbar=False)
    with pytest.raises(DeclarationError, match="market_cases"):
        m.simulate_informed_traders(truth, 2, 10, market_cases=-1, progressbar=False)
    with pytest.raises(DeclarationError, match="rng must be"):
        m.simulate_informed_traders(truth, 2, 10, rng="seed", progressbar=False)


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------
def test_plots_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = suspect()
    truth = true_state(m)
    sim = m.simulate_informed_traders(truth, 5, 40, 1, rng=0, progressbar=False)
    fig = plot_kl(sim)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes[0].get_yscale() == "log"
    fig2 = plot_kl(sim.kl, threshold=0.02)
    fig3 = plot_tables(sim.final_state, truth)
    assert len(fig3.axes) == 1 + len(OBSERVABLES)
    for f in (fig, fig2, fig3):
        plt.close(f)


# ---------------------------------------------------------------------------
# inference from the market (NUTS)
# ---------------------------------------------------------------------------
@pytest.mark.slow  # compiling the PyMC model on a cold cache takes ~20 s
@pytest.mark.filterwarnings("ignore:NUTS for the lca model may not have converged")
def test_inference_from_the_market():
    m = suspect()
    truth = true_state(m)
    sim = m.simulate_informed_traders(truth, 10, 60, 2, rng=1, progressbar=False)
    post = m.infer(m.decode(sim.cases), draws=200, tune=200, chains=2, rng=3, progressbar=False)
    assert isinstance(post, MarketPosterior)
    assert post.latent.shape == (600, 2) and np.allclose(post.latent.sum(axis=1), 1.0)
    # the market's state lies close to the posterior mean, mostly inside the 90% intervals
    assert post.max_abs_difference < 0.2
    assert post.covered >= 0.6
    # the posterior over each case's hidden state agrees with the market's own Bayes rule
    agree = np.mean(np.argmax(post.latent, axis=1) == np.argmax(m.posterior_latent(sim.cases), axis=1))
    assert agree > 0.9
    assert post.fit.method == "nuts" and post.fit.diagnostics["divergences"] == 0
    # started from the market's state, so the draws already use the market's labelling
    assert post.permutation == (0, 1) and post.fit.classes.tolist() == ["guilty", "innocent"]
    frame = post.summary_frame()
    assert len(frame) == 2 + 2 * (2 + 2 + 3 + 2) and frame["inside"].mean() == pytest.approx(post.covered)
    assert json.loads(json.dumps(post.to_dict()))["n_cases"] == 600
    assert "credible intervals" in repr(post) and "| P(Y) |" in post._repr_markdown_()
    fig = plot_tables(post.market_state, truth, post)
    assert len(fig.axes) == 5


def test_inference_needs_every_level_in_the_cases():
    m = suspect()
    cases = [{"motive": "yes", "alibi": "no", "witness": "saw nothing", "fingerprints": "found"},
             {"motive": "no", "alibi": "yes", "witness": "saw nothing", "fingerprints": "not found"}]
    with pytest.raises(InferenceError, match="witness = 'saw the suspect' never occurs in the 2 cases"):
        m.infer(cases, progressbar=False)

    with pytest.raises(DeclarationError, match="no cases"):
        m.infer([], progressbar=False)
    with pytest.raises(DeclarationError, match="prob"):
        m.infer(cases, prob=1.5, progressbar=False)
