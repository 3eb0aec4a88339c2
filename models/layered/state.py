"""The state of a layered latent market: a two-layer Gaussian latent model and its exact density.

The bottom layer has ``K`` *location* states ``a`` with probabilities ``w_a`` and means
``μ_a``. Covariances ("shapes") live either on the location states themselves (one layer) or
on a coarse layer of ``G`` *shape* states ``g`` above them: every location state has one
parent ``g(a)`` and uses its covariance ``Σ_g``. The coarse layer is a hierarchy: its states
are groups of location states that share a shape, its prices are ``P(g) = Σ_{a: g(a)=g} w_a``
and ``P(a | g) = w_a / P(g)``. The implied density of an observation ``x`` is exact,

.. math::

    q_θ(x) = \\sum_g P(g) \\sum_{a: g(a) = g} P(a \\mid g)\\, N(x; μ_a, Σ_g)
           = \\sum_a w_a N(x; μ_a, Σ_{g(a)}),

computed in log space (log-sum-exp over paths). Covariances are diagonal (``"diag"``), full
(``"full"``) or factor-analytic (``"factor"``: ``Σ_g = Λ_g Λ_gᵀ + diag(ψ_g)`` with ``q`` factors,
as in mixtures of factor analysers and deep Gaussian mixtures; rotating ``Λ_g`` by any
orthogonal ``q × q`` matrix, :meth:`LayeredState.rotated`, leaves ``q`` unchanged).

Structural operations that leave ``q`` unchanged (gauge transformations and entries):
:meth:`LayeredState.permuted` (relabel location states), :meth:`LayeredState.regrouped`
(relabel shape states), :meth:`LayeredState.split_copy` (a location state becomes two copies
with half the weight each), :meth:`LayeredState.with_layer` (insert the coarse layer as an
identity map) and :meth:`LayeredState.without_layer` (remove it by giving every location state
a copy of its group's shape).

Examples
--------
>>> s = LayeredState.from_arrays([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], emission="diag")
>>> round(float(s.log_q([[0.0]])[0]), 6)           # log N(0; ±1, 1)
-1.418939
>>> bool(np.allclose(s.with_layer().log_q([[0.3]]), s.log_q([[0.3]]), rtol=0, atol=1e-15))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import logsumexp

from deepmarkets.errors import DeclarationError

__all__ = ["EMISSIONS", "LayeredState", "log_gaussian"]

#: Covariance families of the Gaussian emissions.
EMISSIONS = ("diag", "full", "factor")
_LOG_2PI = float(np.log(2.0 * np.pi))




def covariances(shapes: np.ndarray, emission: str) -> np.ndarray:
    """Covariance matrices ``(G, d, d)`` of shape parameters: variances (diag), matrices (full), or loadings
    and uniquenesses packed as ``(G, d, q + 1)`` (factor: ``Λ = [..., :q]``, ``ψ = [..., q]``)."""
    if emission == "diag":
        return np.einsum("gd,de->gde", shapes, np.eye(shapes.shape[1]))
    if emission == "full":
        return shapes
    lam, psi = shapes[..., :-1], shapes[..., -1]
    return lam @ np.swapaxes(lam, 1, 2) + np.einsum("gd,de->gde", psi, np.eye(shapes.shape[1]))


def log_gaussian(x: np.ndarray, means: np.ndarray, shapes: np.ndarray, shape_of: np.ndarray,
                 emission: str) -> np.ndarray:
    """``log N(x_i; μ_a, Σ_{g(a)})`` for every row ``i`` and location state ``a``, shape ``(n, K)``.

    Raises :class:`numpy.linalg.LinAlgError` when a covariance is not positive definite.
    """
    n, d = x.shape
    out = np.empty((n, len(means)))
    if emission == "diag":
        var = shapes[shape_of]                                          # (K, d)
        prec = 1.0 / var
        # sum_j (x_j - mu_j)^2 / v_j as x^2·p - 2 x·(mu p) + mu^2·p, one matrix product each
        quad = (x * x) @ prec.T - 2.0 * x @ (means * prec).T + np.sum(means * means * prec, axis=1)
        return -0.5 * (quad + np.sum(np.log(var), axis=1) + d * _LOG_2PI)
    chol = np.linalg.cholesky(covariances(shapes, emission))            # (G, d, d)
    logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    for a in range(len(means)):
        g = shape_of[a]
        z = np.linalg.solve(chol[g], (x - means[a]).T)
        out[:, a] = -0.5 * (np.sum(z * z, axis=0) + logdet[g] + d * _LOG_2PI)
    return out


@dataclass(frozen=True, eq=False)
class LayeredState:
    """Parameters and structure of a layered Gaussian latent model (see the module docstring).

    Attributes
    ----------
    emission : {"diag", "full"}
    weights : (K,) array
        ``w_a``, the probabilities of the location states; they sum to 1.
    means : (K, d) array
    shapes : (G, d), (G, d, d) or (G, d, q + 1) array
        Variances (diag), covariance matrices (full), or loadings and uniquenesses (factor) of the
        shape states; :func:`covariances` gives the matrices.
    shape_of : (K,) int array
        The shape state of each location state; ``arange(K)`` without a coarse layer.
    layered : bool
        Whether the coarse layer exists (otherwise shape ``a`` belongs to location state ``a``).
    ids, shape_ids : tuple of str
        Stable names of the location and shape states, kept through relabellings and splits.
    """

    emission: str
    weights: np.ndarray
    means: np.ndarray
    shapes: np.ndarray
    shape_of: np.ndarray
    layered: bool = False
    ids: tuple[str, ...] = ()
    shape_ids: tuple[str, ...] = ()
    next_id: int = field(default=0)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, weights: Any, means: Any, shapes: Any, *, emission: str = "diag",
                    shape_of: Any = None) -> LayeredState:
        """A state from plain arrays; ``shape_of`` given means a coarse layer of ``len(shapes)`` groups."""
        if emission not in EMISSIONS:
            raise DeclarationError(f"emission={emission!r}; expected one of {EMISSIONS}")
        w = np.array(weights, dtype=np.float64)
        mu = np.array(means, dtype=np.float64)
        sh = np.array(shapes, dtype=np.float64)
        if mu.ndim != 2 or w.shape != (len(mu),):
            raise DeclarationError(f"weights {w.shape} and means {mu.shape} do not fit: expected (K,) and (K, d)")
        layered = shape_of is not None
        so = np.arange(len(mu)) if shape_of is None else np.array(shape_of, dtype=np.int64)
        k = len(mu)
        state = cls(emission, w, mu, sh, so, layered, tuple(f"s{i + 1}" for i in range(k)),
                    tuple(f"g{i + 1}" for i in range(len(sh))), max(k, len(sh)))
        state.validate()
        return state

    def validate(self) -> LayeredState:
        """Raise :class:`DeclarationError` unless the state is a proper density; return it."""
        k, d = self.means.shape
        if self.emission == "diag":
            expect = (len(self.shapes), d)
        elif self.emission == "full":
            expect = (len(self.shapes), d, d)
        else:
            expect = (len(self.shapes), d, self.shapes.shape[2] if self.shapes.ndim == 3 else 2)
            if not 2 <= expect[2] <= d:
                raise DeclarationError(f"a factor state packs q loadings and the uniquenesses as (G, d, q + 1) with "
                                       f"1 <= q < d, got shapes of shape {self.shapes.shape}")
        if self.shapes.shape != expect:
            raise DeclarationError(f"shapes have shape {self.shapes.shape}; a {self.emission} state with "
                                   f"{len(self.shapes)} shape states in {d} dimensions needs {expect}")
        if self.shape_of.shape != (k,) or (k and (self.shape_of.min() < 0 or self.shape_of.max() >= len(self.shapes))):
            raise DeclarationError(f"shape_of={self.shape_of.tolist()} must give each of the {k} location states "
                                   f"a shape state in 0..{len(self.shapes) - 1}")
        if k and len(np.unique(self.shape_of)) != len(self.shapes):
            raise DeclarationError("every shape state needs at least one location state (remove unused shapes)")
        for name, arr in (("weights", self.weights), ("means", self.means), ("shapes", self.shapes)):
            if not np.all(np.isfinite(arr)):
                raise DeclarationError(f"{name} contain NaN or infinite values")
        if k == 0 or np.any(self.weights <= 0) or abs(self.weights.sum() - 1.0) > 1e-9:
            raise DeclarationError(f"weights must be positive and sum to 1, got {self.weights.tolist()}")
        if self.emission == "diag" or self.emission == "factor":
            if np.any((self.shapes if self.emission == "diag" else self.shapes[..., -1]) <= 0):
                raise DeclarationError("variances (uniquenesses) must be positive")
        elif not np.allclose(self.shapes, np.swapaxes(self.shapes, 1, 2), rtol=1e-10, atol=1e-12):
            raise DeclarationError("covariance matrices must be symmetric")
        try:
            np.linalg.cholesky(covariances(self.shapes, self.emission))
        except np.linalg.LinAlgError:
            raise DeclarationError("a covariance matrix is not positive definite (singular)") from None
        return self

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        """``K``, the number of location states."""
        return len(self.means)

    @property
    def n_shapes(self) -> int:
        """``G``, the number of shape states (``K`` without a coarse layer)."""
        return len(self.shapes)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def factors(self) -> int:
        """``q``, the number of factors of a factor state (0 otherwise)."""
        return self.shapes.shape[2] - 1 if self.emission == "factor" else 0

    @property
    def shape_size(self) -> int:
        """Free parameters of one shape: ``d`` (diag), ``d(d+1)/2`` (full), ``dq + d - q(q-1)/2`` (factor)."""
        d, q = self.dim, self.factors
        return {"diag": d, "full": d * (d + 1) // 2, "factor": d * q + d - q * (q - 1) // 2}[self.emission]

    def covariances(self) -> np.ndarray:
        """The covariance matrix of every shape state, ``(G, d, d)``."""
        return covariances(self.shapes, self.emission)

    @property
    def n_parameters(self) -> int:
        """Free continuous parameters: ``(K - 1) + K d + G s`` (the layer's grouping is discrete)."""
        return self.n_states - 1 + self.n_states * self.dim + self.n_shapes * self.shape_size

    # ------------------------------------------------------------------ densities
    def log_joint(self, x: Any) -> np.ndarray:
        """``log w_a + log N(x_i; μ_a, Σ_{g(a)})``, shape ``(n, K)``."""
        x = np.asarray(x, dtype=np.float64)
        return np.log(self.weights) + log_gaussian(x, self.means, self.shapes, self.shape_of, self.emission)

    def log_q(self, x: Any) -> np.ndarray:
        """``log q_θ(x_i)`` for every row, exact (log-sum-exp over the paths)."""
        return logsumexp(self.log_joint(x), axis=-1)

    def responsibilities(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Posterior ``P(a | x_i)`` of the location states, shape ``(n, K)``, and ``log q_θ(x_i)``."""
        lj = self.log_joint(x)
        lq = logsumexp(lj, axis=-1)
        return np.exp(lj - lq[:, None]), lq

    def shape_posterior(self, resp: np.ndarray) -> np.ndarray:
        """``P(g | x_i)`` from location-state responsibilities: children summed, shape ``(n, G)``."""
        out = np.zeros((len(resp), self.n_shapes))
        np.add.at(out.T, self.shape_of, resp.T)
        return out

    # ------------------------------------------------------------------ moves that keep q
    def permuted(self, order: Sequence[int]) -> LayeredState:
        """The location states in a new order (a gauge transformation)."""
        o = np.asarray(order, dtype=np.int64)
        if sorted(o.tolist()) != list(range(self.n_states)):
            raise DeclarationError(f"order={o.tolist()} is not a permutation of 0..{self.n_states - 1}")
        return replace(self, weights=self.weights[o], means=self.means[o], shape_of=self.shape_of[o],
                       ids=tuple(self.ids[i] for i in o))

    def regrouped(self, order: Sequence[int]) -> LayeredState:
        """The shape states in a new order, children following (a gauge transformation)."""
        o = np.asarray(order, dtype=np.int64)
        if sorted(o.tolist()) != list(range(self.n_shapes)):
            raise DeclarationError(f"order={o.tolist()} is not a permutation of 0..{self.n_shapes - 1}")
        inverse = np.argsort(o)
        return replace(self, shapes=self.shapes[o], shape_of=inverse[self.shape_of],
                       shape_ids=tuple(self.shape_ids[i] for i in o))

    def split_copy(self, a: int) -> LayeredState:
        """Location state ``a`` becomes two identical copies with half its weight (``q`` unchanged).

        The copy is appended last, shares ``a``'s shape state, and gets a new id. Without a coarse
        layer the copy also gets a copy of the shape.
        """
        w = self.weights.copy()
        w[a] /= 2.0
        new_id = f"s{self.next_id + 1}"
        if self.layered:
            return replace(self, weights=np.append(w, w[a]), means=np.vstack([self.means, self.means[a]]),
                           shape_of=np.append(self.shape_of, self.shape_of[a]), ids=self.ids + (new_id,),
                           next_id=self.next_id + 1)
        return replace(self, weights=np.append(w, w[a]), means=np.vstack([self.means, self.means[a]]),
                       shapes=np.concatenate([self.shapes, self.shapes[self.shape_of[a]][None]]),
                       shape_of=np.append(self.shape_of, self.n_shapes), ids=self.ids + (new_id,),
                       shape_ids=self.shape_ids + (f"g{self.next_id + 1}",), next_id=self.next_id + 1)

    def with_layer(self) -> LayeredState:
        """Insert the coarse layer as an identity map: one shape state per location state (``q`` unchanged)."""
        if self.layered:
            raise DeclarationError("the state already has a coarse layer")
        return replace(self, layered=True)

    def without_layer(self) -> LayeredState:
        """Remove the coarse layer: each location state gets a copy of its group's shape (``q`` unchanged)."""
        if not self.layered:
            raise DeclarationError("the state has no coarse layer to remove")
        k = self.n_states
        ids = tuple(self.shape_ids[g] if list(self.shape_of).count(g) == 1 else f"g{self.next_id + 1 + a}"
                    for a, g in enumerate(self.shape_of))
        return replace(self, shapes=self.shapes[self.shape_of].copy(), shape_of=np.arange(k), layered=False,
                       shape_ids=ids, next_id=self.next_id + k)

    def rotated(self, g: int, rotation: Any) -> LayeredState:
        """Shape state ``g``'s loadings times an orthogonal ``q × q`` matrix (a gauge transformation)."""
        r = np.asarray(rotation, dtype=np.float64)
        q = self.factors
        if self.emission != "factor" or r.shape != (q, q) or not np.allclose(r @ r.T, np.eye(q), atol=1e-12):
            raise DeclarationError(f"rotating loadings needs a factor state and an orthogonal {q} x {q} matrix")
        shapes = self.shapes.copy()
        shapes[g, :, :q] = shapes[g, :, :q] @ r
        return replace(self, shapes=shapes)

    # ------------------------------------------------------------------ moves that change q
    def without_state(self, a: int) -> LayeredState:
        """Location state ``a`` removed, the others' weights renormalised; an emptied shape state goes too."""
        if self.n_states == 1:
            raise DeclarationError("cannot remove the only location state")
        keep = np.delete(np.arange(self.n_states), a)
        w = self.weights[keep] / self.weights[keep].sum()
        so = self.shape_of[keep]
        used = np.unique(so)
        remap = np.full(self.n_shapes, -1)
        remap[used] = np.arange(len(used))
        return replace(self, weights=w, means=self.means[keep], shapes=self.shapes[used], shape_of=remap[so],
                       ids=tuple(self.ids[i] for i in keep), shape_ids=tuple(self.shape_ids[g] for g in used))

    def merged(self, a: int, b: int) -> LayeredState:
        """Location state ``b`` merged into ``a``: ``a`` takes ``b``'s weight and ``b`` goes."""
        if a == b:
            raise DeclarationError("merging needs two different location states")
        w = self.weights.copy()
        w[a] += w[b]
        return replace(self, weights=w).without_state(b)

    def joined(self, g: int, into: int) -> LayeredState:
        """Shape state ``g``'s children move to shape state ``into`` (they share its shape); ``g`` goes."""
        if not self.layered or g == into:
            raise DeclarationError("joining shape states needs a coarse layer and two different shape states")
        so = np.where(self.shape_of == g, into, self.shape_of)
        keep = np.delete(np.arange(self.n_shapes), g)
        remap = np.full(self.n_shapes, -1)
        remap[keep] = np.arange(len(keep))
        return replace(self, shapes=self.shapes[keep], shape_of=remap[so],
                       shape_ids=tuple(self.shape_ids[i] for i in keep))

    def with_arrays(self, **arrays: np.ndarray) -> LayeredState:
        """The same structure with new parameter arrays (``weights``, ``means``, ``shapes``)."""
        return replace(self, **arrays)

    # ------------------------------------------------------------------ description
    def children(self) -> dict[str, list[str]]:
        """Each shape state's id and the ids of its location states."""
        return {self.shape_ids[g]: [self.ids[a] for a in np.flatnonzero(self.shape_of == g)]
                for g in range(self.n_shapes)}

    def to_dict(self) -> dict[str, Any]:
        return {"emission": self.emission, "factors": self.factors, "layered": self.layered, "ids": list(self.ids),
                "shape_ids": list(self.shape_ids), "weights": self.weights.tolist(), "means": self.means.tolist(),
                "shapes": self.shapes.tolist(), "shape_of": self.shape_of.tolist(),
                "n_parameters": self.n_parameters}

    def __repr__(self) -> str:
        layer = f", {self.n_shapes} shape states above" if self.layered else ""
        return f"LayeredState({self.emission}, {self.n_states} location states{layer}, d={self.dim})"
