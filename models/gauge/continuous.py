"""The continuous gauge of a symbolic model: how many directions change the parameters but no observable.

The dimension of the set of parameter values that imply the same observables near a generic
point: the number of parameters minus the rank of the Jacobian of the observables with respect
to the parameters (:class:`ContinuousGauge`), with a basis of the Jacobian's null space as
infinitesimal generators (the ``k (k - 1) / 2`` rotations of a ``k``-factor model). The rank is
computed in floating point by SVD with a stated relative tolerance at several random points
and, for small models, exactly over the rationals (python-flint) at the same points.

Examples
--------
>>> from deepmarkets.models.symbolic import latent_class_model
>>> continuous_gauge(latent_class_model(3, 2, items=3), rng=0).dimension    # 11 parameters, 7 observables
4
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.helpers import as_rng, json_safe, warn
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.models.symbolic import SymbolicModel

__all__ = ["ContinuousGauge", "continuous_gauge", "RANK_TOL", "EXACT_MAX_ENTRIES"]

#: Default relative tolerance of the floating-point rank: singular values ``s <= tol * s_max`` count as 0.
RANK_TOL = 1e-8
#: ``exact=None`` computes the exact rank when the Jacobian has at most this many entries.
EXACT_MAX_ENTRIES = 20_000


# ---------------------------------------------------------------------------
# the continuous gauge
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuousGauge:
    """The continuous gauge of a model at generic points: its dimension and infinitesimal generators.

    Attributes
    ----------
    model : str
    dimension : int
        ``n_parameters - rank`` (the exact rank when it was computed).
    n_parameters, n_observables : int
    rank : int
        The generic rank of the Jacobian used.
    float_ranks : tuple of int
        The floating-point rank at each point (singular values ``> tol * s_max``).
    exact_ranks : tuple of int or None
        The exact rank over the rationals at each point (None when not computed).
    tol : float
        The relative tolerance of the floating-point rank.
    singular_values : numpy.ndarray
        At the first point, largest first.
    gap : float or None
        ``s_rank / s_(rank+1)`` at the first point: how clearly the kept singular values stand
        above the dropped ones (None when no computed singular value was dropped, as when the
        Jacobian has fewer rows than columns and full row rank, or nothing was kept).
    generators : numpy.ndarray
        ``(n_parameters, dimension)``: an orthonormal basis of the Jacobian's null space at the
        first point (floating point); each column is a direction in which the parameters can
        move without changing the observables to first order.
    exact_generators : tuple of tuple of Fraction or None
        A basis of the exact null space at the first point (reduced echelon form), when exact.
    parameters : tuple of str
    point : tuple of Fraction
        The first point (rational; the float computations use the same values).
    seconds, compile_seconds : float
        Total wall time and the part spent building and compiling the Jacobian.
    """

    model: str
    dimension: int
    n_parameters: int
    n_observables: int
    rank: int
    float_ranks: tuple[int, ...]
    exact_ranks: tuple[int, ...] | None
    tol: float
    singular_values: np.ndarray = field(repr=False)
    gap: float | None
    generators: np.ndarray = field(repr=False)
    exact_generators: tuple[tuple[Fraction, ...], ...] | None = field(repr=False)
    parameters: tuple[str, ...] = field(repr=False)
    point: tuple[Fraction, ...] = field(repr=False)
    seconds: float = 0.0
    compile_seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return self.exact_ranks is not None

    @property
    def consistent(self) -> bool:
        """All points (and both arithmetics) gave the same rank."""
        ranks = set(self.float_ranks) | set(self.exact_ranks or ())
        return len(ranks) == 1

    def generator_frame(self):
        """The generators as a pandas DataFrame (one row per parameter, one column per generator)."""
        import pandas as pd

        return pd.DataFrame(self.generators, index=list(self.parameters),
                            columns=[f"g{i + 1}" for i in range(self.generators.shape[1])])

    def to_dict(self) -> dict:
        return json_safe({
            "model": self.model, "dimension": self.dimension, "n_parameters": self.n_parameters,
            "n_observables": self.n_observables, "rank": self.rank, "float_ranks": list(self.float_ranks),
            "exact_ranks": None if self.exact_ranks is None else list(self.exact_ranks), "tol": self.tol,
            "singular_values": self.singular_values, "gap": self.gap, "consistent": self.consistent,
            "parameters": list(self.parameters), "generators": self.generators,
            "exact_generators": None if self.exact_generators is None else [list(g) for g in self.exact_generators],
            "point": list(self.point), "seconds": self.seconds, "compile_seconds": self.compile_seconds,
        })

    def __repr__(self) -> str:
        how = (f"exact rank {self.rank}" if self.exact else f"float rank {self.rank} (tol {self.tol:g})")
        gap = "" if self.gap is None else f", singular value gap {self.gap:.3g}"
        return (f"ContinuousGauge({self.model!r}: dimension {self.dimension} = {self.n_parameters} parameters - "
                f"{how}{gap}; {len(self.float_ranks)} points{'' if self.consistent else ', RANKS DIFFER'})")

    def _repr_markdown_(self) -> str:
        lines = [f"**continuous gauge of {self.model}**: dimension **{self.dimension}** = "
                 f"{self.n_parameters} parameters − rank {self.rank}", "",
                 f"- float ranks at {len(self.float_ranks)} random points: {list(self.float_ranks)} "
                 f"(singular values > {self.tol:g} × largest)",
                 f"- exact ranks over the rationals: {list(self.exact_ranks) if self.exact else 'not computed'}",
                 f"- singular value gap: {'-' if self.gap is None else f'{self.gap:.3g}'}",
                 f"- {self.seconds:.3f} s ({self.compile_seconds:.3f} s building and compiling the Jacobian)"]
        return "\n".join(lines)


def _exact_rank_and_null(mat) -> tuple[int, list[list[Fraction]]]:
    """Rank of a ``flint.fmpq_mat`` and a basis of its null space from the reduced row echelon form."""
    rref, rank = mat.rref()
    n = mat.ncols()
    pivots = []
    r = 0
    for c in range(n):
        if r < rank and rref[r, c] != 0:
            pivots.append(c)
            r += 1
    free = [c for c in range(n) if c not in pivots]
    basis = []
    for f in free:
        v = [Fraction(0)] * n
        v[f] = Fraction(1)
        for row, pc in enumerate(pivots):
            q = -rref[row, f]
            v[pc] = Fraction(int(q.p), int(q.q))
        basis.append(v)
    return int(rank), basis


def continuous_gauge(model: SymbolicModel, *, points: int = 3, tol: float = RANK_TOL, exact: bool | None = None,
                     rng: int | np.random.Generator | None = None) -> ContinuousGauge:
    """Dimension and generators of the continuous gauge: parameters minus the generic rank of the Jacobian.

    The Jacobian ``d observables / d parameters`` is built symbolically once (one pass over each
    observable's expression tree) and compiled once into one Python function, the way
    :func:`sympy.lambdify` does but without the renaming pass lambdify makes when symbol names
    are not Python identifiers (such as ``P(Y=1)``), which took over 10 s on the 255 x 35
    Jacobian of a K=4, J=8 latent class model (compiling here takes under 1 s). The same code
    object is bound to float arithmetic and to exact rational arithmetic (``flint.fmpq``); the
    model caches it.
    At ``points`` random rational points inside the model's bounds its floating-point rank is
    the number of singular values above ``tol`` times the largest; the generic rank is the
    largest rank seen (a rank can only drop on a measure-zero set). With ``exact`` the rank is
    also computed exactly over the rationals at the same points (python-flint); an exact rank
    at a point is a lower bound of the generic rank and equals it unless the point is a root
    of a non-zero polynomial, which random points avoid with high probability
    (Schwartz-Zippel). When the two disagree the exact rank is used, with a warning.

    Parameters
    ----------
    model : SymbolicModel
    points : int, default 3
    tol : float, default :data:`RANK_TOL`
        Relative tolerance of the floating-point rank.
    exact : bool or None, default None
        Also compute the exact rank; None: when the Jacobian has at most
        :data:`EXACT_MAX_ENTRIES` entries and the observables are rational functions.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    ContinuousGauge

    Examples
    --------
    >>> from deepmarkets.models.symbolic import factor_model, latent_class_model
    >>> continuous_gauge(latent_class_model(2, 2, items=2), rng=0).dimension
    2
    >>> g = continuous_gauge(factor_model(6, 2), rng=0)
    >>> g.dimension, g.generators.shape            # one rotation of the two factors
    (1, (18, 1))
    """
    started = time.perf_counter()
    if not isinstance(model, SymbolicModel):
        raise DeclarationError(f"expected a SymbolicModel, got {type(model).__name__}")
    points = whole_number(points, "points", 1)
    tol = positive_float(tol, "tol")
    if not tol < 1:
        raise DeclarationError(f"tol={tol}; expected a relative tolerance below 1 (e.g. 1e-8)")
    gen = as_rng(rng)
    t0 = time.perf_counter()
    comp = model._compiled("jacobian")
    compile_s = time.perf_counter() - t0
    n, q = model.n_parameters, model.n_observables
    if exact is None:
        exact = comp.exact_ok and n * q <= EXACT_MAX_ENTRIES
    elif exact and not comp.exact_ok:
        raise DeclarationError(f"exact=True needs observables that are rational functions with rational "
                               f"coefficients; {model.name} has others (use exact=False)")
    pts = [model.random_point(gen) for _ in range(points)]
    float_ranks, exact_ranks = [], []
    sv0 = null0 = exact_null = None
    for i, pt in enumerate(pts):
        jac = model.jacobian_at(pt)
        if not np.isfinite(jac).all():
            raise InferenceError(f"the Jacobian of {model.name} is not finite at a random point; check the bounds")
        _, s, vt = np.linalg.svd(jac, full_matrices=True)
        r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
        float_ranks.append(r)
        if i == 0:
            sv0, vt0, r0 = s, vt, r
        if exact:
            er, basis = _exact_rank_and_null(model.jacobian_at(pt, exact=True))
            exact_ranks.append(er)
            if i == 0:
                exact_null = basis
    rank = max(exact_ranks) if exact else max(float_ranks)
    if exact and max(float_ranks) != rank:
        warn(f"{model.name}: the floating-point rank at tol={tol:g} ({float_ranks}) differs from the exact "
                      f"rank ({exact_ranks}); the exact rank is used")
    if len(set(float_ranks) | set(exact_ranks)) > 1:
        warn(f"{model.name}: the rank differs between random points (float {float_ranks}, exact "
                      f"{exact_ranks or '-'}); the largest is taken as the generic rank")
    # generators at the first point: the right singular vectors beyond the rank
    first = exact_ranks[0] if exact else r0
    null0 = vt0[first:].T.copy()
    gap = None
    if 0 < first < len(sv0):
        gap = float(sv0[first - 1] / sv0[first]) if sv0[first] > 0 else math.inf
    return ContinuousGauge(
        model=model.name, dimension=n - rank, n_parameters=n, n_observables=q, rank=rank,
        float_ranks=tuple(float_ranks), exact_ranks=tuple(exact_ranks) if exact else None, tol=tol,
        singular_values=sv0, gap=gap, generators=null0,
        exact_generators=None if exact_null is None else tuple(tuple(v) for v in exact_null),
        parameters=tuple(str(p) for p in model.parameters), point=tuple(pts[0]),
        seconds=time.perf_counter() - started, compile_seconds=compile_s,
    )
