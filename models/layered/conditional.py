"""A conditional density q_θ(y | x) for scalar ``x`` and ``y``: a mixture of Gaussian experts with softmax gating.

State ``k`` has gating weight ``π_k(x) = softmax_k(v_k + W_k·φ(x))`` over features ``φ(x)`` (a Chebyshev
or Gaussian-bump basis of ``x``) and a Gaussian expert ``y | x, k ~ N(a_k + B_k·φ(x), σ_k²)``; a
heteroscedastic expert has a scale that varies with ``x`` too, ``log σ_k(x) = c_k + D_k·φ(x)``. The density
is exact,

.. math::

    \\log q_θ(y \\mid x) = \\log \\sum_k π_k(x)\\, N(y; a_k + B_k φ(x), σ_k(x)^2),

computed by log-sum-exp. :func:`em_step` is one generalised EM step that never lowers the in-sample
log-likelihood; :func:`bishop_inverse` draws Bishop's (1994) inverse problem, whose conditional
density has up to three branches.

Examples
--------
>>> x, y = bishop_inverse(300, rng=0)
>>> s = init_conditional(x, y, 3, rng=0)
>>> later = fit_conditional(s, x, y, steps=20)
>>> bool(later.log_q(x, y).mean() > s.log_q(x, y).mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import positive_float, whole_number

__all__ = ["FEATURE_KINDS", "FeatureMap", "ConditionalState", "conditional_data", "init_conditional", "em_step",
           "fit_conditional", "bishop_inverse"]

#: Feature bases of the gating and the experts' means.
FEATURE_KINDS = ("chebyshev", "rbf")
_LOG_2PI = float(np.log(2.0 * np.pi))




def conditional_data(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as two finite float vectors of one length, or :class:`DeclarationError` saying why not.

    Examples
    --------
    >>> conditional_data([0.0, 1.0], [1.0, 2.0])[1]
    array([1., 2.])
    >>> conditional_data([0.0, 1.0], [1.0])
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: x has 2 values and y has 1; expected one y for each x (pairs of rows)
    """
    out = []
    for name, v in (("x", x), ("y", y)):
        try:
            a = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise DeclarationError(f"{name}={v!r}; expected a vector of numbers") from None
        if a.ndim != 1 or a.size == 0:
            raise DeclarationError(f"{name} has shape {a.shape}; expected a non-empty vector of scalars")
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise DeclarationError(f"{name}[{bad[0]}]={float(a[bad[0]])} ({bad.size} non-finite values); expected "
                                   f"finite numbers: drop or impute the rows with NaN or inf first")
        out.append(a)
    if len(out[0]) != len(out[1]):
        raise DeclarationError(f"x has {len(out[0])} values and y has {len(out[1])}; expected one y for each x "
                               f"(pairs of rows)")
    return out[0], out[1]


