"""Arbitrage-free pricing on combinatorial outcome spaces.

Securities pay 1 when a sentence holds. With ``n`` atoms there are up to ``2^n`` worlds, so a
market maker that prices every world (an LMSR over worlds) stops being practical around
``n = 20``. The approach of Dudík, Lahaie and Pennock (2012) and Kroer, Dudík, Lahaie and
Balakrishnan (2016) instead runs one binary LMSR per security and keeps the quotes coherent by
projecting them onto the marginal polytope ``M`` (the convex hull of the payoff vectors
``phi(w)`` of the possible worlds ``w``)::

    mu* = argmin_{mu in M} D(mu || p),   D(mu || p) = b * sum_i KL(mu_i || p_i)

``D`` is the Bregman divergence of the binary LMSRs. The maker then executes the trade that moves
each binary LMSR from ``p_i`` to ``mu*_i``; by the generalised Pythagorean theorem that trade
earns at least ``D(mu* || p)`` in every possible world.

When the prices are already coherent they are their own projection: a distribution over possible
worlds reproducing them exactly is sought first (column generation with greedy worlds, warm-started
from the previous active set), which after a small trade usually succeeds without any exact call.
Otherwise the projection is computed by fully-corrective Frank–Wolfe. The linear minimisation oracle is an
exact weighted MaxSAT call to z3 (its ``wmax`` engine) over the theory's possible worlds, so no
world is ever enumerated. A fast greedy search (incremental SAT) is tried first and its world is
used whenever it already improves on the current quote (lazy Frank–Wolfe); the exact oracle then
runs when the greedy search finds nothing, and always to certify the final duality gap
(``certify=False`` skips it). The correction step re-optimises the weights of the active worlds
by an active-set Newton method on the simplex (pairwise Frank–Wolfe steps when Newton is
blocked, a barrier method when quotes close to 0 or 1 make the problem badly conditioned).
Sentences that the theory entails or rules out are detected first and fixed at 1 or 0, which
keeps the divergence's gradient finite. The duality gap is computed with the exact oracle in
rational arithmetic. Quotes are exact rational convex combinations of the active worlds, so
they are coherent in exact arithmetic, not just up to round-off.

Public API
----------
:func:`project`, :class:`Projection`
    One projection with its duality gap, active set, arbitrage trade and guaranteed profit.
:class:`ArbitrageFreeMarket`, :class:`TradeRecord`, :class:`QuoteCertificate`
    A market of binary LMSRs whose quotes are re-projected (warm-started) after every trade.
:func:`exact_projection`
    The same projection by enumerating every possible world (small ``n`` only); a baseline.
:func:`world_lmsr_prices`
    The LMSR over all possible worlds (small ``n`` only); a baseline.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, json_safe
from deepmarkets.helpers.validate import finite_float, positive_float, whole_number
from deepmarkets.logic.prices import sentence_prices
from deepmarkets.logic.sentence import Sentence, sentence
from deepmarkets.logic.theory import Theory
from deepmarkets.logic.worlds import WorldOracle, WorldSearch, minimum_world
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = [
    "Projection",
    "project",
    "exact_projection",
    "ArbitrageFreeMarket",
    "TradeRecord",
    "QuoteCertificate",
    "world_lmsr_prices",
]

#: Default relative tolerance on the Frank–Wolfe duality gap (relative to ``max(b, divergence)``).
DEFAULT_TOL = 1e-12
#: Default cap on Frank–Wolfe iterations (oracle calls) per projection.
DEFAULT_MAX_ITER = 2000
_EPS = np.finfo(float).eps
#: Greedy searches for an improving world before an exact oracle call: one in the gradient's
#: order, the others in orders perturbed by log-normal noise of this scale.
_GREEDY_TRIES = 6
_NOISE = 1.0


# ---------------------------------------------------------------------------
# small numerics
# ---------------------------------------------------------------------------
def _softplus(x: np.ndarray | float) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0.0, x)


def _divergence_terms(mu: np.ndarray, nu: np.ndarray, lp: np.ndarray, b: float) -> np.ndarray:
    """``b * KL(mu_i || p_i)`` per coordinate, with ``nu = 1 - mu`` and ``lp = logit(p)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(mu > 0, mu * np.log(mu), 0.0) + np.where(nu > 0, nu * np.log(nu), 0.0)
    return b * (ent + mu * _softplus(-lp) + nu * _softplus(lp))


def _gradient(mu: np.ndarray, nu: np.ndarray, lp: np.ndarray, b: float) -> np.ndarray:
    """``b * (logit(mu) - logit(p))``: the gradient of ``D(. || p)`` and the arbitrage trade."""
    return b * (np.log(mu) - np.log(nu) - lp)


def _check_b(b: Any) -> float:
    return positive_float(b, "b", hint="b is the liquidity b of each binary LMSR; pass e.g. b=1.0")


def _check_tol(tol: Any, max_iter: Any) -> tuple[float, int]:
    return finite_float(tol, "tol", low=0, hint=f"the default is {DEFAULT_TOL}"), whole_number(max_iter, "max_iter", 1)


def _check_max_exact(max_exact: Any) -> int | None:
    if max_exact is None:
        return None
    return whole_number(max_exact, "max_exact", 1, hint="max_exact is a number of exact oracle calls, or None")


def _check_sentences(sentences: Any) -> tuple[Sentence, ...]:
    if isinstance(sentences, (str, Sentence)):
        sentences = [sentences]
    try:
        items = list(sentences)
    except TypeError:
        raise DeclarationError(f"sentences must be a list of sentences, got {type(sentences).__name__}") from None
    if not items:
        raise DeclarationError("no securities: pass a non-empty list of sentences (e.g. atoms('a b'))")
    return tuple(sentence(s) for s in items)


def _check_theory(theory: Any) -> Theory:
    if theory is None:
        theory = Theory()
    elif not isinstance(theory, Theory):
        theory = Theory(theory)
    if not theory.is_consistent():
        where = f"{theory.source}: " if theory.source else ""
        raise DeclarationError(
            f"{where}the theory has no possible world: its axioms contradict each other; "
            "remove or fix the contradictory axioms"
        )
    return theory


def _check_prices(prices: Any, n: int) -> np.ndarray:
    """Prices strictly inside (0, 1), one per sentence, as ``logit(p)``."""
    try:
        p = np.array([float(v) for v in prices], dtype=float)
    except (TypeError, ValueError):
        raise DeclarationError(f"prices must be numbers in (0, 1), got {prices!r}") from None
    if p.shape != (n,):
        raise DeclarationError(f"{n} sentences but {p.size} prices; give one price per sentence")
    bad = [i for i, v in enumerate(p) if not (0.0 < v < 1.0)]
    if bad:
        i = bad[0]
        raise DeclarationError(
            f"the price of security {i} is {p[i]!r}; independent binary LMSR prices must lie strictly "
            "between 0 and 1 (and not be NaN)"
        )
    return np.log(p) - np.log1p(-p)


def _check_priced(prices: Any) -> tuple[tuple[Sentence, ...], np.ndarray]:
    """The sentences and prices of ``{sentence: price}`` or ``(sentence, price)`` pairs (read by
    :func:`~deepmarkets.logic.prices.sentence_prices`), each price a float strictly inside (0, 1)."""
    pairs = sentence_prices(prices)
    if not pairs:
        raise DeclarationError("no securities: pass prices on sentences, e.g. {a: 0.6, b: 0.7, a & b: 0.2}")
    values = np.empty(len(pairs))
    for i, (s, v) in enumerate(pairs):
        try:
            values[i] = float(v)
        except (TypeError, ValueError):
            values[i] = math.nan
        if not 0.0 < values[i] < 1.0:
            raise DeclarationError(f"the price of {s} is {v!r}; independent binary LMSR prices must be numbers "
                                   "strictly between 0 and 1 (and not be NaN)")
    return tuple(s for s, _ in pairs), values


