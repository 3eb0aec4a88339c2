#!/usr/bin/env python
"""Benchmarks of the gauge analysis and of natural-latent errors (``deepmarkets.models``).

Part A, the gauge analysis of latent class models with K classes and J binary items
(``latent_class_model(K, 2, items=J)``: ``(K - 1) + K J`` parameters, ``2^J - 1`` observables).
Ours is the whole analysis from scratch (a fresh model each repeat, so building and compiling
are timed): :func:`discrete_gauge` (numeric filter at random points, then sympy proofs of a
generating set, the other elements as products of proven generators) plus
:func:`continuous_gauge` (symbolic Jacobian compiled once; float SVD and exact rational rank at 3
random points). The baseline is the textbook way written here: for the discrete gauge, every
one of the K! relabellings is substituted into every observable (``expr.subs(mapping,
simultaneous=True)``) and the difference is simplified (``sympy.simplify``), with no numeric
filter; for the continuous gauge, a central finite-difference Jacobian (step 1e-6) of the
observables evaluated by sympy without compilation (``expr.evalf(subs=point)``) at the same 3
points, rank by SVD at relative tolerance 1e-6. When the baseline would take longer than
``--baseline-limit`` seconds (per model, half for each part) it stops, and its time is
extrapolated linearly from the work it did (substitutions or evaluations done out of all of them;
the table says so). The group order
and the gauge dimension must agree (on the part the baseline completed), else DISAGREE. Target:
ours under 10 s per model.

Part B, natural-latent errors (:func:`deepmarkets.models.natural.natural_latent_errors`) of a
latent over n binary observables, a joint of ``2^(n+1)`` cells (a latent class joint mixed with
10% of a random distribution, so that no error is 0). The baseline is a loop over the cells that
accumulates every marginal it needs in Python dictionaries, then sums ``-p log2 p`` over each.
It runs on all cells when that is estimated to take under ``--baseline-limit`` seconds, else on
a prefix, extrapolated (then the values are not compared). Mediation, the two-block mediation,
every stochastic and deterministic redundancy, the two block redundancies and ``I(X; Λ)`` must
agree to 1e-9 bits, else DISAGREE. Target: ours under 1 s.

Exit status 1 when results disagree (DISAGREE); PASS/FAIL against the speed targets does not
change it.

    python benchmarks/gauge.py              # full run (a few minutes on 2 cores)
    python benchmarks/gauge.py --smoke      # about 20 seconds
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
import warnings

import numpy as np
import sympy
from harness import finish, fmt_s, header, log, machine_info, median, table, timed  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.models.gauge import continuous_gauge, discrete_gauge
from deepmarkets.models.natural import latent_class_joint, natural_latent_errors
from deepmarkets.models.symbolic import latent_class_model

DISAGREE = "DISAGREE"
#: Part A: seconds per model (ours)
GAUGE_TARGET_S = 10.0
#: Part B: seconds per joint (ours)
NATURAL_TARGET_S = 1.0
#: Part B: agreement in bits
NATURAL_TOL = 1e-9
#: Part A baseline: finite-difference step and rank tolerance
FD_STEP = 1e-6
FD_TOL = 1e-6


# ---------------------------------------------------------------------------
# part A: the gauge analysis
# ---------------------------------------------------------------------------
def ours_gauge(K: int, J: int, seed: int) -> dict:
    model = latent_class_model(K, 2, items=J)
    t0 = time.perf_counter()
    group = discrete_gauge(model, rng=seed)
    t1 = time.perf_counter()
    cont = continuous_gauge(model, points=3, rng=seed)
    t2 = time.perf_counter()
    return {"order": group.order, "proven": group.proven, "dimension": cont.dimension, "rank": cont.rank,
            "exact": cont.exact, "discrete_s": t1 - t0, "continuous_s": t2 - t1, "points": cont.point}


class _Budget:
    def __init__(self, limit: float):
        self.limit = limit
        self.start = time.perf_counter()

    def spent(self) -> bool:
        return self.limit > 0 and time.perf_counter() - self.start > self.limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def baseline_discrete(K: int, J: int, limit: float) -> dict:
    """Every relabelling substituted into every observable and simplified; extrapolated when over the limit."""
    model = latent_class_model(K, 2, items=J)
    blocks = model.class_blocks
    candidates = list(itertools.permutations(range(K)))
    total = len(candidates) * model.n_observables
    budget = _Budget(limit)
    done, symmetric, checked_all = 0, [], True
    for perm in candidates:
        # class k's symbols take the entries of class perm[k]'s block
        mapping = {e: blocks[perm[k]][i] for k, b in enumerate(blocks) for i, e in enumerate(b)
                   if isinstance(e, sympy.Symbol)}
        ok = True
        for o in model.observables:
            if budget.spent():
                checked_all = False
                break
            diff = sympy.simplify(o.subs(mapping, simultaneous=True) - o)
            done += 1
            if diff != 0:
                ok = False
                break
        if not checked_all:
            break
        if ok:
            symmetric.append(perm)
    secs = budget.elapsed()
    return {"seconds": secs if checked_all else secs * total / max(done, 1), "done": done, "total": total,
            "complete": checked_all, "order": len(symmetric) if checked_all else None,
            "partial_symmetric": len(symmetric)}


def baseline_continuous(K: int, J: int, points: list, limit: float) -> dict:
    """Central finite differences of the observables evaluated by sympy (no compilation), rank by SVD."""
    model = latent_class_model(K, 2, items=J)
    n, q = model.n_parameters, model.n_observables
    total = len(points) * 2 * n * q
    budget = _Budget(limit)
    done, ranks = 0, []
    for pt in points:
        x = [float(v) for v in pt]
        jac = np.zeros((q, n))
        for i in range(n):
            cols = []
            for step in (FD_STEP, -FD_STEP):
                y = list(x)
                y[i] += step
                subs = dict(zip(model.parameters, y, strict=True))
                vals = []
                for o in model.observables:
                    if budget.spent():
                        secs = budget.elapsed()
                        return {"seconds": secs * total / max(done, 1), "done": done, "total": total,
                                "complete": False, "dimension": (n - max(ranks)) if ranks else None}
                    vals.append(float(o.evalf(subs=subs)))
                    done += 1
                cols.append(np.array(vals))
            jac[:, i] = (cols[0] - cols[1]) / (2 * FD_STEP)
        s = np.linalg.svd(jac, compute_uv=False)
        ranks.append(int(np.sum(s > FD_TOL * s[0])))
    return {"seconds": budget.elapsed(), "done": done, "total": total, "complete": True,
            "dimension": n - max(ranks)}


def part_a(args, sizes, repeats: int) -> tuple[list[dict], bool]:
    rows, bad = [], False
    ours_gauge(2, 2, args.seed)  # warm-up: imports, first compile of the printer
    for K, J in sizes:
        runs = []
        for rep in range(repeats):
            res, secs = timed(ours_gauge, K, J, args.seed + rep)
            res["seconds"] = secs
            runs.append(res)
            log(f"  A K={K} J={J} rep {rep}: {secs:.2f}s (discrete {res['discrete_s']:.2f}s, continuous "
                f"{res['continuous_s']:.2f}s)", args.quiet)
        first = runs[0]
        for r in runs:
            r["points"] = [str(v) for v in r["points"]] if r is not first else r["points"]
        limit = args.baseline_limit
        bd = baseline_discrete(K, J, limit / 2 if limit > 0 else 0)
        bc = baseline_continuous(K, J, [first["points"]] + [
            latent_class_model(K, 2, items=J).random_point(args.seed + 100 + i) for i in range(2)],
            limit / 2 if limit > 0 else 0)
        log(f"  A K={K} J={J} baseline: discrete {bd['seconds']:.1f}s{'' if bd['complete'] else ' (extrapolated)'}, "
            f"continuous {bc['seconds']:.1f}s{'' if bc['complete'] else ' (extrapolated)'}", args.quiet)
        order_ok = (first["order"] == bd["order"]) if bd["complete"] else (bd["partial_symmetric"] <= first["order"])
        dim_ok = bc["dimension"] is None or bc["dimension"] == first["dimension"]
        agree = bool(order_ok and dim_ok and all(r["order"] == first["order"] and r["dimension"] == first["dimension"]
                                                 for r in runs) and first["proven"])
        bad |= not agree
        ours_s = median([r["seconds"] for r in runs])
        base_s = bd["seconds"] + bc["seconds"]
        rows.append({
            "K": K, "J": J, "parameters": (K - 1) + K * J, "observables": 2**J - 1,
            "order": first["order"], "dimension": first["dimension"], "exact_rank": first["exact"],
            "seconds": ours_s, "discrete_seconds": median([r["discrete_s"] for r in runs]),
            "continuous_seconds": median([r["continuous_s"] for r in runs]), "runs": [r["seconds"] for r in runs],
            "baseline_seconds": base_s, "baseline_discrete": bd, "baseline_continuous": bc,
            "baseline_extrapolated": not (bd["complete"] and bc["complete"]),
            "ratio": base_s / ours_s if ours_s else None, "agree": agree,
            "point": [str(v) for v in first.pop("points")],
            "result": "PASS" if ours_s < GAUGE_TARGET_S else "FAIL",
        })
    return rows, bad


def print_part_a(rows: list[dict], repeats: int, limit: float) -> None:
    print("Part A: gauge analysis of latent class models, K classes x J binary items (ours: discrete_gauge + "
          f"continuous_gauge from scratch, median of {repeats}; baseline: simplify every substituted observable for "
          f"all K! relabellings + finite-difference Jacobian by sympy evalf, no compilation; baseline limit "
          f"{limit:g} s, * = extrapolated)")
    headers = ["K", "J", "params", "obs", "order", "gauge dim", "ours s", "discrete s", "continuous s", "baseline s",
               "base/ours", "target", "result", "agree"]
    body = []
    for r in rows:
        body.append([str(r["K"]), str(r["J"]), str(r["parameters"]), str(r["observables"]), str(r["order"]),
                     str(r["dimension"]) + (" (exact)" if r["exact_rank"] else ""), fmt_s(r["seconds"]),
                     fmt_s(r["discrete_seconds"]), fmt_s(r["continuous_seconds"]),
                     fmt_s(r["baseline_seconds"]) + ("*" if r["baseline_extrapolated"] else ""),
                     "-" if r["ratio"] is None else f"{r['ratio']:.1f}x", f"< {GAUGE_TARGET_S:g} s", r["result"],
                     "yes" if r["agree"] else DISAGREE])
    print(table(headers, body, right={0, 1, 2, 3, 4, 6, 7, 8, 9, 10}))
    for r in rows:
        if r["baseline_extrapolated"]:
            bd, bc = r["baseline_discrete"], r["baseline_continuous"]
            print(f"  K={r['K']} J={r['J']}: baseline ran {bd['done']}/{bd['total']} substitutions and "
                  f"{bc['done']}/{bc['total']} evaluations; its time is extrapolated linearly")
    print()


# ---------------------------------------------------------------------------
# part B: natural-latent errors
# ---------------------------------------------------------------------------
def random_joint(n: int, seed: int) -> np.ndarray:
    """A latent class joint over n binary observables and a binary latent, mixed with 10% noise."""
    gen = np.random.default_rng([seed, n])
    shares = gen.dirichlet([4.0, 4.0])
    response = [np.array([[0.85, 0.15], [0.2, 0.8]]) * 0.8 + 0.2 * gen.dirichlet([1.0, 1.0], size=2)
                for _ in range(n)]
    p = latent_class_joint(shares, response)
    noise = gen.dirichlet(np.ones(p.size)).reshape(p.shape)
    p = 0.9 * p + 0.1 * noise
    return p / p.sum()


def _h(counts: dict) -> float:
    return -sum(v * math.log2(v) for v in counts.values() if v > 0)


def baseline_natural(p: np.ndarray, limit: float) -> dict:
    """Every marginal accumulated cell by cell in dictionaries (latent last), then the entropies."""
    n = p.ndim - 1
    half = n // 2
    a_idx, b_idx = tuple(range(half)), tuple(range(half, n))
    flat = p.ravel().tolist()
    cells = itertools.product(*(range(s) for s in p.shape))
    total = len(flat)
    budget = _Budget(limit)
    h_all = 0.0
    px, pl, pal, pbl, pa, pb = {}, {}, {}, {}, {}, {}
    pil = [{} for _ in range(n)]
    prl = [{} for _ in range(n)]
    pr = [{} for _ in range(n)]
    done = 0
    for idx, v in zip(cells, flat, strict=True):
        if done % 1024 == 0 and budget.spent():
            break
        done += 1
        if v <= 0:
            continue
        x, lam = idx[:-1], idx[-1]
        h_all -= v * math.log2(v)
        px[x] = px.get(x, 0.0) + v
        pl[lam] = pl.get(lam, 0.0) + v
        xa = tuple(x[i] for i in a_idx)
        xb = tuple(x[i] for i in b_idx)
        pa[xa] = pa.get(xa, 0.0) + v
        pb[xb] = pb.get(xb, 0.0) + v
        pal[(xa, lam)] = pal.get((xa, lam), 0.0) + v
        pbl[(xb, lam)] = pbl.get((xb, lam), 0.0) + v
        for i in range(n):
            key = (x[i], lam)
            pil[i][key] = pil[i].get(key, 0.0) + v
            rest = x[:i] + x[i + 1:]
            pr[i][rest] = pr[i].get(rest, 0.0) + v
            rl = (rest, lam)
            prl[i][rl] = prl[i].get(rl, 0.0) + v
    complete = done == total
    h_x, h_l = _h(px), _h(pl)
    det = [_h(prl[i]) - _h(pr[i]) for i in range(n)]
    out = {
        "mutual_information": h_x + h_l - h_all,
        "mediation": sum(_h(pil[i]) - h_l for i in range(n)) - (h_all - h_l),
        "mediation_two_block": _h(pal) + _h(pbl) - h_all - h_l,
        "deterministic": det,
        "stochastic": [d - (h_all - h_x) for d in det],
        "redundancy_a": _h(pal) - _h(pa),
        "redundancy_b": _h(pbl) - _h(pb),
    }
    secs = budget.elapsed()
    return {"seconds": secs if complete else secs * total / max(done, 1), "done": done, "total": total,
            "complete": complete, "values": out}


def part_b(args, sizes, repeats: int) -> tuple[list[dict], bool]:
    rows, bad = [], False
    natural_latent_errors(random_joint(3, args.seed), latent=-1)  # warm-up
    for n in sizes:
        p = random_joint(n, args.seed)
        times, report = [], None
        for _ in range(repeats):
            report, secs = timed(natural_latent_errors, p, latent=-1)
            times.append(secs)
        base = baseline_natural(p, args.baseline_limit)
        diff = None
        if base["complete"]:
            v = base["values"]
            names = list(report.observables)
            pairs = [(report.mutual_information, v["mutual_information"]), (report.mediation, v["mediation"]),
                     (report.mediation_two_block, v["mediation_two_block"]),
                     (report.redundancy_a, v["redundancy_a"]), (report.redundancy_b, v["redundancy_b"])]
            pairs += [(report.deterministic_redundancy[nm], v["deterministic"][i]) for i, nm in enumerate(names)]
            pairs += [(report.stochastic_redundancy[nm], max(v["stochastic"][i], 0.0)) for i, nm in enumerate(names)]
            diff = max(abs(a - b) for a, b in pairs)
        agree = diff is None or diff <= NATURAL_TOL
        bad |= not agree
        ours_s = median(times)
        log(f"  B n={n}: ours {ours_s:.4f}s, baseline {base['seconds']:.2f}s"
            f"{'' if base['complete'] else ' (extrapolated)'}", args.quiet)
        rows.append({"observables": n, "cells": int(p.size), "seconds": ours_s, "runs": times,
                     "baseline_seconds": base["seconds"], "baseline_cells": base["done"],
                     "baseline_extrapolated": not base["complete"], "ratio": base["seconds"] / ours_s,
                     "max_abs_difference": diff, "agree": agree, "mediation": report.mediation,
                     "max_deterministic_redundancy": report.max_deterministic_redundancy,
                     "mutual_information": report.mutual_information,
                     "result": "PASS" if ours_s < NATURAL_TARGET_S else "FAIL"})
    return rows, bad


def print_part_b(rows: list[dict], repeats: int, limit: float) -> None:
    print("Part B: natural-latent errors of a binary latent over n binary observables (ours: natural_latent_errors, "
          f"median of {repeats}; baseline: a loop over the cells with dictionaries; limit {limit:g} s, "
          "* = extrapolated from a prefix, values not compared)")
    headers = ["n", "cells", "ours s", "baseline s", "base/ours", "mediation", "max H(L|X-i)", "I(X;L)",
               "max |diff| bits", "target", "result", "agree"]
    body = [[str(r["observables"]), str(r["cells"]), f"{r['seconds']:.4f}",
             fmt_s(r["baseline_seconds"]) + ("*" if r["baseline_extrapolated"] else ""), f"{r['ratio']:.0f}x",
             f"{r['mediation']:.4f}", f"{r['max_deterministic_redundancy']:.4f}", f"{r['mutual_information']:.4f}",
             "-" if r["max_abs_difference"] is None else f"{r['max_abs_difference']:.1e}",
             f"< {NATURAL_TARGET_S:g} s", r["result"], "yes" if r["agree"] else DISAGREE] for r in rows]
    print(table(headers, body, right={0, 1, 2, 3, 4, 5, 6, 7, 8}))
    print()


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run with the same tables")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each timing of ours (default 3; smoke 1)")
    ap.add_argument("--baseline-limit", type=float, default=None,
                    help="seconds a baseline may take per row (part A: half for each of its two parts) before it "
                    "stops and its time is extrapolated (default 60; smoke 4; 0 = no limit)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    ap.add_argument("--skip-a", action="store_true", help="skip part A")
    ap.add_argument("--skip-b", action="store_true", help="skip part B")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.baseline_limit is None:
        args.baseline_limit = 4.0 if args.smoke else 60.0
    if args.baseline_limit < 0:
        ap.error("--baseline-limit must be >= 0")
    if args.smoke:
        repeats = 1
        sizes_a = [(2, 3), (3, 4)]
        sizes_b = [7, 9]
    else:
        repeats = args.repeats
        sizes_a = [(2, 4), (3, 5), (3, 6), (4, 6), (4, 8)]
        sizes_b = [9, 12, 15]

    info = machine_info()
    started = time.perf_counter()
    header("gauge", args.smoke, info, f"sympy {sympy.__version__}, numpy {info['numpy']}")
    print(f"settings  repeats={repeats}, seed={args.seed}, baseline limit={args.baseline_limit:g} s, part A sizes "
          f"(K, J) {sizes_a}, part B observables {sizes_b}")
    print("inputs generated once and shared by the methods; generation not timed")
    print()
    sys.stdout.flush()

    out: dict = {"machine": info, "args": vars(args)}
    bad = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if not args.skip_a:
            rows, bad_a = part_a(args, sizes_a, repeats)
            out["part_a"] = {"rows": [{k: v for k, v in r.items()} for r in rows]}
            bad |= bad_a
            print_part_a(rows, repeats, args.baseline_limit)
            sys.stdout.flush()
        if not args.skip_b:
            rows, bad_b = part_b(args, sizes_b, repeats)
            out["part_b"] = {"rows": rows}
            bad |= bad_b
            print_part_b(rows, repeats, args.baseline_limit)
    return finish(out, started, bad, DISAGREE, "all results agree", args.json)


if __name__ == "__main__":
    sys.exit(main())
