#!/usr/bin/env python
"""Benchmark of sweeps (``deepmarkets.sweep``): one grid of agent economies, serially and on a local Dask cluster.

The same sweep (a Blocks World economy for every auction rule and number of clones, several
seeds each) runs in this process (``scheduler="serial"``) and on a local cluster of one
single-threaded worker process per usable core (``scheduler=None``; starting and closing the
cluster are timed). The two tables must be identical (parameters, seeds, outputs), else
DISAGREE. Reported: tasks, seconds serial, seconds on the cluster, serial/cluster. The cluster's
best ratio is about the number of usable cores, less its start-up and the tasks' imports.

Exit status 1 when the tables disagree.

    python benchmarks/sweep.py              # 18 economies of 300 episodes, about a minute
    python benchmarks/sweep.py --smoke      # 6 economies of 50 episodes, a few seconds
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd
from harness import finish, fmt_s, header, log, machine_info, table  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.sweeps import sweep
from deepmarkets.sweeps.tasks import economy

DISAGREE = "DISAGREE"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run with the same table")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    episodes, repeats, blocks = (50, 1, 3) if args.smoke else (300, 3, 3)
    grid = {"auction": ["ccv", "vickrey", "first"], "clones": [1, 2]}
    fixed = {"environment": "blocks_world", "env_n_blocks": blocks, "episodes": episodes, "engine": "python"}
    info = machine_info()
    started = time.perf_counter()
    header("sweep", args.smoke, info, f"pandas {info['pandas']}")
    print(f"settings  Blocks World with {blocks} blocks, {episodes} episodes, grid {grid}, {repeats} repeat(s)")
    print()
    sys.stdout.flush()

    log("serial ...", args.quiet)
    serial = sweep(economy, grid, fixed=fixed, repeats=repeats, scheduler="serial", progressbar=False)
    log("local cluster ...", args.quiet)
    cluster = sweep(economy, grid, fixed=fixed, repeats=repeats, scheduler=None, progressbar=False)
    try:
        pd.testing.assert_frame_equal(serial.table.drop(columns="seconds"), cluster.table.drop(columns="seconds"))
        agree = True
    except AssertionError:
        agree = False
    bad = not agree or serial.n_failed > 0
    ratio = serial.seconds / cluster.seconds
    rows = [[str(len(serial.table)), fmt_s(serial.seconds), fmt_s(cluster.seconds), f"{ratio:.2f}",
             cluster.scheduler, "yes" if agree else DISAGREE]]
    print(table(["tasks", "serial s", "cluster s", "serial/cluster", "cluster", "tables agree"], rows, {0, 1, 2, 3}))
    print(f"task seconds (sum over tasks): serial {serial.table['seconds'].sum():.2f}, "
          f"cluster {cluster.table['seconds'].sum():.2f}")
    out = {"machine": info, "args": vars(args), "tasks": len(serial.table), "serial_seconds": serial.seconds,
           "cluster_seconds": cluster.seconds, "ratio": ratio, "cluster": cluster.scheduler, "agree": agree,
           "failed": serial.n_failed + cluster.n_failed}
    return finish(out, started, bad, DISAGREE, "the tables agree", args.json)


if __name__ == "__main__":
    sys.exit(main())