# ---------------------------------------------------------------------------
# linear minimisation oracles
# ---------------------------------------------------------------------------
class _Z3Oracle:
    """Exact ``min_w sum_i c_i [s_i](w)`` over the theory's possible worlds (weighted MaxSAT in z3).

    The coefficients are taken exactly (a float is the dyadic rational it stores); the call is
    :func:`deepmarkets.logic.worlds.minimum_world`, with the engine measured fastest there.
    :meth:`greedy` is the fast, inexact companion used to find improving worlds between exact calls.
    """

    def __init__(self, theory: Theory, sentences: Sequence[Sentence]):
        self.theory = theory
        self.sentences = list(sentences)
        self.calls = 0
        self.greedy_calls = 0
        self._worlds = None  # a WorldSearch, made on first use

    def minimize(self, weights: Sequence[Any]) -> tuple[Fraction, tuple[bool, ...]]:
        ws = [w if isinstance(w, Fraction) else Fraction(float(w)) for w in weights]
        self.calls += 1
        found = minimum_world([a.z3 for a in self.theory.axioms], self.sentences, dict(enumerate(ws)),
                              rlimit=self.theory.rlimit,
                              unknown=f"z3 could not find the best world for a weighted sum of {len(ws)} sentences "
                                      f"within rlimit={self.theory.rlimit}; raise the theory's rlimit or use fewer "
                                      "securities")
        if found is None:
            raise DeclarationError("the theory has no possible world; check its axioms")
        return found


    def witness(self, i: int, value: bool) -> tuple[bool, ...] | None:
        """A possible world where sentence ``i`` has truth value ``value``, or None."""
        return self.search.world_where({i: value})

    def greedy(self, weights: np.ndarray, rng: np.random.Generator | None = None,
               noise: float = 0.0) -> tuple[float, tuple[bool, ...]]:
        """A good (not necessarily best) possible world for ``min sum_i c_i [s_i]``, fast.

        :meth:`deepmarkets.logic.worlds.WorldSearch.greedy`: sentences are taken in order of
        ``|c_i|`` (perturbed by ``noise``) and each gets its preferred truth value when a possible
        world still allows it (incremental SAT under assumptions, on a CNF of a propositional theory).
        """
        self.greedy_calls += 1
        world = self.search.greedy(weights, rng=rng, noise=noise)
        return float(np.dot(weights, world)), world

    @property
    def search(self) -> WorldSearch:
        """The :class:`~deepmarkets.logic.worlds.WorldSearch` over the theory and sentences, made on first use."""
        if self._worlds is None:
            self._worlds = WorldSearch(self.theory, self.sentences)
        return self._worlds


class _TableOracle:
    """The same oracle over an explicit table of possible truth vectors (rows)."""

    greedy = None  # the exact oracle is cheap here

    def __init__(self, table: np.ndarray):
        self.table = np.asarray(table, dtype=bool)
        self.values = self.table.astype(float)
        self.calls = 0
        self.greedy_calls = 0

    def witness(self, i: int, value: bool) -> tuple[bool, ...] | None:
        rows = np.flatnonzero(self.table[:, i] == value)
        return tuple(bool(v) for v in self.table[rows[0]]) if len(rows) else None

    def minimize(self, weights: Sequence[Any]) -> tuple[Fraction, tuple[bool, ...]]:
        ws = [w if isinstance(w, Fraction) else Fraction(float(w)) for w in weights]
        self.calls += 1
        scores = self.values @ np.array([float(w) for w in ws])
        low = scores.min()
        near = np.flatnonzero(scores <= low + 1e-9 * (1.0 + abs(low)))
        best = None
        for r in near:  # settle near-ties exactly
            row = self.table[r]
            value = sum((w for w, v in zip(ws, row, strict=True) if v), Fraction(0))
            if best is None or value < best[0]:
                best = (value, tuple(bool(v) for v in row))
        return best


# ---------------------------------------------------------------------------
# the correction step: minimise D(V lam || p) over the simplex of the active worlds
# ---------------------------------------------------------------------------
def _slope(mu: np.ndarray, nu: np.ndarray, u: np.ndarray, lp: np.ndarray, b: float) -> float:
    """Directional derivative of ``D(. || p)`` at ``mu`` along ``u``.

    ``+inf`` when a probability is 0 or 1: the search never stops on the boundary, where the
    divergence's gradient is infinite (the minimiser is always strictly inside).
    """
    if (mu <= 0).any() or (nu <= 0).any():
        return math.inf
    return b * float(np.sum((np.log(mu) - np.log(nu) - lp) * u))


def _segment_search(lam: np.ndarray, end: np.ndarray, V: np.ndarray, W: np.ndarray, lp: np.ndarray,
                    b: float) -> np.ndarray:
    """The weights minimising ``D(V x || p)`` on the segment from ``lam`` to ``end`` (exact line search).

    The divergence is convex along the segment; its minimiser is found by safeguarded Newton on
    the slope. Points near an end are parametrised from that end, so a weight that should be tiny
    (a probability pushed close to 0 or 1) is represented exactly instead of cancelling to 0.
    """
    mu_a, nu_a, mu_e, nu_e = V @ lam, W @ lam, V @ end, W @ end
    w, wn = mu_e - mu_a, nu_e - nu_a

    def point(x: float, from_end: bool):
        return (mu_e - x * w, nu_e - x * wn) if from_end else (mu_a + x * w, nu_a + x * wn)

    if not _slope(mu_a, nu_a, w, lp, b) < 0:
        return lam
    if _slope(mu_e, nu_e, w, lp, b) <= 0:
        return end
    from_end = _slope(*point(0.5, False), w, lp, b) < 0
    # the root of the slope lies at x in (0, 0.5], measured from the chosen end
    lo, hi = 0.0, 0.5
    x = 0.25
    for _ in range(200):
        m, n = point(x, from_end)
        d = _slope(m, n, w, lp, b)
        if d == 0:
            break
        toward_far_end = (d < 0) != from_end  # the minimiser lies further from the anchor
        if toward_far_end:
            lo = x
        else:
            hi = x
        if hi - lo <= 4 * _EPS * hi:
            x = hi if from_end else lo  # the side away from a possibly degenerate end
            break
        curv = b * float(np.sum(w * w * (1.0 / np.maximum(m, 1e-300) + 1.0 / np.maximum(n, 1e-300))))
        step = x - (d / curv if not from_end else -d / curv) if math.isfinite(d) and curv > 0 else math.nan
        x = step if lo < step < hi else 0.5 * (lo + hi)
    for _ in range(60):  # round-off must never empty a probability
        new = _renormalise(end + x * (lam - end) if from_end else lam + x * (end - lam))
        if (V @ new > 0).all() and (W @ new > 0).all():
            return new
        x = 2 * x if from_end else 0.5 * x
    return lam


def _active_set(V: np.ndarray, lam: np.ndarray, lp: np.ndarray, b: float, tol: float, max_steps: int = 60):
    """Fast path of :func:`_correct`: an active-set Newton method.

    Newton steps on the face of the active columns plus the best inactive column, with an
    exact line search that stops at the simplex boundary; a pairwise Frank–Wolfe step when the
    Newton direction is blocked. Returns the weights and the gap over the columns.
    """
    W = 1.0 - V
    gap = math.inf
    stalls = 0
    best = best_value = math.inf
    for _ in range(max_steps):
        mu, nu = V @ lam, W @ lam
        g = _gradient(mu, nu, lp, b)
        G = V.T @ g
        j = int(np.argmin(G))
        gap = float(lam @ G - G[j])
        if gap <= max(tol, _floor(g, mu, nu, lp, b)):
            break
        value = math.fsum(_divergence_terms(mu, nu, lp, b))
        progress = gap < 0.9 * best or value < best_value - 16 * _EPS * abs(best_value)
        stalls = 0 if progress else stalls + 1
        best, best_value = min(best, gap), min(best_value, value)
        if stalls > 8:  # neither the gap nor the divergence moves: round-off decides from here
            break
        active = np.flatnonzero(lam > 0)
        h = b * (1.0 / mu + 1.0 / nu)
        step_done = False
        face = active if j in active else np.append(active, j)
        root = np.sqrt(h)
        held = np.zeros(0, dtype=int)
        while len(face) >= 2 and not step_done:
            # Newton on the face; weights that would hit 0 almost at once are held fixed
            ref = face[int(np.argmax(lam[face]))]
            others = face[face != ref]
            B = V[:, others] - V[:, [ref]]
            c = np.linalg.lstsq(root[:, None] * B, -g / root, rcond=None)[0]
            if not float(g @ (B @ c)) < 0:
                break
            d = np.zeros_like(lam)
            d[others] = c
            d[ref] = -c.sum()
            neg = np.flatnonzero(d < 0)
            if not len(neg):
                break
            ratios = -lam[neg] / d[neg]
            tmax = float(ratios.min())
            if tmax < 1e-9:  # a weight already at round-off level blocks the step: hold it
                held = np.union1d(held, neg[ratios < 1e-9])
                face = np.setdiff1d(face, held)
                continue
            end = lam + tmax * d
            end[neg[ratios <= tmax * (1 + 1e-12)]] = 0.0
            new = _segment_search(lam, _renormalise(end), V, W, lp, b)
            if new is not lam:
                lam = new
                step_done = True
            break
        if len(held) or not step_done:
            # pairwise step to the best column: from a weight Newton had to hold near 0, or else
            # from the active column with the most to give
            donors = held[lam[held] > 0] if len(held) and (lam[held] > 0).any() else active
            a = donors[int(np.argmax(lam[donors] * (G[donors] - G[j])))]
            end = lam.copy()
            end[j] += lam[a]
            end[a] = 0.0
            lam = _segment_search(lam, end, V, W, lp, b)
    return lam, gap


