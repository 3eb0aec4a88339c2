"""Helpers shared by the benchmark scripts: timing, medians, plain-text tables, machine info."""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import scipy
import z3


def log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def timed(fn, *args, **kwargs):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def machine_info() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "z3": z3.get_version_string(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


def header(name: str, smoke: bool, info: dict, versions: str) -> None:
    """Print the opening lines every benchmark shares: title, date, Python, CPU and versions."""
    print(f"deepmarkets {name} benchmark{' (smoke)' if smoke else ''}")
    print(f"date      {info['date']}")
    print(f"python    {info['python']} on {info['platform']}")
    print(f"cpu       {info['cpu'] or '?'}; cpu_count={info['cpu_count']}, usable={info['cpus_usable']}")
    print(f"versions  deepmarkets {info['commit']}, {versions}")


def settings(line: str, smoke: bool) -> None:
    """Print a benchmark's settings line, what a smoke run leaves unjudged, and a blank line."""
    print(f"settings  {line}")
    if smoke:
        print("smoke     tiny sizes: targets are not judged (\"smoke\"); invariants and the loop's agreement still are")
    print()
    sys.stdout.flush()


def finish(out: dict, started: float, bad: bool, problem: str, fine: str, json_path: str | None,
           default=str) -> int:
    """Print the closing line, write ``out`` (with ``total_seconds``) as JSON, and return the exit status."""
    total = time.perf_counter() - started
    out["total_seconds"] = total
    print(f"total wall time {total:.1f} s; " + (f"{problem} found: exit status 1" if bad else fine))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(out, fh, indent=2, default=default)
    return 1 if bad else 0
