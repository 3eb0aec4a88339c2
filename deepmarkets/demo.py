"""The built-in demonstration behind ``make demo`` and ``deepmarkets demo``.

Three parts, all deterministic (fixed seeds):

1. coherence: quoted prices checked for coherence, with Dutch books when they are incoherent;
2. a declared market: a weather market with an LMSR maker, its properties proven with sympy,
   a simulated book of trades replayed and settled;
3. arbitrage-free pricing: the projection of incoherent prices onto the coherent ones, and a
   small combinatorial market whose every quote is certified coherent;
4. a latent-variable market ("did the suspect do it?"): informed traders move it toward the
   truth, and NUTS gives the posterior over its tables from the cases behind their trades.

With a report (``deepmarkets demo --report demo.html``, what ``make demo`` runs) the page also
checks real PredictIt prices for a Dutch book when the shared data sets are beside the checkout,
and infers the hidden truth behind a simulated book of reports.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

#: Last-trade prices of mutually exclusive nominee contracts (one and only one candidate wins).
NOMINEE_PRICES = {"Biden": 0.46, "Sanders": 0.33, "Bloomberg": 0.14, "Warren": 0.09, "Buttigieg": 0.06}

#: PredictIt's daily closes of market 3633, "2020 Democratic nominee", in the shared data sets.
PREDICTIT = Path("prediction_markets") / "predictit_3633_dem_nomination_daily.csv"

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


def run_demo(*, as_json: bool = False, plot: str | None = None, report: str | None = None) -> list:
    """Check every coherence case and print its verdict and Dutch book, then run the market demos.

    With ``as_json`` only the coherence reports are printed, as a JSON list of their ``to_dict()``.
    ``plot`` names a PNG for the latent market's posterior; ``report`` an HTML page of the whole
    demo (then real PredictIt prices, when the shared data are present, and a book of reports are
    part of it), whose path is printed. Returns the coherence reports.
    """
    from deepmarkets.logic import check_coherence

    say = (lambda *args, **kwargs: None) if as_json else click.echo
    reports = []
    for title, prices, theory, conditional in demo_examples():
        checked = check_coherence(prices, theory, conditional)
        reports.append(checked)
        say(f"\n== {title}")
        say(checked.summary())
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    if as_json and report is None:
        return reports
    predictit = None
    if report is not None:
        case = predictit_case()
        if case is None:
            say("\n== PredictIt prices: the shared data sets are not beside this checkout; the report uses the "
                "built-in nominee example")
        else:
            title, prices, theory, daily = case
            checked = check_coherence(prices, theory)
            predictit = (title, checked, daily)
            say(f"\n== {title}")
            say(checked.summary())
    market = run_market_demo(echo=not as_json)
    inference = run_inference_demo(echo=not as_json) if report is not None else None
    latent = run_latent_demo(plot=plot, echo=not as_json)
    if report is not None:
        path = write_demo_report(report, coherence=reports, predictit=predictit, market=market, inference=inference,
                                 latent=latent)
        click.echo(f"\nreport of the whole demo written to {path.resolve()}", err=as_json)
    return reports

def shared_data() -> Path | None:
    """The folder of shared data sets beside this checkout (``../shared/data``), or None."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd().parent):
        folder = base / "shared" / "data"
        if folder.is_dir():
            return folder
    return None


def predictit_case(data: Path | None = None):
    """The last day of PredictIt's nominee market as a coherence case, or None without the data.

    Returns ``(title, prices, theory, daily)``: one price per candidate contract (its last
    trade of the day), the theory that at most one candidate is nominated, and the sum of the
    closes on every day (a pandas Series indexed by date).

    Examples
    --------
    >>> case = predictit_case()
    >>> case is None or round(sum(case[1].values()), 2) > 1
    True
    """
    import pandas as pd

    from deepmarkets.logic import at_most_one, predicate

    data = shared_data() if data is None else data
    path = None if data is None else data / PREDICTIT
    if path is None or not path.is_file():
        return None
    table = pd.read_csv(path)
    day = table["date"].max()
    last = table[table["date"] == day]
    nominated = predicate("Nominated")
    # prices are whole cents; the file's floats carry binary noise (0.24000000000000002)
    prices = {nominated(str(name)): round(float(close), 2) for name, close in zip(last["name"], last["close"],
                                                                                   strict=True)}
    daily = table.groupby("date")["close"].sum()
    title = (f"PredictIt market 3633 (2020 Democratic nominee), closes of {day}: {len(prices)} contracts "
             f"summing to {sum(prices.values()):.2f}")
    return title, prices, [at_most_one(list(prices))], daily


