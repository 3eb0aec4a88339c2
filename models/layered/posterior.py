"""A NUTS posterior of a layered market's final parameters, its structure held fixed (PyMC).

The likelihood is the market's exact density, ``Σ_i log Σ_a w_a N(x_i; μ_a, diag σ²_{g(a)})``,
summed out over the latent states; priors ``w ~ Dirichlet(1)``, ``μ ~ Normal(0, 10)``,
``σ ~ HalfNormal(5)``. Chains start at the market's state. Diagonal shapes only (a full
covariance posterior needs LKJ priors per shape, not provided).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import as_rng
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.layered.state import LayeredState

__all__ = ["sample_posterior"]


def sample_posterior(state: LayeredState, x: np.ndarray, *, draws: int = 500, tune: int = 500, chains: int = 2,
                     rng: int | np.random.Generator | None = None, progressbar: bool = True) -> Any:
    """NUTS draws of ``w``, ``mu`` and ``sigma`` given the data, as an ArviZ ``xarray.DataTree``.

    Coordinates: ``state`` (location-state ids), ``shape`` (shape-state ids), ``variable``.
    Label switching is not fixed here: chains start at the market's state and stay near it when
    the states are well separated.
    """
    if state.emission != "diag":
        raise InferenceError("the NUTS posterior is available for diagonal emissions only; fit with emission='diag'")
    draws = whole_number(draws, "draws", 1, InferenceError)
    tune = whole_number(tune, "tune", 0, InferenceError)
    chains = whole_number(chains, "chains", 1, InferenceError)
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(x, dtype=np.float64)
    k, d = state.means.shape
    coords = {"state": list(state.ids), "shape": list(state.shape_ids), "variable": [f"x{j + 1}" for j in range(d)]}
    seed = int(as_rng(rng).integers(2**31))
    with pm.Model(coords=coords):
        w = pm.Dirichlet("w", a=np.ones(k), dims="state", initval=state.weights)
        mu = pm.Normal("mu", 0.0, 10.0, dims=("state", "variable"), initval=state.means)
        sigma = pm.HalfNormal("sigma", 5.0, dims=("shape", "variable"), initval=np.sqrt(state.shapes))
        s = sigma[state.shape_of]                                             # (K, d)
        z = (x[:, None, :] - mu[None]) / s[None]
        comp = -0.5 * pt.sum(z * z, axis=2) - pt.sum(pt.log(s), axis=1)[None] - 0.5 * d * np.log(2 * np.pi)
        pm.Potential("log_likelihood", pt.sum(pm.math.logsumexp(pt.log(w)[None] + comp, axis=1)))
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed, progressbar=progressbar,
                         compute_convergence_checks=False)
