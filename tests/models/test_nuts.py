"""NUTS on latent class models: the collapsed likelihood is exact, chains are aligned, results agree with EM."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import gammaln

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em, log_likelihood
from deepmarkets.models.metrics import adjusted_rand_index
from deepmarkets.models.nuts import _build, _design, _result, fit_nuts, latent_class_model
from deepmarkets.models.relabel import permute_classes
from deepmarkets.models.simulate import simulate_reports

pytestmark = pytest.mark.filterwarnings("ignore:.*(divergent|R-hat|ESS|one chain).*:UserWarning")


# ---------------------------------------------------------------------------
# books
# ---------------------------------------------------------------------------


def _ragged_book(rng: int = 3) -> Reports:
    """LCA book: traders with 2, 3 and 4 levels, one trader who always gives the same answer, missing answers."""
    book, _, _ = simulate_reports(120, 5, classes=2, levels=[2, 3, 4, 3, 2], missing=0.2, rng=rng)
    frame = book.frame[["question", "trader", "answer"]].copy()
    constant = pd.DataFrame({"question": [f"q{i}" for i in range(1, 121, 3)], "trader": "same", "answer": "1"})
    return Reports.from_frame(pd.concat([frame, constant], ignore_index=True))


def _repeated_book() -> Reports:
    """Dawid–Skene book where one trader answers some questions two or three times."""
    book, _, _ = simulate_reports(80, 4, classes=3, model="dawid-skene", rng=5)
    frame = book.frame[["question", "trader", "answer"]]
    again = frame[frame["trader"] == "t1"].iloc[::2]
    thrice = frame[frame["trader"] == "t2"].iloc[::5]
    return Reports.from_frame(pd.concat([frame, again, thrice, thrice], ignore_index=True), repeats=True)


def _forecast_book() -> Reports:
    book, _, _ = simulate_reports(90, 4, classes=2, model="forecast", missing=0.1, rng=7)
    frame = book.frame[["question", "trader", "probability"]].copy()
    frame["probability"] = frame["probability"].round(1).clip(0.05, 0.95)  # ties, so that rows collapse
    return Reports.from_frame(frame)


CASES = {
    "lca-ragged-missing": (_ragged_book, "lca", 2),
    "dawid-skene-repeated": (_repeated_book, "dawid-skene", None),
    "dawid-skene": (lambda: Reports.from_book(simulate_reports(60, 3, classes=2, model="dawid-skene", rng=2)[0]),
                    "dawid-skene", None),
    "forecast": (_forecast_book, "forecast", 2),
}


def _random_points(m, n: int, gen: np.random.Generator) -> list[dict]:
    base = m.initial_point()
    return [{k: v + gen.normal(0.0, 0.7, size=np.shape(v)) for k, v in base.items()} for _ in range(n)]


# ---------------------------------------------------------------------------
# the likelihood
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_collapsed_log_posterior_equals_the_per_question_one(case):
    make, model, classes = CASES[case]
    reports = make()
    collapsed = latent_class_model(reports, model=model, classes=classes, collapse=True)
    full = latent_class_model(reports, model=model, classes=classes, collapse=False)
    d = _design(reports, model, _k(reports, model, classes), True)
    assert d.n_rows < reports.n_questions, "the book should have repeated patterns to collapse"
    assert sorted(collapsed.initial_point()) == sorted(full.initial_point())
    f_c = collapsed.compile_logp(mode="FAST_COMPILE")
    f_f = full.compile_logp(mode="FAST_COMPILE")
    for point in _random_points(collapsed, 5, np.random.default_rng(0)):
        a, b = float(f_c(point)), float(f_f(point))
        assert math.isfinite(a)
        assert a == pytest.approx(b, abs=1e-8, rel=0)


def _k(reports, model, classes):
    from deepmarkets.models.em import check_identifiable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_identifiable(reports, model=model, classes=classes)


@pytest.mark.parametrize("case", list(CASES))
def test_model_likelihood_is_the_em_likelihood_plus_the_stated_priors(case):
    """The potential is the log-likelihood (computed independently by the EM code); the rest is the stated prior."""
    make, model, classes = CASES[case]
    reports = make()
    K = _k(reports, model, classes)
    d = _design(reports, model, K, True)
    m = _build(d)
    logp = m.compile_logp(jacobian=False, mode="FAST_COMPILE")
    potential = m.compile_fn(m.replace_rvs_by_values([m.potentials[0]])[0], inputs=m.value_vars,
                             mode="FAST_COMPILE", on_unused_input="ignore")
    outs = m.unobserved_value_vars
    values = m.compile_fn(outs, inputs=m.value_vars, mode="FAST_COMPILE")
    for point in _random_points(m, 3, np.random.default_rng(1)):
        vals = dict(zip([o.name for o in outs], values(point), strict=True))
        share = vals["class_share"]
        prior = gammaln(K)  # Dirichlet(1) density on the shares
        if model == "forecast":
            ll, _ = log_likelihood(reports, model="forecast", class_shares=share, mean=vals["mean"],
                                   sigma=vals["sigma"])
            prior += stats.norm(0, 10).logpdf(vals["mean"]).sum() + stats.halfnorm(scale=5).logpdf(vals["sigma"]).sum()
        else:
            response = []
            for j in range(reports.n_traders):
                L = int(d.n_levels[j])
                if L == 1:
                    response.append(np.ones((K, 1)))
                    continue
                i = int(np.flatnonzero(dict(d.groups)[L] == j)[0])
                response.append(vals[f"response_{L}"][i])
                prior += K * gammaln(L)  # Dirichlet(1) density on each response row
            ll, _ = log_likelihood(reports, model=model, class_shares=share, response=tuple(response))
        assert float(potential(point)) == pytest.approx(ll, abs=1e-8, rel=0)
        # PyMC's own normal constants are good to about 1e-8 per term
        assert float(logp(point)) - float(potential(point)) == pytest.approx(prior, abs=1e-6, rel=0)


def test_design_collapses_patterns_and_keeps_counts():
    reports = Reports.from_frame(pd.DataFrame({"A": [1, 1, 2, 1, None], "B": [2, 2, 1, 2, 1]}), wide=True)
    d = _design(reports, "lca", 2, True)
    assert d.counts.tolist() == [1.0, 3.0, 1.0]  # (-,1) once, (1,2) three times, (2,1) once
    assert d.counts[d.which].tolist() == [3.0, 3.0, 1.0, 3.0, 1.0]
    assert d.counts.sum() == reports.n_questions
    assert d.collapse.startswith("identical answer patterns")
    rep = _repeated_book()
    assert _design(rep, "dawid-skene", 3, True).collapse.startswith("identical answer counts")


# ---------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lca_run():
    book, truth, params = simulate_reports(400, 6, classes=2, levels=3, separation=3.0, missing=0.1, rng=11)
    reports = Reports.from_book(book)
    em = fit_em(reports, model="lca", classes=2, rng=0)
    fit = fit_nuts(reports, model="lca", classes=2, draws=300, tune=300, chains=2, start=em, rng=1)
    return reports, truth, em, fit


def test_nuts_posterior_means_are_close_to_em(lca_run):
    reports, truth, em, fit = lca_run
    assert fit.method == "nuts" and fit.model == "lca"
    assert fit.classes.tolist() == em.classes.tolist()
    assert np.abs(fit.class_shares - em.class_shares).max() < 0.03
    for r_nuts, r_em in zip(fit.response, em.response, strict=True):
        assert r_nuts.shape == r_em.shape
        assert np.abs(r_nuts - r_em).max() < 0.06
        assert np.allclose(r_nuts.sum(axis=1), 1.0)
    # EM maximises the likelihood: the posterior mean is a little below it, not far
    assert em.loglik - 10 < fit.loglik <= em.loglik + 1e-6
    assert np.allclose(fit.posterior.sum(axis=1), 1.0)
    assert (fit.posterior.argmax(axis=1) == em.posterior.argmax(axis=1)).mean() > 0.98
    assert adjusted_rand_index(truth, fit.posterior.argmax(axis=1)) > 0.9


def test_nuts_result_carries_diagnostics_and_a_tidy_datatree(lca_run):
    reports, _, em, fit = lca_run
    diag = fit.diagnostics
    for key in ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "chains", "draws", "gauge",
                "switched_draws", "priors"):
        assert key in diag
    assert diag["chains"] == 2 and diag["draws"] == 300
    from deepmarkets.models.fit import convergence_problems

    assert fit.converged == (not convergence_problems(diag))
    assert diag["max_rhat"] < 1.05 and diag["min_ess_bulk"] > 100
    assert "EM optimum" in diag["gauge"] and "Dirichlet(1" in diag["priors"]
    assert diag["patterns"] < reports.n_questions
    post = fit.idata["posterior"]
    assert {"question", "trader", "class", "level"} <= set(post.coords)
    assert post["class"].values.tolist() == ["1", "2"]
    assert post["question"].values.tolist() == reports.questions.tolist()
    cp = post["class_probability"]
    assert cp.dims == ("chain", "draw", "question", "class")
    assert np.allclose(cp.sum("class"), 1.0)
    assert np.allclose(cp.mean(("chain", "draw")).values, fit.posterior)
    resp = post["response"]
    assert resp.dims == ("chain", "draw", "trader", "class", "level")
    assert np.allclose(resp.sum("level", skipna=True), 1.0)
    assert np.allclose(post["class_share"].mean(("chain", "draw")).values, fit.class_shares)
    perm = fit.idata["sample_stats"]["class_permutation"].values
    assert int((perm != np.arange(2)).any(axis=-1).sum()) == diag["switched_draws"]
    # the per-draw log-likelihood is the EM formula at that draw
    c, dr = 1, 17
    labels = post["level"].values.tolist()
    at = [[labels.index(v) for v in lv] for lv in reports.levels]
    ll, _ = log_likelihood(reports, model="lca", class_shares=post["class_share"].values[c, dr],
                           response=tuple(resp.values[c, dr, j][:, at[j]] for j in range(reports.n_traders)))
    assert float(post["loglik"].values[c, dr]) == pytest.approx(ll, abs=1e-8)
    d = fit.to_dict()
    assert json.loads(json.dumps(d))["diagnostics"]["gauge"] == diag["gauge"]
    assert d["method"] == "nuts"


def test_forecast_model_by_nuts():
    book, truth, params = simulate_reports(200, 4, classes=2, model="forecast", separation=3.0, rng=4)
    reports = Reports.from_book(book)
    fit = fit_nuts(reports, model="forecast", classes=2, draws=200, tune=200, chains=2, rng=0)
    em = fit_em(reports, model="forecast", classes=2, rng=0)
    assert fit.mean.shape == (4, 2) and fit.sigma.shape == (4,)
    assert np.abs(fit.mean - em.mean).max() < 0.3
    assert np.abs(fit.sigma - em.sigma).max() < 0.15
    assert np.abs(fit.class_shares - em.class_shares).max() < 0.05
    assert adjusted_rand_index(truth, fit.posterior.argmax(axis=1)) > 0.9
    post = fit.idata["posterior"]
    assert post["mean"].dims == ("chain", "draw", "trader", "class")
    assert "squared distance" in fit.diagnostics["gauge"]


def _fake_idata(em, d, chains: int, draws: int, gen, switch_chain: int | None):
    """A sampler's output scattered around the EM estimate; one chain in another labelling."""
    import xarray as xr

    K = d.K
    share = gen.dirichlet(400 * em.class_shares, size=(chains, draws))
    data = {"class_share": (("chain", "draw", "class_share_dim_0"), share)}
    raw = {}
    for L, members in d.groups:
        base = np.stack([em.response[j] for j in members])  # (Jg, K, L)
        arr = np.empty((chains, draws, *base.shape))
        for j in range(base.shape[0]):
            for k in range(K):
                arr[:, :, j, k] = gen.dirichlet(500 * (0.98 * base[j, k] + 0.02 / L), size=(chains, draws))
        raw[f"response_{L}"] = arr
    truth = {"class_share": share.copy(), **{k: v.copy() for k, v in raw.items()}}
    if switch_chain is not None:
        p = np.roll(np.arange(K), 1)
        share[switch_chain] = share[switch_chain][:, p]
        for k in raw:
            raw[k][switch_chain] = raw[k][switch_chain][:, :, p]
    for k, v in raw.items():
        data[k] = (("chain", "draw", f"{k}_dim_0", f"{k}_dim_1", f"{k}_dim_2"), v)
    post = xr.Dataset(data, coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    ss = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))},
                    coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": ss}), truth



