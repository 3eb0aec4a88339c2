"""Minibatch ADVI: close to the NUTS posterior, the same result object flagged approximate, an ELBO that rises."""

from __future__ import annotations

import numpy as np
import pytest

from deepmarkets.errors import InferenceError
from deepmarkets.models.advi import _minibatch_model, _padded, fit_advi
from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em
from deepmarkets.models.infer import infer
from deepmarkets.models.nuts import _build, _design, fit_nuts
from deepmarkets.models.simulate import simulate_reports

pytestmark = pytest.mark.filterwarnings("ignore:.*(divergent|R-hat|ESS|one chain|ELBO rose).*:UserWarning")


@pytest.fixture(scope="module")
def runs():
    reports = Reports.from_book(simulate_reports(1000, 8, classes=3, model="dawid-skene", rng=4)[0])
    em = fit_em(reports, model="dawid-skene", classes=None, rng=0)
    nuts = fit_nuts(reports, model="dawid-skene", classes=None, start=em, draws=500, tune=500, chains=2, rng=0,
                    progressbar=False)
    advi = fit_advi(reports, model="dawid-skene", classes=None, start=em, batch_size=128, iterations=3000,
                    draws=500, rng=1, progressbar=False)
    return reports, em, nuts, advi


def _draws(fit) -> np.ndarray:
    post = fit.idata["posterior"]
    S = post.sizes["chain"] * post.sizes["draw"]
    return np.concatenate([post["class_share"].values.reshape(S, -1), post["response"].values.reshape(S, -1)], axis=1)


def test_advi_means_are_within_two_posterior_sds_of_nuts(runs):
    """Mean-field ADVI is judged in units of the posterior sd (from NUTS).

    On this book (1,000 questions, 8 traders, 3 labels) the full-batch mean-field optimum lies
    within 0.2 sd of the NUTS means in every cell; minibatches of 128 of the book's 283 answer patterns
    add optimiser noise that the iterate averaging keeps under 1 sd (measured over 5 seeds); the
    draws' own Monte Carlo error is sd / sqrt(500) < 0.05 sd. Two sd is the point where the NUTS
    mean would fall outside ADVI's central 95 % interval: a fit further off is wrong, not noisy.
    """
    _, em, nuts, advi = runs
    a, b = _draws(advi), _draws(nuts)
    keep = np.isfinite(b[0])
    assert np.array_equal(keep, np.isfinite(a[0]))
    sd = b[:, keep].std(axis=0)
    gap = np.abs(a[:, keep].mean(axis=0) - b[:, keep].mean(axis=0))
    assert (gap <= 2.0 * sd).all(), f"largest gap {np.max(gap / sd):.2f} posterior sds"
    # the point estimates, too, and the labels of the questions
    assert np.abs(advi.class_shares - nuts.class_shares).max() <= 2.0 * sd[:3].max()
    assert (advi.labels()["label"] == nuts.labels()["label"]).mean() >= 0.99
    assert (advi.labels()["label"] == em.labels()["label"]).mean() >= 0.99


def test_the_elbo_rises_and_is_plotted(runs):
    *_, advi = runs
    elbo = advi.elbo
    assert elbo.shape == (3000,) and np.isfinite(elbo).all()
    tenth = len(elbo) // 10
    assert elbo[-tenth:].mean() > elbo[:tenth].mean()
    assert advi.diagnostics["elbo_last"] == pytest.approx(elbo[-300:].mean())
    fig = advi.plot_elbo()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "ELBO (nats)"
    assert len(ax.lines) == 2 and np.array_equal(ax.lines[0].get_ydata(), elbo)
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(InferenceError, match="plot_elbo applies to method='advi'"):
        runs[1].plot_elbo()


