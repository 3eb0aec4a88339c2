#!/usr/bin/env python
"""Benchmarks of the coherence check (``deepmarkets.logic.check_coherence``).

Part A, ours vs brute force: the same random instances (n random 3-literal clauses as
sentences over n atoms, under a random 3-CNF theory of clause ratio 2) go through
``check_coherence(profit="optimal")`` and ``brute_force_coherence`` (2^n assignments and one
HiGHS LP) in this process. The table gives median seconds of each, the ratio, whether the
verdicts agree and the largest |max_profit difference|.

Part B, ours alone at scale: bigger instances with ``profit="first"`` (and ``"optimal"`` for
the 60- and 200-atom rows), with the spec's time targets and PASS/FAIL per row. Every
certificate is re-checked here, independently and untimed: a COHERENT distribution must
reproduce the prices exactly with possible worlds, an INCOHERENT Dutch book must never pay
less than its guaranteed profit (z3, exact rationals).

Part C, the gap over time: on the 200-atom rows' instances (100 random clauses under 400), the
certified lower bound and the upper bound on the max profit (the master LP's value) at fixed
seconds, for each variant of ``profit="optimal"``: "plain" (column generation with greedy
worlds and the exact oracle), "+groups" (first a book summed over overlapping groups of related
sentences, :func:`deepmarkets.logic.local.summed_books`), "+groups+mip" (the default: also
HiGHS's MIP solver as a time-capped heuristic for an improving world once the greedy search
finds none). Variants are switched off by replacing those steps, in this process only.

Instance generation is never timed. Each instance is generated once per seed and shared by
both methods (part A) or both profit modes (part B).

Exit status 1 when a verdict or a max profit disagrees (the output then says DISAGREE) or a
certificate fails its re-check (CERT-INVALID); PASS/FAIL against the targets does not change it.

    python benchmarks/coherence.py              # full run (several minutes)
    python benchmarks/coherence.py --smoke      # a few seconds
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import Counter
from fractions import Fraction

import numpy as np
import z3
from harness import finish, fmt_s, header, log, machine_info, median, table, timed  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.logic import Verdict, check_coherence
from deepmarkets.logic import testing as lt

DISAGREE = "DISAGREE"
CERT_INVALID = "CERT-INVALID"
#: |ours - brute| max profit above this (times max(1, |profit|)) is a disagreement
PROFIT_TOL = 1e-6
#: z3 timeout for re-checking one certificate (untimed; "?" when it runs out)
CERT_TIMEOUT_S = 60


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def rng_for(seed: int, part: int, n_atoms: int, n_sentences: int, ratio: float, coherent: bool, rep: int):
    """A generator for one instance: different per repeat, identical for every method run on it."""
    return np.random.default_rng([seed, part, n_atoms, n_sentences, round(ratio * 100), int(coherent), rep])


def fmt_num(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:g}" if isinstance(x, int) or float(x).is_integer() else f"{x:.1f}"


def verdict_summary(verdicts: list[str]) -> str:
    counts = Counter(verdicts)
    return ", ".join(f"{v} x{c}" for v, c in sorted(counts.items(), key=lambda kv: -kv[1]))


def truncate(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------------
# independent re-check of a certificate
# ---------------------------------------------------------------------------
def verify_certificate(report, theory) -> str:
    """'ok', 'CERT-INVALID: why', '?' (z3 gave up or no certificate to check), '-' (no verdict).

    COHERENT: the distribution's probabilities are positive and sum to 1, reproduce every price
    exactly, and each of its worlds is possible (one z3 check each). INCOHERENT: the book's payoff
    in its worst possible world, found by z3 weighted MaxSAT and recomputed in fractions, equals the
    guaranteed profit (is at least it, or the certificate is invalid)."""
    axioms = [a.z3 for a in theory.axioms]
    s = z3.Solver()
    s.set("timeout", CERT_TIMEOUT_S * 1000)
    s.add(*axioms)
    if report.verdict is Verdict.COHERENT:
        dist = report.distribution
        if dist is None:
            return "?"
        if sum(p for p, _ in dist) != 1 or any(p <= 0 for p, _ in dist):
            return f"{CERT_INVALID}: probabilities do not sum to 1"
        for i, bet in enumerate(report.bets):
            if sum((p for p, w in dist if w[i][0]), Fraction(0)) != bet.price:
                return f"{CERT_INVALID}: price of {bet.sentence} not reproduced"
        for _, w in dist:
            lits = [b.sentence.z3 if w[i][0] else z3.Not(b.sentence.z3) for i, b in enumerate(report.bets)]
            r = s.check(*lits)
            if r == z3.unsat:
                return f"{CERT_INVALID}: a world of the distribution is impossible"
            if r == z3.unknown:
                return "?"
        return "ok"
    if report.verdict is Verdict.INCOHERENT:
        book = report.dutch_book
        if book is None or book.guaranteed_profit <= 0:
            return f"{CERT_INVALID}: no Dutch book with positive profit"
        if any(p.bet.given is not None for p in book.positions):
            return "?"
        # the worst world for the book: maximise -sum(stake_i [s_i]) by weighted MaxSAT (integer weights)
        scale = math.lcm(*(p.stake.denominator for p in book.positions))
        opt = z3.Optimize()
        opt.set("timeout", CERT_TIMEOUT_S * 1000)
        opt.add(*axioms)
        for p in book.positions:
            w = -p.stake * scale
            if w:
                opt.add_soft(p.bet.sentence.z3 if w > 0 else z3.Not(p.bet.sentence.z3), str(abs(int(w))))
        r = opt.check()
        if r != z3.sat:
            return "?" if r == z3.unknown else f"{CERT_INVALID}: the theory has no world"
        m = opt.model()
        worst = sum((p.stake * ((1 if z3.is_true(m.eval(p.bet.sentence.z3, model_completion=True)) else 0)
                                - p.bet.price) for p in book.positions), Fraction(0))
        if worst < book.guaranteed_profit:
            return f"{CERT_INVALID}: the book pays {float(worst):.6g} < {float(book.guaranteed_profit):.6g} in a world"
        return "ok" if worst == book.guaranteed_profit else "ok (profit understated)"
    return "-"


# ---------------------------------------------------------------------------
# part A: ours vs brute force
# ---------------------------------------------------------------------------
def part_a(args, sizes, repeats) -> tuple[list[dict], list[dict], bool]:
    runs, rows, bad = [], [], False
    for n in sizes:
        for coherent in (True, False):
            recs = []
            for rep in range(repeats):
                inst = lt.random_cnf_instance(n, n, 2.0, coherent=coherent, rng=rng_for(args.seed, 1, n, n, 2.0,
                                                                                         coherent, rep))
                pm = inst.price_map

                def ours(pm=pm, inst=inst):
                    return timed(check_coherence, pm, inst.theory, profit="optimal", time_limit=args.time_limit)

                def brute(pm=pm, inst=inst):
                    return timed(lt.brute_force_coherence, pm, inst.theory)

                # alternate the order so neither method always runs on a cold cache
                if rep % 2 == 0:
                    (rep_o, t_o), ((b_coh, b_profit), t_b) = ours(), brute()
                else:
                    ((b_coh, b_profit), t_b), (rep_o, t_o) = brute(), ours()
                v = rep_o.verdict.value
                agree = (rep_o.verdict is Verdict.COHERENT) == b_coh and rep_o.verdict is not Verdict.UNKNOWN
                dprofit = abs(rep_o.max_profit - b_profit) if rep_o.max_profit is not None else math.inf
                profit_ok = dprofit <= PROFIT_TOL * max(1.0, abs(b_profit))
                construction_ok = b_coh or not coherent
                rec = {
                    "n_atoms": n, "n_sentences": n, "clause_ratio": 2.0, "prices": "coherent" if coherent else "random",
                    "repeat": rep, "ours_s": t_o, "brute_s": t_b, "ours_verdict": v, "brute_coherent": b_coh,
                    "ours_max_profit": rep_o.max_profit, "brute_max_profit": b_profit, "agree": agree,
                    "abs_profit_diff": dprofit, "profit_ok": profit_ok, "construction_ok": construction_ok,
                    "reason": rep_o.reason, "stats": rep_o.stats,
                }
                recs.append(rec)
                runs.append(rec)
                log(f"  A n={n:>2} {rec['prices']:<8} rep {rep}: ours {t_o:.3f}s {v}, brute {t_b:.3f}s "
                    f"{'coherent' if b_coh else 'incoherent'}, |dprofit|={dprofit:.2e}", args.quiet)
            n_agree = sum(r["agree"] and r["profit_ok"] for r in recs)
            mo, mb = median([r["ours_s"] for r in recs]), median([r["brute_s"] for r in recs])
            maxd = max(r["abs_profit_diff"] for r in recs)
            if n_agree == len(recs) and all(r["construction_ok"] for r in recs):
                agree_txt = f"yes {n_agree}/{len(recs)}"
            else:
                bad = True
                why = [] if n_agree == len(recs) else [f"{len(recs) - n_agree}/{len(recs)}"]
                if not all(r["construction_ok"] for r in recs):
                    why.append("brute force finds coherent-by-construction prices incoherent")
                agree_txt = f"{DISAGREE} " + "; ".join(why)
            rows.append({
                "n_atoms": n, "prices": recs[0]["prices"], "ours_s": mo, "brute_s": mb,
                "ratio": mb / mo if mo else None, "verdicts": verdict_summary([r["ours_verdict"] for r in recs]),
                "agree": agree_txt, "max_abs_profit_diff": maxd,
            })
    return runs, rows, bad


def print_part_a(rows, repeats) -> None:
    print(f"Part A: ours vs brute force  (median of {repeats} repeat{'s' if repeats > 1 else ''}; n 3-literal "
          "clauses over n atoms, 3-CNF theory of clause ratio 2; ours = check_coherence(profit='optimal'))")
    headers = ["atoms", "prices", "ours s", "brute s", "brute/ours", "verdict (ours)", "verdicts agree",
               "max |dprofit|"]
    body = [[str(r["n_atoms"]), r["prices"], fmt_s(r["ours_s"]), fmt_s(r["brute_s"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["verdicts"], r["agree"],
             "inf" if math.isinf(r["max_abs_profit_diff"]) else f"{r['max_abs_profit_diff']:.1e}"]
            for r in rows]
    print(table(headers, body, right={0, 2, 3, 4, 7}))
    print()


# ---------------------------------------------------------------------------
# part B: ours alone at scale
# ---------------------------------------------------------------------------
def part_b(args, configs) -> tuple[list[dict], list[dict], bool]:
    runs, rows, bad = [], [], False
    for cfg in configs:
        n, m, ratio = cfg["n_atoms"], cfg["n_sentences"], cfg["ratio"]
        for coherent in (True, False):
            kind = "coherent" if coherent else "random"
            cells = {mode: [] for mode in cfg["modes"]}
            stopped: dict[str, int] = {}
            gens = []
            for rep in range(cfg["repeats"]):
                live = [mode for mode in cfg["modes"] if mode not in stopped]
                if not live:
                    break
                t0 = time.perf_counter()
                inst = lt.random_cnf_instance(n, m, ratio, coherent=coherent,
                                              rng=rng_for(args.seed, 2, n, m, ratio, coherent, rep))
                gens.append(time.perf_counter() - t0)
                log(f"  B {n}/{m}/{ratio:g} {kind:<8} rep {rep}: generated in {gens[-1]:.1f}s", args.quiet)
                for mode in live:
                    report, secs = timed(check_coherence, inst.price_map, inst.theory, profit=mode,
                                         time_limit=args.time_limit)
                    cert = verify_certificate(report, inst.theory)
                    st = report.stats or {}
                    rec = {
                        "config": cfg["label"], "n_atoms": n, "n_sentences": m, "clause_ratio": ratio,
                        "prices": kind, "profit": mode, "repeat": rep, "seconds": secs, "gen_seconds": gens[-1],
                        "verdict": report.verdict.value, "rounds": st.get("rounds"), "worlds": st.get("worlds"),
                        "oracle_calls": st.get("oracle_calls"), "max_profit": report.max_profit,
                        "max_profit_bounds": list(report.max_profit_bounds) if report.max_profit_bounds else None,
                        "reason": report.reason, "certificate": cert, "time_limit": args.time_limit,
                    }
                    cells[mode].append(rec)
                    runs.append(rec)
                    log(f"    {mode:<7} {secs:7.2f}s {rec['verdict']:<10} rounds={rec['rounds']} "
                        f"worlds={rec['worlds']} oracle={rec['oracle_calls']} cert={cert} "
                        f"{truncate(report.reason, 90)}", args.quiet)
                    if report.verdict is Verdict.UNKNOWN and not args.all_repeats:
                        stopped[mode] = rep + 1
            for mode, recs in cells.items():
                row, row_bad = summarise_b(cfg, kind, mode, recs, gens, stopped.get(mode))
                bad |= row_bad
                rows.append(row)
    return runs, rows, bad


def summarise_b(cfg, kind, mode, recs, gens, stopped_after) -> tuple[dict, bool]:
    target = cfg["target"]
    verdicts = [r["verdict"] for r in recs]
    secs = median([r["seconds"] for r in recs])
    notes, bad = [], False
    unknown = [r for r in recs if r["verdict"] == "unknown"]
    wrong = [r for r in recs if kind == "coherent" and r["verdict"] == "incoherent"]
    invalid = [r for r in recs if r["certificate"].startswith(CERT_INVALID)]
    if wrong:
        bad = True
        notes.append(f"{DISAGREE}: coherent-by-construction prices judged incoherent")
    if invalid:
        bad = True
        notes.append(invalid[0]["certificate"])
    if unknown:
        notes.append("UNKNOWN: " + truncate(unknown[0]["reason"], 70))
    not_optimal = [r for r in recs if mode == "optimal" and r["verdict"] == "incoherent" and r["max_profit"] is None]
    if not_optimal:
        lo, hi = not_optimal[0]["max_profit_bounds"] or (math.nan, math.nan)
        notes.append(f"NOT OPTIMAL x{len(not_optimal)}: book certified but max profit only bounded, e.g. "
                     f"[{lo:.4g}, {hi:.4g}] after {not_optimal[0]['seconds']:.0f} s; "
                     + (f"reason: {truncate(not_optimal[0]['reason'], 40)}" if not_optimal[0]["reason"]
                        else "report gives no reason"))
    if stopped_after is not None and stopped_after < cfg["repeats"]:
        notes.append(f"stopped after repeat {stopped_after}/{cfg['repeats']} (UNKNOWN decides FAIL)")
    if wrong or invalid or unknown or not_optimal:
        result = "FAIL"
    elif target is None:
        result = "n/a"
    else:
        result = "PASS" if secs < target else "FAIL"
    if mode == "optimal" and not not_optimal:
        profits = [r["max_profit"] for r in recs if r["max_profit"] is not None]
        profit = f"{statistics.median(profits):.4g}" if profits else "-"
    else:
        lows = [r["max_profit_bounds"][0] for r in recs if r["max_profit_bounds"]]
        exact = [r["max_profit"] for r in recs if r["max_profit"] is not None]
        profit = f">={statistics.median(lows):.4g}" if lows else (f"{statistics.median(exact):.4g}" if exact else "-")
    certs = Counter(r["certificate"].split(":")[0] for r in recs)
    row = {
        "config": cfg["label"], "n_atoms": cfg["n_atoms"], "n_sentences": cfg["n_sentences"],
        "clause_ratio": cfg["ratio"], "prices": kind, "profit": mode, "runs": len(recs),
        "verdicts": verdict_summary(verdicts), "seconds": secs, "gen_seconds": median(gens),
        "rounds": median([r["rounds"] for r in recs]), "worlds": median([r["worlds"] for r in recs]),
        "oracle_calls": median([r["oracle_calls"] for r in recs]), "max_profit": profit,
        "certificate": ", ".join(f"{c} x{k}" for c, k in certs.items()),
        "target_s": target, "result": result, "notes": "; ".join(notes),
    }
    return row, bad


def print_part_b(rows, time_limit) -> None:
    print(f"Part B: ours alone at scale  (median over repeats; time_limit={time_limit:g} s per check; "
          "gen s = instance generation, not timed; cert = certificate re-checked independently)")
    print("  PASS = median seconds under the target with a definite verdict in every repeat; UNKNOWN, a wrong "
          "verdict, an invalid certificate, or (profit=optimal) a max profit left as bounds is FAIL; "
          "'>=x' = certified lower bound")
    headers = ["atoms", "sents", "ratio", "config", "prices", "profit", "runs", "verdict", "seconds", "rounds",
               "worlds", "oracle", "max profit", "cert", "gen s", "target", "result", "notes"]
    body = []
    for r in rows:
        body.append([
            str(r["n_atoms"]), str(r["n_sentences"]), f"{r['clause_ratio']:g}", r["config"], r["prices"],
            r["profit"], str(r["runs"]), r["verdicts"], fmt_s(r["seconds"]), fmt_num(r["rounds"]),
            fmt_num(r["worlds"]), fmt_num(r["oracle_calls"]), r["max_profit"], r["certificate"],
            fmt_s(r["gen_seconds"]), "-" if r["target_s"] is None else f"< {r['target_s']:g} s", r["result"],
            r["notes"],
        ])
    print(table(headers, body, right={0, 1, 2, 6, 8, 9, 10, 11, 12, 14}))
    print()


# ---------------------------------------------------------------------------
# part C: the gap over time
# ---------------------------------------------------------------------------
GAP_VARIANTS = ("plain", "+groups", "+groups+mip")


def run_variant(variant: str, inst, seconds: float) -> list[tuple[float, float, float]]:
    """(seconds, lower, upper) at every round of one optimal-mode check with ``variant``'s steps."""
    from deepmarkets.logic import coherence

    trace: list[tuple[float, float, float]] = []
    started = time.monotonic()
    saved = coherence._groups_book, coherence._mip_column, coherence._Progress.__call__
    if "groups" not in variant:
        coherence._groups_book = lambda layer: False
    if "mip" not in variant:
        coherence._mip_column = lambda layer, x, y0: 0
    coherence._Progress.__call__ = lambda self, rounds, worlds, lower, upper: trace.append(
        (time.monotonic() - started, lower, upper))
    try:
        report = check_coherence(inst.price_map, inst.theory, time_limit=seconds)
    finally:
        coherence._groups_book, coherence._mip_column, coherence._Progress.__call__ = saved
    end = time.monotonic() - started
    if report.max_profit is not None:
        trace.append((end, report.max_profit, report.max_profit))
    elif report.max_profit_bounds is not None:
        trace.append((end, *report.max_profit_bounds))
    return trace


