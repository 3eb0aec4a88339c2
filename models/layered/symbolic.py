"""A layered state declared symbolically, so the gauge module can find and prove its symmetries.

:func:`symbolic_density` writes the implied density ``q_θ(x)`` of a layered Gaussian state with
diagonal shapes at a few observation points as exact sympy expressions of its parameters
(weights, means, variances; the last weight is one minus the others). Its class blocks are the
location states (with their own variances when there is no coarse layer), so
:func:`~deepmarkets.models.gauge.discrete_gauge` finds the relabellings that leave ``q``
unchanged and proves each with sympy.

Examples
--------
>>> from deepmarkets.models.gauge import discrete_gauge
>>> s = LayeredState.from_arrays([0.2, 0.3, 0.5], [[-1.0], [0.0], [1.0]], [[1.0], [2.0], [0.5]])
>>> discrete_gauge(symbolic_density(s, [[-1.0], [0.5]]), rng=0).order     # the 3! relabellings
6
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from deepmarkets.errors import DeclarationError
from deepmarkets.models.layered.state import LayeredState
from deepmarkets.models.symbolic import SymbolicModel

__all__ = ["symbolic_density"]


def symbolic_density(state: LayeredState, points: Any) -> SymbolicModel:
    """The density of ``state``'s family at ``points`` (rows), as a :class:`SymbolicModel` (diagonal shapes)."""
    if state.emission != "diag":
        raise DeclarationError("symbolic densities are written for diagonal shapes; use emission='diag'")
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    k, d = state.means.shape
    w = list(sympy.symbols(f"w1:{k}", positive=True)) if k > 1 else []
    weights = w + [1 - sum(w)]
    mu = [[sympy.Symbol(f"mu{a + 1}_{j + 1}", real=True) for j in range(d)] for a in range(k)]
    var = [[sympy.Symbol(f"v{g + 1}_{j + 1}", positive=True) for j in range(d)] for g in range(state.n_shapes)]
    observables = []
    for p in pts:
        total = 0
        for a in range(k):
            g = state.shape_of[a]
            term = weights[a]
            for j in range(d):
                x = sympy.nsimplify(float(p[j]))
                term *= sympy.exp(-(x - mu[a][j]) ** 2 / (2 * var[g][j])) / sympy.sqrt(2 * sympy.pi * var[g][j])
            total += term
        observables.append(total)
    params = w + [m for row in mu for m in row] + [v for row in var for v in row]
    blocks = [[weights[a], *mu[a], *(var[state.shape_of[a]] if not state.layered else [])] for a in range(k)]
    bounds = {s: (0.05, 0.3) for s in w}
    bounds.update({m: (-1.0, 1.0) for row in mu for m in row})
    bounds.update({v: (0.5, 2.0) for row in var for v in row})
    return SymbolicModel(params, observables, class_blocks=blocks, bounds=bounds, name="layered density",
                         class_names=list(state.ids), kind="layered Gaussian (diag)")
