"""Every market follows the trading protocol, every simulation the process protocol.

One table of implementations; each row says how to build one with some trading done, how to
replay its history on a fresh copy, and what its money-conservation invariant is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import z3

from deepmarkets.beliefs import Book, Market, replay
from deepmarkets.beliefs.arbitrage import ArbitrageFreeMarket
from deepmarkets.beliefs.book import REPORT_COLUMNS, TRADE_COLUMNS
from deepmarkets.beliefs.makers import LMSR
from deepmarkets.beliefs.market import contract
from deepmarkets.logic import Theory, atoms
from deepmarkets.logic.induction import Inductor, threshold_trader
from deepmarkets.logic.quantified import QuantifiedMarket, QuantifiedSentence, kelly_population
from deepmarkets.logic.quantified.constructors import constant, offset, roles
from deepmarkets.models import bria
from deepmarkets.models.economies import BlocksWorld, Economy
from deepmarkets.models.latent_market import LatentMarket
from deepmarkets.models.layered import LayeredLatentMarket
from deepmarkets.protocols import (
    REPORT_HISTORY_COLUMNS,
    TRADE_HISTORY_COLUMNS,
    CostFunctionMarket,
    Process,
    TradingMarket,
)


@dataclass
class Row:
    make: Callable[[], Any]  # a fresh implementation, nothing traded
    trade: Callable[[Any], None]  # some trading (deterministic)
    replay: Callable[[Any, pd.DataFrame], pd.Series]  # the prices after replaying a history on a fresh copy
    conserved: Callable[[Any], None]  # asserts the implementation's money invariant
    roles: tuple[type, ...]


# --- Market: an LMSR on three exclusive outcomes ---------------------------------------------------
def make_market() -> Market:
    with Market("weather", theory=["~(rain & snow)"], maker=LMSR(b=10)) as m:
        contract("rain")
        contract("snow")
        contract("~rain & ~snow", name="dry")
    return m


def trade_market(m: Market) -> None:
    for trader, sec, qty in [("ann", "rain", 10.0), ("bob", "snow", -4.0), ("ann", "dry", 2.5), ("cat", "rain", -3)]:
        m.trade(sec, qty, trader=trader)


def replay_market(_: Market, history: pd.DataFrame) -> pd.Series:
    r = replay(Book.from_frame(history), make_market())
    assert r.mismatches == 0  # the recorded prices are the replayed ones
    return r.prices.iloc[-1]


def market_conserved(m: Market) -> None:
    h = m.history
    r = replay(Book.from_frame(h), make_market(), "rain")
    paid = float((h["quantity"] * h["price"]).sum())
    assert paid == pytest.approx(r.maker_revenue, abs=1e-12)  # the maker collects what the traders paid
    assert float(r.traders["pnl"].sum()) == pytest.approx(r.maker_loss, abs=1e-12)  # what they win, it loses


# --- ArbitrageFreeMarket ---------------------------------------------------------------------------
def make_arbitrage_free() -> ArbitrageFreeMarket:
    a, b = atoms("a b")
    return ArbitrageFreeMarket([a, b, a | b], Theory([a.implies(b)]), rng=0)


def trade_arbitrage_free(m: ArbitrageFreeMarket) -> None:
    for trader, sec, qty in [("ann", "a", 2.0), ("bob", "a | b", -1.5), ("ann", "b", 0.5)]:
        m.trade(sec, qty, trader=trader)


def replay_arbitrage_free(_: ArbitrageFreeMarket, history: pd.DataFrame) -> pd.Series:
    fresh = make_arbitrage_free()
    for row in Book.from_frame(history).frame.itertuples():
        assert fresh.quote(row.security, row.quantity) == pytest.approx(row.quantity * row.price, rel=1e-12)
        fresh.trade(row.security, row.quantity, trader=row.trader)
    return fresh.prices()


def arbitrage_free_conserved(m: ArbitrageFreeMarket) -> None:
    h = m.history
    assert float((h["quantity"] * h["price"]).sum()) == pytest.approx(m.cash, abs=1e-12)
    assert m.arbitrage_profit >= -1e-12  # the maker's projections never lose in any possible world


# --- LatentMarket: a scoring-rule market, traded by moving its prices ------------------------------
def make_latent() -> LatentMarket:
    return LatentMarket("m", latent=2, observables={"a": ["0", "1"], "c": ["x", "y", "z"]}, b=2.0)


def trade_latent(m: LatentMarket) -> None:
    rng = np.random.default_rng(3)
    m.move("ann", m.random_state(rng))
    m.move("bob", prior=[0.3, 0.7])
    m.move("cat", tables={"c": m.random_state(rng).table("c")})


def replay_latent(_: LatentMarket, history: pd.DataFrame) -> pd.Series:
    fresh = make_latent()
    prices = fresh.prices()
    for (time, trader), rows in history.groupby(["time", "trader"], sort=False):
        prices = prices.copy()
        prices[rows["question"].to_list()] = rows["probability"].to_numpy()
        fresh.move(trader, fresh.state_from_prices(prices), time=time)
    return fresh.prices()


def latent_conserved(m: LatentMarket) -> None:
    cases, _ = m.sample(200, rng=np.random.default_rng(4))
    s = m.settle(cases)  # what the traders win, the maker pays: a telescoping sum
    assert sum(s.positions.values()) == pytest.approx(s.telescoped, rel=1e-12, abs=1e-12)


# --- Inductor: a process whose days are trades ------------------------------------------------------
def make_inductor() -> Inductor:
    a, b = atoms("a b")
    traders = [threshold_trader(a, buy_below=0.7, sell_above=0.7), threshold_trader(b, buy_below=0.2, sell_above=0.3)]
    return Inductor([a, b], traders, theory=Theory([a.implies(b)]))


def trade_inductor(m: Inductor) -> None:
    m.run(3, progressbar=False)


def replay_inductor(m: Inductor, history: pd.DataFrame) -> pd.Series:
    for d in m.result.days:  # every row carries its day's price
        rows = history[history["time"] == d.day]
        assert all(d.prices[s] == p for s, p in zip(rows["security"], rows["price"], strict=True))
    fresh = make_inductor()
    trade_inductor(fresh)
    pd.testing.assert_frame_equal(fresh.history, history)  # a deterministic process
    return fresh.prices()


def inductor_conserved(m: Inductor) -> None:
    # the firm's trade is the budgeted traders' trades weighted 2^(-k-b) by the day's budget factor
    h = m.history
    index = {t.name: k for k, t in enumerate(m.traders)}
    for d in m.result.days:
        expected: dict[str, float] = {}
        for key, factor in d.budget_factors.items():
            name, budget = key.split("|b=")
            k, b = index[name], int(budget)
            rows = h[(h["time"] == d.day) & (h["trader"] == name)]
            for s, q in zip(rows["security"], rows["quantity"], strict=True):
                expected[s] = expected.get(s, 0.0) + 2.0 ** (-(k + 1) - b) * factor * q
        for s in set(expected) | set(d.firm_trade):
            assert d.firm_trade.get(s, 0.0) == pytest.approx(expected.get(s, 0.0), abs=1e-12)


# --- QuantifiedMarket: a process of rounds, settled by a game ---------------------------------------
def make_quantified() -> QuantifiedMarket:
    x, y = z3.Ints("x y")
    largest = QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)
    return QuantifiedMarket(largest, kelly_population(5, roles(constant(10**6), offset("x", 1))), rng=0)


def trade_quantified(m: QuantifiedMarket) -> None:
    m.run(4, progressbar=False)


def replay_quantified(m: QuantifiedMarket, history: pd.DataFrame) -> pd.Series:
    fresh = make_quantified()
    for _ in range(len(m.rounds)):
        fresh.step()
    pd.testing.assert_frame_equal(fresh.history, history)  # same randomness, same rounds
    return fresh.prices()


def quantified_conserved(m: QuantifiedMarket) -> None:
    h = m.history
    for _, rows in h.groupby("time"):  # the price clears the market: units bought = units sold
        assert abs(rows["quantity"].sum()) <= 1e-9 * rows["quantity"].abs().sum()
    start = len(m.agents) * 1.0
    assert all(r.wealth == pytest.approx(start, rel=1e-12) for r in m.rounds)  # money only changes hands


# --- Economy: agents auctioning the world, a process whose steps are episodes -------------------------------
def make_economy() -> Economy:
    return Economy(BlocksWorld(3), auction="ccv", clones=2, gamma=0.9, rng=5)


def trade_economy(m: Economy) -> None:
    m.run(30, progressbar=False)


def replay_economy(m: Economy, history: pd.DataFrame) -> pd.Series:
    fresh = make_economy()
    trade_economy(fresh)
    pd.testing.assert_frame_equal(fresh.history, history)  # same seed, same sales
    paid = history.groupby("security")["price"].count()
    assert (paid > 0).all() and set(paid.index) <= set(m.securities)  # every sale is of a state seen
    return fresh.prices()


def economy_conserved(m: Economy) -> None:
    scale = abs(m.ledger.bank) + float(m.population.wealth.sum())
    assert abs(m.ledger.error()) <= 1e-12 * scale and m.ledger.minted == 0  # CCV: the bank mints nothing
    assert (m.population.wealth >= 0).all()


# --- AuctionBRIA: hypotheses auctioning each round's decision, a process whose steps are rounds ----------------
def make_bria() -> bria.AuctionBRIA:
    return bria.AuctionBRIA([bria.constant(3, [0.2, 0.5, 0.8]), bria.copy_best([0.6])], bria.Bandit([0.3, 0.5, 0.7]),
                            rng=4)


def trade_bria(m: bria.AuctionBRIA) -> None:
    m.run(40, progressbar=False)


def replay_bria(m: bria.AuctionBRIA, history: pd.DataFrame) -> pd.Series:
    fresh = make_bria()
    trade_bria(fresh)
    pd.testing.assert_frame_equal(fresh.history, history)  # same seed, same sales
    assert (history["price"] == m.result.estimates).all()  # each round's price is the agent's estimate
    return fresh.prices()


def bria_conserved(m: bria.AuctionBRIA) -> None:
    run = m.result
    assert abs(m.ledger.error()) <= 1e-12 * max(1.0, run.total_allowance)  # bank + wealth never changes
    assert abs(run.identity_error()) <= 1e-12 * max(1.0, run.total_allowance)  # sum wealth = allowance - L_T
    assert (run.wealth >= 0).all() and run.overestimation() <= run.total_allowance


# --- LayeredLatentMarket: traders move a latent model, a process whose steps are rounds ---------------------
def make_layered() -> LayeredLatentMarket:
    x = np.concatenate([np.random.default_rng(6).normal(c, 1.0, (40, 2)) for c in ((-5, 0), (5, 0), (0, 6))])
    return LayeredLatentMarket(x, max_states=3, rng=6)


def trade_layered(m: LayeredLatentMarket) -> None:
    m.run(4, progressbar=False)


def replay_layered(m: LayeredLatentMarket, history: pd.DataFrame) -> pd.Series:
    fresh = make_layered()
    trade_layered(fresh)
    pd.testing.assert_frame_equal(fresh.history, history)  # same seed, same trades
    last = history[history["time"] == history["time"].max()]
    assert np.isclose(last["probability"].sum(), 1.0)       # the last trade's prices: the state's weights
    return fresh.prices()


def layered_conserved(m: LayeredLatentMarket) -> None:
    led = m.ledger
    assert abs(m.balances().sum()) <= 1e-12 * float(np.abs(led["amount"]).sum())  # every transfer has two sides
    for who, balance in m.accounts.items():
        mine = led[(led["payee"] == who) | (led["payer"] == who)]
        assert np.isclose(np.where(mine["payee"] == who, mine["amount"], -mine["amount"]).sum(), balance)


ROWS = {
    "Market": Row(make_market, trade_market, replay_market, market_conserved, (TradingMarket, CostFunctionMarket)),
    "ArbitrageFreeMarket": Row(make_arbitrage_free, trade_arbitrage_free, replay_arbitrage_free,
                               arbitrage_free_conserved, (TradingMarket, CostFunctionMarket)),
    "LatentMarket": Row(make_latent, trade_latent, replay_latent, latent_conserved, (TradingMarket,)),
    "Inductor": Row(make_inductor, trade_inductor, replay_inductor, inductor_conserved, (TradingMarket, Process)),
    "QuantifiedMarket": Row(make_quantified, trade_quantified, replay_quantified, quantified_conserved,
                            (TradingMarket, Process)),
    "Economy": Row(make_economy, trade_economy, replay_economy, economy_conserved, (TradingMarket, Process)),
    "AuctionBRIA": Row(make_bria, trade_bria, replay_bria, bria_conserved, (TradingMarket, Process)),
    "LayeredLatentMarket": Row(make_layered, trade_layered, replay_layered, layered_conserved,
                               (TradingMarket, Process)),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_follows_its_protocols(name):
    row = ROWS[name]
    m = row.make()
    for role in (TradingMarket, CostFunctionMarket, Process):
        assert isinstance(m, role) is (role in row.roles), role.__name__
    before = m.prices()
    names = [getattr(s, "name", s) for s in m.securities]
    assert isinstance(before, pd.Series) and list(before.index) == names and before.between(0, 1).all()
    assert m.history.empty
    row.trade(m)
    after = [getattr(s, "name", s) for s in m.securities]  # an economy lists the states it has seen
    assert list(m.prices().index) == after and after[: len(names)] == names
    json.dumps(m.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", list(ROWS))
def test_history_is_a_book_and_replays(name):
    row = ROWS[name]
    m = row.make()
    row.trade(m)
    history = m.history
    assert not history.empty
    book = Book.from_frame(history)
    columns = TRADE_HISTORY_COLUMNS if book.kind == "trades" else REPORT_HISTORY_COLUMNS
    assert tuple(history.columns) == columns
    pd.testing.assert_series_equal(row.replay(m, history), m.prices(), check_exact=False, check_names=False,
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(ROWS))
def test_money_is_conserved(name):
    row = ROWS[name]
    m = row.make()
    row.trade(m)
    row.conserved(m)


def test_history_columns_are_canonical_book_columns():
    assert set(TRADE_HISTORY_COLUMNS) <= set(TRADE_COLUMNS)
    assert set(REPORT_HISTORY_COLUMNS) <= set(REPORT_COLUMNS)