def run_inference_demo(*, n_questions: int = 400, n_traders: int = 8, echo: bool = True) -> dict:
    """The inference part of the demo: the hidden truth behind a simulated book of reports.

    Dawid–Skene by EM on ``n_questions`` questions answered by ``n_traders`` traders of
    unequal reliability; the inferred labels are compared with the truth the book was drawn from.

    Returns
    -------
    dict
        ``book``, ``truth`` (the true label of each question), ``fit`` (a LatentClassFit),
        ``accuracy`` of the inferred labels, ``majority`` (accuracy of the majority vote) and
        ``true_reliability`` (P(answer = truth) of each trader under the true parameters).

    Examples
    --------
    >>> out = run_inference_demo(n_questions=100, n_traders=5, echo=False)
    >>> bool(out["accuracy"] >= out["majority"] - 0.05)
    True
    """
    import numpy as np

    from deepmarkets.models.infer import infer
    from deepmarkets.models.simulate import simulate_reports

    say = click.echo if echo else (lambda *args, **kwargs: None)
    book, truth, params = simulate_reports(n_questions, n_traders, classes=3, model="dawid-skene", separation=1.5,
                                           rng=SEED)
    fit = infer(book, rng=SEED)
    labels = fit.labels().set_index("question")["label"]
    frame = book.frame
    questions = frame["question"].drop_duplicates().to_list()
    true_labels = np.array([str(k + 1) for k in truth])
    accuracy = float(np.mean(labels.loc[questions].astype(str).to_numpy() == true_labels))
    votes = frame.groupby("question")["answer"].agg(lambda a: a.astype(str).value_counts().index[0])
    majority = float(np.mean(votes.loc[questions].to_numpy() == true_labels))
    shares = np.asarray(params["class_shares"], dtype=float)
    true_reliability = {f"t{j + 1}": float(np.sum(shares * np.diag(r))) for j, r in enumerate(params["response"])}
    say(f"\n== The hidden truth behind {n_questions} questions answered by {n_traders} traders (Dawid-Skene, EM)")
    say(f"inferred labels agree with the truth on {100 * accuracy:.1f}% of questions "
        f"(majority vote: {100 * majority:.1f}%)")
    return {"book": book, "truth": true_labels, "fit": fit, "accuracy": accuracy, "majority": majority,
            "true_reliability": true_reliability}


