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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError

__all__ = ["align_draws", "assignment_costs", "permute_classes", "COSTS"]

#: The cost functions between class blocks.
COSTS: dict[str, str] = {
    "kl": "generalised Kullback-Leibler divergence sum p log(p/q) - p + q of the pivot block p from the draw block q",
    "squared": "squared Euclidean distance between the blocks",
}

_TINY = 1e-300


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
    from scipy.optimize import linear_sum_assignment

    draws, _ = _as_blocks(draws_by_class, pivot)
    costs = assignment_costs(draws, pivot, cost=cost)
    S, K = costs.shape[:2]
    perms = np.empty((S, K), dtype=np.int64)
    # a huge but finite stand-in for infinite costs keeps the assignment well defined
    costs = np.nan_to_num(costs, nan=np.inf, posinf=1e300)
    for s in range(S):
        _, cols = linear_sum_assignment(costs[s])
        perms[s] = cols
    return perms, permute_classes(draws, perms, axis=1)


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
