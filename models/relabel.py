"""Label switching: align posterior draws of a class-indexed model to one labelling.

A mixture or latent class posterior is invariant under any permutation of the class labels, so
MCMC draws (within a chain, or between chains started apart) may use different labellings, and
averages or convergence diagnostics computed over them mean nothing. The gauge is fixed here
the way Stephens (2000) proposed: every draw gets the permutation of its classes that brings it
closest to a *pivot* (for example the EM optimum), found exactly by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) on the ``K x K`` matrix of costs between each
pivot class and each class of the draw.

Each class is described by a *block*: a vector of that class's parameters (its share, its
response probabilities, its mean, ...). The cost between two blocks is either the
generalised Kullback-Leibler divergence ``sum_i p_i log(p_i / q_i) - p_i + q_i`` (``"kl"``, for
probabilities: for blocks made of probability rows it is the sum of the rows' KL divergences)
or the squared Euclidean distance (``"squared"``, for real-valued parameters).

:func:`fix_gauge` relabels the posterior draws of a fitted latent class model (a NUTS fit or
its ``idata``) so that all chains share one labelling, by Stephens' (2000) Kullback-Leibler
relabelling algorithm or by alignment to a pivot, and reports R-hat and ESS before and after
(:class:`GaugeFixing`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.helpers import json_safe
from deepmarkets.helpers.plotting import figure_and_axes, styled
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.diagnostics import Diagnostics, diagnose
from deepmarkets.models.posterior import LAYOUT, Posterior, read_posterior

__all__ = ["align_draws", "assignment_costs", "permute_classes", "COSTS", "GaugeFixing", "fix_gauge",
           "plot_gauge_fixing"]

#: The cost functions between class blocks.
COSTS: dict[str, str] = {
    "kl": "generalised Kullback-Leibler divergence sum p log(p/q) - p + q of the pivot block p from the draw block q",
    "squared": "squared Euclidean distance between the blocks",
}

_TINY = 1e-300
_METHODS = ("stephens", "pivot")


def _as_blocks(draws_by_class: Any, pivot: Any) -> tuple[np.ndarray, np.ndarray]:
    draws = np.asarray(draws_by_class, dtype=np.float64)
    piv = np.asarray(pivot, dtype=np.float64)
    if piv.ndim == 1:
        piv = piv[:, None]
    if piv.ndim != 2:
        raise InferenceError(f"pivot has shape {piv.shape}; expected (K, D): one block of D parameters per class")
    K, D = piv.shape
    if draws.ndim == 2 and D == 1:
        draws = draws[:, :, None]
    if draws.ndim != 3 or draws.shape[1:] != (K, D):
        raise InferenceError(
            f"draws_by_class has shape {draws.shape}; expected (S, {K}, {D}) to match the pivot's (K, D) = {piv.shape} "
            f"(S draws, one block per class)"
        )
    if not np.isfinite(piv).all():
        raise InferenceError("the pivot holds NaN or infinite values; expected finite class blocks")
    if not np.isfinite(draws).all():
        bad = int(np.flatnonzero(~np.isfinite(draws).all(axis=(1, 2)))[0])
        raise InferenceError(f"draw {bad} holds NaN or infinite values; expected finite class blocks")
    return draws, piv


def assignment_costs(draws_by_class: Any, pivot: Any, *, cost: str = "kl") -> np.ndarray:
    """Cost of matching each pivot class to each class of each draw.

    Parameters
    ----------
    draws_by_class : array_like
        ``(S, K, D)``: S draws, each with one block of D parameters per class.
    pivot : array_like
        ``(K, D)``: the reference labelling.
    cost : {"kl", "squared"}, default "kl"
        See :data:`COSTS`. ``"kl"`` needs non-negative blocks (probabilities); pivot entries
        may be 0 (they contribute ``q``), draw entries at 0 where the pivot is positive cost
        infinity in theory and a very large finite number here.

    Returns
    -------
    numpy.ndarray
        ``(S, K, K)``; entry ``[s, k, l]`` is the cost of calling class ``l`` of draw ``s``
        class ``k``.

    Examples
    --------
    >>> pivot = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> c = assignment_costs(pivot[None, ::-1], pivot, cost="squared")
    >>> c[0].round(2).tolist()
    [[0.98, 0.0], [0.0, 0.98]]
    """
    draws, piv = _as_blocks(draws_by_class, pivot)
    if cost == "squared":
        diff = piv[None, :, None, :] - draws[:, None, :, :]
        return np.einsum("sklj,sklj->skl", diff, diff)
    if cost == "kl":
        if (piv < 0).any() or (draws < 0).any():
            raise InferenceError("cost='kl' needs non-negative blocks (probabilities); use cost='squared' for "
                                 "real-valued parameters")
        with np.errstate(divide="ignore"):
            logp = np.where(piv > 0, np.log(np.maximum(piv, _TINY)), 0.0)
        logq = np.log(np.maximum(draws, _TINY))
        # sum_i p log p - p log q - p + q, with p = pivot[k], q = draw[s, l]
        own = (piv * logp - piv).sum(axis=1)  # (K,)
        cross = np.einsum("kd,sld->skl", piv, logq)
        total_q = draws.sum(axis=2)  # (S, K)
        return own[None, :, None] - cross + total_q[:, None, :]
    raise InferenceError(f"cost={cost!r}; expected one of {sorted(COSTS)}")


def align_draws(draws_by_class: Any, pivot: Any, *, cost: str = "kl") -> tuple[np.ndarray, np.ndarray]:
    """Relabel every draw so that its classes match the pivot's (minimum-cost permutation per draw).

    Parameters
    ----------
    draws_by_class : array_like
        ``(S, K, D)``: S draws of a model with K classes; ``[s, k]`` is class k's block of D
        parameters in draw s. A ``(S, K)`` array is read as blocks of one parameter.
    pivot : array_like
        ``(K, D)`` the labelling to match (for example the EM optimum).
    cost : {"kl", "squared"}, default "kl"
        Cost between a pivot block and a draw block (see :data:`COSTS`).

    Returns
    -------
    perms : numpy.ndarray
        ``(S, K)`` int64; draw ``s``'s class ``perms[s, k]`` becomes class ``k``. The identity
        row ``[0, 1, ..., K-1]`` means the draw kept its labels.
    aligned : numpy.ndarray
        ``(S, K, D)`` the relabelled blocks: ``aligned[s, k] = draws_by_class[s, perms[s, k]]``.

    Raises
    ------
    InferenceError
        For shapes that do not match, non-finite values, or an unknown cost.

    Notes
    -----
    Each draw's permutation minimises ``sum_k cost(pivot[k], draw[perm[k]])`` exactly (Hungarian
    algorithm, ``O(K^3)`` per draw). Among permutations of equal cost the one
    :func:`scipy.optimize.linear_sum_assignment` returns is kept. Apply ``perms`` to other
    class-indexed quantities of the same draws with :func:`permute_classes`.

    Examples
    --------
    >>> pivot = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])   # two classes, one probability row each
    >>> draws = np.stack([pivot, pivot[::-1]])                  # the second draw has its labels switched
    >>> perms, aligned = align_draws(draws, pivot)
    >>> perms.tolist()
    [[0, 1], [1, 0]]
    >>> bool(np.array_equal(aligned[1], pivot))
    True
    """
    draws, _ = _as_blocks(draws_by_class, pivot)
    perms = _assign(assignment_costs(draws, pivot, cost=cost))
    return perms, permute_classes(draws, perms, axis=1)


def _assign(costs: np.ndarray) -> np.ndarray:
    """``(S, K)`` minimum-cost permutations of ``(S, K, K)`` costs, one per draw (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    # a huge but finite stand-in for infinite costs keeps the assignment well defined
    costs = np.nan_to_num(costs, nan=np.inf, posinf=1e300)
    perms = np.empty(costs.shape[:2], dtype=np.int64)
    for s in range(costs.shape[0]):
        perms[s] = linear_sum_assignment(costs[s])[1]
    return perms


def permute_classes(values: Any, perms: Any, *, axis: int) -> np.ndarray:
    """Apply per-draw class permutations to an array whose first axis is the draw.

    Parameters
    ----------
    values : array_like
        ``(S, ...)`` with the class axis at ``axis`` (K long).
    perms : array_like
        ``(S, K)`` permutations from :func:`align_draws`.
    axis : int
        The class axis of ``values`` (not 0).

    Returns
    -------
    numpy.ndarray
        ``out[s, ..., k, ...] = values[s, ..., perms[s, k], ...]``.

    Examples
    --------
    >>> x = np.array([[10.0, 20.0, 30.0]])          # one draw, three classes
    >>> permute_classes(x, np.array([[2, 0, 1]]), axis=1).tolist()
    [[30.0, 10.0, 20.0]]
    """
    arr = np.asarray(values)
    p = np.asarray(perms, dtype=np.int64)
    axis = axis % arr.ndim
    if axis == 0:
        raise InferenceError("axis 0 is the draw axis; give the class axis")
    if p.ndim != 2 or p.shape[0] != arr.shape[0] or p.shape[1] != arr.shape[axis]:
        raise InferenceError(f"perms has shape {p.shape}; expected ({arr.shape[0]}, {arr.shape[axis]}) for values of "
                             f"shape {arr.shape} with classes on axis {axis}")
    shape = [1] * arr.ndim
    shape[0], shape[axis] = p.shape
    return np.take_along_axis(arr, p.reshape(shape), axis=axis)


# ---------------------------------------------------------------------------
# gauge fixing of posterior draws
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class GaugeFixing:
    """Posterior draws relabelled to one labelling, with diagnostics before and after.

    Attributes
    ----------
    method : str
        ``"stephens"`` or ``"pivot"``.
    description : str
        What was done, in words.
    idata : xarray.DataTree
        The relabelled posterior (every variable with a ``class`` dim permuted per draw;
        ``sample_stats.gauge_permutation`` holds the permutations).
    permutations : numpy.ndarray
        ``(chain, draw, K)``: class ``k`` after fixing is class ``permutations[c, d, k]`` of the
        input draw.
    relabelled : int
        Draws whose permutation is not the identity.
    chain_labellings : list of tuple of int
        The most common permutation in each chain.
    iterations : int
        Stephens iterations (1 for the pivot method).
    converged : bool
        Stephens: the permutations stopped changing within ``max_iter``.
    objective : float or None
        Stephens: ``sum over draws and questions of KL(P_draw∘perm ‖ Q)`` at the end (nats).
    before, after : Diagnostics
        R-hat and bulk and tail ESS over the class-indexed parameters, with the run's divergences.
    fit : LatentClassFit or None
        The input fit with point estimates, diagnostics and ``idata`` recomputed after fixing.
    seconds : float
    """

    method: str
    description: str
    idata: Any = field(repr=False)
    permutations: np.ndarray = field(repr=False)
    relabelled: int
    chain_labellings: list
    iterations: int
    converged: bool
    objective: float | None
    before: Diagnostics
    after: Diagnostics
    fit: Any = field(default=None, repr=False)
    seconds: float = 0.0
    source: Any = field(default=None, repr=False)

    @property
    def n_draws(self) -> int:
        return int(self.permutations.shape[0] * self.permutations.shape[1])

    def to_dict(self) -> dict:
        return json_safe({
            "method": self.method, "description": self.description, "relabelled": self.relabelled,
            "n_draws": self.n_draws, "chain_labellings": [list(p) for p in self.chain_labellings],
            "iterations": self.iterations, "converged": self.converged, "objective": self.objective,
            "before": self.before.to_dict(), "after": self.after.to_dict(), "seconds": self.seconds,
        })

    def __repr__(self) -> str:
        def fmt(d):
            r, e = d.max_rhat, d.min_ess_bulk
            return f"max R-hat {'-' if r is None else f'{r:.3f}'}, min bulk ESS {'-' if e is None else f'{e:.0f}'}"

        return (f"GaugeFixing({self.method}: {self.relabelled} of {self.n_draws} draws relabelled; before: "
                f"{fmt(self.before)}; after: {fmt(self.after)}; {self.iterations} iterations"
                f"{'' if self.converged else ', NOT converged'})")

    def _repr_markdown_(self) -> str:
        def cell(d, key, spec):
            v = d[key]
            return "-" if v is None else format(v, spec)

        return "\n".join([
            f"**gauge fixing** ({self.method}): {self.description}", "",
            f"{self.relabelled} of {self.n_draws} draws relabelled; the relabelling of most draws in each chain: "
            f"{[list(p) for p in self.chain_labellings]}; {self.iterations} iteration(s) "
            f"({'converged' if self.converged else 'NOT converged'}), {self.seconds:.2f} s", "",
            "| | max R-hat | min bulk ESS |", "|---|---|---|",
            f"| before | {cell(self.before, 'max_rhat', '.3f')} | {cell(self.before, 'min_ess_bulk', '.0f')} |",
            f"| after | {cell(self.after, 'max_rhat', '.3f')} | {cell(self.after, 'min_ess_bulk', '.0f')} |",
        ])


def _posterior_of(fit_or_idata: Any) -> tuple[Any, Any]:
    from deepmarkets.models.fit import LatentClassFit

    if isinstance(fit_or_idata, LatentClassFit):
        if fit_or_idata.idata is None:
            raise InferenceError(f"this {fit_or_idata.method.upper()} fit has no posterior draws; gauge fixing "
                                 f"needs a NUTS fit (infer(..., method='nuts')) or its idata")
        return fit_or_idata, fit_or_idata.idata
    tree = fit_or_idata
    children = getattr(tree, "children", None)
    if not isinstance(children, Mapping) or "posterior" not in children:
        raise InferenceError(f"expected a LatentClassFit from NUTS or an xarray.DataTree with a posterior group, "
                             f"got {type(fit_or_idata).__name__}")
    return None, tree


def _dataset(node: Any):
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def _flat(da, S: int) -> tuple[np.ndarray, int]:
    """``(S, ...)`` values of a (chain, draw, ...) DataArray and the class axis in that array."""
    da = da.transpose("chain", "draw", ...)
    arr = np.asarray(da.values)
    return arr.reshape(S, *arr.shape[2:]), da.dims.index("class") - 1


def _class_parameters(posterior: Posterior) -> tuple[np.ndarray, list[str]]:
    """``(S, K, D)`` class blocks from class_share, response and mean (columns NaN in any draw dropped)."""
    parts, used = [], []
    for name in ("class_share", "response", "mean"):
        if name in posterior:
            arr = np.moveaxis(posterior.flat(name), LAYOUT[name].index("class") + 1, 1)
            parts.append(arr.reshape(arr.shape[0], arr.shape[1], -1))
            used.append(name)
    if not parts:
        raise InferenceError("the posterior has none of class_share, response or mean with a class dim; give "
                             "pivot blocks for the variables it has, or use method='stephens'")
    blocks = np.concatenate(parts, axis=2).astype(np.float64)
    keep = np.isfinite(blocks).all(axis=(0, 1))
    return blocks[:, :, keep], used


def _diagnostics(posterior: Posterior) -> Diagnostics:
    """R-hat and bulk and tail ESS over the class-indexed parameters (class_share, response, mean)."""
    C, D = posterior.chains, posterior.draws
    try:
        draws = _class_parameters(posterior)[0].reshape(C, D, -1)
    except InferenceError:  # no class-indexed parameters: no statistics, only the run's counts
        draws = np.empty((C, D, 0))
    return diagnose(draws, divergences=posterior.divergences)


def _stephens(P: np.ndarray, Q0: np.ndarray, max_iter: int) -> tuple[np.ndarray, int, bool, float]:
    """Stephens' (2000) KL relabelling of ``(S, N, K)`` classification probabilities, started from ``Q0``."""
    tiny = 1e-300
    perms = _assign(-np.einsum("sql,qk->skl", P, np.log(np.maximum(Q0, tiny))))
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        Qm = permute_classes(P, perms, axis=2).mean(axis=0)
        new = _assign(-np.einsum("sql,qk->skl", P, np.log(np.maximum(Qm, tiny))))
        if np.array_equal(new, perms):
            converged = True
            break
        perms = new
    Pp = permute_classes(P, perms, axis=2)
    Qm = Pp.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(Pp > 0, Pp * (np.log(np.maximum(Pp, tiny)) - np.log(np.maximum(Qm, tiny))[None]), 0.0)
    return perms, it, converged, float(kl.sum())


def _pivot_draw(posterior: Posterior, pivot: Any) -> int:
    S = posterior.chains * posterior.draws
    if pivot is None:
        if "loglik" in posterior:
            return int(np.nanargmax(posterior.flat("loglik").astype(float)))
        return 0
    if isinstance(pivot, int | np.integer) and not isinstance(pivot, bool):
        if not 0 <= int(pivot) < S:
            raise InferenceError(f"pivot={pivot}; a draw index must be in [0, {S}) (chain * draws + draw)")
        return int(pivot)
    return -1


def _fit_response_layout(fit: Any, posterior: Posterior) -> np.ndarray:
    """A fit's responses in the posterior's (trader, class, level) layout (NaN where unused)."""
    import pandas as pd

    levels = list(posterior.coords["level"])
    J, K = len(fit.response), fit.n_classes
    out = np.full((J, K, len(levels)), np.nan)
    index = pd.Index(levels)
    for j, r in enumerate(fit.response):
        lv = [str(v) for v in fit.response_levels(j)]
        pos = index.get_indexer(lv)
        if (pos < 0).any() or len(pos) != r.shape[1]:
            raise InferenceError(f"trader {j}'s levels {lv} of the pivot fit are not levels of the posterior "
                                 f"{levels}; the pivot must be a fit of the same book")
        out[j][:, pos] = r
    return out


def fix_gauge(fit_or_idata: Any, *, method: str = "stephens", pivot: Any = None, max_iter: int = 100) -> GaugeFixing:
    """Relabel the posterior draws of a latent class model so that all chains share one labelling.

    ``"stephens"`` (Stephens 2000, Algorithm 2, on the per-question class probabilities
    ``P_s[q, k]`` of each draw ``s``): start from each draw's best match to a pivot, then
    repeat until no permutation changes: ``Q = mean over draws of the permuted P_s``; for each
    draw the permutation that minimises ``sum_q KL(P_s[q]∘perm ‖ Q[q])``, found exactly by
    :func:`scipy.optimize.linear_sum_assignment`. This needs the posterior variable
    ``class_probability`` (chain, draw, question, class). ``"pivot"``: each draw's classes are
    matched to the pivot's by :func:`deepmarkets.models.relabel.align_draws` on the class
    blocks (class share and response probabilities, KL cost; trader means for forecasts,
    squared cost).

    Every posterior variable with a ``class`` dim is permuted per draw. The diagnostics are the
    largest rank-normalised split R-hat and the smallest bulk ESS (ArviZ) over the
    class-indexed parameters (``class_share``, ``response``, ``mean``), before and after.

    Parameters
    ----------
    fit_or_idata : LatentClassFit or xarray.DataTree
        A NUTS fit (from :func:`~deepmarkets.models.nuts.fit_nuts` or ``infer(..., method="nuts")``)
        or its ``idata``.
    method : {"stephens", "pivot"}, default "stephens"
    pivot : None, int, LatentClassFit or array, optional
        The labelling to keep: None, the draw with the highest ``loglik`` (else the first
        draw); an int, that draw (``chain * n_draws + draw``); a LatentClassFit of the same
        book (for example the EM fit); an array, ``(Q, K)`` class probabilities (stephens) or
        ``(K, D)`` class blocks (pivot).
    max_iter : int, default 100
        Stephens iterations at most.

    Returns
    -------
    GaugeFixing
        With ``fit`` (point estimates recomputed after fixing) when a fit was given.

    Raises
    ------
    InferenceError
        For input without posterior draws or classes, a missing ``class_probability``
        (stephens), or a pivot that does not match.

    Examples
    --------
    >>> import xarray as xr
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])            # 3 questions, 2 classes
    >>> draws = np.stack([p, p[:, ::-1]])[:, None].repeat(5, axis=1)   # chain 1 has its labels swapped
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
    ...     {"class_probability": (("chain", "draw", "question", "class"), draws)})})
    >>> fixed = fix_gauge(tree)
    >>> fixed.relabelled, fixed.chain_labellings
    (5, [(0, 1), (1, 0)])
    """
    started = time.perf_counter()
    if method not in _METHODS:
        raise DeclarationError(f"method={method!r}; expected one of {list(_METHODS)}")
    max_iter = whole_number(max_iter, "max_iter", 1)
    fit, tree = _posterior_of(fit_or_idata)
    post = _dataset(tree["posterior"])
    if "class" not in post.dims or "chain" not in post.dims or "draw" not in post.dims:
        raise InferenceError(f"the posterior has dims {dict(post.sizes)}; expected chain, draw and class")
    C, D, K = post.sizes["chain"], post.sizes["draw"], post.sizes["class"]
    S = C * D
    posterior = read_posterior(tree)
    from deepmarkets.models.fit import LatentClassFit

    objective = None
    if method == "stephens":
        if "class_probability" not in post.data_vars:
            raise InferenceError("the posterior has no class_probability (chain, draw, question, class); Stephens' "
                                 "relabelling needs it; use method='pivot'")
        P = posterior.flat("class_probability").astype(np.float64)
        if not np.isfinite(P).all():
            raise InferenceError("class_probability holds NaN or infinite values")
        s0 = _pivot_draw(posterior, pivot)
        if s0 >= 0:
            Q0 = P[s0]
        elif isinstance(pivot, LatentClassFit):
            Q0 = np.asarray(pivot.posterior, dtype=np.float64)
        else:
            Q0 = np.asarray(pivot, dtype=np.float64)
        if Q0.shape != P.shape[1:]:
            raise InferenceError(f"the pivot's class probabilities have shape {Q0.shape}; expected {P.shape[1:]} "
                                 f"(questions, classes)")
        perms, iterations, converged, objective = _stephens(P, Q0, max_iter)
        description = ("Stephens (2000) KL relabelling of the per-question class probabilities, started from "
                       + ("the highest-loglik draw" if pivot is None and "loglik" in post.data_vars else
                          "the given pivot" if pivot is not None else "the first draw"))
    else:
        blocks, used = _class_parameters(posterior)
        probabilities = "mean" not in used
        cost = "kl" if probabilities else "squared"
        s0 = _pivot_draw(posterior, pivot)
        if s0 >= 0:
            piv = blocks[s0]
        elif isinstance(pivot, LatentClassFit):
            parts = []
            if "class_share" in used:
                parts.append(np.asarray(pivot.class_shares, dtype=float)[:, None])
            if "response" in used:
                parts.append(np.moveaxis(_fit_response_layout(pivot, posterior), 1, 0).reshape(K, -1))
            if "mean" in used:
                parts.append(np.asarray(pivot.mean, dtype=float).T)
            full = np.concatenate(parts, axis=1)
            piv = full[:, np.isfinite(full).all(axis=0)]
        else:
            piv = np.asarray(pivot, dtype=np.float64)
        if piv.shape != blocks.shape[1:]:
            raise InferenceError(f"the pivot blocks have shape {piv.shape}; expected {blocks.shape[1:]} "
                                 f"(classes, parameters of {used})")
        perms, _ = align_draws(blocks, piv, cost=cost)
        iterations, converged = 1, True
        description = (f"each draw aligned to a pivot by minimum-{cost.upper() if cost == 'kl' else 'squared'} "
                       f"permutation of its class blocks ({', '.join(used)})")

    # apply the permutations to every class-indexed variable
    import xarray as xr

    new_vars = {}
    for name, da in post.data_vars.items():
        if "class" in da.dims and "chain" in da.dims and "draw" in da.dims:
            dims = ("chain", "draw", *[d for d in da.dims if d not in ("chain", "draw")])
            arr, axis = _flat(da, S)
            out = permute_classes(arr, perms, axis=axis).reshape(C, D, *arr.shape[1:])
            new_vars[name] = xr.DataArray(out, dims=dims, coords=da.transpose(*dims).coords, attrs=da.attrs)
        else:
            new_vars[name] = da
    attrs = dict(post.attrs)
    attrs["gauge_fixing"] = description
    fixed_post = xr.Dataset(new_vars, coords=post.coords, attrs=attrs)
    groups = {}
    for name, child in tree.children.items():
        groups[name] = _dataset(child)
    groups["posterior"] = fixed_post
    stats = groups.get("sample_stats")
    perm_da = xr.DataArray(perms.reshape(C, D, K), dims=("chain", "draw", "class"),
                           coords={"chain": post["chain"].values, "draw": post["draw"].values,
                                   "class": post["class"].values},
                           attrs={"meaning": "class k after gauge fixing is class gauge_permutation[k] of the input"})
    groups["sample_stats"] = (stats.assign(gauge_permutation=perm_da) if stats is not None
                              else xr.Dataset({"gauge_permutation": perm_da}))
    new_tree = xr.DataTree.from_dict(groups)

    before = _diagnostics(posterior)
    fixed = read_posterior(new_tree)
    after = _diagnostics(fixed)
    ident = np.arange(K)
    moved = (perms != ident).any(axis=1)
    chain_perms = []
    for c in range(C):
        rows = perms.reshape(C, D, K)[c]
        uniq, counts = np.unique(rows, axis=0, return_counts=True)
        chain_perms.append(tuple(int(v) for v in uniq[int(np.argmax(counts))]))
    result = GaugeFixing(method=method, description=description, idata=new_tree, permutations=perms.reshape(C, D, K),
                         relabelled=int(moved.sum()), chain_labellings=chain_perms, iterations=int(iterations),
                         converged=bool(converged), objective=objective, before=before, after=after,
                         seconds=0.0, source=tree)
    if fit is not None:
        result.fit = _refit(fit, fixed, after, result)
    result.seconds = time.perf_counter() - started
    return result


def _refit(fit: Any, posterior: Posterior, after: Diagnostics, fixing: GaugeFixing) -> Any:
    """The fit with point estimates and diagnostics recomputed from the relabelled draws."""
    from deepmarkets.models.em import log_likelihood

    shares = posterior.mean("class_share") if "class_share" in posterior else fit.class_shares
    class_probability = posterior.mean("class_probability") if "class_probability" in posterior else fit.posterior
    response, mean = fit.response, fit.mean
    if "response" in posterior and fit.model != "forecast":
        import pandas as pd

        resp = posterior.mean("response")
        index = pd.Index(list(posterior.coords["level"]))
        new = []
        for j, r in enumerate(fit.response):
            pos = index.get_indexer([str(v) for v in fit.response_levels(j)])
            new.append(resp[j][:, pos].copy() if len(pos) == r.shape[1] and (pos >= 0).all() else r)
        response = tuple(new)
    if "mean" in posterior and fit.model == "forecast":
        mean = posterior.mean("mean")
    try:
        if fit.model == "forecast":
            loglik, _ = log_likelihood(fit.reports, model="forecast", class_shares=shares, mean=mean, sigma=fit.sigma)
        else:
            loglik, _ = log_likelihood(fit.reports, model=fit.model, class_shares=shares, response=response)
    except (InferenceError, ValueError):
        loglik = float("nan")
    base = Diagnostics.from_mapping(fit.diagnostics or {})
    # relabelling moves no draw: the run's divergences are the fit's where the posterior does not record them
    diag = replace(after, divergences=after.divergences or base.divergences, extra=base.extra).with_extra(
        gauge_fixing=fixing.description, gauge_fixing_relabelled_draws=fixing.relabelled)
    return replace(fit, class_shares=np.asarray(shares, dtype=float),
                   posterior=np.asarray(class_probability, dtype=float), response=response, mean=mean,
                   loglik=float(loglik), idata=fixing.idata, diagnostics=diag, converged=diag.passes,
                   n_iter=int(posterior.draws))


@styled
def plot_gauge_fixing(fixing: GaugeFixing, *, variable: str = "class_share", max_draws: int = 500, ax: Any = None):
    """Trace plots of a class-indexed variable before and after gauge fixing (one panel per class).

    Parameters
    ----------
    fixing : GaugeFixing
    variable : str, default "class_share"
        A posterior variable with dims (chain, draw, class); for others, the first entry along
        the extra dims is shown.
    max_draws : int, default 500
        Draws per chain shown (thinned evenly).
    ax : sequence of matplotlib.axes.Axes, optional
        ``2 * K`` Axes of one figure for K classes (row-major: the K panels before, then the K
        after); a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (before, after), one column per class, one line per chain; the figure of ``ax``
        when given.
    """
    if not isinstance(fixing, GaugeFixing):
        raise DeclarationError(f"expected a GaugeFixing from fix_gauge, got {type(fixing).__name__}")
    before = _dataset(fixing.source["posterior"])
    after = _dataset(fixing.idata["posterior"])
    if variable not in after.data_vars or "class" not in after[variable].dims:
        names = [n for n, v in after.data_vars.items() if "class" in v.dims]
        raise DeclarationError(f"variable={variable!r}; expected one of the class-indexed variables {names}")

    def values(ds):
        da = ds[variable]
        extra = [d for d in da.dims if d not in ("chain", "draw", "class")]
        if extra:
            da = da.isel({d: 0 for d in extra})
        return da.transpose("chain", "draw", "class").values

    vb, va = values(before), values(after)
    C, D, K = va.shape
    step = max(1, D // max(1, int(max_draws)))
    fig, axes = figure_and_axes(ax, shape=(2, K), figsize=(3.2 * K, 5.2), sharex=True, sharey=True)
    for row, (vals, title) in enumerate(((vb, "before"), (va, "after"))):
        for k in range(K):
            panel = axes[row * K + k]
            for c in range(C):
                panel.plot(np.arange(0, D, step), vals[c, ::step, k], lw=0.7, label=f"chain {c}")
            panel.set_title(f"{title}: class {after['class'].values[k]}")
            panel.set_xlabel("draw")
            panel.set_ylabel(variable)
    axes[0].legend(loc="best")
    fig.suptitle(f"gauge fixing ({fixing.method}): R-hat {fixing.before.max_rhat or float('nan'):.3f} → "
                 f"{fixing.after.max_rhat or float('nan'):.3f}")
    return fig

