"""A market in a density paid by cross-fitted log score: the trading core of the layered markets.

The market's state ``θ`` is any model with an exact log density. A trader's trade is a rule
``(state, data) -> state'`` (a :class:`~deepmarkets.models.layered.traders.Plan`). The market keeps
one copy of its state per fold ``f``, fitted *without* that fold; it applies every trade to the
state with all the data and to each copy with that copy's training data, and pays the trader

.. math::

    b \\sum_f \\sum_{x \\in \\text{fold } f} [\\log q_{θ'_{-f}}(x) - \\log q_{θ_{-f}}(x)],

the gain in log score on data the move did not see. A move that only fits noise earns nothing,
or loses. Payouts depend on ``q`` only, so a gauge transformation pays exactly nothing, and they
telescope: their sum is ``b`` times the change of the cross-fitted log score.

A trade whose rule raises, or whose result is not a valid state (NaN, a non-positive scale, a
singular covariance) or has a density that is not finite on the data, is rejected: nothing
moves and nothing is paid. The ledger records every transfer between the market and an account,
so the balances always sum to zero.

Subclasses say how a state's log density is computed (:meth:`CrossFittedMarket.log_q`), what a
valid state is (:meth:`CrossFittedMarket._checked`), how copies are kept in the same labelling
as the state (:meth:`CrossFittedMarket._align`), and what happens after a trade and at the end of
a round (:meth:`CrossFittedMarket._traded`, :meth:`CrossFittedMarket.settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng
from deepmarkets.helpers.progress import ProgressBar
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.models.layered.traders import Plan, as_trader

__all__ = ["CrossFittedMarket", "Trade", "MARKET"]

#: The market maker's name in the ledger.
MARKET = "market"
#: What a rejected trade may raise.
FAILURES = (DeclarationError, np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError, IndexError,
            TypeError, AttributeError)


@dataclass(frozen=True)
class Trade:
    """One trade: who, what, whether it was accepted, and what it paid."""

    round: int
    trader: str
    kind: str
    label: str
    accepted: bool
    payout: float
    reason: str = ""


class CrossFittedMarket:
    """Traders move a density model and are paid its cross-fitted gain in log score (see the module docstring).

    Parameters
    ----------
    data : (n, d) array
        The observations, one per row.
    init : state
        The starting state, valid for :meth:`_checked`.
    traders : sequence
        Objects with a ``name`` and ``plan(state, data, rng)`` returning a Plan or None.
    folds : int
        Cross-fitting folds (at least 2).
    b : float
        Liquidity: payouts are in units of ``b`` nats.
    rng : int or Generator, optional
        Seeds the folds and is handed to the traders.
    """

    what = "market rounds"

    def __init__(self, data: np.ndarray, init: Any, traders: Sequence[Any], *, folds: int = 5, b: float = 1.0,
                 rng: int | np.random.Generator | None = None):
        self.x = data
        n = len(data)
        self.folds = whole_number(folds, "folds", 2)
        if n < 2 * self.folds:
            raise DeclarationError(f"{n} rows are too few for {self.folds} folds; give at least {2 * self.folds} rows")
        self.b = positive_float(b, "b")
        self.rng = as_rng(rng)
        self.fold_of = self.rng.permutation(np.arange(n) % self.folds)
        self._train = [data[self.fold_of != f] for f in range(self.folds)]
        self._test = [data[self.fold_of == f] for f in range(self.folds)]
        self.traders = [as_trader(t) for t in traders]
        names = [t.name for t in self.traders]
        if len(set(names)) != len(names) or MARKET in names:
            raise DeclarationError(f"trader names must be unique and not {MARKET!r}: {names}")
        self.state = self._checked(init, data)
        self.copies = [init] * self.folds
        self._lq = self._held_out(self.copies)
        self.round = 0
        self.trades: list[Trade] = []
        self._ledger: list[tuple[int, str, str, float, str]] = []
        self.accounts: dict[str, float] = {}
        self.states: list[Any] = [self.state]
        self._rows: list[dict[str, Any]] = [self._row()]

    # ------------------------------------------------------------------ what subclasses say
    def log_q(self, state: Any, data: np.ndarray) -> np.ndarray:
        """``log q(x)`` of every row of ``data`` under ``state``."""
        return state.log_q(data)

    def _checked(self, state: Any, data: np.ndarray) -> Any:
        """``state`` if it is valid and its density finite on ``data``; raises otherwise."""
        state.validate()
        if not np.all(np.isfinite(self.log_q(state, data))):
            raise DeclarationError("the density is not finite on the data")
        return state

    def _align(self, copy: Any, main: Any) -> Any:
        """A fold copy in the labelling of the state (by default unchanged)."""
        return copy

    def _traded(self, trader: str, plan: Plan, before: Any) -> None:
        """Called after an accepted trade (the state before it is ``before``)."""

    def settle(self) -> None:
        """Called at the end of every round."""

    def _progress(self, row: dict[str, Any]) -> str:
        return f"held-out {row['held_out']:.4f}"

    # ------------------------------------------------------------------ money
    def _pay(self, payer: str, payee: str, amount: float, reason: str) -> None:
        self._ledger.append((self.round, payer, payee, float(amount), reason))
        for who, sign in ((payer, -1.0), (payee, 1.0)):
            if who != MARKET:
                self.accounts[who] = self.accounts.get(who, 0.0) + sign * float(amount)

    @property
    def ledger(self) -> pd.DataFrame:
        """Every transfer: round, payer, payee, amount (nats × b), reason."""
        return pd.DataFrame(self._ledger, columns=["round", "payer", "payee", "amount", "reason"])

    def balances(self) -> pd.Series:
        """Each account's balance, and the market maker's (they sum to zero)."""
        out = dict(self.accounts)
        out[MARKET] = -sum(self.accounts.values())
        return pd.Series(out, name="balance")

    # ------------------------------------------------------------------ trading
    def _held_out(self, copies: Sequence[Any]) -> np.ndarray:
        lq = np.empty(len(self.x))
        for f, c in enumerate(copies):
            lq[self.fold_of == f] = self.log_q(c, self._test[f])
        return lq

    def _apply(self, rule, *, align: bool = True) -> tuple[Any, list[Any], np.ndarray]:
        """``rule`` applied to the state (all data) and to every fold copy (its training data)."""
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            main = self._checked(rule(self.state, self.x), self.x)
            copies = []
            for f, c in enumerate(self.copies):
                new = self._checked(rule(c, self._train[f]), self._train[f])
                copies.append(self._align(new, main) if align else new)
            lq = self._held_out(copies)
        if not np.all(np.isfinite(lq)):
            raise DeclarationError("the held-out density is not finite")
        return main, copies, lq

    def _commit(self, main: Any, copies: list[Any], lq: np.ndarray) -> None:
        self.state, self.copies, self._lq = main, copies, lq

    def trade(self, trader: str, plan: Plan) -> Trade:
        """Apply ``plan`` for ``trader``: accepted and paid its held-out gain, or rejected with the reason."""
        if not isinstance(plan, Plan):
            raise DeclarationError(f"{trader} returned {type(plan).__name__}; a trader's plan is a Plan or None")
        try:
            main, copies, lq = self._apply(plan.rule)
        except FAILURES as e:
            t = Trade(self.round, trader, plan.kind, plan.label, False, 0.0, f"{type(e).__name__}: {e}")
            self.trades.append(t)
            return t
        payout = self.b * float(lq.sum() - self._lq.sum())
        before = self.state
        self._commit(main, copies, lq)
        self._pay(MARKET, trader, payout, plan.label or plan.kind)
        self._traded(trader, plan, before)
        t = Trade(self.round, trader, plan.kind, plan.label, True, payout)
        self.trades.append(t)
        return t

    # ------------------------------------------------------------------ the process
    def step(self) -> dict[str, Any]:
        """One round: every trader trades once (in order), then :meth:`settle`."""
        self.round += 1
        for trader in self.traders:
            plan = trader.plan(self.state, self.x, self.rng)
            if plan is not None:
                self.trade(trader.name, plan)
        self.settle()
        self.states.append(self.state)
        row = self._row()
        self._rows.append(row)
        return row

    def run(self, rounds: int, *, progressbar: bool = True):
        """``rounds`` rounds, with a progress bar; returns the market."""
        rounds = whole_number(rounds, "rounds", 0)
        with ProgressBar(self.what, rounds, enabled=progressbar) as bar:
            for _ in range(rounds):
                bar.advance(self._progress(self.step()))
        return self

    # ------------------------------------------------------------------ results
    def _row(self) -> dict[str, Any]:
        n = len(self.x)
        return {"round": self.round, "held_out": float(self._lq.sum()) / n,
                "log_likelihood": float(self.log_q(self.state, self.x).sum()) / n}

    @property
    def rounds(self) -> pd.DataFrame:
        """One row per round: the held-out (cross-fitted) and in-sample log score per datum, and more."""
        return pd.DataFrame(self._rows)

    @property
    def trade_log(self) -> pd.DataFrame:
        """Every trade, accepted or rejected, with its payout."""
        return pd.DataFrame([t.__dict__ for t in self.trades],
                            columns=["round", "trader", "kind", "label", "accepted", "payout", "reason"])

    def trader_ledger(self) -> pd.DataFrame:
        """Per trader: trades accepted and rejected, total payout."""
        t = self.trade_log
        if t.empty:
            return pd.DataFrame(columns=["accepted", "rejected", "payout"])
        return t.groupby("trader").agg(accepted=("accepted", "sum"), rejected=("accepted", lambda a: int((~a).sum())),
                                       payout=("payout", "sum"))

    @property
    def held_out_log_score(self) -> float:
        """Cross-fitted log score per datum of the current state."""
        return float(self._lq.mean())