def test_label_switched_chains_are_aligned_before_diagnostics():
    """Feed the result builder draws where one chain uses another labelling: it is put back, R-hat is then fine."""
    book, _, _ = simulate_reports(300, 6, classes=3, levels=3, rng=21)
    reports = Reports.from_book(book)
    em = fit_em(reports, model="lca", classes=3, rng=0)
    d = _design(reports, "lca", 3, True)
    gen = np.random.default_rng(0)
    idata, truth = _fake_idata(em, d, chains=4, draws=200, gen=gen, switch_chain=2)
    with warnings.catch_warnings():
        # the aligned draws are i.i.d. around fixed values, so their R-hat is a Monte Carlo quantity near 1
        # that may cross 1.01 on some seeds: only a loose bound is asserted below
        warnings.simplefilter("ignore", UserWarning)
        fit = _result(reports, d, em, idata, tune=0, started=0.0, em_seconds=0.0, sampling_seconds=1.0)
    assert fit.diagnostics["switched_draws"] == 200  # exactly the switched chain
    post = fit.idata["posterior"]
    assert np.array_equal(post["class_share"].values, truth["class_share"])
    assert fit.diagnostics["max_rhat"] < 1.1
    perm = fit.idata["sample_stats"]["class_permutation"].values
    assert (perm[[0, 1, 3]] == np.arange(3)).all()
    # the permutation recorded for the switched chain maps its raw draws onto the aligned ones
    raw_share = idata["posterior"]["class_share"].values
    assert np.array_equal(permute_classes(raw_share[2], perm[2], axis=1), post["class_share"].values[2])
    for L, _ in d.groups:
        aligned = post["response"].values[2][:, :, :, :L]  # every trader here has L levels, in book order
        assert np.allclose(aligned.transpose(0, 1, 2, 3), truth[f"response_{L}"][2])
    # without alignment the chains would disagree: R-hat of the raw shares is far above 1.01
    import arviz as az

    raw = idata["posterior"]["class_share"].values
    assert float(np.max(az.rhat(raw, chain_axis=0, draw_axis=1))) > 1.5