def bounds_at(trace, t: float) -> tuple[float, float]:
    """The best lower and upper bounds known at ``t`` seconds (nan before the first round)."""
    seen = [(lo, hi) for s, lo, hi in trace if s <= t]
    if not seen:
        return math.nan, math.nan
    return max(lo for lo, _ in seen), min(hi for _, hi in seen)


def part_c(args, config, checkpoints) -> list[dict]:
    rows = []
    n, m, ratio = config
    for rep in range(args.repeats if not args.smoke else 1):
        inst = lt.random_cnf_instance(n, m, ratio, coherent=False, rng=rng_for(args.seed, 2, n, m, ratio, False, rep))
        for variant in GAP_VARIANTS:
            trace = run_variant(variant, inst, checkpoints[-1])
            row = {"repeat": rep, "variant": variant, "bounds": [bounds_at(trace, t) for t in checkpoints],
                   "optimal_at": next((s for s, lo, hi in trace if hi - lo <= 1e-9 * max(1.0, hi)), None)}
            rows.append(row)
            log(f"  C rep {rep} {variant:<12} " + "  ".join(f"{t:g}s [{lo:.4g}, {hi:.4g}]" for t, (lo, hi)
                                                            in zip(checkpoints, row["bounds"], strict=True)),
                args.quiet)
    return rows


