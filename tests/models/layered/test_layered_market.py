"""The layered latent market: held-out payouts, gauge moves paid nothing, rent that sets the structure as BIC does,
bankrupt layers, rejected trades, and the ledger's balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.gauge import discrete_gauge
from deepmarkets.models.layered.em import fit_em
from deepmarkets.models.layered.market import LAYER, LayeredLatentMarket
from deepmarkets.models.layered.state import LayeredState
from deepmarkets.models.layered.symbolic import symbolic_density
from deepmarkets.models.layered.traders import EMTrader, Entrepreneur, Plan, Restarter, Specialist
from deepmarkets.protocols import Process, TradingMarket


def _clusters(rng, n=60, centres=((-4, 0), (4, 0), (0, 5)), scale=1.0):
    return np.concatenate([rng.normal(c, scale, (n, len(c))) for c in centres])


def _balanced(m: LayeredLatentMarket) -> None:
    """Balances sum to zero, and each open account is the signed sum of its ledger rows."""
    b = m.balances()
    led = m.ledger
    assert abs(b.sum()) <= 1e-12 * max(1.0, float(np.abs(led["amount"]).sum()))
    for who, balance in m.accounts.items():
        mine = led[(led["payee"] == who) | (led["payer"] == who)]
        assert np.isclose(np.where(mine["payee"] == who, mine["amount"], -mine["amount"]).sum(), balance)


def test_the_market_plays_both_protocols_and_its_history_is_a_reports_book():
    from deepmarkets.beliefs import Book

    m = LayeredLatentMarket(_clusters(np.random.default_rng(0)), max_states=4, rng=0).run(3, progressbar=False)
    assert isinstance(m, TradingMarket) and isinstance(m, Process)
    assert np.isclose(m.prices().sum(), 1.0) and m.securities == tuple(m.prices().index)
    book = Book.from_frame(m.history)
    assert len(book) == len(m.history) and m.history["probability"].between(0, 1).all()
    d = m.to_dict()
    assert d["state"]["weights"] == m.state.weights.tolist() and d["rounds"] == 3


def test_gauge_moves_found_by_the_gauge_module_pay_exactly_nothing():
    rng = np.random.default_rng(1)
    x = _clusters(rng)
    m = LayeredLatentMarket(x, max_states=3, rng=1).run(4, progressbar=False)
    assert m.state.n_states == 3
    group = discrete_gauge(symbolic_density(m.state, x[:2]), rng=0)
    assert group.order == 6
    for element in group.elements:
        t = m.trade("relabeller", Plan(lambda s, data, p=element.permutation: s.permuted(np.argsort(p)), "move"))
        assert t.accepted and abs(t.payout) < 1e-12
    for plan in (Plan(lambda s, data: s.split_copy(0)), Plan(lambda s, data: s.with_layer()),
                 Plan(lambda s, data: s.regrouped([2, 0, 1, 3]))):
        t = m.trade("gauge", plan)
        assert t.accepted and abs(t.payout) < 1e-12


def test_factor_loadings_rotated_pay_nothing():
    x = _clusters(np.random.default_rng(2), centres=((-4, 0, 1), (4, 0, -1), (0, 5, 0)))
    m = LayeredLatentMarket(x, emission="factor", factors=2, max_states=3, rng=2).run(3, progressbar=False)
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    t = m.trade("rotator", Plan(lambda s, data: s.rotated(0, rot)))
    assert t.accepted and abs(t.payout) < 1e-12


def test_payouts_are_held_out_gains_and_telescope():
    rng = np.random.default_rng(3)
    x = _clusters(rng)
    start = LayeredState.from_arrays([1 / 3] * 3, x[rng.choice(len(x), 3, replace=False)], np.ones((3, 2)))
    traders = [EMTrader("all"), Specialist([1]), EMTrader("w", blocks=["weights"])]
    m = LayeredLatentMarket(x, init=start, traders=traders, b=2.5, rent=None, rng=3)
    first = m.held_out_log_score
    m.run(8, progressbar=False)
    paid = m.trade_log["payout"].sum()
    assert np.isclose(paid, 2.5 * len(x) * (m.held_out_log_score - first), rtol=1e-12, atol=1e-9)
    # a payout is the change of the cross-fitted score: each copy is scored on the fold it never saw
    lq = np.empty(len(x))
    for f, copy in enumerate(m.copies):
        held = m.fold_of == f
        refit = fit_em(copy, x[~held], tol=1e-300, max_steps=1).state   # one more step on its own training data
        lq[held] = refit.log_q(x[held])
    before = m._lq.sum()
    t = m.trade("all", Plan(lambda s, data: EMTrader().plan(s, data, None).rule(s, data)))
    assert np.isclose(t.payout, 2.5 * (lq.sum() - before), rtol=1e-10)
    assert m.structure.empty and m.state.n_states == 3    # no rent: the structure never changed
    _balanced(m)


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
def test_em_traders_alone_reach_scikit_learns_gaussian_mixture():
    sklearn = pytest.importorskip("sklearn.mixture")
    from deepmarkets.models.layered.datasets import load_wine

    x = load_wine().x
    start = sklearn.GaussianMixture(3, covariance_type="diag", max_iter=1, init_params="random_from_data",
                                    random_state=4).fit(x)
    ref = sklearn.GaussianMixture(3, covariance_type="diag", tol=1e-12, max_iter=20_000, weights_init=start.weights_,
                                  means_init=start.means_, precisions_init=1 / start.covariances_).fit(x)
    init = LayeredState.from_arrays(start.weights_, start.means_, start.covariances_)
    m = LayeredLatentMarket(x, init=init, traders=[EMTrader()], rent=None, rng=4).run(150, progressbar=False)
    assert abs(m.rounds["log_likelihood"].iloc[-1] - ref.score(x)) < 1e-3


def _bic_optimum(x, emission, kmax, starts=8):
    best = []
    for k in range(1, kmax + 1):
        scores = []
        for seed in range(starts):
            rng = np.random.default_rng(seed)
            mu = x[rng.choice(len(x), k, replace=False)]
            var = np.tile(x.var(axis=0), (k, 1))
            fit = fit_em(LayeredState.from_arrays(np.ones(k) / k, mu, var, emission=emission), x, tol=1e-8)
            scores.append(-2 * fit.log_likelihood + fit.state.n_parameters * np.log(len(x)))
        best.append(min(scores))
    return int(np.argmin(best)) + 1


@pytest.mark.parametrize("seed", [0, 1])
def test_rent_leaves_the_number_of_states_bic_chooses(seed):
    rng = np.random.default_rng(10 + seed)
    x = _clusters(rng, n=50, centres=((-5, 0), (0, 0), (5, 1), (0, 6)))
    m = LayeredLatentMarket(x, max_states=6, rng=seed).run(12, progressbar=False)
    assert m.state.n_states == _bic_optimum(x, "diag", 6) == 4
    assert all(m.accounts[element] >= 0 for element in m.state.ids)     # every surviving element is solvent
    _balanced(m)


def _best_bic(x, k, starts):
    out = np.inf
    for seed in range(starts):
        rng = np.random.default_rng(seed)
        init = LayeredState.from_arrays(np.ones(k) / k, x[rng.choice(len(x), k, replace=False)],
                                        np.tile(x.var(axis=0), (k, 1)))
        fit = fit_em(init, x, tol=1e-8)
        out = min(out, -2 * fit.log_likelihood + fit.state.n_parameters * np.log(len(x)))
    return out


def test_wine_states_survive_where_bic_prefers_them():
    pytest.importorskip("sklearn")
    from deepmarkets.models.layered.datasets import load_wine

    x = load_wine().x
    m = LayeredLatentMarket(x, max_states=6, rng=0).run(10, progressbar=False)
    # four states, at the best four-state fit that 12 random starts find, which BIC prefers to the best three
    assert m.state.n_states == 4
    assert abs(m.bic() - _best_bic(x, 4, 12)) < 1e-3 and m.bic() < _best_bic(x, 3, 12) - 50


def test_an_identity_layer_goes_bankrupt_and_leaves_without_changing_q():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(c, s, (60, 2)) for c, s in (((-6, 0), (0.5, 2)), ((6, 0), (2, 0.5)),
                                                               ((0, 7), (1, 1)))])   # three different shapes
    m = LayeredLatentMarket(x, max_states=3, rng=5).run(5, progressbar=False)
    m.add_layer()
    assert m.state.layered and m.accounts[LAYER] == 0.0
    before = m.state.log_q(x)
    m.traders = [EMTrader()]                     # nobody joins shapes: the layer only adds its own parameter
    m.settle()
    assert not m.state.layered and LAYER not in m.accounts
    exit_row = m.structure.iloc[-1]
    assert exit_row["event"] == "exit" and exit_row["element"] in m.ledger["payer"].tolist()
    assert np.max(np.abs(m.state.log_q(x) - before)) < 1e-12
    _balanced(m)


def test_a_coarse_layer_of_shared_shapes_survives_where_clusters_share_a_shape():
    rng = np.random.default_rng(6)
    wide, narrow = np.diag([4.0, 0.25]), np.diag([0.25, 4.0])
    x = np.concatenate([rng.multivariate_normal(c, cov, 80) for c, cov in
                        (((-8, 0), wide), ((8, 0), wide), ((0, -8), narrow), ((0, 8), narrow))])
    m = LayeredLatentMarket(x, max_states=4, layer=True, rng=6).run(10, progressbar=False)
    assert m.state.n_states == 4 and m.state.layered and m.state.n_shapes == 2
    groups = sorted(sorted(np.sign(np.round(m.state.means[m.state.shape_of == g], 0)).tolist())
                    for g in range(2))
    assert groups == [[[-1.0, 0.0], [1.0, 0.0]], [[0.0, -1.0], [0.0, 1.0]]]
    assert m.accounts[LAYER] > 0 and m.bic() < m.rounds.loc[m.rounds["layered"].idxmax() - 1, "bic"]


class _Broken:
    def __init__(self, name, make):
        self.name, self.make = name, make

    def plan(self, state, x, rng):
        return Plan(self.make, "move", self.name)


def _nan_means(s, data):
    return s.with_arrays(means=np.full_like(s.means, np.nan))


def _singular(s, data):
    return s.with_arrays(shapes=np.zeros_like(s.shapes))


def _raises(s, data):
    raise ZeroDivisionError("bad trader")


@pytest.mark.parametrize("make, reason", [(_nan_means, "NaN"), (_singular, "positive"),
                                          (_raises, "bad trader"), (lambda s, data: 3.0, "not a LayeredState")])
def test_bad_trades_are_rejected_and_nothing_moves(make, reason):
    x = _clusters(np.random.default_rng(7))
    m = LayeredLatentMarket(x, traders=[EMTrader(), _Broken("broken", make), Entrepreneur(max_states=3)], rng=7)
    m.run(4, progressbar=False)
    log = m.trade_log
    bad = log[log["trader"] == "broken"]
    assert len(bad) == 4 and not bad["accepted"].any() and (bad["payout"] == 0).all()
    assert bad["reason"].str.contains(reason).all()
    assert m.state.n_states == 3 and np.isfinite(m.held_out_log_score)
    _balanced(m)


def test_full_covariance_singular_trade_is_rejected():
    x = _clusters(np.random.default_rng(8))
    m = LayeredLatentMarket(x, emission="full", traders=[_Broken("broken", _singular)], rng=8)
    t = m.step()
    assert t["states"] == 1 and "positive definite" in m.trade_log["reason"].iloc[0]


def test_restarter_escapes_a_poor_local_optimum():
    rng = np.random.default_rng(9)
    x = _clusters(rng, n=40)
    # two states share the left cluster and one covers the other two: EM converges there and stays
    stuck = fit_em(LayeredState.from_arrays([0.3, 0.3, 0.4], [[-4.5, 0], [-3.5, 0], [2, 2.5]], np.ones((3, 2))), x)
    assert stuck.converged
    em_only = LayeredLatentMarket(x, init=stuck.state, traders=[EMTrader()], rent=None, rng=9).run(3, progressbar=False)
    assert abs(em_only.state.log_q(x).sum() - stuck.log_likelihood) < 1e-6
    m = LayeredLatentMarket(x, init=stuck.state, traders=[EMTrader(), Restarter(starts=5)], rent=None, rng=9)
    m.run(3, progressbar=False)
    assert m.state.log_q(x).sum() > stuck.log_likelihood + 50
    assert m.trade_log.loc[m.trade_log["trader"] == "restarter", "payout"].sum() > 50


def test_bad_input_is_refused_with_a_reason():
    x = _clusters(np.random.default_rng(10))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DeclarationError, match="NaN"):
        LayeredLatentMarket(bad)
    with pytest.raises(DeclarationError, match="not numeric"):
        LayeredLatentMarket(pd.DataFrame({"a": ["x", "y"] * 10, "b": range(20)}))
    with pytest.raises(DeclarationError, match="unknown columns"):
        LayeredLatentMarket(pd.DataFrame({"a": range(20)}), columns=["z"])
    with pytest.raises(DeclarationError, match="too few"):
        LayeredLatentMarket(x[:6])
    with pytest.raises(DeclarationError, match="rent"):
        LayeredLatentMarket(x, rent="mdl")
    with pytest.raises(DeclarationError, match="emission"):
        LayeredLatentMarket(x, emission="cauchy")
    with pytest.raises(DeclarationError, match="factors"):
        LayeredLatentMarket(x, emission="factor", factors=2)
    with pytest.raises(DeclarationError, match="dimensions"):
        LayeredLatentMarket(x, init=LayeredState.from_arrays([1.0], [[0.0]], [[1.0]]))
    with pytest.raises(DeclarationError, match="not a trader"):
        LayeredLatentMarket(x, traders=[object()])
    with pytest.raises(DeclarationError, match="unique"):
        LayeredLatentMarket(x, traders=[EMTrader(), EMTrader()])
    with pytest.raises(DeclarationError, match="empty"):
        LayeredLatentMarket(np.zeros((0, 2)))


def test_posterior_by_nuts_centres_on_the_market_state():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(-3, 1, (80, 1)), rng.normal(3, 1, (80, 1))])
    m = LayeredLatentMarket(x, max_states=2, rng=11).run(4, progressbar=False)
    tree = m.posterior(draws=300, tune=300, chains=2, rng=0, progressbar=False)
    mu = tree.posterior["mu"]
    assert set(mu.dims) == {"chain", "draw", "state", "variable"} and list(mu["state"].values) == list(m.state.ids)
    mean, sd = mu.mean(("chain", "draw")).values[:, 0], mu.std(("chain", "draw")).values[:, 0]
    # the posterior mean sits within a few posterior sds of the maximum-likelihood means (n = 80 per state)
    assert np.all(np.abs(mean - m.state.means[:, 0]) < 4 * sd + 0.05)
    with pytest.raises(InferenceError, match="diagonal"):
        LayeredLatentMarket(x, emission="full").posterior()


def test_a_gradient_trader_is_paid_for_climbing_and_merges_prune_extra_states():
    from deepmarkets.models.layered.traders import GradientTrader

    rng = np.random.default_rng(12)
    x = _clusters(rng)
    start = LayeredState.from_arrays([1 / 3] * 3, [[-3, 1], [3, -1], [1, 4]], np.ones((3, 2)))
    m = LayeredLatentMarket(x, init=start, traders=[GradientTrader(rate=0.5)], rent=None, rng=12)
    m.run(10, progressbar=False)
    lls = m.rounds["log_likelihood"].to_numpy()
    assert np.all(np.diff(lls) > 0) and m.trade_log["payout"].sum() > 0
    # six states on three clusters: the entrepreneur merges (or the rent removes) the spare ones
    six = LayeredState.from_arrays([1 / 6] * 6, np.repeat([[-4, 0], [4, 0], [0, 5]], 2, axis=0)
                                   + rng.normal(0, 0.3, (6, 2)), np.ones((6, 2)))
    pruned = LayeredLatentMarket(x, init=six, max_states=6, rng=12).run(6, progressbar=False)
    exits = pruned.structure[pruned.structure["event"] == "exit"]
    assert pruned.state.n_states == 3 and len(exits) == 3          # merged by the entrepreneur or evicted for rent
    assert set(exits["by"]) <= {"entrepreneur", "market"}