@pytest.mark.slow
def test_acceptance_1000_questions_10_traders_3_classes():
    """1,000 questions x 10 traders, K=3 well separated, 4 chains: R-hat <= 1.01, bulk ESS >= 400, no divergences."""
    book, truth, _ = simulate_reports(1000, 10, classes=3, levels=3, rng=0)
    reports = Reports.from_book(book)
    fit = fit_nuts(reports, model="lca", classes=3, draws=1000, tune=1000, chains=4, rng=0)
    diag = fit.diagnostics
    assert diag["max_rhat"] <= 1.01
    assert diag["min_ess_bulk"] >= 400
    assert diag["divergences"] == 0
    assert fit.converged
    assert adjusted_rand_index(truth, fit.posterior.argmax(axis=1)) >= 0.93
    # no label switching left: every aligned draw is closest to its own EM class
    from deepmarkets.models.relabel import align_draws

    post = fit.idata["posterior"]
    share = post["class_share"].values.reshape(-1, 3)
    resp = post["response"].values.reshape(share.shape[0], 10, 3, -1).transpose(0, 2, 1, 3).reshape(-1, 3, 30)
    blocks = np.concatenate([share[:, :, None], resp], axis=2)
    em = fit_em(reports, model="lca", classes=3, rng=0)
    pivot = np.concatenate([em.class_shares[:, None], np.stack(em.response, axis=1).reshape(3, 30)], axis=1)
    perms, _ = align_draws(blocks, pivot)
    assert (perms == np.arange(3)).all()


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_bad_arguments_are_reported():
    reports = Reports.from_book(simulate_reports(200, 5, classes=2, levels=2, rng=0)[0])
    with pytest.raises(InferenceError, match="not a latent class model"):
        fit_nuts(reports, model="mixture", classes=2)
    with pytest.raises(InferenceError, match="draws=0"):
        fit_nuts(reports, model="lca", classes=2, draws=0)
    with pytest.raises(InferenceError, match="chains=1.5"):
        fit_nuts(reports, model="lca", classes=2, chains=1.5)
    with pytest.raises(InferenceError, match="Reports"):
        fit_nuts(pd.DataFrame(), model="lca", classes=2)
    em2 = fit_em(reports, model="lca", classes=2, rng=0)
    with pytest.raises(InferenceError, match="start has 2 classes but the model has 3"):
        fit_nuts(reports, model="lca", classes=3, start=em2)
    with pytest.raises(InferenceError, match="start is a 'lca' fit"):
        fit_nuts(reports, model="dawid-skene", classes=None, start=em2)
    with pytest.raises(DeclarationError, match="rng must be"):
        fit_nuts(reports, model="lca", classes=2, rng="seed")


