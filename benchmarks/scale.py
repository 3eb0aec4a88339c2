#!/usr/bin/env python
"""Benchmark of NUTS backends and minibatch ADVI on large Dawid–Skene books (``fit_nuts``, ``fit_advi``).

Books: simulated Dawid–Skene answers of 200 traders over 5 labels, each question answered by 10
distinct traders (trader accuracy uniform in [0.5, 0.9], wrong answers uniform over the other
labels), of 10^5, 10^6 (default) and 10^7 (``--sizes``) answers. Without ``--backends``, the
10^6 book runs PyMC and nutpie only (the JAX backends on 2 CPU cores take about 15 minutes each).
The EM fit is computed once per book (its seconds shown) and every method starts from it and
aligns its draws to it.

For each size and NUTS backend (PyMC's own sampler, nutpie, NumPyro, BlackJAX; all through
``pymc.sample`` on the same model): ``compile s`` (the sampler's wall time minus the sampling the
sampler timed: compiling the model; for the JAX backends "-": JAX compiles inside the sampling
call and runs asynchronously, so ``sample s`` is their whole sampling wall time, compiling
included), ``sample s`` (tuning and draws as PyMC's sampler or nutpie timed them), ``total s``
(the whole ``fit_nuts`` call: building the model, compiling, sampling, relabelling and
summarising), the minimum bulk ESS over all parameters after alignment, and ``ESS/s`` =
min bulk ESS / sample s. ``vs pymc`` is the backend's ESS/s over PyMC's (the target: nutpie at
least 2x on the CPU). ``--repeats`` runs each cell again with other seeds and shows medians.
ADVI (``fit_advi``: minibatches of 2,048 answer patterns, 10,000 steps) reports its seconds and
the largest distance of its means from PyMC's NUTS means in posterior sds. Every method's
question labels are compared with the simulated truth (``acc``).

``--device`` runs the JAX backends only (on a GPU when JAX sees one; ``jax.devices()`` is
printed) with the 10^5, 10^6 and 10^7 books and writes the same table as JSON (``--json``).

    python benchmarks/scale.py               # 10^5 and 10^6 answers on the CPU (about 25 minutes on 2 cores)
    python benchmarks/scale.py --smoke       # tiny books, about a minute
    python benchmarks/scale.py --device --json scale-gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import finish, fmt_s, header, log, machine_info, median, settings, table  # noqa: E402

from deepmarkets.models.advi import fit_advi  # noqa: E402
from deepmarkets.models.data import Reports  # noqa: E402
from deepmarkets.models.em import fit_em  # noqa: E402
from deepmarkets.models.nuts import BACKENDS, fit_nuts  # noqa: E402

#: NUTS target of the CPU run: nutpie's ESS/s over PyMC's.
TARGET_NUTPIE = 2.0
PER_QUESTION = 10
#: Without --backends, books of this many answers or more run PyMC and nutpie only (the JAX backends take
#: about 15 minutes each at 10^6 answers on 2 CPU cores).
CPU_ALL_BELOW = 1_000_000
HEADERS = ["answers", "method", "EM s", "compile s", "sample s", "total s", "min ESS", "ESS/s", "vs pymc", "max R-hat",
           "div", "acc"]
RIGHT = {0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}


def simulate_book(n_answers: int, traders: int, labels: int, rng: np.random.Generator) -> tuple[Reports, np.ndarray]:
    """A Dawid–Skene book of about ``n_answers`` answers (vectorised), and the true label of each question."""
    Q = max(2, n_answers // PER_QUESTION)
    m = min(PER_QUESTION, traders)
    truth = rng.integers(labels, size=Q)
    accuracy = rng.uniform(0.5, 0.9, size=traders)
    order = rng.permutation(traders)
    who = order[(rng.integers(traders, size=Q)[:, None] + np.arange(m)) % traders]  # m distinct traders
    right = rng.random((Q, m)) < accuracy[who]
    wrong = (truth[:, None] + rng.integers(1, labels, size=(Q, m))) % labels
    code = np.where(right, truth[:, None], wrong).ravel().astype(np.int64)
    names = np.array([str(v) for v in range(1, labels + 1)])
    reports = Reports(
        questions=np.array([f"q{i}" for i in range(Q)]), traders=np.array([f"t{j}" for j in range(traders)]),
        labels=names, levels=tuple(names for _ in range(traders)),
        question=np.repeat(np.arange(Q, dtype=np.int64), m), trader=who.ravel().astype(np.int64),
        answer=code, label=code.copy(),
    )
    return reports, truth


def _accuracy(fit, truth: np.ndarray) -> float:
    return float((np.argmax(fit.posterior, axis=1) == truth).mean())


def _means_sds(fit) -> tuple[np.ndarray, np.ndarray]:
    post = fit.idata["posterior"]
    S = post.sizes["chain"] * post.sizes["draw"]
    x = np.concatenate([post["class_share"].values.reshape(S, -1), post["response"].values.reshape(S, -1)], axis=1)
    return x.mean(axis=0), x.std(axis=0)


def run_nuts(reports, start, truth, backend, args, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fit = fit_nuts(reports, model="dawid-skene", classes=None, start=start, draws=args.draws, tune=args.tune,
                       chains=args.chains, rng=seed, progressbar=False, backend=backend)
        total = time.perf_counter() - t0
    d = fit.diagnostics
    sample = d["sampler_seconds"]
    jax = backend in ("numpyro", "blackjax")  # their sampling time includes compiling (see fit_nuts)
    return {"backend": backend, "total_s": total, "compile_s": None if jax else max(d["sampling_seconds"] - sample, 0),
            "sample_s": sample, "min_ess_bulk": d["min_ess_bulk"], "ess_per_s": (d["min_ess_bulk"] or 0.0) / sample,
            "max_rhat": d["max_rhat"], "divergences": d["divergences"], "accuracy": _accuracy(fit, truth)}, fit


def run_advi(reports, start, truth, reference, args, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fit = fit_advi(reports, model="dawid-skene", classes=None, start=start, iterations=args.iterations,
                       draws=args.advi_draws, rng=seed, progressbar=False)
        total = time.perf_counter() - t0
    row = {"backend": "advi", "total_s": total, "fit_s": fit.diagnostics["fit_seconds"],
           "batch_size": fit.diagnostics["batch_size"], "accuracy": _accuracy(fit, truth), "max_gap_sd": None}
    if reference is not None:
        (ma, _), (mb, sb) = _means_sds(fit), _means_sds(reference)
        keep = np.isfinite(mb) & (sb > 0)
        row["max_gap_sd"] = float(np.max(np.abs(ma[keep] - mb[keep]) / sb[keep]))
    return row


def backends_for(n: int, args) -> list[str]:
    """The NUTS backends run on a book of ``n`` answers: those asked for, else all (PyMC and nutpie from 10^6 up)."""
    if args.backends is not None:
        return args.backends
    return list(BACKENDS) if n < CPU_ALL_BELOW else ["pymc", "nutpie"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny books, few draws (about a minute)")
    ap.add_argument("--device", action="store_true",
                    help="JAX backends only, 10^5, 10^6 and 10^7 answers, for a GPU machine (write --json)")
    ap.add_argument("--sizes", type=float, nargs="+", default=None, help="answers per book (default 1e5 1e6)")
    ap.add_argument("--backends", nargs="+", default=None, choices=list(BACKENDS),
                    help="NUTS backends (default: all below 10^6 answers, pymc and nutpie from 10^6 up; "
                         "--device: numpyro blackjax)")
    ap.add_argument("--no-advi", action="store_true", help="skip ADVI")
    ap.add_argument("--traders", type=int, default=200)
    ap.add_argument("--labels", type=int, default=5)
    ap.add_argument("--draws", type=int, default=None, help="NUTS draws per chain (default 300; smoke 100)")
    ap.add_argument("--tune", type=int, default=None, help="NUTS tuning steps per chain (default 300; smoke 100)")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=None, help="ADVI steps (default 10000; smoke 500)")
    ap.add_argument("--advi-draws", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=1, help="runs per cell with other seeds (medians shown)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    smoke = args.smoke
    if args.sizes is None:
        args.sizes = [2_000] if smoke else ([1e5, 1e6, 1e7] if args.device else [1e5, 1e6])
    if smoke:
        args.traders, args.labels = min(args.traders, 20), min(args.labels, 3)
    args.draws = args.draws or (100 if smoke else 300)
    args.tune = args.tune or (100 if smoke else 300)
    args.iterations = args.iterations or (500 if smoke else 10_000)
    if args.backends is None and args.device:
        args.backends = ["numpyro", "blackjax"]
    started = time.perf_counter()
    info = machine_info()
    import jax
    import nutpie
    import pymc
    import pymc.sampling.jax  # noqa: F401  (before JAX starts: one host device per chain)

    kinds = [d.platform for d in jax.devices()]
    devices = {kind: kinds.count(kind) for kind in sorted(set(kinds))}  # JAX devices by platform
    header("scale", smoke, info, f"pymc {pymc.__version__}, nutpie {nutpie.__version__}, jax {jax.__version__}")
    settings(f"{args.traders} traders, {args.labels} labels, {PER_QUESTION} answers per question; NUTS "
             f"{args.chains} chains x ({args.tune} tune + {args.draws} draws); ADVI {args.iterations} steps; "
             f"{args.repeats} run(s) per cell; JAX devices {devices}", smoke)
    out = {"machine": info, "jax_devices": devices, "settings": vars(args), "rows": [], "advi": []}
    rows = []
    for size in args.sizes:
        n = int(size)
        reports, truth = simulate_book(n, args.traders, args.labels, np.random.default_rng(args.seed))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = fit_em(reports, model="dawid-skene", classes=None, restarts=1, rng=args.seed)
        em_s = time.perf_counter() - t0
        log(f"{reports.n_answers} answers, {reports.n_questions} questions: EM {em_s:.1f} s", args.quiet)
        reference = None
        per_backend = {}
        for backend in backends_for(n, args):
            runs = []
            for r in range(args.repeats):
                row, fit = run_nuts(reports, start, truth, backend, args, args.seed + 1 + r)
                runs.append(row)
                if backend == "pymc" and reference is None:
                    reference = fit
                log(f"  {backend}: {row['total_s']:.1f} s, ESS/s {row['ess_per_s']:.2f}", args.quiet)
            cell = {k: median([x[k] for x in runs]) for k in runs[0] if k != "backend"}
            cell.update(backend=backend, answers=reports.n_answers, questions=reports.n_questions, em_s=em_s,
                        runs=runs)
            per_backend[backend] = cell
            out["rows"].append(cell)
        base = per_backend.get("pymc", {}).get("ess_per_s")
        for backend, cell in per_backend.items():
            cell["vs_pymc"] = cell["ess_per_s"] / base if base else None
            rows.append([f"{reports.n_answers:,}", backend, fmt_s(em_s), fmt_s(cell["compile_s"]),
                         fmt_s(cell["sample_s"]), fmt_s(cell["total_s"]), f"{cell['min_ess_bulk'] or 0:.0f}",
                         f"{cell['ess_per_s']:.2f}", "-" if cell["vs_pymc"] is None else f"{cell['vs_pymc']:.2f}x",
                         f"{cell['max_rhat'] or float('nan'):.3f}", str(int(cell["divergences"])),
                         f"{cell['accuracy']:.4f}"])
        if not args.no_advi:
            runs = [run_advi(reports, start, truth, reference, args, args.seed + 1 + r) for r in range(args.repeats)]
            cell = {k: median([x[k] for x in runs]) for k in ("total_s", "fit_s", "accuracy", "max_gap_sd")}
            cell.update(answers=reports.n_answers, batch_size=runs[0]["batch_size"], runs=runs)
            out["advi"].append(cell)
            gap = "-" if cell["max_gap_sd"] is None else f"{cell['max_gap_sd']:.2f} sd"
            rows.append([f"{reports.n_answers:,}", f"advi (batch {cell['batch_size']})", fmt_s(em_s), "-",
                         fmt_s(cell["fit_s"]), fmt_s(cell["total_s"]), "-", "-", gap, "-", "-",
                         f"{cell['accuracy']:.4f}"])
            log(f"  advi: {cell['total_s']:.1f} s", args.quiet)
        log(table(HEADERS, rows, right=RIGHT), args.quiet)  # the sizes so far, in case a long run is stopped
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    print(table(HEADERS, rows, right=RIGHT))
    print("(ADVI rows: 'sample s' is the optimisation and draws; 'vs pymc' is the largest distance of its means from "
          "PyMC's NUTS means, in posterior sds)")
    verdicts = []
    for cell in out["rows"]:
        if cell["backend"] == "nutpie" and cell["vs_pymc"] is not None:
            ok = cell["vs_pymc"] >= TARGET_NUTPIE
            verdicts.append(ok)
            print(f"target nutpie >= {TARGET_NUTPIE:g}x PyMC's ESS/s at {cell['answers']:,} answers: "
                  f"{cell['vs_pymc']:.2f}x {'smoke' if smoke else ('PASS' if ok else 'FAIL')}")
    out["nutpie_target_met"] = all(verdicts) if verdicts and not smoke else None
    bad = any(c["accuracy"] < 0.5 for c in out["rows"]) or any(c["accuracy"] < 0.5 for c in out["advi"])
    return finish(out, started, bad, "a method labelling most questions wrongly (DISAGREE)",
                  "every method labels most questions correctly", args.json)


if __name__ == "__main__":
    sys.exit(main())
