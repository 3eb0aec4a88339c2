"""Layered states: the exact density against scipy, operations that keep q, EM against scikit-learn, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deepmarkets.errors import DeclarationError
from deepmarkets.models.gauge import discrete_gauge
from deepmarkets.models.layered.em import em_step, fit_em, subset_means
from deepmarkets.models.layered.state import LayeredState
from deepmarkets.models.layered.symbolic import symbolic_density


def _random_state(emission: str, k: int, d: int, rng: np.random.Generator, *, groups: int | None = None,
                  q: int = 2) -> LayeredState:
    g = k if groups is None else groups
    w = rng.dirichlet(np.ones(k) * 2)
    mu = rng.normal(0, 2, (k, d))
    if emission == "diag":
        shapes = rng.uniform(0.3, 2.0, (g, d))
    elif emission == "full":
        a = rng.normal(size=(g, d, d))
        shapes = a @ np.swapaxes(a, 1, 2) / d + 0.3 * np.eye(d)
    else:
        shapes = np.concatenate([rng.normal(0, 0.8, (g, d, q)), rng.uniform(0.2, 1.0, (g, d, 1))], axis=2)
    shape_of = None if groups is None else np.concatenate([np.arange(g), rng.integers(0, g, k - g)])
    return LayeredState.from_arrays(w, mu, shapes, emission=emission, shape_of=shape_of)


def _brute_log_q(s: LayeredState, x: np.ndarray) -> np.ndarray:
    cov = s.covariances()
    dens = sum(s.weights[a] * stats.multivariate_normal(s.means[a], cov[s.shape_of[a]]).pdf(x)
               for a in range(s.n_states))
    return np.log(dens)


@pytest.mark.parametrize("emission", ["diag", "full", "factor"])
@pytest.mark.parametrize("groups", [None, 2])
def test_log_q_is_the_mixture_density(emission, groups):
    rng = np.random.default_rng(1)
    for _ in range(5):
        s = _random_state(emission, 4, 3, rng, groups=groups)
        x = rng.normal(0, 2, (50, 3))
        assert np.allclose(s.log_q(x), _brute_log_q(s, x), rtol=0, atol=1e-9)
        resp, lq = s.responsibilities(x)
        assert np.allclose(resp.sum(axis=1), 1.0) and np.allclose(lq, s.log_q(x))
        if groups is not None:
            assert np.allclose(s.shape_posterior(resp).sum(axis=1), 1.0)
            assert np.allclose(s.shape_posterior(resp)[:, s.shape_of[0]],
                               resp[:, s.shape_of == s.shape_of[0]].sum(axis=1))


@pytest.mark.parametrize("emission", ["diag", "full", "factor"])
def test_relabellings_entries_and_layers_leave_q_unchanged(emission):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, (200, 3))
    for _ in range(5):
        flat = _random_state(emission, 4, 3, rng)
        layered = _random_state(emission, 5, 3, rng, groups=3)
        base_f, base_l = flat.log_q(x), layered.log_q(x)
        same = [(flat.permuted(rng.permutation(4)), base_f), (flat.split_copy(1), base_f),
                (flat.with_layer(), base_f), (layered.regrouped(rng.permutation(3)), base_l),
                (layered.permuted(rng.permutation(5)), base_l), (layered.split_copy(0), base_l),
                (layered.without_layer(), base_l), (layered.without_layer().with_layer(), base_l)]
        if emission == "factor":
            theta = rng.uniform(0, 2 * np.pi)
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            same += [(flat.rotated(2, rot), base_f), (layered.rotated(1, rot @ np.diag([1, -1])), base_l)]
        for changed, base in same:
            assert np.max(np.abs(changed.log_q(x) - base)) < 1e-12
        # the split copy and the layer add parameters; the layer removed hands out copies of the shapes
        assert flat.split_copy(1).n_parameters == flat.n_parameters + 3 + 1 + flat.shape_size
        assert layered.split_copy(0).n_parameters == layered.n_parameters + 3 + 1
        assert layered.without_layer().n_parameters == layered.n_parameters + 2 * layered.shape_size


def test_parameter_counts_follow_the_closed_forms():
    rng = np.random.default_rng(3)
    d = 4
    for emission, size in (("diag", d), ("full", d * (d + 1) // 2), ("factor", d * 2 + d - 1)):
        s = _random_state(emission, 3, d, rng)
        assert s.shape_size == size and s.n_parameters == 2 + 3 * d + 3 * size
        layered = _random_state(emission, 5, d, rng, groups=2)
        assert layered.n_parameters == 4 + 5 * d + 2 * size


def test_the_gauge_module_proves_the_relabellings_of_q():
    s = LayeredState.from_arrays([0.2, 0.3, 0.5], [[-1.0], [0.0], [1.0]], [[1.0], [2.0], [0.5]])
    group = discrete_gauge(symbolic_density(s, [[-1.0], [0.5]]), rng=0)
    assert group.order == 6 and all(e.proven for e in group.elements)
    # with a coarse layer the variances belong to the shapes: only states sharing a shape can swap
    t = LayeredState.from_arrays([0.2, 0.3, 0.5], [[-1.0], [0.0], [1.0]], [[1.0], [2.0]], shape_of=[0, 0, 1])
    group = discrete_gauge(symbolic_density(t, [[-1.0], [0.5], [2.0]]), rng=0)
    assert sorted(e.permutation for e in group.elements) == [(0, 1, 2), (1, 0, 2)]


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")  # the one-step start
@pytest.mark.parametrize("emission", ["diag", "full"])
def test_em_reaches_scikit_learns_fixed_point_from_the_same_start(emission):
    sklearn = pytest.importorskip("sklearn.mixture")
    from deepmarkets.models.layered.datasets import load_wine

    x = load_wine().x
    start = sklearn.GaussianMixture(3, covariance_type=emission, max_iter=1, init_params="random_from_data",
                                    random_state=1).fit(x)
    w, mu, cov = start.weights_, start.means_, start.covariances_
    prec = 1 / cov if emission == "diag" else np.linalg.inv(cov)
    ref = sklearn.GaussianMixture(3, covariance_type=emission, tol=1e-12, max_iter=20_000, weights_init=w,
                                  means_init=mu, precisions_init=prec).fit(x)
    fit = fit_em(LayeredState.from_arrays(w, mu, cov, emission=emission), x)
    assert fit.converged
    assert abs(fit.log_likelihood / len(x) - ref.score(x)) < 1e-6      # the issue asks for 1e-3
    assert np.allclose(np.sort(fit.state.weights), np.sort(ref.weights_), atol=1e-5)


@pytest.mark.parametrize("emission", ["diag", "full", "factor"])
def test_em_and_its_partial_steps_never_lower_the_likelihood(emission):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        truth = _random_state("full", 3, 3, rng)
        x = np.concatenate([rng.multivariate_normal(truth.means[a], truth.shapes[a], 60) for a in range(3)])
        s = _random_state(emission, 4, 3, rng, groups=2 if seed % 2 else None)
        ll = s.log_q(x).sum()
        for step in range(30):
            blocks = [("weights", "means", "shapes"), ("means",), ("shapes",), ("weights",)][step % 4]
            s = em_step(s, x, blocks=blocks) if step % 5 else subset_means(s, x, [0, 2])
            new = s.log_q(x).sum()
            assert new >= ll - 1e-9 * abs(ll)
            ll = new


def test_bad_states_are_refused_with_a_reason():
    ok = dict(weights=[0.5, 0.5], means=[[0.0], [1.0]], shapes=[[1.0], [1.0]])
    with pytest.raises(DeclarationError, match="NaN"):
        LayeredState.from_arrays(**{**ok, "means": [[np.nan], [1.0]]})
    with pytest.raises(DeclarationError, match="positive"):
        LayeredState.from_arrays(**{**ok, "shapes": [[1.0], [-1.0]]})
    with pytest.raises(DeclarationError, match="sum to 1"):
        LayeredState.from_arrays(**{**ok, "weights": [0.5, 0.6]})
    with pytest.raises(DeclarationError, match="not positive definite"):
        LayeredState.from_arrays([1.0], [[0.0, 0.0]], [[[1.0, 1.0], [1.0, 1.0]]], emission="full")
    with pytest.raises(DeclarationError, match="emission"):
        LayeredState.from_arrays(**ok, emission="student")
    with pytest.raises(DeclarationError, match="shape_of"):
        LayeredState.from_arrays(**ok, shape_of=[0, 3])
    with pytest.raises(DeclarationError, match="at least one location state"):
        LayeredState.from_arrays(ok["weights"], ok["means"], [[1.0], [1.0], [1.0]], shape_of=[0, 1])
    s = LayeredState.from_arrays(**ok)
    with pytest.raises(DeclarationError, match="permutation"):
        s.permuted([0, 0])
    with pytest.raises(DeclarationError, match="no coarse layer"):
        s.without_layer()
    with pytest.raises(DeclarationError, match="factor state"):
        s.rotated(0, np.eye(1))
