"""The built-in demonstration behind ``make demo`` and ``deepmarkets demo``.

Three parts, all deterministic (fixed seeds):

1. coherence: quoted prices checked for coherence, with Dutch books when they are incoherent;
2. a declared market: a weather market with an LMSR maker, its properties proven with sympy,
   a simulated book of trades replayed and settled;
3. arbitrage-free pricing: the projection of incoherent prices onto the coherent ones, and a
   small combinatorial market whose every quote is certified coherent.
"""

from __future__ import annotations

import json
import math

import click

#: Last-trade prices of mutually exclusive nominee contracts (one and only one candidate wins).
NOMINEE_PRICES = {"Biden": 0.46, "Sanders": 0.33, "Bloomberg": 0.14, "Warren": 0.09, "Buttigieg": 0.06}

#: Liquidity of the demo's weather market.
WEATHER_B = 10.0
#: Seed of the demo's simulated book and of the combinatorial market's trades.
SEED = 7


def demo_examples():
    """The demo's coherence cases: (title, prices, theory, conditional)."""
    from deepmarkets.logic import atoms, exactly_one, predicate

    wins = predicate("Wins")
    field = [wins(name) for name in NOMINEE_PRICES]
    a, b = atoms("a b")
    rain, cloudy = atoms("rain cloudy")
    return [
        (
            "Exclusive nominee contracts priced above 1 in total",
            {wins(name): p for name, p in NOMINEE_PRICES.items()},
            [exactly_one(field)],
            None,
        ),
        ("A logically related pair: P(a)=0.6, P(b)=0.7, P(a & b)=0.2", {a: 0.6, b: 0.7, a & b: 0.2}, None, None),
        ("The same pair with P(a & b)=0.3 (on the boundary)", {a: 0.6, b: 0.7, a & b: 0.3}, None, None),
        (
            "A conditional price: P(rain)=0.3, P(cloudy)=0.5, P(rain | cloudy)=0.4, where rain -> cloudy",
            {rain: 0.3, cloudy: 0.5},
            [rain.implies(cloudy)],
            {(rain, cloudy): 0.4},
        ),
    ]


def weather_market():
    """The demo's declared market: rain, snow or dry under ``~(rain & snow)``, LMSR with b = 10.

    Examples
    --------
    >>> m = weather_market()
    >>> m.outcomes
    ('rain', 'snow', 'dry')
    >>> m.prices().round(4).tolist()
    [0.3333, 0.3333, 0.3333]
    """
    from deepmarkets.beliefs import LMSR, Market, contract

    with Market("weather", theory=["~(rain & snow)"], maker=LMSR(b=WEATHER_B)) as market:
        contract("rain")
        contract("snow")
        contract("~rain & ~snow", name="dry")
    return market


def combinatorial_market():
    """Seven securities on four atoms under ``a -> c``, priced by an :class:`ArbitrageFreeMarket`."""
    from deepmarkets.beliefs import ArbitrageFreeMarket
    from deepmarkets.logic import Theory, atoms

    a, b, c, d = atoms("a b c d")
    sentences = [a, b, a & b, a | c, c.implies(d), b ^ d, a & ~d]
    return ArbitrageFreeMarket(sentences, Theory([a.implies(c)]), b=1.0, rng=SEED)