def print_part_c(rows, config, checkpoints) -> None:
    n, m, ratio = config
    print(f"Part C: gap over time, profit='optimal'  ({m} random clauses over {n} atoms under {round(ratio * n)}; "
          "[certified lower bound, upper bound] on the max profit at each time, median over repeats; "
          "optimal = seconds to equal bounds)")
    headers = ["variant", *(f"{t:g} s" for t in checkpoints), "optimal"]
    body = []
    for variant in GAP_VARIANTS:
        mine = [r for r in rows if r["variant"] == variant]
        cells = []
        for i in range(len(checkpoints)):
            lo = median([r["bounds"][i][0] for r in mine if not math.isnan(r["bounds"][i][0])])
            hi = median([r["bounds"][i][1] for r in mine if not math.isnan(r["bounds"][i][1])])
            cells.append("-" if lo is None else f"[{lo:.4g}, {max(hi, lo):.4g}]")
        done = [r["optimal_at"] for r in mine if r["optimal_at"] is not None]
        body.append([variant, *cells, f"{median(done):.1f} s ({len(done)}/{len(mine)})" if done else "not reached"])
    print(table(headers, body, right=set(range(1, len(checkpoints) + 2))))
    print()


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run (about 20 s) with the same tables")
    ap.add_argument("--repeats", type=int, default=3, help="repeats (seeds) per row (default 3)")
    ap.add_argument("--big-repeats", type=int, default=1,
                    help="repeats for the (1000, 300) row, whose coherent instances take minutes to generate "
                    "(default 1)")
    ap.add_argument("--time-limit", type=float, default=120.0,
                    help="check_coherence time_limit in seconds (default 120); a single z3 oracle call is not "
                    "interrupted, so a check can overrun it")
    ap.add_argument("--json", metavar="OUT", help="write every run and row to this JSON file")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    ap.add_argument("--all-repeats", action="store_true",
                    help="keep repeating a row after an UNKNOWN (by default its remaining repeats are skipped, "
                    "since one UNKNOWN already makes the row FAIL)")
    ap.add_argument("--skip-a", action="store_true", help="skip part A")
    ap.add_argument("--skip-b", action="store_true", help="skip part B")
    ap.add_argument("--skip-c", action="store_true", help="skip part C")
    ap.add_argument("--gap-seconds", type=float, default=60.0,
                    help="part C: seconds of each optimal-mode check (default 60)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.big_repeats < 1:
        ap.error("repeats must be at least 1")

    if args.smoke:
        repeats = 1
        sizes = (8, 10)
        configs = [dict(label="smoke", n_atoms=30, n_sentences=20, ratio=2.0, target=None,
                        modes=("first", "optimal"), repeats=1)]
    else:
        repeats = args.repeats
        sizes = (10, 14, 18, 20)
        configs = [
            dict(label="phase transition", n_atoms=60, n_sentences=60, ratio=3.0, target=6.0,
                 modes=("first", "optimal"), repeats=repeats),
            dict(label="", n_atoms=200, n_sentences=100, ratio=2.0, target=20.0, modes=("first", "optimal"),
                 repeats=repeats),
            dict(label="", n_atoms=1000, n_sentences=300, ratio=2.0, target=60.0, modes=("first",),
                 repeats=min(repeats, args.big_repeats)),
        ]

    info = machine_info()
    started = time.perf_counter()
    header("coherence", args.smoke, info, f"z3 {info['z3']}, numpy {info['numpy']}, scipy {info['scipy']}")
    print(f"settings  repeats={repeats}, time_limit={args.time_limit:g} s, seed={args.seed}"
          + ("" if args.smoke else f", (1000, 300) row repeats={configs[2]['repeats']}"))
    print("instances generated once per seed, shared by the methods/modes; generation not timed")
    print()
    sys.stdout.flush()

    # warm-up: imports, z3 and HiGHS first calls
    warm = lt.random_cnf_instance(6, 6, 2.0, coherent=False, rng=12345)
    check_coherence(warm.price_map, warm.theory)
    lt.brute_force_coherence(warm.price_map, warm.theory)

    out: dict = {"machine": info, "args": vars(args)}
    bad = False
    if not args.skip_a:
        runs, rows, bad_a = part_a(args, sizes, repeats)
        out["part_a"] = {"runs": runs, "rows": rows}
        bad |= bad_a
        print_part_a(rows, repeats)
        sys.stdout.flush()
    if not args.skip_b:
        runs, rows, bad_b = part_b(args, configs)
        out["part_b"] = {"runs": runs, "rows": rows}
        bad |= bad_b
        print_part_b(rows, args.time_limit)
        sys.stdout.flush()
    if not args.skip_c:
        config = (30, 20, 2.0) if args.smoke else (200, 100, 2.0)
        top = min(args.gap_seconds, 3.0) if args.smoke else args.gap_seconds
        checkpoints = [t for t in (1, 2, 5, 10, 20, 40, 60, 120, 300) if t < top] + [top]
        rows = part_c(args, config, checkpoints)
        out["part_c"] = {"rows": rows, "checkpoints": checkpoints}
        print_part_c(rows, config, checkpoints)
    return finish(out, started, bad, f"{DISAGREE} or {CERT_INVALID}", "all verdicts and certificates agree",
                  args.json)


if __name__ == "__main__":
    sys.exit(main())
