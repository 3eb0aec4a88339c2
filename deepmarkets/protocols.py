"""The two roles every market and every simulation plays, as structural protocols.

A **market** (:class:`TradingMarket`) names its securities, quotes prices as a pandas Series
labelled by security, and keeps its history in a :class:`~deepmarkets.beliefs.Book`'s columns, so
any market's history can be read as a book and replayed. Markets priced by a cost function
(:class:`~deepmarkets.beliefs.Market`, :class:`~deepmarkets.beliefs.ArbitrageFreeMarket`) also
:meth:`~CostFunctionMarket.quote` and :meth:`~CostFunctionMarket.trade` quantities of a security;
markets priced by a scoring rule (:class:`~deepmarkets.models.LatentMarket`) trade by moving the
prices themselves, and their history is a book of reports.

A **process** (:class:`Process`) advances one step at a time (:meth:`~Process.step`) or for ``n``
steps (:meth:`~Process.run`, with a progress bar): the logical inductor, the market in a quantified
sentence, and every later simulation.

The protocols are checked structurally (``isinstance(m, TradingMarket)``); nothing inherits from
them. This module imports nothing from the project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRADE_HISTORY_COLUMNS", "REPORT_HISTORY_COLUMNS", "TradingMarket", "CostFunctionMarket", "Process"]

#: A history of trades: a trades book's canonical columns (price is the cost per unit).
TRADE_HISTORY_COLUMNS = ("time", "trader", "security", "quantity", "price")

#: A history of prices moved to: a reports book's canonical columns.
REPORT_HISTORY_COLUMNS = ("time", "trader", "question", "probability")


@runtime_checkable
class TradingMarket(Protocol):
    """Securities, their prices, and the history of what was traded."""

    @property
    def securities(self) -> tuple: ...

    def prices(self) -> pd.Series:
        """The current price of every security, indexed by the security's name."""
        ...

    @property
    def history(self) -> pd.DataFrame:
        """What was traded: :data:`TRADE_HISTORY_COLUMNS` or :data:`REPORT_HISTORY_COLUMNS`.

        Both are canonical columns of a :class:`~deepmarkets.beliefs.Book`, so
        ``Book.from_frame(m.history)`` reads any market's history.
        """
        ...

    def to_dict(self) -> dict:
        """A JSON-safe summary."""
        ...


@runtime_checkable
class CostFunctionMarket(TradingMarket, Protocol):
    """A market maker that sells any quantity of a security at the cost its cost function sets."""

    def quote(self, security: Any, quantity: float) -> float:
        """What buying ``quantity`` units would cost now; nothing is traded."""
        ...

    def trade(self, security: Any, quantity: float, trader: str | None = None) -> float:
        """Buy ``quantity`` units (sell when negative); returns the cost paid and records the trade."""
        ...


@runtime_checkable
class Process(Protocol):
    """A simulation that advances one step at a time."""

    def step(self) -> Any:
        """Advance one step; returns that step's record."""
        ...

    def run(self, n: int, *, progressbar: bool = True) -> Any:
        """Advance ``n`` steps (a progress bar unless ``progressbar=False``); returns the run's result."""
        ...