# ---------------------------------------------------------------------------
# the convergence rule
# ---------------------------------------------------------------------------


def _diag(chains=2, rhat=1.005, bulk=250.0, tail=250.0, divergences=0):
    return {"chains": chains, "max_rhat": rhat, "min_ess_bulk": bulk, "min_ess_tail": tail, "divergences": divergences}


@pytest.mark.parametrize(("diag", "failures"), [
    (_diag(), []),  # ESS 250 with two chains passes: 100 per chain, not 400 whatever the chains
    (_diag(chains=4), ["min bulk ESS 250 < 400", "min tail ESS 250 < 400"]),
    (_diag(rhat=1.0100001), ["max R-hat 1.0100001 > 1.01"]),  # shown in full where rounding would hide it
    (_diag(rhat=1.0151), ["max R-hat 1.015 > 1.01"]),
    (_diag(rhat=1.01, bulk=200.0, tail=200.0), []),  # the bounds are inclusive
    (_diag(tail=199.9), ["min tail ESS 199.9 < 200"]),
    (_diag(tail=150.4), ["min tail ESS 150 < 200"]),
    (_diag(chains=1, rhat=None, bulk=150.0, tail=150.0), ["one chain"]),
    (_diag(rhat=None), ["R-hat could not be computed"]),
    (_diag(bulk=math.nan), ["min bulk ESS not computable < 200"]),
    (_diag(divergences=3), ["3 divergent transitions"]),
])
def test_convergence_problems_state_each_failure_of_the_rule(diag, failures):
    from deepmarkets.models.fit import convergence_problems

    problems = convergence_problems(diag)
    assert len(problems) == len(failures)
    for problem, expected in zip(problems, failures, strict=True):
        assert problem.startswith(expected)
