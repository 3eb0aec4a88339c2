#!/usr/bin/env python
"""Start-up cost of the command line: wall time of short commands, each run as a fresh process.

Every row runs one command ``--repeats`` times in a new Python process and reports the median
wall time. The baseline of a row is its floor: a process that imports only the third-party
modules the command cannot do without (click for ``--help``; numpy, pandas and the scipy parts
EM uses for ``infer``; z3 for ``check``), so ``ours/floor`` is what deepmarkets adds on top.
A command that exits with an unexpected status is a DISAGREE (exit status 1). Targets: ``--help``
under 0.5 s; ``infer --method em`` on a 6-row book under 1 s. The machine's load average is
printed before and after, as wall times on a shared machine are noisy.

    python benchmarks/startup.py            # 9 repeats per row (about half a minute)
    python benchmarks/startup.py --smoke    # 3 repeats per row
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import finish, fmt_s, header, log, machine_info, median, table  # noqa: E402  (benchmarks/ is on sys.path)

DISAGREE = "DISAGREE"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BOOK = """question,trader,answer
q1,a,yes
q1,b,yes
q1,c,no
q2,a,no
q2,b,yes
q2,c,no
"""


def rows_to_run(folder: Path) -> list[dict]:
    """The commands: name, argv after ``python -m deepmarkets``, expected exit status, floor imports, target."""
    book = folder / "book.csv"
    book.write_text(BOOK)
    return [
        {"name": "deepmarkets --help", "args": ["--help"], "status": 0, "floor": "click", "target": 0.5},
        {"name": "deepmarkets infer --method em (6 rows)", "args": ["infer", "--method", "em", str(book)],
         "status": 0, "floor": "click, numpy, pandas, scipy.sparse, scipy.optimize", "target": 1.0},
        {"name": "deepmarkets check examples/prices.csv", "status": 1, "floor": "click, numpy, z3", "target": None,
         "args": ["check", str(EXAMPLES / "prices.csv"), "--theory", str(EXAMPLES / "theory.txt")]},
    ]


def wall(argv: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="3 repeats per row")
    parser.add_argument("--repeats", type=int, default=None, help="runs per command (default 9, smoke 3)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.smoke else 9)
    started = time.perf_counter()
    info = machine_info()
    header("start-up", args.smoke, info, ", ".join(f"{m} {info[m]}" for m in ("numpy", "pandas", "scipy", "z3")))
    load_before = os.getloadavg()
    print(f"load      {load_before[0]:.2f} (1 min) before; {repeats} runs per row, median wall time")
    out: dict = {"machine": info, "repeats": repeats, "rows": []}
    bad = False
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows_to_run(Path(tmp)):
            log(f"{row['name']} ...", args.quiet)
            ours, statuses = [], set()
            floor = []
            for _ in range(repeats):
                seconds, status = wall([sys.executable, "-m", "deepmarkets", *row["args"]])
                ours.append(seconds)
                statuses.add(status)
                floor.append(wall([sys.executable, "-c", f"import {row['floor']}"])[0])
            agree = statuses == {row["status"]}
            bad |= not agree
            ours_s, floor_s = median(ours), median(floor)
            result = "-" if row["target"] is None else ("PASS" if ours_s < row["target"] else "FAIL")
            out["rows"].append({**row, "ours_s": ours_s, "floor_s": floor_s, "ratio": ours_s / floor_s,
                                "statuses": sorted(statuses), "agree": agree, "result": result})
    load_after = os.getloadavg()
    out["load"] = [load_before[0], load_after[0]]
    print()
    print(table(
        ["command", "ours s", "floor s", "ours/floor", "floor imports", "target", "result"],
        [[r["name"] + ("" if r["agree"] else f"  {DISAGREE}: exit {r['statuses']}, expected {r['status']}"),
          fmt_s(r["ours_s"]), fmt_s(r["floor_s"]), f"{r['ratio']:.2f}", r["floor"],
          "-" if r["target"] is None else f"< {r['target']} s", r["result"]] for r in out["rows"]],
        right={1, 2, 3}))
    print(f"\nload      {load_after[0]:.2f} (1 min) after")
    return finish(out, started, bad, "unexpected exit status", "every command exited as expected", args.json)


if __name__ == "__main__":
    sys.exit(main())
