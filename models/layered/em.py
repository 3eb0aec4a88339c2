"""EM for layered Gaussian latent models: the moves of the market's EM traders, and a plain fit.

One EM step computes the location-state responsibilities ``r_ia = P(a | x_i)`` (E-step) and
maximises the expected complete log-likelihood over the chosen parameter blocks (M-step):

* weights ``w_a = N_a / n`` with ``N_a = Σ_i r_ia``;
* means ``μ_a = Σ_i r_ia x_i / N_a``;
* shapes pooled over the children of each shape state,
  ``Σ_g = Σ_{a: g(a)=g} Σ_i r_ia (x_i - μ_a)(x_i - μ_a)ᵀ / Σ_{a: g(a)=g} N_a + ε I``
  (the diagonal of it for ``"diag"``), where ``ε`` is ``reg_covar`` as in scikit-learn's
  ``GaussianMixture``. Without a coarse layer every shape state has one child and this is
  scikit-learn's update. Factor shapes take one factor-analysis EM step towards that pooled
  scatter ``S`` (Ghahramani & Hinton 1996): with ``β = Λᵀ Σ⁻¹`` and
  ``E = I - βΛ + β S βᵀ``, ``Λ' = S βᵀ E⁻¹`` and ``ψ' = diag(S - Λ' β S) + ε``.

Updating only some blocks (an ECM step) never lowers the likelihood either. :func:`fit_em`
iterates full steps to convergence: the EM baseline with a given structure.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(-2, 1, (50, 1)), rng.normal(2, 1, (50, 1))])
>>> s = LayeredState.from_arrays([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]])
>>> fit = fit_em(s, x)
>>> bool(fit.log_likelihood >= s.log_q(x).sum())
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.models.layered.categorical import CategoricalState, categorical_em_step
from deepmarkets.models.layered.state import LayeredState

__all__ = ["BLOCKS", "REG_COVAR", "em_step", "fit_em", "EMFit", "subset_means"]

#: Parameter blocks an EM step can update.
BLOCKS = ("weights", "means", "shapes")
#: Added to every variance, as scikit-learn's ``reg_covar`` default.
REG_COVAR = 1e-6
_EPS = 10 * np.finfo(np.float64).eps


def _pooled_shapes(state: LayeredState, x: np.ndarray, resp: np.ndarray, means: np.ndarray,
                   reg_covar: float) -> np.ndarray:
    nk = resp.sum(axis=0) + _EPS
    d = x.shape[1]
    g_count = state.n_shapes
    total = np.zeros(g_count)
    np.add.at(total, state.shape_of, nk)
    if state.emission == "diag":
        # Σ_i r_ia (x_i - μ_a)^2 = Σ r x^2 - 2 μ Σ r x + N μ^2
        scat = resp.T @ (x * x) - 2.0 * means * (resp.T @ x) + nk[:, None] * means * means
        out = np.zeros((g_count, d))
        np.add.at(out, state.shape_of, scat)
        return out / total[:, None] + reg_covar
    out = np.zeros((g_count, d, d))
    for a in range(state.n_states):
        diff = x - means[a]
        out[state.shape_of[a]] += (resp[:, a, None] * diff).T @ diff
    out /= total[:, None, None]
    if state.emission == "factor":
        return _factor_step(state.shapes, out, reg_covar)
    out += reg_covar * np.eye(d)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


def _factor_step(shapes: np.ndarray, scatter: np.ndarray, reg_covar: float) -> np.ndarray:
    """One factor-analysis EM step of packed loadings and uniquenesses towards each scatter matrix."""
    out = np.empty_like(shapes)
    q = shapes.shape[2] - 1
    for g, s in enumerate(scatter):
        lam, psi = shapes[g, :, :q], shapes[g, :, q]
        sigma = lam @ lam.T + np.diag(psi)
        beta = np.linalg.solve(sigma, lam).T                      # Λᵀ Σ⁻¹ (Σ symmetric)
        e = np.eye(q) - beta @ lam + beta @ s @ beta.T
        new = np.linalg.solve(e, beta @ s).T                      # S βᵀ E⁻¹ (E symmetric)
        out[g, :, :q] = new
        out[g, :, q] = np.diag(s) - np.einsum("dq,qd->d", new, beta @ s) + reg_covar
    return out


def shapes_from_responsibilities(state: LayeredState, x: np.ndarray, resp: np.ndarray,
                                 reg_covar: float = REG_COVAR) -> np.ndarray:
    """Shapes fitted to given responsibilities with the state's means (factor shapes from their current values)."""
    return _pooled_shapes(state, x, resp, state.means, reg_covar)


