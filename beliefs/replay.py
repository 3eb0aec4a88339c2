"""Replay a book of trades through a market: price paths, costs, positions and settlement.

:func:`replay` turns each row of a trades :class:`~deepmarkets.beliefs.book.Book`
into a change of the maker's state (a bundle of outcome contracts, see
:mod:`deepmarkets.beliefs.market`), and computes states, prices and costs with
vectorised cumulative sums, outcome by outcome (the kernel of :meth:`MarketMaker.price_path
<deepmarkets.beliefs.makers.MarketMaker.price_path>`). Conditional trades depend on
the state they meet, so runs of other trades are vectorised between them.

Given the world, each trade's bundle is paid in the true outcome. The maker's loss
is computed from the cost function's end points, ``payout - (C(q_T) - C(q_0))``;
the traders' profits from the costs of the individual trades: the two agree
(money is conserved, and the cost is path independent). Quantities and the maker's
holdings are limited to :data:`~deepmarkets.beliefs.makers.MAX_AMOUNT` units, where float64 still accounts for money
accurately, and a replay whose books do not balance within :data:`BALANCE_RTOL` raises
instead of being returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.beliefs.makers import AMOUNT_LIMIT_REASON, MAX_AMOUNT
from deepmarkets.beliefs.market import Market
from deepmarkets.beliefs.trade_columns import Columns, columns_from_coo, dense_from_columns
from deepmarkets.errors import BookError, DeclarationError
from deepmarkets.helpers.plotting import figure_and_axes, styled

__all__ = ["BALANCE_RTOL", "MAX_AMOUNT", "Replay", "replay"]

#: The traders' profits and the maker's profit must sum to zero within this fraction of the money
#: that changed hands (costs and payouts); the costs must add up to the maker's revenue alike.
BALANCE_RTOL = 1e-9


@dataclass(frozen=True)
class Replay:
    """The result of :func:`replay`.

    Attributes
    ----------
    market : str
        The market's name.
    prices : pandas.DataFrame
        One column per security, one row per step: ``step`` 0 is the start, step
        ``t`` the prices after the ``t``-th trade.
    trades : pandas.DataFrame
        The book's rows (sorted by time) with ``cost`` (cash paid, negative for a
        sale), ``replayed_price`` (cost per unit), ``recorded_price`` (the book's
        price, NaN where not recorded) and ``price_mismatch`` (recorded and replayed
        prices differ by more than the tolerance), plus ``payout`` given a world.
    traders : pandas.DataFrame
        Per trader: ``trades``, ``cash`` (minus the costs paid), ``payout`` and ``pnl``
        (NaN without a world), and ``position[<security>]`` (units held).
    maker_loss : float
        What the maker pays out in the world minus what it collected
        (``C(q_T) - C(q_0)``); money is conserved, so it equals the sum of the traders'
        ``pnl`` (NaN without a world).
    maker_revenue : float
        ``C(q_T) - C(q_0)``, the cash the maker collected.
    outcome : str or None
        The true outcome (or outcomes, joined by ", ", for a maker that is not complete).
    mismatches : int
        Number of trades whose recorded price differs from the replayed one.
    """

    market: str
    prices: pd.DataFrame = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    traders: pd.DataFrame = field(repr=False)
    maker_loss: float
    maker_revenue: float
    outcome: str | None
    mismatches: int

    def to_dict(self) -> dict:
        traders = self.traders.reset_index()
        return {
            "market": self.market,
            "n_trades": len(self.trades),
            "outcome": self.outcome,
            "maker_loss": _num(self.maker_loss),
            "maker_revenue": _num(self.maker_revenue),
            "mismatches": self.mismatches,
            "final_prices": {k: float(v) for k, v in self.prices.iloc[-1].items()},
            "traders": [{k: (_num(v) if isinstance(v, (float, np.floating)) else
                             int(v) if isinstance(v, (np.integer,)) else v) for k, v in row.items()}
                        for row in traders.to_dict(orient="records")],
        }

    def summary(self) -> str:
        """A text table of cash, payout and profit per trader, then the maker's loss."""
        t = self.traders
        width = max(6, *(len(str(x)) for x in t.index))
        lines = [f"replay of {len(self.trades)} trades on market {self.market!r}"
                 + (f", outcome {self.outcome}" if self.outcome is not None else ", not settled"),
                 f"{'trader':<{width}}  {'trades':>6}  {'cash':>12}  {'payout':>12}  {'pnl':>12}"]
        for name, row in t.iterrows():
            lines.append(f"{name!s:<{width}}  {int(row['trades']):>6}  {row['cash']:>12.6g}  "
                         f"{row['payout']:>12.6g}  {row['pnl']:>12.6g}")
        lines.append(f"maker revenue {self.maker_revenue:.6g}; maker loss {self.maker_loss:.6g}")
        if self.mismatches:
            lines.append(f"{self.mismatches} trade(s) recorded a price different from the replayed one "
                         "(see trades.price_mismatch)")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + self.summary() + "\n```"

    def __repr__(self) -> str:
        settled = f"outcome {self.outcome}, maker loss {self.maker_loss:.6g}" if self.outcome else "not settled"
        return (f"Replay({self.market!r}: {len(self.trades)} trades, {len(self.traders)} traders, {settled}, "
                f"{self.mismatches} price mismatches)")

    @styled
    def plot_prices(self, ax=None):
        """Plot each security's price against the trade number.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Drawn there when given, else on a new figure.

        Returns
        -------
        matplotlib.figure.Figure
            ``ax.figure`` when ``ax`` was given.
        """
        fig, ax = figure_and_axes(ax, figsize=(7, 4))
        for name in self.prices.columns:
            ax.step(self.prices.index, self.prices[name], where="post", label=str(name))
        ax.set_xlabel("trade")
        ax.set_ylabel("price")
        ax.set_title(f"prices in {self.market}")
        ax.legend(loc="best")
        return fig