@dataclass(frozen=True)
class FeatureMap:
    """The basis ``φ(x)`` of ``size`` functions on ``[low, high]``.

    ``"chebyshev"``: ``T_1(z), ..., T_size(z)`` with ``z`` the affine map of ``[low, high]`` onto ``[-1, 1]``;
    ``"rbf"``: Gaussian bumps centred on ``size`` evenly spaced points of ``[low, high]``, width their spacing.
    The constant is not part of the basis (the intercepts ``a_k`` and ``v_k`` hold it). Outside ``[low, high]``
    the features keep their values at the nearer end, so the density there is that of the edge of the data rather
    than an extrapolated polynomial or a decayed bump.

    Examples
    --------
    >>> FeatureMap("chebyshev", 2, -1.0, 1.0)(np.array([0.5]))
    array([[ 0.5, -0.5]])
    """

    kind: str
    size: int
    low: float
    high: float

    def __post_init__(self):
        if self.kind not in FEATURE_KINDS:
            raise DeclarationError(f"features={self.kind!r}; expected one of {FEATURE_KINDS}")
        whole_number(self.size, "size", 1, hint="the number of basis functions, e.g. size=8")
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise DeclarationError(f"feature range [{self.low}, {self.high}]; expected finite low < high "
                                   f"(x needs at least two distinct values)")

    @classmethod
    def spanning(cls, x: np.ndarray, kind: str = "rbf", size: int = 8) -> FeatureMap:
        """The basis over the range of ``x``."""
        lo, hi = float(np.min(x)), float(np.max(x))
        if hi <= lo:
            raise DeclarationError(f"x takes the single value {lo}; expected at least two distinct values of x")
        return cls(kind, size, lo, hi)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``φ(x)``, shape ``(n, size)``."""
        x = np.clip(x, self.low, self.high)
        if self.kind == "chebyshev":
            z = 2.0 * (x - self.low) / (self.high - self.low) - 1.0
            return np.polynomial.chebyshev.chebvander(z, self.size)[:, 1:]
        centres = np.linspace(self.low, self.high, self.size)
        width = (self.high - self.low) / max(self.size - 1, 1)
        return np.exp(-0.5 * ((x[:, None] - centres) / width) ** 2)

    def design(self, x: np.ndarray) -> np.ndarray:
        """``[1, φ(x)]``, shape ``(n, size + 1)``."""
        return np.column_stack([np.ones(len(x)), self(x)])


@dataclass(frozen=True, eq=False)
class ConditionalState:
    """Parameters of the mixture of experts (see the module docstring); arrays are read-only.

    Attributes
    ----------
    gate : (K, p + 1) array
        Gating coefficients ``[v_k, W_k]``; the logits of ``x`` are ``[1, φ(x)] @ gate.T``.
    expert : (K, p + 1) array
        Expert coefficients ``[a_k, B_k]``; the means are ``[1, φ(x)] @ expert.T``.
    log_sigma : (K,) or (K, p + 1) array
        ``log σ_k`` (constant scales), or the coefficients ``[c_k, D_k]`` of ``log σ_k(x) = [1, φ(x)] @ log_sigma.T``
        (heteroscedastic experts).
    features : FeatureMap
        The basis ``φ`` (``p = features.size``).
    """

    gate: np.ndarray
    expert: np.ndarray
    log_sigma: np.ndarray
    features: FeatureMap

    def __post_init__(self):
        for name in ("gate", "expert", "log_sigma"):
            a = np.array(getattr(self, name), dtype=np.float64)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def k(self) -> int:
        """The number of experts."""
        return len(self.log_sigma)

    @property
    def heteroscedastic(self) -> bool:
        """Whether the experts' scales vary with ``x``."""
        return self.log_sigma.ndim == 2

    @property
    def n_parameters(self) -> int:
        """Free parameters: gating ``(K - 1)(p + 1)`` (softmax ignores a shift common to all rows), experts
        ``K (p + 1)`` and the scales (``K``, or ``K (p + 1)`` when heteroscedastic)."""
        p1 = self.features.size + 1
        return (self.k - 1) * p1 + self.k * p1 + self.log_sigma.size

    def validate(self) -> ConditionalState:
        """Raise :class:`DeclarationError` unless the parameters define a proper density; return the state."""
        p1 = self.features.size + 1
        k = self.k
        fits = self.gate.shape == self.expert.shape == (k, p1) and self.log_sigma.shape[1:] in ((), (p1,))
        if k < 1 or not fits:
            raise DeclarationError(f"gate {self.gate.shape}, expert {self.expert.shape} and log_sigma "
                                   f"{self.log_sigma.shape} do not fit: expected ({k}, {p1}), ({k}, {p1}) and ({k},) "
                                   f"or ({k}, {p1}) for {k} experts on {self.features.size} features")
        for name in ("gate", "expert", "log_sigma"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise DeclarationError(f"{name} holds NaN or inf: {getattr(self, name).tolist()}; expected finite "
                                       f"values (reject the move that produced them)")
        sigma = np.exp(self.log_sigma)
        if not self.heteroscedastic and (not np.all(sigma > 0) or not np.all(np.isfinite(sigma))):
            raise DeclarationError(f"sigma={sigma.tolist()}; expected positive finite scales "
                                   f"(log_sigma={self.log_sigma.tolist()} over- or underflows)")
        return self

    def copy(self) -> ConditionalState:
        """An independent copy."""
        return ConditionalState(self.gate.copy(), self.expert.copy(), self.log_sigma.copy(), self.features)

    def permuted(self, order: Any) -> ConditionalState:
        """The same density with expert ``order[j]`` renamed ``j`` (a relabelling: ``log_q`` is unchanged).

        Examples
        --------
        >>> x, y = bishop_inverse(50, rng=1)
        >>> s = init_conditional(x, y, 3, rng=1)
        >>> float(np.max(np.abs(s.permuted([2, 0, 1]).log_q(x, y) - s.log_q(x, y)))) < 1e-12
        True
        """
        order = np.asarray(order)
        if order.shape != (self.k,) or sorted(order.tolist()) != list(range(self.k)):
            raise DeclarationError(f"order={order.tolist()}; expected a permutation of 0..{self.k - 1}")
        return ConditionalState(self.gate[order], self.expert[order], self.log_sigma[order], self.features)

    def mixture(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``log π_k(x_i)``, ``μ_k(x_i)`` and ``log σ_k(x_i)``, each of shape ``(n, K)``.

        Examples
        --------
        >>> from deepmarkets.models.layered.conditional import FeatureMap
        >>> fmap = FeatureMap("chebyshev", 1, 0.0, 1.0)
        >>> s = ConditionalState([[0.0, 0.0]] * 2, [[0.0, 1.0], [1.0, 0.0]], [0.0, 0.0], fmap)
        >>> s.mixture([1.0])[1]
        array([[1., 1.]])
        """
        x = conditional_data(x, x)[0]
        d = self.features.design(x)
        logits = d @ self.gate.T
        log_sigma = d @ self.log_sigma.T if self.heteroscedastic else np.broadcast_to(self.log_sigma, logits.shape)
        return logits - logsumexp(logits, axis=-1)[:, None], d @ self.expert.T, log_sigma

    def _joint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log π_k(x) + log N(y; μ_k(x), σ_k²)``, shape ``(n, K)``."""
        log_pi, mean, log_sigma = self.mixture(x)
        z = (y[:, None] - mean) * np.exp(-log_sigma)
        return log_pi - 0.5 * z * z - log_sigma - 0.5 * _LOG_2PI

    def log_q(self, x: Any, y: Any) -> np.ndarray:
        """``log q_θ(y_i | x_i)`` for every row, shape ``(n,)``.

        Examples
        --------
        >>> from deepmarkets.models.layered.conditional import FeatureMap
        >>> s = ConditionalState([[0.0, 0.0]], [[1.0, 0.0]], [0.0], FeatureMap("chebyshev", 1, 0.0, 1.0))
        >>> round(float(s.log_q([0.3], [1.0])[0]), 6)          # log N(1; 1, 1)
        -0.918939
        """
        x, y = conditional_data(x, y)
        return logsumexp(self._joint(x, y), axis=-1)

    def responsibilities(self, x: Any, y: Any) -> np.ndarray:
        """``P(k | x_i, y_i)``, shape ``(n, K)``; rows sum to 1."""
        x, y = conditional_data(x, y)
        j = self._joint(x, y)
        return np.exp(j - logsumexp(j, axis=-1)[:, None])


def init_conditional(x: Any, y: Any, k: int, *, features: str | FeatureMap = "rbf", size: int = 8,
                     heteroscedastic: bool = False, rng: int | np.random.Generator | None = None) -> ConditionalState:
    """A start for :func:`em_step`: expert ``j`` fitted to the ``j``-th of ``k`` equal-count slices of ``y``.

    Gating is uniform; each expert's mean is a least-squares fit on its slice (ridge ``1e-6``) and its
    scale the slice's residual spread (constant in ``x`` also when ``heteroscedastic``). Ties in ``y`` are broken
    at random by ``rng``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    k : int
        The number of experts, ``>= 1``.
    features : {"rbf", "chebyshev"} or FeatureMap
        The basis ``φ``; a name builds it over the range of ``x`` with ``size`` functions.
    size : int
        The number of basis functions when ``features`` is a name.
    heteroscedastic : bool
        Whether the experts' log scales are linear in ``φ(x)`` (otherwise constant).
    rng : int, Generator or None

    Examples
    --------
    >>> x, y = bishop_inverse(100, rng=0)
    >>> s = init_conditional(x, y, 3, features="chebyshev", size=4, rng=0)
    >>> s.expert.shape, s.n_parameters
    ((3, 5), 28)
    """
    x, y = conditional_data(x, y)
    k = whole_number(k, "k", 1, hint="the number of experts, e.g. k=3")
    if len(y) < k:
        raise DeclarationError(f"{len(y)} rows for k={k} experts; expected at least one row per expert")
    fmap = features if isinstance(features, FeatureMap) else FeatureMap.spanning(x, features, size)
    rng = as_rng(rng)
    shuffle = rng.permutation(len(y))
    rank = np.empty(len(y), dtype=np.int64)
    rank[shuffle[np.argsort(y[shuffle], kind="stable")]] = np.arange(len(y))
    slices = (rank * k) // len(y)
    d = fmap.design(x)
    expert = np.empty((k, d.shape[1]))
    log_sigma = np.empty(k)
    floor = _sigma_floor(y)
    for j in range(k):
        w = (slices == j).astype(np.float64)
        expert[j], log_sigma[j] = _weighted_gaussian_fit(d, y, w, 1e-6, floor)
    if heteroscedastic:
        log_sigma = np.column_stack([log_sigma, np.zeros((k, fmap.size))])
    return ConditionalState(np.zeros((k, d.shape[1])), expert, log_sigma, fmap).validate()


def _sigma_floor(y: np.ndarray) -> float:
    """The smallest scale an expert may take: a thousandth of the spread of ``y`` (1e-6 for constant ``y``)."""
    return max(1e-3 * float(np.std(y)), 1e-6)


def _weighted_gaussian_fit(d: np.ndarray, y: np.ndarray, w: np.ndarray, reg: float,
                           floor: float) -> tuple[np.ndarray, float]:
    """Weighted ridge least squares of ``y`` on ``d`` (the intercept unpenalised) and the log of the weighted
    residual scale, floored."""
    penalty = np.full(d.shape[1], reg)
    penalty[0] = 0.0
    dw = d * w[:, None]
    coef = np.linalg.solve(dw.T @ d + np.diag(penalty) + 1e-12 * np.eye(d.shape[1]), dw.T @ y)
    resid = y - d @ coef
    var = float(w @ (resid * resid)) / max(float(w.sum()), 1e-300)
    return coef, float(np.log(max(np.sqrt(var), floor)))


def _gaussian_q(d: np.ndarray, y: np.ndarray, w: np.ndarray, coef: np.ndarray, log_sigma: Any) -> float:
    """``Σ_i w_i log N(y_i; d_i·coef, σ_i²)``, an expert's part of the EM objective (``log σ_i = d_i·log_sigma``
    when ``log_sigma`` is a vector)."""
    ls = d @ log_sigma if np.ndim(log_sigma) else log_sigma
    z = (y - d @ coef) * np.exp(-ls)
    value = float(w @ (-0.5 * z * z - ls - 0.5 * _LOG_2PI))
    return value if np.isfinite(value) else -np.inf


def _scale_newton(d: np.ndarray, y: np.ndarray, w: np.ndarray, coef: np.ndarray, log_sigma: np.ndarray,
                  reg: float, floor: float) -> np.ndarray:
    """One damped Newton step on the coefficients of ``log σ(x)`` (the objective is concave in them) with a
    backtracking line search: never lowers the expert's part of the EM objective, and keeps ``σ(x_i)`` within
    ``[floor, 1e6 floor]`` on the rows (a scale shrinking onto a few rows would make the likelihood unbounded)."""
    e2 = (y - d @ coef) ** 2
    u = w * e2 * np.exp(-2.0 * (d @ log_sigma))
    grad = d.T @ (u - w)
    neg_h = (d * (2.0 * u)[:, None]).T @ d
    # Levenberg-Marquardt damping: directions the weighted rows barely determine take short steps
    neg_h += (reg + 1e-3 * np.trace(neg_h) / len(neg_h)) * np.eye(len(neg_h))
    step = np.linalg.solve(neg_h, grad)
    before = _gaussian_q(d, y, w, coef, log_sigma)
    t = 1.0
    low = np.log(floor)
    for _ in range(40):
        trial = log_sigma + t * step
        ls = d @ trial
        if ls.min() >= low and ls.max() <= low + np.log(1e6) and _gaussian_q(d, y, w, coef, trial) >= before:
            return trial
        t *= 0.5
    return log_sigma


def _expert_update(d: np.ndarray, y: np.ndarray, w: np.ndarray, coef: np.ndarray, log_sigma: Any, reg: float,
                   floor: float) -> tuple[np.ndarray, Any]:
    """An expert's M-step: the new mean and scale, each kept only where it does not lower the expert's part of
    the EM objective. Constant scale: weighted ridge least squares, then the residual scale (floored).
    Heteroscedastic: least squares weighted by ``w / σ(x)²``, then one Newton step on ``log σ(x)``."""
    if not np.ndim(log_sigma):
        new, ls = _weighted_gaussian_fit(d, y, w, reg, floor)
        if _gaussian_q(d, y, w, new, ls) >= _gaussian_q(d, y, w, coef, log_sigma):
            return new, ls
        return coef, log_sigma
    new, _ = _weighted_gaussian_fit(d, y, w * np.exp(-2.0 * (d @ log_sigma)), reg, floor)
    if _gaussian_q(d, y, w, new, log_sigma) >= _gaussian_q(d, y, w, coef, log_sigma):
        coef = new
    return coef, _scale_newton(d, y, w, coef, log_sigma, reg, floor)


def _gating_q(d: np.ndarray, r: np.ndarray, gate: np.ndarray) -> float:
    """``Σ_ik r_ik log π_k(x_i)``, the gating's part of the EM objective."""
    logits = d @ gate.T
    return float(np.sum(r * (logits - logsumexp(logits, axis=-1)[:, None])))


def _gating_newton(d: np.ndarray, r: np.ndarray, gate: np.ndarray, reg: float) -> np.ndarray:
    """One damped Newton step on the gating objective with a backtracking line search: never lowers it."""
    k, p1 = gate.shape
    logits = d @ gate.T
    pi = np.exp(logits - logsumexp(logits, axis=-1)[:, None])
    grad = ((r - pi).T @ d).ravel()                                   # (K * p1,), row-major as gate
    # -Hessian = Σ_i (diag π_i − π_i π_iᵀ) ⊗ d_i d_iᵀ, assembled block by block
    neg_h = np.empty((k, p1, k, p1))
    for a in range(k):
        for b in range(a, k):
            c = pi[:, a] * ((a == b) - pi[:, b])
            block = (d * c[:, None]).T @ d
            neg_h[a, :, b, :] = block
            neg_h[b, :, a, :] = block.T
    neg_h = neg_h.reshape(k * p1, k * p1) + (reg + 1e-9) * np.eye(k * p1)
    step = np.linalg.solve(neg_h, grad).reshape(k, p1)
    step -= step.mean(axis=0)                                         # the softmax shift is not a move
    before = _gating_q(d, r, gate)
    t = 1.0
    for _ in range(40):
        trial = gate + t * step
        if _gating_q(d, r, trial) >= before:
            return trial
        t *= 0.5
    return gate


def em_step(state: ConditionalState, x: Any, y: Any, *, reg: float = 1e-6, gate_steps: int = 1) -> ConditionalState:
    """One generalised EM step; the in-sample log-likelihood ``Σ_i log q(y_i | x_i)`` never decreases.

    E-step: responsibilities ``r_ik = P(k | x_i, y_i)``. M-step: each expert by weighted ridge least squares
    (``reg`` on the non-intercept coefficients) and the weighted residual scale (floored at a thousandth of the
    spread of ``y``; a heteroscedastic expert's mean weighted by ``1/σ_k(x)²`` and its ``log σ_k(x)`` by one damped
    Newton step, ``σ_k(x_i)`` kept at or above the floor); the gating by ``gate_steps`` damped Newton (IRLS) steps
    on ``Σ_ik r_ik log π_k(x_i)``. Each block's new value is kept only where it does not lower its part of the EM
    objective, so the step is a generalised EM step and cannot lower the likelihood.

    Parameters
    ----------
    state : ConditionalState
    x, y : array_like, shape (n,)
    reg : float
        Ridge on the experts' non-intercept coefficients and on the gating's Newton system, ``> 0``.
    gate_steps : int
        Newton steps for the gating, ``>= 0``.

    Examples
    --------
    >>> from deepmarkets.models.layered import bishop_inverse, conditional_em_step, init_conditional
    >>> x, y = bishop_inverse(200, rng=2)
    >>> s = init_conditional(x, y, 2, rng=2)
    >>> bool(conditional_em_step(s, x, y).log_q(x, y).sum() >= s.log_q(x, y).sum())
    True
    """
    x, y = conditional_data(x, y)
    reg = positive_float(reg, "reg", hint="a small ridge, e.g. reg=1e-6")
    gate_steps = whole_number(gate_steps, "gate_steps", 0)
    r = state.responsibilities(x, y)
    d = state.features.design(x)
    floor = _sigma_floor(y)
    expert = np.array(state.expert)
    log_sigma = np.array(state.log_sigma)
    for j in range(state.k):
        w = r[:, j]
        if w.sum() > 1e-12:
            expert[j], log_sigma[j] = _expert_update(d, y, w, expert[j], log_sigma[j], reg, floor)
    gate = np.array(state.gate)
    for _ in range(gate_steps):
        gate = _gating_newton(d, r, gate, reg)
    return ConditionalState(gate, expert, log_sigma, state.features).validate()


def fit_conditional(state: ConditionalState, x: Any, y: Any, *, steps: int = 200, tol: float = 0.0,
                    reg: float = 1e-6, gate_steps: int = 1) -> ConditionalState:
    """Up to ``steps`` :func:`em_step` calls, stopping early once the mean log-likelihood gains less than ``tol``.

    Examples
    --------
    >>> x, y = bishop_inverse(200, rng=3)
    >>> s = fit_conditional(init_conditional(x, y, 3, rng=3), x, y, steps=10)
    >>> s.k
    3
    """
    x, y = conditional_data(x, y)
    steps = whole_number(steps, "steps", 0)
    tol = float(tol)
    last = float(state.log_q(x, y).mean())
    for _ in range(steps):
        state = em_step(state, x, y, reg=reg, gate_steps=gate_steps)
        now = float(state.log_q(x, y).mean())
        if now - last < tol:
            break
        last = now
    return state


def bishop_inverse(n: int, rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bishop's (1994) inverse problem: ``t ~ U(0, 1)``, ``x = t + 0.3 sin(2πt) + U(-0.1, 0.1)``; predict ``y = t``.

    ``y`` given ``x`` has up to three branches (for ``x`` near 0.5), so a single-valued regression fails.

    Returns
    -------
    x, y : ndarray, shape (n,)

    Examples
    --------
    >>> x, y = bishop_inverse(4, rng=0)
    >>> x.shape, bool(np.all((0 <= y) & (y <= 1)))
    ((4,), True)
    """
    n = whole_number(n, "n", 1)
    rng = as_rng(rng)
    t = rng.uniform(0.0, 1.0, n)
    return t + 0.3 * np.sin(2.0 * np.pi * t) + rng.uniform(-0.1, 0.1, n), t
