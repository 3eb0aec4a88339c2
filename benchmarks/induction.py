#!/usr/bin/env python
"""Benchmarks of the logical inductor (``deepmarkets.logic.induction``) against ``logicalinduction`` 0.1.6.

The baseline is the PyPI package ``logicalinduction==0.1.6`` (a literal transcription of §5 of
Garrabrant et al. 2016: prices by enumerating rational vectors, every truth table checked). It is
a benchmark-only dependency, not installed with the package: ``pip install logicalinduction==0.1.6``.
When it is not importable its columns are skipped with a note.

Part A, one MarketMaker call on ``k`` independent atoms (k = 1..5) with the trader that buys
``0.3 - p`` units of each atom (buys below 0.3, sells above; the unique fixed point is 0.3).
Baseline: ``find_credences`` with tolerance 2^-10, timed without building its policy. Ours: the
first day's :meth:`Inductor.step` (budgeter, trading firm, market maker, exact check and log),
timed without building the inductor and its trader.

Part B, the package's two-trader learning example over 25 days: trader 1 (from day 1) buys
``n`` tokens of φ on day n, trader 2 (from day 2) sells ``n`` tokens of ψ; observations ¬φ on
day 1 and ψ afterwards. Baseline: ``LogicalInductor.update``; ours: an Inductor with the same
traders, budgets and observations (``settle=False``: like the package, prices are not pinned to
the observations).

The baseline runs in a child process with a wall-clock limit per row (``--row-time-limit``);
a row stopped by the limit reports how far it got. Prices must agree within 0.01 where both
finish (else DISAGREE, exit status 1). Speed target: ours at least 100x faster where the package
finishes.

Part C, ours alone: 50 sentences (3 exclusive-exhaustive groups of 10 and 20 independent atoms,
revealed over time), 20 traders (the 3 arbitrageurs of the theory, 15 seeded random threshold
traders on the atoms, 2 frequency traders), 200 days; target under 60 s. A second row puts the
threshold traders on any sentence, arbitrageurs included (a hard case for Newton's method: a
tiny-weight trader saturated against an arbitrageur; the fallbacks take over).

Part D, the empirical properties with numbers: pseudorandom frequencies, exclusive-exhaustive
coherence, provability induction, paradox resistance (targets as in the issue).

Part E, the market maker never stalls: random inductors (``induction.scenarios.random_inductor``,
seeds 0..N-1: random theories, every built-in trader family, random deductive processes), each
run for 100 days. Counts the stalls (``InductionError``), the worst residual over its tolerance
2^-min(n, 32), the seconds, and the days on which Newton's method was not enough (proximal
Newton, the simplicial search, its integer-labelled path). Target: no stall (else STALL, exit
status 1).

    python benchmarks/induction.py              # full run
    python benchmarks/induction.py --smoke      # a few seconds
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

import numpy as np
from harness import finish, fmt_s, header, log, machine_info, median, table, timed  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.logic import atoms
from deepmarkets.logic.induction import Inductor, Trader
from deepmarkets.logic.induction.features import const, price

DISAGREE = "DISAGREE"
STALL = "STALL"
SPEEDUP_TARGET = 100.0
PART_C_TARGET = 60.0
TOLERANCE_A = 2.0 ** -10


def baseline_available() -> str | None:
    try:
        import logicalinduction  # noqa: F401
    except ImportError:
        return "logicalinduction is not importable: baseline skipped (pip install logicalinduction==0.1.6)"
    return None


# --- baseline scenarios, run in a child process --------------------------------------------------------
def _base_a(k: int, q) -> None:
    from logicalinduction import Atom, Constant, History, Price, Product, Sum, find_credences

    xs = [Atom(f"x{i}") for i in range(k)]
    policy = {x: Sum(Constant(0.3), Product(Constant(-1), Price(x, 1))) for x in xs}
    t0 = time.perf_counter()
    cred = find_credences(policy, History([]), TOLERANCE_A)
    q.put(("done", time.perf_counter() - t0, [float(cred[x]) for x in xs]))


def _base_b(days: int, ours: list[dict], q) -> None:
    """The package's LogicalInductor.update, step by step, also checking our prices with its own test."""
    import itertools

    from logicalinduction import Atom, Constant, LogicalInductor, Negation
    from logicalinduction.inductor import combine_trading_algorithms, evaluate, find_credences

    phi, psi = Atom("phi"), Atom("psi")
    names = {"phi": phi, "psi": psi}

    def algorithm(sentence, sign):
        for n in itertools.count(1):
            yield {sentence: Constant(sign * n)}

    def idle():
        while True:
            yield {}

    lia = LogicalInductor()
    spent = 0.0
    for day in range(1, days + 1):
        obs = Negation(phi) if day == 1 else psi
        algo = algorithm(phi, 1) if day == 1 else algorithm(psi, -1) if day == 2 else idle()
        t0 = time.perf_counter()
        # LogicalInductor.update (inductor.py), inlined to keep the day's ensemble for the check below
        lia._observation_history.append(obs)
        for a, h in zip(lia._trading_algorithms, lia._trading_histories, strict=True):
            h.append(next(a))
        lia._trading_algorithms.append(algo)
        lia._trading_histories.append(list(itertools.islice(algo, len(lia._observation_history))))
        ensemble = combine_trading_algorithms(lia._trading_histories, lia._observation_history, lia._credence_history)
        tolerance = 2 ** -len(lia._observation_history)
        cred = find_credences(ensemble, lia._credence_history, tolerance)
        before = lia._credence_history
        lia._credence_history = lia._credence_history.with_next_update(cred)
        spent += time.perf_counter() - t0
        # do our prices pass the package's own test (value <= tolerance in every world)?
        mine = {names[k]: v for k, v in ours[day - 1].items() if names[k] in cred}
        hist = before.with_next_update(mine)
        support = list(ensemble)
        passes = all(evaluate(ensemble, hist, dict(zip(support, w, strict=True))) <= tolerance
                     for w in itertools.product([0, 1], repeat=len(support)))
        q.put(("day", spent, {str(s): float(v) for s, v in cred.items()}, passes))
    q.put(("done", spent, None, None))


