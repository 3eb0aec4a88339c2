#!/usr/bin/env python
"""Benchmarks of market replay and arbitrage-free pricing (``deepmarkets.beliefs``).

Part A, replaying a book: ``T`` random trades (``Book.simulate_trades``, 100 traders) on a
10-outcome LMSR (b = 100). Ours is :func:`deepmarkets.beliefs.replay` on the Book (validation of
the book, the vectorised price path, settlement in a world and per-trader accounts), and the
bare :meth:`MarketMaker.price_path` on the matrix of trades. The baseline is a plain Python loop
written here: for each trade it computes ``C(q + delta) - C(q)`` with a numpy log-sum-exp and
updates ``q`` (it carries ``C(q)`` from one trade to the next, so it evaluates one log-sum-exp per
trade). The loop runs on all ``T`` trades when that is estimated to take under ``--loop-limit``
seconds, otherwise on a prefix, and its time is extrapolated linearly (the table says so). The
total cost of the trades must agree to 1e-6 relative (on the prefix the loop ran) and the final
prices to 1e-9.

Part B, per-trade latency of arbitrage-free pricing: an :class:`ArbitrageFreeMarket` over ``n``
atoms with ``min(n, 100)`` random 3-literal clauses as securities under a random 3-CNF theory of
clause ratio 2 (``deepmarkets.logic.testing.random_cnf_instance``); random trades (a uniform
security among those the theory neither entails nor rules out, whose prices are fixed at 1 or 0
and need no projection; a standard normal quantity). For ``n <= 16`` each trade's projection is recomputed by the exact
baseline, :func:`exact_projection` over the enumerated truth table of the possible worlds (built
once, its time shown apart), and the two projections must agree within the sum of their
certified error bounds.

Part C, acceptance (full run only): 50 atoms, 100 securities, 1,000 random trades; every quoted
price vector (the initial one and one after each trade) goes through ``check_coherence`` and
must be certified COHERENT; the exact quote certificate (worlds and rational weights) is
re-checked too.

Parts B and C run in a child process with a wall-clock limit (``--row-time-limit``,
``--accept-time-limit``): a single z3 call cannot be interrupted, and the benchmark must finish.
A row stopped by its limit reports what it measured so far and the reason.

Exit status 1 when results disagree (replay totals or prices, projections) or a quote is not
certified coherent (the output says DISAGREE or NOT CERTIFIED); PASS/FAIL against the speed
target does not change it.

    python benchmarks/markets.py              # full run
    python benchmarks/markets.py --smoke      # a few seconds
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import queue
import sys
import time
from collections import Counter

import numpy as np
from harness import finish, fmt_s, header, log, machine_info, median, table, timed  # noqa: E402  (benchmarks/ is on sys.path)
from scipy.special import expit

from deepmarkets.beliefs import LMSR, ArbitrageFreeMarket, Book, Market, exact_projection, replay
from deepmarkets.logic import atoms, exactly_one
from deepmarkets.logic import testing as lt

DISAGREE = "DISAGREE"
NOT_CERTIFIED = "NOT CERTIFIED"
#: Part A: speed target (loop seconds / ours seconds)
SPEEDUP_TARGET = 20.0
#: Part A: relative tolerance on total cost, absolute on final prices
COST_RTOL = 1e-6
PRICE_ATOL = 1e-9
#: Part A market
N_OUTCOMES = 10
LIQUIDITY = 100.0
#: Part B/C: largest number of atoms for the exact (2^n) baseline
EXACT_MAX_ATOMS = 16
#: Part C size
ACCEPT_ATOMS = 50
ACCEPT_SENTENCES = 100


# ---------------------------------------------------------------------------
# utilities
# ---------------------------------------------------------------------------
def _child(target, messages, args) -> None:
    """Run ``target(*args, progress)`` in a child process, reporting through ``messages``."""
    try:
        result = target(*args, lambda state: messages.put(("progress", state)))
    except Exception as err:  # reported to the parent, which prints it in the table
        messages.put(("error", f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"))
    else:
        messages.put(("done", result))


def run_limited(target, args: tuple, limit: float, on_progress=None, flag: str = "") -> tuple[dict | None, dict | None,
                                                                                          str | None]:
    """``target(*args, progress)`` with a wall-clock limit: (result, last progress, why it stopped).

    With ``limit <= 0`` it runs in this process without a limit. Otherwise in a child process
    (``spawn``), which is terminated when the limit runs out: a single z3 call cannot be
    interrupted from Python, and a benchmark must finish.
    """
    on_progress = on_progress or (lambda state: None)
    if limit <= 0:
        try:
            return target(*args, on_progress), None, None
        except Exception as err:
            return None, None, f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    child = ctx.Process(target=_child, args=(target, messages, args), daemon=True)
    child.start()
    deadline = time.monotonic() + limit
    last, result, stopped = None, None, None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stopped = f"TIMEOUT after {limit:g} s" + (f" ({flag})" if flag else "")
            break
        try:
            kind, payload = messages.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            if not child.is_alive() and messages.empty():
                stopped = f"the child process exited with status {child.exitcode} without a result"
                break
            continue
        if kind == "progress":
            last = payload
            on_progress(payload)
        elif kind == "done":
            result = payload
            break
        else:
            stopped = payload
            break
    if child.is_alive():
        child.terminate()
    child.join()
    return result, last, stopped


# ---------------------------------------------------------------------------
# part A: replay vs a per-trade Python loop
# ---------------------------------------------------------------------------
def ten_outcome_market() -> Market:
    xs = atoms([f"s{i}" for i in range(N_OUTCOMES)])
    market = Market("ten outcomes", theory=[exactly_one(*xs)], maker=LMSR(b=LIQUIDITY))
    for x in xs:
        market.contract(x)
    return market.freeze()


def lse_cost(q: np.ndarray, b: float) -> float:
    """C(q) = b log sum exp(q / b), with the maximum subtracted first."""
    z = q / b
    m = z.max()
    return b * (m + math.log(np.exp(z - m).sum()))


def python_loop(codes: np.ndarray, qty: np.ndarray, n: int, b: float) -> tuple[float, np.ndarray]:
    """The baseline: trade by trade, cost = C(q + delta) - C(q); returns the total cost and the final q."""
    q = np.zeros(n)
    c = lse_cost(q, b)
    total = 0.0
    for i, k in zip(codes.tolist(), qty.tolist(), strict=True):
        after = q.copy()
        after[i] += k
        c_after = lse_cost(after, b)
        total += c_after - c
        q, c = after, c_after
    return total, q


def part_a(args, n_trades: int, repeats: int) -> tuple[dict, bool]:
    market = ten_outcome_market()
    t0 = time.perf_counter()
    book = Book.simulate_trades(N_OUTCOMES, n_trades, traders=100, rng=args.seed)
    frame = book.frame
    codes = frame["security"].map({f"s{i}": i for i in range(N_OUTCOMES)}).to_numpy(dtype=np.int64)
    qty = frame["quantity"].to_numpy(dtype=np.float64)
    deltas = np.zeros((n_trades, N_OUTCOMES))
    deltas[np.arange(n_trades), codes] = qty
    gen_s = time.perf_counter() - t0
    log(f"  A: {n_trades} trades generated in {gen_s:.1f}s", args.quiet)
    # warm-up (first calls, page cache)
    small = Book.simulate_trades(N_OUTCOMES, 100, traders=3, rng=1)
    replay(small, market, world="s0")
    python_loop(codes[:100], qty[:100], N_OUTCOMES, LIQUIDITY)

    q0 = market.maker.initial_state()
    rec: dict = {"n_trades": n_trades, "n_outcomes": N_OUTCOMES, "b": LIQUIDITY, "gen_seconds": gen_s}
    ours_replay, ours_path = [], []
    result = path = None
    replay(book, market, world="s0")  # one full-size call first: the first touch of fresh memory is slow here
    for rep in range(repeats):
        result = path = None  # free the previous outputs, as a caller replaying book after book would
        result, t_r = timed(replay, book, market, world="s0")
        path, t_p = timed(market.maker.price_path, q0, deltas)
        ours_replay.append(t_r)
        ours_path.append(t_p)
        log(f"  A rep {rep}: replay {t_r:.3f}s, price_path {t_p:.3f}s", args.quiet)

    # the loop: all trades when the estimate fits the limit, else a prefix, extrapolated
    probe = min(n_trades, 20_000)
    _, t_probe = timed(python_loop, codes[:probe], qty[:probe], N_OUTCOMES, LIQUIDITY)
    estimate = t_probe * n_trades / probe
    if estimate <= args.loop_limit:
        k = n_trades
    else:
        k = max(probe, int(n_trades * args.loop_limit / estimate / 2))
    loop_times, loop_total, loop_q = [], None, None
    loop_repeats = repeats if estimate * repeats <= 3 * args.loop_limit else 1
    for rep in range(loop_repeats):
        (loop_total, loop_q), t_l = timed(python_loop, codes[:k], qty[:k], N_OUTCOMES, LIQUIDITY)
        loop_times.append(t_l * n_trades / k)
        log(f"  A rep {rep}: loop {t_l:.2f}s on {k} trades", args.quiet)
    loop_s = median(loop_times)

    # agreement on the same trades
    replay_costs = result.trades["cost"].to_numpy()
    ours_total = float(path.costs[:k].sum())
    replay_total = float(replay_costs[:k].sum())
    endpoint = lse_cost(path.q[k], LIQUIDITY) - lse_cost(q0, LIQUIDITY)
    scale = max(1.0, abs(loop_total))
    cost_diffs = {
        "price_path": abs(ours_total - loop_total) / scale,
        "replay": abs(replay_total - loop_total) / scale,
        "C(q_k) - C(q_0)": abs(endpoint - loop_total) / scale,
    }
    loop_prices = np.exp((loop_q - loop_q.max()) / LIQUIDITY)
    loop_prices /= loop_prices.sum()
    price_diff = max(float(np.max(np.abs(path.prices[k] - loop_prices))),
                     float(np.max(np.abs(result.prices.iloc[k].to_numpy() - loop_prices))))
    state_diff = float(np.max(np.abs(path.q[k] - loop_q)))
    money = abs(float(result.traders["pnl"].sum()) - result.maker_loss)
    agree = (max(cost_diffs.values()) <= COST_RTOL and price_diff <= PRICE_ATOL
             and state_diff <= 1e-9 * max(1.0, float(np.abs(loop_q).max()))
             and money <= 1e-9 * max(1.0, abs(result.maker_loss)))
    rows = []
    for name, secs in (("replay(book, market, world)", median(ours_replay)),
                       ("maker.price_path(q0, deltas)", median(ours_path))):
        ratio = loop_s / secs if secs else None
        rows.append({"method": name, "seconds": secs, "loop_seconds": loop_s, "ratio": ratio,
                     "result": "PASS" if ratio is not None and ratio >= SPEEDUP_TARGET else "FAIL"})
    rec.update({
        "rows": rows, "loop_trades": k, "loop_extrapolated": k < n_trades, "loop_repeats": loop_repeats,
        "replay_seconds": ours_replay, "price_path_seconds": ours_path, "loop_seconds": loop_times,
        "loop_total_cost": loop_total, "price_path_total_cost": ours_total, "replay_total_cost": replay_total,
        "endpoint_total_cost": endpoint, "relative_cost_differences": cost_diffs,
        "max_abs_price_difference": price_diff, "max_abs_state_difference": state_diff,
        "money_conservation_error": money, "maker_loss": result.maker_loss, "agree": agree,
    })
    return rec, not agree


def print_part_a(rec: dict, repeats: int) -> None:
    k, n = rec["loop_trades"], rec["n_trades"]
    how = f"all {n} trades" if k == n else f"the first {k} trades, extrapolated linearly to {n}"
    print(f"Part A: replaying {n} trades on a {rec['n_outcomes']}-outcome LMSR (b={rec['b']:g}), ours vs a per-trade "
          f"Python loop  (median of {repeats} repeat{'s' if repeats > 1 else ''}; the loop ran on {how}, "
          f"{rec['loop_repeats']} time{'s' if rec['loop_repeats'] > 1 else ''})")
    loop_label = "loop s" + (" (extrapolated)" if rec["loop_extrapolated"] else "")
    headers = ["ours", "trades", "ours s", loop_label, "loop/ours", "target", "result"]
    body = [[r["method"], str(n), fmt_s(r["seconds"]), fmt_s(r["loop_seconds"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.1f}x", f">= {SPEEDUP_TARGET:g}x", r["result"]]
            for r in rec["rows"]]
    print(table(headers, body, right={1, 2, 3, 4}))
    diffs = rec["relative_cost_differences"]
    worst = max(diffs.values())
    print(f"total cost of the first {k} trades: loop {rec['loop_total_cost']:.10g}, price_path "
          f"{rec['price_path_total_cost']:.10g}, replay {rec['replay_total_cost']:.10g}, C(q_k) - C(q_0) "
          f"{rec['endpoint_total_cost']:.10g}; max relative difference {worst:.1e} (tolerance {COST_RTOL:g})")
    print(f"final prices: max |difference| {rec['max_abs_price_difference']:.1e} (tolerance {PRICE_ATOL:g}); "
          f"traders' P&L minus maker loss {rec['money_conservation_error']:.1e}; "
          + ("agree" if rec["agree"] else DISAGREE))
    print()


# ---------------------------------------------------------------------------
# part B: per-trade latency of arbitrage-free pricing, and the exact baseline
# ---------------------------------------------------------------------------
def arbitrage_instance(seed: int, part: int, n_atoms: int, n_sentences: int):
    return lt.random_cnf_instance(n_atoms, n_sentences, 2.0, coherent=False,
                                  rng=np.random.default_rng([seed, part, n_atoms, n_sentences]))


def latency_row(seed: int, n: int, n_trades: int, progress) -> dict:
    """One row of part B: an arbitrage-free market over ``n`` atoms, ``n_trades`` timed trades, the exact baseline."""
    m = min(n, 100)
    inst = arbitrage_instance(seed, 2, n, m)
    market, setup_s = timed(ArbitrageFreeMarket, inst.sentences, inst.theory, b=1.0, rng=seed)
    fixed = set(market.initial.entailed) | set(market.initial.impossible)
    free = [i for i in range(m) if i not in fixed]
    exact = n <= EXACT_MAX_ATOMS and bool(free)
    table_s = tab = free_sentences = None
    if exact:
        free_sentences = [inst.sentences[i] for i in free]
        tab, table_s = timed(lt.possible_truth_table, free_sentences, inst.theory)
    progress({"setup_seconds": setup_s})
    gen = np.random.default_rng([seed, 3, n])
    ours, base, diffs, calls, statuses, skipped = [], [], [], [], Counter(), 0
    for _ in range(n_trades if free else 0):
        # trades on sentences the theory entails or rules out need no projection: they are left out
        i = int(free[gen.integers(len(free))])
        x = float(gen.normal(0.0, 1.0))
        lp = market.state / market.b
        _, secs = timed(market.trade, i, x)
        record = market.records[-1]
        ours.append(secs)
        calls.append(record.oracle_calls)
        statuses[record.status] += 1
        progress({"setup_seconds": setup_s, "trades_done": len(ours), "ours_median_s": median(ours)})
        if not exact:
            continue
        lp[i] += x / market.b
        prices = expit(lp[free])
        if not np.all((prices > 0) & (prices < 1)):
            skipped += 1  # a price rounds to 0 or 1 in floating point: the baseline cannot take it
            continue
        proj, t_e = timed(exact_projection, zip(free_sentences, prices, strict=True), b=market.b, table=tab)
        base.append(t_e)
        dmu = float(np.max(np.abs(market.prices().to_numpy()[free] - proj.mu)))
        bound = market.last.error_bound + proj.error_bound + 1e-9
        diffs.append((dmu, bound))
    worst = max(diffs, key=lambda d: d[0] - d[1]) if diffs else None
    mo, mb = median(ours), median(base)
    return {
        "n_atoms": n, "n_sentences": m, "fixed": len(fixed), "trades": n_trades, "trades_done": len(ours),
        "setup_seconds": setup_s, "ours_median_s": mo, "ours_max_s": max(ours, default=None),
        "oracle_calls_median": median(calls), "statuses": dict(statuses), "exact_table_seconds": table_s,
        "exact_worlds": None if tab is None else len(tab), "exact_median_s": mb,
        "ratio": (mb / mo) if (mb and mo) else None,
        "max_abs_mu_difference": worst[0] if worst else None, "error_bound": worst[1] if worst else None,
        "compared": len(diffs), "skipped": skipped,
        "agree": None if worst is None else worst[0] <= worst[1], "stopped": None,
    }


def part_b(args, sizes, n_trades: int) -> tuple[list[dict], bool]:
    rows, bad = [], False
    for n in sizes:
        row, last, stopped = run_limited(latency_row, (args.seed, n, n_trades), args.row_time_limit,
                                         flag="--row-time-limit")
        if row is None:
            last = last or {}
            row = {"n_atoms": n, "n_sentences": min(n, 100), "fixed": None, "trades": n_trades,
                   "trades_done": last.get("trades_done", 0), "setup_seconds": last.get("setup_seconds"),
                   "ours_median_s": last.get("ours_median_s"), "ours_max_s": None, "oracle_calls_median": None,
                   "statuses": {}, "exact_table_seconds": None, "exact_worlds": None, "exact_median_s": None,
                   "ratio": None, "max_abs_mu_difference": None, "error_bound": None, "compared": 0, "skipped": 0,
                   "agree": None, "stopped": stopped}
        bad |= row["agree"] is False
        rows.append(row)
        log(f"  B n={n}: " + (f"stopped: {stopped}" if stopped else
                              f"setup {row['setup_seconds']:.2f}s, ours median {fmt_s(row['ours_median_s'])}, "
                              f"exact median {fmt_s(row['exact_median_s'])}"), args.quiet)
    return rows, bad


def print_part_b(rows: list[dict]) -> None:
    print("Part B: per-trade latency of arbitrage-free pricing  (ArbitrageFreeMarket, b=1; securities: min(n, 100) "
          "random 3-literal clauses, trades on the ones not fixed by the theory; theory: random 3-CNF of clause "
          "ratio 2; exact = exact_projection over the "
          f"enumerated possible worlds, n <= {EXACT_MAX_ATOMS}, its table built once)")
    headers = ["atoms", "sents", "fixed", "trades", "setup s", "ours/trade", "ours max", "oracle", "exact/trade",
               "exact/ours", "worlds", "table s", "max |dmu|", "agree"]
    body = []
    for r in rows:
        agree = "-" if r["agree"] is None else ("yes" if r["agree"] else DISAGREE)
        if r["agree"] is not None:
            agree += f" {r['compared']}/{r['compared'] + r['skipped']}"
        body.append([
            str(r["n_atoms"]), str(r["n_sentences"]), "-" if r["fixed"] is None else str(r["fixed"]),
            f"{r['trades_done']}" + ("" if r["trades_done"] == r["trades"] else f"/{r['trades']}"),
            fmt_s(r["setup_seconds"]),
            fmt_s(r["ours_median_s"]), fmt_s(r["ours_max_s"]),
            "-" if r["oracle_calls_median"] is None else f"{r['oracle_calls_median']:g}",
            fmt_s(r["exact_median_s"]), "-" if r["ratio"] is None else f"{r['ratio']:.2f}x",
            "-" if r["exact_worlds"] is None else str(r["exact_worlds"]), fmt_s(r["exact_table_seconds"]),
            "-" if r["max_abs_mu_difference"] is None else f"{r['max_abs_mu_difference']:.1e}", agree,
        ])
    print(table(headers, body, right={0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}))
    for r in rows:
        if r["stopped"]:
            print(f"  {r['n_atoms']} atoms: stopped after {r['trades_done']} of {r['trades']} trades: {r['stopped']}")
    print()


# ---------------------------------------------------------------------------
# part C: acceptance, every quote certified
# ---------------------------------------------------------------------------
def acceptance_run(seed: int, n_atoms: int, n_sentences: int, n_trades: int, check_time_limit: float,
                   max_exact: int | None, progress) -> dict:
    """Part C: every quote of an arbitrage-free market certified by check_coherence; progress after each quote."""
    inst = arbitrage_instance(seed, 4, n_atoms, n_sentences)
    state = {"n_atoms": n_atoms, "n_sentences": n_sentences, "trades": n_trades, "trades_done": 0, "quotes": 0,
             "verdicts": {}, "certificates_ok": 0, "setup_seconds": None, "trade_seconds_total": 0.0,
             "trade_seconds_median": None, "check_seconds_total": 0.0, "check_seconds_median": None,
             "certificate_seconds_total": 0.0, "arbitrage_profit": 0.0, "reasons": [], "max_exact": max_exact,
             "statuses": {}, "gap_median": None, "gap_max": None, "exact_calls_total": 0}
    started = time.perf_counter()
    market, state["setup_seconds"] = timed(ArbitrageFreeMarket, inst.sentences, inst.theory, b=1.0, rng=seed,
                                           max_exact=max_exact)
    gen = np.random.default_rng([seed, 5])
    verdicts: Counter = Counter()
    statuses: Counter = Counter()
    trade_s, check_s, gaps = [], [], []

    def certify():
        ok, secs = timed(market.certificate().verify, inst.theory)
        state["certificate_seconds_total"] += secs
        state["certificates_ok"] += bool(ok)
        report, secs = timed(market.check, time_limit=check_time_limit)
        check_s.append(secs)
        verdicts[report.verdict.value] += 1
        if report.verdict.value != "coherent" and len(state["reasons"]) < 3:
            state["reasons"].append(f"{report.verdict.value}: {report.reason or 'Dutch book found'}")
        state.update(quotes=state["quotes"] + 1, verdicts=dict(verdicts), check_seconds_total=sum(check_s),
                     check_seconds_median=median(check_s), trade_seconds_total=sum(trade_s),
                     trade_seconds_median=median(trade_s), arbitrage_profit=market.arbitrage_profit,
                     wall_seconds=time.perf_counter() - started)
        progress(dict(state))

    certify()
    for t in range(n_trades):
        i = int(gen.integers(n_sentences))
        x = float(gen.normal(0.0, 1.0))
        _, secs = timed(market.trade, i, x)
        trade_s.append(secs)
        h = market.records[-1]
        statuses[h.status] += 1
        gaps.append(h.gap)
        state.update(trades_done=t + 1, statuses=dict(statuses), gap_median=median(gaps), gap_max=max(gaps),
                     exact_calls_total=state["exact_calls_total"] + h.oracle_calls)
        certify()
    return dict(state)


def part_c(args, n_atoms: int, n_sentences: int, n_trades: int) -> tuple[dict, bool]:
    def show(state):
        done = state.get("trades_done", 0)
        if done % max(1, n_trades // 20) == 0:
            log(f"  C {done}/{n_trades} trades: {state['verdicts'].get('coherent', 0)}/{state['quotes']} quotes "
                f"certified, {state.get('wall_seconds', 0):.0f}s", args.quiet)

    rec, last, stopped = run_limited(acceptance_run, (args.seed, n_atoms, n_sentences, n_trades,
                                                      args.check_time_limit, args.accept_max_exact or None),
                                     args.accept_time_limit, show,
                                         flag="--accept-time-limit")
    if rec is None:
        rec = last or {"n_atoms": n_atoms, "n_sentences": n_sentences, "trades": n_trades, "trades_done": 0,
                       "quotes": 0, "verdicts": {}, "certificates_ok": 0, "setup_seconds": None,
                       "trade_seconds_total": None, "trade_seconds_median": None, "check_seconds_total": None,
                       "check_seconds_median": None, "arbitrage_profit": None, "reasons": []}
    rec["stopped"] = stopped
    total = n_trades + 1
    certified = rec["verdicts"].get("coherent", 0)
    rec["certified"] = certified
    rec["total_quotes"] = total
    rec["result"] = "PASS" if certified == total and rec["certificates_ok"] == total else NOT_CERTIFIED
    return rec, rec["result"] != "PASS"


def print_part_c(rec: dict, time_limit: float) -> None:
    print(f"Part C: acceptance  ({rec['n_atoms']} atoms, {rec['n_sentences']} securities, {rec['trades']} random "
          f"trades; every quote checked by check_coherence with time_limit={time_limit:g} s, and its exact "
          "certificate re-checked)")
    headers = ["atoms", "sents", "trades", "quotes", "certified", "verdicts", "exact certs", "setup s",
               "trading s", "per trade", "checking s", "per check", "result"]
    body = [[str(rec["n_atoms"]), str(rec["n_sentences"]), f"{rec['trades_done']}/{rec['trades']}",
             f"{rec['quotes']}/{rec['total_quotes']}", f"{rec['certified']}/{rec['total_quotes']}",
             ", ".join(f"{k} x{v}" for k, v in rec["verdicts"].items()) or "-",
             f"{rec['certificates_ok']}/{rec['total_quotes']}", fmt_s(rec["setup_seconds"]),
             fmt_s(rec["trade_seconds_total"]), fmt_s(rec["trade_seconds_median"]),
             fmt_s(rec["check_seconds_total"]), fmt_s(rec["check_seconds_median"]), rec["result"]]]
    print(table(headers, body, right={0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11}))
    if rec["stopped"]:
        print(f"  stopped after {rec['trades_done']} of {rec['trades']} trades: {rec['stopped']}")
    for reason in rec["reasons"]:
        print(f"  {reason}")
    if rec.get("statuses"):
        limit = rec.get("max_exact") or "no limit"
        print(f"projections ({limit} exact calls per trade): "
              + ", ".join(f"{k} x{v}" for k, v in sorted(rec["statuses"].items()))
              + f"; certified gap median {rec['gap_median']:.3g}, max {rec['gap_max']:.3g}; "
              f"{rec['exact_calls_total']} exact oracle calls in all")
    if rec["arbitrage_profit"] is not None:
        print(f"sum of the certified worst-case profits of the maker's arbitrage trades: {rec['arbitrage_profit']:.6g}"
              " (each is at least the divergence minus the gap, so it can be negative when a projection stops "
              "on its exact-call budget)")
    print()


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run (a few seconds) with the same tables")
    ap.add_argument("--repeats", type=int, default=3, help="repeats per timing in part A (default 3)")
    ap.add_argument("--trades", type=int, default=None, help="part A book size (default 1,000,000; smoke 20,000)")
    ap.add_argument("--loop-limit", type=float, default=60.0,
                    help="seconds the Python loop may take on the whole book before a prefix is timed and "
                    "extrapolated instead (default 60)")
    ap.add_argument("--latency-trades", type=int, default=None, help="trades per size in part B (default 20; smoke 5)")
    ap.add_argument("--accept-trades", type=int, default=1000, help="trades in part C (default 1000)")
    ap.add_argument("--accept-atoms", type=int, default=ACCEPT_ATOMS,
                    help=f"atoms in part C (default {ACCEPT_ATOMS})")
    ap.add_argument("--accept-sentences", type=int, default=ACCEPT_SENTENCES,
                    help=f"securities in part C (default {ACCEPT_SENTENCES})")
    ap.add_argument("--accept-max-exact", type=int, default=1,
                    help="exact oracle calls allowed per trade in part C (default 1; 0 = no limit); the gap "
                    "reached is certified either way")
    ap.add_argument("--check-time-limit", type=float, default=120.0,
                    help="check_coherence time_limit per quote in part C, seconds (default 120)")
    ap.add_argument("--row-time-limit", type=float, default=None,
                    help="wall-clock seconds per part B row, run in a child process that is stopped at the limit "
                    "(default 600; smoke 0 = in this process, no limit)")
    ap.add_argument("--accept-time-limit", type=float, default=3600.0,
                    help="wall-clock seconds for part C (default 3600); the counts so far are reported")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    ap.add_argument("--skip-a", action="store_true", help="skip part A")
    ap.add_argument("--skip-b", action="store_true", help="skip part B")
    ap.add_argument("--skip-c", action="store_true", help="skip part C")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    for name in ("trades", "latency_trades"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.accept_trades, args.accept_atoms, args.accept_sentences) < 1:
        ap.error("--accept-trades, --accept-atoms and --accept-sentences must be at least 1")
    if args.accept_max_exact < 0:
        ap.error("--accept-max-exact must be at least 0")

    if args.row_time_limit is None:
        args.row_time_limit = 0.0 if args.smoke else 600.0
    if args.smoke:
        repeats = 1
        n_trades = args.trades or 20_000
        sizes = (6, 10)
        latency_trades = args.latency_trades or 5
    else:
        repeats = args.repeats
        n_trades = args.trades or 1_000_000
        sizes = (10, 16, 20, 50, 100)
        latency_trades = args.latency_trades or 20

    info = machine_info()
    started = time.perf_counter()
    header("markets", args.smoke, info, f"z3 {info['z3']}, numpy {info['numpy']}, pandas {info['pandas']}")
    print(f"settings  repeats={repeats}, seed={args.seed}, part A trades={n_trades}, part B trades per size="
          f"{latency_trades}" + ("" if args.smoke else f", part C: {args.accept_atoms} atoms, "
                                  f"{args.accept_sentences} securities, {args.accept_trades} trades"))
    print("inputs generated once and shared by the methods; generation not timed")
    print()
    sys.stdout.flush()

    out: dict = {"machine": info, "args": vars(args)}
    bad = False
    if not args.skip_a:
        rec, bad_a = part_a(args, n_trades, repeats)
        out["part_a"] = rec
        bad |= bad_a
        print_part_a(rec, repeats)
        sys.stdout.flush()
    if not args.skip_b:
        rows, bad_b = part_b(args, sizes, latency_trades)
        out["part_b"] = {"rows": rows}
        bad |= bad_b
        print_part_b(rows)
        sys.stdout.flush()
    if not args.smoke and not args.skip_c:
        rec, bad_c = part_c(args, args.accept_atoms, args.accept_sentences, args.accept_trades)
        out["part_c"] = rec
        bad |= bad_c
        print_part_c(rec, args.check_time_limit)
    stopped = [r for r in out.get("part_b", {}).get("rows", []) if r["stopped"]]
    note = f"; {len(stopped)} part B row(s) stopped early (see the table)" if stopped else ""
    return finish(out, started, bad, f"{DISAGREE} or {NOT_CERTIFIED}",
                  "all results agree and every checked quote is certified" + note, args.json)


if __name__ == "__main__":
    sys.exit(main())
