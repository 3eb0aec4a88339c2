"""The coherence benchmark script runs end to end in its smoke configuration and finds no disagreement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "coherence.py"


@pytest.mark.slow
def test_coherence_benchmark_smoke(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--quiet", "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{proc.stderr}"
    # header and both tables with their column headers
    for text in ("python", "cpu_count", "date",
                 "Part A: ours vs brute force", "ours s", "brute s", "brute/ours", "verdicts agree", "max |dprofit|",
                 "Part B: ours alone at scale", "verdict", "seconds", "rounds", "worlds", "oracle", "target",
                 "result"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    # no mismatch marker anywhere
    assert "DISAGREE" not in out and "DISAGREE" not in proc.stderr
    assert "CERT-INVALID" not in out
    data = json.loads(out_json.read_text())
    assert data["part_a"]["rows"] and data["part_b"]["rows"]
    assert all(r["agree"] and r["profit_ok"] for r in data["part_a"]["runs"])
    assert not any(r["certificate"].startswith("CERT-INVALID") for r in data["part_b"]["runs"])
