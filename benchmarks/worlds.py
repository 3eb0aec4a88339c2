#!/usr/bin/env python
"""Benchmarks of exact weighted MaxSAT (``deepmarkets.logic.worlds.minimum_world``): z3's engines compared.

Every exact world search of the project (coherence certificates, induction budgets, ``Theory.maximize``,
arbitrage-free pricing) is one call of ``minimum_world``. This script records the calls the project makes
on its own workloads, then solves each recorded instance with each of z3's engines, z3's default
``maxres`` and ``wmax``, in this process, alternating which goes first:

* coherence: ``check_coherence(profit="optimal")`` on the random 3-CNF instances of
  ``benchmarks/coherence.py`` (n random 3-literal clauses over n atoms under a 3-CNF theory of clause
  ratio 2, coherent and incoherent prices), and ``profit="optimal"`` on 60 atoms / 30 sentences;
* arbitrage-free pricing: trades in an ``ArbitrageFreeMarket`` on such an instance;
* induction: the mixed market of ``induction.scenarios.mixed_market`` with overlapping sentences, and
  random inductors (``induction.scenarios.random_inductor``);
* ``Theory.maximize`` with random weights on such instances.

Recording is never timed. The table gives, per workload: the number of calls, the seconds of each
engine summed over them, their ratio, and whether the optimum values agree (both engines are exact, so
they must). Exit status 1 on a disagreement (DISAGREE).

    python benchmarks/worlds.py              # full run (a few minutes)
    python benchmarks/worlds.py --smoke      # a few seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np
from harness import finish, fmt_s, header, log, machine_info, table, timed  # noqa: E402  (benchmarks/ is on sys.path)

import deepmarkets.beliefs.arbitrage as arbitrage
import deepmarkets.logic.theory as theory_module
import deepmarkets.logic.worlds as worlds
from deepmarkets.errors import DeepMarketsError, SolverUnknownError
from deepmarkets.logic import check_coherence
from deepmarkets.logic import testing as lt

ENGINES = ("maxres", "wmax")
DISAGREE = "DISAGREE"


def record(workload, calls: list) -> None:
    """Run ``workload()`` and append every ``minimum_world`` call it makes to ``calls``."""
    original = worlds.minimum_world

    def recorder(hard, sentences, weights, **options):
        calls.append((list(hard), list(sentences), dict(weights), options["rlimit"]))
        return original(hard, sentences, weights, **options)

    homes = (worlds, theory_module, arbitrage)
    for home in homes:
        home.minimum_world = recorder
    try:
        workload()
    except DeepMarketsError:
        pass  # an unknown or refused run still leaves the calls it made
    finally:
        for home in homes:
            home.minimum_world = original


def coherence(sizes, seeds):
    def run():
        for n in sizes:
            for seed in seeds:
                for coherent in (True, False):
                    inst = lt.random_cnf_instance(n, n, 2.0, coherent=coherent, rng=1000 * n + 2 * seed + coherent)
                    check_coherence(inst.price_map, inst.theory, profit="optimal", progressbar=False)
    return run


def coherence_large(seeds):
    def run():
        for seed in seeds:
            inst = lt.random_cnf_instance(60, 30, 2.0, coherent=False, rng=seed)
            check_coherence(inst.price_map, inst.theory, profit="optimal", time_limit=60, progressbar=False)
    return run


def arbitrage_free(n, trades, seed):
    def run():
        inst = lt.random_cnf_instance(n, n, 2.0, coherent=False, rng=seed)
        market = arbitrage.ArbitrageFreeMarket(inst.sentences, inst.theory, rng=seed)
        rng = np.random.default_rng(seed)
        for _ in range(trades):
            market.trade(int(rng.integers(n)), float(rng.uniform(-2, 2)))
    return run


def induction(days, seeds, mixed=True):
    def run():
        from deepmarkets.logic.induction.scenarios import mixed_market, random_inductor

        if mixed:
            mixed_market(0, overlap=True)[0].run(days, progressbar=False)
        for seed in seeds:
            random_inductor(seed, days=days)[0].run(days, progressbar=False)
    return run


def maximize(n, count, seed):
    def run():
        rng = np.random.default_rng(seed)
        inst = lt.random_cnf_instance(n, n, 2.0, coherent=False, rng=seed)
        for _ in range(count):
            inst.theory.maximize(inst.sentences, [int(w) for w in rng.integers(-20, 21, n)])
    return run


def solve(call, engine):
    hard, sentences, weights, rlimit = call
    try:
        found, seconds = timed(worlds.minimum_world, hard, sentences, weights, rlimit=rlimit, unknown="a minimum",
                               engine=engine)
    except SolverUnknownError:
        return None, None
    return found[0] if found else "no world", seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a few seconds)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine_info()
    header("worlds", args.smoke, info, f"z3 {info['z3']}, numpy {info['numpy']}")
    if args.smoke:
        workloads = {
            "coherence, 8-10 atoms": coherence((8, 10), range(2)),
            "arbitrage-free trades, 8 atoms": arbitrage_free(8, 4, 0),
            "induction, 5 days": induction(5, range(3), mixed=False),
            "Theory.maximize, 10 atoms": maximize(10, 5, 0),
        }
    else:
        workloads = {
            "coherence, 10-20 atoms": coherence((10, 14, 18, 20), range(5)),
            "coherence, 60 atoms": coherence_large(range(3)),
            "arbitrage-free trades, 12 atoms": arbitrage_free(12, 30, 0),
            "induction, 30 days": induction(30, range(6)),
            "Theory.maximize, 20 atoms": maximize(20, 30, 0),
        }
    rows, runs, bad = [], [], False
    for name, workload in workloads.items():
        calls: list = []
        log(f"recording {name}", args.quiet)
        record(workload, calls)
        seconds, unknown, agree = defaultdict(float), defaultdict(int), True
        for i, call in enumerate(calls):
            order = ENGINES if i % 2 == 0 else ENGINES[::-1]
            values = {}
            for engine in order:
                values[engine], s = solve(call, engine)
                if s is None:
                    unknown[engine] += 1
                else:
                    seconds[engine] += s
            known = {v for v in values.values() if v is not None}
            agree = agree and len(known) <= 1
        bad = bad or not agree
        a, b = (seconds[e] for e in ENGINES)
        rows.append([name, str(len(calls)), fmt_s(a), fmt_s(b), f"{a / b:.2f}" if b else "-",
                     " ".join(f"{e}:{unknown[e]}" for e in ENGINES if unknown[e]) or "0",
                     "yes" if agree else DISAGREE])
        runs.append({"workload": name, "calls": len(calls), **{f"{e}_s": seconds[e] for e in ENGINES},
                     "unknown": dict(unknown), "agree": agree})
    a, b = (sum(r[f"{e}_s"] for r in runs) for e in ENGINES)
    rows.append(["all", str(sum(r["calls"] for r in runs)), fmt_s(a), fmt_s(b), f"{a / b:.2f}" if b else "-", "",
                 ""])
    print()
    print(f"Exact weighted MaxSAT: z3's engines on the calls each workload makes (engine in use: "
          f"{worlds.MAXSAT_ENGINE})")
    print(table(["workload", "calls", "maxres s", "wmax s", "maxres/wmax", "unknown", "optima agree"], rows,
                right={1, 2, 3, 4}))
    return finish({"machine": info, "runs": runs}, started, bad, DISAGREE, "all optima agree", args.json)


if __name__ == "__main__":
    sys.exit(main())