def _num(v: Any) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


def replay(book: Any, market: Market, world: Any = None, *, price_tol: float = 1e-6) -> Replay:
    """Replay a trades book through a market maker, and settle it in a world.

    Parameters
    ----------
    book : Book or pandas.DataFrame
        A trades book (a DataFrame is validated with ``Book.from_frame``). Its
        ``security`` names the market's securities; ``price`` is the price per unit
        recorded (NaN when not recorded).
    market : Market
        The market; the replay starts from its starting state (trades made with
        :meth:`Market.trade` are not included) and does not change it.
    world : optional
        The truth: an outcome name, facts, a mapping ``{name: value}``, ... (see
        :meth:`Market.outcome_truth`). Without it nothing is settled.
    price_tol : float
        Recorded and replayed prices per unit differing by more than this are flagged.

    Returns
    -------
    Replay

    Raises
    ------
    BookError
        A reports book, or a row naming an unknown security, a trade the maker refuses, or a
        quantity or holding beyond :data:`MAX_AMOUNT` (naming the row); or books that do not
        balance within :data:`BALANCE_RTOL`.
    DeclarationError
        A bad world.

    Examples
    --------
    >>> import pandas as pd
    >>> from deepmarkets.beliefs.book import Book
    >>> from deepmarkets.beliefs.makers import LMSR
    >>> from deepmarkets.beliefs.market import Market
    >>> m = Market("coin", maker=LMSR(b=1.0))
    >>> _ = m.contract("heads"); _ = m.contract("~heads", name="tails")
    >>> book = Book.from_frame(pd.DataFrame({"trader": ["ann", "bob"], "security": ["heads", "tails"],
    ...                                      "quantity": [1.0, 2.0]}))
    >>> r = replay(book, m, world="heads")
    >>> bool(abs(r.maker_loss - r.traders["pnl"].sum()) < 1e-12)
    True
    >>> r.prices.shape
    (3, 2)
    """
    from deepmarkets.beliefs.book import Book

    if isinstance(book, pd.DataFrame):
        book = Book.from_frame(book, "trades")
    if not isinstance(book, Book):
        raise BookError(f"replay needs a Book (or a DataFrame of trades), got {type(book).__name__}")
    if book.kind != "trades":
        raise BookError(f"replay needs a trades book, got a {book.kind} book; reports are not trades")
    if not isinstance(market, Market):
        raise DeclarationError(f"market must be a Market, got {type(market).__name__}")
    market.freeze()
    maker = market.maker
    assert maker is not None
    frame = book.frame.reset_index(drop=True)
    names = list(market._securities)
    secs = [market._securities[name] for name in names]
    T, n, m = len(frame), maker.n, len(names)
    position = {name: i for i, name in enumerate(names)}
    found, seen = pd.factorize(frame["security"])
    codes = np.array([position.get(name, -1) for name in seen], dtype=_small_int(m))[found]
    del found
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise BookError(
            f"{book.row_origin(i)}: market {market.name!r} has no security {frame['security'][i]!r}; "
            f"known securities: {', '.join(map(repr, names))}"
        )
    qty = frame["quantity"].to_numpy(dtype=np.float64)
    too_big = np.flatnonzero(~(np.abs(qty) <= MAX_AMOUNT))
    if len(too_big):
        i = int(too_big[0])
        raise BookError(f"{book.row_origin(i)}: quantity {float(qty[i])!r} exceeds the limit of {MAX_AMOUNT:g} units; "
                        f"{AMOUNT_LIMIT_REASON}")

    # Trades of bundles of outcomes are vectorised, by outcome (see MarketMaker._fill_path);
    # a conditional trade depends on the state it meets, so it is replayed on its own.
    vectors = [None if s.kind == "conditional" else market._vectors[s.name] for s in secs]
    columns = _outcome_columns(vectors, codes, qty, n)
    cond_rows = np.flatnonzero(np.array([v is None for v in vectors], dtype=bool)[codes])
    P = np.empty((n, T + 1))  # prices by (outcome, step)
    costs = np.empty(T)
    cond_deltas = []
    q = np.array(market.q0, dtype=np.float64)
    start = 0
    for stop in [*cond_rows.tolist(), T]:
        if stop > start:
            window = _window(columns, start, stop, T)
            _check_holdings(q, window, market.outcomes, book, start)
            costs[start:stop], q = _run(maker, q, window, P[:, start:stop + 1], book, start)
        elif stop == 0:
            P[:, 0] = maker.prices(q)
        if stop < T:
            try:
                delta, cost = market._bundle(secs[codes[stop]], float(qty[stop]), q)
            except DeclarationError as err:
                raise BookError(f"{book.row_origin(stop)}: {err}") from None
            cond_deltas.append(delta)
            q = q + delta
            big = np.flatnonzero(~(np.abs(q) <= MAX_AMOUNT))
            if len(big):
                raise _too_much(book, stop, float(q[big[0]]), market.outcomes[big[0]])
            P[:, stop + 1] = maker.prices(q)
            costs[stop] = cost
        start = stop + 1
    del columns
    prices = pd.DataFrame(market._security_prices(P.T), columns=names, copy=False)
    prices.index.name = "step"

    trades = frame.drop(columns=["price"])
    recorded = frame["price"].to_numpy(dtype=np.float64)
    replayed = costs / qty
    mismatch = np.zeros(T, dtype=bool)
    known = np.flatnonzero(~np.isnan(recorded))
    mismatch[known] = np.abs(recorded[known] - replayed[known]) > price_tol
    trades["cost"] = costs
    trades["replayed_price"] = replayed
    trades["recorded_price"] = recorded
    trades["price_mismatch"] = mismatch
    revenue = float(maker.cost(q) - maker.cost(market.q0))

    outcome = None
    maker_loss = float("nan")
    payouts = np.full(T, np.nan)
    if world is not None:
        truth = market.outcome_truth(world)
        # qty * (v @ truth) is (qty * v) @ truth exactly: one outcome is true, or v is a unit vector
        per_unit = np.array([0.0 if v is None else v @ truth for v in vectors])
        payouts = np.take(per_unit, codes)
        payouts *= qty
        if len(cond_rows):
            payouts[cond_rows] = np.array(cond_deltas) @ truth
        maker_loss = float((q - market.q0) @ truth) - revenue
        outcome = ", ".join(o for o, t in zip(market.outcomes, truth, strict=True) if t == 1)
        trades["payout"] = payouts

    # per trader, in order of first appearance
    who, traders_seen = pd.factorize(frame["trader"])
    k = len(traders_seen)
    cash = -np.bincount(who, weights=costs, minlength=k)
    paid = np.bincount(who, weights=payouts, minlength=k)
    count = np.bincount(who, minlength=k).astype(np.int64, copy=False)
    who *= m
    who += codes
    units = np.bincount(who, weights=qty, minlength=k * m).reshape(k, m)
    table = {"trades": count, "cash": cash, "payout": paid, "pnl": cash + paid}
    for j, name in enumerate(names):
        table[f"position[{name}]"] = units[:, j]
    traders = pd.DataFrame(table, index=pd.Index(traders_seen, name="trader"))
    _check_balance(costs, payouts, revenue, maker_loss, float(traders["pnl"].sum()) if world is not None else None)
    return Replay(
        market=market.name,
        prices=prices,
        trades=trades,
        traders=traders,
        maker_loss=maker_loss,
        maker_revenue=revenue,
        outcome=outcome,
        mismatches=int(np.count_nonzero(mismatch)),
    )


