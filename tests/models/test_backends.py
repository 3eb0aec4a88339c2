"""NUTS backends (PyMC, nutpie, NumPyro, BlackJAX) sample the same posterior into results of the same form."""

from __future__ import annotations

import sys

import arviz as az
import numpy as np
import pytest

from deepmarkets.errors import InferenceError, MissingExtraError
from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em
from deepmarkets.models.infer import infer
from deepmarkets.models.nuts import BACKENDS, fit_nuts
from deepmarkets.models.posterior import count_divergences
from deepmarkets.models.simulate import simulate_reports

pytestmark = pytest.mark.filterwarnings("ignore:.*(divergent|R-hat|ESS|one chain|devices).*:UserWarning")

NAMES = list(BACKENDS)
SETTINGS = {"draws": 400, "tune": 400, "chains": 2}


@pytest.fixture(scope="module")
def book() -> tuple[Reports, object]:
    reports = Reports.from_book(simulate_reports(200, 5, classes=2, model="dawid-skene", rng=11)[0])
    return reports, fit_em(reports, model="dawid-skene", classes=None, rng=0)


@pytest.fixture(scope="module")
def fits(book) -> dict:
    reports, start = book
    return {name: fit_nuts(reports, model="dawid-skene", classes=None, start=start, rng=1, progressbar=False,
                           backend=name, **SETTINGS) for name in NAMES}


def _mean_and_mcse(fit) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and their Monte Carlo standard errors of every share and response cell (aligned draws)."""
    post = fit.idata["posterior"].to_dataset()[["class_share", "response"]]
    mean = np.concatenate([post[v].mean(("chain", "draw")).values.ravel() for v in post.data_vars])
    mcse = az.mcse(post, method="mean")
    err = np.concatenate([mcse[v].values.ravel() for v in post.data_vars])
    return mean, err


@pytest.mark.parametrize("name", NAMES[1:])
def test_posterior_means_agree_with_pymc_to_monte_carlo_error(fits, name):
    mean_a, mcse_a = _mean_and_mcse(fits["pymc"])
    mean_b, mcse_b = _mean_and_mcse(fits[name])
    keep = np.isfinite(mean_a)  # response cells of levels a trader never used are NaN in both
    assert np.array_equal(keep, np.isfinite(mean_b)) and keep.sum() == 2 + 5 * 2 * 2
    bound = 5.0 * np.sqrt(mcse_a[keep] ** 2 + mcse_b[keep] ** 2) + 1e-4
    gap = np.abs(mean_a[keep] - mean_b[keep])
    assert (gap <= bound).all(), f"{name}: largest gap/bound {np.max(gap / bound):.2f}"


@pytest.mark.parametrize("name", NAMES[1:])
def test_every_backend_gives_the_same_form(fits, name):
    ref, fit = fits["pymc"], fits[name]
    assert type(fit) is type(ref) and fit.method == "nuts" and not fit.approximate
    assert list(fit.idata.children) == list(ref.idata.children) == ["posterior", "sample_stats"]
    for group in ("posterior", "sample_stats"):
        a, b = ref.idata[group].to_dataset(), fit.idata[group].to_dataset()
        assert list(a.data_vars) == list(b.data_vars)
        assert {v: (a[v].dims, a[v].dtype) for v in a.data_vars} == {v: (b[v].dims, b[v].dtype) for v in b.data_vars}
        assert dict(a.sizes) == dict(b.sizes)
        for c in a.coords:
            assert np.array_equal(a[c].values, b[c].values)
    assert list(fit.diagnostics) == list(ref.diagnostics)
    assert fit.diagnostics["gauge"] == ref.diagnostics["gauge"]
    assert fit.diagnostics["backend"] == name and ref.diagnostics["backend"] == "pymc"
    assert fit.to_dict()["diagnostics"]["backend"] == name
    assert f"NUTS ({name})" in fit._headline() and "NUTS (pymc)" in ref._headline()
    assert fit.classes.tolist() == ref.classes.tolist() and fit.posterior.shape == ref.posterior.shape


@pytest.mark.parametrize("name", NAMES)
def test_divergences_are_read_from_every_backends_statistics(fits, name):
    fit = fits[name]
    diverging = fit.idata["sample_stats"]["diverging"]
    assert diverging.dtype == bool and diverging.shape == (2, SETTINGS["draws"])
    assert fit.diagnostics["divergences"] == count_divergences(fit.idata) == int(diverging.values.sum())
    assert fit.diagnostics["chains"] == 2 and fit.diagnostics["draws"] == SETTINGS["draws"]
    # the draws are relabelled to the EM labelling: the permutation of each draw is recorded
    perm = fit.idata["sample_stats"]["class_permutation"].values
    assert perm.shape == (2, SETTINGS["draws"], 2) and (np.sort(perm, axis=-1) == [0, 1]).all()
    assert 0 <= fit.diagnostics["sampler_seconds"] <= fit.diagnostics["sampling_seconds"] + 1e-6


@pytest.mark.parametrize("name", ["numpyro", "blackjax"])
def test_the_same_seed_gives_the_same_draws(book, name):
    reports, start = book
    runs = [fit_nuts(reports, model="dawid-skene", classes=None, start=start, rng=5, progressbar=False,
                     backend=name, draws=30, tune=30, chains=2) for _ in range(2)]
    a, b = (r.idata["posterior"]["class_share"].values for r in runs)
    assert np.array_equal(a, b)
    other = fit_nuts(reports, model="dawid-skene", classes=None, start=start, rng=6, progressbar=False,
                     backend=name, draws=30, tune=30, chains=2)
    assert not np.array_equal(a, other.idata["posterior"]["class_share"].values)


@pytest.mark.parametrize(("name", "module", "extra"),
                         [("nutpie", "nutpie", "nutpie"), ("numpyro", "numpyro", "jax"), ("blackjax", "jax", "jax")])
def test_a_missing_extra_is_named(book, monkeypatch, name, module, extra):
    reports, start = book
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if the package were not installed
    with pytest.raises(MissingExtraError, match=rf"pip install 'deepmarkets\[{extra}\]'") as err:
        fit_nuts(reports, model="dawid-skene", classes=None, start=start, backend=name, progressbar=False)
    assert isinstance(err.value, InferenceError) and repr(module) in str(err.value)
    with pytest.raises(MissingExtraError, match=rf"deepmarkets\[{extra}\]"):
        infer(reports, method="nuts", backend=name, progressbar=False)


def test_bad_backend_arguments(book):
    reports, start = book
    with pytest.raises(InferenceError, match=r"backend='stan'; expected one of \['pymc', 'nutpie'"):
        fit_nuts(reports, model="dawid-skene", classes=None, start=start, backend="stan")
    with pytest.raises(InferenceError, match="a backend chooses the NUTS sampler: pass method='nuts'"):
        infer(reports, backend="nutpie")
