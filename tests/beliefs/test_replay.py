"""Replaying books: price paths, costs, settlement, conservation of money, recorded prices."""

from __future__ import annotations

import doctest
import functools
import importlib
import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from deepmarkets.beliefs.book import Book  # noqa: E402
from deepmarkets.beliefs.makers import LMSR, LSLMSR, Quadratic  # noqa: E402
from deepmarkets.beliefs.market import Market  # noqa: E402
from deepmarkets.beliefs.replay import Replay, replay  # noqa: E402
from deepmarkets.errors import BookError, DeclarationError  # noqa: E402
from deepmarkets.logic import exactly_one, ints  # noqa: E402

FAST = settings(max_examples=25, deadline=None)


replay_module = importlib.import_module("deepmarkets.beliefs.replay")


def test_docstring_examples_run():
    failures, tried = doctest.testmod(replay_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def _market(maker, *, extras=True, conditional=True) -> Market:
    """Four outcomes x = 0..3, an index paying x and a conditional 'x = 3 given x >= 2'."""
    (x,) = ints("x")
    m = Market("x", theory=[x >= 0, x <= 3], maker=maker)
    for k in range(4):
        m.contract(x == k, name=f"x={k}")
    if extras:
        m.index(x, name="x")
        if conditional:
            m.conditional(x == 3, given=x >= 2, name="3|>=2")
    return m.freeze()


@functools.cache
def _cached(kind: str, param: float) -> Market:
    """Markets for the property tests (replay never changes a market)."""
    if kind == "lmsr":
        return _market(LMSR(b=param))
    if kind == "quadratic":
        return _market(Quadratic(b=param))
    return _market(LSLMSR(alpha=param, initial=20.0), conditional=False)


def _book(rows) -> Book:
    return Book.from_frame(pd.DataFrame(rows, columns=["trader", "security", "quantity", "price"]))


def test_replay_by_hand():
    b = 2.0
    with Market("coin", theory=[exactly_one("heads", "tails")], maker=LMSR(b=b)) as m:
        m.contract("heads")
        m.contract("tails")
    book = _book([("ann", "heads", 2.0, np.nan), ("bob", "tails", 1.0, np.nan), ("ann", "heads", -1.0, np.nan)])
    r = replay(book, m, world="tails")
    C = lambda q: b * math.log(math.exp(q[0] / b) + math.exp(q[1] / b))  # noqa: E731
    states = [(0, 0), (2, 0), (2, 1), (1, 1)]
    expected = [C(states[i + 1]) - C(states[i]) for i in range(3)]
    assert r.trades["cost"].to_numpy() == pytest.approx(expected, rel=1e-13)
    for i, q in enumerate(states):
        assert r.prices.loc[i, "heads"] == pytest.approx(math.exp(q[0] / b) / (math.exp(q[0] / b) + math.exp(q[1] / b)))
    ann, bob = r.traders.loc["ann"], r.traders.loc["bob"]
    assert ann["cash"] == pytest.approx(-(expected[0] + expected[2]))
    assert ann["payout"] == 0.0 and bob["payout"] == 1.0
    assert ann["position[heads]"] == 1.0 and bob["position[tails]"] == 1.0 and ann["position[tails]"] == 0.0
    assert r.maker_loss == pytest.approx(1.0 - sum(expected), rel=1e-12)
    assert r.maker_loss == pytest.approx(r.traders["pnl"].sum(), rel=1e-12)
    assert r.maker_revenue == pytest.approx(C(states[-1]) - C(states[0]))
    assert r.outcome == "tails" and r.mismatches == 0
    assert r.prices.index.name == "step" and list(r.prices.columns) == ["heads", "tails"]


def test_replay_agrees_with_trading_the_market_one_by_one():
    m = _market(LMSR(b=3.0))
    rng = np.random.default_rng(0)
    names = [s.name for s in m.securities]
    for t in range(40):
        m.trade(names[rng.integers(len(names))], float(rng.normal(0, 2)), trader=f"t{t % 3}")
    live_state = m.state.to_numpy()
    r = replay(Book.from_frame(m.history), m, world={"x": 2})
    assert r.trades["cost"].to_numpy() == pytest.approx((m.history["price"] * m.history["quantity"]).to_numpy(),
                                                        rel=1e-10, abs=1e-12)
    assert r.mismatches == 0  # the history records the prices paid
    assert r.prices.iloc[-1].to_numpy() == pytest.approx(m.prices().to_numpy(), rel=1e-10)
    assert m.state.to_numpy().tolist() == live_state.tolist()  # replay leaves the market alone


def test_recorded_prices_are_compared_not_enforced():
    m = _market(LMSR(b=1.0), extras=False)
    right = float(m.quote("x=0", 1.0))
    book = _book([("ann", "x=0", 1.0, right), ("bob", "x=1", 2.0, 0.9), ("cat", "x=2", 1.0, np.nan)])
    r = replay(book, m)
    assert r.trades["price_mismatch"].tolist() == [False, True, False]
    assert r.mismatches == 1
    assert r.trades.loc[1, "recorded_price"] == 0.9
    assert r.trades.loc[1, "replayed_price"] == pytest.approx(r.trades.loc[1, "cost"] / 2.0)
    assert math.isnan(r.maker_loss) and r.outcome is None and r.traders["pnl"].isna().all()
    assert "1 trade(s) recorded a price" in r.summary()


def test_bad_books():
    m = _market(LMSR(b=1.0), extras=False)
    book = _book([("ann", "x=0", 1.0, np.nan), ("bob", "x=9", 1.0, np.nan)])
    with pytest.raises(BookError, match=r"row 2: market 'x' has no security 'x=9'; known securities: 'x=0'"):
        replay(book, m)
    reports = Book.from_records([{"question": "q", "trader": "a", "probability": 0.5}])
    with pytest.raises(BookError, match="trades book"):
        replay(reports, m)
    quad = _market(Quadratic(b=4.0), extras=False)
    far = _book([("ann", "x=0", 1.0, np.nan), ("bob", "x=0", 50.0, np.nan)])
    with pytest.raises(BookError, match=r"row 2: .*quadratic maker"):
        replay(far, quad)
    with pytest.raises(DeclarationError, match="makes no outcome true"):
        replay(book.frame.iloc[:1], m, world={"x": 7})
    with pytest.raises(BookError, match="needs a Book"):
        replay([("ann", "x=0", 1.0)], m)


def test_outputs(tmp_path):
    m = _market(LMSR(b=5.0))
    book = Book.simulate_trades([s.name for s in m.securities], 60, traders=4, rng=1)
    r = replay(book, m, world="x=3")
    assert isinstance(r, Replay) and "maker loss" in repr(r)
    data = json.loads(json.dumps(r.to_dict()))
    assert data["n_trades"] == 60 and data["outcome"] == "x=3"
    assert sum(t["pnl"] for t in data["traders"]) == pytest.approx(data["maker_loss"], rel=1e-9)
    text = r.summary()
    for name in book.traders:
        assert name in text
    fig = r.plot_prices()
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(m.securities)
    fig.savefig(tmp_path / "prices.png")
    assert (tmp_path / "prices.png").stat().st_size > 0
    # a given Axes is drawn on
    from matplotlib.figure import Figure

    other = Figure().add_subplot()
    assert r.plot_prices(ax=other) is other.figure


# ---------------------------------------------------------------------------
# properties on random books, for each built-in maker
# ---------------------------------------------------------------------------
SECURITIES = ["x=0", "x=1", "x=2", "x=3", "x", "3|>=2"]


def _random_book(draw_rows):
    return _book([(f"t{who}", SECURITIES[sec], qty, np.nan) for who, sec, qty in draw_rows])


def _rows(max_qty: float, low: float, securities: int = 6):
    return st.lists(st.tuples(st.integers(0, 3), st.integers(0, securities - 1),
                              st.floats(low, max_qty).filter(lambda v: v != 0)), min_size=1, max_size=12)


def _check(r: Replay, maker, market: Market):
    P = r.prices[["x=0", "x=1", "x=2", "x=3"]].to_numpy()
    # money is conserved: the maker's loss (from C at the end points) equals the traders' profits
    total = r.traders["pnl"].sum()
    scale = 1.0 + r.trades["cost"].abs().sum() + r.trades["payout"].abs().sum()
    assert r.maker_loss == pytest.approx(total, rel=1e-9, abs=1e-9 * scale)
    # path independence: the costs add up to C(q_T) - C(q_0)
    assert r.trades["cost"].sum() == pytest.approx(r.maker_revenue, rel=1e-9, abs=1e-9 * scale)
    # conditional and index prices are the bundles' prices
    assert r.prices["x"].to_numpy() == pytest.approx(P @ np.arange(4.0), rel=1e-12)
    if "3|>=2" in r.prices:
        assert r.prices["3|>=2"].to_numpy() == pytest.approx(P[:, 3] / (P[:, 2] + P[:, 3]), rel=1e-12)
    return P


@FAST
@given(_rows(8.0, -8.0), st.integers(0, 3), st.sampled_from([1.0, 7.5, 30.0]))
def test_lmsr_books(rows, world, b):
    m = _cached("lmsr", b)
    r = replay(_random_book(rows), m, world={"x": world})
    P = _check(r, m.maker, m)
    assert ((P >= 0) & (P <= 1)).all() and np.allclose(P.sum(axis=1), 1, atol=1e-12)


@FAST
@given(_rows(1.0, -1.0), st.integers(0, 3))
def test_quadratic_books(rows, world):
    m = _cached("quadratic", 200.0)  # 12 trades of at most 3 units each stay in the price region
    r = replay(_random_book(rows), m, world={"x": world})
    P = _check(r, m.maker, m)
    assert ((P >= 0) & (P <= 1)).all() and np.allclose(P.sum(axis=1), 1, atol=1e-12)


@FAST
@given(_rows(5.0, -0.5, securities=5), st.integers(0, 3), st.sampled_from([0.02, 0.2]))
def test_lslmsr_books(rows, world, alpha):
    m = _cached("lslmsr", alpha)
    r = replay(_random_book(rows), m, world={"x": world})
    P = _check(r, m.maker, m)
    sums = P.sum(axis=1)
    assert (P >= 0).all() and (sums >= 1 - 1e-12).all() and (sums <= 1 + alpha * 4 * math.log(4) + 1e-12).all()


@FAST
@given(_rows(6.0, -6.0), st.randoms(use_true_random=False))
def test_total_paid_depends_only_on_the_final_state(rows, random):
    # contracts and index trades are bundles: any order reaches the same state for the same total
    m = _cached("lmsr", 7.5)
    linear = [(w, s % 5, q) for w, s, q in rows]
    shuffled = list(linear)
    random.shuffle(shuffled)
    a = replay(_random_book(linear), m)
    b = replay(_random_book(shuffled), m)
    assert a.maker_revenue == pytest.approx(b.maker_revenue, rel=1e-9, abs=1e-9)
    assert a.trades["cost"].sum() == pytest.approx(b.trades["cost"].sum(), rel=1e-9, abs=1e-9)


def test_conditional_refund_settles_to_zero_outside_the_condition():
    m = _market(LMSR(b=2.0))
    book = _book([("ann", "x=2", 3.0, np.nan), ("bob", "3|>=2", 2.0, np.nan)])
    outside = replay(book, m, world={"x": 0})
    assert outside.traders.loc["bob", "pnl"] == pytest.approx(0.0, abs=1e-12)
    wins = replay(book, m, world={"x": 3})
    loses = replay(book, m, world={"x": 2})
    cost = wins.trades.loc[1, "cost"]
    assert wins.traders.loc["bob", "pnl"] == pytest.approx(2.0 - cost, rel=1e-12)
    assert loses.traders.loc["bob", "pnl"] == pytest.approx(-cost, rel=1e-12)


# ---------------------------------------------------------------------------
# conservation of money at every size: amounts beyond the limit are refused, the rest balance
# ---------------------------------------------------------------------------
_COIN = None


def _coin() -> Market:
    global _COIN
    if _COIN is None:
        m = Market("coin", maker=LMSR(b=10.0))
        m.contract("heads")
        m.contract("~heads", name="tails")
        _COIN = m.freeze()
    return _COIN


def test_trades_of_1e308_are_refused_naming_the_row_and_the_limit():
    book = _book([("ann", "heads", 1e308, np.nan), ("bob", "tails", 1e308, np.nan)])
    with pytest.raises(BookError, match=r"row 1: quantity 1e\+308 exceeds the limit of 1e\+09 units"):
        replay(book, _coin(), world="heads")
    book = _book([("ann", "heads", 6e8, np.nan), ("bob", "tails", 1.0, np.nan), ("cy", "heads", 6e8, np.nan)])
    with pytest.raises(BookError, match=r"row 3: after this trade the maker holds 1.2e\+09 units of outcome 'heads', "
                                        r"beyond the limit of 1e\+09"):
        replay(book, _coin(), world="heads")


def test_books_that_do_not_balance_are_refused(monkeypatch):
    m = _market(LMSR(b=2.0), extras=False)
    book = _book([("ann", "x=0", 1.0, np.nan), ("bob", "x=1", 2.0, np.nan)])
    exact = m.maker.cost
    monkeypatch.setattr(m.maker, "cost", lambda q: exact(q) + 1e-3 * float(np.sum(q)))  # a maker with a biased cost
    with pytest.raises(BookError, match=r"the books do not balance: the trades cost .* but the maker collected"):
        replay(book, m, world={"x": 0})
    with pytest.raises(BookError, match=r"traders' profits sum to 2.5 but the maker's profit is -2.0"):
        replay_module._check_balance(np.array([1.0, 2.0]), np.array([5.5, 0.0]), 3.0, 2.0, 2.5)


_EXTREME = st.one_of(st.floats(-2e9, 2e9), st.floats(-1e308, 1e308), st.floats(-1e-300, 1e-300),
                     st.sampled_from([1e308, -1e308, 1e17, 1e9, -1e9, 1e9 + 1, 5e-324]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), _EXTREME.filter(lambda v: v != 0)),
                min_size=1, max_size=8), st.integers(0, 1))