def _too_much(book, row: int, value: float, outcome: str) -> BookError:
    return BookError(f"{book.row_origin(row)}: after this trade the maker holds {value:g} units of outcome "
                     f"{outcome!r}, beyond the limit of {MAX_AMOUNT:g}; {AMOUNT_LIMIT_REASON}")


def _check_holdings(q: np.ndarray, window: Columns, outcomes, book, offset: int) -> None:
    """BookError at the first trade after which the maker holds more than MAX_AMOUNT units of an outcome.

    ``window`` holds trades ``offset, offset + 1, ...`` as outcome columns, replayed from ``q``.
    """
    first = None
    for j, (pos, vals) in enumerate(window):
        over = np.flatnonzero(~(np.abs(q[j] + np.cumsum(vals)) <= MAX_AMOUNT))
        if len(over):
            i = int(over[0]) if pos is None else int(pos[over[0]])
            if first is None or i < first[0]:
                first = (i, float(q[j] + np.sum(vals[:over[0] + 1])), outcomes[j])
    if first is not None:
        raise _too_much(book, offset + first[0], first[1], first[2])


def _check_balance(costs: np.ndarray, payouts: np.ndarray, revenue: float, maker_loss: float,
                   pnl: float | None) -> None:
    """BookError unless the costs add up to the maker's revenue and the profits of all (``pnl``: the traders') sum to 0.

    The tolerance is :data:`BALANCE_RTOL` times the money that changed hands; ``pnl`` is None when not settled.
    """
    paid = float(np.sum(costs))
    scale = 1.0 + float(np.sum(np.abs(costs))) + (float(np.sum(np.abs(payouts))) if pnl is not None else 0.0)
    tol = BALANCE_RTOL * scale
    how = "the maker's costs are not accurate for this book; report it with the book"
    if not abs(paid - revenue) <= tol:
        raise BookError(f"the books do not balance: the trades cost {paid!r} in all but the maker collected "
                        f"{revenue!r} (difference {paid - revenue:.3g}, tolerance {tol:.3g}); {how}")
    if pnl is not None and not abs(pnl + (-maker_loss)) <= tol:
        raise BookError(f"the books do not balance: the traders' profits sum to {pnl!r} but the maker's profit is "
                        f"{-maker_loss!r} (sum {pnl - maker_loss:.3g}, tolerance {tol:.3g}); {how}")


