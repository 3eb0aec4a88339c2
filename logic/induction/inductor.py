"""A logical inductor (Garrabrant et al. 2016, "Logical Induction", §5).

Each day ``n`` the :class:`Inductor`

1. extends the deductive process ``D_n`` (:class:`DeductiveProcess`: listed or computed
   sentences, optionally what z3 proves from a theory under an rlimit growing with the day);
2. evaluates every trader's demand (a map sentence -> :class:`~deepmarkets.logic.induction.features.Feature`)
   on one shared expression graph;
3. budgets each trader for budgets ``b`` (the Budgeter, §5.2): a trader that could have lost
   ``b`` in some plausible world is bankrupt for good, and today's trade is scaled by
   ``1 / max(1, max_W -W(T_n) / (b + W(T_<n)))``, the maxima over the plausible worlds
   ``PC(D_n)`` (worlds of the theory where every sentence of ``D_n`` holds) found by weighted
   MaxSAT (:meth:`WorldSearch.minimum`, Dinkelbach iterations for the ratio), never by
   enumerating worlds;
4. combines the budgeted traders into the TradingFirm with weights ``2^(-k-b)`` (§5.3);
5. finds prices with the MarketMaker (§5.1): the fixed point ``p = clip(p + T(p))`` by a
   projected semismooth Newton method, else proximal Newton steps, else a simplicial search
   on grids of mesh ``2^-k`` (:mod:`~deepmarkets.logic.induction.fixedpoint`) that ends within
   the tolerance after finitely many steps whenever the demands' Lipschitz bound allows it on
   the price grid ``2^-48``; the prices are re-checked exactly in rationals: the firm's residual
   ``sum_phi max(q_phi (1 - p_phi), -q_phi p_phi)`` must be at most ``2^-min(n, precision_bits)``.
   Prices failing the check are never returned (:class:`InductionError`).

Sentences settled by ``PC(D_n)`` (true, or false, in every plausible world) are priced at their
truth value (``settle=True``, the default); trades in them are worth nothing in any plausible
world, so the residual runs over the unsettled sentences.

Deviation from the paper: the budget factor is computed at the candidate prices and the fixed
point is re-solved with the smaller factor until the factor used is at most the factor at the
final prices, so a budgeted trader never loses more than ``b`` in a plausible world. After
``SETTLE_ROUNDS`` rounds a factor still too large is set below the one asked for, by a margin
that grows fourfold each round until it is 1 (the trader sits the day out), so the rounds
always end. The firm sums budgets ``b`` in ``budgets`` only (the paper's infinite sum, truncated).
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import z3

from deepmarkets.errors import DeclarationError, InductionError
from deepmarkets.helpers import atomic_path, track
from deepmarkets.helpers.plotting import figure_and_axes, styled
from deepmarkets.helpers.validate import whole_number
from deepmarkets.logic.induction.features import (
    Feature,
    FeatureGraph,
    _PastLookup,
    as_feature,
    fmax,
    fmin,
    price,
    ramp,
)
from deepmarkets.logic.induction.fixedpoint import certified_bits, displacement, integer_path, vector_path
from deepmarkets.logic.sentence import Sentence, sentence
from deepmarkets.logic.theory import Theory
from deepmarkets.logic.worlds import WorldSearch
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = [
    "InductionError",
    "DeductiveProcess",
    "Trader",
    "threshold_trader",
    "exclusive_exhaustive_trader",
    "arbitrageurs",
    "frequency_trader",
    "Inductor",
    "DayRecord",
    "InductionResult",
    "plot_prices",
    "plot_exploitation",
]


#: Prices are rationals on the grid 2^-PRICE_BITS (exact as floats, and in the exact check).
PRICE_BITS = 48
#: Rounds of budget factors taken as asked for before they are undercut (module docstring).
SETTLE_ROUNDS = 8


# ------------------------------------------------------------------------------------------
# deductive process
# ------------------------------------------------------------------------------------------
class DeductiveProcess:
    """The sentences that enter ``D`` each day (``D_1 ⊆ D_2 ⊆ ...``).

    Parameters
    ----------
    source : list of lists, or callable, optional
        ``source[n-1]`` holds the sentences entering on day ``n``; or ``source(day)`` or
        ``source(day, prices)`` returns them, where ``prices(s, day)`` is the exact price of ``s`` on
        an earlier day (this is how self-referential sentences are revealed).
    prove : Theory, optional
        Also add each market sentence (or its negation) that z3 proves from this theory with
        ``rlimit = rlimit_per_day * day`` (deterministic, unlike a wall-clock limit). ``unknown``
        proves nothing.
    rlimit_per_day : int
        The resource limit granted per day to the prover.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> D = DeductiveProcess([[a], [], [~b]])
    >>> [str(s) for s in D.entering(3, None)]
    ['~b']
    """

    def __init__(self, source: Sequence[Iterable[Any]] | Callable | None = None, *,
                 prove: Theory | None = None, rlimit_per_day: int = 2000):
        if source is not None and not callable(source):
            source = [[sentence(s) for s in day] for day in source]
        self.source = source
        self.prove = prove
        self.rlimit_per_day = whole_number(rlimit_per_day, "rlimit_per_day", 1)
        self._arity = None
        if callable(source):
            try:
                self._arity = len(inspect.signature(source).parameters)
            except (TypeError, ValueError):
                self._arity = 1

    def entering(self, day: int, prices: Callable | None) -> list[Sentence]:
        """The listed or computed sentences entering ``D`` on ``day`` (without the prover's)."""
        if self.source is None:
            return []
        if callable(self.source):
            got = self.source(day, prices) if self._arity and self._arity >= 2 else self.source(day)
            try:
                return [sentence(s) for s in (got or [])]
            except DeclarationError as err:
                raise DeclarationError(f"the deductive process returned a non-sentence on day {day}: {err}") from err
        return list(self.source[day - 1]) if day <= len(self.source) else []

    def proved(self, day: int, candidates: Sequence[Sentence]) -> list[Sentence]:
        """What z3 proves on ``day`` about ``candidates`` from the ``prove`` theory (s or ~s)."""
        if self.prove is None:
            return []
        out = []
        for s in candidates:
            for goal in (s, ~s):
                solver = z3.Solver()
                solver.set("rlimit", self.rlimit_per_day * day)
                solver.add(*[a.z3 for a in self.prove.axioms], z3.Not(goal.z3))
                if solver.check() == z3.unsat:
                    out.append(goal)
                    break
        return out


# ------------------------------------------------------------------------------------------
# traders
# ------------------------------------------------------------------------------------------
@dataclass
class Trader:
    """A trader: its demand, a map sentence -> feature (holdings bought at today's prices).

    ``demand`` is a fixed mapping, or a callable ``day -> mapping`` for traders whose strategy
    depends on the day. The trader trades from day ``start`` on.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, = atoms("a")
    >>> t = Trader("buy a below 0.3", {a: 0.3 - price(a)})
    >>> round(t.demand_on(1)[a].evaluate({a: 0.1}), 12)
    0.2
    """

    name: str
    demand: Mapping[Any, Any] | Callable[[int], Mapping[Any, Any]]
    start: int = 1

    def demand_on(self, day: int) -> dict[Sentence, Feature]:
        """The demand features of ``day``."""
        if day < self.start:
            return {}
        got = self.demand(day) if callable(self.demand) else self.demand
        return {sentence(s): as_feature(f) for s, f in (got or {}).items()}

    def __repr__(self) -> str:
        return f"Trader({self.name!r})"


def _two_sided(p: Feature, target: Any, width: float) -> Feature:
    return ramp((target - p) / width) - ramp((p - target) / width)


def threshold_trader(s: Any, *, buy_below: float | None = None, sell_above: float | None = None,
                     width: float = 0.05, name: str | None = None) -> Trader:
    """Buys ``s`` when its price is below ``buy_below`` and sells when above ``sell_above``.

    Continuous ramps as in the paper: it buys ``min(1, (buy_below - p) / width)`` units below
    the threshold and nothing at or above it.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, = atoms("a")
    >>> threshold_trader(a, buy_below=0.9).name
    'threshold(a < 0.9, > None)'
    """
    if width <= 0:
        raise DeclarationError(f"width must be > 0, got {width}")
    s = sentence(s)
    p = price(s)
    f = as_feature(0)
    if buy_below is not None:
        f = f + ramp((buy_below - p) / width)
    if sell_above is not None:
        f = f - ramp((p - sell_above) / width)
    return Trader(name or f"threshold({s} < {buy_below}, > {sell_above})", {s: f})


def exclusive_exhaustive_trader(sentences: Sequence[Any], *, width: float = 0.05, name: str | None = None) -> Trader:
    """For sentences of which exactly one is true: buys all when the prices sum below 1, sells above.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> t = exclusive_exhaustive_trader(atoms("a b c"))
    >>> len(t.demand_on(1))
    3
    """
    sents = [sentence(s) for s in sentences]
    if len(sents) < 2:
        raise DeclarationError("an exclusive-exhaustive set needs at least two sentences")
    total = sum((price(s) for s in sents), as_feature(0))
    f = _two_sided(total, 1, width)
    return Trader(name or f"exactly-one({', '.join(map(str, sents[:3]))}{', ...' if len(sents) > 3 else ''})",
                  {s: f for s in sents})


def arbitrageurs(theory: Theory, sentences: Sequence[Any], *, width: float = 0.05) -> list[Trader]:
    """Traders exploiting the theory's constraints among ``sentences``.

    Recognised axioms: ``exactly_one(...)`` (buy all below a total of 1, sell all above) and
    ``a -> b`` (sell ``a`` and buy ``b`` while ``P(a) > P(b)``).

    Examples
    --------
    >>> from deepmarkets.logic import Theory, atoms, exactly_one
    >>> a, b = atoms("a b")
    >>> [t.name for t in arbitrageurs(Theory([exactly_one(a, b), a.implies(b)]), [a, b])]
    ['exactly-one(a, b)', 'implies(a, b)']
    """
    known = {sentence(s) for s in sentences}
    out = []
    for ax in theory.axioms:
        e = ax.z3
        kind = e.decl().kind()
        kids = [Sentence(c) for c in e.children()]
        if kind == z3.Z3_OP_PB_EQ and all(int(x) == 1 for x in e.params()) and all(k in known for k in kids):
            out.append(exclusive_exhaustive_trader(kids, width=width))
        elif kind == z3.Z3_OP_IMPLIES and all(k in known for k in kids):
            a, b = kids
            gap = ramp((price(a) - price(b)) / width)
            out.append(Trader(f"implies({a}, {b})", {a: -gap, b: gap}))
    return out


def frequency_trader(sequence: Sequence[Any], *, revealed: Callable[[int], int],
                     visible: Callable[[int], int] | None = None, margin: float = 0.0,
                     width: float = 0.02, name: str = "frequency") -> Trader:
    """Calibration trader over a sequence of sentences revealed one after another.

    On day ``n`` the first ``revealed(n)`` sentences are settled; their prices (1 or 0 once
    settled) average to the observed frequency. The trader buys each visible, unrevealed
    sentence (the first ``visible(n)``; all by default) priced below that frequency minus
    ``margin`` and sells those priced above it plus ``margin``.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> xs = atoms("x1 x2 x3")
    >>> t = frequency_trader(xs, revealed=lambda n: n - 1)
    >>> sorted(str(s) for s in t.demand_on(2))
    ['x2', 'x3']
    """
    seq = [sentence(s) for s in sequence]

    def demand(day: int) -> dict:
        r = max(0, min(len(seq), int(revealed(day))))
        v = len(seq) if visible is None else max(r, min(len(seq), int(visible(day))))
        if r == 0 or v <= r:
            return {}
        freq = sum((price(s) for s in seq[:r]), as_feature(0)) * Fraction(1, r)
        out = {}
        for s in seq[r:v]:
            p = price(s)
            out[s] = ramp((freq - margin - p) / width) - ramp((p - freq - margin) / width)
        return out

    return Trader(name, demand)


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass
class DayRecord:
    """What happened on one day: prices, trades, residual, budget factors, bankruptcies."""

    day: int
    prices: dict[str, float]
    entered: list[str]
    trades: dict[str, dict[str, float]]
    firm_trade: dict[str, float]
    residual: Fraction
    tolerance: Fraction
    budget_factors: dict[str, float]
    bankrupt: list[str]
    exploitation: dict[str, tuple[float, float]]
    firm_value_max: float
    solver: str
    seconds: float

    def to_dict(self) -> dict:
        return {"day": self.day, "prices": self.prices, "entered": self.entered, "trades": self.trades,
                "firm_trade": self.firm_trade, "residual": str(self.residual), "residual_float": float(self.residual),
                "tolerance": str(self.tolerance), "budget_factors": self.budget_factors,
                "bankrupt": self.bankrupt, "exploitation": {k: list(v) for k, v in self.exploitation.items()},
                "firm_value_max": self.firm_value_max, "solver": self.solver, "seconds": self.seconds}

    def __repr__(self) -> str:
        return (f"DayRecord(day={self.day}, residual={float(self.residual):.2e} <= {float(self.tolerance):.2e}, "
                f"entered={len(self.entered)}, bankrupt={len(self.bankrupt)}, solver={self.solver!r})")


@dataclass
class InductionResult:
    """The days run so far: one :class:`DayRecord` per day."""

    sentences: list[str]
    traders: list[str]
    days: list[DayRecord] = field(default_factory=list)

    def prices(self) -> np.ndarray:
        """Prices, shape (days, sentences)."""
        return np.array([[d.prices[s] for s in self.sentences] for d in self.days])

    def price(self, s: Any, day: int | None = None) -> float:
        """Price of sentence ``s`` on ``day`` (default: the last day)."""
        rec = self.days[-1 if day is None else day - 1]
        return rec.prices[str(sentence(s))]

    def entered_day(self) -> dict[str, int]:
        """The day each sentence (or its negation) entered D."""
        out: dict[str, int] = {}
        for d in self.days:
            for s in d.entered:
                out.setdefault(s, d.day)
        return out

    def to_dict(self) -> dict:
        return {"sentences": self.sentences, "traders": self.traders, "days": [d.to_dict() for d in self.days]}

    def __repr__(self) -> str:
        worst = max((float(d.residual) for d in self.days), default=0.0)
        secs = sum(d.seconds for d in self.days)
        return (f"InductionResult({len(self.sentences)} sentences, {len(self.traders)} traders, "
                f"{len(self.days)} days, max residual {worst:.2e}, {secs:.2f} s)")

    def _repr_markdown_(self) -> str:
        return f"**{self!r}**"


# ------------------------------------------------------------------------------------------
# the inductor
# ------------------------------------------------------------------------------------------
@dataclass
class _Demands:
    """One day's demands: the graph node, trader and sentence of each (trader, sentence) pair."""

    graph: FeatureGraph
    index: dict[Sentence, int]
    past: _PastLookup
    day: int
    node: np.ndarray
    trader: np.ndarray
    sentence: np.ndarray
    _bounds: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self._outputs = tuple(self.node.tolist())

    def raw(self, P: np.ndarray) -> np.ndarray:
        """Raw demands q (outputs, batch) at the price columns ``P``."""
        if not len(self.node):
            return np.zeros((0, P.shape[1]))
        vals = self.graph.evaluate(P, self.index, self.past, outputs=self._outputs)
        q = vals[self.node]
        if not np.all(np.isfinite(q)):
            raise InductionError(f"day {self.day}: a trader's demand is not finite")
        return q

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The demands' size and Lipschitz bounds (:meth:`FeatureGraph.bounds`), computed once."""
        if self._bounds is None:
            self._bounds = self.graph.bounds(self.node.tolist(), self.past)
        return self._bounds


class _FirmDemand:
    """The firm's trade ``T(p)`` at fixed budget weights ``c`` (trader -> total weight).

    ``p = clip(p + s T(p))`` has the same solutions for every ``s > 0``: the firm's tiny weights
    ``2^(-k-b)`` are scaled away (per sentence) so that the Newton and fixed-point steps are of
    order one.
    """

    def __init__(self, demands: _Demands, c: np.ndarray, m: int, free: np.ndarray, tol_f: float):
        self.demands, self.free, self.tol_f = demands, free, tol_f
        self.A = np.zeros((m, len(demands.node)))
        if len(demands.node):
            np.add.at(self.A, (demands.sentence, np.arange(len(demands.node))), c[demands.trader])
        self.weight = self.A.sum(axis=1)
        self.scale = np.where(self.weight > 0, 1.0 / np.where(self.weight > 0, self.weight, 1.0), 1.0)[:, None]

    def __call__(self, P: np.ndarray) -> np.ndarray:
        return self.scale * (self.A @ self.demands.raw(P))

    def good(self, p: np.ndarray, Tv: np.ndarray) -> bool:
        """Whether the firm's float residual at ``p`` (``Tv = T(p)``) meets the float tolerance."""
        q = Tv / self.scale[:, 0]
        return float(np.where(self.free, np.maximum(q * (1 - p), -q * p), 0).sum()) <= self.tol_f

    def certified_mesh(self) -> int:
        """The grid exponent at which the simplicial search guarantees ``good`` (module docstring)."""
        size, lip = self.demands.bounds()
        # z_i = clip(p_i + T_i) - p_i moves by at most 2 + Lip(T_i) per unit of the max-norm;
        # |z_i| <= eta puts at most eta * max(|q_i|, weight_i) in the residual (see Inductor._simplicial)
        lam = float(np.max(2 + self.scale[:, 0] * (self.A @ lip), where=self.free, initial=2.0))
        spread = float(np.maximum(self.A @ size, self.weight)[self.free].sum())
        return certified_bits(lam, spread, self.tol_f / 4)


@dataclass
class _Clearing:
    """The outcome of a day's clearing: budget factors, exact and float prices, trades, residual."""

    factors: dict[tuple[int, int], float]
    prices: list[Fraction]
    floats: np.ndarray
    per_trader: np.ndarray
    residual: Fraction
    tolerance: Fraction
    solver: str


@dataclass
class _Account:
    holdings: np.ndarray
    cash: float = 0.0
    bankrupt_day: int | None = None


class Inductor:
    """A logical inductor over a fixed list of sentences.

    Parameters
    ----------
    sentences : sequence of Sentence
        The market's sentences (each gets a price every day).
    traders : sequence of Trader
        The trader class, in order of enumeration (trader ``k``, 1-based, has weight ``2^-k``).
    deductive : DeductiveProcess, list or callable, optional
        The deductive process (a list or callable is wrapped in :class:`DeductiveProcess`).
    theory : Theory, optional
        Constraints every plausible world satisfies (e.g. exclusive-exhaustive sets).
    budgets : sequence of int
        The budgets ``b`` of the TradingFirm (weights ``2^(-k-b)``).
    settle : bool
        Price sentences settled by ``PC(D_n)`` at their truth value.
    precision_bits : int
        The exact check requires residual ``<= 2^-min(n, precision_bits)``.
    exploitation : bool
        Track each trader's min and max plausible value (one extra pair of MaxSAT calls per
        trader per day unless the worlds are a product of independent atoms).
    initial : float
        The day-0 price of every sentence (start of the first day's search; lagged prices
        before day 1).

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, = atoms("a")
    >>> ind = Inductor([a], [threshold_trader(a, buy_below=0.7, sell_above=0.7)])
    >>> res = ind.run(3, progressbar=False)
    >>> round(res.price(a), 3)
    0.7
    """

    def __init__(self, sentences: Sequence[Any], traders: Sequence[Trader], *,
                 deductive: DeductiveProcess | Sequence | Callable | None = None, theory: Theory | None = None,
                 budgets: Sequence[int] = (1, 2, 3, 4), settle: bool = True, precision_bits: int = 32,
                 exploitation: bool = True, initial: float = 0.5):
        self.sentences = [sentence(s) for s in sentences]
        if not self.sentences:
            raise DeclarationError("an inductor needs at least one sentence")
        if len(set(self.sentences)) != len(self.sentences):
            raise DeclarationError("the inductor's sentences must be distinct")
        self.index = {s: i for i, s in enumerate(self.sentences)}
        self.traders = list(traders)
        for t in self.traders:
            if not isinstance(t, Trader):
                raise DeclarationError(f"traders must be Trader objects, got {type(t).__name__}")
        names = [t.name for t in self.traders]
        if len(set(names)) != len(names):
            raise DeclarationError(f"trader names must be distinct, got {names}")
        self.deductive = deductive if isinstance(deductive, DeductiveProcess) else DeductiveProcess(deductive)
        self.theory = theory if theory is not None else Theory()
        self.budgets = [int(b) for b in budgets]
        if not self.budgets or any(b <= 0 for b in self.budgets):
            raise DeclarationError(f"budgets must be positive integers, got {list(budgets)}")
        if not 0 <= initial <= 1:
            raise DeclarationError(f"initial price must be in [0, 1], got {initial}")
        self.settle = settle
        self.precision_bits = int(precision_bits)
        self.exploitation = exploitation
        self.initial = float(initial)
        self.graph = FeatureGraph()
        m = len(self.sentences)
        self._accounts = {(k, b): _Account(np.zeros(m)) for k in range(len(self.traders)) for b in self.budgets}
        self._raw = [_Account(np.zeros(m)) for _ in self.traders]
        self._firm = _Account(np.zeros(m))
        self._firm_exact = [Fraction(0)] * m
        self._firm_cash_exact = Fraction(0)
        self._history: list[dict[Sentence, Fraction]] = []
        self._D: list[Sentence] = []
        self._Dset: set[Sentence] = set()
        self.result = InductionResult([str(s) for s in self.sentences], names)
        self._atomic = (len(self.theory.axioms) == 0
                        and all(z3.is_const(s.z3) and s.z3.decl().kind() == z3.Z3_OP_UNINTERPRETED
                                for s in self.sentences))
        self._atom_names = {n for s in self.sentences for n in s.atom_names}

    # the trading protocol ---------------------------------------------------------------------
    @property
    def securities(self) -> tuple[str, ...]:
        """The sentences as text, in order."""
        return tuple(str(s) for s in self.sentences)

    def prices(self):
        """The last finished day's prices as a pandas Series by sentence (the initial price before day 1)."""
        import pandas as pd

        last = self._history[-1] if self._history else None
        values = [float(last[s]) if last else self.initial for s in self.sentences]
        return pd.Series(values, index=list(self.securities), name="price", dtype=float)

    @property
    def history(self):
        """Every trader's trades as a trades book (:data:`~deepmarkets.protocols.TRADE_HISTORY_COLUMNS`).

        ``time`` is the day. The quantities are each trader's demand at the day's prices, before budgeting; the
        firm's trade on a day is their sum weighted by ``2^(-k-b)`` and the day's budget factors
        (:class:`DayRecord`).
        """
        import pandas as pd

        rows = [{"time": float(d.day), "trader": name, "security": sec, "quantity": qty, "price": d.prices[sec]}
                for d in self.result.days for name, trades in d.trades.items() for sec, qty in trades.items()]
        return pd.DataFrame(rows, columns=list(TRADE_HISTORY_COLUMNS)).astype({"time": float, "quantity": float,
                                                                               "price": float})

    def to_dict(self) -> dict:
        """The sentences, traders, days run and the last prices (JSON-safe)."""
        return {"sentences": list(self.securities), "traders": [t.name for t in self.traders],
                "days": len(self._history), "prices": {k: float(v) for k, v in self.prices().items()}}

    # prices ---------------------------------------------------------------------------------
    def price(self, s: Any, day: int) -> Fraction:
        """The exact price of ``s`` on a finished ``day``."""
        if not 1 <= day <= len(self._history):
            raise DeclarationError(f"day {day} has no prices yet (days 1..{len(self._history)} are done)")
        s = sentence(s)
        if s not in self.index:
            raise DeclarationError(f"{s} is not one of the inductor's sentences")
        return self._history[day - 1][s]

    # worlds ---------------------------------------------------------------------------------
    def _plausible(self, n: int):
        """Extend D to day n; a WorldSearch over PC(D_n); settled truth values (index -> bool)."""
        new = self.deductive.entering(n, self.price)
        entered = []
        for s in new:
            if s not in self._Dset:
                self._Dset.add(s)
                self._D.append(s)
                entered.append(s)
        literal: dict[int, bool] = {}
        atomic = self._atomic
        names = self._atom_names
        for s in self._D:
            if s in self.index:
                literal[self.index[s]] = True
            elif z3.is_not(s.z3) and Sentence(s.z3.children()[0]) in self.index:
                literal[self.index[Sentence(s.z3.children()[0])]] = False
            elif set(s.atom_names) & names:
                atomic = False  # a compound sentence about the market's atoms: worlds are no longer a box
        unsettled = [s for s in self.sentences if self.index[s] not in literal]
        for s in self.deductive.proved(n, unsettled):
            if s not in self._Dset:
                self._Dset.add(s)
                self._D.append(s)
                entered.append(s)
                if s in self.index:
                    literal[self.index[s]] = True
                else:
                    literal[self.index[Sentence(s.z3.children()[0])]] = False
        restriction = Sentence(z3.And([s.z3 for s in self._D])) if self._D else None
        ws = WorldSearch(self.theory, self.sentences, restriction)
        if ws.world_where({}) is None:
            raise DeclarationError(f"day {n}: the theory and the deductive process D_{n} have no possible world "
                                   "(D must be consistent with the theory)")
        if atomic:
            settled = dict(literal)
        else:
            settled = {}
            for i in range(len(self.sentences)):
                if ws.world_where({i: False}) is None:
                    settled[i] = True
                elif ws.world_where({i: True}) is None:
                    settled[i] = False
        return ws, settled, entered, atomic

    def _minimum(self, w: np.ndarray, const: float, threshold: float | None = None) -> float:
        """min over PC(D_n) of const + w·W (exact MaxSAT unless the box bound settles it)."""
        ws, settled, atomic = self._ws, self._settled, self._box_exact
        box = const
        for i, v in settled.items():
            if v:
                box += w[i]
        free = self._free_mask
        box += float(np.minimum(w[free], 0).sum())
        if atomic or (threshold is not None and box >= threshold):
            return box
        weights = {i: Fraction(float(w[i])) for i in range(len(w)) if w[i] != 0}
        value, _ = ws.minimum(weights)
        return const + float(value)

    # one day ---------------------------------------------------------------------------------
    def step(self) -> DayRecord:
        """Run one more day and return its record."""
        t0 = time.perf_counter()
        n = len(self._history) + 1
        entered = self._open_day(n)
        p0, fixed = self._start_prices()
        demands = self._demands(n, _PastLookup(self._history, n))
        day = self._clear(n, demands, p0, fixed)
        firm = self._commit_trades(day)
        bankrupt, firm_max = self._check_budgets(n)
        expl = self._exploitation() if self.exploitation else {}
        self._ws.close()
        rec = DayRecord(
            day=n, prices={str(s): float(day.prices[i]) for i, s in enumerate(self.sentences)},
            entered=[str(s) for s in entered],
            trades={t.name: {str(self.sentences[i]): float(day.per_trader[k, i])
                             for i in np.flatnonzero(day.per_trader[k])}
                    for k, t in enumerate(self.traders) if day.per_trader[k].any()},
            firm_trade={str(self.sentences[i]): float(firm[i]) for i in np.flatnonzero(firm)},
            residual=day.residual, tolerance=day.tolerance,
            budget_factors={f"{self.traders[k].name}|b={b}": f for (k, b), f in day.factors.items()},
            bankrupt=bankrupt, exploitation=expl, firm_value_max=firm_max, solver=day.solver,
            seconds=time.perf_counter() - t0)
        self.result.days.append(rec)
        return rec

    def _open_day(self, n: int) -> list[Sentence]:
        """Extend D to day ``n`` and search today's plausible worlds; the sentences that entered D."""
        ws, settled, entered, atomic = self._plausible(n)
        self._ws, self._settled, self._box_exact = ws, settled, atomic
        free = np.ones(len(self.sentences), dtype=bool)
        for i in settled:
            free[i] = False
        self._free_mask = free
        return entered

    def _start_prices(self) -> tuple[np.ndarray, dict[int, Fraction]]:
        """Yesterday's prices (or the initial price) to start from, and the prices fixed by settlement."""
        prev = self._history[-1] if self._history else None
        p0 = np.array([float(prev[s]) if prev else self.initial for s in self.sentences])
        fixed = {}
        if self.settle:
            for i, v in self._settled.items():
                fixed[i] = Fraction(int(v))
                p0[i] = float(v)
        return p0, fixed

    def _demands(self, n: int, past: _PastLookup) -> _Demands:
        """Every trader's demand on day ``n``, compiled onto the shared expression graph."""
        node, trader, sent = [], [], []
        for k, t in enumerate(self.traders):
            for s, f in t.demand_on(n).items():
                if s not in self.index:
                    raise DeclarationError(f"trader {t.name!r} trades {s}, which is not one of the inductor's "
                                           "sentences; add it to the sentences")
                node.append(self.graph.compile(f))
                trader.append(k)
                sent.append(self.index[s])
        return _Demands(self.graph, self.index, past, n, np.array(node, dtype=np.int64),
                        np.array(trader, dtype=np.int64), np.array(sent, dtype=np.int64))

    def _clear(self, n: int, demands: _Demands, p0: np.ndarray, fixed: dict[int, Fraction]) -> _Clearing:
        """Prices for the budgeted firm, re-solved with smaller budget factors until they hold (module docstring)."""
        m, K = len(self.sentences), len(self.traders)
        solve_free = self._free_mask if self.settle else np.ones(m, dtype=bool)
        tol_f = 0.25 * 2.0 ** -min(n, self.precision_bits)
        factors = {key: (0.0 if acc.bankrupt_day is not None else 1.0) for key, acc in self._accounts.items()}
        p = p0
        for rounds in itertools.count(1):
            c = np.zeros(K)
            for (k, b), f in factors.items():
                c[k] += 2.0 ** (-(k + 1) - b) * f
            firm = _FirmDemand(demands, c, m, solve_free, tol_f)
            p, solver_name = self._market_maker(firm, p, solve_free, firm.good, firm.certified_mesh)
            p_exact, residual, tol = self._exact_check(p, c, factors, demands, fixed, solve_free, n)
            if residual > tol:
                bits = firm.certified_mesh()
                why = (f"the demands are too steep for prices on a 2^-{PRICE_BITS} grid (their Lipschitz bound "
                       f"asks for 2^-{bits})" if bits > PRICE_BITS else "rounding in the float evaluation")
                raise InductionError(f"day {n}: the market maker found no prices with residual <= {float(tol):.3g} "
                                     f"(best {float(residual):.3g}): {why}")
            pf = np.array([float(x) for x in p_exact])
            q = demands.raw(pf[:, None])[:, 0]
            per_trader = np.zeros((K, m))
            if len(demands.node):
                np.add.at(per_trader, (demands.trader, demands.sentence), q)
            new = {key: self._budget_factor(key, per_trader[key[0]], pf) for key, f in factors.items() if f > 0}
            late = {key: v for key, v in new.items() if factors[key] > v + 1e-12}
            if not late:
                break
            # ends: from round SETTLE_ROUNDS + 10 on the margin is 1 and each round zeroes one more factor
            margin = min(1.0, 4.0 ** (rounds - SETTLE_ROUNDS - 10)) if rounds >= SETTLE_ROUNDS else 0.0
            for key, v in late.items():
                factors[key] = v * (1 - margin)
        return _Clearing(factors, p_exact, pf, per_trader, residual, tol, solver_name)

    def _commit_trades(self, day: _Clearing) -> np.ndarray:
        """Book the day's trades in every account and today's prices in the history; the firm's trade."""
        m, pf = len(self.sentences), day.floats
        firm = np.zeros(m)
        for (k, b), f in day.factors.items():
            acc = self._accounts[(k, b)]
            if f > 0:
                t = f * day.per_trader[k]
                acc.holdings += t
                acc.cash -= float(t @ pf)
                firm += 2.0 ** (-(k + 1) - b) * t
        for k in range(len(self.traders)):
            self._raw[k].holdings += day.per_trader[k]
            self._raw[k].cash -= float(day.per_trader[k] @ pf)
        self._firm.holdings += firm
        self._firm.cash -= float(firm @ pf)
        self._history.append({s: day.prices[i] for i, s in enumerate(self.sentences)})
        return firm

    def _check_budgets(self, n: int) -> tuple[list[str], float]:
        """Mark the budgeted traders that could now lose their budget as bankrupt; check the invariants.

        Returns the new bankruptcies and the firm's largest plausible cumulative value.
        """
        bankrupt = []
        for (k, b), acc in self._accounts.items():
            if acc.bankrupt_day is not None:
                continue
            low = self._minimum(acc.holdings, acc.cash, threshold=-b + 1e-9)
            if low < -b - 1e-7:
                raise InductionError(f"day {n}: trader {self.traders[k].name!r} with budget {b} can lose {-low:.6g} "
                                     f"> {b} in a plausible world (budgeter invariant)")
            if low <= -b + 1e-9:
                acc.bankrupt_day = n
                bankrupt.append(f"{self.traders[k].name}|b={b}")
        firm_max = -self._minimum(-self._firm.holdings, -self._firm.cash)
        if firm_max >= 1:
            raise InductionError(f"day {n}: the firm's cumulative value reaches {firm_max:.6g} >= 1 "
                                 "in a plausible world")
        return bankrupt, firm_max

    def _exploitation(self) -> dict[str, tuple[float, float]]:
        """Each trader's least and greatest plausible value of its unbudgeted holdings."""
        expl = {}
        for k, t in enumerate(self.traders):
            acc = self._raw[k]
            lo = self._minimum(acc.holdings, acc.cash)
            hi = -self._minimum(-acc.holdings, -acc.cash)
            expl[t.name] = (lo, hi)
        return expl

    def run(self, days: int, *, log: str | os.PathLike | None = None, progressbar: bool = True) -> InductionResult:
        """Run ``days`` more days; write one JSON line per day to ``log`` (atomically) if given.

        Examples
        --------
        >>> from deepmarkets.logic import atoms
        >>> a, = atoms("a")
        >>> Inductor([a], [threshold_trader(a, sell_above=0.8)], initial=1.0).run(2, progressbar=False).days[-1].day
        2
        """
        days = whole_number(days, "days", 0)
        for _ in track(range(days), "induction days", days, enabled=progressbar):
            self.step()
        if log is not None:
            write_log(self.result, log)
        return self.result

    # budgeter -------------------------------------------------------------------------------
    def _budget_factor(self, key, t: np.ndarray, p: np.ndarray) -> float:
        """1 / max(1, max_W -W(t) / (b + W(past))) over PC(D_n), by Dinkelbach iterations."""
        k, b = key
        acc = self._accounts[key]
        if not t.any():
            return 1.0
        beta = 1.0
        for _ in range(50):
            # min_W  W(t) + beta (b + W(past)) ; W(t) = t·W - t·p
            w = t + beta * acc.holdings
            const = -float(t @ p) + beta * (b + acc.cash)
            low = self._minimum(w, const, threshold=-1e-12)
            if low >= -1e-12:
                return 1.0 / beta
            # the minimising world gives a larger ratio: find it (box or MaxSAT world)
            beta = self._ratio_at_minimiser(w, t, p, acc, b, beta)
        return 1.0 / beta

    def _ratio_at_minimiser(self, w, t, p, acc, b, beta) -> float:
        world = self._argmin_world(w)
        loss = -(float(t @ world) - float(t @ p))
        left = b + acc.cash + float(acc.holdings @ world)
        if left <= 0:
            return math.inf
        return max(beta * (1 + 1e-12), loss / left)

    def _argmin_world(self, w: np.ndarray) -> np.ndarray:
        if self._box_exact:
            world = (w < 0).astype(float)
            for i, v in self._settled.items():
                world[i] = float(v)
            return world
        weights = {i: Fraction(float(w[i])) for i in range(len(w)) if w[i] != 0}
        _, world = self._ws.minimum(weights)
        return np.array(world, dtype=float)

    # market maker ---------------------------------------------------------------------------
    def _market_maker(self, T, p0: np.ndarray, free: np.ndarray, good, certified_mesh) -> tuple[np.ndarray, str]:
        """Newton's method (the fast path), then proximal Newton, then the simplicial search (guaranteed)."""
        p, ok, its = self._newton(T, p0, free, good)
        if ok:
            return p, f"newton({its})"
        p, ok, steps = self._proximal(T, p, free, good)
        if ok:
            return p, f"proximal({steps})"
        return self._simplicial(T, p, free, good, certified_mesh())

    def _proximal(self, T, p: np.ndarray, free: np.ndarray, good, steps: int = 30) -> tuple[np.ndarray, bool, int]:
        """Proximal-point steps: Newton on ``x = clip(x + T(x) - eps (x - v))``, then ``v = x``.

        Where the firm's trade is flat in some direction (an exclusive-exhaustive arbitrageur sees
        only the sum of its prices, a saturated threshold trader nothing at all) and a weak trader
        still pulls along it, Newton's step has no component there and stalls. The pull back to
        ``v`` makes the direction count: each step moves along it by about ``T / eps``, with
        ``eps`` ten times the current displacement. Stops after ``steps`` steps, or three without
        progress.
        """
        v = p.copy()
        lowest, since = math.inf, 0
        for k in range(steps):
            Tv = T(v[:, None])[:, 0]
            if good(v, Tv):
                return v, True, k
            eta = float(np.abs(np.where(free, displacement(v, Tv), 0)).max())
            lowest, since = (eta, 0) if eta < 0.9 * lowest else (lowest, since + 1)
            if since == 3:  # no progress in three steps
                break
            eps = 10 * eta

            def pulled(P: np.ndarray, v=v, eps=eps) -> np.ndarray:
                return T(P) - eps * np.where(free[:, None], P - v[:, None], 0)

            def solved(x: np.ndarray, Tx: np.ndarray, eta=eta) -> bool:
                return float(np.abs(np.where(free, displacement(x, Tx), 0)).max()) <= 1e-3 * eta

            v = self._newton(pulled, v, free, solved)[0]
        return v, bool(good(v, T(v[:, None])[:, 0])), k + 1

    def _simplicial(self, T, p: np.ndarray, free: np.ndarray, good, final: int) -> tuple[np.ndarray, str]:
        """Simplicial paths on grids of mesh ``2^-bits``, ``bits`` growing to ``final``.

        Each level follows the vector-labelled path (:func:`vector_path`) from the last level's
        point, or the integer-labelled one (:func:`integer_path`) where that fails, and polishes
        its end by proximal Newton; the levels stop as soon as a point meets the tolerance. On
        the level ``final`` the integer-labelled path runs unless a point already meets it.

        Why it always ends within the tolerance: the integer-labelled path ends after finitely
        many pivots (:mod:`~deepmarkets.logic.induction.fixedpoint`), at a grid point with
        displacement ``eta = max_i |clip(p_i + T_i(p)) - p_i| <= Lambda 2^-bits``, ``Lambda`` the
        Lipschitz bound of the displacement (:meth:`FeatureGraph.bounds`). For a sentence the firm
        buys (``q_i > 0``) that means ``1 - p_i <= eta`` or ``T_i = q_i / weight_i <= eta``, so its
        residual ``q_i (1 - p_i)`` is at most ``eta max(|q_i|, weight_i)``; selling is symmetric.
        ``final`` (:func:`certified_bits`) makes the sum over the sentences at most a quarter of
        the float tolerance of ``good``, itself a quarter of ``2^-min(n, precision_bits)``, the
        rest covering float rounding; so the prices pass the exact check unless ``final``
        exceeds the price grid ``2^-48`` (demands too steep for it). There is no useful bound
        on the number of pivots: the coarser levels and the fast stages before exist so that
        the last path starts near a fixed point, or never runs.
        """
        idx = np.flatnonzero(free)
        base = p.copy()
        final = min(final, PRICE_BITS)

        def F(X: np.ndarray) -> np.ndarray:
            P = np.repeat(base[:, None], X.shape[1], axis=1)
            P[idx] = X
            return T(P)[idx]

        def accept(x: np.ndarray, f: np.ndarray) -> bool:
            base[idx] = x
            Tv = np.zeros(len(base))
            Tv[idx] = f
            return good(base, Tv)

        def grid(bits: int) -> np.ndarray:
            return np.rint(base[idx] * 2.0 ** bits).astype(np.int64)

        bits, evaluations, labels = min(final, 3), 0, "vector"
        while True:
            x, f, count, ended = vector_path(F, grid(bits), bits, accept, pivots=100 * (len(idx) + 10),
                                             resolution=PRICE_BITS)
            evaluations += count
            if not accept(x, f) and (bits == final or not ended):
                x, f, count = integer_path(F, grid(bits), bits, accept)
                evaluations, labels = evaluations + count, "integer"
            name = f"simplicial({evaluations}, 2^-{bits}, {labels} labels)"
            if accept(x, f) or bits == final:
                return base, name
            polished, ok, steps = self._proximal(T, base, free, good)
            if ok:
                return polished, f"{name}+proximal({steps})"
            bits = min(final, bits + 4)

    def _newton(self, T, p0: np.ndarray, free: np.ndarray, good) -> tuple[np.ndarray, bool, int]:
        """Projected semismooth Newton on F(p) = p - clip(p + T(p)) over the free coordinates."""
        p = p0.copy()
        idx = np.flatnonzero(free)
        if not len(idx):
            return p, True, 0

        def F(P):
            Tv = T(P)
            return np.where(free[:, None], P - np.clip(P + Tv, 0, 1), 0.0), Tv

        Fv, Tv = F(p[:, None])
        Fv, Tv = Fv[:, 0], Tv[:, 0]
        h = 1e-9
        for it in range(40):
            norm = np.abs(Fv).max()
            if norm < 1e-15:
                return p, True, it
            steps = np.where(p[idx] + h <= 1, h, -h)
            P = np.repeat(p[:, None], len(idx), axis=1)
            P[idx, np.arange(len(idx))] += steps
            dT = (T(P)[idx] - Tv[idx, None]) / steps[None, :]
            z = p[idx] + Tv[idx]
            inside = (z > 0) & (z < 1)
            J = np.eye(len(idx))
            use = inside & (np.abs(dT).max(axis=1) > 1e-12)  # flat demand: a fixed-point step instead
            J[use] = -dT[use]
            # least squares: the minimum-norm step when J is singular (e.g. an exclusive-exhaustive
            # arbitrageur's rank-one Jacobian, whose solutions form a face of the box)
            delta = np.linalg.lstsq(J, -Fv[idx], rcond=1e-10)[0]
            alpha, accepted = 1.0, False
            norm2 = np.linalg.norm(Fv)
            for _ in range(30):
                cand = p.copy()
                cand[idx] = np.clip(p[idx] + alpha * delta, 0, 1)
                Fc, Tc = F(cand[:, None])
                if np.linalg.norm(Fc) < (1 - 1e-4 * alpha) * norm2:
                    p, Fv, Tv, accepted = cand, Fc[:, 0], Tc[:, 0], True
                    break
                alpha /= 2
            if not accepted:
                break
        # stalled (a kink, a singular face): good enough if the residual already meets the tolerance
        return p, bool(good(p, Tv)), 40

    def _exact_check(self, p, c, factors, demands: _Demands, fixed, free, n):
        """Today's prices rounded to the grid 2^-PRICE_BITS, the firm's exact residual there and its tolerance."""
        scale = 1 << PRICE_BITS
        p_exact = []
        for i, x in enumerate(p):
            if i in fixed and self.settle:
                p_exact.append(fixed[i])
            else:
                p_exact.append(Fraction(round(float(np.clip(x, 0, 1)) * scale), scale))
        now = {s: p_exact[i] for i, s in enumerate(self.sentences)}
        vals = self.graph.exact(set(demands.node.tolist()), now, demands.past)
        c_exact = [Fraction(0)] * len(self.traders)
        for (k, b), f in factors.items():
            c_exact[k] += Fraction(1, 2 ** (k + 1 + b)) * Fraction(f)
        trade = [Fraction(0)] * len(p)
        for node, k, i in zip(demands.node.tolist(), demands.trader.tolist(), demands.sentence.tolist(), strict=True):
            trade[i] += c_exact[k] * vals[node]
        residual = Fraction(0)
        for i in np.flatnonzero(free):
            q, x = trade[i], p_exact[i]
            residual += max(q * (1 - x), -q * x)
        tol = Fraction(1, 2 ** min(n, self.precision_bits))
        return p_exact, residual, tol


# ------------------------------------------------------------------------------------------
# logs and plots
# ------------------------------------------------------------------------------------------
def write_log(result: InductionResult, path: str | os.PathLike) -> None:
    """Write one JSON line per day, atomically (a temporary file in the same folder, then rename)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for d in result.days:
            fh.write(json.dumps(d.to_dict()) + "\n")


@styled
def plot_prices(result: InductionResult, sentences: Sequence[Any] | None = None, ax=None):
    """Price trajectories, with a marker on the day each sentence (or its negation) entered D.

    Parameters
    ----------
    result : InductionResult
    sentences : sequence of sentences or names, optional
        The trajectories drawn (default every sentence priced).
    ax : matplotlib.axes.Axes, optional
        Drawn there when given, else on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure`` when ``ax`` was given.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, = atoms("a")
    >>> res = Inductor([a], [threshold_trader(a, buy_below=0.3)], deductive=[[], [a]]).run(3, progressbar=False)
    >>> fig = plot_prices(res)
    """
    fig, ax = figure_and_axes(ax, figsize=(7, 4))
    names = [str(sentence(s)) for s in sentences] if sentences is not None else result.sentences
    days = [d.day for d in result.days]
    entered = result.entered_day()
    for name in names:
        ys = [d.prices[name] for d in result.days]
        line, = ax.plot(days, ys, label=name)
        for key in (name, f"~{name}"):
            if key in entered:
                ax.axvline(entered[key], color=line.get_color(), linestyle=":", alpha=0.6)
                ax.plot([entered[key]], [ys[entered[key] - 1]], "o", color=line.get_color())
    ax.set_xlabel("day")
    ax.set_ylabel("price")
    ax.set_ylim(-0.05, 1.05)
    if len(names) <= 12:
        ax.legend()
    return fig


@styled
def plot_exploitation(result: InductionResult, ax=None):
    """Each trader's exploitation curve: min and max plausible value of its holdings over time.

    Parameters
    ----------
    result : InductionResult
    ax : matplotlib.axes.Axes, optional
        Drawn there when given, else on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure`` when ``ax`` was given.
    """
    fig, ax = figure_and_axes(ax, figsize=(7, 4))
    days = [d.day for d in result.days]
    for name in result.traders:
        if not all(name in d.exploitation for d in result.days):
            continue
        lo = [d.exploitation[name][0] for d in result.days]
        hi = [d.exploitation[name][1] for d in result.days]
        line, = ax.plot(days, hi, label=f"{name} (max)")
        ax.plot(days, lo, color=line.get_color(), linestyle="--")
    ax.set_xlabel("day")
    ax.set_ylabel("plausible value of holdings")
    if len(result.traders) <= 10:
        ax.legend()
    return fig


__all__ += ["write_log", "price", "fmax", "fmin", "ramp"]
