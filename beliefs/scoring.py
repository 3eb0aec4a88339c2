"""Scoring rules for categorical outcomes, their properness, and market scoring rules.

A scoring rule ``S(p, w)`` rewards a forecast ``p`` (a probability vector over
``n`` outcomes) when outcome ``w`` happens. It is *proper* when reporting one's
belief maximises the expected score: ``E_r[S(p, .)] <= E_r[S(r, .)]``. A market
scoring rule (Hanson) pays a trader who moves the market forecast from ``p`` to
``p'`` the difference ``S(p', w) - S(p, w)``; LMSR is the log market scoring rule.

Each rule is a sympy definition (:meth:`ScoringRule.expression`); the numeric
:meth:`ScoringRule.score` is vectorised numpy, tested against it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy

from deepmarkets.beliefs.properties import PropertyCheck
from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, to_rational
from deepmarkets.helpers.validate import positive_float, whole_number

__all__ = ["ScoringRule", "LogScore", "QuadraticScore", "SphericalScore", "is_proper", "msr_payout"]

_SIMPLEX_TOL = 1e-9


def _scale(value: Any, rule: str) -> float:
    return positive_float(value, f"{rule} b", hint="b is the scale of the score")


class ScoringRule:
    """A scoring rule for ``n`` categorical outcomes, defined with sympy.

    Parameters
    ----------
    formula : callable
        ``formula(p, w)`` returns the score as a sympy expression of the symbols
        ``p`` (a tuple of ``n`` symbols) when outcome ``w`` (an int) happens.
    name : str
        A label.

    Examples
    --------
    >>> import sympy
    >>> linear = ScoringRule(lambda p, w: p[w], name="linear")
    >>> linear.expression(3, 1)
    p1
    >>> linear.score([0.2, 0.5, 0.3], 1)
    0.5
    """

    def __init__(self, formula: Callable[[tuple[sympy.Symbol, ...], int], sympy.Expr], *, name: str = "custom"):
        if not callable(formula):
            raise DeclarationError(
                f"formula must be a function (p, w) -> sympy expression, got {type(formula).__name__}"
            )
        self.formula = formula
        self.name = str(name)
        self._compiled: dict[tuple[int, int], Callable] = {}

    def __repr__(self) -> str:
        return f"ScoringRule({self.name})"

    @staticmethod
    def symbols(n: int) -> tuple[sympy.Symbol, ...]:
        """The forecast symbols ``p0 .. p{n-1}`` (positive)."""
        return sympy.symbols(f"p0:{n}", positive=True)

    def expression(self, n: int, outcome: int) -> sympy.Expr:
        """The score ``S(p, outcome)`` as a sympy expression of :meth:`symbols`."""
        n = _n(n)
        if not 0 <= int(outcome) < n:
            raise DeclarationError(f"outcome must be in 0..{n - 1}, got {outcome!r}")
        expr = sympy.sympify(self.formula(self.symbols(n), int(outcome)))
        if not isinstance(expr, sympy.Expr):
            raise DeclarationError(f"{self!r}: the formula must return a sympy expression, got {expr!r}")
        extra = expr.free_symbols - set(self.symbols(n))
        if extra:
            raise DeclarationError(
                f"{self!r}: the score uses {', '.join(sorted(map(str, extra)))}; it may only use the forecast p"
            )
        return expr

    def _numeric(self, P: np.ndarray, w: np.ndarray) -> np.ndarray:
        n = P.shape[1]
        out = np.empty(P.shape[0])
        for k in np.unique(w):
            key = (n, int(k))
            if key not in self._compiled:
                self._compiled[key] = sympy.lambdify(self.symbols(n), self.expression(n, int(k)), "numpy")
            rows = w == k
            with np.errstate(all="ignore"):
                out[rows] = np.broadcast_to(np.asarray(self._compiled[key](*P[rows].T), dtype=float), (rows.sum(),))
        return out

    def score(self, p: Any, outcome: Any) -> np.ndarray | float:
        """The score of forecast(s) ``p`` when ``outcome`` happens.

        Parameters
        ----------
        p : array_like, shape (n,) or (T, n)
            Probability vectors (nonnegative, summing to 1 within 1e-9).
        outcome : int or array_like of int, shape (T,)
            The outcome index for each forecast.

        Returns
        -------
        float or ndarray
            The scores; the log score of a zero probability is ``-inf``.
        """
        P, w, single = _forecasts(p, outcome)
        out = self._numeric(P, w)
        return float(out[0]) if single else out


class LogScore(ScoringRule):
    """The logarithmic score ``b log p_w`` (strictly proper; LMSR's market scoring rule).

    Examples
    --------
    >>> LogScore(b=2).expression(2, 0)
    2*log(p0)
    >>> round(LogScore().score([0.25, 0.75], 1), 6)
    -0.287682
    """

    def __init__(self, b: float = 1.0):
        self.b = _scale(b, "LogScore")
        b_ = to_rational(self.b)
        super().__init__(lambda p, w: b_ * sympy.log(p[w]), name=f"log(b={self.b:g})")

    def __repr__(self) -> str:
        return f"LogScore(b={self.b:g})"

    def _numeric(self, P, w):
        with np.errstate(divide="ignore"):
            return self.b * np.log(P[np.arange(len(w)), w])


class QuadraticScore(ScoringRule):
    """The quadratic (Brier) score ``b (2 p_w - sum_i p_i^2)`` (strictly proper).

    Examples
    --------
    >>> QuadraticScore().expression(2, 0)
    -p0**2 + 2*p0 - p1**2
    >>> QuadraticScore().score([0.5, 0.5], 0)
    0.5
    """

    def __init__(self, b: float = 1.0):
        self.b = _scale(b, "QuadraticScore")
        b_ = to_rational(self.b)
        super().__init__(lambda p, w: b_ * (2 * p[w] - sympy.Add(*(x**2 for x in p))), name=f"quadratic(b={self.b:g})")

    def __repr__(self) -> str:
        return f"QuadraticScore(b={self.b:g})"

    def _numeric(self, P, w):
        return self.b * (2 * P[np.arange(len(w)), w] - np.sum(P * P, axis=1))


class SphericalScore(ScoringRule):
    """The spherical score ``b p_w / ||p||`` (strictly proper).

    Examples
    --------
    >>> SphericalScore().expression(2, 1)
    p1/sqrt(p0**2 + p1**2)
    >>> round(SphericalScore().score([0.8, 0.2], 0), 6)      # 0.8 / sqrt(0.68)
    0.970143
    """

    def __init__(self, b: float = 1.0):
        self.b = _scale(b, "SphericalScore")
        b_ = to_rational(self.b)
        super().__init__(lambda p, w: b_ * p[w] / sympy.sqrt(sympy.Add(*(x**2 for x in p))),
                         name=f"spherical(b={self.b:g})")

    def __repr__(self) -> str:
        return f"SphericalScore(b={self.b:g})"

    def _numeric(self, P, w):
        return self.b * P[np.arange(len(w)), w] / np.sqrt(np.sum(P * P, axis=1))


def _n(n: Any) -> int:
    return whole_number(n, "n", 2, hint="n is the number of outcomes")


def _forecasts(p: Any, outcome: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    try:
        P = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError):
        raise DeclarationError(f"p must be probability vectors, got {p!r}") from None
    single = P.ndim == 1
    if P.ndim not in (1, 2) or P.shape[-1] < 2:
        raise DeclarationError(f"p must have shape (n,) or (T, n) with n >= 2, got shape {P.shape}")
    P = P.reshape(-1, P.shape[-1])
    n = P.shape[1]
    ok = np.all(np.isfinite(P) & (P >= -_SIMPLEX_TOL), axis=1)
    if not ok.all():
        raise DeclarationError(f"probabilities must be finite and nonnegative, got {P[~ok][0].tolist()}")
    sums = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > _SIMPLEX_TOL)
    if len(bad):
        raise DeclarationError(
            f"a forecast must sum to 1, got {P[bad[0]].tolist()} (sum {sums[bad[0]]:.12g}); normalise it first"
        )
    w = np.asarray(outcome)
    if w.dtype.kind not in "iu" and not (w.dtype.kind == "f" and np.all(w == np.round(w))):
        raise DeclarationError(f"outcome must be integer indices, got {outcome!r}")
    w = w.astype(np.int64)
    if w.ndim == 0:
        w = np.full(P.shape[0], int(w))
    elif w.shape != (P.shape[0],):
        raise DeclarationError(f"{P.shape[0]} forecasts but outcome has shape {w.shape}")
    else:
        single = False
    if ((w < 0) | (w >= n)).any():
        raise DeclarationError(f"outcomes must be in 0..{n - 1}, got {w[(w < 0) | (w >= n)][0]}")
    return P, w, single


def msr_payout(rule: ScoringRule, p_before: Any, p_after: Any, outcome: Any) -> np.ndarray | float:
    """What a market scoring rule pays for moving the forecast: ``S(p', w) - S(p, w)``.

    Parameters
    ----------
    rule : ScoringRule
    p_before, p_after : array_like, shape (n,) or (T, n)
        Forecasts before and after the trade.
    outcome : int or array_like of int

    Raises
    ------
    DeclarationError
        If a payout is not finite (e.g. a log score of a zero probability).

    Examples
    --------
    >>> round(msr_payout(LogScore(b=1), [0.5, 0.5], [0.8, 0.2], 0), 6)   # log(0.8 / 0.5)
    0.470004
    """
    if not isinstance(rule, ScoringRule):
        raise DeclarationError(f"rule must be a ScoringRule, got {type(rule).__name__}")
    before = np.asarray(rule.score(p_before, outcome), dtype=float)
    after = np.asarray(rule.score(p_after, outcome), dtype=float)
    if before.shape != after.shape:
        raise DeclarationError(f"p_before and p_after give {before.shape} and {after.shape} scores")
    with np.errstate(invalid="ignore"):
        out = after - before
    if not np.all(np.isfinite(out)):
        raise DeclarationError(
            f"the {rule!r} payout is not finite (a forecast gives the outcome probability 0); "
            "keep forecasts strictly positive"
        )
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------
# properness
# ---------------------------------------------------------------------------
def is_proper(rule: ScoringRule, n: int, *, points: int = 200,
              rng: int | np.random.Generator | None = None) -> PropertyCheck:
    """Whether reporting one's belief maximises the expected score, for ``n`` outcomes.

    Symbolic argument (sympy), for concrete ``n``:

    1. first-order condition: at ``p = r`` the gradient of ``E_r[S(p, .)]``
       is ``lambda * 1`` (it vanishes on the simplex, with a Lagrange multiplier);
    2. with ``G(p) = E_p[S(p, .)]``, the identity ``S(p, w) = dG/dp_w + c(p)`` gives
       ``E_r[S(p, .)] = G(p) + (r - p).grad G(p)``; when ``G`` is convex (all principal
       minors of its Hessian nonnegative, in the positive orthant or along the
       simplex), ``E_r[S(p, .)] <= G(r) = E_r[S(r, .)]`` for every ``p``, and the
       Hessian of ``E_r`` at ``p = r``, ``-Hess G(r)``, is negative semidefinite.

    When sympy cannot finish the argument, ``E_r[S(p)] <= E_r[S(r)]`` is checked on
    ``points`` random pairs (status ``checked``); a violation gives ``fails`` with
    the pair ``(r, p)``.

    Examples
    --------
    >>> is_proper(LogScore(), 3).status
    'proven'
    >>> linear = ScoringRule(lambda p, w: p[w], name="linear")
    >>> is_proper(linear, 2, rng=0).status
    'fails'
    """
    if not isinstance(rule, ScoringRule):
        raise DeclarationError(f"rule must be a ScoringRule, got {type(rule).__name__}")
    n = _n(n)
    gen = as_rng(rng)
    name = f"proper (n={n})"
    bad = _counterexample(rule, n, points, gen)
    if bad is not None:
        r, p, gain = bad
        return PropertyCheck(
            name, "fails",
            f"with belief r = {r} reporting p = {p} raises the expected score by {gain:.6g}",
            counterexample={"r": r, "p": p, "gain": gain},
        )
    steps = _symbolic_properness(rule, n)
    if steps is not None:
        return PropertyCheck(name, "proven", steps)
    return PropertyCheck(
        name, "checked", f"E_r[S(p)] <= E_r[S(r)] on {points} random pairs (r, p) and at the vertices",
        points=points,
    )


def _expected(rule: ScoringRule, r: np.ndarray, P: np.ndarray) -> np.ndarray:
    """E_r[S(p, .)] for each row of P."""
    n = len(r)
    total = np.zeros(P.shape[0])
    for w in range(n):
        if r[w] > 0:
            total += r[w] * rule._numeric(P, np.full(P.shape[0], w))
    return total


def _counterexample(rule, n, points, gen) -> tuple[list, list, float] | None:
    for _ in range(points):
        r = gen.dirichlet(np.ones(n))
        candidates = np.vstack([gen.dirichlet(np.ones(n), size=8), np.eye(n) * (1 - 1e-9) + 1e-9 / n,
                                _ascent(rule, r)])
        with np.errstate(all="ignore"):
            gains = _expected(rule, r, candidates) - _expected(rule, r, r[None, :])[0]
        gains = np.where(np.isfinite(gains), gains, -np.inf)
        i = int(np.argmax(gains))
        if gains[i] > 1e-9:
            return [float(v) for v in r], [float(v) for v in candidates[i]], float(gains[i])
    return None


def _ascent(rule, r: np.ndarray) -> np.ndarray:
    """Forecasts a small step from r along the projected gradient of E_r (catches first-order failures)."""
    n = len(r)
    h = 1e-6
    grad = np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        with np.errstate(all="ignore"):
            grad[i] = (_expected(rule, r, (r + e)[None, :])[0] - _expected(rule, r, (r - e)[None, :])[0]) / (2 * h)
    direction = grad - grad.mean()
    if not np.all(np.isfinite(direction)) or np.allclose(direction, 0):
        return r[None, :]
    direction /= np.abs(direction).max()
    steps = []
    for t in (1e-1, 1e-2, 1e-3):
        p = r + t * min(r.min(), 1.0) * direction
        if (p > 0).all():
            steps.append(p / p.sum())
    return np.array(steps) if steps else r[None, :]


def _symbolic_properness(rule: ScoringRule, n: int) -> str | None:
    p = ScoringRule.symbols(n)
    r = sympy.symbols(f"r0:{n}", positive=True)
    scores = [rule.expression(n, w) for w in range(n)]
    # 1. first-order condition at p = r, on the simplex (r_{n-1} = 1 - sum of the others)
    expected = sympy.Add(*(r[w] * scores[w] for w in range(n)))
    grad_at_r = [sympy.diff(expected, p[i]).subs(dict(zip(p, r, strict=True)), simultaneous=True) for i in range(n)]
    on_simplex = {r[-1]: 1 - sympy.Add(*r[:-1])}
    first_order = all(_zero(g - grad_at_r[0], on_simplex) for g in grad_at_r[1:])
    if not first_order:
        return None
    lam = sympy.simplify(grad_at_r[0].subs(on_simplex))
    # 2. Savage's representation with G(p) = E_p[S(p, .)]
    G = sympy.factor_terms(sympy.Add(*(p[w] * scores[w] for w in range(n))))
    convex = _convex_ambient(G, scores, p) or _convex_on_simplex(G, scores, p)
    if convex is None:
        return None
    return (
        f"sympy: at p = r the gradient of E_r[S(p)] is lambda * 1 with lambda = {lam} (zero on the simplex); "
        f"G(p) = E_p[S(p)] = {G} satisfies S(p, w) = dG/dp_w + c(p) and is convex {convex}, "
        "so E_r[S(p)] = G(p) + (r - p).grad G(p) <= G(r) = E_r[S(r)], and the Hessian of E_r at p = r is "
        "-Hess G(r), negative semidefinite"
    )


def _zero(expr: sympy.Expr, subs: dict | None = None) -> bool:
    if subs:
        expr = expr.subs(subs, simultaneous=True)
    if expr == 0:
        return True
    try:
        return sympy.simplify(sympy.cancel(expr)) == 0
    except (TypeError, ValueError, NotImplementedError, sympy.PolynomialError):
        return False


def _psd_minors(H: sympy.Matrix, subs: dict | None = None) -> bool:
    m = H.shape[0]
    for k in range(1, m + 1):
        for idx in itertools.combinations(range(m), k):
            d = H.extract(list(idx), list(idx)).det(method="berkowitz")
            if subs:
                d = d.subs(subs, simultaneous=True)
            d = sympy.factor(sympy.cancel(d))
            if d.is_nonnegative is not True:
                return False
    return True


def _convex_ambient(G, scores, p) -> str | None:
    """G convex on the positive orthant, with S(p, w) - dG/dp_w the same for every w."""
    n = len(p)
    dG = [sympy.diff(G, x) for x in p]
    on_simplex = {p[-1]: 1 - sympy.Add(*p[:-1])}
    offsets = [scores[w] - dG[w] for w in range(n)]
    if not all(_zero(o - offsets[0]) or _zero(o - offsets[0], on_simplex) for o in offsets[1:]):
        return None
    if not _psd_minors(sympy.hessian(G, p)):
        return None
    return "on the positive orthant (every principal minor of its Hessian is nonnegative)"


def _convex_on_simplex(G, scores, p) -> str | None:
    """G convex along the simplex, in the coordinates p_0..p_{n-2} (p_{n-1} = 1 - their sum)."""
    n = len(p)
    x = p[:-1]
    on_simplex = {p[-1]: 1 - sympy.Add(*x)}
    g = G.subs(on_simplex)
    # tangent derivative d/dx_w of G equals S(p, w) - S(p, n-1)
    for w in range(n - 1):
        if not _zero(sympy.diff(g, x[w]) - (scores[w] - scores[-1]).subs(on_simplex)):
            return None
    weights = sympy.symbols(f"w0:{n}", positive=True)
    total = sympy.Add(*weights)
    inside = {x[i]: weights[i] / total for i in range(n - 1)}  # every point of the open simplex
    if not _psd_minors(sympy.hessian(g, x), inside):
        return None
    return "along the simplex (every principal minor of its Hessian in p_0..p_{n-2} is nonnegative)"