def write_demo_report(path: str, *, coherence: list, predictit, market: dict, inference: dict,
                      latent: dict) -> Path:
    """Write the demo's HTML report: every part of the main job, its tables and plots, and its data."""
    import matplotlib.pyplot as plt

    from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled
    from deepmarkets.models.fit_plots import plot_reliability
    from deepmarkets.models.latent_market import plot_tables
    from deepmarkets.models.simulate import plot_kl
    from deepmarkets.reports import Report
    from deepmarkets.reports.jobs import add_coherence

    report = Report("deepmarkets: the main job end to end",
                    subtitle="Declare a market, trade, replay a book, check coherence, infer the hidden truth, "
                             "watch a latent market converge")
    mk, replayed = market["market"], market["replay"]
    declared = report.section("Declare a market")
    declared.text(f"Market {mk.name!r}: outcomes {', '.join(mk.outcomes)} under the theory ~(rain & snow), priced "
                  f"by {mk.maker!r}. Its properties, proven symbolically with sympy or checked numerically:")
    declared.table([[c.name, c.status, None if c.value is None else str(c.value)] for c in market["report"].checks],
                   ["property", "status", "value"])

    book = market["book"]
    traded = report.section("Trade, and replay the book")
    traded.text(f"{len(book.frame)} simulated trades by {book.frame['trader'].nunique()} traders, replayed through "
                f"the market maker and settled in a world where it rains.")
    first = book.frame.head(8)
    traded.table(first.dropna(axis=1, how="all"), caption="The first trades of the book")
    traded.table(replayed.traders, index=True, caption="Cash, payout and profit per trader")
    traded.facts({"maker revenue": replayed.maker_revenue, "maker loss": replayed.maker_loss,
                  "worst-case loss b log 3": WEATHER_B * math.log(3)})
    traded.figure(replayed.plot_prices(), alt="Price path of each weather outcome",
                  caption="Prices after each trade.")

    if predictit is not None:
        title, checked, daily = predictit
        section = report.section("Coherence of real prices: PredictIt")
        section.text(title + ". Under the theory that at most one candidate is nominated, prices summing to more "
                     "than 1 are incoherent: selling every contract earns the excess in every world.")
        section.text("Closes are last trades, not quotes one could still trade at: the Dutch book shows what the "
                     "prices imply, not a trade that was open on that day.", note=True)

        @styled
        def plot_daily(series, ax=None):
            fig, ax = figure_and_axes(ax, figsize=(8, 3.2))
            dates = [str(d) for d in series.index]
            ax.plot(range(len(dates)), series.to_numpy(), color=COLOURS[3], label="sum of closes")
            ax.axhline(1.0, color=COLOURS[7], lw=1, ls="--", label="1 (coherent at most)")
            ticks = list(range(0, len(dates), max(1, len(dates) // 6)))
            ax.set_xticks(ticks, [dates[i] for i in ticks], rotation=20, ha="right")
            ax.set_xlabel("trading day")
            ax.set_ylabel("sum of prices (dollars per contract)")
            ax.set_title("every day, the contracts summed to more than 1")
            ax.legend()
            return fig

        section.figure(plot_daily(daily), alt="Sum of the closing prices by day",
                       caption="The sum of the candidate contracts' closes, day by day.")
        add_coherence(report, checked, checked.to_dict(), heading="PredictIt")
    cases = report.section("Coherence: built-in cases")
    cases.table([[title, r.verdict.value, None if r.dutch_book is None else float(r.dutch_book.guaranteed_profit)]
                 for (title, *_), r in zip(demo_examples(), coherence, strict=True)],
                ["case", "verdict", "guaranteed profit of the Dutch book"])
    if predictit is None:
        add_coherence(report, coherence[0], coherence[0].to_dict(), heading="Nominee contracts")

    fit = inference["fit"]
    inferred = report.section("Infer the hidden truth behind a book of reports")
    inferred.text(f"{fit.reports.n_questions} questions, {fit.reports.n_traders} traders, Dawid–Skene by EM "
                  "(the book was simulated, so the truth is known).")
    inferred.facts({"inferred labels equal to the truth": inference["accuracy"],
                    "majority vote equal to the truth": inference["majority"], "log-likelihood": fit.loglik,
                    "BIC": fit.bic})
    rel = fit.reliability()
    inferred.table([[t, inference["true_reliability"][t], float(rel[t])] for t in rel.index],
                   ["trader", "true P(answer = truth)", "inferred P(answer = truth)"])
    inferred.figure(plot_reliability(fit), alt="Inferred reliability of each trader",
                    caption="Inferred reliability of each trader.")

    sim, posterior, truth = latent["simulation"], latent["posterior"], latent["truth"]
    converging = report.section("A latent-variable market converging")
    converging.text(f"Market {latent['market'].name!r}: Y = guilty or innocent, never observed. Twenty traders who "
                    f"have each seen 50 resolved cases trade in eight rounds.")
    converging.facts({"KL(true ‖ market) before (nats)": sim.kl_initial, "KL(true ‖ market) after (nats)":
                      float(sim.kl[-1]), "trades until KL < 0.02": sim.trades_to_threshold,
                      "largest table error (after relabelling)": sim.table_error,
                      "NUTS max R-hat": posterior.diagnostics["max_rhat"],
                      "NUTS min bulk ESS": posterior.diagnostics["min_ess_bulk"],
                      "market parameters inside the 90% intervals": posterior.covered})
    converging.figure(plot_kl(sim), alt="KL divergence by trade", caption="KL(true ‖ market) after each trade.")
    converging.figure(plot_tables(posterior.market_state, truth, posterior), alt="Market, true and posterior tables",
                      caption="The market's tables, the true ones and the posterior from the cases.")
    plt.close("all")
    data = {"coherence": [r.to_dict() for r in coherence],
            "predictit": None if predictit is None else predictit[1].to_dict(),
            "replay": replayed.to_dict(), "fit": fit.to_dict(),
            "latent_market": {"kl_initial": sim.kl_initial, "kl_final": float(sim.kl[-1]),
                              "trades_to_threshold": sim.trades_to_threshold, "table_error": sim.table_error,
                              "diagnostics": dict(posterior.diagnostics), "covered": posterior.covered}}
    return report.write(path, data=data, command=["deepmarkets", "demo", "--report", str(path)])
