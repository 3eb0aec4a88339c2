"""Replay a book of trades through a market: price paths, costs, positions and settlement.

:func:`replay` turns each row of a trades :class:`~deepmarkets.beliefs.book.Book`
into a change of the maker's state (a bundle of outcome contracts, see
:mod:`deepmarkets.beliefs.market`), and computes states, prices and costs with
vectorised cumulative sums (:meth:`MarketMaker.price_path
<deepmarkets.beliefs.makers.MarketMaker.price_path>`). Conditional trades depend on
the state they meet, so runs of other trades are vectorised between them.

Given the world, each trade's bundle is paid in the true outcome. The maker's loss
is computed from the cost function's end points, ``payout - (C(q_T) - C(q_0))``;
the traders' profits from the costs of the individual trades: the two agree
(money is conserved, and the cost is path independent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.beliefs.market import Market
from deepmarkets.errors import BookError, DeclarationError

__all__ = ["Replay", "replay"]


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
        What the maker pays out minus what it collected, ``C(q_T) - C(q_0)`` (NaN
        without a world).
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

    def plot_prices(self, ax=None):
        """Plot each security's price against the trade number; returns the matplotlib Figure.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted (without pyplot).
        """
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(7, 4))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        for name in self.prices.columns:
            ax.step(self.prices.index, self.prices[name], where="post", label=str(name))
        ax.set_xlabel("trade")
        ax.set_ylabel("price")
        ax.set_title(f"prices in {self.market}")
        ax.legend(loc="best", fontsize="small")
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
        A reports book, or a row naming an unknown security or a trade the maker refuses
        (naming the row).
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
    position = {name: i for i, name in enumerate(names)}
    found, seen = pd.factorize(frame["security"])
    lookup = np.array([position.get(name, -1) for name in seen], dtype=np.int64)
    codes = lookup[found]
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise BookError(
            f"{book.row_origin(i)}: market {market.name!r} has no security {frame['security'][i]!r}; "
            f"known securities: {', '.join(map(repr, names))}"
        )
    qty = frame["quantity"].to_numpy(dtype=np.float64)
    T, n = len(frame), maker.n
    secs = [market._securities[name] for name in names]
    vectors = np.stack([market._vectors.get(s.name, np.zeros(n)) for s in secs])
    conditional = np.array([s.kind == "conditional" for s in secs])[codes]
    deltas = qty[:, None] * vectors[codes]
    Q = np.empty((T + 1, n))
    Q[0] = market.q0
    P = np.empty((T + 1, n))
    P[0] = maker.prices(Q[0])
    costs = np.empty(T)
    start = 0
    cond_rows = np.flatnonzero(conditional)
    for stop in [*cond_rows.tolist(), T]:
        if stop > start:
            _run(maker, Q, P, deltas, costs, start, stop, book)
        if stop < T:
            try:
                delta, cost = market._bundle(secs[codes[stop]], float(qty[stop]), Q[stop])
            except DeclarationError as err:
                raise BookError(f"{book.row_origin(stop)}: {err}") from None
            deltas[stop] = delta
            Q[stop + 1] = Q[stop] + delta
            P[stop + 1] = maker.prices(Q[stop + 1])
            costs[stop] = cost
        start = stop + 1
    prices = pd.DataFrame(market._security_prices(P), columns=names)
    prices.index.name = "step"

    trades = frame.drop(columns=["price"]).copy()
    trades["cost"] = costs
    trades["replayed_price"] = costs / qty
    trades["recorded_price"] = frame["price"].to_numpy(dtype=np.float64)
    recorded = trades["recorded_price"].to_numpy()
    trades["price_mismatch"] = ~np.isnan(recorded) & (np.abs(recorded - trades["replayed_price"].to_numpy())
                                                      > price_tol)
    revenue = float(maker.cost(Q[-1]) - maker.cost(Q[0]))

    outcome = None
    maker_loss = float("nan")
    payouts = np.full(T, np.nan)
    if world is not None:
        truth = market.outcome_truth(world)
        payouts = deltas @ truth
        maker_loss = float((Q[-1] - Q[0]) @ truth) - revenue
        outcome = ", ".join(o for o, t in zip(market.outcomes, truth, strict=True) if t == 1)
        trades["payout"] = payouts

    per = pd.DataFrame({"trader": frame["trader"].to_numpy(object), "cash": -costs, "payout": payouts})
    grouped = per.groupby("trader", sort=False)
    traders = pd.DataFrame({
        "trades": grouped.size(),
        "cash": grouped["cash"].sum(),
        "payout": grouped["payout"].sum(min_count=1),
    })
    traders["pnl"] = traders["cash"] + traders["payout"]
    trader_codes = pd.Index(traders.index).get_indexer(frame["trader"])
    units = np.zeros((len(traders), len(names)))
    np.add.at(units, (trader_codes, codes), qty)
    for j, name in enumerate(names):
        traders[f"position[{name}]"] = units[:, j]
    traders.index.name = "trader"
    return Replay(
        market=market.name,
        prices=prices,
        trades=trades,
        traders=traders,
        maker_loss=maker_loss,
        maker_revenue=revenue,
        outcome=outcome,
        mismatches=int(trades["price_mismatch"].sum()),
    )


def _run(maker, Q: np.ndarray, P: np.ndarray, deltas: np.ndarray, costs: np.ndarray, start: int, stop: int,
         book) -> None:
    """Vectorised replay of rows start..stop-1 (no conditional trades), filling Q, P and costs."""
    try:
        path = maker.price_path(Q[start], deltas[start:stop])
    except DeclarationError:
        # find the first row the maker refuses, to name it
        q = Q[start].copy()
        for i in range(start, stop):
            try:
                maker.trade_cost(q, deltas[i])
            except DeclarationError as err:
                raise BookError(f"{book.row_origin(i)}: {err}") from None
            q = q + deltas[i]
        raise
    Q[start + 1:stop + 1] = path.q[1:]
    P[start + 1:stop + 1] = path.prices[1:]
    costs[start:stop] = path.costs