def _floor(g: np.ndarray, mu: np.ndarray, nu: np.ndarray, lp: np.ndarray, b: float) -> float:
    """The duality gap that float round-off alone can produce at this point (a stopping floor)."""
    scale = np.abs(g) + b * (np.abs(lp) + np.abs(np.log(mu)) + np.abs(np.log(nu)) + 1.0)
    return 64 * _EPS * float(np.sum(scale))


def _fw_gap(V: np.ndarray, lam: np.ndarray, lp: np.ndarray, b: float) -> float:
    g = _gradient(V @ lam, (1.0 - V) @ lam, lp, b)
    G = V.T @ g
    return float(lam @ G - G.min())


def _correct(V: np.ndarray, lam: np.ndarray, lp: np.ndarray, b: float, tol: float):
    """Re-optimise the convex weights ``lam`` of the columns of ``V`` (0/1 truth vectors).

    The active-set Newton method is fast when the quotes are moderate; when it stalls (quotes
    very close to 0 or 1 make the problem badly conditioned) a barrier method takes over and the
    active-set method polishes its answer. Returns the weights and the gap over the columns.
    """
    fast, gap = _active_set(V, lam, lp, b, tol)
    mu, nu = V @ fast, (1.0 - V) @ fast
    if gap <= max(tol, _floor(_gradient(mu, nu, lp, b), mu, nu, lp, b)):
        return fast, gap
    slow = _barrier(V, fast, lp, b, tol)
    slow, slow_gap = _active_set(V, _tidy(V, slow), lp, b, tol, max_steps=20)
    return (slow, slow_gap) if slow_gap < gap else (fast, gap)


def _barrier(V: np.ndarray, lam: np.ndarray, lp: np.ndarray, b: float, tol: float) -> np.ndarray:
    """Primal barrier method for ``min D(V x || p)`` over the simplex, from a recentred ``lam``.

    Minimises ``D(V x || p) - tau * sum(log x)`` by damped Newton steps (in the variables
    ``x_j (1 + s_j)``, which keeps tiny weights well scaled), shrinking ``tau`` tenfold per stage
    until ``m * tau`` bounds the suboptimality far below ``tol``.
    """
    W = 1.0 - V
    m = V.shape[1]
    x = 0.5 * _renormalise(lam) + 0.5 / m
    tau = max(_fw_gap(V, x, lp, b), 1e-6 * b) / m
    stop = max(1e-3 * tol, 1e-17 * b) / m

    def slope_at(x, d, tau):
        mu, nu = V @ x, W @ x
        if (x <= 0).any() or (mu <= 0).any() or (nu <= 0).any():
            return math.inf
        return float(_gradient(mu, nu, lp, b) @ (V @ d) - tau * np.sum(d / x))

    while True:
        for _ in range(30):
            mu, nu = V @ x, W @ x
            g = _gradient(mu, nu, lp, b)
            grad = V.T @ g - tau / x
            A = np.sqrt(b * (1.0 / mu + 1.0 / nu))[:, None] * V * x[None, :]
            M = A.T @ A + tau * np.eye(m)
            rhs = np.column_stack([-x * grad, x])
            try:
                sol = np.linalg.solve(M, rhs)
            except np.linalg.LinAlgError:
                sol = np.linalg.lstsq(M, rhs, rcond=None)[0]
            nu_ = float(x @ sol[:, 0]) / float(x @ sol[:, 1])
            d = x * (sol[:, 0] - nu_ * sol[:, 1])
            dec = -float(grad @ d)
            if not dec > 1e-3 * tau:
                break
            neg = d < 0
            t = min(1.0, 0.99 * float(np.min(-x[neg] / d[neg]))) if neg.any() else 1.0
            for _ in range(60):
                if slope_at(x + t * d, d, tau) <= 1e-3 * dec:
                    break
                t *= 0.5
            x = _renormalise(x + t * d)
        if tau <= stop:
            return x
        tau *= 0.1


def _renormalise(lam: np.ndarray) -> np.ndarray:
    lam = np.where(lam > 0, lam, 0.0)
    return lam / lam.sum()


