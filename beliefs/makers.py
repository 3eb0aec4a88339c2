"""Cost-function market makers: a sympy cost C(q) whose gradient is the price map.

A market maker quotes prices for ``n`` securities from the vector ``q`` of
quantities it has sold. Buying ``delta`` costs ``C(q + delta) - C(q)``; the
price of security ``i`` is ``dC/dq_i``. The cost is a sympy expression (the
definition); prices are derived by sympy and compiled to numpy with
:func:`sympy.lambdify`. The built-in makers also carry hand-written, numerically
stable numpy versions (log-sum-exp), tested against their sympy definitions.

Built-ins
---------
:class:`LMSR`
    Hanson's logarithmic market scoring rule, ``C = b log sum exp(q_i / b)``.
:class:`LSLMSR`
    Othman, Pennock, Reeves & Sandholm's (2010) liquidity-sensitive LMSR,
    ``b(q) = alpha * sum(q)``.
:class:`Quadratic`
    The quadratic (Brier) maker, prices ``1/n + (q_i - mean q)/b``.

Each built-in accepts ``n=None`` to make an *unbound* maker (a specification
such as ``LMSR(b=10)``); :meth:`MarketMaker.bind` fixes the number of outcomes,
and :class:`~deepmarkets.beliefs.market.Market` binds it to its outcome contracts.

:meth:`MarketMaker.verify` reports, per property, whether it is *proven*
(symbolically, with sympy), *checked* (numerically on random points, with how
many), or *fails* (with a counterexample).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import sympy

from deepmarkets.beliefs.properties import MakerReport, PropertyCheck
from deepmarkets.beliefs.trade_columns import BLOCK, Columns, columns_from_dense, dense_from_columns
from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, to_rational
from deepmarkets.helpers.validate import positive_float, whole_number

__all__ = [
    "PricePath",
    "MarketMaker",
    "LMSR",
    "LSLMSR",
    "Quadratic",
    "MAX_AMOUNT",
    "AMOUNT_LIMIT_REASON",
]

#: The largest quantity of a trade, and the largest holding of the maker in any outcome:
#: float64 keeps amounts up to 1e9 to within 2**-23 (1.2e-7), so costs and profits stay
#: accurate; beyond, costs lose accuracy (at 1e17 a cost of 6.93 vanishes) and books stop balancing.
MAX_AMOUNT = 1e9
#: Why amounts beyond :data:`MAX_AMOUNT` are refused, and what to do, for error messages.
AMOUNT_LIMIT_REASON = ("float64 accounts for money only to about 1e-7 up to that size; trade in larger units "
                       "(divide the quantities and the maker's liquidity by the same factor)")

_NUMERIC_TOL = 1e-9


class PricePath(NamedTuple):
    """A replayed sequence of trades: states ``q`` (T+1, n), ``prices`` (T+1, n), ``costs`` (T,)."""

    q: np.ndarray
    prices: np.ndarray
    costs: np.ndarray


# ---------------------------------------------------------------------------
# small utilities
# ---------------------------------------------------------------------------
def _positive(value: Any, what: str, maker: str) -> float:
    """A positive finite float parameter of a maker, or a DeclarationError naming both."""
    return positive_float(value, f"{maker} {what}", hint=f"give e.g. {what}=10")


def _count(n: Any, maker: str) -> int:
    return whole_number(n, f"{maker} n", 2, hint="n is the number of outcomes")


def _lse(x: np.ndarray) -> np.ndarray:
    """log-sum-exp along the last axis, with the maximum subtracted first."""
    m = np.max(x, axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.sum(np.exp(x - m), axis=-1))


def _fmt(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def _simplifies_to_zero(expr: sympy.Expr) -> bool:
    """Whether sympy reduces ``expr`` to 0 (True is a proof; False means undecided or nonzero)."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return True
    for step in (sympy.cancel, sympy.simplify):
        try:
            expr = step(expr)
        except (TypeError, ValueError, NotImplementedError, sympy.PolynomialError):
            return False
        if expr == 0:
            return True
    return False