def run_child(target, args, limit: float):
    """Run a baseline scenario in a child process; (messages, stopped)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q), daemon=True)
    p.start()
    deadline = time.monotonic() + limit
    msgs = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            msg = q.get(timeout=min(left, 0.5))
        except Exception:  # noqa: BLE001  (queue.Empty)
            if not p.is_alive() and q.empty():
                break
            continue
        msgs.append(msg)
        if msg[0] == "done":
            break
    stopped = not msgs or msgs[-1][0] != "done"
    if p.is_alive():
        p.kill()
    p.join(5)
    return msgs, stopped


# --- ours -------------------------------------------------------------------------------------------------
def ours_a(k: int):
    """Our prices and the seconds of the first day's step; the trader is built before, as the package's policy is."""
    xs = atoms([f"x{i}" for i in range(k)])
    ind = Inductor(list(xs), [Trader("buy below 0.3", {x: 0.3 - price(x) for x in xs})], exploitation=False)
    t0 = time.perf_counter()
    ind.step()
    return [ind.result.price(x) for x in xs], time.perf_counter() - t0


def ours_b(days: int):
    phi, psi = atoms("phi psi")
    t1 = Trader("buys phi", lambda n: {phi: const(n)})
    t2 = Trader("sells psi", lambda n: {psi: const(-n)}, start=2)

    def observe(day):
        return [~phi] if day == 1 else [psi]

    ind = Inductor([phi, psi], [t1, t2], deductive=observe, settle=False, exploitation=False)
    ind.run(days, progressbar=False)
    return [{"phi": d.prices["phi"], **({"psi": d.prices["psi"]} if d.day >= 2 else {})} for d in ind.result.days]


def part_c(days: int, seed: int, *, overlap: bool = False):
    """The mixed market of ``induction.scenarios.mixed_market``: 50 sentences, 20 traders."""
    from deepmarkets.logic.induction import InductionError
    from deepmarkets.logic.induction.scenarios import mixed_market

    ind, sents = mixed_market(seed, overlap=overlap)
    traders = ind.traders
    t0 = time.perf_counter()
    error = None
    try:
        ind.run(days, progressbar=False)
    except InductionError as err:
        error = str(err)
    secs = time.perf_counter() - t0
    res = ind.result
    worst = max((float(d.residual / d.tolerance) for d in res.days), default=float("nan"))
    ok = error is None and secs < PART_C_TARGET
    return {"sentences": len(sents), "traders": len(traders), "days": days, "days_done": len(res.days),
            "overlap": overlap, "seconds": secs, "worst_residual_over_tolerance": worst, "error": error,
            "bankruptcies": sum(len(d.bankrupt) for d in res.days), "result": "PASS" if ok else "FAIL"}


def part_d(smoke: bool) -> list[dict]:
    """The empirical properties of §2 of the issue, at benchmark size."""
    from deepmarkets.logic.induction.scenarios import paradox, pi_coherence, provability, sha_bit, sha_frequencies

    rows = []
    days = 30 if smoke else 200
    ind, bits = sha_frequencies(days, delay=5)
    res, secs = timed(ind.run, days, progressbar=False)
    p = res.price(bits[-1])
    freq = float(np.mean([sha_bit(n) for n in range(1, days - 4)]))
    rows.append({"property": "pseudorandom frequencies (SHA-256 bits, delay 5)", "size": f"{days} days",
                 "measure": f"P(newest) = {p:.4f} (observed frequency {freq:.4f})", "seconds": secs,
                 "target": "|P - 0.5| <= 0.05", "result": "PASS" if abs(p - 0.5) <= 0.05 else "FAIL"})
    positions = 5 if smoke else 20
    ind, groups = pi_coherence(positions, delay=3)
    res, secs = timed(ind.run, positions, progressbar=False)
    sums = [sum(res.price(x, n) for x in g) for n, g in enumerate(groups, start=1)]  # priced before revealed
    worst = max(abs(x - 1) for x in sums)
    rows.append({"property": "exclusive-exhaustive coherence (digits of pi)", "size": f"{positions} positions",
                 "measure": f"max |sum - 1| = {worst:.2e}", "seconds": secs, "target": "<= 0.05",
                 "result": "PASS" if worst <= 0.05 else "FAIL"})
    count = 5 if smoke else 50
    ind, thetas = provability(count)
    res, secs = timed(ind.run, 2 * count, progressbar=False)
    low = min(res.price(t, n) for n, t in enumerate(thetas, start=1))
    rows.append({"property": "provability induction (proofs on day 2n)", "size": f"{count} theorems",
                 "measure": f"min P_n(theorem n) = {low:.4f}", "seconds": secs, "target": ">= 0.9",
                 "result": "PASS" if low >= 0.9 else "FAIL"})
    days = 30 if smoke else 200
    ind, chis = paradox(days)
    res, secs = timed(ind.run, days, progressbar=False)
    tail = [abs(res.price(chis[n - 1], n) - 0.5) for n in range(days - 9, days + 1)]
    rows.append({"property": "paradox resistance (chi_n iff P_n(chi_n) < 0.5)", "size": f"{days} days",
                 "measure": f"max |P_n(chi_n) - 0.5| over the last 10 days = {max(tail):.4f}", "seconds": secs,
                 "target": "<= 0.05", "result": "PASS" if max(tail) <= 0.05 else "FAIL"})
    return rows


def part_e(count: int, days: int) -> dict:
    """Random inductors 0..count-1, ``days`` days each: stalls, residuals, seconds, fallback use."""
    from deepmarkets.logic.induction import InductionError
    from deepmarkets.logic.induction.scenarios import random_inductor

    stalls, worst, seconds, stages, slowest = [], 0.0, [], {"proximal": 0, "simplicial": 0, "integer": 0}, 0.0
    inductors_with_fallback = 0
    for seed in range(count):
        ind, _ = random_inductor(seed, days=days)
        t0 = time.perf_counter()
        try:
            ind.run(days, progressbar=False)
        except InductionError as err:
            stalls.append({"seed": seed, "day": len(ind.result.days) + 1, "error": str(err)})
        seconds.append(time.perf_counter() - t0)
        fallback = [d for d in ind.result.days if not d.solver.startswith("newton")]
        inductors_with_fallback += bool(fallback)
        for d in fallback:
            stages["proximal" if d.solver.startswith("proximal") else "simplicial"] += 1
            stages["integer"] += "integer labels" in d.solver
            slowest = max(slowest, d.seconds)
        worst = max([worst] + [float(d.residual / d.tolerance) for d in ind.result.days])
    return {"inductors": count, "days": days, "stalls": stalls, "worst_residual_over_tolerance": worst,
            "seconds": sum(seconds), "median_seconds": median(seconds), "fallback_days": stages,
            "inductors_with_fallback": inductors_with_fallback, "slowest_fallback_day_s": slowest,
            "result": "PASS" if not stalls and worst <= 1 else STALL}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run (a few seconds) with the same tables")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of our timings (default 3; smoke 1)")
    ap.add_argument("--row-time-limit", type=float, default=None,
                    help="wall-clock seconds per baseline row (default 60; smoke 3)")
    ap.add_argument("--days", type=int, default=None, help="part B days (default 25; smoke 6)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--seed", type=int, default=0, help="seed of part C (default 0)")
    ap.add_argument("--inductors", type=int, default=None, help="part E random inductors (default 200; smoke 2)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    repeats = 1 if args.smoke else args.repeats
    limit = args.row_time_limit if args.row_time_limit is not None else (3.0 if args.smoke else 60.0)
    days_b = args.days or (6 if args.smoke else 25)
    ks = (1, 2, 3) if args.smoke else (1, 2, 3, 4, 5)
    days_c = 20 if args.smoke else 200
    count_e, days_e = args.inductors or (2 if args.smoke else 200), 36 if args.smoke else 100

    info = machine_info()
    started = time.perf_counter()
    header("induction", args.smoke, info, f"z3 {info['z3']}, numpy {info['numpy']}")
    print(f"settings  repeats={repeats}, baseline row limit={limit:g} s, part B days={days_b}, part C days={days_c}")
    note = baseline_available()
    if note:
        print(f"NOTE      {note}")
    print()
    out: dict = {"machine": info, "args": vars(args), "baseline_note": note}
    bad = False

    # part A
    rows, recs = [], []
    for k in ks:
        log(f"part A k={k}", args.quiet)
        ours_times = []
        for _ in range(repeats):
            prices, secs = ours_a(k)
            ours_times.append(secs)
        ours_s = median(ours_times)
        base_s = base_prices = None
        stopped = False
        if not note:
            msgs, stopped = run_child(_base_a, (k,), limit)
            if not stopped:
                base_s, base_prices = msgs[-1][1], msgs[-1][2]
        diff = max(abs(a - b) for a, b in zip(prices, base_prices, strict=True)) if base_prices else None
        agree = diff is None or diff <= 0.01
        bad |= not agree
        ratio = base_s / ours_s if base_s else None
        target = ("PASS" if ratio >= SPEEDUP_TARGET else "FAIL") if ratio else "-"
        recs.append({"k": k, "ours_s": ours_s, "base_s": base_s, "stopped": stopped, "ratio": ratio,
                     "max_dprice": diff, "agree": agree, "target": target, "ours_prices": prices})
        rows.append([str(k), fmt_s(ours_s), ("> " + fmt_s(limit) + " (stopped)") if stopped else fmt_s(base_s),
                     f"{ratio:.0f}" if ratio else ("> " + f"{limit / ours_s:.0f}" if stopped else "-"),
                     "-" if diff is None else f"{diff:.4f}", "yes" if agree else DISAGREE, target])
    print("Part A: one MarketMaker call, k independent atoms, trader buys 0.3 - p (fixed point 0.3)")
    print(table(["k", "ours s", "package s", "package/ours", "max |dprice|", "agree", "target >=100x"], rows,
                right={0, 1, 2, 3, 4}))
    print()
    out["part_a"] = recs

    # part B
    log("part B", args.quiet)
    ours_times = []
    for _ in range(repeats):
        ours_prices, secs = timed(ours_b, days_b)
        ours_times.append(secs)
    ours_total = median(ours_times)
    rec = {"days": days_b, "ours_s": ours_total}
    if note:
        rows = [[str(days_b), fmt_s(ours_total), "-", "-", "-", "-", "-", "-", "-"]]
    else:
        msgs, stopped = run_child(_base_b, (days_b, ours_prices), limit)
        day_msgs = [m for m in msgs if m[0] == "day"]
        done = len(day_msgs)
        base_s = day_msgs[-1][1] if day_msgs else None
        # our time over the same number of days
        ours_same = None
        if done:
            ours_same = median([timed(ours_b, done)[1] for _ in range(repeats)])
        diffs = [abs(ours_prices[i][s] - v) for i, m in enumerate(day_msgs) for s, v in m[2].items()
                 if s in ours_prices[i]]
        diff = max(diffs) if diffs else None
        within = sum(1 for i, m in enumerate(day_msgs)
                     if all(abs(ours_prices[i].get(s, v) - v) <= 0.01 for s, v in m[2].items()))
        accepted = sum(1 for m in day_msgs if m[3])
        # the package accepts any price vector within its tolerance 2^-n of its own firm and returns the
        # first in its enumeration order; prices agree when equal within 0.01 or when ours pass its test
        agree = all(m[3] or all(abs(ours_prices[i].get(s, v) - v) <= 0.01 for s, v in m[2].items())
                    for i, m in enumerate(day_msgs))
        bad |= not agree
        ratio = base_s / ours_same if base_s and ours_same else None
        target = ("PASS" if ratio >= SPEEDUP_TARGET else "FAIL") if ratio else "-"
        rec.update({"days_within_0.01": within, "days_ours_pass_package_test": accepted,
                    "package_days_done": done, "package_s": base_s, "ours_same_days_s": ours_same, "stopped": stopped,
                    "ratio": ratio, "max_dprice": diff, "agree": agree, "target": target})
        rows = [[str(days_b), fmt_s(ours_total), f"{done}" + (" (stopped)" if stopped else ""), fmt_s(base_s),
                 f"{ratio:.0f}" if ratio else "-", "-" if diff is None else f"{diff:.4f}", f"{within}/{done}",
                 f"{accepted}/{done}", ("yes" if agree else DISAGREE) + f" / {target}"]]
    print("Part B: two-trader learning example (buys n of phi, sells n of psi; observes ~phi then psi)")
    print(table(["days", "ours s", "package days", "package s", "package/ours (same days)", "max |dprice|",
                 "days within 0.01", "ours pass package test", "agree / target"], rows, right={0, 1, 3, 4, 5, 6, 7}))
    print("  (the package returns the first price vector in its enumeration within tolerance 2^-n of its firm;"
          " a day agrees when prices are within 0.01 or ours pass that same test)")
    print()
    out["part_b"] = rec

    # part C
    log("part C", args.quiet)
    recs = [part_c(days_c, args.seed), part_c(days_c, args.seed, overlap=True)]
    out["part_c"] = recs
    print(f"Part C: ours alone, target < {PART_C_TARGET:g} s at full size")
    print(table(["sentences", "traders", "thresholds on", "days done", "seconds", "max residual/tol",
                 "bankruptcies", "result"],
                [[str(r["sentences"]), str(r["traders"]), "any sentence" if r["overlap"] else "atoms",
                  f"{r['days_done']}/{r['days']}", fmt_s(r["seconds"]), f"{r['worst_residual_over_tolerance']:.2e}",
                  str(r["bankruptcies"]), r["result"] if not args.smoke else f"{r['result']} (smoke size)"]
                 for r in recs], right={0, 1, 3, 4, 5, 6}))
    for r in recs:
        if r["error"]:
            print(f"  stopped: {r['error']}")
    print()
    log("part D", args.quiet)
    rows = part_d(args.smoke)
    out["part_d"] = rows
    print("Part D: empirical properties (fixed deductive processes, finite trader classes)")
    print(table(["property", "size", "measure", "seconds", "target", "result"],
                [[r["property"], r["size"], r["measure"], fmt_s(r["seconds"]), r["target"], r["result"]] for r in rows],
                right={3}))
    print()
    log("part E", args.quiet)
    rec = part_e(count_e, days_e)
    out["part_e"] = rec
    bad |= bool(rec["stalls"])
    stages = rec["fallback_days"]
    print(f"Part E: random inductors, {days_e} days each (the market maker never stalls)")
    print(table(["inductors", "days", "stalls", "max residual/tol", "seconds", "median s", "inductors with fallback",
                 "fallback days: proximal / simplicial / integer labels", "slowest fallback day s", "result"],
                [[str(count_e), str(days_e), str(len(rec["stalls"])), f"{rec['worst_residual_over_tolerance']:.2e}",
                  fmt_s(rec["seconds"]), fmt_s(rec["median_seconds"]), str(rec["inductors_with_fallback"]),
                  f"{stages['proximal']} / {stages['simplicial']} / {stages['integer']}",
                  fmt_s(rec["slowest_fallback_day_s"]), rec["result"]]], right={0, 1, 2, 3, 4, 5, 6, 8}))
    for stall in rec["stalls"]:
        print(f"  {STALL} seed {stall['seed']}: {stall['error']}")
    print()
    return finish(out, started, bad, f"{DISAGREE} or {STALL}", "all prices agree, no stall", args.json)


if __name__ == "__main__":
    sys.exit(main())
