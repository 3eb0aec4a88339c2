"""The built-in demonstration behind ``make demo`` and ``deepmarkets demo``.

Three parts, all deterministic (fixed seeds):

1. coherence: quoted prices checked for coherence, with Dutch books when they are incoherent;
2. a declared market: a weather market with an LMSR maker, its properties proven with sympy,
   a simulated book of trades replayed and settled;
3. arbitrage-free pricing: the projection of incoherent prices onto the coherent ones, and a
   small combinatorial market whose every quote is certified coherent;
4. a latent-variable market ("did the suspect do it?"): informed traders move it toward the
   truth, and NUTS gives the posterior over its tables from the cases behind their trades.
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
        ``market``, ``report`` (the maker's :class:`~deepmarkets.beliefs.properties.MakerReport`),
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
    projection = project({a: 0.6, b: 0.7, a & b: 0.2}, b=1.0, rng=SEED)
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
    for s, p in cm.prices().items():
        say(f"  {s:<10} {p:.6f}")
    say(f"quotes certified coherent by check_coherence: {certified} of {combinatorial_trades + 1}; "
        f"arbitrage the maker locked in: {cm.arbitrage_profit:.6g}")
    return {"market": market, "report": report, "book": book, "replay": result, "projection": projection,
            "combinatorial": cm, "certified": certified}


#: The suspect market's observables and their levels.
SUSPECT_EVIDENCE = {
    "motive": ["yes", "no"],
    "alibi": ["yes", "no"],
    "witness": ["saw the suspect", "saw someone else", "saw nothing"],
    "fingerprints": ["found", "not found"],
}


def suspect_market():
    """The demo's latent market and the true state its cases come from.

    Examples
    --------
    >>> market, truth = suspect_market()
    >>> market.n_outcomes, [round(float(p), 2) for p in truth.prior]
    (24, [0.35, 0.65])
    """
    from deepmarkets.models.latent_market import LatentMarket

    market = LatentMarket("did the suspect do it?", latent=["guilty", "innocent"], observables=SUSPECT_EVIDENCE)
    truth = market.state_from(prior=[0.35, 0.65], tables={
        "motive": [[0.85, 0.15], [0.30, 0.70]],
        "alibi": [[0.15, 0.85], [0.60, 0.40]],
        "witness": [[0.60, 0.10, 0.30], [0.10, 0.40, 0.50]],
        "fingerprints": [[0.70, 0.30], [0.10, 0.90]],
    })
    return market, truth


def run_latent_demo(*, draws: int = 1000, plot: str | None = None, echo: bool = True) -> dict:
    """The latent-market part of the demo: informed traders, then the posterior from their cases.

    Twenty traders have each seen 50 resolved cases (the evidence, never the verdict) and trade
    in eight rounds; NUTS (two chains of ``draws``) then gives the posterior over the market's
    tables, and the diagnostics are checked against the toolkit's convergence rule
    (:data:`deepmarkets.models.diagnostics.CONVERGENCE_RULE`). ``plot`` names a PNG for the market, true
    and posterior tables.

    Returns
    -------
    dict
        ``market``, ``truth``, ``simulation`` (:class:`~deepmarkets.models.InformedTraders`)
        and ``posterior`` (:class:`~deepmarkets.models.MarketPosterior`).
    """
    import warnings

    from deepmarkets.models.latent_market import plot_tables

    say = click.echo if echo else (lambda *args, **kwargs: None)
    market, truth = suspect_market()
    say(f"\n== A latent-variable market: {market.name!r}; Y = guilty or innocent, never observed")
    say("observables: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in SUSPECT_EVIDENCE.items()))
    sim = market.simulate_informed_traders(truth, n_traders=20, cases_per_trader=50, rounds=8, rng=2,
                                           progressbar=False)
    say(f"20 traders with 50 resolved cases each, 8 rounds: KL(true || market) {sim.kl_initial:.4f} -> "
        f"{sim.kl[-1]:.4f} nats, below 0.02 after {sim.trades_to_threshold} trades")
    say(f"the market's tables match the true ones up to relabelling {sim.permutation} "
        f"(largest error {sim.table_error:.3f})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the diagnostics are judged and reported below
        posterior = market.infer(market.decode(sim.cases), state=sim.aligned_state, draws=draws, tune=draws,
                                 chains=2, rng=4, progressbar=False)
    d = posterior.diagnostics
    problems = d.problems()
    say(f"NUTS on the {len(sim.cases)} cases behind the trades, 2 chains x {draws} draws ({posterior.seconds:.1f} s; "
        f"max R-hat {d['max_rhat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}, "
        f"{d['divergences']} divergences)")
    if problems:
        say(f"diagnostics FAILED the convergence rule ({d.rule}): {'; '.join(problems)}; the numbers "
            f"below are not trustworthy: sample longer (run_latent_demo(draws={2 * draws})) or with more chains")
    else:
        say(f"diagnostics pass the convergence rule ({d.rule})")
    say(f"the market is within {posterior.max_abs_difference:.3f} of the posterior mean; "
        f"{100 * posterior.covered:.0f}% of its parameters lie inside the 90% credible intervals")
    if plot is not None:
        from deepmarkets.helpers import atomic_write

        fig = plot_tables(posterior.market_state, truth, posterior)
        atomic_write(plot, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
        say(f"plot of the market, true and posterior tables written to {plot}")
    return {"market": market, "truth": truth, "simulation": sim, "posterior": posterior}


def run_demo(*, as_json: bool = False, plot: str | None = None) -> list:
    """Check every coherence case and print its verdict and Dutch book, then run the market demos.

    With ``as_json`` only the coherence reports are printed, as a JSON list of their ``to_dict()``.
    ``plot`` names a PNG for the latent market's posterior. Returns the coherence reports.
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
        run_latent_demo(plot=plot)
    return reports