def run_market_demo(*, n_trades: int = 200, combinatorial_trades: int = 20, echo: bool = True) -> dict:
    """The market part of the demo: declare, verify, simulate, replay, then arbitrage-free pricing.

    Parameters
    ----------
    n_trades : int
        Size of the simulated book replayed through the weather market.
    combinatorial_trades : int
        Random trades in the combinatorial market (each quote is certified).
    echo : bool
        Print the walk-through.

    Returns
    -------
    dict
        ``market``, ``report`` (the maker's :class:`~deepmarkets.beliefs.makers.MakerReport`),
        ``book``, ``replay``, ``projection`` and ``combinatorial`` (the market after its trades),
        and ``certified`` (how many of its quotes ``check_coherence`` certified).

    Examples
    --------
    >>> out = run_market_demo(n_trades=20, combinatorial_trades=2, echo=False)
    >>> out["certified"], bool(abs(out["replay"].traders["pnl"].sum() - out["replay"].maker_loss) < 1e-9)
    (3, True)
    """
    import numpy as np

    from deepmarkets.beliefs import Book, project, replay
    from deepmarkets.logic import atoms

    say = click.echo if echo else (lambda *args, **kwargs: None)

    market = weather_market()
    say(f"\n== A declared market: {market.name!r}, theory ~(rain & snow), {market.maker!r}")
    say("outcomes and starting prices: " + ", ".join(f"{k} {v:.4f}" for k, v in market.prices().items()))
    report = market.maker.verify(rng=SEED)
    say(f"\nverify(): {len(report.proven)} proven with sympy, {len(report.checked)} checked numerically, "
        f"{len(report.fails)} failing")
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        extra = ""
        if check.name == "worst_case_loss" and check.value is not None:
            extra = f"  {check.value} = {WEATHER_B * math.log(market.maker.n):.6g}"
        say(f"  {check.name:<{width}}  {check.status}{extra}")

    book = Book.simulate_trades(list(market.outcomes), n_trades, traders=["ann", "bob", "cat", "dan"], rng=SEED,
                                max_quantity=3.0)
    result = replay(book, market, world="rain")
    say(f"\n== {book!r}, replayed and settled in a world where it rains")
    say(result.summary())
    final = result.prices.iloc[-1]
    say("final prices: " + ", ".join(f"{name} {price:.4f}" for name, price in final.items()))
    bound = WEATHER_B * math.log(len(market.outcomes))
    say(f"the traders' P&L sums to the maker's loss, {result.traders['pnl'].sum():.6g}; "
        f"the maker never loses more than b log 3 = {bound:.6g}")

    a, b = atoms("a b")
    projection = project([0.6, 0.7, 0.2], [a, b, a & b], b=1.0, rng=SEED)
    say("\n== Arbitrage-free pricing: P(a)=0.6, P(b)=0.7, P(a & b)=0.2 are incoherent (the demo's second case)")
    say("projected onto the coherent prices (the nearest in the LMSR's divergence):")
    say("  mu* = (" + ", ".join(f"{v:.6f}" for v in projection.mu) + f"), divergence {projection.divergence:.7f}")
    say(f"  the trade to mu* earns at least {projection.guaranteed_profit:.7f} in every possible world")

    cm = combinatorial_market()
    gen = np.random.default_rng(SEED)
    certified = int(cm.check().verdict.value == "coherent")
    for _ in range(combinatorial_trades):
        cm.trade(int(gen.integers(len(cm.sentences))), float(gen.normal(0.0, 2.0)))
        certified += int(cm.check().verdict.value == "coherent")
    say(f"\n== {cm!r}")
    say(f"under a -> c; {combinatorial_trades} random trades, each followed by a projection")
    for s, p in zip(cm.sentences, cm.prices, strict=True):
        say(f"  {str(s):<10} {p:.6f}")
    say(f"quotes certified coherent by check_coherence: {certified} of {combinatorial_trades + 1}; "
        f"arbitrage the maker locked in: {cm.arbitrage_profit:.6g}")
    return {"market": market, "report": report, "book": book, "replay": result, "projection": projection,
            "combinatorial": cm, "certified": certified}


def run_demo(*, as_json: bool = False) -> list:
    """Check every coherence case and print its verdict and Dutch book, then run the market demo.

    With ``as_json`` only the coherence reports are printed, as a JSON list of their ``to_dict()``.
    Returns the coherence reports.
    """
    from deepmarkets.logic import check_coherence

    reports = []
    for title, prices, theory, conditional in demo_examples():
        report = check_coherence(prices, theory, conditional)
        reports.append(report)
        if not as_json:
            click.echo(f"\n== {title}")
            click.echo(report.summary())
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        run_market_demo()
    return reports
