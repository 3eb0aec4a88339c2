"""A fixed-point search with guaranteed termination and precision, for the logical inductor's market maker.

The market maker needs prices ``x`` in the cube ``[0, 1]^d`` with ``x = clip(x + F(x))``, where
``F`` is the trading firm's (scaled) trade: continuous, since every expressible feature is, so
Brouwer guarantees a fixed point. Both searches here follow the variable-dimension restart
algorithm of van der Laan and Talman on the grid of mesh ``2^-bits``, started from any grid point
``v``; they differ in the labels.

**Integer labels** (:func:`integer_path`, the certified one). A grid point ``x`` gets the label
``+i`` or ``-i``: ``i`` is the coordinate of the displacement ``z(x) = clip(x + F(x)) - x``
largest in absolute value (the first on ties), the sign is that of ``z_i(x)``.

* For a sign vector ``s`` the region ``A(s)`` holds the points of the cube that differ from
  ``v`` only in the coordinates ``i`` with ``s_i != 0``, in the direction ``s_i``. It is
  triangulated by Freudenthal (Kuhn) simplices of the grid; the triangulation of ``A(s)``
  restricted to its face ``x_i = v_i`` is that of ``A(s - s_i e_i)``.
* A *room* is a simplex of ``A(s)`` (dimension ``t = |s|``) whose labels include
  ``{s_i i}``; a *door* is a facet of a room whose ``t`` labels are exactly ``{s_i i}``.
  The point ``v`` alone is a room with a single door (its own label opens ``A(±e_i)``); a
  room whose extra label is ``-s_i i`` has a single door; every other room has two (a second
  vertex with the same label, or a new label ``±k`` that makes the room a door of
  ``A(s ± e_k)``). A door on the face ``x_i = v_i`` of ``A(s)`` is a room of
  ``A(s - s_i e_i)``. No door lies on the cube's boundary: at ``x_i = 1`` the displacement
  ``z_i <= 0`` rules out the label ``+i``, and at ``x_i = 0`` the label ``-i``.

So the rooms form paths and cycles of a finite graph of degree at most two, and the path that
starts at ``v`` cannot cycle: it ends, after finitely many pivots (one evaluation of ``F``
each), at a simplex holding two vertices ``x, y`` labelled ``+i`` and ``-i``. They are at most
one mesh apart in every coordinate, so with ``Lambda`` a Lipschitz constant of ``z`` in the
max-norm, ``max_j |z_j(x)| = z_i(x) < z_i(x) - z_i(y) <= Lambda 2^-bits``: ``x`` is an
approximate fixed point, however far ``v`` was from one. :func:`certified_bits` turns a
residual tolerance into the mesh that guarantees it. There is no polynomial bound on the number
of pivots, and on an ill-conditioned map the path can be long.

**Vector labels** (:func:`vector_path`, the fast one). The same rooms, but the path is the
piecewise-linear curve of points ``x = sum_j lambda_j y_j`` of a simplex of ``A(s)`` where the
linear interpolation ``zbar(x) = sum_j lambda_j z(y_j)`` has ``zbar_i = s_i mu`` for the
coordinates of ``s`` and ``|zbar_j| <= mu`` for the others, followed by pivoting until
``mu = 0``. There ``max_j |z_j(x)| <= Lambda 2^-bits`` as well, and where ``z`` is affine the
interpolation is exact, so coarse grids already give the fixed point. Its termination argument
needs exact arithmetic (a degenerate pivot can stall it in floats), so it runs with a budget of
pivots and reports failure instead of looping.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["displacement", "certified_bits", "integer_path", "vector_path"]

Trade = Callable[[np.ndarray], np.ndarray]
Accept = Callable[[np.ndarray, np.ndarray], bool]


def displacement(x: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``clip(x + step, 0, 1) - x``: zero exactly at the fixed points of ``x -> clip(x + F(x))``."""
    return np.clip(x + step, 0.0, 1.0) - x


def certified_bits(lipschitz: float, weight: float, tolerance: float) -> int:
    """The mesh exponent ``k`` with ``lipschitz * weight * 2^-k <= tolerance``.

    With ``lipschitz`` the Lipschitz constant ``Lambda`` of the displacement and ``weight`` a
    bound on how much residual one unit of displacement can carry, the end of a path on the
    grid of mesh ``2^-k`` is a point with residual at most ``tolerance``.

    Examples
    --------
    >>> certified_bits(202.0, 0.5, 2.0 ** -32)
    39
    """
    if lipschitz * weight <= 0:
        return 0
    return max(0, math.ceil(math.log2(lipschitz * weight / tolerance)))


