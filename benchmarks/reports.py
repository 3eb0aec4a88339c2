#!/usr/bin/env python
"""Benchmark of HTML reports (``--report OUT.html``): what a report costs on top of its job.

Every job command runs on the repository's examples twice per repeat, in this process: with
``--json`` (the baseline: the job and its JSON) and with ``--report`` (the job, its plots and the
page). Reported per command: median seconds of each, the report's extra seconds and the ratio
report/json, the page's size and number of figures. The page's embedded data must equal the
``--json`` output (timings aside), else DISAGREE.

Exit status 1 when a page disagrees with its --json output.

    python benchmarks/reports.py            # 3 repeats, the examples at their sizes, about a minute
    python benchmarks/reports.py --smoke    # 1 repeat, small runs, a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from harness import finish, fmt_s, header, log, machine_info, median, settings, table  # noqa: E402

from deepmarkets.cli import main as cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DISAGREE = "DISAGREE"


def jobs(smoke: bool) -> dict[str, list[str]]:
    small = smoke
    return {
        "check": ["check", EXAMPLES / "prices.csv", "--theory", EXAMPLES / "theory.txt"],
        "replay": ["replay", EXAMPLES / "weather_book.csv", "--market", EXAMPLES / "weather.toml", "--world",
                   EXAMPLES / "weather_world.txt"],
        "infer": ["infer", EXAMPLES / "answers.csv"],
        "induct": ["induct", EXAMPLES / "induction.toml", "--days", "10" if small else "20"],
        "economy": ["economy", EXAMPLES / "economy.toml", "--episodes", "30" if small else "200"],
        "bria": ["bria", EXAMPLES / "bria.toml", "--rounds", "100" if small else "1000"],
        "layered": ["layered", "wine", "--rounds", "1" if small else "3", "--restarts", "1"],
        "sweep": ["sweep", EXAMPLES / "sweep.toml", "--scheduler", "serial"],
    }


def run(argv: list[str]) -> tuple[float, str]:
    """Seconds of one command in this process, and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        started = time.perf_counter()
        code = cli([str(a) for a in argv])
        seconds = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, argv))}: exit status {code}")
    return seconds, out.getvalue()


def without_seconds(value):
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def page_data(text: str):
    found = re.search(r'<script type="application/json" id="deepmarkets-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="small runs, one repeat")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    repeats = 1 if args.smoke else 3
    info = machine_info()
    started = time.perf_counter()
    header("reports", args.smoke, info, f"matplotlib {matplotlib.__version__}")
    settings(f"the examples of the repository, {repeats} repeat(s) each of --json and --report", args.smoke)
    rows, out_rows, bad = [], [], False
    folder = Path(tempfile.mkdtemp(prefix="deepmarkets-reports-"))
    for name, argv_ in jobs(args.smoke).items():
        log(f"{name} ...", args.quiet)
        plain, with_report = [], []
        page = folder / f"{name}.html"
        run([*argv_, "--report", page])  # imports and caches warmed, outside the timings
        for _ in range(repeats):
            seconds, printed = run([*argv_, "--json"])
            plain.append(seconds)
            with_report.append(run([*argv_, "--report", page])[0])
        text = page.read_text(encoding="utf-8")
        agree = without_seconds(page_data(text)) == without_seconds(json.loads(printed))
        bad |= not agree
        a, b = median(plain), median(with_report)
        images = text.count("<img ")
        rows.append([name, fmt_s(a), fmt_s(b), fmt_s(b - a), f"{b / a:.2f}", f"{len(text) / 1024:.0f}", str(images),
                     "yes" if agree else DISAGREE])
        out_rows.append({"command": name, "json_seconds": a, "report_seconds": b, "extra_seconds": b - a,
                         "ratio": b / a, "page_kib": len(text) / 1024, "figures": images, "agree": agree})
    print(table(["command", "--json s", "--report s", "extra s", "report/json", "page KiB", "figures",
                 "data = --json"], rows, {1, 2, 3, 4, 5, 6}))
    out = {"machine": info, "args": vars(args), "repeats": repeats, "rows": out_rows}
    return finish(out, started, bad, DISAGREE, "every page holds its --json data", args.json)


if __name__ == "__main__":
    sys.exit(main())