def test_advi_result_has_the_form_of_a_nuts_result_flagged_approximate(runs):
    reports, _, nuts, advi = runs
    assert type(advi) is type(nuts) and advi.method == "advi" and advi.approximate and not nuts.approximate
    a, b = advi.idata["posterior"].to_dataset(), nuts.idata["posterior"].to_dataset()
    assert list(a.data_vars) == list(b.data_vars)
    assert {v: a[v].dims for v in a.data_vars} == {v: b[v].dims for v in b.data_vars}
    for c in ("class", "trader", "level", "question"):
        assert np.array_equal(a[c].values, b[c].values)
    assert a.sizes["chain"] == 1 and a.sizes["draw"] == 500
    perm = advi.idata["sample_stats"]["class_permutation"].values
    assert perm.shape == (1, 500, 3) and (np.sort(perm, axis=-1) == [0, 1, 2]).all()
    d = advi.to_dict()
    assert d["approximate"] is True and d["method"] == "advi" and nuts.to_dict()["approximate"] is False
    n_patterns = len(advi.reports.patterns()[1])  # distinct answer patterns of the book
    assert d["diagnostics"]["batch_size"] == 128 and d["diagnostics"]["patterns"] == n_patterns
    assert "max_rhat" not in d["diagnostics"] and d["diagnostics"]["iterations"] == 3000
    assert "ADVI (approximate posterior mean)" in advi._headline() and advi.posterior.shape == (1000, 3)
    np.testing.assert_allclose(advi.posterior.sum(axis=1), 1.0)


def _lca_book() -> Reports:
    return Reports.from_book(simulate_reports(120, 5, classes=2, levels=[2, 3, 4, 3, 2], missing=0.2, rng=3)[0])


def _forecast_book() -> Reports:
    book = simulate_reports(90, 4, classes=2, model="forecast", missing=0.1, rng=7)[0]
    return Reports.from_frame(book.frame[["question", "trader", "probability"]])


@pytest.mark.parametrize(("make", "model"), [(_lca_book, "lca"), (_forecast_book, "forecast")])
def test_the_minibatch_likelihood_with_every_pattern_is_the_full_one(make, model):
    """With every pattern in the batch the model's log density is exactly the NUTS model's."""
    d = _design(make(), model, 2, True)
    full, batch = _build(d), _minibatch_model(d, d.n_rows)
    rng = np.random.default_rng(0)
    logp_full, logp_batch = full.compile_logp(), batch.compile_logp()
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, size=np.shape(v)) for k, v in full.initial_point().items()}
        assert logp_batch(point) == pytest.approx(logp_full(point), rel=1e-12)
    tables, M = _padded(d)
    first = "f_trader" if model == "forecast" else "cols"
    assert tables[first].shape == (d.n_rows, M)
    if model == "lca":
        assert tables["vals"].sum() == pytest.approx(d.vals.sum())
    else:
        assert tables["f_n"].sum() == pytest.approx(d.f_n.sum())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1.5}, "batch_size"),
    ({"batch_size": 10_000}, r"only \d+ distinct answer patterns"),
    ({"learning_rate": -1.0}, "learning_rate=-1.0; expected a finite number > 0"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"iterations": 5}, "iterations"),
])
def test_bad_advi_arguments(runs, kwargs, message):
    reports, em, *_ = runs
    with pytest.raises(InferenceError, match=message):
        fit_advi(reports, model="dawid-skene", classes=None, start=em, progressbar=False, **kwargs)


def test_infer_with_advi_and_its_argument_checks(runs):
    reports, *_ = runs
    with pytest.raises(InferenceError, match="batch_size=64 with method='nuts'; batch_size is a setting of"):
        infer(reports, method="nuts", batch_size=64)
    with pytest.raises(InferenceError, match="iterations=500 with method='em'; iterations is a setting of"):
        infer(reports, iterations=500)
    small = Reports.from_book(simulate_reports(150, 5, classes=2, model="dawid-skene", rng=0)[0])
    fit = infer(small, method="advi", batch_size=16, iterations=500, draws=100, rng=0, progressbar=False)
    assert fit.method == "advi" and fit.diagnostics["batch_size"] == 16 and fit.elbo.shape == (500,)