def test_money_is_conserved_or_the_book_refused_at_any_size(rows, world):
    m = _coin()
    names = ["heads", "tails"]
    book = _book([(f"t{w}", names[s], q, np.nan) for w, s, q in rows])
    holdings, beyond = [0.0, 0.0], False
    for _, s, q in rows:
        holdings[s] += q
        beyond = beyond or abs(q) > replay_module.MAX_AMOUNT or abs(holdings[s]) > replay_module.MAX_AMOUNT
    try:
        r = replay(book, m, world=names[world])
    except BookError as err:
        assert beyond and ("beyond the limit of 1e+09" in str(err) or "exceeds the limit of 1e+09" in str(err))
        return
    assert not beyond
    # the traders' profits and the maker's profit sum to zero, to float64 accuracy of the money that moved
    moved = 1.0 + r.trades["cost"].abs().sum() + r.trades["payout"].abs().sum()
    assert abs(r.traders["pnl"].sum() - r.maker_loss) <= 1e-12 * moved + 1e-9
    assert abs(r.trades["cost"].sum() - r.maker_revenue) <= 1e-12 * moved + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), _EXTREME.filter(lambda v: v != 0)),
                min_size=1, max_size=8), st.integers(0, 3), st.sampled_from([("lmsr", 7.5), ("lslmsr", 0.2)]))
def test_money_is_conserved_with_index_and_conditional_trades_at_any_size(rows, world, maker):
    # bundles (an index paying x, a conditional) move several outcomes at once: the limit applies
    # to every holding, and whatever is returned balances
    m = _cached(*maker)
    securities = SECURITIES if maker[0] == "lmsr" else SECURITIES[:5]
    book = _book([(f"t{w}", securities[s % len(securities)], q, np.nan) for w, s, q in rows])
    try:
        r = replay(book, m, world={"x": world})
    except BookError as err:
        assert "do not balance" not in str(err)
        big = max(abs(q) for _, _, q in rows) > replay_module.MAX_AMOUNT
        assert "limit of 1e+09" in str(err) or not big
        return
    moved = 1.0 + r.trades["cost"].abs().sum() + r.trades["payout"].abs().sum()
    assert abs(r.traders["pnl"].sum() - r.maker_loss) <= 1e-12 * moved + 1e-9
    assert abs(r.trades["cost"].sum() - r.maker_revenue) <= 1e-12 * moved + 1e-9
