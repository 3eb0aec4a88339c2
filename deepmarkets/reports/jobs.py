"""The report of each job command: inputs, verdict or fit, certificate, diagnostics and plots.

Each function takes the job's result and the dictionary its ``--json`` prints, and returns a
:class:`~deepmarkets.reports.document.Report`; tables show the numbers of that dictionary, and the
whole dictionary is embedded at the end of the page when it is written with ``data=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deepmarkets.helpers.plotting import panels
from deepmarkets.reports.document import Report

__all__ = ["coherence_report", "replay_report", "fit_report", "induction_report", "economy_report",
           "bria_report", "layered_report", "sweep_report", "add_coherence"]

#: Traders listed in a fit report (most reliable first); the data lists them all.
SHOWN_TRADERS = 50
#: Response tables of Dawid–Skene traders shown in a fit report.
SHOWN_RESPONSES = 6


def _sentence(entry: Mapping[str, Any]) -> str:
    given = entry.get("given")
    return entry["sentence"] if given is None else f"{entry['sentence']} | {given}"


def add_coherence(report: Report, checked: Any, d: Mapping[str, Any], *, heading: str = "") -> None:
    """Sections of one coherence check: verdict, prices, certificate, diagnostics and the price plot.

    ``checked`` is the :class:`~deepmarkets.logic.CoherenceReport`, ``d`` its ``to_dict()``.
    """
    from deepmarkets.logic.coherence_plot import plot_coherence

    prefix = f"{heading}: " if heading else ""

    def title(name: str) -> str:
        return prefix + (name if heading else name.capitalize())

    verdict = d["verdict"]
    section = report.section(title("verdict"))
    kind = {"coherent": "good", "incoherent": "bad"}.get(verdict, "neutral")
    if d.get("within_tolerance"):
        kind = "neutral"  # incoherent by rounding noise only: the command exits 0
    section.verdict(verdict.upper(), kind)
    if verdict == "coherent":
        section.text("A probability distribution over the possible worlds reproduces every price: no Dutch book "
                     "exists.")
    elif verdict == "incoherent":
        book = d["dutch_book"]
        section.text(f"A Dutch book earns at least {book['guaranteed_profit_exact']} in every possible world: "
                     f"the prices are not probabilities of any distribution.")
        if d.get("within_tolerance"):
            section.text(f"Within the tolerance {d['tolerance']:g}: the incoherence is rounding noise.", note=True)
    else:
        section.text(f"z3 could not decide: {d.get('reason')}")
    facts = {"maximum profit (stakes in [-1, 1])": d.get("max_profit"), "L1 distance to coherent prices":
             d.get("l1_distance")}
    if d.get("max_profit_bounds") is not None:
        facts["maximum profit bounds"] = "[{}, {}]".format(*(f"{b:.6g}" for b in d["max_profit_bounds"]))
    section.facts(facts)

    nearest = d.get("nearest_prices") or [None] * len(d["prices"])
    report.section(title("prices")).table(
        [[_sentence(p), p["price"], q] for p, q in zip(d["prices"], nearest, strict=True)],
        ["sentence", "quoted price", "nearest coherent price"],
    ).figure(plot_coherence(checked), alt="Quoted prices against the nearest coherent prices",
             caption="Quoted prices (dots) and the nearest coherent prices (bars), sentence by sentence.")

    certificate = report.section(title("certificate"))
    if d.get("dutch_book") is not None:
        book = d["dutch_book"]
        certificate.text(f"Dutch book ({book['proof']}): buy or sell each position at its price; the guaranteed "
                         f"profit is checked in exact arithmetic.")
        certificate.table([[_sentence(p), p["side"], p["stake"], p["stake_exact"], p["price"]]
                           for p in book["positions"]], ["sentence", "side", "stake", "stake (exact)", "price"])
        certificate.facts({"guaranteed profit": book["guaranteed_profit"],
                           "guaranteed profit (exact)": book["guaranteed_profit_exact"]})
    elif d.get("distribution") is not None:
        worlds = d["distribution"]
        names = list(worlds[0]["world"]) if worlds else []
        certificate.text("A distribution over possible worlds reproducing every price (exact probabilities):")
        certificate.table([[w["probability"], w["probability_exact"], *(w["world"][n] for n in names)]
                           for w in worlds], ["probability", "exact", *names])
    else:
        certificate.text("No certificate: the verdict is unknown.", note=True)

    stats = dict(d.get("stats") or {})
    diagnostics = report.section(title("diagnostics")).facts(stats or {"stats": None})
    for note in d.get("notes") or []:
        diagnostics.text(note, note=True)


def coherence_report(checked: Any, d: Mapping[str, Any], *, source: str | None = None,
                     theory: Sequence[Any] = (), options: Mapping[str, Any] | None = None) -> Report:
    """The report of ``deepmarkets check``: ``checked`` a CoherenceReport, ``d`` its ``to_dict()``."""
    report = Report("Coherence check", subtitle=f"{len(d['prices'])} prices" + (f" from {source}" if source else ""))
    inputs = report.section("Inputs")
    inputs.facts({"prices": source or "given", "sentences priced": len(d["prices"]),
                  "theory axioms": len(theory), **(options or {})})
    if theory:
        inputs.code("\n".join(str(s) for s in theory))
    add_coherence(report, checked, d)
    return report


def replay_report(result: Any, d: Mapping[str, Any], *, market: Any, book_path: str,
                  price_tol: float) -> Report:
    """The report of ``deepmarkets replay``: ``result`` a Replay, ``d`` its ``to_dict()``."""
    settled = d["outcome"] is not None
    report = Report(f"Replay of a book on market {d['market']!r}",
                    subtitle=f"{d['n_trades']} trades; " + (f"outcome {d['outcome']}" if settled else "not settled"))
    report.section("Inputs").facts({
        "book": book_path, "trades": d["n_trades"], "market": d["market"], "market maker": repr(market.maker),
        "securities": ", ".join(map(str, result.prices.columns)), "outcome": d["outcome"],
        "price tolerance": price_tol})
    verdict = report.section("Verdict")
    if d["mismatches"]:
        verdict.verdict(f"{d['mismatches']} PRICE MISMATCHES", "bad")
        verdict.text(f"{d['mismatches']} trades recorded a price per unit more than {price_tol:g} away from the "
                     "replay.")
    else:
        verdict.verdict("REPLAYED", "good").text("Every recorded price matches the replay.")
    verdict.facts({"maker revenue C(q_T) − C(q_0)": d["maker_revenue"], "maker loss (payout − revenue)":
                   d["maker_loss"]})
    columns = [c for c in ("trader", "trades", "cash", "payout", "pnl") if c in (d["traders"][0] if d["traders"]
                                                                                  else {})]
    report.section("Traders").table(d["traders"], columns, caption="Cash, payout and profit per trader")
    prices = report.section("Prices")
    prices.table([[k, v] for k, v in d["final_prices"].items()], ["security", "final price"])
    prices.figure(result.plot_prices(), alt="Price path of every security",
                  caption="The price of every security after each trade.")
    if d["mismatches"]:
        trades = result.trades
        bad = trades[trades["price_mismatch"].astype(bool)]
        report.section("Mismatched trades").table(
            bad[["trader", "security", "quantity", "recorded_price", "replayed_price"]])
    return report


def fit_report(fit: Any, d: Mapping[str, Any], *, book_path: str) -> Report:
    """The report of ``deepmarkets infer``: ``fit`` a LatentClassFit or PartitionedFit, ``d`` its ``to_dict()``."""
    from deepmarkets.models.fit_plots import plot_class_shares, plot_reliability

    report = Report("Inference on a book of reports", subtitle=fit._headline())
    report.section("Inputs").facts({
        "book": book_path, "questions": d.get("n_questions"), "traders": d.get("n_traders"),
        "answers": d.get("n_answers"), "model": d["model"], "method": d.get("method", "em")})
    result = report.section("Fit")
    converged = d.get("converged")
    if d.get("method") == "nuts":
        from deepmarkets.models.diagnostics import CONVERGENCE_RULE
        from deepmarkets.models.fit import convergence_problems

        problems = convergence_problems(d.get("diagnostics") or {})
        result.verdict("DIAGNOSTICS FAILED" if problems else "CONVERGED", "bad" if problems else "good")
        result.text(f"The convergence rule ({CONVERGENCE_RULE}): " + ("; ".join(problems) if problems else "met") + ".",
                    note=not problems)
    elif converged is not None:
        result.verdict("CONVERGED" if converged else "NOT CONVERGED", "good" if converged else "bad")
    result.facts({"log-likelihood": d["loglik"], "BIC": d["bic"], "AIC": d["aic"], "parameters": d["n_parameters"],
                  "iterations": d.get("n_iter"), "seconds": d.get("seconds")})
    result.table([[c, s] for c, s in d["class_shares"].items()], ["class", "share"], caption="Class shares")
    result.figure(plot_class_shares(fit), alt="Class shares", caption="The share of each latent class"
                  + (" (posterior draws)" if d.get("method") in ("nuts", "advi") else "") + ".")
    traders = report.section("Traders")
    what = "P(answer = truth)" if d["model"] == "dawid-skene" else "I(class; answer) / H(class)"
    rows = sorted(d["traders"], key=lambda t: -t["reliability"])
    traders.table([[t["trader"], t["reliability"]] for t in rows], ["trader", f"reliability, {what}"],
                  max_rows=SHOWN_TRADERS)
    traders.figure(plot_reliability(fit), alt="Reliability of every trader",
                   caption=f"Reliability of every trader, {what}.")
    if d["model"] == "dawid-skene":
        for t in rows[:SHOWN_RESPONSES]:
            levels = list(next(iter(t["response"].values())))
            traders.table([[c, *(t["response"][c][lv] for lv in levels)] for c in t["response"]],
                          ["truth \\ answer", *levels], caption=f"Confusion matrix of {t['trader']}")
    diag = d.get("diagnostics")
    if diag:
        section = report.section("Diagnostics")
        section.facts({k: v for k, v in diag.items() if not isinstance(v, Mapping | list)})
        if getattr(fit, "approximate", False):
            section.figure(fit.plot_elbo(), alt="ELBO by iteration", caption="ADVI's ELBO at every step.")
    starts = d.get("restarts_loglik")
    if starts:
        report.section("Starts").table([[f"start {i + 1}", v] for i, v in enumerate(starts)],
                                       ["EM start", "log-likelihood"])
    return report


def induction_report(result: Any, d: Mapping[str, Any], *, spec_path: str) -> Report:
    """The report of ``deepmarkets induct``: ``result`` an InductionResult, ``d`` its ``to_dict()``."""
    from deepmarkets.logic.induction import plot_exploitation, plot_prices

    report = Report("Logical induction", subtitle=f"{len(d['sentences'])} sentences, {len(d['traders'])} traders, "
                    f"{len(d['days'])} days")
    report.section("Inputs").facts({"spec": spec_path, "sentences": len(d["sentences"]),
                                    "traders": ", ".join(d["traders"]), "days": len(d["days"])})
    days = d["days"]
    last = days[-1]
    entered = result.entered_day()
    worst = max(days, key=lambda day: day["residual_float"] / float(_fraction(day["tolerance"])))
    verdict = report.section("Prices")
    verdict.verdict("EVERY DAY CHECKED EXACTLY", "good")
    verdict.text(f"Largest residual {worst['residual_float']:.3g} on day {worst['day']} (tolerance "
                 f"{float(_fraction(worst['tolerance'])):.3g}); every day's prices re-checked in exact arithmetic.")
    verdict.table([[s, last["prices"][s], entered.get(s)] for s in d["sentences"]],
                  ["sentence", "final price", "day entered the deductive process"])
    fig, (left, right) = panels(1, 2, figsize=(12, 4))
    plot_prices(result, ax=left)
    plot_exploitation(result, ax=right)
    verdict.figure(fig, alt="Price trajectories and exploitation curves",
                   caption="Prices by day (left) and each trader's exploitation of the market (right).")
    report.section("Diagnostics").table(
        [[day["day"], day["residual_float"], len(day["entered"]), len(day["bankrupt"]), day["solver"], day["seconds"]]
         for day in days], ["day", "residual", "entered", "bankrupt", "solver", "seconds"])
    return report


def _fraction(text: str):
    from fractions import Fraction

    return Fraction(text)


def economy_report(economy: Any, d: Mapping[str, Any], *, spec_path: str) -> Report:
    """The report of ``deepmarkets economy``: ``d`` the dictionary its ``--json`` prints."""
    from deepmarkets.models.economies.plots import plot_economy

    run = d["run"]
    report = Report("Agent economy", subtitle=repr(economy))
    report.section("Inputs").facts({"spec": spec_path, "episodes": run["episodes"],
                                    **{k: d[k] for k in ("auction", "bids", "conditions", "clones", "gamma",
                                                         "learning_rate", "explore", "tax") if k in d}})
    result = report.section("Result")
    error = abs(d["conservation_error"])
    balanced = error <= 1e-6 * max(1.0, abs(d.get("bank", 0.0)))
    result.verdict("CREDIT CONSERVED" if balanced else "LEDGER OUT OF BALANCE", "good" if balanced else "bad")
    result.facts({"success rate": run["success_rate"], "mean steps": run["mean_steps"], "births": run["births"],
                  "deaths": run["deaths"], "agents": d.get("agents"), "alive": d.get("alive"),
                  "bank (credits)": d.get("bank"), "minted (credits)": d["minted"],
                  "written off (credits)": d["written_off"], "ledger conservation error": d["conservation_error"],
                  "largest conservation error in an episode": run["max_conservation_error"]})
    _, grid = panels(2, 2, figsize=(11, 7.5))
    result.figure(plot_economy(economy, ax=grid), alt="Learning curve, prices, chain depth and population",
                  caption="Success and steps by episode, prices against values, chain depth and population.")
    eq = d.get("equilibrium")
    if eq is not None:
        section = report.section("Prices against optimal values")
        section.facts({"states": eq["states"], "Spearman rank correlation": eq["spearman"]})
        section.text(f"{len(eq['mispriced'])} states are mispriced (price and optimal value V* more than 5 % of "
                     "the goal reward apart).")
        if eq["mispriced"]:
            section.table([[m] for m in eq["mispriced"]], ["mispriced state"], max_rows=20)
    return report


def bria_report(agent: Any, run: Any, d: Mapping[str, Any], *, spec_path: str) -> Report:
    """The report of ``deepmarkets bria``: ``run`` the hypothesis auction's run, ``d`` its ``to_dict()``."""
    from deepmarkets.models.bria.plots import plot_bria

    report = Report("Hypothesis auction", subtitle=repr(agent))
    report.section("Inputs").facts({"spec": spec_path, "rounds": d["rounds"], "hypotheses": d["hypotheses"],
                                    **{f"allowance {k}": v for k, v in d["allowance"].items()}})
    result = report.section("Result")
    ok = d["overestimation"] <= d["total_allowance"] + 1e-9 and abs(d["identity_error"]) < 1e-6
    result.verdict("L_T WITHIN THE ALLOWANCE" if ok else "ACCOUNTING FAILED", "good" if ok else "bad")
    result.facts({"average reward": d["average_reward"], "overestimation L_T": d["overestimation"],
                  "allowance handed out": d["total_allowance"], "wealth identity error": d["identity_error"],
                  "ledger error": d["ledger_error"]})
    result.table([[o, v] for o, v in d["option_shares"].items()], ["option", "share of rounds"])
    _, grid = panels(2, 2, figsize=(11, 7.5))
    result.figure(plot_bria(run, best=getattr(agent.task, "best", None), ax=grid),
                  alt="Average reward, wealth, win shares and rejections",
                  caption="Average reward, the wealth of the leading hypotheses, win shares and rejection times.")
    top = d["top_hypotheses"]
    report.section("Hypotheses").table(top, list(top[0]) if top else ["hypothesis"], caption="Hypotheses by wins")
    return report