def from_responsibilities(state: LayeredState | CategoricalState, x: np.ndarray,
                          resp: np.ndarray) -> LayeredState | CategoricalState:
    """The M-step of every block from given responsibilities (a fresh start for EM)."""
    if isinstance(state, CategoricalState):
        return categorical_em_step(state, x, resp=resp)
    nk = resp.sum(axis=0) + _EPS
    s = state.with_arrays(weights=nk / nk.sum(), means=resp.T @ x / nk[:, None])
    return s.with_arrays(shapes=shapes_from_responsibilities(s, x, resp))


def em_step(state: LayeredState | CategoricalState, x: np.ndarray, *, blocks: Iterable[str] = BLOCKS,
            reg_covar: float = REG_COVAR) -> LayeredState | CategoricalState:
    """One EM step updating ``blocks`` (any of :data:`BLOCKS`), the others held fixed.

    For categorical states the answer tables are the ``means`` and ``shapes`` blocks.
    """
    blocks = tuple(blocks)
    unknown = set(blocks) - set(BLOCKS)
    if unknown:
        raise DeclarationError(f"unknown parameter blocks {sorted(unknown)}; expected some of {BLOCKS}")
    if isinstance(state, CategoricalState):
        tables = "means" in blocks or "shapes" in blocks
        return categorical_em_step(state, x, weights="weights" in blocks, columns=None if tables else [])
    resp, _ = state.responsibilities(x)
    nk = resp.sum(axis=0) + _EPS
    new = {}
    if "weights" in blocks:
        new["weights"] = nk / nk.sum()
    means = resp.T @ x / nk[:, None] if "means" in blocks else state.means
    if "means" in blocks:
        new["means"] = means
    if "shapes" in blocks:
        new["shapes"] = _pooled_shapes(state, x, resp, means, reg_covar)
    return state.with_arrays(**new)


def subset_means(state: LayeredState, x: np.ndarray, variables: np.ndarray) -> LayeredState:
    """The conditional M-step of the means of some variables, the other coordinates held fixed.

    With precision ``P = Σ^{-1}`` the stationary point in ``μ_S`` is
    ``μ_S = x̄_S + (P_SS)^{-1} P_{S,-S} (x̄_{-S} - μ_{-S})`` where ``x̄`` is the responsibility-
    weighted mean (for diagonal shapes simply ``x̄_S``). For categorical states: the tables of
    those columns.
    """
    if isinstance(state, CategoricalState):
        return categorical_em_step(state, x, weights=False, columns=list(variables))
    resp, _ = state.responsibilities(x)
    nk = resp.sum(axis=0) + _EPS
    xbar = resp.T @ x / nk[:, None]
    means = state.means.copy()
    s = np.asarray(variables)
    if state.emission == "diag":
        means[:, s] = xbar[:, s]
        return state.with_arrays(means=means)
    rest = np.setdiff1d(np.arange(state.dim), s)
    cov = state.covariances()
    for a in range(state.n_states):
        prec = np.linalg.inv(cov[state.shape_of[a]])
        shift = np.linalg.solve(prec[np.ix_(s, s)], prec[np.ix_(s, rest)] @ (xbar[a, rest] - means[a, rest]))
        means[a, s] = xbar[a, s] + shift
    return state.with_arrays(means=means)


@dataclass(frozen=True)
class EMFit:
    """The result of :func:`fit_em`: the final state, its log-likelihood and the steps taken."""

    state: LayeredState
    log_likelihood: float
    steps: int
    converged: bool


def fit_em(state: LayeredState, x: np.ndarray, *, tol: float = 1e-10, max_steps: int = 5000,
           reg_covar: float = REG_COVAR) -> EMFit:
    """Full EM steps from ``state`` until the mean log-likelihood changes by less than ``tol``."""
    x = np.asarray(x, dtype=np.float64)
    ll = float(state.log_q(x).mean())
    for step in range(1, max_steps + 1):
        state = em_step(state, x, reg_covar=reg_covar)
        new = float(state.log_q(x).mean())
        if abs(new - ll) < tol:
            return EMFit(state, new * len(x), step, True)
        ll = new
    return EMFit(state, ll * len(x), max_steps, False)