# ---------------------------------------------------------------------------
# the general maker
# ---------------------------------------------------------------------------
class MarketMaker:
    """A cost-function market maker defined by a sympy expression ``C(q)``.

    Parameters
    ----------
    cost : sympy.Expr
        The cost function of the quantities (and of ``parameters``).
    quantities : sequence of sympy.Symbol
        One symbol per security, in order.
    name : str
        A label shown in reports.
    parameters : mapping of sympy.Symbol to float, optional
        Values of the other symbols of ``cost`` (e.g. a liquidity ``b``). They stay
        symbolic in :meth:`verify` (with the sign of their value as an assumption)
        and are substituted for numerical work.
    complete : bool
        Whether the securities form a complete outcome space (mutually exclusive
        and exhaustive), so that prices should sum to 1.
    initial : sequence of float, optional
        The state a market using this maker starts from (default: zeros).

    Attributes
    ----------
    expr : sympy.Expr
        The cost function (the definition).
    quantities : tuple of sympy.Symbol
    n : int
        Number of securities.
    gradient : list of sympy.Expr
        ``dC/dq_i``, the price map.

    Examples
    --------
    >>> import sympy
    >>> q0, q1, b = sympy.symbols("q0 q1 b")
    >>> mm = MarketMaker(b * sympy.log(sympy.exp(q0 / b) + sympy.exp(q1 / b)), [q0, q1],
    ...                  parameters={b: 2.0})
    >>> mm.prices([0.0, 0.0]).tolist()
    [0.5, 0.5]
    >>> round(float(mm.trade_cost([0.0, 0.0], [1.0, 0.0])), 6)
    0.56186
    """

    #: Whether C(q + k 1) = C(q) + k is known to hold (None: not declared; see :meth:`verify`).
    translation_invariant: bool | None = None

    def __init__(
        self,
        cost: sympy.Expr,
        quantities: Sequence[sympy.Symbol],
        *,
        name: str = "custom",
        parameters: Mapping[sympy.Symbol, float] | None = None,
        complete: bool = True,
        initial: Sequence[float] | None = None,
    ):
        self._declare(cost, quantities, name=name, parameters=parameters, complete=complete, initial=initial)

    # declaration -----------------------------------------------------------
    def _declare(self, cost, quantities, *, name, parameters, complete, initial) -> None:
        if not isinstance(cost, sympy.Expr):
            raise DeclarationError(
                f"cost must be a sympy expression, got {type(cost).__name__} {cost!r}; "
                "build it with sympy symbols, e.g. b * sympy.log(sympy.exp(q0 / b) + sympy.exp(q1 / b))"
            )
        qs = tuple(quantities)
        if len(qs) < 1:
            raise DeclarationError("a market maker needs at least one quantity symbol")
        for s in qs:
            if not isinstance(s, sympy.Symbol):
                raise DeclarationError(f"quantities must be sympy Symbols, got {type(s).__name__} {s!r}")
        if len(set(qs)) != len(qs):
            raise DeclarationError(f"quantities must be distinct symbols, got {list(qs)}")
        params: dict[sympy.Symbol, float] = {}
        for sym, value in dict(parameters or {}).items():
            if not isinstance(sym, sympy.Symbol):
                raise DeclarationError(f"parameter keys must be sympy Symbols, got {sym!r}")
            if sym in qs:
                raise DeclarationError(f"{sym} is both a quantity and a parameter")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise DeclarationError(f"parameter {sym} must be a number, got {value!r}") from None
            if not math.isfinite(v):
                raise DeclarationError(f"parameter {sym} must be finite, got {value!r}")
            params[sym] = v
        unknown = cost.free_symbols - set(qs) - set(params)
        if unknown:
            names = ", ".join(sorted(str(s) for s in unknown))
            raise DeclarationError(
                f"the cost uses {names}, which is neither a quantity nor a parameter; "
                f"add it to quantities or give its value in parameters={{{names}: ...}}"
            )
        self.expr: sympy.Expr = cost
        self.quantities: tuple[sympy.Symbol, ...] = qs
        self.n: int | None = len(qs)
        self.name = str(name)
        self.parameters = params
        self.complete = bool(complete)
        init = np.zeros(len(qs)) if initial is None else np.asarray(initial, dtype=float)
        if init.shape != (len(qs),) or not np.all(np.isfinite(init)):
            raise DeclarationError(f"initial must be {len(qs)} finite numbers, got {initial!r}")
        self.initial = init
        self.gradient: list[sympy.Expr] = [sympy.diff(cost, s) for s in qs]

    @property
    def is_bound(self) -> bool:
        """Whether the number of outcomes is fixed (an unbound built-in is only a specification)."""
        return self.n is not None

    def _require_bound(self) -> int:
        if self.n is None:
            raise DeclarationError(
                f"{self!r} has no number of outcomes yet: give n=..., call .bind(n), or pass it to "
                "Market(...), which binds it to the number of outcome contracts"
            )
        return self.n

    def bind(self, n: int) -> MarketMaker:
        """This maker for ``n`` outcomes (itself when already bound to ``n``).

        Raises
        ------
        DeclarationError
            If the maker is bound to a different number of securities.
        """
        if self.n != n:
            raise DeclarationError(f"{self!r} prices {self.n} securities, but {n} were declared")
        return self

    def __repr__(self) -> str:
        return f"MarketMaker({self.name}, n={self.n}, C={self.expr})"

    def label(self, i: int) -> str:
        """The name of security ``i`` used in messages (its quantity symbol)."""
        return str(self.quantities[i]) if self.n is not None else f"q{i}"

    # numerics: compiled sympy ------------------------------------------------
    @cached_property
    def _numeric_expr(self) -> sympy.Expr:
        return self.expr.subs(self.parameters)

    @cached_property
    def _cost_fn(self) -> Callable:
        return sympy.lambdify(self.quantities, self._numeric_expr, "numpy")

    @cached_property
    def _grad_fn(self) -> Callable:
        return sympy.lambdify(self.quantities, [g.subs(self.parameters) for g in self.gradient], "numpy")

    def _cost(self, Q: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self._cost_fn(*Q.T)
        return np.broadcast_to(np.asarray(out, dtype=float), Q.shape[:1]).copy()

    def _prices(self, Q: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            cols = self._grad_fn(*Q.T)
        return np.stack([np.broadcast_to(np.asarray(c, dtype=float), Q.shape[:1]) for c in cols], axis=1)

    def _trade_cost(self, Q: np.ndarray, D: np.ndarray) -> np.ndarray:
        return self._cost(Q + D) - self._cost(Q)

    def _costs_and_prices(self, path: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Trade costs (T,) and prices at every state (T+1, n) of a path; makers may share work here."""
        return self._trade_cost(path[:-1], D), self._prices(path)

    def _check_domain(self, Q: np.ndarray, context: str) -> None:
        """Raise DeclarationError if a state lies outside where the maker quotes prices."""

    def _in_domain(self, Q: np.ndarray) -> np.ndarray:
        """Which states lie where the cost function is defined (for numerical checks)."""
        return np.ones(Q.shape[0], dtype=bool)

    # validation ------------------------------------------------------------
    def _as_states(self, q: Any, what: str) -> tuple[np.ndarray, bool]:
        n = self._require_bound()
        try:
            arr = np.asarray(q, dtype=np.float64)
        except (TypeError, ValueError):
            raise DeclarationError(f"{what} must be numbers of shape ({n},) or (T, {n}), got {q!r}") from None
        single = arr.ndim == 1
        if arr.ndim not in (1, 2) or arr.shape[-1] != n:
            raise DeclarationError(
                f"{what} has shape {arr.shape}, but this maker prices {n} securities: "
                f"give shape ({n},) or (T, {n})"
            )
        arr = arr.reshape(-1, n)
        bad = ~np.isfinite(arr)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            where = f" in row {row}" if not single else ""
            raise DeclarationError(
                f"{what}: security {col} ({self.label(col)}) is {arr[row, col]}{where}; quantities must be finite"
            )
        return arr, single

    def _finite(self, values: np.ndarray, what: str, Q: np.ndarray) -> None:
        bad = ~np.isfinite(values)
        if bad.any():
            idx = np.argwhere(bad)[0]
            row = int(idx[0])
            col = f" of security {int(idx[1])} ({self.label(int(idx[1]))})" if values.ndim == 2 else ""
            raise DeclarationError(
                f"the {what}{col} is {values[tuple(idx)]} at q = {_fmt(Q[row])}: the state is outside where "
                f"{self!r} is finite; use smaller quantities"
            )

    # public numeric API ----------------------------------------------------
    def cost(self, q: Any) -> np.ndarray | float:
        """``C(q)`` for a state of shape (n,) or a batch of states (T, n).

        Raises
        ------
        DeclarationError
            For a wrong shape, a NaN/inf quantity, a state outside the maker's
            domain, or a result that is not finite.
        """
        Q, single = self._as_states(q, "q")
        self._check_domain(Q, "the state")
        with np.errstate(all="ignore"):
            out = self._cost(Q)
        self._finite(out, "cost", Q)
        return float(out[0]) if single else out

    def prices(self, q: Any) -> np.ndarray:
        """The price vector ``dC/dq`` at a state (n,) or at each state of a batch (T, n)."""
        Q, single = self._as_states(q, "q")
        self._check_domain(Q, "the state")
        with np.errstate(all="ignore"):
            out = self._prices(Q)
        self._finite(out, "price", Q)
        return out[0] if single else out

    def trade_cost(self, q: Any, delta: Any) -> np.ndarray | float:
        """What buying ``delta`` at state ``q`` costs: ``C(q + delta) - C(q)``.

        ``q`` and ``delta`` are (n,) or (T, n) and broadcast against each other.
        Negative entries of ``delta`` are sales (the cost is then negative).

        Raises
        ------
        DeclarationError
            If a quantity is NaN/inf, the trade overflows, or it leaves the maker's domain.
        """
        Q, q_single = self._as_states(q, "q")
        D, d_single = self._as_states(delta, "delta")
        if Q.shape[0] != D.shape[0] and 1 not in (Q.shape[0], D.shape[0]):
            raise DeclarationError(f"q has {Q.shape[0]} states but delta has {D.shape[0]} trades")
        Q, D = np.broadcast_arrays(Q, D)
        self._check_after(Q, D)
        with np.errstate(all="ignore"):
            out = self._trade_cost(Q, D)
        self._finite(out, "trade cost", Q + D)
        return float(out[0]) if (q_single and d_single) else out

    def _check_after(self, Q: np.ndarray, D: np.ndarray) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            after = Q + D
        bad = ~np.isfinite(after)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise DeclarationError(
                f"the trade would make the quantity of security {col} ({self.label(col)}) {after[row, col]} "
                f"(was {Q[row, col]}, trade {D[row, col]}); use smaller quantities"
            )
        self._check_domain(Q, "the state before the trade")
        self._check_domain(after, "the trade")

    def price_path(self, q0: Any, deltas: Any) -> PricePath:
        """Replay trades from ``q0``: states, prices and the cost of each trade, vectorised.

        Parameters
        ----------
        q0 : array_like, shape (n,)
            The starting state.
        deltas : array_like, shape (T, n)
            One trade per row.

        Returns
        -------
        PricePath
            ``q`` (T+1, n): ``q0`` then the state after each trade (cumulative sums);
            ``prices`` (T+1, n); ``costs`` (T,), each computed stably from the state
            before the trade (not by differencing C along the path). ``q`` and ``prices``
            may be column-major (LMSR computes them outcome by outcome).

        Examples
        --------
        >>> path = LMSR(2, b=1.0).price_path([0, 0], [[1, 0], [0, 1]])
        >>> path.q.tolist()
        [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
        >>> round(float(path.costs.sum()), 12)       # C(1, 1) - C(0, 0) = 1
        1.0
        """
        Q0, single = self._as_states(q0, "q0")
        if not single:
            raise DeclarationError(f"q0 must be one state of shape ({self.n},), got shape {np.shape(q0)}")
        if np.ndim(deltas) != 2:
            raise DeclarationError(f"deltas must have shape (T, {self.n}), one trade per row, got shape "
                                   f"{np.shape(deltas)}")
        D = np.asarray(deltas, dtype=np.float64) if isinstance(deltas, np.ndarray) else None
        with np.errstate(over="ignore", invalid="ignore"):
            finite = D is not None and D.shape[1] == self.n and bool(np.isfinite(D.sum()))
        if not finite:  # the full check names a bad entry (a finite sum shows there is none)
            D, _ = self._as_states(deltas, "deltas")
        return self._dense_path(Q0[0], np.ascontiguousarray(D))

    def _dense_path(self, q0: np.ndarray, D: np.ndarray) -> PricePath:
        """:meth:`price_path` from a valid state ``q0`` (n,) by finite trades ``D`` (T, n)."""
        with np.errstate(over="ignore", invalid="ignore"):
            path = np.cumsum(np.vstack([q0, D]), axis=0)
        self._check_after(path[:-1], D)
        with np.errstate(all="ignore"):
            costs, prices = self._costs_and_prices(path, D)
        self._finite(costs, "trade cost", path[1:])
        self._finite(prices, "price", path)
        return PricePath(path, prices, costs)

    def _fill_path(self, q0: np.ndarray, columns: Columns, P: np.ndarray,
                   Q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Replay ``L`` trades given as outcome columns from a valid state ``q0``.

        Writes the prices at the ``L + 1`` states into ``P`` (n, L + 1), and the states
        into ``Q`` (n, L + 1) when given; returns the costs (L,) and the last state (n,).
        Raises DeclarationError as :meth:`price_path` does. Makers with a faster kernel
        override it (this one replays the dense matrix of trades).
        """
        path = self._dense_path(q0, dense_from_columns(P.shape[1] - 1, P.shape[0], columns))
        P[...] = path.prices.T
        if Q is not None:
            Q[...] = path.q.T
        return path.costs, path.q[-1].copy()

    def initial_state(self) -> np.ndarray:
        """The state a market using this maker starts from."""
        self._require_bound()
        return self.initial.copy()

    def scoring_rule(self):
        """The market scoring rule this maker implements (only for LMSR and Quadratic)."""
        raise DeclarationError(f"no market scoring rule is known for {self!r}")

    # verification ----------------------------------------------------------
    def _sample_states(self, rng: np.random.Generator, m: int) -> np.ndarray:
        scale = 3.0 * max([1.0, *(abs(v) for v in self.parameters.values())])
        return rng.normal(0.0, scale, size=(m, self.n))

    def verify(self, *, points: int = 200, rng: int | np.random.Generator | None = None) -> MakerReport:
        """Prove or check the properties of the maker.

        Properties (names in the report): ``prices_in_unit_interval``,
        ``prices_sum_to_one`` (only for a complete outcome space),
        ``translation_invariance`` (``C(q + k 1) = C(q) + k``), ``convexity`` and
        ``worst_case_loss`` (the supremum over outcomes and final states of what the
        maker can lose starting from :meth:`initial_state`). Each is proven with sympy
        where the implemented arguments apply, else checked numerically on
        ``points`` random states (labelled as such), or reported failing with a
        counterexample.

        Parameters
        ----------
        points : int
            Number of random states (or pairs) for numerical checks.
        rng : int, numpy Generator or None
            Randomness of the numerical checks.

        Examples
        --------
        >>> report = LMSR(3, b=2.0).verify(points=20, rng=0)
        >>> sorted(report.proven)
        ['convexity', 'prices_in_unit_interval', 'prices_sum_to_one', 'translation_invariance', 'worst_case_loss']
        >>> report["worst_case_loss"].value
        b*log(3)
        """
        self._require_bound()
        whole_number(points, "points", 1)
        with np.errstate(all="ignore"):
            return self._verify(points, rng)

    def _verify(self, points: int, rng: int | np.random.Generator | None) -> MakerReport:
        ctx = _Symbolic(self)
        gen = as_rng(rng)
        states = self._sample_states(gen, points)
        checks = [self._verify_range(ctx, states)]
        if self.complete:
            checks.append(ctx.sum_check(states))
        checks.append(self._verify_translation(ctx, states, gen))
        checks.append(self._verify_convexity(ctx, states, gen))
        checks.append(self._verify_loss(ctx, states, gen))
        checks.extend(self._extra_checks(ctx, states, gen))
        return MakerReport(repr(self), tuple(checks))

    def _extra_checks(self, ctx: _Symbolic, states: np.ndarray, gen: np.random.Generator) -> list[PropertyCheck]:
        return []

    def _verify_range(self, ctx: _Symbolic, states: np.ndarray) -> PropertyCheck:
        name = "prices_in_unit_interval"
        P = self._prices(states)
        bad = np.argwhere(~((P >= -1e-12) & (P <= 1 + 1e-12)))
        if len(bad):
            row, col = map(int, bad[0])
            return PropertyCheck(
                name, "fails", f"at q = {_fmt(states[row])} the price of {self.label(col)} is {P[row, col]:.6g}",
                counterexample={"q": _fmt(states[row]), "security": col, "price": float(P[row, col])},
            )
        sums = ctx.sum_check(states)
        if sums.status == "proven" and all(g.is_nonnegative for g in ctx.grad):
            return PropertyCheck(
                name, "proven", "every price is nonnegative (sympy, from the assumptions on q and the parameters) "
                "and the prices sum to 1, so each is at most 1",
            )
        return PropertyCheck(name, "checked", f"prices in [0, 1] at {len(states)} random states", points=len(states))

    def _verify_translation(self, ctx: _Symbolic, states: np.ndarray, gen: np.random.Generator) -> PropertyCheck:
        name = "translation_invariance"
        ks = gen.normal(0.0, 3.0, size=len(states))
        keep = self._in_domain(states + ks[:, None])
        states, ks = states[keep], ks[keep]
        lhs = self._cost(states + ks[:, None]) - self._cost(states)
        err = np.abs(lhs - ks)
        scale = 1.0 + np.abs(self._cost(states)) + np.abs(ks)
        bad = np.flatnonzero(err > 1e-9 * scale)
        if len(bad):
            i = int(bad[0])
            return PropertyCheck(
                name, "fails", f"C(q + k 1) - C(q) = {lhs[i]:.6g} but k = {ks[i]:.6g} at q = {_fmt(states[i])}",
                counterexample={"q": _fmt(states[i]), "k": float(ks[i]), "difference": float(lhs[i])},
            )
        if ctx.sum_check(states).status == "proven":
            return PropertyCheck(
                name, "proven", "d/dk [C(q + k 1) - C(q) - k] = sum_i p_i(q + k 1) - 1 = 0 (prices sum to 1, "
                "proven) and the difference is 0 at k = 0",
            )
        k = sympy.Symbol("k", real=True)
        shifted = ctx.cost.subs({s: s + k for s in ctx.q}, simultaneous=True)
        if _simplifies_to_zero(shifted - ctx.cost - k):
            return PropertyCheck(name, "proven", "sympy simplifies C(q + k 1) - C(q) - k to 0")
        return PropertyCheck(
            name, "checked", f"C(q + k 1) - C(q) = k at {len(states)} random (q, k)", points=len(states)
        )

    def _verify_convexity(self, ctx: _Symbolic, states: np.ndarray, gen: np.random.Generator) -> PropertyCheck:
        name = "convexity"
        others = self._sample_states(gen, len(states))
        cx, cy = self._cost(states), self._cost(others)
        gap = cy - cx - np.sum(self._prices(states) * (others - states), axis=1)
        scale = 1.0 + np.abs(cx) + np.abs(cy)
        bad = np.flatnonzero(gap < -1e-9 * scale)
        if len(bad):
            i = int(bad[0])
            return PropertyCheck(
                name, "fails", f"C(y) < C(x) + grad C(x).(y - x) by {-gap[i]:.6g} at x = {_fmt(states[i])}, "
                f"y = {_fmt(others[i])}",
                counterexample={"x": _fmt(states[i]), "y": _fmt(others[i]), "gap": float(gap[i])},
            )
        proof = ctx.convexity_proof(states)
        if proof is not None:
            return PropertyCheck(name, "proven", proof)
        return PropertyCheck(
            name, "checked", f"C(y) >= C(x) + grad C(x).(y - x) on {len(states)} random pairs (x, y)",
            points=len(states),
        )

    def _verify_loss(self, ctx: _Symbolic, states: np.ndarray, gen: np.random.Generator) -> PropertyCheck:
        name = "worst_case_loss"
        q0 = self.initial_state()
        proof = ctx.stationary_loss(q0)
        if proof is not None:
            value, detail = proof
            return PropertyCheck(name, "proven", detail, value=value)
        return self._numeric_loss(q0, states)

    def _numeric_loss(self, q0: np.ndarray, states: np.ndarray) -> PropertyCheck:
        name = "worst_case_loss"
        base = q0 - self._cost(q0[None, :])[0]
        scale = float(np.max(np.abs(states))) if states.size else 1.0
        ts = scale * np.geomspace(1e-3, 1e3, 40)
        best, where, growth = -np.inf, None, []
        for w in range(self.n):
            ray = q0[None, :] + ts[:, None] * np.eye(self.n)[w]
            with np.errstate(all="ignore"):
                loss = ray[:, w] - self._cost(ray) - base[w]
            growth.append(loss[-1] - loss[-2])
            for cand, qs in ((loss, ray), (states[:, w] - self._cost(states) - base[w], states)):
                finite = np.isfinite(cand)
                if finite.any():
                    i = int(np.nanargmax(np.where(finite, cand, -np.inf)))
                    if cand[i] > best:
                        best, where = float(cand[i]), (qs[i], w)
        if where is None:
            return PropertyCheck(name, "checked", "the loss could not be evaluated at any sampled state", points=0)
        if max(growth) > 1e-3 * scale:
            return PropertyCheck(
                name, "fails", f"the loss keeps growing along q = q0 + t e_w; at q = {_fmt(where[0])} it is {best:.6g}",
                counterexample={"q": _fmt(where[0]), "outcome": int(where[1]), "loss": best},
            )
        m = len(states) + 40 * self.n
        return PropertyCheck(
            name, "checked", f"largest loss found on {m} states: {best:.6g} (a lower bound on the supremum, "
            "not a proof)", points=m, value=best,
        )


# ---------------------------------------------------------------------------
# symbolic context for verify()
# ---------------------------------------------------------------------------
class _Symbolic:
    """The cost with real quantities and sign-assumed parameters, for sympy proofs."""

    def __init__(self, maker: MarketMaker):
        self.maker = maker
        self.q = [sympy.Dummy(str(s), real=True) for s in maker.quantities]
        sub: dict = dict(zip(maker.quantities, self.q, strict=True))
        self.back: dict = {d: s for s, d in sub.items()}
        for sym, value in maker.parameters.items():
            if value > 0:
                d = sympy.Dummy(str(sym), positive=True)
            elif value < 0:
                d = sympy.Dummy(str(sym), negative=True)
            else:
                d = 0
            sub[sym] = d
            if d != 0:
                self.back[d] = sym
        self.values = {sub[s]: to_rational(v) for s, v in maker.parameters.items() if sub[s] != 0}
        self.cost = maker.expr.subs(sub, simultaneous=True)
        self.grad = [sympy.diff(self.cost, s) for s in self.q]
        self._sum: PropertyCheck | None = None

    def show(self, expr) -> sympy.Expr:
        return sympy.sympify(expr).subs(self.back, simultaneous=True)

    def sum_check(self, states: np.ndarray) -> PropertyCheck:
        if self._sum is None:
            self._sum = self._sum_check(states)
        return self._sum

    def _sum_check(self, states: np.ndarray) -> PropertyCheck:
        name = "prices_sum_to_one"
        sums = self.maker._prices(states).sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1) > _NUMERIC_TOL)
        if len(bad):
            i = int(bad[0])
            return PropertyCheck(
                name, "fails", f"at q = {_fmt(states[i])} the prices sum to {sums[i]:.12g}",
                counterexample={"q": _fmt(states[i]), "sum": float(sums[i])},
            )
        if _simplifies_to_zero(sympy.Add(*self.grad) - 1):
            return PropertyCheck(name, "proven", "sympy simplifies sum_i dC/dq_i - 1 to 0")
        return PropertyCheck(name, "checked", f"prices sum to 1 at {len(states)} random states", points=len(states))

    def _polynomial_gradient(self) -> bool:
        try:
            return all(g.is_polynomial(*self.q) and sympy.Poly(g, *self.q).total_degree() <= 1 for g in self.grad)
        except sympy.PolynomialError:
            return False

    def convexity_proof(self, states: np.ndarray) -> str | None:
        n = len(self.q)
        if self._polynomial_gradient():
            H = sympy.Matrix(n, n, lambda i, j: sympy.diff(self.grad[i], self.q[j]))
            eig = H.eigenvals()
            if all(sympy.sympify(e).is_nonnegative for e in eig):
                shown = ", ".join(f"{self.show(e)} (x{m})" for e, m in eig.items())
                return f"the Hessian is constant with eigenvalues {shown}, all nonnegative (sympy)"
            return None
        # Hessian = c (diag(p) - p p^T) with c > 0, p >= 0, sum p = 1: a covariance form, PSD.
        x = states[0]
        p = self.maker._prices(x[None, :])[0]
        h = 1e-5 * (1.0 + np.abs(x))
        fd = np.empty((n, n))
        for j in range(n):
            e = np.zeros(n)
            e[j] = h[j]
            fd[:, j] = (self.maker._prices((x + e)[None, :])[0] - self.maker._prices((x - e)[None, :])[0]) / (2 * h[j])
        form = np.diag(p) - np.outer(p, p)
        if abs(form[0, 0]) < 1e-12:
            return None
        c_num = fd[0, 0] / form[0, 0]
        if not np.allclose(fd, c_num * form, rtol=1e-4, atol=1e-6 * max(1.0, abs(c_num))):
            return None
        if self.sum_check(states).status != "proven" or not all(g.is_nonnegative for g in self.grad):
            return None
        g0 = self.grad[0]
        c = sympy.cancel(sympy.diff(g0, self.q[0]) / (g0 - g0**2))
        if not c.is_positive:
            return None
        for i in range(n):
            for j in range(i, n):
                target = c * (self.grad[i] * (1 if i == j else 0) - self.grad[i] * self.grad[j])
                if not _simplifies_to_zero(sympy.diff(self.grad[i], self.q[j]) - target):
                    return None
        return (
            f"sympy shows the Hessian equals c (diag(p) - p p^T) with p the prices and c = {self.show(c)} > 0; "
            "since p >= 0 and sum p = 1, x^T (diag(p) - p p^T) x = sum p_i x_i^2 - (sum p_i x_i)^2 >= 0 (a variance)"
        )

    def stationary_loss(self, q0: np.ndarray) -> tuple[sympy.Expr, str] | None:
        """Worst-case loss via the stationary point of q_w - C(q) (concave; linear gradient only)."""
        if not self._polynomial_gradient():
            return None
        n = len(self.q)
        H = sympy.Matrix(n, n, lambda i, j: sympy.diff(self.grad[i], self.q[j]))
        if not all(sympy.sympify(e).is_nonnegative for e in H.eigenvals()):
            return None
        q0s = [to_rational(v) for v in q0]
        start = {s: v for s, v in zip(self.q, q0s, strict=True)}
        c0 = self.cost.subs(start)
        losses = []
        for w in range(n):
            eqs = [g - (1 if i == w else 0) for i, g in enumerate(self.grad)]
            sol = sympy.linsolve(eqs, self.q)
            if not sol:
                return None
            point = next(iter(sol))
            value = sympy.simplify((self.q[w] - self.cost).subs(dict(zip(self.q, point, strict=True)),
                                                                simultaneous=True))
            if value.free_symbols & set(self.q):
                return None
            losses.append(sympy.simplify(value - q0s[w] + c0))
        worst = losses[0] if all(_simplifies_to_zero(v - losses[0]) for v in losses) else sympy.Max(*losses)
        shown = self.show(worst)
        return shown, (
            f"q_w - C(q) is concave (convex C with constant Hessian); its maximum is at the stationary point "
            f"grad C(q) = e_w (sympy linsolve), so the worst case over outcomes and final states, starting from "
            f"q0 = {_fmt(q0)}, is {shown}"
        )


# ---------------------------------------------------------------------------
# built-ins
# ---------------------------------------------------------------------------
class LMSR(MarketMaker):
    """Hanson's logarithmic market scoring rule: ``C(q) = b log sum_i exp(q_i / b)``.

    Prices are the softmax of ``q / b``; the maker's worst-case loss from ``q = 0``
    is exactly ``b log n``. Numerics use log-sum-exp, so ``q = 1e6`` is fine.

    Parameters
    ----------
    n : int or None
        Number of mutually exclusive, exhaustive outcomes; ``None`` for a
        specification bound later (``LMSR(b=10)``).
    b : float
        Liquidity, positive and finite.

    Examples
    --------
    >>> mm = LMSR(2, b=10.0)
    >>> mm.prices([0.0, 0.0]).tolist()
    [0.5, 0.5]
    >>> round(mm.trade_cost([0.0, 0.0], [10.0, 0.0]), 6)     # 10 log((e + 1) / 2)
    6.201145
    >>> LMSR(b=10).bind(3)
    LMSR(n=3, b=10)
    """

    translation_invariant = True

    def __init__(self, n: int | None = None, b: float = 1.0):
        self.b = _positive(b, "b", "LMSR")
        self.name = "LMSR"
        self.complete = True
        if n is None:
            self.n = None
            return
        n = _count(n, "LMSR")
        bs = sympy.Symbol("b", positive=True)
        qs = sympy.symbols(f"q0:{n}", real=True)
        cost = bs * sympy.log(sympy.Add(*(sympy.exp(s / bs) for s in qs)))
        self._declare(cost, qs, name="LMSR", parameters={bs: self.b}, complete=True, initial=None)
        self.b_symbol = bs

    def bind(self, n: int) -> LMSR:
        if self.n is None:
            return LMSR(n, b=self.b)
        return super().bind(n)

    def __repr__(self) -> str:
        nn = f"n={self.n}, " if self.n is not None else ""
        return f"LMSR({nn}b={self.b:g})"

    def scoring_rule(self):
        """The log scoring rule with scale ``b``: LMSR is the log market scoring rule."""
        from deepmarkets.beliefs.scoring import LogScore

        return LogScore(b=self.b)

    def _sample_states(self, rng, m):
        return rng.normal(0.0, 3.0 * self.b, size=(m, self.n))

    def _cost(self, Q):
        return self.b * _lse(Q / self.b)

    def _prices(self, Q):
        x = Q / self.b
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _softmax(self, Q):
        """Prices and log-prices, with the maximum subtracted first."""
        z = Q / self.b
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        return e / total, z - np.log(total)

    def _costs_from(self, P, logp, D):
        # C(q + d) - C(q) = b log sum_i p_i exp(d_i / b), with p the prices before the trade;
        # log1p(sum p_i expm1(d_i / b)) keeps small trades at large states exact, and
        # log-sum-exp serves the rest (large trades, or sums near -1 where log1p loses digits).
        u = D / self.b
        s = np.sum(P * np.expm1(np.minimum(u, 30.0)), axis=1)
        out = np.log1p(s)
        far = (u.max(axis=1) > 30.0) | (np.abs(s) > 0.5)
        if far.any():
            out[far] = _lse(logp[far] + u[far])
        return self.b * out

    def _trade_cost(self, Q, D):
        P, logp = self._softmax(Q)
        return self._costs_from(P, logp, D)

    def _costs_and_prices(self, path, D):
        P, logp = self._softmax(path)
        return self._costs_from(P[:-1], logp[:-1], D), P

    def _dense_path(self, q0, D):
        T, n = D.shape
        columns = columns_from_dense(D)
        Q, P = np.empty((n, T + 1)), np.empty((n, T + 1))
        costs, _ = self._fill_path(q0, columns, P, Q)
        return PricePath(Q.T, P.T, costs)

    def _fill_path(self, q0, columns, P, Q=None):
        # The states of each outcome are cumulative sums of its own trades only (a sparse
        # column changes at few trades: its states are repeated between them), so the
        # layout is (outcome, step); prices are a softmax over outcomes computed in place,
        # block by block; each cost comes from the prices before its trade (see _costs_from).
        n, steps = P.shape
        L = steps - 1
        b = self.b
        W = P if Q is None else Q  # the states; without Q they are turned into prices in place
        kept: list[np.ndarray | None] = []  # per outcome, what gives its states again (for the far trades)
        with np.errstate(all="ignore"):
            for j, (pos, vals) in enumerate(columns):
                row = W[j]
                if pos is None:
                    row[0] = q0[j]
                    row[1:] = vals
                    np.cumsum(row, out=row)
                    kept.append(None if Q is not None else row.copy())
                else:
                    ext = np.empty(len(vals) + 1)
                    ext[0] = q0[j]
                    ext[1:] = vals
                    np.cumsum(ext, out=ext)
                    row[:] = np.repeat(ext, np.diff(pos, prepend=-1, append=L))
                    kept.append(ext)
            last = W[:, L].copy()
            # given finite trades, a state that overflows stays infinite (or NaN) to the end
            ok = bool(np.isfinite(last).all())
            if ok:
                total = 0.0
                for start in range(0, steps, BLOCK):
                    z = P[:, start:start + BLOCK]
                    np.divide(W[:, start:start + BLOCK], b, out=z)
                    np.subtract(z, z.max(axis=0), out=z)
                    np.exp(z, out=z)
                    sums = z.sum(axis=0)  # >= 1 unless NaN
                    np.divide(z, sums, out=z)
                    total += float(sums.sum())
                ok = math.isfinite(total)
            if ok:
                costs = self._column_costs(columns, P, Q, kept)
                ok = bool(np.isfinite(costs).all())
        if not ok:  # find and name what is not finite
            path = MarketMaker._dense_path(self, q0, dense_from_columns(L, n, columns))
            P[...] = path.prices.T
            if Q is not None:
                Q[...] = path.q.T
            return path.costs, path.q[-1].copy()
        return costs, last

    def _column_costs(self, columns, P, Q, kept):
        """Trade costs from the prices before each trade (P, outcome columns), as in _costs_from."""
        n, steps = P.shape
        L = steps - 1
        s = np.zeros(L)
        big = []
        for j, (pos, vals) in enumerate(columns):
            u = vals / self.b
            e = np.expm1(np.minimum(u, 30.0))
            if pos is None:
                e *= P[j, :L]
                s += e
                big.append(np.flatnonzero(u > 30.0))
            else:
                e *= P[j, pos]
                s[pos] += e
                big.append(pos[u > 30.0])
        out = np.log1p(s)
        far = np.abs(s) > 0.5
        for rows in big:
            far[rows] = True
        rows = np.flatnonzero(far)
        if len(rows):
            # log-sum-exp of log-prices plus trades, from the states before the far trades
            z = np.empty((len(rows), n))
            u = np.zeros((len(rows), n))
            for j, (pos, vals) in enumerate(columns):
                if Q is not None:
                    z[:, j] = Q[j, rows]
                elif pos is None:
                    z[:, j] = kept[j][rows]
                else:
                    z[:, j] = kept[j][np.searchsorted(pos, rows)]
                if pos is None:
                    u[:, j] = vals[rows]
                elif len(pos):
                    k = np.minimum(np.searchsorted(pos, rows), len(pos) - 1)
                    hit = pos[k] == rows
                    u[hit, j] = vals[k[hit]]
            z /= self.b
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            out[rows] = _lse(logp + u / self.b)
        out *= self.b
        return out

    def _verify_loss(self, ctx, states, gen):
        n = self.n
        b = self.b_symbol
        qs = self.quantities
        cost = self.expr
        c0 = sympy.simplify(cost.subs({s: 0 for s in qs}))
        # C is symmetric in the outcomes, so outcome 0 stands for every outcome.
        for w in range(1, n):
            swapped = cost.subs({qs[0]: qs[w], qs[w]: qs[0]}, simultaneous=True)
            if swapped != cost and not _simplifies_to_zero(swapped - cost):
                return super()._verify_loss(ctx, states, gen)
        # q_0 - C(q) = -b log S with S = sum_i exp((q_i - q_0)/b) >= 1 (the i = 0 term is 1, the others > 0)
        terms = [sympy.exp((s - qs[0]) / b) for s in qs]
        identity = sympy.expand(sympy.powsimp(sympy.exp(cost / b) * sympy.exp(-qs[0] / b) - sympy.Add(*terms)))
        rest_positive = all(t.is_positive for t in terms[1:])
        t = sympy.Symbol("t", positive=True)
        path = {qs[0]: 0, **{s: -t for s in qs[1:]}}
        lim = sympy.limit((qs[0] - cost).subs(path), t, sympy.oo)
        if not (_simplifies_to_zero(identity) and rest_positive and lim == 0):
            return super()._verify_loss(ctx, states, gen)
        value = sympy.simplify(c0)
        return PropertyCheck(
            "worst_case_loss", "proven",
            f"exp((C(q) - q_w)/b) = sum_i exp((q_i - q_w)/b) >= 1, so q_w - C(q) <= 0, with limit 0 along "
            f"q_i = -t (i != w), t -> oo (sympy); C is symmetric in the outcomes. The loss from q = 0, "
            f"sup (q_w - C(q)) + C(0), is C(0) = {value}",
            value=value,
        )


class Quadratic(MarketMaker):
    """The quadratic (Brier) maker: ``C(q) = sum q / n + (sum q_i^2 - (sum q)^2 / n) / (2 b)``.

    Prices are ``1/n + (q_i - mean q) / b``. They stay in ``[0, 1]`` only on the
    bounded region ``-b/n <= q_i - mean(q) <= b (n - 1)/n``; states outside it are
    refused (a trade that leaves it raises :class:`~deepmarkets.errors.DeclarationError`
    naming the bound). Its market scoring rule is the quadratic score with scale ``b/2``.
    Worst-case loss from ``q = 0``: ``b (n - 1) / (2 n)``.

    Examples
    --------
    >>> mm = Quadratic(2, b=4.0)
    >>> mm.prices([1.0, 0.0]).tolist()
    [0.625, 0.375]
    >>> mm.trade_cost([0.0, 0.0], [1.0, 0.0])
    0.5625
    """

    translation_invariant = True

    def __init__(self, n: int | None = None, b: float = 1.0):
        self.b = _positive(b, "b", "Quadratic")
        self.name = "Quadratic"
        self.complete = True
        if n is None:
            self.n = None
            return
        n = _count(n, "Quadratic")
        bs = sympy.Symbol("b", positive=True)
        qs = sympy.symbols(f"q0:{n}", real=True)
        total = sympy.Add(*qs)
        cost = total / n + (sympy.Add(*(s**2 for s in qs)) - total**2 / n) / (2 * bs)
        self._declare(cost, qs, name="Quadratic", parameters={bs: self.b}, complete=True, initial=None)

    def bind(self, n: int) -> Quadratic:
        if self.n is None:
            return Quadratic(n, b=self.b)
        return super().bind(n)

    def __repr__(self) -> str:
        nn = f"n={self.n}, " if self.n is not None else ""
        return f"Quadratic({nn}b={self.b:g})"

    def scoring_rule(self):
        """The quadratic scoring rule with scale ``b / 2``."""
        from deepmarkets.beliefs.scoring import QuadraticScore

        return QuadraticScore(b=self.b / 2)

    def _verify_range(self, ctx, states):
        check = super()._verify_range(ctx, states)
        if check.status != "fails":  # pragma: no cover - the sampled states leave the region
            return check
        lo, hi = self.bounds()
        return PropertyCheck(
            check.name, "fails",
            f"{check.detail}; prices are in [0, 1] exactly on the region {lo:.6g} <= q_i - mean(q) <= {hi:.6g}, "
            "and the maker refuses states outside it",
            counterexample=check.counterexample,
        )

    def bounds(self) -> tuple[float, float]:
        """The allowed range of ``q_i - mean(q)``: ``(-b/n, b (n - 1)/n)``."""
        n = self._require_bound()
        return -self.b / n, self.b * (n - 1) / n

    def _sample_states(self, rng, m):
        return rng.normal(0.0, self.b, size=(m, self.n))

    def _cost(self, Q):
        dev = Q - Q.mean(axis=1, keepdims=True)
        return Q.sum(axis=1) / self.n + np.sum(dev * dev, axis=1) / (2 * self.b)

    def _prices(self, Q):
        return 1.0 / self.n + (Q - Q.mean(axis=1, keepdims=True)) / self.b

    def _trade_cost(self, Q, D):
        dq = Q - Q.mean(axis=1, keepdims=True)
        dd = D - D.mean(axis=1, keepdims=True)
        return D.sum(axis=1) / self.n + np.sum(dd * (2 * dq + dd), axis=1) / (2 * self.b)

    def _check_domain(self, Q, context):
        P = self._prices(Q)
        bad = np.argwhere((P < -1e-10) | (P > 1 + 1e-10))
        if len(bad):
            row, col = map(int, bad[0])
            lo, hi = self.bounds()
            raise DeclarationError(
                f"{context} puts the price of security {col} ({self.label(col)}) at {P[row, col]:.6g}, outside "
                f"[0, 1]: the quadratic maker with b={self.b:g} only quotes states with "
                f"{lo:.6g} <= q_i - mean(q) <= {hi:.6g} (here {Q[row, col] - Q[row].mean():.6g}); "
                "trade a smaller quantity"
            )


class LSLMSR(MarketMaker):
    """Liquidity-sensitive LMSR (Othman, Pennock, Reeves & Sandholm 2010).

    ``b(q) = alpha * sum_i q_i`` and ``C(q) = b(q) log sum_i exp(q_i / b(q))``. Liquidity
    grows with the volume traded. The cost is defined only where ``sum(q) > 0``; a
    market starts at ``q0 = initial * (1, ..., 1)`` and a state with ``sum(q) <= 0``
    is refused. Unlike LMSR it is **not** translation invariant and its prices sum to
    ``1 + alpha n H(softmax(q / b)) >= 1`` (``H`` the entropy, at most ``log n``):
    the excess is the maker's profit margin. Its worst-case loss from ``q0`` is
    ``alpha n initial log n``, which vanishes as ``initial -> 0``.

    Parameters
    ----------
    n : int or None
        Number of outcomes (``None`` for a specification).
    alpha : float
        Commission parameter, positive and finite (e.g. 0.05).
    initial : float
        Positive starting quantity of every outcome.

    Examples
    --------
    >>> mm = LSLMSR(2, alpha=0.05)
    >>> p = mm.prices(mm.initial_state())
    >>> round(float(p.sum()), 6) == round(1 + 0.05 * 2 * float(np.log(2)), 6)
    True
    """

    translation_invariant = False

    def __init__(self, n: int | None = None, alpha: float = 0.05, *, initial: float = 1.0):
        self.alpha = _positive(alpha, "alpha", "LSLMSR")
        self.initial_quantity = _positive(initial, "initial", "LSLMSR")
        self.name = "LSLMSR"
        self.complete = True
        if n is None:
            self.n = None
            return
        n = _count(n, "LSLMSR")
        a = sympy.Symbol("alpha", positive=True)
        qs = sympy.symbols(f"q0:{n}", real=True)
        b = a * sympy.Add(*qs)
        cost = b * sympy.log(sympy.Add(*(sympy.exp(s / b) for s in qs)))
        self._declare(cost, qs, name="LSLMSR", parameters={a: self.alpha}, complete=True,
                      initial=[self.initial_quantity] * n)
        self.alpha_symbol = a

    def bind(self, n: int) -> LSLMSR:
        if self.n is None:
            return LSLMSR(n, alpha=self.alpha, initial=self.initial_quantity)
        return super().bind(n)

    def __repr__(self) -> str:
        nn = f"n={self.n}, " if self.n is not None else ""
        return f"LSLMSR({nn}alpha={self.alpha:g}, initial={self.initial_quantity:g})"

    def _sample_states(self, rng, m):
        return rng.exponential(10.0 * self.initial_quantity, size=(m, self.n)) + 1e-3 * self.initial_quantity

    def _in_domain(self, Q):
        return Q.sum(axis=1) > 0

    def _check_domain(self, Q, context):
        totals = Q.sum(axis=1)
        bad = np.flatnonzero(~(totals > 0))
        if len(bad):
            i = int(bad[0])
            raise DeclarationError(
                f"{context} gives total quantity sum(q) = {totals[i]:.6g}, but the LS-LMSR is defined only where "
                f"sum(q) > 0 (its liquidity is alpha * sum(q)); start from a positive state (initial=...) and do "
                f"not sell more than has been bought"
            )

    def _split(self, Q):
        b = self.alpha * Q.sum(axis=1)
        x = Q / b[:, None]
        return b, x

    def _cost(self, Q):
        b, x = self._split(Q)
        return b * _lse(x)

    def _prices(self, Q):
        b, x = self._split(Q)
        lse = _lse(x)
        s = np.exp(x - lse[:, None])
        entropy = lse - np.sum(s * x, axis=1)
        return s + self.alpha * entropy[:, None]

    def _trade_cost(self, Q, D):
        # C = max(q) + b * log sum exp((q - max q)/b); difference the two parts separately.
        b0, x0 = self._split(Q)
        after = Q + D
        b1, x1 = self._split(after)
        m0, m1 = Q.max(axis=1), after.max(axis=1)
        l0 = np.log(np.sum(np.exp(x0 - (m0 / b0)[:, None]), axis=1))
        l1 = np.log(np.sum(np.exp(x1 - (m1 / b1)[:, None]), axis=1))
        return (m1 - m0) + self.alpha * D.sum(axis=1) * l1 + b0 * (l1 - l0)

    def _verify_range(self, ctx, states):
        name = "prices_in_unit_interval"
        P = self._prices(states)
        if (P < -1e-12).any():
            row, col = map(int, np.argwhere(P < -1e-12)[0])
            return PropertyCheck(name, "fails", f"negative price {P[row, col]:.6g} at q = {_fmt(states[row])}",
                                 counterexample={"q": _fmt(states[row]), "price": float(P[row, col])})
        # At q = e_0 the weights s = softmax(q/b) are as lopsided as sum(q) > 0, q >= 0 allows,
        # and p_0 = s_0 + alpha H(s) exceeds 1; evaluate exactly with 50 digits.
        point = {s: (1 if i == 0 else 0) for i, s in enumerate(ctx.q)}
        p0 = ctx.grad[0].subs(ctx.values).subs(point)
        excess = sympy.N(p0 - 1, 50)
        if excess > 0:
            e0 = [1.0] + [0.0] * (self.n - 1)
            return PropertyCheck(
                name, "fails",
                f"prices are nonnegative at {len(states)} random states, but at q = {e0} the price of q0 is "
                f"1 + {float(excess):.3g} (exact, 50 digits): p_i = s_i + alpha H(s) can exceed 1",
                counterexample={"q": e0, "security": 0, "price_minus_one": float(excess)},
            )
        return PropertyCheck(name, "checked", f"prices in [0, 1] at {len(states)} random states",
                             points=len(states))

    def _verify_loss(self, ctx, states, gen):
        a = self.alpha_symbol
        qs = self.quantities
        cost = self.expr
        n = self.n
        total = sympy.Add(*qs)
        b = a * total
        terms = [sympy.exp((s - qs[0]) / b) for s in qs]
        identity = sympy.expand(sympy.powsimp(sympy.exp(cost / b) * sympy.exp(-qs[0] / b) - sympy.Add(*terms)))
        t, eps = sympy.symbols("t epsilon", positive=True)
        homogeneous = sympy.simplify(cost.subs({s: t * s for s in qs}, simultaneous=True) - t * cost)
        symmetric = all(
            cost.subs({qs[0]: qs[w], qs[w]: qs[0]}, simultaneous=True) == cost for w in range(1, n)
        )
        start = {s: eps for s in qs}
        value = sympy.simplify(sympy.expand_log(cost.subs(start) - eps, force=True))
        lim = sympy.limit((t - cost.subs({qs[0]: t, **{s: 0 for s in qs[1:]}})), t, 0, "+")
        if not (_simplifies_to_zero(identity) and homogeneous == 0 and symmetric and lim == 0):
            return super()._verify_loss(ctx, states, gen)
        shown = value.subs(eps, sympy.Symbol("initial", positive=True))
        numeric = float(value.subs({eps: to_rational(self.initial_quantity), a: to_rational(self.alpha)}))
        return PropertyCheck(
            "worst_case_loss", "proven",
            f"where b = alpha sum(q) > 0, exp((C(q) - q_w)/b) = sum_i exp((q_i - q_w)/b) >= 1, so q_w - C(q) <= 0; "
            f"C is homogeneous of degree 1 and q_w - C(q) -> 0 as q -> 0 (sympy), so the supremum is 0 and the "
            f"loss from q0 = initial * 1 is C(q0) - initial = {shown} = {numeric:.6g} here",
            value=shown,
        )

    def _extra_checks(self, ctx, states, gen):
        P = self._prices(states)
        sums = P.sum(axis=1)
        upper = 1 + self.alpha * self.n * math.log(self.n)
        bad = np.flatnonzero((sums < 1 - 1e-12) | (sums > upper + 1e-12))
        if len(bad):
            i = int(bad[0])
            at_least = PropertyCheck(
                "prices_sum_at_least_one", "fails", f"prices sum to {sums[i]:.12g} at q = {_fmt(states[i])}",
                counterexample={"q": _fmt(states[i]), "sum": float(sums[i])},
            )
        else:
            at_least = PropertyCheck(
                "prices_sum_at_least_one", "checked",
                f"1 <= sum of prices <= 1 + alpha n log n = {upper:.6g} at {len(states)} random states "
                f"(sum = 1 + alpha n H(softmax(q/b)))", points=len(states),
            )
        t = sympy.Symbol("t", positive=True)
        qs = ctx.q
        diff = ctx.cost.subs({s: t * s for s in qs}, simultaneous=True) - t * ctx.cost
        if _simplifies_to_zero(diff):
            homog = PropertyCheck("homogeneity", "proven", "sympy simplifies C(t q) - t C(q) to 0 for t > 0: "
                                  "prices depend only on the proportions of q")
        else:  # pragma: no cover - the identity is exact
            homog = PropertyCheck("homogeneity", "checked", "not simplified symbolically", points=0)
        return [at_least, homog]