def _outcome_columns(vectors: list, codes: np.ndarray, qty: np.ndarray, n: int) -> Columns:
    """The changes of state of the trades, as outcome columns (see ``makers.Columns``).

    Trade ``t`` of ``qty[t]`` units of security ``codes[t]`` adds ``qty[t] * v`` to the state,
    with ``v = vectors[codes[t]]`` its units per outcome (``None`` for a conditional: no entry).
    """
    support = [np.zeros(0, dtype=np.intp) if v is None else np.flatnonzero(v) for v in vectors]
    sizes = np.array([len(nz) for nz in support], dtype=np.intp)
    T = len(codes)
    if (sizes == 1).all():  # outcome contracts (or single-outcome bundles): one entry per trade
        col = np.array([nz[0] for nz in support], dtype=_small_int(n))
        unit = np.array([v[nz[0]] for v, nz in zip(vectors, support, strict=True)])
        return columns_from_coo(T, n, None, col[codes], qty if (unit == 1).all() else qty * unit[codes])
    offsets = np.cumsum(sizes) - sizes
    flat_cols = np.concatenate(support).astype(np.intp, copy=False)
    flat_vals = np.concatenate([v[nz] for v, nz in zip(vectors, support, strict=True) if v is not None]
                               + [np.zeros(0)])
    count = sizes[codes]
    rows = np.repeat(np.arange(T), count)
    first = np.cumsum(count) - count
    at = offsets[codes[rows]] + (np.arange(len(rows)) - first[rows])
    return columns_from_coo(T, n, rows, flat_cols[at], qty[rows] * flat_vals[at])


def _small_int(count: int) -> type:
    """The smallest signed integer type for codes 0 .. count - 1 (and -1)."""
    return np.int8 if count < 2**7 else np.int16 if count < 2**15 else np.int32 if count < 2**31 else np.int64


def _window(columns: Columns, start: int, stop: int, T: int) -> Columns:
    """The outcome columns of trades ``start`` to ``stop - 1``, numbered from 0."""
    if start == 0 and stop == T:
        return columns
    out: Columns = []
    for pos, vals in columns:
        if pos is None:
            out.append((None, vals[start:stop]))
        else:
            lo, hi = np.searchsorted(pos, [start, stop])
            out.append((pos[lo:hi] - start, vals[lo:hi]))
    return out


def _run(maker, q: np.ndarray, columns: Columns, P: np.ndarray, book, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised replay of ``L`` trades (no conditional trades) from state ``q``.

    Fills the prices ``P`` (n, L + 1); returns the costs (L,) and the last state.
    """
    try:
        return maker._fill_path(q, columns, P)
    except DeclarationError:
        # find the first row the maker refuses, to name it
        L, n = P.shape[1] - 1, P.shape[0]
        deltas = dense_from_columns(L, n, columns)
        state = q.copy()
        for i in range(L):
            try:
                maker.trade_cost(state, deltas[i])
            except DeclarationError as err:
                raise BookError(f"{book.row_origin(offset + i)}: {err}") from None
            state = state + deltas[i]
        raise