def _tidy(V: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Remove round-off from convex weights: drop specks and merge near-equal weights.

    A weight below ``1e-11`` is dropped when that moves no quoted probability (or its
    complement) by more than ``1e-5`` of itself, and weights equal to about 11 digits are made
    exactly equal. Both change the quote by round-off only, but they keep it off the lower-dimensional
    sets (faces, symmetric ties) that it would otherwise miss by a few ulps, which makes
    independent exact re-checks (an LP basis solved in rationals) reproduce it.
    """
    lam = lam.copy()
    mu, nu = V @ lam, (1.0 - V) @ lam
    for j in np.flatnonzero((lam > 0) & (lam < 1e-11)):
        ones = V[:, j] > 0.5
        room = min(np.min(mu[ones], initial=1.0), np.min(nu[~ones], initial=1.0))
        if lam[j] <= 1e-5 * room:
            lam[j] = 0.0
    active = np.flatnonzero(lam > 0)
    order = active[np.argsort(lam[active])]
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or lam[order[end]] - lam[order[start]] > 1e-11 * lam[order[end]]:
            if end - start > 1:
                lam[order[start:end]] = np.mean(lam[order[start:end]])
            start = end
    return _renormalise(lam)


def _exact_structure(columns: np.ndarray, lam: np.ndarray) -> list[tuple[list[int], Fraction]]:
    """Linear equalities that the weights meet up to round-off: ``row . weights = target``.

    Weights or probabilities equal to about 11 significant digits, and probabilities within
    ``1e-12`` (relative) of a fraction with denominator at most 12. A symmetric market has these
    exactly; restoring them exactly keeps the quote off the nearby lower-dimensional sets that an
    independent floating-point re-check (an LP basis solved in rationals) would otherwise snap to.
    """
    out: list[tuple[list[int], Fraction]] = []
    m = len(lam)
    order = np.argsort(lam, kind="stable")
    for x, y in zip(order[:-1], order[1:], strict=True):
        if lam[y] - lam[x] <= 1e-11 * lam[y]:
            row = [0] * m
            row[x], row[y] = 1, -1
            out.append((row, Fraction(0)))
    mu, nu = columns @ lam, (~columns) @ lam
    for a, c in _near_ties(mu, nu):
        row = columns[a].astype(int) - columns[c].astype(int)
        if row.any():
            out.append((row.tolist(), Fraction(0)))
    for i in range(len(mu)):
        target = Fraction(float(mu[i])).limit_denominator(12)
        if 0 < target < 1 and abs(float(target) - mu[i]) <= 1e-12 * min(mu[i], nu[i]):
            out.append((columns[i].astype(int).tolist(), target))
    return out


def _near_ties(mu: np.ndarray, nu: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of coordinates whose probabilities agree to about 11 significant digits."""
    order = np.argsort(mu, kind="stable")
    pairs = []
    for x, y in zip(order[:-1], order[1:], strict=True):
        scale = min(mu[x], nu[x], mu[y], nu[y])
        if abs(mu[y] - mu[x]) <= 1e-11 * scale and abs(nu[y] - nu[x]) <= 1e-11 * scale:
            pairs.append((int(x), int(y)))
    return pairs


def _relative_correction(rows: list[list[int]], base: list[int], scale: int,
                         rhs: list[Fraction]) -> list[Fraction] | None:
    """Exact factors ``f`` with ``sum_j A_kj x_j f_j = rhs_k`` and least ``sum_j x_j f_j^2``.

    ``x_j = base_j / scale`` are the weights; the corrected weights ``x_j (1 + f_j)`` then meet
    the constraints ``A x' = A x + rhs``. Scaling each weight by a small factor (not shifting it)
    keeps tiny weights positive and equal weights equal. Redundant rows are dropped first (a
    pivoted QR in floating point); the answer is solved and re-checked in exact arithmetic
    (python-flint). None when the constraints cannot all be met.
    """
    import flint
    from scipy.linalg import qr

    A = np.array(rows, dtype=np.int64)
    if len(rows) > 1:
        _, R, perm = qr(A.T.astype(float), mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        keep = np.sort(perm[: int(np.sum(diag > 1e-9 * diag[0]))])
    else:
        keep = np.arange(1)
    Ak = A[keep]
    r, m = Ak.shape
    a_mat = flint.fmpz_mat(r, m, [int(v) for v in Ak.ravel()])
    dat = flint.fmpz_mat(m, r, [int(base[j]) * int(Ak[k, j]) for j in range(m) for k in range(r)])
    gram = flint.fmpq_mat(a_mat * dat)  # scale * (A diag(x) A^T)
    target = flint.fmpq_mat(r, 1, [flint.fmpq(rhs[k].numerator * scale, rhs[k].denominator) for k in keep])
    try:
        y = gram.solve(target)
    except ZeroDivisionError:
        return None
    f = flint.fmpq_mat(a_mat.transpose()) * y
    # every constraint, dropped ones included, must hold exactly
    shift = flint.fmpq_mat(m, 1, [f[j, 0] * base[j] for j in range(m)])  # scale * x_j f_j
    full = flint.fmpq_mat(flint.fmpz_mat(len(rows), m, [int(v) for v in A.ravel()])) * shift
    if any(full[k, 0] != flint.fmpq(t.numerator * scale, t.denominator) for k, t in enumerate(rhs)):
        return None
    factors = [Fraction(int(f[j, 0].p), int(f[j, 0].q)) for j in range(m)]
    return factors


def _reduce_support(V: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Carathéodory: drop active columns until they are affinely independent (same point).

    A pivoted QR of the active columns (with a row of ones) finds a dependent column and the
    affine dependency through it; moving the weights along that dependency until one reaches 0
    leaves the point unchanged.
    """
    from scipy.linalg import qr, solve_triangular

    lam = lam.copy()
    while True:
        active = np.flatnonzero(lam > 0)
        if len(active) <= 1:
            return lam
        A = np.vstack([V[:, active], np.ones(len(active))])
        _, R, perm = qr(A, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int(np.sum(diag > 1e-10 * diag[0]))
        if rank >= len(active):
            return lam
        z_perm = np.zeros(len(active))
        z_perm[rank] = 1.0
        z_perm[:rank] = solve_triangular(R[:rank, :rank], -R[:rank, rank])
        z = np.zeros(len(active))
        z[perm] = z_perm
        if not (z > 1e-14).any():
            z = -z
        pos = z > 1e-14
        ratios = lam[active][pos] / z[pos]
        k = int(np.argmin(ratios))
        new = lam[active] - ratios[k] * z
        new[np.flatnonzero(pos)[k]] = 0.0
        trial = lam.copy()
        trial[active] = np.maximum(new, 0.0)
        trial = _renormalise(trial)
        if (V @ trial <= 0).any() or ((1.0 - V) @ trial <= 0).any():
            return lam  # round-off would empty a probability: keep the (valid) larger support
        lam = trial


# ---------------------------------------------------------------------------
# the projection engine (shared by project, exact_projection and the market)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Projection:
    """The projection of independent binary-LMSR prices onto the coherent prices.

    Attributes
    ----------
    sentences : the securities' sentences, in order.
    prices : the independent prices ``p`` that were projected.
    b : the LMSR liquidity.
    mu : the projected (coherent) prices ``mu``, floats (the exact ones rounded to nearest).
    mu_exact : the same prices as exact fractions: an exact convex combination of ``worlds``.
    divergence : ``b * D(mu || p)``, the sum of binary KL divergences times ``b``.
    gap : the Frank–Wolfe duality gap at ``mu``, an upper bound on ``D(mu||p) - D(mu*||p)``
        (times ``b``) computed with an exact oracle and exact rationals.
    error_bound : ``sqrt(gap / (2 b))``, a bound on the Euclidean distance from ``mu`` to the
        exact projection (the divergence is ``4 b``-strongly convex).
    status : ``"converged"`` (gap within tolerance), ``"max_iter"``, ``"stalled"`` (round-off
        stopped progress before the tolerance; the gap is still a valid bound) or
        ``"budget"`` (``max_exact`` exact calls were made; the gap is certified but above the
        tolerance), ``"uncertified"`` (``certify=False``: the fast greedy search found no improving world, no
        exact oracle call was made, and ``gap``, ``error_bound`` and ``guaranteed_profit`` are NaN;
        the quote is still an exact mixture of possible worlds).
    iterations : Frank–Wolfe iterations.
    oracle_calls : exact (weighted MaxSAT) oracle calls, including those that found the fixed
        sentences.
    greedy_calls : fast greedy searches for improving worlds (incremental SAT).
    worlds : the active set, truth values of every sentence in each world.
    weights : exact convex weights of ``worlds`` (they sum to exactly 1).
    arbitrage : the trade ``delta_i = b (logit mu_i - logit p_i)`` that moves each binary LMSR from
        ``p_i`` to ``mu_i``; ``+inf`` / ``-inf`` for entailed / impossible sentences.
    guaranteed_profit : the exact minimum over all possible worlds of the arbitrage trade's payoff
        ``sum_i delta_i [s_i] - sum_i (C_i(q_i + delta_i) - C_i(q_i))`` (entailed and impossible
        sentences contribute their limit ``b log(1/p_i)`` and ``b log(1/(1-p_i))``). When the
        quote is within round-off of the prices, the gap is certified by the box bound (every
        sentence at its worse truth value) instead of a MaxSAT call, and this is that lower bound.
    worst_world : truth values of the sentences in a world attaining ``guaranteed_profit``; empty
        when the box bound certified the gap.
    entailed, impossible : indices of sentences that hold in every / no possible world.
    seconds : wall-clock time.
    """

    sentences: tuple[Sentence, ...] = field(repr=False)
    prices: np.ndarray = field(repr=False)
    b: float
    mu: np.ndarray
    mu_exact: tuple[Fraction, ...] = field(repr=False)
    divergence: float
    gap: float
    error_bound: float
    status: str
    iterations: int
    oracle_calls: int
    greedy_calls: int = field(repr=False)
    worlds: tuple[tuple[bool, ...], ...] = field(repr=False)
    weights: tuple[Fraction, ...] = field(repr=False)
    arbitrage: np.ndarray = field(repr=False)
    guaranteed_profit: float
    worst_world: tuple[bool, ...] = field(repr=False)
    entailed: tuple[int, ...] = field(repr=False)
    impossible: tuple[int, ...] = field(repr=False)
    seconds: float = field(repr=False)

    @property
    def converged(self) -> bool:
        """Whether the duality gap reached the tolerance."""
        return self.status == "converged"

    def payoff(self, world: Sequence[bool]) -> float:
        """The arbitrage trade's payoff in a world given as truth values of the sentences."""
        return _trade_payoff(self.arbitrage, np.log(self.prices) - np.log1p(-self.prices), self.b, world)

    def to_dict(self) -> dict:
        """JSON-ready (non-finite numbers, such as an error bound not known, as None)."""
        return json_safe({
            "sentences": [str(s) for s in self.sentences],
            "prices": self.prices.tolist(),
            "b": self.b,
            "mu": self.mu.tolist(),
            "mu_exact": [str(v) for v in self.mu_exact],
            "divergence": self.divergence,
            "gap": self.gap,
            "error_bound": self.error_bound,
            "status": self.status,
            "iterations": self.iterations,
            "oracle_calls": self.oracle_calls,
            "greedy_calls": self.greedy_calls,
            "worlds": [list(w) for w in self.worlds],
            "weights": [float(w) for w in self.weights],
            "weights_exact": [str(w) for w in self.weights],
            "arbitrage": [float(v) for v in self.arbitrage],
            "guaranteed_profit": self.guaranteed_profit,
            "worst_world": list(self.worst_world),
            "entailed": list(self.entailed),
            "impossible": list(self.impossible),
            "seconds": self.seconds,
        })

    def __repr__(self) -> str:
        mu = ", ".join(f"{v:.6g}" for v in self.mu[:6]) + (", ..." if len(self.mu) > 6 else "")
        return (
            f"Projection(mu=[{mu}], divergence={self.divergence:.6g}, gap={self.gap:.3g}, "
            f"guaranteed_profit={self.guaranteed_profit:.6g}, {self.status} after {self.iterations} "
            f"iterations / {self.oracle_calls} oracle calls, {len(self.worlds)} active worlds)"
        )


def _trade_payoff(delta: np.ndarray, lp: np.ndarray, b: float, world: Sequence[bool]) -> float:
    """Payoff of buying ``delta`` shares from binary LMSRs at states ``b * lp``, in ``world``."""
    total = []
    for d, x, v in zip(delta, lp, world, strict=True):
        if math.isinf(d):  # entailed (+inf) or impossible (-inf): the limit of a growing trade
            total.append(b * _softplus(-x) if d > 0 else b * _softplus(x))
            if (d > 0) != bool(v):
                return -math.inf  # the sentence was held fixed, yet the world disagrees
            continue
        total.append(d * float(bool(v)) - b * (_softplus(x + d / b) - _softplus(x)))
    return math.fsum(total)


class _Engine:
    """Fully-corrective Frank–Wolfe over the polytope of one theory and sentence list.

    Holds the fixed (entailed / impossible) sentences, the oracle and a pool of worlds with
    convex weights, so consecutive projections warm-start from the previous active set.
    """

    def __init__(self, sentences: tuple[Sentence, ...], theory: Theory | None, b: float, oracle_factory,
                 rng: np.random.Generator):
        self.sentences = sentences
        self.theory = theory
        self.b = b
        self.n = len(sentences)
        self.rng = rng
        started = time.perf_counter()
        # which sentences are free, entailed, impossible? a cover of worlds answers it
        full = oracle_factory(list(range(self.n)))
        cover, entailed, impossible = _cover(full, self.n, rng)
        self.setup_calls = full.calls
        self.setup_greedy_calls = full.greedy_calls
        self.entailed = tuple(sorted(entailed))
        self.impossible = tuple(sorted(impossible))
        fixed = set(entailed) | set(impossible)
        self.free = np.array([i for i in range(self.n) if i not in fixed], dtype=int)
        self.fixed_value = np.full(self.n, -1, dtype=int)
        self.fixed_value[list(entailed)] = 1
        self.fixed_value[list(impossible)] = 0
        self.oracle = oracle_factory(self.free.tolist()) if len(self.free) else None
        # the pool of worlds (over the free sentences) and their weights
        self.pool: list[tuple[bool, ...]] = []
        self.index: dict[tuple[bool, ...], int] = {}
        self.V = np.zeros((len(self.free), 0))
        self.lam = np.zeros(0)
        for w in cover:
            self._add(tuple(w[i] for i in self.free))
        self.lam = np.full(len(self.pool), 1.0 / max(len(self.pool), 1))
        self.setup_seconds = time.perf_counter() - started

    # pool ---------------------------------------------------------------------
    def _add(self, world: tuple[bool, ...]) -> bool:
        if world in self.index:
            return False
        self.index[world] = len(self.pool)
        self.pool.append(world)
        self.V = np.column_stack([self.V, np.array(world, dtype=float)])
        self.lam = np.append(self.lam, 0.0)
        return True

    def _prune(self, keep_inactive: int) -> None:
        active = np.flatnonzero(self.lam > 0)
        inactive = np.flatnonzero(self.lam <= 0)[::-1][:keep_inactive]  # the most recent ones
        keep = np.sort(np.concatenate([active, inactive]))
        if len(keep) == len(self.pool):
            return
        self.pool = [self.pool[k] for k in keep]
        self.index = {w: k for k, w in enumerate(self.pool)}
        self.V = self.V[:, keep]
        self.lam = self.lam[keep]

    def coherent_start(self) -> np.ndarray:
        """``logit`` of a coherent quote: the mean of the first worlds found (fixed sentences at +-inf).

        Projecting these prices is exact at once (zero divergence and gradient), so a market can
        open without a full projection.
        """
        lp = np.where(self.fixed_value == 1, math.inf, -math.inf)
        if len(self.free):
            self.lam = _reduce_support(self.V, _renormalise(self.lam))
            _, _, _, _, mu, nu = self._rationalise()
            lp[self.free] = np.log(mu) - np.log(nu)
        return lp

    # exact quote ----------------------------------------------------------------
    def _rationalise(self):
        """Exact rational weights summing to 1, the exact quote, and its nearest floats.

        The float weights are taken exactly, then given the smallest relative correction (in
        exact arithmetic) that makes them sum to 1 and makes quoted probabilities that agree to
        about 11 digits exactly equal, or at a simple fraction (structure that a symmetric market has in
        exact arithmetic).
        """
        lam = _tidy(self.V, _renormalise(self.lam))
        support = np.flatnonzero(lam > 0)
        columns = self.V[:, support] > 0.5
        ratios = [float(lam[k]).as_integer_ratio() for k in support]
        scale = 1 << max(d.bit_length() - 1 for _, d in ratios)
        base = [num * (scale // den) for num, den in ratios]  # weights = base / scale, exactly
        factors = None
        for ties in (True, False):
            # constraints: the weights sum to 1 (and, with ties, the structure round-off blurred)
            rows: list[list[int]] = [[1] * len(support)]
            targets: list[Fraction] = [Fraction(1)]
            if ties:
                for row, target in _exact_structure(columns, lam[support]):
                    rows.append(row)
                    targets.append(target)
            rhs = [t - Fraction(sum(x * v for x, v in zip(base, row, strict=True) if v), scale)
                   for row, t in zip(rows, targets, strict=True)]
            factors = _relative_correction(rows, base, scale, rhs)
            if factors is not None and all(f > -1 for f in factors):
                break
            factors = None
        if factors is None:  # pragma: no cover - the sum alone is always correctable
            raise ArithmeticError("the convex weights could not be made exact")
        weights = [Fraction(x, scale) * (1 + f) for x, f in zip(base, factors, strict=True)]
        scale = math.lcm(*(w.denominator for w in weights))
        ints = [w.numerator * (scale // w.denominator) for w in weights]
        nums = [sum(n for n, v in zip(ints, row, strict=True) if v) for row in columns]
        mu = np.array([x / scale for x in nums], dtype=float)
        nu = np.array([(scale - x) / scale for x in nums], dtype=float)
        new = np.zeros_like(lam)
        new[support] = [n / scale for n in ints]
        self.lam = new
        return support, ints, scale, nums, mu, nu

    # the projection -------------------------------------------------------------
    def solve(self, lp_all: np.ndarray, tol: float, max_iter: int, prices: np.ndarray | None = None,
              certify: bool = True, max_exact: int | None = None) -> Projection:
        from threadpoolctl import threadpool_limits

        # hundreds of small least-squares solves: threaded BLAS only adds contention (8x slower
        # on a busy 2-core machine at 100 securities)
        with threadpool_limits(limits=1, user_api="blas"):
            return self._solve(lp_all, tol, max_iter, prices, certify, max_exact)

    def _solve(self, lp_all: np.ndarray, tol: float, max_iter: int, prices: np.ndarray | None,
               certify: bool, max_exact: int | None) -> Projection:
        started = time.perf_counter()
        b = self.b
        lp = lp_all[self.free]
        calls0 = self.oracle.calls if self.oracle is not None else 0
        greedy0 = self.oracle.greedy_calls if self.oracle is not None else 0
        iterations, status = 0, "converged"
        k = len(self.free)
        best_value: Fraction | None = Fraction(0)
        if k == 0:
            support, ints, scale, nums = [], [1], 1, []
            mu = nu = g = np.zeros(0)
            best_world, gap_exact = (), Fraction(0)
            worlds_free = [()]
        elif (inside := self._inside(lp)) is not None:
            # the prices are coherent: they are their own projection, certified by a distribution
            support, ints, scale, nums, mu, nu = inside
            g = np.zeros(k)
            worlds_free = [self.pool[j] for j in support]
            best_world, gap_exact = worlds_free[0], Fraction(0)
            iterations = 0
        else:
            retried = False
            while True:
                iterations += 1
                self.lam, _ = _correct(self.V, self.lam, lp, b, tol=0.0 if retried else 1e-3 * tol * b)
                # affinely independent active worlds: a minimal certificate, and a quote that any
                # exact re-check (e.g. an LP basis) reproduces without degenerate ties
                self.lam = _reduce_support(self.V, self.lam)
                support, ints, scale, nums, mu, nu = self._rationalise()
                g = _gradient(mu, nu, lp, b)
                div = math.fsum(_divergence_terms(mu, nu, lp, b))
                threshold = max(tol * max(b, div), _floor(g, mu, nu, lp, b))
                # the box bound: no world pays less than the sum of the negative weights, so a
                # quote within round-off of the prices is certified without a MaxSAT call
                exact_g = [Fraction(float(gi)) for gi in g]
                inner = sum((gi * x for gi, x in zip(exact_g, nums, strict=True)), Fraction(0)) / scale
                box = sum((gi for gi in exact_g if gi < 0), Fraction(0))
                if float(inner - box) <= threshold:
                    best_value, best_world, gap_exact = box, (), inner - box
                    status = "converged"
                    break
                last = iterations >= max_iter
                if self.oracle.greedy is not None and not last:
                    # lazy step: a fast greedy world that already beats the tolerance is added
                    # without an exact (and, on large theories, slow) oracle call
                    # in the gradient's order first, then in perturbed orders
                    if any(float(g @ mu) - value > threshold and self._add(world)
                           for value, world in (self.oracle.greedy(g, self.rng, 0.0 if j == 0 else _NOISE)
                                                for j in range(_GREEDY_TRIES))):
                        retried = False
                        self._prune(keep_inactive=max(2 * k, 16))
                        continue
                if not certify:
                    status = "max_iter" if last else "uncertified"
                    best_value = None
                    break
                best_value, best_world = self.oracle.minimize(g)
                gap_exact = inner - best_value
                if float(gap_exact) <= threshold:
                    status = "converged"
                    break
                if last:
                    status = "max_iter"
                    break
                if max_exact is not None and self.oracle.calls - calls0 >= max_exact:
                    status = "budget"
                    break
                if not self._add(best_world):
                    if retried:
                        status = "stalled"
                        break
                    retried = True  # the correction stopped early: run it to round-off once more
                    continue
                retried = False
                self._prune(keep_inactive=max(2 * k, 16))
            worlds_free = [self.pool[j] for j in support]
        if best_value is None:  # no exact oracle call at this point: nothing is certified
            best_world, gap_exact = (), None
        return self._result(lp_all, lp, prices, mu, nu, g, support, ints, scale, nums, worlds_free,
                            best_value, best_world, gap_exact, status, iterations,
                            (self.oracle.calls if self.oracle is not None else 0) - calls0,
                            (self.oracle.greedy_calls if self.oracle is not None else 0) - greedy0, started)

    def _inside(self, lp: np.ndarray):
        """When the free sentences' prices ``sigmoid(lp)`` are coherent, a distribution reproducing them
        exactly (:func:`deepmarkets.logic.coherence.find_distribution`, warm-started from the pool) as
        ``(support, ints, scale, nums, mu, nu)`` like :meth:`_rationalise`; else None (Frank–Wolfe
        then runs). Prices that round to 0 or 1 in floating point are left to Frank–Wolfe."""
        from deepmarkets.logic.coherence import find_distribution

        if not isinstance(self.oracle, _Z3Oracle) or len(set(self.oracle.sentences)) < len(self.oracle.sentences):
            return None
        sig = 1.0 / (1.0 + np.exp(-lp))
        if not np.all((sig > 0) & (sig < 1)):
            return None
        prices = [Fraction(float(v)) for v in sig]
        found = find_distribution(zip(self.oracle.sentences, prices, strict=True), self.oracle.theory,
                                  worlds=self.pool, search=self.oracle.search)
        if found is None:
            return None
        for _, w in found:
            self._add(w)
        support = np.array([self.index[w] for _, w in found])
        scale = math.lcm(*(p.denominator for p, _ in found), *(p.denominator for p in prices))
        ints = [p.numerator * (scale // p.denominator) for p, _ in found]
        nums = [p.numerator * (scale // p.denominator) for p in prices]
        self.lam = np.zeros(len(self.pool))
        self.lam[support] = [float(p) for p, _ in found]
        mu = np.array([x / scale for x in nums], dtype=float)
        nu = np.array([(scale - x) / scale for x in nums], dtype=float)
        return support, ints, scale, nums, mu, nu

    def _result(self, lp_all, lp, prices, mu, nu, g, support, ints, scale, nums, worlds_free, best_value,
                best_world, gap_exact, status, iterations, calls, greedy_calls, started) -> Projection:
        b, n = self.b, self.n
        free_pos = {int(i): r for r, i in enumerate(self.free)}
        mu_all = np.empty(n)
        mu_exact: list[Fraction] = []
        delta = np.empty(n)
        for i in range(n):
            if self.fixed_value[i] >= 0:
                mu_all[i] = float(self.fixed_value[i])
                mu_exact.append(Fraction(int(self.fixed_value[i])))
                delta[i] = math.inf if self.fixed_value[i] == 1 else -math.inf
            else:
                r = free_pos[i]
                mu_all[i] = mu[r]
                mu_exact.append(Fraction(nums[r], scale))
                delta[i] = g[r]
        worlds = tuple(
            tuple(bool(self.fixed_value[i]) if self.fixed_value[i] >= 0 else w[free_pos[i]] for i in range(n))
            for w in worlds_free
        )
        weights = tuple(Fraction(x, scale) for x in ints)
        fixed_terms = [b * _softplus(-lp_all[i]) if self.fixed_value[i] == 1 else b * _softplus(lp_all[i])
                       for i in range(n) if self.fixed_value[i] >= 0]
        div = math.fsum([*_divergence_terms(mu, nu, lp, b), *fixed_terms])
        # the arbitrage trade's worst case: exact min of sum delta_i [s_i] (the last oracle call) minus costs
        costs = b * (_softplus(np.log(mu) - np.log(nu)) - _softplus(lp)) if len(mu) else np.zeros(0)
        if best_value is None:  # uncertified: no exact minimum over the worlds was computed
            profit = gap = math.nan
            worst: tuple[bool, ...] = ()
        else:
            profit = float(best_value) - math.fsum(costs) + math.fsum(fixed_terms)
            worst = (tuple(bool(self.fixed_value[i]) if self.fixed_value[i] >= 0 else best_world[free_pos[i]]
                           for i in range(n)) if len(best_world) == len(self.free) else ())  # () for the box bound
            gap = max(float(gap_exact), 0.0)
        if prices is None:
            prices = 1.0 / (1.0 + np.exp(-lp_all))
        return Projection(
            sentences=self.sentences, prices=np.asarray(prices, dtype=float), b=b, mu=mu_all,
            mu_exact=tuple(mu_exact), divergence=div, gap=gap, error_bound=math.sqrt(gap / (2 * b)),
            status=status, iterations=iterations, oracle_calls=calls, greedy_calls=greedy_calls,
            worlds=worlds, weights=weights,
            arbitrage=delta, guaranteed_profit=profit, worst_world=worst, entailed=self.entailed,
            impossible=self.impossible, seconds=time.perf_counter() - started,
        )


def _cover(oracle, n: int, rng: np.random.Generator):
    """Worlds in which every non-fixed sentence is true in one and false in another.

    Greedy worlds that prefer the still-missing truth values (in a random order) settle most
    sentences at once; each sentence left over gets one satisfiability question. A sentence with
    no world making it true is impossible; one with no world making it false is entailed.
    """
    need_true, need_false = set(range(n)), set(range(n))
    worlds = []
    entailed, impossible = set(), set()

    def settle(world) -> bool:
        got_true = {i for i in need_true if world[i]}
        got_false = {i for i in need_false if not world[i]}
        if got_true or got_false:
            worlds.append(world)
            need_true.difference_update(got_true)
            need_false.difference_update(got_false)
        return bool(got_true or got_false)

    while need_true or need_false:
        weights = np.array([(-1.0 if i in need_true else 0.0) + (1.0 if i in need_false else 0.0)
                            for i in range(n)]) * rng.uniform(1.0, 2.0, n)
        if oracle.greedy is not None and weights.any() and settle(oracle.greedy(weights)[1]):
            continue
        i, value = (min(need_true), True) if need_true else (min(need_false), False)
        world = oracle.witness(i, value)
        if world is None:
            (impossible if value else entailed).add(i)
            (need_true if value else need_false).discard(i)
        elif not settle(world):  # pragma: no cover - a witness always settles its own sentence
            raise AssertionError("a witness world settled nothing")
    return worlds, entailed, impossible


def _z3_factory(theory: Theory, sentences: tuple[Sentence, ...]):
    return lambda idx: _Z3Oracle(theory, [sentences[i] for i in idx])


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------
def project(
    prices: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    theory: Theory | Iterable[Any] | None = None,
    *,
    b: float = 1.0,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    certify: bool = True,
    max_exact: int | None = None,
    rng: int | np.random.Generator | None = None,
) -> Projection:
    """Project independent binary-LMSR prices onto the coherent prices (the marginal polytope).

    Parameters
    ----------
    prices : mapping or pairs
        ``{sentence: price}`` or ``(sentence, price)`` pairs, as for
        :func:`~deepmarkets.logic.check_coherence` (:mod:`deepmarkets.logic.prices`); sentences may
        be :class:`~deepmarkets.logic.Sentence` objects, text, z3 or sympy Booleans. Each priced
        sentence is a security paying 1 when it holds; each price is strictly between 0 and 1.
        The projection's arrays (``mu``, ``trade`` ...) follow the prices' order.
    theory : Theory or iterable of sentences, optional
        Axioms restricting the possible worlds.
    b : float
        Liquidity of each binary LMSR; the divergence and the trade scale with it.
    tol : float
        Stop when the duality gap is at most ``tol * max(b, divergence)``.
    max_iter : int
        Cap on Frank–Wolfe iterations.
    certify : bool
        With ``True`` (default) the projection ends with an exact weighted MaxSAT call that
        certifies the duality gap and the arbitrage's guaranteed profit; improving worlds are
        first sought by a fast greedy search, so most iterations skip the exact call. With
        ``False`` no exact call is made (much faster when the theory is large and the exact
        oracle slow): the quote is still exactly coherent, but its distance to the projection and
        the profit are not certified (status ``"uncertified"``).
    max_exact : int, optional
        At most this many exact oracle calls; the last one certifies the gap reached, which may
        then exceed ``tol`` (status ``"budget"``). Bounds the time of a projection on theories
        where each exact call takes seconds.
    rng : int, Generator or None
        Randomness for the first worlds (the result does not depend on it beyond ``tol``).

    Returns
    -------
    Projection

    Raises
    ------
    DeclarationError
        Prices not in one of those shapes (naming the item), a price outside (0, 1), bad ``b`` or
        ``tol``, no prices or an inconsistent theory.
    SolverUnknownError
        z3 hit the theory's resource limit.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> r = project({a: 0.6, b: 0.7, a & b: 0.2})
    >>> [round(float(v), 6) for v in r.mu]
    [0.561215, 0.665506, 0.22672]
    >>> round(r.divergence, 7), r.guaranteed_profit >= r.divergence - r.gap - 1e-12
    (0.0080409, True)
    """
    sents, p = _check_priced(prices)
    b = _check_b(b)
    tol, max_iter = _check_tol(tol, max_iter)
    lp = _check_prices(p, len(sents))
    th = _check_theory(theory)
    engine = _Engine(sents, th, b, _z3_factory(th, sents), as_rng(rng))
    out = engine.solve(lp, tol, max_iter, prices=p, certify=bool(certify), max_exact=_check_max_exact(max_exact))
    return _with_setup(out, engine)


def _with_setup(out: Projection, engine: _Engine) -> Projection:
    from dataclasses import replace

    return replace(out, oracle_calls=out.oracle_calls + engine.setup_calls,
                   greedy_calls=out.greedy_calls + engine.setup_greedy_calls,
                   seconds=out.seconds + engine.setup_seconds)


def _truth_table(sentences: tuple[Sentence, ...], theory: Theory | None) -> np.ndarray:
    from deepmarkets.logic.testing import possible_truth_table

    return possible_truth_table(list(sentences), theory)


def exact_projection(
    prices: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    theory: Theory | Iterable[Any] | None = None,
    *,
    b: float = 1.0,
    table: np.ndarray | None = None,
    tol: float = 1e-15,
) -> Projection:
    """The same projection by enumerating every possible world (a baseline for small ``n``).

    The truth table of the sentences over all assignments of their atoms (at most 22 atoms) is
    the vertex list; the convex programme is solved over it to a duality gap of about ``tol``
    and the gap and guaranteed profit are minima over the whole table.

    Parameters
    ----------
    prices, theory, b
        As in :func:`project`.
    table : array of bool, optional
        A precomputed ``possible_truth_table(sentences, theory)`` of the priced sentences in
        the prices' order (rows are possible worlds).
    tol : float
        Relative duality-gap target.

    Returns
    -------
    Projection
        ``oracle_calls`` counts scans of the table.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> r = exact_projection({a: 0.6, b: 0.7, a & b: 0.2})
    >>> round(r.divergence, 7), r.gap < 1e-14
    (0.0080409, True)
    """
    sents, p = _check_priced(prices)
    b = _check_b(b)
    tol, _ = _check_tol(tol, 1)
    lp = _check_prices(p, len(sents))
    th = _check_theory(theory)
    if table is None:
        table = _truth_table(sents, th)
    table = np.unique(np.asarray(table, dtype=bool), axis=0)
    if table.ndim != 2 or table.shape[1] != len(sents) or len(table) == 0:
        raise DeclarationError(f"table must be a non-empty (worlds, {len(sents)}) boolean array")
    engine = _Engine(sents, None, b, lambda idx: _TableOracle(table[:, idx]), np.random.default_rng(0))
    out = engine.solve(lp, tol, 100_000, prices=p)
    return _with_setup(out, engine)


def world_lmsr_prices(
    q: Sequence[float] | np.ndarray,
    sentences: Sequence[Any],
    theory: Theory | Iterable[Any] | None = None,
    b: float = 1.0,
    *,
    table: np.ndarray | None = None,
) -> np.ndarray:
    """Prices of the LMSR over all possible worlds (a baseline; at most 22 atoms).

    ``C(q) = b log sum_w exp(<q, phi(w)> / b)`` over every assignment of the atoms that the theory
    allows; the price of security ``i`` is the probability of ``sentences[i]`` under the
    softmax distribution over worlds.

    Parameters
    ----------
    q : sequence of float
        Outstanding shares of each security.
    sentences, theory, b
        As in :func:`project`.
    table : array of bool, optional
        A precomputed ``possible_truth_table(sentences, theory)`` (one row per possible assignment).

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> world_lmsr_prices([0.0, 0.0, 0.0], [a, b, a & b]).tolist()
    [0.5, 0.5, 0.25]
    """
    sents = _check_sentences(sentences)
    b = _check_b(b)
    qs = np.asarray([float(v) for v in q], dtype=float)
    if qs.shape != (len(sents),) or not np.all(np.isfinite(qs)):
        raise DeclarationError(f"q must hold {len(sents)} finite share counts, got {list(q)!r}")
    if table is None:
        table = _truth_table(sents, _check_theory(theory))
    table = np.asarray(table, dtype=bool)
    if table.ndim != 2 or table.shape[1] != len(sents) or len(table) == 0:
        raise DeclarationError(f"table must be a non-empty (worlds, {len(sents)}) boolean array")
    scores = table @ (qs / b)
    weights = np.exp(scores - scores.max())
    return (weights @ table) / weights.sum()


# ---------------------------------------------------------------------------
# the market
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TradeRecord:
    """One trade in an :class:`ArbitrageFreeMarket` and the re-projection that followed."""

    security: int
    sentence: Sentence
    trader: str
    quantity: float
    cost: float
    price_before: float
    price_after: float
    divergence: float
    guaranteed_profit: float
    gap: float
    status: str
    iterations: int
    oracle_calls: int
    active_worlds: int
    seconds: float

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["sentence"] = str(self.sentence)
        return json_safe(out)

    def __repr__(self) -> str:
        return (
            f"TradeRecord(buy {self.quantity:g} of #{self.security} ({self.sentence}) for {self.cost:.6g}; "
            f"price {self.price_before:.6g} -> {self.price_after:.6g}; arbitrage profit >= "
            f"{self.guaranteed_profit:.3g}; {self.oracle_calls} oracle calls, {self.seconds * 1e3:.1f} ms)"
        )


@dataclass(frozen=True)
class QuoteCertificate:
    """Worlds and exact convex weights whose combination is exactly the quoted price vector."""

    sentences: tuple[Sentence, ...] = field(repr=False)
    worlds: tuple[tuple[bool, ...], ...]
    weights: tuple[Fraction, ...]
    prices: tuple[Fraction, ...] = field(repr=False)

    def verify(self, theory: Theory | None = None) -> bool:
        """Re-check in exact arithmetic: weights are >= 0, sum to 1 and reproduce the prices.

        With ``theory``, also ask z3 that each world is possible.
        """
        if any(w < 0 for w in self.weights) or sum(self.weights, Fraction(0)) != 1:
            return False
        for i, p in enumerate(self.prices):
            if sum((w for w, world in zip(self.weights, self.worlds, strict=True) if world[i]), Fraction(0)) != p:
                return False
        if theory is not None:
            oracle = WorldOracle(theory)  # one z3 solver, each world checked under assumptions
            for world in self.worlds:
                if not oracle.possible(*self.sentences, values=world, what="whether a certificate's world is possible"):
                    return False
        return True

    def to_dict(self) -> dict:
        return {
            "sentences": [str(s) for s in self.sentences],
            "worlds": [list(w) for w in self.worlds],
            "weights": [str(w) for w in self.weights],
            "prices": [str(p) for p in self.prices],
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{float(w):.4g}" for w in self.weights[:6]) + (", ..." if len(self.weights) > 6 else "")
        return f"QuoteCertificate({len(self.worlds)} possible worlds with exact weights [{shown}])"


class ArbitrageFreeMarket:
    """A combinatorial market of binary LMSRs whose quotes are always coherent.

    Security ``i`` pays 1 when ``sentences[i]`` holds. A trader buys shares of one security at
    its binary LMSR's cost; the maker then projects the independent prices back onto the
    coherent prices (Frank–Wolfe warm-started from the previous active worlds: one exact z3 call
    for a small move, a few for a large one) and executes the arbitrage trade, which earns at
    least the divergence in every possible world. The quotes are exact convex combinations of
    possible worlds (see :meth:`certificate`).

    Parameters
    ----------
    sentences : sequence of sentence-like
        The securities.
    theory : Theory or iterable of sentences, optional
        Axioms restricting the possible worlds.
    b : float
        Liquidity of each binary LMSR.
    tol, max_iter, certify, max_exact : float, int, bool, int or None
        As in :func:`project`; ``certify=False`` skips the exact oracle (quotes stay exactly
        coherent, their optimality and the arbitrage profit are not certified); ``max_exact``
        caps the exact oracle calls per trade (the gap reached is still certified).
    prices : sequence of float, optional
        Initial independent prices, projected before the first trade. By default the market
        opens at a coherent quote (the mean of a few possible worlds), which needs no projection.
    rng : int, Generator or None
        Randomness for the first worlds.

    Examples
    --------
    >>> from deepmarkets.logic import atoms, Theory
    >>> a, b = atoms("a b")
    >>> m = ArbitrageFreeMarket([a, b, a | b], Theory([a.implies(b)]))
    >>> cost = m.trade("a", 2.0)                  # buy 2 shares of "a"
    >>> p = m.prices()
    >>> bool(p["a"] <= p["b"])                    # a implies b, so P(a) <= P(b)
    True
    >>> m.check().verdict.value
    'coherent'
    """

    def __init__(
        self,
        sentences: Sequence[Any],
        theory: Theory | Iterable[Any] | None = None,
        *,
        b: float = 1.0,
        tol: float = DEFAULT_TOL,
        max_iter: int = DEFAULT_MAX_ITER,
        prices: Sequence[float] | None = None,
        certify: bool = True,
        max_exact: int | None = None,
        rng: int | np.random.Generator | None = None,
    ):
        self.sentences = _check_sentences(sentences)
        self.certify = bool(certify)
        self.max_exact = _check_max_exact(max_exact)
        self.b = _check_b(b)
        self.tol, self.max_iter = _check_tol(tol, max_iter)
        self.theory = _check_theory(theory)
        n = len(self.sentences)
        lp = None if prices is None else _check_prices(prices, n)
        self._engine = _Engine(self.sentences, self.theory, self.b, _z3_factory(self.theory, self.sentences),
                               as_rng(rng))
        if lp is None:
            lp = self._engine.coherent_start()
        self.records: list[TradeRecord] = []
        self.cash = 0.0
        self.arbitrage_profit = 0.0
        self.initial = _with_setup(self._engine.solve(lp, self.tol, self.max_iter, certify=self.certify,
                                                      max_exact=self.max_exact), self._engine)
        self._set_quote(self.initial)

    def _set_quote(self, proj: Projection) -> None:
        self.last = proj
        self._mu = proj.mu.copy()
        self._mu_exact = proj.mu_exact
        # logit of the quotes, accurately near 0 and 1 (from the exact fractions)
        self._logit = np.array([
            math.inf if v == 1 else -math.inf if v == 0 else math.log(float(v)) - math.log(float(1 - v))
            for v in proj.mu_exact
        ])

    # quotes ------------------------------------------------------------------
    @property
    def securities(self) -> tuple[str, ...]:
        """The securities' names: the sentences as text, in order."""
        return tuple(str(s) for s in self.sentences)

    def prices(self) -> pd.Series:
        """The quoted coherent prices by security (floats nearest to :attr:`prices_exact`)."""
        return pd.Series(self._mu.copy(), index=list(self.securities), name="price", dtype=float)

    @property
    def prices_exact(self) -> tuple[Fraction, ...]:
        """The quoted prices as exact fractions (an exact convex combination of possible worlds)."""
        return self._mu_exact

    @property
    def state(self) -> np.ndarray:
        """The binary LMSR states ``q_i = b logit(price_i)`` (``+-inf`` for fixed sentences)."""
        return self.b * self._logit

    def index(self, security: Any) -> int:
        """The index of a security given by index or by sentence."""
        if isinstance(security, (int, np.integer)) and not isinstance(security, bool):
            i = int(security)
            if not 0 <= i < len(self.sentences):
                raise DeclarationError(
                    f"unknown security index {i}; the market has securities 0..{len(self.sentences) - 1}"
                )
            return i
        try:
            s = sentence(security)
        except DeclarationError:
            raise DeclarationError(
                f"unknown security {security!r}: give an index or one of the market's sentences"
            ) from None
        for i, t in enumerate(self.sentences):
            if t == s:
                return i
        raise DeclarationError(f"unknown security {s}: the market trades {', '.join(map(str, self.sentences[:8]))}"
                               + (", ..." if len(self.sentences) > 8 else ""))

    def price(self, security: Any) -> float:
        """The quoted price of one security (index or sentence)."""
        return float(self._mu[self.index(security)])

    def quote(self, security: Any, quantity: float) -> float:
        """What buying ``quantity`` shares would cost now (negative: selling pays the trader); nothing is traded."""
        i = self.index(security)
        x = _check_quantity(quantity)
        return self._cost(i, x)

    def _cost(self, i: int, x: float) -> float:
        z = self._logit[i]
        if math.isinf(z):
            return x if z > 0 else 0.0
        return float(self.b * (_softplus(z + x / self.b) - _softplus(z)))

    # trading -----------------------------------------------------------------
    def trade(self, security: Any, quantity: float, trader: str | None = None) -> float:
        """Buy ``quantity`` shares (sell when negative) of one security; returns the cost paid.

        The cost is the binary LMSR's ``C(q_i + x) - C(q_i)`` at the current quote; then the maker
        re-projects all quotes and executes the arbitrage trade (recorded in :attr:`records`; the
        trade itself in :attr:`history`).
        """
        started = time.perf_counter()
        i = self.index(security)
        x = _check_quantity(quantity)
        before = float(self._mu[i])
        cost = self._cost(i, x)
        if math.isinf(self._logit[i]) or x == 0:
            proj = None
        else:
            lp = self._logit.copy()
            lp[i] += x / self.b  # fixed sentences keep +-inf: they stay at 1 or 0 and add no divergence
            proj = self._engine.solve(lp, self.tol, self.max_iter, certify=self.certify, max_exact=self.max_exact)
            self._set_quote(proj)
            if math.isfinite(proj.guaranteed_profit):
                self.arbitrage_profit += proj.guaranteed_profit
        self.cash += cost
        self.records.append(TradeRecord(
            security=i, sentence=self.sentences[i], trader="anonymous" if trader is None else str(trader),
            quantity=x, cost=cost, price_before=before,
            price_after=float(self._mu[i]), divergence=proj.divergence if proj else 0.0,
            guaranteed_profit=proj.guaranteed_profit if proj else 0.0, gap=proj.gap if proj else 0.0,
            status=proj.status if proj else "converged", iterations=proj.iterations if proj else 0,
            oracle_calls=proj.oracle_calls if proj else 0, active_worlds=len(self.last.worlds),
            seconds=time.perf_counter() - started,
        ))
        return cost

    @property
    def history(self) -> pd.DataFrame:
        """The trades as a trades-book table.

        Columns ``time``, ``trader``, ``security``, ``quantity`` and ``price`` (cost per share);
        ``Book.from_frame(m.history)`` reads it. The re-projections are in :attr:`records`.
        """
        rows = [(float(t), r.trader, str(r.sentence), r.quantity, r.cost / r.quantity if r.quantity else r.price_before)
                for t, r in enumerate(self.records)]
        return pd.DataFrame(rows, columns=list(TRADE_HISTORY_COLUMNS)).astype({"time": float, "quantity": float,
                                                                       "price": float})

    # certificates ------------------------------------------------------------
    def certificate(self) -> QuoteCertificate:
        """The active set: possible worlds and exact weights whose mixture is exactly the quote."""
        return QuoteCertificate(self.sentences, self.last.worlds, self.last.weights, self._mu_exact)

    def check(self, **kwargs):
        """Certify the quote with :func:`deepmarkets.logic.check_coherence` (exact prices).

        The active worlds are passed as starting columns when ``check_coherence`` accepts them.
        Its floating-point LP can answer UNKNOWN for quotes within about ``1e-7`` of 0 or 1 (a
        world weight that small); :meth:`certificate` is exact in every case.
        """
        from deepmarkets.logic.coherence import check_coherence

        if "worlds" in inspect.signature(check_coherence).parameters and "worlds" not in kwargs:
            kwargs["worlds"] = list(self.last.worlds)
        return check_coherence(list(zip(self.sentences, self._mu_exact, strict=True)), self.theory, **kwargs)

    def to_dict(self) -> dict:
        return {
            "sentences": [str(s) for s in self.sentences],
            "b": self.b,
            "prices": self._mu.tolist(),
            "prices_exact": [str(v) for v in self._mu_exact],
            "trades": len(self.records),
            "cash": self.cash,
            "arbitrage_profit": self.arbitrage_profit,
            "active_worlds": len(self.last.worlds),
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{s}: {p:.4g}" for s, p in zip(self.sentences[:4], self._mu, strict=False))
        more = ", ..." if len(self.sentences) > 4 else ""
        return (f"ArbitrageFreeMarket({len(self.sentences)} securities, b={self.b:g}, {len(self.records)} trades; "
                f"{shown}{more})")


def _check_quantity(quantity: Any) -> float:
    return finite_float(quantity, "quantity", hint="quantity is a number of shares, negative to sell")
