"""A Mixture Density Network (Bishop 1994) for scalar ``x`` and ``y``, in numpy: the gradient-descent baseline of
the conditional mixture of :mod:`deepmarkets.models.layered.conditional`.

One hidden layer of ``tanh`` units maps the standardised ``x`` to, for each of ``K`` components, a mixing
logit, a mean and a log scale of the standardised ``y``. Training maximises the mean log-likelihood by full-batch
Adam with hand-written back-propagation (:meth:`MDN.score_and_gradient`).

Examples
--------
>>> from deepmarkets.models.layered.conditional import bishop_inverse
>>> x, y = bishop_inverse(200, rng=0)
>>> net = fit_mdn(x, y, steps=50, rng=0)
>>> net.log_q(x, y).shape
(200,)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import logsumexp

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.models.layered.conditional import conditional_data

__all__ = ["MDN", "fit_mdn"]

_LOG_2PI = float(np.log(2.0 * np.pi))




@dataclass(frozen=True, eq=False)
class MDN:
    """A one-hidden-layer Mixture Density Network.

    Attributes
    ----------
    w1, b1 : (H,) arrays
        Input weights and biases of the ``tanh`` units.
    w2 : (3K, H) array
        Output weights; rows ``0..K-1`` give the mixing logits, ``K..2K-1`` the means, ``2K..3K-1`` the log scales.
    b2 : (3K,) array
        Output biases.
    x_loc, x_scale, y_loc, y_scale : float
        The standardisation of ``x`` and ``y`` (the density is of the original ``y``).
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    x_loc: float = 0.0
    x_scale: float = 1.0
    y_loc: float = 0.0
    y_scale: float = 1.0

    @property
    def components(self) -> int:
        """``K``, the number of mixture components."""
        return len(self.b2) // 3

    @property
    def parameters(self) -> np.ndarray:
        """All weights as one vector (``w1, b1, w2, b2`` in order)."""
        return np.concatenate([self.w1, self.b1, self.w2.ravel(), self.b2])

    def with_parameters(self, theta: Any) -> MDN:
        """The same network with the weights of the vector ``theta`` (as :attr:`parameters` orders them)."""
        theta = np.asarray(theta, dtype=np.float64)
        h, o = len(self.b1), len(self.b2)
        if theta.shape != (2 * h + o * h + o,):
            raise DeclarationError(f"theta has shape {theta.shape}; expected ({2 * h + o * h + o},) for {h} hidden "
                                   f"units and {o} outputs")
        return replace(self, w1=theta[:h], b1=theta[h:2 * h], w2=theta[2 * h:2 * h + o * h].reshape(o, h),
                       b2=theta[2 * h + o * h:])

    def mixture(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``log π_k(x_i)``, ``μ_k(x_i)`` and ``log σ_k(x_i)`` in the units of ``y``, each of shape ``(n, K)``.

        Examples
        --------
        >>> net = MDN(np.zeros(1), np.zeros(1), np.zeros((3, 1)), np.array([0.0, 2.0, 0.0]), y_loc=1.0, y_scale=3.0)
        >>> net.mixture([0.5])[1]
        array([[7.]])
        """
        x = conditional_data(x, x)[0]
        u = (x - self.x_loc) / self.x_scale
        out = np.tanh(np.outer(u, self.w1) + self.b1) @ self.w2.T + self.b2
        k = self.components
        logits = out[:, :k]
        return (logits - logsumexp(logits, axis=-1)[:, None], self.y_loc + self.y_scale * out[:, k:2 * k],
                out[:, 2 * k:] + np.log(self.y_scale))

    def _forward(self, x: np.ndarray, y: np.ndarray):
        u = (x - self.x_loc) / self.x_scale
        v = (y - self.y_loc) / self.y_scale
        hidden = np.tanh(np.outer(u, self.w1) + self.b1)
        out = hidden @ self.w2.T + self.b2
        k = self.components
        logits, mean, log_sigma = out[:, :k], out[:, k:2 * k], out[:, 2 * k:]
        z = (v[:, None] - mean) * np.exp(-log_sigma)
        log_pi = logits - logsumexp(logits, axis=-1)[:, None]
        joint = log_pi - 0.5 * z * z - log_sigma - 0.5 * _LOG_2PI
        return u, hidden, log_pi, log_sigma, z, joint

    def log_q(self, x: Any, y: Any) -> np.ndarray:
        """``log q(y_i | x_i)`` for every row, shape ``(n,)``.

        Examples
        --------
        >>> net = MDN(np.zeros(1), np.zeros(1), np.zeros((3, 1)), np.zeros(3))     # one N(0, 1) component
        >>> round(float(net.log_q([5.0], [0.0])[0]), 6)
        -0.918939
        """
        x, y = conditional_data(x, y)
        return logsumexp(self._forward(x, y)[-1], axis=-1) - np.log(self.y_scale)

    def score_and_gradient(self, x: Any, y: Any) -> tuple[float, np.ndarray]:
        """The mean log-likelihood and its gradient with respect to :attr:`parameters` (back-propagation).

        Examples
        --------
        >>> net = MDN(np.ones(2), np.zeros(2), np.full((3, 2), 0.1), np.zeros(3))
        >>> value, grad = net.score_and_gradient([0.5, -1.0], [0.2, 0.1])
        >>> grad.shape
        (13,)
        """
        x, y = conditional_data(x, y)
        u, hidden, log_pi, log_sigma, z, joint = self._forward(x, y)
        total = logsumexp(joint, axis=-1)
        gamma = np.exp(joint - total[:, None])                          # P(k | x, y)
        n = len(x)
        # d mean-log-likelihood / d outputs, per row
        d_out = np.concatenate([gamma - np.exp(log_pi),                  # logits
                                gamma * z * np.exp(-log_sigma),                 # means
                                gamma * (z * z - 1.0)], axis=1) / n      # log scales
        g_w2 = d_out.T @ hidden
        g_b2 = d_out.sum(axis=0)
        d_pre = (d_out @ self.w2) * (1.0 - hidden * hidden)
        g_w1 = d_pre.T @ u
        g_b1 = d_pre.sum(axis=0)
        value = float(total.mean() - np.log(self.y_scale))
        return value, np.concatenate([g_w1, g_b1, g_w2.ravel(), g_b2])


def fit_mdn(x: Any, y: Any, *, components: int = 3, hidden: int = 20, steps: int = 2000, learning_rate: float = 0.01,
            rng: int | np.random.Generator | None = None) -> MDN:
    """An MDN trained by full-batch Adam on the mean log-likelihood of ``(x, y)``.

    ``x`` and ``y`` are standardised first; input weights start ``N(0, 1)``, output weights ``N(0, 0.1²)``, the
    component means at the ``(k + ½)/K`` quantiles of ``y`` and the log scales at ``log(1/K)``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    components : int
        ``K``, ``>= 1``.
    hidden : int
        ``tanh`` units, ``>= 1``.
    steps : int
        Adam steps, ``>= 0``.
    learning_rate : float
        Adam's step size (``β = 0.9, 0.999``).
    rng : int, Generator or None

    Examples
    --------
    >>> from deepmarkets.models.layered.conditional import bishop_inverse
    >>> x, y = bishop_inverse(200, rng=1)
    >>> before = fit_mdn(x, y, steps=0, rng=1).log_q(x, y).mean()
    >>> bool(fit_mdn(x, y, steps=100, rng=1).log_q(x, y).mean() > before)
    True
    """
    x, y = conditional_data(x, y)
    k = whole_number(components, "components", 1, hint="the number of mixture components, e.g. components=3")
    h = whole_number(hidden, "hidden", 1, hint="the number of tanh units, e.g. hidden=20")
    steps = whole_number(steps, "steps", 0)
    lr = positive_float(learning_rate, "learning_rate", hint="e.g. learning_rate=0.01")
    sx, sy = float(np.std(x)), float(np.std(y))
    if sx <= 0 or sy <= 0:
        raise DeclarationError(f"x has spread {sx} and y {sy}; expected both to take at least two distinct values")
    rng = as_rng(rng)
    v = (y - np.mean(y)) / sy
    b2 = np.concatenate([np.zeros(k), np.quantile(v, (np.arange(k) + 0.5) / k), np.full(k, np.log(1.0 / k))])
    net = MDN(rng.normal(size=h), rng.normal(size=h), rng.normal(scale=0.1, size=(3 * k, h)), b2,
              float(np.mean(x)), sx, float(np.mean(y)), sy)
    theta = net.parameters
    m = np.zeros_like(theta)
    s = np.zeros_like(theta)
    for t in range(1, steps + 1):
        _, grad = net.with_parameters(theta).score_and_gradient(x, y)
        m = 0.9 * m + 0.1 * grad
        s = 0.999 * s + 0.001 * grad * grad
        theta = theta + lr * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)
    return net.with_parameters(theta)
