#!/usr/bin/env python
"""Benchmark of partitioned EM: a Dawid–Skene book larger than memory, on a local Dask cluster under a memory cap.

A synthetic Dawid–Skene book (200 traders, 5 labels, each question answered by 20 distinct
traders) is written as Parquet partitions, one partition generated at a time (question ids
int64, trader ids int16, answers int8), then fitted by ``fit_partitioned`` (majority-vote start)
on a local cluster of one single-threaded worker process per usable core whose memory limits
add up to the cap. A thread samples the resident memory of this process and all its children
(the workers and their nannies) every 0.2 s; its peak is reported.

The fit is compared with (a) the true parameters and (b) the in-memory ``fit_em`` of a
subsample (the first partitions, about ``--subsample`` answers): max |difference| of the
confusion matrices and of the class shares. The same subsample is also fitted partitioned: it
must equal ``fit_em`` to 1e-9 (else DISAGREE), the promise this benchmark checks at its own size.

Exit status 1 on DISAGREE, or when the peak memory exceeds the cap.

    python benchmarks/big_book.py                       # 10^8 answers under 4 GB
    python benchmarks/big_book.py --answers 10000000    # 10^7
    python benchmarks/big_book.py --smoke               # 20 000 answers, a few seconds
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import finish, fmt_s, header, log, machine_info, table  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em
from deepmarkets.models.partitioned import fit_partitioned

DISAGREE = "DISAGREE"
TRADERS_PER_QUESTION = 20


class PeakMemory:
    """Samples the summed resident memory of this process and its children in a thread; ``peak`` in bytes."""

    def __init__(self, every: float = 0.2):
        import psutil

        self.process, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def truth(traders: int, labels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class shares ``(L,)`` and confusion matrices ``(J, L, L)``: softmax of Normal(0, 0.5) plus 1.5 on the truth."""
    pi = rng.dirichlet(np.full(labels, 5.0))
    z = rng.normal(0.0, 0.5, size=(traders, labels, labels)) + 1.5 * np.eye(labels)
    conf = np.exp(z - z.max(axis=2, keepdims=True))
    return pi, conf / conf.sum(axis=2, keepdims=True)


def write_partition(path: Path, first_question: int, n_questions: int, pi: np.ndarray, conf: np.ndarray,
                    rng: np.random.Generator) -> int:
    """One partition: ``n_questions`` questions, each answered by 20 distinct traders; returns its rows."""
    J, L, _ = conf.shape
    k = rng.choice(L, size=n_questions, p=pi)
    who = np.argpartition(rng.random((n_questions, J)), TRADERS_PER_QUESTION, axis=1)[:, :TRADERS_PER_QUESTION]
    q = np.repeat(np.arange(first_question, first_question + n_questions), TRADERS_PER_QUESTION)
    j = who.ravel()
    cum = np.cumsum(conf, axis=2)[j, np.repeat(k, TRADERS_PER_QUESTION)]
    answer = (rng.random(len(j))[:, None] > cum[:, :-1]).sum(axis=1) + 1
    pd.DataFrame({"question": q.astype(np.int64), "trader": j.astype(np.int16),
                  "answer": answer.astype(np.int8)}).to_parquet(path, index=False)
    return len(q)


