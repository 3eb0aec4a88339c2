"""Latent-variable prediction markets: trading P(Y) and P(X_i | Y) with log-score payouts.

After tailcalled (2023, "Latent variables for prediction markets"). The market's state
``θ`` is a latent-class model: a distribution ``P(Y)`` over ``K`` hidden states and, for
each observable ``X_i``, a table ``P(X_i | Y)``. The state implies a joint distribution of
the observables,

.. math::

    q_θ(x) = \\sum_y P(y) \\prod_i P(x_i \\mid y),

and a trader who moves the state from ``θ`` to ``θ'`` is paid, when a case ``x`` resolves,
``b [log q_θ'(x) - log q_θ(x)]`` (the logarithmic market scoring rule on the implied joint).
When the observables resolve one at a time the same payout arrives in pieces,
``b [log q_θ'(x_i | x_<i) - log q_θ(x_i | x_<i)]``, which sum to the full payout. Payouts
only depend on ``q_θ``, so relabelling the hidden states (a gauge transformation) changes
no payout.

Every parameter is a sympy symbol (:meth:`LatentMarket.symbols`); :meth:`LatentMarket.joint_expression`
is the exact joint of one case in those symbols. For numbers, the same sum is compiled with
:func:`sympy.lambdify` in log space, ``log q = m + log sum_y exp(a_y - m)`` with
``a_y = log P(y) + sum_i log P(x_i | y)`` and ``m = max_y a_y`` (log-sum-exp), into a numpy
function vectorised over cases.

Examples
--------
>>> m = LatentMarket("suspect", latent=["guilty", "innocent"],
...                  observables={"motive": ["yes", "no"], "alibi": ["yes", "no"]})
>>> round(m.probability({"motive": "yes", "alibi": "no"}), 12)      # the uniform starting state
0.25
>>> move = m.move("ann", prior=[0.5, 0.5], tables={"motive": [[0.8, 0.2], [0.3, 0.7]],
...                                              "alibi": [[0.1, 0.9], [0.6, 0.4]]})
>>> round(m.payout(move.before, move.after, {"motive": "yes", "alibi": "no"}), 4)   # log(0.42 / 0.25)
0.5188
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng
from deepmarkets.helpers.defaults import INTERVAL_PROB
from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.protocols import REPORT_HISTORY_COLUMNS

if TYPE_CHECKING:
    from deepmarkets.models.infer_market import MarketPosterior
    from deepmarkets.models.simulate import InformedTraders

__all__ = [
    "LatentMarket",
    "LatentState",
    "Move",
    "Settlement",
    "plot_tables",
]

#: Rows of a state must sum to 1 within this tolerance.
SIMPLEX_TOL = 1e-9
#: Largest outcome space enumerated for joints, KL divergences and expected payouts.
MAX_OUTCOMES = 1_000_000
# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def _lse(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log-sum-exp along ``axis`` with the maximum subtracted first."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _permutation(perm: Any, k: int) -> np.ndarray:
    try:
        p = np.asarray(perm)
    except (TypeError, ValueError):
        p = np.array([])
    if (p.shape != (k,) or not np.issubdtype(p.dtype, np.integer)
            or sorted(p.tolist()) != list(range(k))):
        raise DeclarationError(
            f"perm must be a permutation of 0..{k - 1} (new state j is old state perm[j]), got {perm!r}"
        )
    return p.astype(np.int64)


# ---------------------------------------------------------------------------
# the state
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LatentState:
    """A state θ of a latent market: ``P(Y)`` and one table ``P(X_i | Y)`` per observable.

    Build states with :meth:`LatentMarket.state_from`, :meth:`LatentMarket.uniform_state` or
    :meth:`LatentMarket.random_state`; a state is immutable (its arrays are read-only).

    Attributes
    ----------
    classes : tuple of str
        Names of the ``K`` hidden states.
    observables : tuple of str
        Names of the observables, in declaration order.
    levels : tuple of tuple of str
        The levels of each observable (as text).
    prior : ndarray, shape (K,)
        ``P(Y)``.
    tables : tuple of ndarray, shape (K, L_i)
        ``P(X_i | Y)``: row ``y`` is the distribution of ``X_i`` given ``Y = y``.

    Examples
    --------
    >>> m = LatentMarket("m", latent=2, observables={"a": ["0", "1"]})
    >>> s = m.state_from(prior=[0.25, 0.75], tables={"a": [[0.9, 0.1], [0.2, 0.8]]})
    >>> s.table("a")[1].tolist()
    [0.2, 0.8]
    >>> s.relabel([1, 0]).prior.tolist()
    [0.75, 0.25]
    """

    classes: tuple[str, ...]
    observables: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    prior: np.ndarray
    tables: tuple[np.ndarray, ...]

    def __post_init__(self):
        k = len(self.classes)
        prior = _simplex(self.prior, (k,), "P(Y)", "a probability for each hidden state")
        if len(self.tables) != len(self.observables):
            raise DeclarationError(
                f"a state needs one table per observable ({len(self.observables)}: "
                f"{', '.join(self.observables)}), got {len(self.tables)}"
            )
        tables = tuple(
            _simplex(t, (k, len(lv)), f"P({name} | Y)", f"one row per hidden state, one column per level of {name}")
            for t, name, lv in zip(self.tables, self.observables, self.levels, strict=True)
        )
        object.__setattr__(self, "prior", prior)
        object.__setattr__(self, "tables", tables)

    @property
    def n_classes(self) -> int:
        """``K``, the number of hidden states."""
        return len(self.classes)

    def table(self, name: str) -> np.ndarray:
        """``P(name | Y)`` as a (K, L) array."""
        try:
            return self.tables[self.observables.index(name)]
        except ValueError:
            raise DeclarationError(
                f"no observable named {name!r}; the observables are {', '.join(self.observables)}"
            ) from None

    def relabel(self, perm: Sequence[int]) -> LatentState:
        """The gauge-equivalent state with hidden state ``j`` taken from old state ``perm[j]``.

        The names of the hidden states stay in place; only the numbers move. The implied
        joint of the observables, and so every payout, is unchanged.
        """
        p = _permutation(perm, self.n_classes)
        return LatentState(self.classes, self.observables, self.levels, self.prior[p],
                           tuple(t[p] for t in self.tables))

    def vector(self) -> np.ndarray:
        """All parameters in one vector: ``P(Y)``, then each table row by row."""
        return np.concatenate([self.prior, *(t.ravel() for t in self.tables)])

    def distance(self, other: LatentState) -> float:
        """Largest absolute difference between the parameters of two states (same labelling)."""
        return float(np.max(np.abs(self.vector() - other.vector())))

    def to_dict(self) -> dict:
        """``{"prior": {class: p}, "tables": {observable: {class: {level: p}}}}`` as plain floats."""
        return {
            "prior": {c: float(p) for c, p in zip(self.classes, self.prior, strict=True)},
            "tables": {
                name: {c: {lv: float(v) for lv, v in zip(levels, row, strict=True)}
                       for c, row in zip(self.classes, t, strict=True)}
                for name, levels, t in zip(self.observables, self.levels, self.tables, strict=True)
            },
        }

    def frame(self):
        """The state as a pandas DataFrame: one row per hidden state, columns ``P(Y)`` and ``name=level``."""
        import pandas as pd

        data = {"P(Y)": self.prior}
        for name, levels, t in zip(self.observables, self.levels, self.tables, strict=True):
            for j, lv in enumerate(levels):
                data[f"{name}={lv}"] = t[:, j]
        return pd.DataFrame(data, index=pd.Index(list(self.classes), name="Y"))

    def __repr__(self) -> str:
        prior = ", ".join(f"{c}: {_fmt(p)}" for c, p in zip(self.classes, self.prior, strict=True))
        return f"LatentState(P(Y) = {{{prior}}}; observables {', '.join(self.observables)})"

    def _repr_markdown_(self) -> str:
        head = ["Y", "P(Y)"] + [f"P({n}={lv} \\| Y)" for n, lvs in zip(self.observables, self.levels, strict=True)
                                for lv in lvs]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for k, c in enumerate(self.classes):
            cells = [c, _fmt(self.prior[k])] + [_fmt(v) for t in self.tables for v in t[k]]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)


def _simplex(values: Any, shape: tuple[int, ...], what: str, expected: str) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DeclarationError(f"{what} must be numbers of shape {shape} ({expected}), got {values!r}") from None
    if arr.shape != shape:
        raise DeclarationError(f"{what} has shape {arr.shape}, expected {shape} ({expected})")
    if not np.all(np.isfinite(arr)):
        raise DeclarationError(f"{what} has a non-finite entry: {arr.tolist()}; probabilities must be finite")
    if np.any(arr <= 0) or np.any(arr > 1):
        bad = arr[(arr <= 0) | (arr > 1)][0]
        raise DeclarationError(
            f"{what} has the entry {bad!r}; probabilities must lie in (0, 1] (a zero would make the "
            "log-score payout -inf when that value resolves): use a small positive number instead"
        )
    sums = arr.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > SIMPLEX_TOL):
        row = int(np.argmax(np.abs(np.atleast_1d(sums) - 1.0)))
        where = f"row {row} " if arr.ndim == 2 else ""
        raise DeclarationError(
            f"{what} {where}sums to {float(np.atleast_1d(sums)[row]):.12g}, expected 1 within {SIMPLEX_TOL}; "
            "each distribution must be on the simplex (divide by its sum)"
        )
    arr.setflags(write=False)
    return arr


# ---------------------------------------------------------------------------
# result records
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Move:
    """One trade in a latent market: ``trader`` moved the state from ``before`` to ``after``.

    ``changed`` names the parts of the state the trade set (``"P(Y)"``, ``"P(name | Y)"``).
    """

    time: float
    trader: str
    before: LatentState
    after: LatentState
    changed: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"time": float(self.time), "trader": self.trader, "changed": list(self.changed),
                "before": self.before.to_dict(), "after": self.after.to_dict()}

    def __repr__(self) -> str:
        return f"Move(time {self.time:g}, {self.trader!r} set {', '.join(self.changed) or 'nothing'})"


@dataclass(frozen=True, eq=False)
class Settlement:
    """The payouts of a latent market's book of moves on a list of resolved cases.

    Attributes
    ----------
    b : float
        The market's liquidity.
    n_cases : int
        Number of resolved cases.
    positions : dict of str to float
        Each trader's total payout: the sum over its moves and over the cases of
        ``b [log q_after(x) - log q_before(x)]``.
    move_payouts : ndarray, shape (M,)
        Each move's payout summed over the cases.
    maker_loss : float
        What the market maker pays out: the sum of all traders' positions.
    telescoped : float
        ``b sum_x [log q_final(x) - log q_initial(x)]``, which the moves' payouts telescope to.
    """

    b: float
    n_cases: int
    positions: dict[str, float]
    move_payouts: np.ndarray
    maker_loss: float
    telescoped: float

    @property
    def conserved(self) -> bool:
        """Whether the maker's loss equals the telescoped sum (money is conserved) within 1e-9 relative."""
        return abs(self.maker_loss - self.telescoped) <= 1e-9 * max(1.0, abs(self.telescoped))

    def to_dict(self) -> dict:
        return {"b": self.b, "n_cases": self.n_cases, "positions": {k: float(v) for k, v in self.positions.items()},
                "move_payouts": [float(v) for v in self.move_payouts], "maker_loss": float(self.maker_loss),
                "telescoped": float(self.telescoped), "conserved": self.conserved}

    def __repr__(self) -> str:
        return (f"Settlement({self.n_cases} cases, {len(self.move_payouts)} moves, {len(self.positions)} traders, "
                f"maker loss {self.maker_loss:.6g})")

    def _repr_markdown_(self) -> str:
        rows = [f"**settlement on {self.n_cases} cases** (b = {self.b:g}; maker loss {self.maker_loss:.6g}, "
                f"telescoped {self.telescoped:.6g})", "", "| trader | payout |", "|---|---|"]
        rows += [f"| {t} | {v:.6g} |" for t, v in sorted(self.positions.items(), key=lambda kv: -kv[1])]
        return "\n".join(rows)