class _Simplex:
    """The current simplex of the triangulation of ``A(s)`` around the grid point ``start``.

    Vertex ``j + 1`` is vertex ``j`` moved one mesh in direction ``sign[perm[j]]`` along
    ``perm[j]``; ``low`` is vertex 0 in the orthant's grid units.
    """

    def __init__(self, start: np.ndarray):
        self.sign = np.zeros(len(start), dtype=np.int64)
        self.low = np.zeros(len(start), dtype=np.int64)
        self.perm: list[int] = []
        self.grid = [np.asarray(start, dtype=np.int64).copy()]

    def extend(self, i: int, direction: int) -> np.ndarray:
        """Enter ``A(s + direction e_i)``: the new last vertex."""
        self.sign[i] = direction
        self.perm.append(i)
        g = self.grid[-1].copy()
        g[i] += direction
        self.grid.append(g)
        return g

    def replace(self, j: int) -> tuple[int | None, int]:
        """Replace vertex ``j`` by the vertex across the opposite facet: (its index, 0).

        When that facet lies on the face ``x_i = v_i`` of ``A(s)`` (``j`` is the last vertex),
        vertex ``j`` and coordinate ``i`` are dropped instead: (None, the label ``s_i i``).
        """
        t = len(self.perm)
        if j == 0:
            i = self.perm.pop(0)
            self.perm.append(i)
            self.low[i] += 1
            g = self.grid[-1].copy()
            g[i] += self.sign[i]
            self.grid = self.grid[1:] + [g]
            return t, 0
        if j == t:
            i = self.perm[-1]
            if self.low[i] == 0:
                label = int(self.sign[i]) * (i + 1)
                self.sign[i] = 0
                self.perm.pop()
                self.grid.pop()
                return None, label
            self.perm = [self.perm.pop()] + self.perm
            self.low[i] -= 1
            g = self.grid[0].copy()
            g[i] -= self.sign[i]
            self.grid = [g] + self.grid[:-1]
            return 0, 0
        self.perm[j - 1], self.perm[j] = self.perm[j], self.perm[j - 1]
        i = self.perm[j - 1]
        g = self.grid[j - 1].copy()
        g[i] += self.sign[i]
        self.grid[j] = g
        return j, 0


def _moved(items: list, j: int, new: int | None, item) -> list:
    """Per-vertex ``items`` after :meth:`_Simplex.replace` (``j`` replaced, the new one at ``new``)."""
    if new is None:
        return items[:-1]
    if j == 0 and new != 0:
        return items[1:] + [item]
    if new == 0 and j != 0:
        return [item] + items[:-1]
    return items[:j] + [item] + items[j + 1:]


def _visit(F: Trade, g: np.ndarray, mesh: float):
    x = g * mesh
    f = F(x[:, None])[:, 0]
    return x, f, displacement(x, f)


def integer_path(F: Trade, start: np.ndarray, bits: int, accept: Accept) -> tuple[np.ndarray, np.ndarray, int]:
    """Follow the path of rooms with integer labels from the grid point ``start`` (module docstring).

    Parameters
    ----------
    F : callable
        ``F(X)`` for a (d, batch) array of points of the cube, the (d, batch) trades.
    start : ndarray of int
        The starting point in grid units (``0 .. 2^bits`` per coordinate).
    bits : int
        The mesh is ``2^-bits`` (at most 52, so that grid points are exact floats).
    accept : callable
        ``accept(x, F(x))`` stops the path early at a point good enough for the caller.

    Returns
    -------
    x, Fx, evaluations
        The accepted point or, at the end of the path, the vertex of the terminal simplex with
        the smallest displacement; its trade; the number of evaluations of ``F``.

    Examples
    --------
    >>> F = lambda X: 0.3 - X  # fixed point 0.3 in every coordinate
    >>> x, _, _ = integer_path(F, np.array([0, 16]), 5, lambda x, f: False)
    >>> bool(np.all(np.abs(x - 0.3) <= 2 * 2.0 ** -5))
    True
    """
    mesh = 2.0 ** -bits
    simplex = _Simplex(start)

    def visit(g):
        x, f, z = _visit(F, g, mesh)
        i = int(np.argmax(np.abs(z)))
        return x, f, float(abs(z[i])), 0 if z[i] == 0 else (i + 1) * (1 if z[i] > 0 else -1)

    points = [visit(simplex.grid[0])]
    evaluations, new = 1, 0
    while True:
        x, f, _, label = points[new]
        if label == 0 or accept(x, f):
            return x, f, evaluations
        i, direction = abs(label) - 1, (1 if label > 0 else -1)
        if simplex.sign[i] == -direction:  # labels +i and -i: the end of the path
            x, f, _, _ = min(points, key=lambda v: v[2])
            return x, f, evaluations
        if simplex.sign[i] == 0:  # a new label: the room is a door of A(s + direction e_i)
            points.append(visit(simplex.extend(i, direction)))
            evaluations, new = evaluations + 1, len(points) - 1
            continue
        # a second vertex with a required label: leave through the facet opposite the other one
        leave = next(j for j, v in enumerate(points) if v[3] == label and j != new)
        new, gone = simplex.replace(leave)
        while new is None:  # now a room of A(s - s_i e_i): leave through the facet opposite label s_i i
            points.pop()
            leave = next(j for j, v in enumerate(points) if v[3] == gone)
            new, gone = simplex.replace(leave)
        points = _moved(points, leave, new, visit(simplex.grid[new]))
        evaluations += 1


