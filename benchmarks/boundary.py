#!/usr/bin/env python
"""Benchmark: exact coherence verdicts for prices at the boundary of the coherent set.

Real price files carry floating-point noise. Each instance here is a random face instance
(``deepmarkets.logic.testing.random_face_instance``): random 3-literal clauses under a random
3-CNF theory of clause ratio 2, priced by a float mixture of 2-4 possible worlds printed to 17
significant digits, so the prices sit within a few ulps of a face of the coherent set, on either
side of it, and a sentence true in every world of the mixture may be priced 1.0000000000000002.

Band A has 24 instances at 8-40 atoms (as many sentences as atoms), band B 12 instances at
41-200 atoms (at most 60 sentences). Every instance goes through ``check_coherence`` with its
defaults (``profit="optimal"``, ``tolerance=1e-9``). The table counts verdicts, UNKNOWN answers
and refusals (a ``DeclarationError``, such as a price outside [0, 1]); every certificate is
re-checked independently (z3, ``verify_certificate`` of benchmarks/coherence.py), and instances
of at most 16 atoms are compared with the exact brute-force answer (every assignment, z3's
rational simplex on the exact decimals). Generation is not timed.

Exit status 1 when an answer is UNKNOWN or refused, disagrees with brute force (DISAGREE) or has
a certificate that fails its re-check (CERT-INVALID).

    python benchmarks/boundary.py              # full run (a few minutes)
    python benchmarks/boundary.py --smoke      # a few seconds
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from coherence import CERT_INVALID, DISAGREE, verify_certificate  # noqa: E402  (benchmarks/ is on sys.path)
from harness import finish, fmt_s, header, log, machine_info, median, table, timed  # noqa: E402

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Verdict, check_coherence
from deepmarkets.logic import testing as lt

#: Largest instance compared with brute force (2^n assignments).
BRUTE_ATOMS = 16
BANDS = {"A": (8, 40, 24, None), "B": (41, 200, 12, 60)}  # atoms from, to, instances, most sentences


def run_band(name: str, args, count: int) -> list[dict]:
    low, high, _, most = BANDS[name]
    rng = np.random.default_rng([args.seed, ord(name)])
    runs = []
    for k in range(count):
        n = int(rng.integers(low, high + 1))
        inst = lt.random_face_instance(n, n if most is None else min(n, most), 2.0, worlds=int(rng.integers(2, 5)),
                                       rng=rng)
        rec = {"band": name, "instance": k, "n_atoms": n, "n_sentences": len(inst.sentences)}
        try:
            report, seconds = timed(check_coherence, inst.price_map, inst.theory, time_limit=args.time_limit)
        except DeclarationError as err:
            rec.update(verdict="refused", seconds=None, reason=str(err), certificate="-", brute="-")
        else:
            rec.update(verdict=report.verdict.value, seconds=seconds, reason=report.reason,
                       within_tolerance=report.within_tolerance, max_profit=report.max_profit,
                       certificate=verify_certificate(report, inst.theory), brute="-")
            if n <= BRUTE_ATOMS and report.verdict is not Verdict.UNKNOWN:
                exact = lt.brute_force_max_profit(inst.price_map, inst.theory)
                agree = report.coherent is (exact == 0) and (
                    exact == 0 or report.dutch_book.guaranteed_profit == exact)
                rec["brute"] = "agree" if agree else DISAGREE
        runs.append(rec)
        log(f"  {name} #{k} n={n}: {rec['verdict']} {fmt_s(rec['seconds'])} s, certificate {rec['certificate']}, "
            f"brute force {rec['brute']}", args.quiet)
    return runs


def summarise(name: str, runs: list[dict]) -> dict:
    count = {v: sum(r["verdict"] == v for r in runs) for v in ("coherent", "incoherent", "unknown", "refused")}
    seconds = [r["seconds"] for r in runs if r["seconds"] is not None]
    compared = [r for r in runs if r["brute"] != "-"]
    low, high = BANDS[name][:2]
    return {
        "band": f"{name}: {low}-{high} atoms", "instances": len(runs), **count,
        "within_tolerance": sum(r.get("within_tolerance") is True and r["verdict"] == "incoherent" for r in runs),
        "brute": f"{sum(r['brute'] == 'agree' for r in compared)}/{len(compared)}",
        "certificates": f"{sum(r['certificate'].startswith('ok') for r in runs)}/{len(runs)}",
        "median_s": median(seconds), "max_s": max(seconds) if seconds else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few instances per band (seconds)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="check_coherence time_limit in seconds")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    ap.add_argument("--json", metavar="OUT", help="write every run and row to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)

    info = machine_info()
    started = time.perf_counter()
    header("boundary", args.smoke, info, f"z3 {info['z3']}, numpy {info['numpy']}, scipy {info['scipy']}")
    print(f"settings  time_limit={args.time_limit:g} s, seed={args.seed}; prices: float mixtures of 2-4 possible "
          "worlds printed to 17 digits")
    print()
    sys.stdout.flush()
    warm = lt.random_face_instance(6, 6, rng=12345)  # imports, z3 and HiGHS first calls
    check_coherence(warm.price_map, warm.theory)

    runs, rows = [], []
    for name in BANDS:
        band = run_band(name, args, 3 if args.smoke else BANDS[name][2])
        runs += band
        rows.append(summarise(name, band))
    headers = ["band", "instances", "coherent", "incoherent", "(within tol.)", "UNKNOWN", "refused",
               "brute force agrees", "certificates ok", "median s", "max s"]
    body = [[r["band"], str(r["instances"]), str(r["coherent"]), str(r["incoherent"]), str(r["within_tolerance"]),
             str(r["unknown"]), str(r["refused"]), r["brute"], r["certificates"], fmt_s(r["median_s"]),
             fmt_s(r["max_s"])] for r in rows]
    print(table(headers, body, right=set(range(1, len(headers)))))
    bad = any(r["verdict"] in ("unknown", "refused") or r["brute"] == DISAGREE
              or r["certificate"].startswith(CERT_INVALID) for r in runs)
    return finish({"machine": info, "args": vars(args), "runs": runs, "rows": rows}, started, bad,
                  f"UNKNOWN, refused, {DISAGREE} or {CERT_INVALID}", "every answer exact and certified", args.json)


if __name__ == "__main__":
    sys.exit(main())
