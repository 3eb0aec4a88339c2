"""The benchmark scripts run end to end in their smoke configuration and find no disagreement."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _smoke(script: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``benchmarks/<script> --smoke``; the process (exit status 0 asserted) and its JSON record."""
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke", "--quiet", "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc, json.loads(out_json.read_text())


@pytest.mark.slow
def test_coherence_benchmark_smoke(tmp_path):
    proc, data = _smoke("coherence.py", tmp_path)
    out = proc.stdout
    # header and both tables with their column headers
    for text in ("python", "cpu_count", "date",
                 "Part A: ours vs brute force", "ours s", "brute s", "brute/ours", "verdicts agree", "max |dprofit|",
                 "Part B: ours alone at scale", "verdict", "seconds", "rounds", "worlds", "oracle", "target",
                 "result"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    # no mismatch marker anywhere
    assert "DISAGREE" not in out and "DISAGREE" not in proc.stderr
    assert "CERT-INVALID" not in out
    assert data["part_a"]["rows"] and data["part_b"]["rows"]
    assert all(r["agree"] and r["profit_ok"] for r in data["part_a"]["runs"])
    assert not any(r["certificate"].startswith("CERT-INVALID") for r in data["part_b"]["runs"])


def test_boundary_benchmark_smoke(tmp_path):
    proc, data = _smoke("boundary.py", tmp_path)
    for text in ("A: 8-40 atoms", "B: 41-200 atoms", "UNKNOWN", "refused", "brute force agrees", "certificates ok"):
        assert text in proc.stdout, f"{text!r} missing from the output:\n{proc.stdout}"
    assert data["runs"] and all(r["verdict"] in ("coherent", "incoherent") for r in data["runs"])
    assert all(r["certificate"].startswith("ok") for r in data["runs"])


@pytest.mark.slow
def test_markets_benchmark_smoke(tmp_path):
    proc, data = _smoke("markets.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date",
                 "Part A: replaying", "ours s", "loop s", "loop/ours", "target", "result",
                 "replay(book, market, world)", "maker.price_path(q0, deltas)",
                 "Part B: per-trade latency", "ours/trade", "exact/trade", "exact/ours", "max |dmu|", "agree"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out and "NOT CERTIFIED" not in out
    assert "Part C" not in out  # the acceptance run is for the full benchmark only
    a = data["part_a"]
    assert a["agree"] and a["loop_trades"] == a["n_trades"] == 20_000
    assert max(a["relative_cost_differences"].values()) <= 1e-6
    assert a["loop_total_cost"] == pytest.approx(a["replay_total_cost"], rel=1e-9)
    assert {r["method"] for r in a["rows"]} == {"replay(book, market, world)", "maker.price_path(q0, deltas)"}
    assert all(r["result"] in ("PASS", "FAIL") and r["ratio"] > 0 for r in a["rows"])
    rows = data["part_b"]["rows"]
    assert [r["n_atoms"] for r in rows] == [6, 10]
    assert all(r["agree"] and r["compared"] > 0 for r in rows)
    assert all(r["max_abs_mu_difference"] <= r["error_bound"] for r in rows)


@pytest.mark.slow
def test_inference_benchmark_smoke(tmp_path):
    proc, data = _smoke("inference.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Part A: EM and NUTS", "EM s", "ours ESS/s", "base ESS/s",
                 "ours/base", "first fit", "target", "result", "Part B: EM at scale", "seconds"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out
    rows = data["part_a"]["rows"]
    assert rows and all(r["agree"] and r["result"] in ("PASS", "FAIL") for r in rows)
    assert all(r["result"] == "PASS" for r in data["part_b"]["rows"])


@pytest.mark.slow
def test_gauge_benchmark_smoke(tmp_path):
    proc, data = _smoke("gauge.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Part A: gauge analysis", "ours s", "baseline s", "base/ours",
                 "gauge dim", "target", "result", "agree", "Part B: natural-latent errors", "max |diff| bits"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out
    a, b = data["part_a"]["rows"], data["part_b"]["rows"]
    assert [(r["K"], r["J"]) for r in a] == [(2, 3), (3, 4)]
    assert [r["order"] for r in a] == [2, 6] and [r["dimension"] for r in a] == [0, 1]
    assert [r["cells"] for r in b] == [256, 1024]
    assert all(r["agree"] and r["result"] == "PASS" for r in a + b)
    assert all(r["max_abs_difference"] <= 1e-9 for r in b)


@pytest.mark.slow
def test_induction_benchmark_smoke(tmp_path):
    proc, data = _smoke("induction.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Part A", "Part B", "Part C", "Part D", "package/ours", "target",
                 "result"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out
    assert data["part_d"] and all(r["result"] == "PASS" for r in data["part_d"])


def test_startup_benchmark_smoke(tmp_path):
    proc, data = _smoke("startup.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "load", "ours s", "floor s", "ours/floor", "target", "result",
                 "deepmarkets --help", "deepmarkets infer --method em", "deepmarkets check"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out
    rows = data["rows"]
    assert len(rows) == 3 and all(r["agree"] for r in rows)
    assert all(r["ours_s"] > 0 and r["floor_s"] > 0 for r in rows)
    assert [r["result"] in ("PASS", "FAIL") for r in rows] == [True, True, False]  # the check row has no target


def test_worlds_benchmark_smoke(tmp_path):
    proc, data = _smoke("worlds.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Exact weighted MaxSAT", "maxres s", "wmax s", "maxres/wmax",
                 "optima agree", "coherence", "arbitrage-free", "induction", "Theory.maximize"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out
    runs = data["runs"]
    assert len(runs) == 4 and all(r["agree"] and r["calls"] > 0 for r in runs)


@pytest.mark.slow
def test_economies_benchmark_smoke(tmp_path):
    proc, data = _smoke("economies.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Part A: invariants", "max |error|/money", "minted by bank",
                 "Part B: exact prices", "max |bid - reward|", "max |price - V*|",
                 "Part C: Blocks World n=3", "profit bids, vickrey, 1 clone", "adaptive bids, ccv, 1 clone", "random",
                 "greedy", "Q-learning", "mean |price - V*|",
                 "steps/optimal", "Spearman(price, V*)", "Part D: Hayek", "profit per win / R", "births", "deaths",
                 "Part E: Blocks World n=5", "Part F: Tower of Hanoi n=4", "moves / 15",
                 "Part G: speed", "loop/compiled", "loop/python", "same episodes", "Part H: pattern agents",
                 "5 declared pattern agents", "pattern economy learned, n=3", "Q-learning, n=3", "largest n solved"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out and "PASS" not in out.split("Part B")[1]  # targets are not judged in a smoke run
    # money is conserved at every step of every random economy (check=True raises otherwise)
    rows = data["part_a"]["rows"]
    assert [r["auction"] for r in rows] == ["first", "ccv", "vickrey"]
    assert all(r["failed"] == 0 and r["max_relative_error"] <= 1e-9 and r["steps_checked"] > 0 for r in rows)
    assert all(r["ok"] and r["failure"] is None for r in data["part_a"]["runs"])
    assert all(r["minted"] == 0 for r in data["part_a"]["runs"] if r["auction"] != "vickrey")
    # the per-agent loop plays exactly the economy's episodes
    g = data["part_g"]
    assert [r["n_blocks"] for r in g] == [3, 5]
    engines = ("compiled", "compiled_gini", "python")
    assert all(r[e]["agree"] and r[e]["first_difference"] is None for r in g for e in engines)
    assert all(r["episodes"] >= 1 and r["steps"] >= r["episodes"] for r in g)
    assert all(r[e]["agents"] == r["loop_agents"] for r in g for e in engines)
    # five declared pattern agents solve every episode, and nobody else enters
    assert all(r["success"] == 1.0 and r["agents"] == 5 for r in data["part_h"]["declared"])
    for rec in [*data["part_c"]["ccv"], *data["part_c"]["solitary"], *data["part_d"], data["part_f"]]:
        assert 0 <= rec["success"] <= 1 and (math.isnan(rec["spearman"]) or -1 <= rec["spearman"] <= 1)
        assert math.isnan(rec["steps_over_optimal"]) or rec["steps_over_optimal"] >= 1


def test_bria_benchmark_smoke(tmp_path):
    proc, data = _smoke("bria.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "date", "Part A: bandit", "BRIA 5/(n i^1.1)", "BRIA 1/(n i^2) (paper)",
                 "epsilon-greedy 0.1", "UCB1", "Thompson", "Part B: safe 0.40", "overpromisers' wins",
                 "Part C: prisoner's dilemma", "BRIA against BRIA", "Part D: speed", "loop/compiled", "loop/python",
                 "same rounds", "target", "result", "promise-major", "arm-major", "oracle (always arm 0.7)",
                 "share of seeds < 0.68", "neighbouring grids and schedules"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out and "PASS" not in out and "MISS" not in out  # targets are not judged in a smoke run
    a = data["part_a"]["rows"]
    assert a and all(r["overestimation"] <= r["allowance"] + 1e-9 for r in a)  # L_T <= the allowance handed out
    assert all(r["paper_arm_0.3_share"] == 1.0 for r in a)  # 1/(n i^2) never lets the arm-0.7 hypotheses bid 0.3
    assert all(0 <= r[k] <= 1 for r in a for k in ("bria", "paper", "epsilon_greedy", "ucb1", "thompson"))
    assert all(0 <= r["below_0.68"] <= 1 and r["min"] <= r["median"] for r in data["part_a"]["seeds"])
    for r in data["part_b"]["rows"]:
        assert 0 <= r["lottery_share"] <= 1 and 0 <= r["overpromisers_win_share"] <= 1
    assert all(0 <= r["min"] <= r["median"] <= 1 for r in data["part_b"]["sensitivity"])
    games = data["part_c"]["games"]
    assert games and all(abs(g["CC"] + g["CD"] + g["DC"] + g["DD"] - 1) < 1e-12 for g in games)
    d = data["part_d"]
    assert [r["hypotheses"] for r in d] == [1000, 10000]
    assert all(r["agree"] and r["rounds"] >= 1 and r["ratio"] > 0 and r["python_ratio"] > 0 for r in d)


@pytest.mark.slow
def test_layered_benchmark_smoke(tmp_path):
    pytest.importorskip("sklearn")
    proc, data = _smoke("layered.py", tmp_path)
    out = proc.stdout
    for text in ("python", "cpu_count", "Part A: EM traders alone", "Part B: wine", "BIC sklearn", "Part C: clustering",
                 "GMM full, true K=3", "k-means", "EM same structure", "Part D: a coarse layer", "Part E: Bishop",
                 "MDN", "Part F: bad traders", "max |payout|"):
        assert text in out, f"{text!r} missing from the output:\n{out}"
    assert "DISAGREE" not in out and "PASS" not in out and "MISS" not in out  # targets are not judged in a smoke run
    assert all(r["diff"] < 1e-3 for r in data["part_a"])                    # EM traders alone are EM
    assert all(r["rejected"] == r["bad_trades"] > 0 and r["gauge_max"] < 1e-12 for r in data["part_f"])
    for row in data["part_c"]:
        assert all(-1 <= v["ari"] <= 1 for v in row["baselines"].values())
        assert all(-1 <= r["cultivar"]["location"] <= 1 for e in row["markets"] for r in e["runs"])


def test_sweep_benchmark_smoke(tmp_path):
    proc, data = _smoke("sweep.py", tmp_path)
    for text in ("python", "cpu_count", "date", "tasks", "serial s", "cluster s", "serial/cluster", "tables agree"):
        assert text in proc.stdout, f"{text!r} missing from the output:\n{proc.stdout}"
    assert "DISAGREE" not in proc.stdout
    assert data["tasks"] == 6 and data["agree"] and data["failed"] == 0
    assert data["serial_seconds"] > 0 and data["cluster_seconds"] > 0
    assert data["ratio"] == data["serial_seconds"] / data["cluster_seconds"]


def test_big_book_benchmark_smoke(tmp_path):
    proc, data = _smoke("big_book.py", tmp_path)
    for text in ("python", "cpu_count", "date", "answers", "write s", "fit s", "peak GB", "cap GB", "iterations",
                 "partitioned fit vs truth", "vs fit_em"):
        assert text in proc.stdout, f"{text!r} missing from the output:\n{proc.stdout}"
    assert "DISAGREE" not in proc.stdout
    assert data["answers"] == 20_000 and data["partitions"] == 10 and data["converged"]
    assert data["subsample_partitioned_vs_fit_em"] <= 1e-9 and data["agree"] and data["within_cap"]
    assert 0 < data["peak_bytes"] <= data["cap_bytes"]
    assert list(tmp_path.glob("deepmarkets-big-book-*")) == []


@pytest.mark.slow
def test_scale_benchmark_smoke(tmp_path):
    proc, data = _smoke("scale.py", tmp_path)
    for text in ("python", "cpu_count", "date", "answers", "compile s", "sample s", "ESS/s", "vs pymc", "advi",
                 "target nutpie >= 2x PyMC's ESS/s"):
        assert text in proc.stdout, f"{text!r} missing from the output:\n{proc.stdout}"
    assert "DISAGREE" not in proc.stdout and "PASS" not in proc.stdout and "FAIL" not in proc.stdout
    rows = {r["backend"]: r for r in data["rows"]}
    assert set(rows) == {"pymc", "nutpie", "numpyro", "blackjax"}
    assert all(r["answers"] == 2_000 and r["sample_s"] > 0 and r["min_ess_bulk"] > 0 for r in rows.values())
    assert all(r["ess_per_s"] == pytest.approx(r["min_ess_bulk"] / r["sample_s"]) for r in rows.values())
    assert rows["pymc"]["vs_pymc"] == 1.0
    assert rows["nutpie"]["vs_pymc"] == pytest.approx(rows["nutpie"]["ess_per_s"] / rows["pymc"]["ess_per_s"])
    assert all(r["accuracy"] > 0.9 for r in [*rows.values(), *data["advi"]])
    assert data["nutpie_target_met"] is None  # not judged on a smoke run


def test_reports_benchmark_smoke(tmp_path):
    proc, data = _smoke("reports.py", tmp_path)
    for text in ("command", "--json s", "--report s", "extra s", "report/json", "page KiB", "data = --json"):
        assert text in proc.stdout, f"{text!r} missing from the output:\n{proc.stdout}"
    assert "DISAGREE" not in proc.stdout
    rows = {r["command"]: r for r in data["rows"]}
    assert set(rows) == {"check", "replay", "infer", "induct", "economy", "bria", "layered", "sweep"}
    for r in rows.values():
        assert r["agree"] and r["figures"] >= 1 and r["page_kib"] > 1
        assert r["ratio"] == r["report_seconds"] / r["json_seconds"]