def layered_report(market: Any, d: Mapping[str, Any], *, data: str, truth: Any = None,
                   label_column: str | None = None) -> Report:
    """The report of ``deepmarkets layered``: ``d`` the dictionary its ``--json`` prints."""
    report = Report("Layered latent market", subtitle=repr(market))
    report.section("Inputs").facts({"data": data, "rows": d["n"], "columns": ", ".join(d["columns"]),
                                    "emission": d["emission"], "folds": d["folds"], "rent": d["rent"],
                                    "rent per parameter": d["rent_per_parameter"], "rounds": d["rounds"],
                                    "known classes": label_column})
    s = market.state
    result = report.section("Structure")
    result.facts({"location states": s.n_states, "shape states": s.n_shapes if s.layered else None,
                  "held-out log score per datum (nats)": d["held_out_log_score"], "BIC": d["bic"], "ICL": d["icl"],
                  **{f"adjusted Rand index ({k} vs {label_column})": v
                     for k, v in (d.get("adjusted_rand_index") or {}).items()}})
    if d.get("children"):
        result.table([[g, ", ".join(map(str, kids))] for g, kids in d["children"].items()],
                     ["shape state", "location states"])
    result.figure(market.plot(truth=truth), alt="Structure, log score and clusters",
                  caption="The structure by round, the held-out log score, and the clusters.")
    traders = d["traders"]
    report.section("Traders").table(traders, list(traders[0]) if traders else ["trader"],
                                    caption="Accepted and rejected trades, payouts")
    return report


def sweep_report(result: Any, d: Mapping[str, Any], *, spec_path: str, task: str) -> Report:
    """The report of ``deepmarkets sweep``: ``result`` a SweepResult, ``d`` its ``to_dict()``."""
    from deepmarkets.sweeps.plots import plot_sweep

    report = Report("Sweep", subtitle=f"task {task}: {len(result.table)} runs, {result.n_failed} failed")
    report.section("Inputs").facts({"spec": spec_path, "task": task, "runs": len(result.table),
                                    "parameters": ", ".join(result.parameters)})
    summary = report.section("Summary")
    summary.verdict("EVERY TASK RAN" if not result.n_failed else f"{result.n_failed} TASKS FAILED",
                    "good" if not result.n_failed else "bad")
    summary.table(result.summary(), caption="Mean of each output per point")
    for output in result.numeric_outputs[:4]:
        summary.figure(plot_sweep(result, output), alt=f"{output} across the grid",
                       caption=f"{output}: mean and spread over repeats at each point.")
    if result.n_failed:
        summary.text(f"first error: {result.first_error}", note=True)
    report.section("Runs").table(result.table, caption="Every run")
    return report