def compare(fit, pi: np.ndarray, conf: np.ndarray) -> tuple[float, float]:
    """Max |difference| of the class shares and of the confusion matrices (classes are the labels 1..L)."""
    order = np.argsort(fit.classes.astype(int))
    shares = np.asarray(fit.class_shares)[order]
    traders = fit.traders if hasattr(fit, "traders") else fit.reports.traders
    mats = np.stack([np.asarray(fit.response[j])[order] for j in range(len(traders))])
    true_mats = conf[traders.astype(int)]
    return float(np.abs(shares - pi).max()), float(np.abs(mats - true_mats).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--answers", type=int, default=100_000_000, help="answers in the book (default 10^8)")
    ap.add_argument("--partition-answers", type=int, default=1_000_000, help="answers per Parquet partition")
    ap.add_argument("--subsample", type=int, default=1_000_000, help="answers of the in-memory comparison fit")
    ap.add_argument("--memory-gb", type=float, default=4.0, help="memory cap of the cluster's workers together")
    ap.add_argument("--folder", help="write the book here (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the book's folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="20 000 answers, 40 traders, 3 labels")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    traders, labels = (40, 3) if args.smoke else (200, 5)
    if args.smoke:
        args.answers, args.partition_answers, args.subsample = 20_000, 2_000, 6_000
    per_part = max(args.partition_answers // TRADERS_PER_QUESTION, 1)
    n_questions = args.answers // TRADERS_PER_QUESTION
    info = machine_info()
    started = time.perf_counter()
    import dask
    import distributed

    header("big book", args.smoke, info, f"pandas {info['pandas']}, dask {dask.__version__}, "
                                          f"distributed {distributed.__version__}")
    workers = info["cpus_usable"] or 1
    print(f"settings  Dawid-Skene, {traders} traders, {labels} labels, {TRADERS_PER_QUESTION} traders per question; "
          f"{n_questions * TRADERS_PER_QUESTION} answers in partitions of {per_part * TRADERS_PER_QUESTION}; "
          f"{workers} worker processes, memory cap {args.memory_gb:g} GB; subsample {args.subsample} answers")
    print()
    sys.stdout.flush()

    rng = np.random.default_rng(args.seed)
    pi, conf = truth(traders, labels, rng)
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="deepmarkets-big-book-"))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict = {"machine": info, "args": vars(args)}
    try:
        log(f"writing the book to {folder} ...", args.quiet)
        t0 = time.perf_counter()
        written, q0, i = 0, 0, 0
        while q0 < n_questions:
            nq = min(per_part, n_questions - q0)
            written += write_partition(folder / f"part-{i:05d}.parquet", q0, nq, pi, conf,
                                       np.random.default_rng([args.seed, i]))
            q0, i = q0 + nq, i + 1
        write_s = time.perf_counter() - t0
        disk = sum(f.stat().st_size for f in folder.glob("*.parquet"))
        log(f"fitting {written} answers in {i} partitions ...", args.quiet)
        cap = int(args.memory_gb * 2**30)
        with PeakMemory() as peak:
            t0 = time.perf_counter()
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                          memory_limit=cap // workers, dashboard_address=None) as cluster, \
                    distributed.Client(cluster) as client:
                fit = fit_partitioned(folder, restarts=1, rng=args.seed, scheduler=client,
                                      progressbar=not args.quiet)
            fit_s = time.perf_counter() - t0
        d_pi, d_conf = compare(fit, pi, conf)

        log("subsample: in memory and partitioned ...", args.quiet)
        n_sub = max(1, round(args.subsample / (per_part * TRADERS_PER_QUESTION)))
        sub_folder = folder / "subsample"
        sub_folder.mkdir(exist_ok=True)
        for k in range(min(n_sub, i)):
            shutil.copy(folder / f"part-{k:05d}.parquet", sub_folder / f"part-{k:05d}.parquet")
        sub = pd.concat([pd.read_parquet(f) for f in sorted(sub_folder.glob("*.parquet"))], ignore_index=True)
        t0 = time.perf_counter()
        mem = fit_em(Reports.from_frame(sub), model="dawid-skene", classes=None, restarts=1, rng=args.seed,
                     progressbar=False)
        mem_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        part = fit_partitioned(sub_folder, restarts=1, rng=args.seed, scheduler="synchronous", progressbar=False)
        part_s = time.perf_counter() - t0
        order = np.argsort(mem.classes.astype(int))
        same = max(abs(part.loglik - mem.loglik),
                   max(float(np.abs(a - b).max()) for a, b in zip(part.response, mem.response, strict=True)),
                   float(np.abs(part.class_shares - mem.class_shares).max()))
        big_order = np.argsort(fit.classes.astype(int))
        index = pd.Index(fit.traders).get_indexer(mem.reports.traders)
        vs_sub_conf = max(float(np.abs(np.asarray(fit.response[index[j]])[big_order] - np.asarray(r)[order]).max())
                          for j, r in enumerate(mem.response))
        vs_sub_pi = float(np.abs(fit.class_shares[big_order] - mem.class_shares[order]).max())
        sub_pi, sub_conf = compare(mem, pi, conf)
        fit.close()
        part.close()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows = [[f"{fit.n_answers:,}", str(fit.n_partitions), fmt_s(write_s), fmt_s(fit_s), f"{peak.peak / 2**30:.2f}",
             f"{args.memory_gb:g}", str(fit.n_iter), "yes" if fit.converged else "no",
             f"{fit.n_answers / fit_s / 1e6:.3g}"]]
    print(table(["answers", "partitions", "write s", "fit s", "peak GB", "cap GB", "iterations", "converged",
                 "M answers/s"], rows, {0, 1, 2, 3, 4, 5, 6, 8}))
    print()
    agree_rows = [
        ["partitioned fit vs truth", f"{d_pi:.2e}", f"{d_conf:.2e}"],
        [f"in-memory fit of {len(sub):,} answers vs truth", f"{sub_pi:.2e}", f"{sub_conf:.2e}"],
        [f"partitioned fit vs in-memory fit of {len(sub):,}", f"{vs_sub_pi:.2e}", f"{vs_sub_conf:.2e}"],
    ]
    print(table(["comparison", "max |d share|", "max |d confusion|"], agree_rows, {1, 2}))
    bad_same = not same <= 1e-9
    print(f"\nsubsample fitted partitioned ({part.n_partitions} partitions, {fmt_s(part_s)} s) vs fit_em "
          f"({fmt_s(mem_s)} s): max |difference| {same:.1e} " + (DISAGREE if bad_same else "(<= 1e-9: agree)"))
    over = peak.peak > args.memory_gb * 2**30
    if over:
        print(f"peak memory {peak.peak / 2**30:.2f} GB is above the cap of {args.memory_gb:g} GB")
    print(f"book on disk {disk / 2**20:.0f} MiB")
    out.update({"answers": fit.n_answers, "questions": fit.n_questions, "partitions": fit.n_partitions,
                "write_seconds": write_s, "fit_seconds": fit_s, "peak_bytes": peak.peak, "cap_bytes": cap,
                "disk_bytes": disk, "iterations": fit.n_iter, "converged": fit.converged, "loglik": fit.loglik,
                "truth_max_share_difference": d_pi, "truth_max_confusion_difference": d_conf,
                "subsample_answers": len(sub), "subsample_truth_max_confusion_difference": sub_conf,
                "subsample_max_share_difference": vs_sub_pi, "subsample_max_confusion_difference": vs_sub_conf,
                "subsample_partitioned_vs_fit_em": same, "subsample_fit_em_seconds": mem_s,
                "subsample_partitioned_seconds": part_s, "agree": not bad_same, "within_cap": not over})
    return finish(out, started, bad_same or over, DISAGREE if bad_same else "memory over the cap",
                  "the subsample fits agree and memory stayed under the cap", args.json)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:distributed")
    sys.exit(main())