def vector_path(F: Trade, start: np.ndarray, bits: int, accept: Accept, *, pivots: int,
                resolution: int = 48) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Follow the piecewise-linear path with vector labels from the grid point ``start`` (module docstring).

    Parameters are those of :func:`integer_path`, plus ``pivots``, the budget of pivots, and
    ``resolution``: the end point ``sum_j lambda_j y_j`` is rounded to the grid ``2^-resolution``.

    Returns
    -------
    x, Fx, evaluations, ended
        The accepted point, or the end of the path (``ended``), or else (a singular or stalled
        pivot, or the budget spent) the grid point with the smallest displacement seen.

    Examples
    --------
    >>> F = lambda X: 0.3 - X  # affine: the interpolation is exact on any grid
    >>> x, _, count, ended = vector_path(F, np.array([0, 16]), 2, lambda x, f: False, pivots=100)
    >>> ended, bool(np.all(np.abs(x - 0.3) <= 2.0 ** -48))
    (True, True)
    """
    mesh = 2.0 ** -bits
    simplex = _Simplex(start)
    evaluations = 0
    best = None

    def visit(g):
        nonlocal evaluations, best
        evaluations += 1
        point = _visit(F, g, mesh)
        if best is None or np.abs(point[2]).max() < np.abs(best[2]).max():
            best = point
        return point

    points = [visit(simplex.grid[0])]
    x, f, z = points[0]
    mu = float(np.abs(z).max(initial=0.0))
    if mu == 0 or accept(x, f):
        return x, f, evaluations, mu == 0
    i = int(np.argmax(np.abs(z)))
    points.append(visit(simplex.extend(i, 1 if z[i] > 0 else -1)))
    enter: int | tuple[int, int] = 1  # the vertex whose weight enters, or (i, s_i) when i was just dropped
    for _ in range(pivots):
        if isinstance(enter, int) and accept(*points[enter][:2]):
            return *points[enter][:2], evaluations, False
        dropped = [] if isinstance(enter, int) else [enter]
        rows = list(simplex.perm) + [i for i, _ in dropped]
        n = len(points)
        E = np.zeros((len(rows) + 1, n + 1))  # zbar_i - s_i mu = 0 for the rows, sum lambda = 1
        E[:-1, :n] = np.array([v[2] for v in points]).T[rows]
        E[:-1, n] = [-simplex.sign[i] for i in simplex.perm] + [-s for _, s in dropped]
        E[-1, :n] = 1
        rhs = np.zeros((len(rows) + 1, 2))
        rhs[-1, 0] = 1
        if dropped:  # the dropped row's slack enters: s_i zbar_i falls below mu
            basis = list(range(n + 1))
            rhs[len(rows) - 1, 1] = -dropped[0][1]
        else:
            basis = [c for c in range(n + 1) if c != enter]
            rhs[:, 1] = -E[:, enter]
        try:
            sol = np.linalg.solve(E[:, basis], rhs)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(sol)):
            break
        u, d = np.zeros(n + 1), np.zeros(n + 1)
        u[basis], d[basis] = np.maximum(sol[:, 0], 0.0), sol[:, 1]
        if not dropped:
            d[enter] = 1.0
        # ratio test: a weight or mu reaching 0, or |zbar_j| reaching mu off the coordinates of s
        off = np.flatnonzero(simplex.sign == 0)
        Zoff = np.array([v[2][off] for v in points]).T
        zbar, dz = Zoff @ u[:n], Zoff @ d[:n]
        slack = np.concatenate([u, u[n] - zbar, u[n] + zbar])
        rate = np.concatenate([d, d[n] - dz, d[n] + dz])
        falling = rate < -1e-12 * max(1.0, float(np.abs(d).max()))
        if not falling.any():
            break
        steps = np.where(falling, np.maximum(slack, 0.0) / np.where(falling, -rate, 1.0), np.inf)
        hit = int(np.argmin(steps))
        u = u + steps[hit] * d
        lam = np.maximum(u[:n], 0.0)
        if hit == n:  # mu = 0: a zero of the interpolation
            scale = 2.0 ** resolution
            x = np.rint(np.array([v[0] for v in points]).T @ (lam / lam.sum()) * scale) / scale
            return x, F(x[:, None])[:, 0], evaluations + 1, True
        if hit < n:  # a weight reaches 0: replace its vertex
            new, gone = simplex.replace(hit)
            if new is None:  # on the face x_i = v_i: drop coordinate i
                points = points[:-1]
                enter = (abs(gone) - 1, 1 if gone > 0 else -1)
                continue
            points = _moved(points, hit, new, visit(simplex.grid[new]))
            enter = new
        else:  # |zbar_j| = mu off the coordinates of s: enter A(s +- e_j)
            k = hit - n - 1
            points.append(visit(simplex.extend(int(off[k % len(off)]), 1 if k < len(off) else -1)))
            enter = len(points) - 1
    x, f, _ = best
    return x, f, evaluations, False
