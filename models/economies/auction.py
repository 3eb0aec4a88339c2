"""Auctions for the right to act, and the ledger whose total never changes.

Three rules decide who wins and what is paid (Baum 1999; Chang et al. 2020):

``"first"``
    Baum's Hayek: the highest bidder wins and pays its bid to the previous owner.
``"vickrey"``
    The highest bidder wins and pays the second-highest bid; the previous owner receives the
    highest bid. Money is not conserved: the difference is paid by the bank (logged as minted).
``"ccv"``
    Credit-conserving Vickrey: the highest bidder wins and pays the second-highest bid to the
    previous owner. Money is conserved.

The :class:`Ledger` holds the bank's account beside every agent's wealth: every payment is a
transfer, an agent never pays more than it has (what it cannot pay is written off and logged),
and ``bank + sum(wealth)`` stays what it was (:meth:`Ledger.check`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["AUCTIONS", "Ledger", "Sale", "clear", "clearing_price", "check_auction", "BANK"]

#: The auction rules.
AUCTIONS = ("first", "vickrey", "ccv")

#: The bank's account number in transfers.
BANK = -1

_EPS = float(np.finfo(float).eps)


def check_auction(rule: str) -> str:
    """The rule's name, or a DeclarationError listing the rules."""
    if rule not in AUCTIONS:
        raise DeclarationError(f"auction={rule!r}; expected one of {', '.join(map(repr, AUCTIONS))}")
    return rule


@dataclass(frozen=True)
class Sale:
    """The outcome of one auction: the winner (a position in the bids), the price it pays, the top bid."""

    winner: int
    price: float
    top: float


def clearing_price(bids: np.ndarray, rule: str) -> float:
    """What the winner of an auction on ``bids`` pays: the top bid (first price) or the second (0 for a lone bidder).

    Examples
    --------
    >>> clearing_price(np.array([0.2, 0.7, 0.5]), "ccv"), clearing_price(np.array([0.7, 0.7]), "vickrey")
    (0.5, 0.7)
    """
    if rule == "first":
        return float(bids.max())
    return float(np.partition(bids, -2)[-2]) if len(bids) > 1 else 0.0


def clear(bids: np.ndarray, rule: str, rng: np.random.Generator) -> Sale:
    """Run one auction on ``bids`` (each already capped at its bidder's wealth).

    Ties for the highest bid are broken uniformly at random. Under the second-price rules a lone
    bidder pays 0.

    Examples
    --------
    >>> gen = np.random.default_rng(0)
    >>> clear(np.array([0.2, 0.7, 0.5]), "first", gen)
    Sale(winner=1, price=0.7, top=0.7)
    >>> clear(np.array([0.2, 0.7, 0.5]), "ccv", gen)
    Sale(winner=1, price=0.5, top=0.7)
    """
    top = float(bids.max())
    best = np.flatnonzero(bids == top)
    winner = int(best[0] if len(best) == 1 else best[rng.integers(len(best))])
    return Sale(winner, clearing_price(bids, rule), top)


@dataclass
class Ledger:
    """The bank's account and every agent's wealth (the population's array), with an unchanging total.

    Parameters
    ----------
    wealth : callable
        Returns the population's wealth array (a view: transfers write into it).
    bank : float
        The bank's opening balance (it may go negative: the bank is the economy's lender).
    """

    wealth: object
    bank: float = 0.0
    minted: float = 0.0  # paid in by the bank under the Vickrey rule (money not conserved)
    written_off: float = 0.0  # debts that could not be paid, by the agent who owed them
    write_offs: list = field(default_factory=list)
    rounding: float = 0.0  # a bound on the rounding error of every addition so far
    total: float = field(init=False)

    def __post_init__(self):
        self.total = self.bank + float(self.wealth().sum())

    def fund(self, ids: np.ndarray, amount: float) -> None:
        """The bank endows new agents (their wealth must still be 0)."""
        w = self.wealth()
        w[ids] += amount
        k = len(np.atleast_1d(ids))
        self.bank -= amount * k
        self.rounding += _EPS * (abs(self.bank) + amount * k + float(np.abs(w[ids]).sum()))

    def grant(self, amounts: np.ndarray) -> float:
        """The bank pays every agent its entry of ``amounts`` (>= 0, one per agent: an allowance); returns the total."""
        w = self.wealth()
        w += amounts
        total = float(amounts.sum())
        self.bank -= total
        # the agents' wealth adds up to total - bank (nobody holds less than 0): no pass over it is needed
        self.rounding += _EPS * (2 * abs(self.bank) + abs(self.total) + len(amounts) * total)
        return total

    def pay(self, payer: int, payee: int, amount: float, *, what: str = "") -> float:
        """Move ``amount`` from ``payer`` to ``payee`` (agent ids or :data:`BANK`); returns what was paid.

        An agent pays at most its wealth; the rest is written off and logged.
        """
        if amount <= 0:
            return 0.0
        w = self.wealth()
        paid = amount
        touched = sum(abs(float(w[i])) for i in (payer, payee) if i != BANK)
        self.rounding += _EPS * (abs(self.bank) + 2 * amount + touched)
        if payer != BANK:
            paid = min(amount, float(w[payer]))
            if paid < amount:
                self.written_off += amount - paid
                self.write_offs.append((payer, amount - paid, what))
            w[payer] -= paid
        else:
            self.bank -= paid
        if payee != BANK:
            w[payee] += paid
        else:
            self.bank += paid
        return paid

    def tax(self, ids: np.ndarray, amount: float) -> float:
        """Every agent in ``ids`` pays ``amount`` to the bank, or all it has; returns the total collected."""
        if amount <= 0 or len(ids) == 0:
            return 0.0
        w = self.wealth()
        due = np.minimum(w[ids], amount)
        w[ids] -= due
        collected = float(due.sum())
        self.bank += collected
        self.rounding += _EPS * (abs(self.bank) + 2 * float(w[ids].sum()) + 2 * collected)
        return collected

    def mint(self, payee: int, amount: float) -> None:
        """The bank pays ``amount`` it is not owed (the Vickrey rule's excess), logged as minted."""
        self.minted += amount
        self.pay(BANK, payee, amount, what="minted")

    def error(self) -> float:
        """``bank + sum(wealth) - total``: zero up to rounding when money is conserved."""
        return self.bank + float(self.wealth().sum()) - self.total

    def tolerance(self, tol: float = 1e-9) -> float:
        """What the total may drift by: ``tol`` times the money in play, plus the bound on the rounding
        of every addition so far (one ulp of the sums each transfer touched)."""
        scale = max(1.0, abs(self.bank) + float(np.abs(self.wealth()).sum()))
        return tol * scale + 2 * self.rounding

    def check(self, tol: float = 1e-9) -> None:
        """Raise AssertionError when the total has changed by more than :meth:`tolerance`."""
        w = self.wealth()
        err, bound = self.error(), self.tolerance(tol)
        if not abs(err) <= bound:
            raise AssertionError(f"the ledger's total changed by {err:.3g} (tolerance {bound:.3g})")
        scale = max(1.0, abs(self.bank) + float(np.abs(w).sum()))
        if np.any(w < -tol * scale):
            raise AssertionError(f"agent {int(np.argmin(w))} holds {float(w.min()):.3g} < 0")