# ---------------------------------------------------------------------------
# the market
# ---------------------------------------------------------------------------
class LatentMarket:
    """A prediction market on a latent-class model of some observables.

    Parameters
    ----------
    name : str
        A label.
    latent : int or sequence of str
        The hidden variable ``Y``: its number of states ``K >= 2`` (named ``"1"`` .. ``"K"``) or
        their names.
    observables : mapping of str to sequence
        Each observable's name and its levels (at least two distinct levels; shown as text).
    b : float
        The liquidity: payouts are ``b`` times log-probability ratios (nats when ``b = 1``).
    state : LatentState or mapping, optional
        The starting state (see :meth:`state_from`); default uniform ``P(Y)`` and uniform tables.

    Raises
    ------
    DeclarationError
        For fewer than two hidden states or levels, duplicate names, no observables, a
        non-positive ``b`` or an invalid starting state.

    Examples
    --------
    >>> m = LatentMarket("suspect", latent=["guilty", "innocent"],
    ...                  observables={"motive": ["yes", "no"], "witness": ["saw", "did not see"]})
    >>> m.joint_expression({"motive": "yes", "witness": "saw"})     # doctest: +NORMALIZE_WHITESPACE
    P(Y=guilty)*P(motive=yes|Y=guilty)*P(witness=saw|Y=guilty)
      + P(Y=innocent)*P(motive=yes|Y=innocent)*P(witness=saw|Y=innocent)
    >>> m.n_outcomes
    4
    """

    def __init__(self, name: str = "latent market", *, latent: int | Sequence[str],
                 observables: Mapping[str, Sequence[Any]], b: float = 1.0,
                 state: LatentState | Mapping | None = None):
        if not isinstance(name, str) or not name.strip():
            raise DeclarationError(f"a market name must be a non-empty string, got {name!r}")
        self.name = name
        self.classes = _classes(latent)
        if not isinstance(observables, Mapping) or not observables:
            raise DeclarationError(
                f"observables must be a non-empty mapping of name -> levels, e.g. "
                f"{{'motive': ['yes', 'no']}}, got {observables!r}"
            )
        names, levels, values = [], [], []
        for key, lv in observables.items():
            if not isinstance(key, str) or not key.strip():
                raise DeclarationError(f"an observable name must be a non-empty string, got {key!r}")
            if isinstance(lv, (str, bytes)) or not isinstance(lv, Iterable):
                raise DeclarationError(
                    f"observable {key!r}: levels must be a sequence such as ['yes', 'no'], got {lv!r}"
                )
            lv = list(lv)
            text = [str(v) for v in lv]
            if len(lv) < 2:
                raise DeclarationError(f"observable {key!r} has {len(lv)} level(s) {text}; it needs at least two")
            if len(set(text)) != len(text):
                dup = sorted({t for t in text if text.count(t) > 1})
                raise DeclarationError(f"observable {key!r} repeats the level(s) {dup}; levels must be distinct")
            names.append(key)
            levels.append(tuple(text))
            values.append(tuple(lv))
        self.observables: tuple[str, ...] = tuple(names)
        self.levels: tuple[tuple[str, ...], ...] = tuple(levels)
        self._values = tuple(values)
        self._lookup = []
        for lv, text in zip(values, levels, strict=True):
            table: dict[Any, int] = {}
            for j, (v, t) in enumerate(zip(lv, text, strict=True)):
                table[t] = j
                try:
                    table.setdefault(v, j)
                except TypeError:  # unhashable level value: matched by its text only
                    pass
            self._lookup.append(table)
        self.b = positive_float(b, "b", hint="b is the liquidity; pass e.g. b=1.0")
        self._initial = self.uniform_state() if state is None else self._coerce(state, "state")
        self._state = self._initial
        self._moves: list[Move] = []

    # declaration -------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        """``K``, the number of hidden states."""
        return len(self.classes)

    @property
    def n_observables(self) -> int:
        return len(self.observables)

    @property
    def n_outcomes(self) -> int:
        """Number of joint outcomes of the observables, ``prod_i L_i``."""
        return math.prod(len(lv) for lv in self.levels)

    @property
    def n_parameters(self) -> int:
        """Free parameters of a state: ``(K - 1) + K sum_i (L_i - 1)``."""
        k = self.n_classes
        return (k - 1) + k * sum(len(lv) - 1 for lv in self.levels)

    @property
    def state(self) -> LatentState:
        """The current state."""
        return self._state

    @property
    def initial_state(self) -> LatentState:
        """The state before the first move."""
        return self._initial

    @property
    def moves(self) -> tuple[Move, ...]:
        """The book of moves, in order."""
        return tuple(self._moves)

    def __repr__(self) -> str:
        obs = ", ".join(f"{n}[{len(lv)}]" for n, lv in zip(self.observables, self.levels, strict=True))
        return (f"LatentMarket({self.name!r}: Y in {{{', '.join(self.classes)}}}; observables {obs}; "
                f"b={self.b:g}; {len(self._moves)} moves)")

    def to_dict(self) -> dict:
        return {"name": self.name, "classes": list(self.classes),
                "observables": {n: list(lv) for n, lv in zip(self.observables, self.levels, strict=True)},
                "b": self.b, "n_parameters": self.n_parameters, "n_moves": len(self._moves),
                "state": self._state.to_dict()}

    # symbols -------------------------------------------------------------------
    @cached_property
    def _prior_symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(sympy.Symbol(f"P(Y={c})", positive=True) for c in self.classes)

    @cached_property
    def _table_symbols(self) -> tuple[sympy.Matrix, ...]:
        return tuple(
            sympy.Matrix([[sympy.Symbol(f"P({name}={lv}|Y={c})", positive=True) for lv in levels]
                          for c in self.classes])
            for name, levels in zip(self.observables, self.levels, strict=True)
        )

    def symbols(self) -> dict:
        """The parameter symbols: ``{"prior": (K,) symbols, "tables": {name: (K, L) sympy Matrix}}``.

        Examples
        --------
        >>> m = LatentMarket("m", latent=2, observables={"a": ["x", "y"]})
        >>> m.symbols()["tables"]["a"]
        Matrix([
        [P(a=x|Y=1), P(a=y|Y=1)],
        [P(a=x|Y=2), P(a=y|Y=2)]])
        """
        return {"prior": self._prior_symbols,
                "tables": dict(zip(self.observables, self._table_symbols, strict=True))}

    def values(self, state: LatentState | Mapping | None = None, *, exact: bool = False) -> dict:
        """``{symbol: value}`` for a state (the current one by default), for ``expr.subs(...)``.

        With ``exact=True`` the values are sympy Rationals: for each float, the simplest
        fraction (denominator at most 10**6) that rounds to that same float, else the float's
        exact binary value (so ``1/3`` stored as a float gives ``Rational(1, 3)``).
        """
        s = self._state if state is None else self._coerce(state, "state")

        def num(v):
            return _rational(float(v)) if exact else float(v)

        out = {sym: num(v) for sym, v in zip(self._prior_symbols, s.prior, strict=True)}
        for mat, t in zip(self._table_symbols, s.tables, strict=True):
            for (r, c), v in np.ndenumerate(t):
                out[mat[r, c]] = num(v)
        return out

    def joint_expression(self, x: Any) -> sympy.Expr:
        """The exact probability ``q_θ(x)`` of one case as a sympy expression of the parameter symbols.

        Observables left unresolved in ``x`` (missing keys, None) are summed out, which drops
        their factor: ``sum_y P(y) prod_{i resolved} P(x_i | y)``.
        """
        codes, single = self.encode(x)
        if not single:
            raise DeclarationError("joint_expression takes one case (a mapping or a sequence of levels)")
        row = codes[0]
        return sympy.Add(*[
            sympy.Mul(self._prior_symbols[y],
                      *[self._table_symbols[i][y, int(row[i])] for i in range(self.n_observables) if row[i] >= 0])
            for y in range(self.n_classes)
        ])

    def _log_q_function(self, subset: tuple[int, ...]) -> Callable:
        """Compiled ``log q(x_subset)`` of (log P(Y), log tables in subset, codes in subset)."""
        cache = self.__dict__.setdefault("_compiled", {})
        if subset not in cache:
            lp = sympy.IndexedBase("lp")
            lt = [sympy.IndexedBase(f"lt{i}") for i in subset]
            xs = [sympy.Symbol(f"code{i}", integer=True) for i in subset]
            a = [lp[y] + sum((t[y, x] for t, x in zip(lt, xs, strict=True)), sympy.S.Zero)
                 for y in range(self.n_classes)]
            top = sympy.Max(*a)
            expr = top + sympy.log(sympy.Add(*[sympy.exp(ai - top) for ai in a]))
            cache[subset] = sympy.lambdify([lp, *lt, *xs], expr, "numpy", cse=True)
        return cache[subset]

    # states ------------------------------------------------------------------------
    def uniform_state(self) -> LatentState:
        """Uniform ``P(Y)`` and uniform tables (the hidden states are then indistinguishable)."""
        k = self.n_classes
        return LatentState(self.classes, self.observables, self.levels, np.full(k, 1.0 / k),
                           tuple(np.full((k, len(lv)), 1.0 / len(lv)) for lv in self.levels))

    def random_state(self, rng: int | np.random.Generator | None = None, *, concentration: float = 1.0
                     ) -> LatentState:
        """A state with every distribution drawn from a symmetric Dirichlet(``concentration``)."""
        gen = as_rng(rng)
        positive_float(concentration, "concentration")
        k = self.n_classes
        floor = 1e-12
        prior = gen.dirichlet(np.full(k, float(concentration))) + floor
        tables = []
        for lv in self.levels:
            t = gen.dirichlet(np.full(len(lv), float(concentration)), size=k) + floor
            tables.append(t / t.sum(axis=1, keepdims=True))
        return LatentState(self.classes, self.observables, self.levels, prior / prior.sum(), tuple(tables))

    def state_from(self, *, prior: Any = None, tables: Mapping[str, Any] | Sequence[Any] | None = None,
                   base: LatentState | Mapping | None = None) -> LatentState:
        """A validated state: ``base`` (default: the current state) with ``prior`` and/or some tables replaced.

        Parameters
        ----------
        prior : array_like, shape (K,), optional
            ``P(Y)``.
        tables : mapping of observable name to array_like (K, L), or a sequence of all tables
            ``P(X_i | Y)``, rows = hidden states.
        base : state, optional

        Raises
        ------
        DeclarationError
            Naming the table with a wrong shape, a non-finite or non-positive entry or a row
            that does not sum to 1.
        """
        s = self._state if base is None else self._coerce(base, "base")
        new_prior = s.prior if prior is None else prior
        new_tables = list(s.tables)
        if tables is not None:
            if isinstance(tables, Mapping):
                for key, value in tables.items():
                    if key not in self.observables:
                        raise DeclarationError(
                            f"tables has {key!r}, which is not an observable; the observables are "
                            f"{', '.join(self.observables)}"
                        )
                    new_tables[self.observables.index(key)] = value
            elif isinstance(tables, (list, tuple)):
                if len(tables) != self.n_observables:
                    raise DeclarationError(
                        f"tables as a sequence must have one table per observable ({self.n_observables}: "
                        f"{', '.join(self.observables)}), got {len(tables)}; or give a mapping name -> table"
                    )
                new_tables = list(tables)
            else:
                raise DeclarationError(f"tables must be a mapping name -> (K, L) table, got {type(tables).__name__}")
        return LatentState(self.classes, self.observables, self.levels, new_prior, tuple(new_tables))

    def _coerce(self, state: Any, what: str) -> LatentState:
        if isinstance(state, LatentState):
            if (state.classes, state.observables, state.levels) != (self.classes, self.observables, self.levels):
                raise DeclarationError(
                    f"{what} belongs to another market (hidden states {list(state.classes)}, observables "
                    f"{list(state.observables)}); this market has {list(self.classes)} and {list(self.observables)}"
                )
            return state
        if isinstance(state, Mapping):
            extra = set(state) - {"prior", "tables"}
            if extra or "prior" not in state or "tables" not in state:
                raise DeclarationError(
                    f"{what} as a mapping needs exactly the keys 'prior' and 'tables', got {sorted(map(str, state))}"
                )
            try:
                prior, tables = self._fromplain(state["prior"], state["tables"])
            except KeyError as err:
                raise DeclarationError(
                    f"{what}: the mapping has no entry for {err.args[0]!r}; the to_dict() form names every hidden "
                    f"state ({', '.join(self.classes)}) and every level"
                ) from None
            if isinstance(tables, Mapping):
                missing = [n for n in self.observables if n not in tables]
                if missing:
                    raise DeclarationError(f"{what}: no table for {', '.join(missing)}")
            base = self.uniform_state()
            return self.state_from(prior=prior, tables=tables, base=base)
        raise DeclarationError(
            f"{what} must be a LatentState or a mapping {{'prior': ..., 'tables': ...}}, got {type(state).__name__}"
        )

    def _fromplain(self, prior: Any, tables: Any) -> tuple[Any, Any]:
        """Arrays from the ``to_dict()`` form ({class: p} and {name: {class: {level: p}}}); others pass through."""
        if isinstance(prior, Mapping):
            prior = [prior[c] for c in self.classes]
        if isinstance(tables, Mapping):
            tables = {
                n: [[t[c][lv] for lv in self.levels[self.observables.index(n)]] for c in self.classes]
                if isinstance(t, Mapping) and n in self.observables else t
                for n, t in tables.items()
            }
        return prior, tables

    def relabel(self, perm: Sequence[int], state: LatentState | Mapping | None = None) -> LatentState:
        """The gauge-equivalent state (the current one by default) with hidden states permuted.

        New hidden state ``j`` carries the parameters of old state ``perm[j]``; the implied
        joint of the observables and every payout are unchanged.

        Examples
        --------
        >>> m = LatentMarket("m", latent=2, observables={"a": ["0", "1"]})
        >>> s = m.state_from(prior=[0.3, 0.7], tables={"a": [[0.9, 0.1], [0.2, 0.8]]})
        >>> t = m.relabel([1, 0], s)
        >>> abs(m.log_probability({"a": "1"}, s) - m.log_probability({"a": "1"}, t)) < 1e-12
        True
        """
        s = self._state if state is None else self._coerce(state, "state")
        return s.relabel(perm)

    # cases -------------------------------------------------------------------------
    def encode(self, cases: Any) -> tuple[np.ndarray, bool]:
        """Level codes of resolved cases: ``(codes (N, n_observables) int64, single)``; -1 = unresolved.

        ``cases`` is one case (a mapping observable -> level, or a sequence of levels in
        declaration order), many cases (a list of those, or a pandas DataFrame with one column
        per observable) or an integer numpy array of codes (N, n) or (n,). Missing keys,
        columns, None and NaN are unresolved observables.
        """
        n = self.n_observables
        if isinstance(cases, np.ndarray) and np.issubdtype(cases.dtype, np.integer):
            arr = cases.astype(np.int64)
            single = arr.ndim == 1
            arr = arr.reshape(-1, n) if arr.ndim == 1 and arr.shape[0] == n else arr
            if arr.ndim != 2 or arr.shape[1] != n:
                raise DeclarationError(f"integer codes must have shape ({n},) or (N, {n}), got {cases.shape}")
            for i, lv in enumerate(self.levels):
                bad = (arr[:, i] < -1) | (arr[:, i] >= len(lv))
                if bad.any():
                    raise DeclarationError(
                        f"code {int(arr[bad, i][0])} for {self.observables[i]!r} is out of range: expected "
                        f"0..{len(lv) - 1} ({', '.join(lv)}) or -1 for unresolved"
                    )
            return arr, single
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            pd = None
        if pd is not None and isinstance(cases, pd.DataFrame):
            unknown = [c for c in cases.columns if c not in self.observables and str(c).lower() not in
                       ("case", "question")]
            if unknown:
                raise DeclarationError(
                    f"cases have the column(s) {unknown}, which are not observables; expected columns among "
                    f"{', '.join(self.observables)} (and optionally 'case')"
                )
            rows = [{k: v for k, v in zip(cases.columns, r, strict=True) if k in self.observables}
                    for r in cases.itertuples(index=False, name=None)]
            return self._encode_rows(rows), False
        if isinstance(cases, Mapping):
            return self._encode_rows([cases]), True
        if isinstance(cases, (list, tuple, np.ndarray)):
            items = list(cases)
            if not items:
                raise DeclarationError("no cases given; give at least one resolved case")
            if all(isinstance(c, Mapping) or (isinstance(c, (list, tuple, np.ndarray)) and not isinstance(c, str))
                   for c in items):
                return self._encode_rows(items), False
            return self._encode_rows([items]), True
        raise DeclarationError(
            f"cases must be a mapping observable -> level, a sequence of levels, a list of those, a DataFrame "
            f"or integer codes, got {type(cases).__name__}"
        )

    def _encode_rows(self, rows: list) -> np.ndarray:
        n = self.n_observables
        out = np.full((len(rows), n), -1, dtype=np.int64)
        for r, case in enumerate(rows):
            if isinstance(case, Mapping):
                extra = [k for k in case if k not in self.observables]
                if extra:
                    raise DeclarationError(
                        f"case {r}: {extra} is not an observable; the observables are {', '.join(self.observables)}"
                    )
                items = [(self.observables.index(k), v) for k, v in case.items()]
            else:
                case = list(case)
                if len(case) != n:
                    raise DeclarationError(
                        f"case {r} has {len(case)} values, expected {n} (one per observable: "
                        f"{', '.join(self.observables)}) or a mapping"
                    )
                items = list(enumerate(case))
            for i, v in items:
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                code = self._level_code(i, v)
                if code is None:
                    raise DeclarationError(
                        f"case {r}: {self.observables[i]} = {v!r} is not a level; expected one of "
                        f"{', '.join(self.levels[i])} (or None for unresolved)"
                    )
                out[r, i] = code
        return out

    def _level_code(self, i: int, v: Any) -> int | None:
        table = self._lookup[i]
        try:
            if v in table:
                return table[v]
        except TypeError:
            pass
        return table.get(str(v))

    def decode(self, codes: np.ndarray):
        """Level codes (N, n) back to a pandas DataFrame of levels (None where unresolved)."""
        import pandas as pd

        codes = np.asarray(codes, dtype=np.int64).reshape(-1, self.n_observables)
        return pd.DataFrame({name: [lv[c] if c >= 0 else None for c in codes[:, i]]
                             for i, (name, lv) in enumerate(zip(self.observables, self.levels, strict=True))})

    def outcomes(self) -> np.ndarray:
        """All joint outcomes as codes (prod L_i, n), in ``itertools.product`` order.

        Raises
        ------
        DeclarationError
            If there are more than ``MAX_OUTCOMES`` outcomes.
        """
        if self.n_outcomes > MAX_OUTCOMES:
            raise DeclarationError(
                f"the observables have {self.n_outcomes} joint outcomes, more than {MAX_OUTCOMES} that are "
                "enumerated; use sampled cases instead"
            )
        return np.array(list(itertools.product(*(range(len(lv)) for lv in self.levels))), dtype=np.int64)

    # probabilities -----------------------------------------------------------------
    def _log_q(self, state: LatentState, codes: np.ndarray) -> np.ndarray:
        out = np.empty(codes.shape[0])
        lp = np.log(state.prior)
        logs = [np.log(t) for t in state.tables]
        seen = codes >= 0
        if seen.all():  # the usual case: fully resolved cases, one compiled call
            masks, inverse = np.ones((1, codes.shape[1]), dtype=bool), np.zeros(codes.shape[0], dtype=np.int64)
        else:
            masks, inverse = np.unique(seen, axis=0, return_inverse=True)
        for p, mask in enumerate(masks):
            rows = inverse.ravel() == p
            subset = tuple(int(i) for i in np.flatnonzero(mask))
            if not subset:
                out[rows] = 0.0
                continue
            fn = self._log_q_function(subset)
            with np.errstate(all="ignore"):
                val = fn(lp, *[logs[i] for i in subset], *[codes[rows, i] for i in subset])
            out[rows] = np.broadcast_to(np.asarray(val, dtype=float), (int(rows.sum()),))
        return out

    def _class_logits(self, state: LatentState, codes: np.ndarray) -> np.ndarray:
        a = np.tile(np.log(state.prior), (codes.shape[0], 1))
        for i, t in enumerate(state.tables):
            seen = codes[:, i] >= 0
            a[seen] += np.log(t)[:, codes[seen, i]].T
        return a

    def log_probability(self, x: Any, state: LatentState | Mapping | None = None) -> float | np.ndarray:
        """``log q_θ(x)`` of one or many cases under a state (the current one by default)."""
        s = self._state if state is None else self._coerce(state, "state")
        codes, single = self.encode(x)
        out = self._log_q(s, codes)
        return float(out[0]) if single else out

    def probability(self, x: Any, state: LatentState | Mapping | None = None) -> float | np.ndarray:
        """``q_θ(x)`` of one or many cases (unresolved observables summed out)."""
        out = np.exp(self.log_probability(x, state))
        return float(out) if np.ndim(out) == 0 else out

    def posterior_latent(self, x: Any, state: LatentState | Mapping | None = None) -> np.ndarray:
        """``P(Y | x)`` under a state: (K,) for one case, (N, K) for many."""
        s = self._state if state is None else self._coerce(state, "state")
        codes, single = self.encode(x)
        a = self._class_logits(s, codes)
        r = np.exp(a - _lse(a)[:, None])
        return r[0] if single else r

    def joint(self, state: LatentState | Mapping | None = None):
        """The implied joint of the observables as a pandas Series over all outcomes (MultiIndex of levels)."""
        import pandas as pd

        s = self._state if state is None else self._coerce(state, "state")
        codes = self.outcomes()
        index = pd.MultiIndex.from_arrays(
            [[lv[c] for c in codes[:, i]] for i, lv in enumerate(self.levels)], names=list(self.observables)
        )
        return pd.Series(np.exp(self._log_q(s, codes)), index=index, name="q")

    def kl(self, p: LatentState | Mapping, q: LatentState | Mapping | None = None) -> float:
        """``KL(q_p || q_q)`` in nats between the joints implied by two states (q: the current state).

        Computed by enumerating every joint outcome.
        """
        ps, qs = self._coerce(p, "p"), (self._state if q is None else self._coerce(q, "q"))
        codes = self.outcomes()
        lp, lq = self._log_q(ps, codes), self._log_q(qs, codes)
        return float(np.sum(np.exp(lp) * (lp - lq)))

    def sample(self, n: int, state: LatentState | Mapping | None = None,
               rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` cases from a state: ``(codes (n, n_observables), latent (n,))``."""
        n = whole_number(n, "n", 1)
        s = self._state if state is None else self._coerce(state, "state")
        gen = as_rng(rng)
        y = _categorical(gen, np.broadcast_to(s.prior, (n, self.n_classes)))
        codes = np.column_stack([_categorical(gen, t[y]) for t in s.tables])
        return codes.astype(np.int64), y.astype(np.int64)

    # trading -----------------------------------------------------------------------
    def move(self, trader: str, state: LatentState | Mapping | None = None, *, prior: Any = None,
             tables: Mapping[str, Any] | None = None, time: float | None = None) -> Move:
        """Move the market to a new state and record the move in the book.

        Give a whole ``state``, or only ``prior`` (``P(Y)``) and/or some ``tables``
        (``{name: P(name | Y)}``), which replace those parts of the current state.

        Parameters
        ----------
        trader : str
        state : LatentState or mapping, optional
        prior : array_like (K,), optional
        tables : mapping, optional
        time : float, optional
            When the move happened (default: its 1-based number in the book).

        Returns
        -------
        Move
        """
        if not isinstance(trader, str) or not trader.strip():
            raise DeclarationError(f"trader must be a non-empty string, got {trader!r}")
        before = self._state
        if state is not None:
            if prior is not None or tables is not None:
                raise DeclarationError("give either a whole state or prior=/tables=, not both")
            after = self._coerce(state, "state")
            changed = ("P(Y)", *(f"P({n} | Y)" for n in self.observables))
        elif prior is None and tables is None:
            raise DeclarationError("a move needs a new state, prior=... or tables={name: table}")
        else:
            after = self.state_from(prior=prior, tables=tables)
            changed = (("P(Y)",) if prior is not None else ()) + tuple(
                f"P({n} | Y)" for n in (tables or {}))
        t = len(self._moves) + 1 if time is None else time
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise DeclarationError(f"time must be a number, got {time!r}") from None
        mv = Move(t, trader, before, after, changed)
        self._moves.append(mv)
        self._state = after
        return mv

    # the trading protocol: parameters as securities ------------------------------
    @property
    def securities(self) -> tuple[str, ...]:
        """The parameters, named as their symbols: ``P(Y=c)`` for each hidden state, then ``P(x=l|Y=c)``."""
        return tuple(n for names in self._security_blocks.values() for n in names)

    @cached_property
    def _security_blocks(self) -> dict[str, list[str]]:
        """The security names in each part of a state (``"P(Y)"``, ``"P(x | Y)"``), in order."""
        blocks = {"P(Y)": [str(sym) for sym in self._prior_symbols]}
        for name, mat in zip(self.observables, self._table_symbols, strict=True):
            blocks[f"P({name} | Y)"] = [str(sym) for sym in mat]  # row by row: hidden state, then level
        return blocks

    def prices(self, state: LatentState | Mapping | None = None):
        """The parameters of a state (the current one by default) as a pandas Series by security.

        Examples
        --------
        >>> m = LatentMarket("m", latent=2, observables={"a": ["x", "y"]})
        >>> m.prices().to_dict()
        {'P(Y=1)': 0.5, 'P(Y=2)': 0.5, 'P(a=x|Y=1)': 0.5, 'P(a=y|Y=1)': 0.5, 'P(a=x|Y=2)': 0.5, 'P(a=y|Y=2)': 0.5}
        """
        import pandas as pd

        s = self._state if state is None else self._coerce(state, "state")
        values = np.concatenate([s.prior, *(t.ravel() for t in s.tables)])
        return pd.Series(values, index=list(self.securities), name="price", dtype=float)

    def state_from_prices(self, prices: Mapping[str, float]) -> LatentState:
        """The state whose :meth:`prices` are ``prices`` (a Series or mapping naming every security).

        Raises
        ------
        DeclarationError
            Naming the securities missing or unknown, or (as :meth:`state_from`) a row that is
            not a distribution.
        """
        names = self.securities
        given = set(map(str, prices.keys()))
        missing, unknown = [n for n in names if n not in given], sorted(given - set(names))
        if missing or unknown:
            raise DeclarationError(
                f"prices must name every security of the market once: missing {missing[:5]}, unknown {unknown[:5]}; "
                f"the securities are LatentMarket.securities ({len(names)} of them)"
            )
        flat = {str(k): v for k, v in prices.items()}
        k = self.n_classes
        prior = np.array([float(flat[n]) for n in names[:k]])
        tables, start = {}, k
        for name, levels in zip(self.observables, self.levels, strict=True):
            size = k * len(levels)
            tables[name] = np.array([float(flat[n]) for n in names[start:start + size]]).reshape(k, len(levels))
            start += size
        return self.state_from(prior=prior, tables=tables)

    @property
    def history(self):
        """The moves as a reports book: for each move, the price it set on each security of the parts it changed.

        Columns ``time``, ``trader``, ``question`` (the security) and ``probability`` (its new
        price); ``Book.from_frame(m.history)`` reads it, and replaying it row group by row group
        through :meth:`state_from_prices` gives back every move's state.
        """
        import pandas as pd

        blocks = self._security_blocks
        rows = []
        for mv in self._moves:
            after = self.prices(mv.after)
            rows.extend({"time": mv.time, "trader": mv.trader, "question": name, "probability": float(after[name])}
                        for part in mv.changed for name in blocks[part])
        return pd.DataFrame(rows, columns=list(REPORT_HISTORY_COLUMNS)).astype({"time": float, "probability": float})

    def payout(self, before: LatentState | Mapping, after: LatentState | Mapping, x: Any) -> float | np.ndarray:
        """What moving ``before -> after`` pays when case(s) ``x`` resolve: ``b [log q_after(x) - log q_before(x)]``.

        Examples
        --------
        >>> m = LatentMarket("m", latent=2, observables={"a": ["0", "1"]})
        >>> s = m.state_from(prior=[0.5, 0.5], tables={"a": [[0.9, 0.1], [0.5, 0.5]]})
        >>> round(m.payout(m.uniform_state(), s, {"a": "0"}), 6)     # log(0.7 / 0.5)
        0.336472
        """
        b0, b1 = self._coerce(before, "before"), self._coerce(after, "after")
        codes, single = self.encode(x)
        out = self.b * (self._log_q(b1, codes) - self._log_q(b0, codes))
        return float(out[0]) if single else out

    def payout_sequential(self, before: LatentState | Mapping, after: LatentState | Mapping, x: Any,
                          order: Sequence[str] | None = None) -> np.ndarray:
        """The payout when the observables resolve one at a time, step by step.

        Step ``i`` pays ``b [log q_after(x_i | x_<i) - log q_before(x_i | x_<i)]``, the
        conditionals taken in ``order`` (default: declaration order); the steps sum to
        :meth:`payout`.

        Returns
        -------
        ndarray
            (n_observables,) for one case, (N, n_observables) for many; columns in ``order``.
        """
        b0, b1 = self._coerce(before, "before"), self._coerce(after, "after")
        codes, single = self.encode(x)
        if order is None:
            idx = list(range(self.n_observables))
        else:
            order = list(order)
            if sorted(order) != sorted(self.observables):
                raise DeclarationError(
                    f"order must list every observable once ({', '.join(self.observables)}), got {order}"
                )
            idx = [self.observables.index(o) for o in order]
        if np.any(codes < 0):
            raise DeclarationError("payout_sequential needs fully resolved cases (every observable has a level)")
        prev = {0: np.zeros(codes.shape[0]), 1: np.zeros(codes.shape[0])}
        steps = np.empty((codes.shape[0], len(idx)))
        partial = np.full_like(codes, -1)
        for step, i in enumerate(idx):
            partial[:, i] = codes[:, i]
            now = {0: self._log_q(b0, partial), 1: self._log_q(b1, partial)}
            steps[:, step] = self.b * ((now[1] - prev[1]) - (now[0] - prev[0]))
            prev = now
        return steps[0] if single else steps

    def expected_payout(self, before: LatentState | Mapping, after: LatentState | Mapping,
                        belief: LatentState | Mapping) -> float:
        """The payout of ``before -> after`` expected by someone who believes ``belief`` (exact enumeration).

        Moving ``q`` to ``p`` under belief ``p`` is worth ``b KL(p || q)``.

        Examples
        --------
        >>> m = LatentMarket("m", latent=2, observables={"a": ["0", "1"], "c": ["0", "1"]})
        >>> p, q = m.random_state(1), m.random_state(2)
        >>> abs(m.expected_payout(q, p, p) - m.b * m.kl(p, q)) < 1e-12
        True
        """
        b0, b1, bp = self._coerce(before, "before"), self._coerce(after, "after"), self._coerce(belief, "belief")
        codes = self.outcomes()
        return float(self.b * np.sum(np.exp(self._log_q(bp, codes)) * (self._log_q(b1, codes)
                                                                        - self._log_q(b0, codes))))

    def settle(self, cases: Any) -> Settlement:
        """Pay every move of the book on the resolved ``cases`` and total each trader's position.

        A trader's position is the sum over its moves and over the cases of
        ``b [log q_after(x) - log q_before(x)]``. The maker's loss is the sum of all
        positions, which telescopes to ``b sum_x [log q_final(x) - log q_initial(x)]``.
        """
        codes, _ = self.encode(cases)
        if not self._moves:
            raise DeclarationError("the book has no moves to settle; trade with move(...) first")
        positions: dict[str, float] = {}
        pays = np.empty(len(self._moves))
        # the states are a chain: each move's payout is a difference of consecutive log-scores
        logs = [self._log_q(self._moves[0].before, codes)]
        for k, mv in enumerate(self._moves):
            chained = k == 0 or mv.before is self._moves[k - 1].after
            start = logs[-1] if chained else self._log_q(mv.before, codes)
            end = self._log_q(mv.after, codes)
            logs.append(end)
            pays[k] = self.b * float(np.sum(end - start))
            positions[mv.trader] = positions.get(mv.trader, 0.0) + pays[k]
        telescoped = self.b * float(np.sum(logs[-1] - logs[0]))
        return Settlement(self.b, int(codes.shape[0]), positions, pays, float(pays.sum()), telescoped)

    # informed traders --------------------------------------------------------------
    def simulate_informed_traders(
        self,
        true_state: LatentState | Mapping,
        n_traders: int = 20,
        cases_per_trader: int = 50,
        rounds: int = 3,
        rng: int | np.random.Generator | None = None,
        progressbar: bool = True,
        *,
        em_steps: int = 30,
        market_cases: float | None = None,
        smoothing: float = 1.0,
        threshold: float = 0.02,
    ) -> InformedTraders:
        """Simulate informed traders moving this market.

        See :func:`deepmarkets.models.simulate.simulate_informed_traders` (this market is its first argument).
        """
        from deepmarkets.models.simulate import simulate_informed_traders

        return simulate_informed_traders(self, true_state, n_traders, cases_per_trader, rounds, rng, progressbar,
                                         em_steps=em_steps, market_cases=market_cases, smoothing=smoothing,
                                         threshold=threshold)

    # inference -----------------------------------------------------------------------
    def infer(self, cases: Any, *, state: LatentState | Mapping | None = None, draws: int = 500, tune: int = 500,
              chains: int = 2, cores: int | None = 1, prob: float = INTERVAL_PROB,
              rng: int | np.random.Generator | None = None, progressbar: bool = True,
              backend: str = "pymc") -> MarketPosterior:
        """The posterior over θ and over each case's hidden state given resolved cases, next to the market's θ.

        See :func:`deepmarkets.models.infer_market.infer_market` (this market is its first argument).
        """
        from deepmarkets.models.infer_market import infer_market

        return infer_market(self, cases, state=state, draws=draws, tune=tune, chains=chains, cores=cores, prob=prob,
                            rng=rng, progressbar=progressbar, backend=backend)


# ---------------------------------------------------------------------------
# internals
# ---------------------------------------------------------------------------
def _classes(latent: Any) -> tuple[str, ...]:
    if isinstance(latent, (int, np.integer)) and not isinstance(latent, bool):
        if latent < 2:
            raise DeclarationError(f"latent must have at least two states, got latent={latent!r}")
        return tuple(str(k) for k in range(1, int(latent) + 1))
    if isinstance(latent, (str, bytes)) or not isinstance(latent, Iterable):
        raise DeclarationError(
            f"latent must be a number of hidden states (>= 2) or a sequence of their names, got {latent!r}"
        )
    names = [str(c) for c in latent]
    if len(names) < 2:
        raise DeclarationError(f"latent must have at least two states, got {names}")
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise DeclarationError(f"the hidden states must have distinct non-empty names, got {names}")
    return tuple(names)


def _rational(v: float) -> sympy.Rational:
    """The simplest fraction (denominator <= 10**6) that rounds to the float ``v``, else ``v`` exactly."""
    from fractions import Fraction

    f = Fraction(v).limit_denominator(10**6)
    if float(f) != v:
        f = Fraction(v)
    return sympy.Rational(f.numerator, f.denominator)


def _categorical(gen: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, axis=1)
    u = gen.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


def _best_permutation(est: LatentState, ref: LatentState) -> np.ndarray:
    """``perm`` such that ``est.relabel(perm)`` is closest to ``ref`` in squared distance (exact, Hungarian)."""
    from deepmarkets.models.relabel import align_draws

    def blocks(state: LatentState) -> np.ndarray:  # one row per hidden state: its prior and its table rows
        return np.concatenate([state.prior[:, None], *state.tables], axis=1)

    perms, _ = align_draws(blocks(est)[None], blocks(ref), cost="squared")
    return perms[0]


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------
@styled
def plot_tables(market_state: LatentState, true_state: LatentState | None = None,
                posterior: MarketPosterior | None = None, *, align: bool = True, ax: Any = None):
    """Plot the latent tables side by side: market, truth and posterior (mean with intervals).

    One panel per observable plus one for ``P(Y)``; for each hidden state and level, bars for
    the market's value, the true value (relabelled to the market's states when ``align``) and
    the posterior mean with its credible interval.

    Parameters
    ----------
    market_state : LatentState
    true_state : LatentState, optional
    posterior : MarketPosterior, optional
    align : bool, default True
        Relabel ``true_state``'s hidden states to match the market's.
    ax : sequence of matplotlib.axes.Axes, optional
        One Axes per panel (one for ``P(Y)`` and one per observable), of one figure; a new figure
        when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` when given.
    """
    s = market_state
    truth = true_state
    if truth is not None and align:
        truth = truth.relabel(_best_permutation(truth, s))
    panels = [("P(Y)", s.prior[:, None], None if truth is None else truth.prior[:, None],
               None if posterior is None else (posterior.mean.prior[:, None], posterior.lower["prior"][:, None],
                                               posterior.upper["prior"][:, None]), ("",))]
    for i, name in enumerate(s.observables):
        panels.append((f"P({name} | Y)", s.tables[i], None if truth is None else truth.tables[i],
                       None if posterior is None else (posterior.mean.tables[i], posterior.lower["tables"][i],
                                                       posterior.upper["tables"][i]), s.levels[i]))
    fig, axes = figure_and_axes(ax, shape=(1, len(panels)), figsize=(2.8 * len(panels) + 1, 4.2))
    series = 1 + (truth is not None) + (posterior is not None)
    width = 0.8 / series
    for panel, (title, mk, tr, post, levels) in zip(axes, panels, strict=True):
        labels = [f"{c}" + (f"\n{lv}" if lv else "") for c in s.classes for lv in levels]
        x = np.arange(len(labels))
        panel.bar(x - 0.4 + width / 2, mk.ravel(), width, label="market", color=COLOURS[0])
        col = 1
        if tr is not None:
            panel.bar(x - 0.4 + width * (col + 0.5), tr.ravel(), width, label="true", color=COLOURS[2])
            col += 1
        if post is not None:
            mean, lo, hi = (np.asarray(v).ravel() for v in post)
            panel.bar(x - 0.4 + width * (col + 0.5), mean, width, label="posterior", color=COLOURS[1],
                   yerr=np.vstack([mean - lo, hi - mean]), capsize=2)
        long = max(len(lab) for lab in labels) > 14
        panel.set_xticks(x, [lab.replace("\n", ": ") if long else lab for lab in labels], fontsize="small",
                      rotation=60 if long else 0, ha="right" if long else "center")
        panel.set_ylim(0, 1)
        panel.set_title(title)
        panel.set_xlabel("hidden state" if levels == ("",) else "hidden state, level")
        panel.set_ylabel("probability")
    axes[0].legend()
    return fig
