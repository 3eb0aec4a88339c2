"""``deepmarkets.sweep``: a Dask cluster gives the serial table, seeds are a pure function of the point, failed
tasks keep their rows, bad input is refused, and every built-in task keeps its invariants."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

import deepmarkets
from deepmarkets.errors import SweepError
from deepmarkets.helpers import cluster
from deepmarkets.sweeps import sweep, task_seed
from deepmarkets.sweeps.tasks import (
    coherence,
    economy,
    hypothesis_auction,
    induction,
    latent_market,
    layered_market,
)

GRID = {"n_atoms": [2, 3], "kind": ["exactly_one", "conjunctions"]}


@pytest.fixture(scope="module")
def client():
    """One local cluster of two single-threaded worker processes for the module."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local, \
            Client(local) as c:
        yield c


def _serial(fn, grid, **kw):
    return sweep(fn, grid, scheduler="serial", progressbar=False, **kw)


def _same(a: pd.DataFrame, b: pd.DataFrame, **kw) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), **kw)


def test_the_facade_exports_the_function_and_the_error():
    assert deepmarkets.sweep is sweep and deepmarkets.SweepError is SweepError


def test_a_two_worker_cluster_gives_the_serial_table(client):
    grid = {"means": [[0.2, 0.8], [0.5, 0.4]], "rounds": [200, 300]}
    on_cluster = sweep(hypothesis_auction, grid, scheduler=client, repeats=2, progressbar=False)
    serial = _serial(hypothesis_auction, grid, repeats=2)
    assert len(serial.table) == 8 and serial.n_failed == 0
    _same(on_cluster.table, serial.table)
    assert on_cluster.scheduler.startswith("dask tcp://") and serial.scheduler == "serial"
    # the scheduler's address is another way to the same cluster
    _same(sweep(coherence, GRID, scheduler=client.scheduler.address, progressbar=False).table,
          _serial(coherence, GRID).table)


def test_a_failing_task_leaves_every_other_row_intact(client):
    grid = {"n_atoms": [2, 3], "kind": ["exactly_one", "bogus", "conjunctions"]}
    with pytest.warns(UserWarning, match="4 of 12 sweep tasks failed; the first: DeclarationError: kind='bogus'"):
        result = sweep(coherence, grid, scheduler=client, repeats=2, progressbar=False)
    t = result.table
    assert result.n_failed == 4 and list(result.failed["kind"].unique()) == ["bogus"]
    assert result.failed["error"].str.startswith("DeclarationError: kind='bogus'").all()
    assert result.failed["max_profit"].isna().all()
    assert result.first_error.startswith("DeclarationError: kind='bogus'")
    # the rows that ran are exactly the rows of a sweep without the bad value: same seeds, same outputs
    good = t[t["error"].isna()].reset_index(drop=True)
    clean = _serial(coherence, GRID, repeats=2).table
    _same(good[clean.columns], clean, check_dtype=False)   # failed rows make bool and int columns object/float
    assert result.summary()["failed"].tolist() == [0, 2, 0, 0, 2, 0]


def test_the_default_scheduler_is_the_active_client(client):
    result = sweep(coherence, GRID, progressbar=False)
    assert result.scheduler == f"dask {client.scheduler.address}"
    _same(result.table, _serial(coherence, GRID).table)


def test_seeds_are_a_pure_function_of_the_point():
    table = _serial(coherence, GRID).table
    reordered = _serial(coherence, {"kind": ["conjunctions", "exactly_one"], "n_atoms": [3, 2]}).table
    by_point = {(r.n_atoms, r.kind): (r.seed, r.max_profit) for r in table.itertuples()}
    assert {(r.n_atoms, r.kind): (r.seed, r.max_profit) for r in reordered.itertuples()} == by_point
    # a list of points, reversed and with one point more, keeps every seed
    points = [{"kind": k, "n_atoms": n} for n in (2, 3, 4) for k in ("exactly_one", "conjunctions")][::-1]
    grown = _serial(coherence, points).table
    assert {(r.n_atoms, r.kind): r.seed for r in grown.itertuples() if r.n_atoms < 4} == \
        {k: v[0] for k, v in by_point.items()}
    assert table["seed"].tolist() == [task_seed({"n_atoms": r.n_atoms, "kind": r.kind}) for r in table.itertuples()]
    # the sweep's seed changes every task's seed; fixed parameters change none
    assert not set(_serial(coherence, GRID, seed=1).table["seed"]) & set(table["seed"])
    assert _serial(coherence, {"n_atoms": [2, 3]}, fixed={"decimals": 3}).table["seed"].tolist() == \
        [task_seed({"n_atoms": 2}), task_seed({"n_atoms": 3})]
    assert task_seed({"x": 1}) != task_seed({"x": 1.0}) and task_seed({"x": np.int64(1)}) == task_seed({"x": 1})


def test_repeats_get_distinct_seeds_and_their_own_draws():
    t = _serial(coherence, {"n_atoms": [3]}, repeats=5).table
    assert t["repeat"].tolist() == [0, 1, 2, 3, 4] and t["seed"].nunique() == 5
    assert t["price_sum"].nunique() > 1   # five uniform draws of three prices each are not all equal
    assert (t["seed"] >= 0).all() and (t["seed"] < 2**63).all()


def _scalar_task(x, rng):
    return x + 0.5


class _Record:
    def __init__(self, x):
        self.x = x

    def to_dict(self):
        return {"x2": 2 * self.x, "nested": {"a": 1}, "items": [1, 2]}


def test_what_a_task_may_return():
    assert _serial(_scalar_task, {"x": [1]}).table["value"].tolist() == [1.5]
    series = _serial(lambda x, rng: pd.Series({"y": x, "z": "t"}), {"x": [1, 2]}).table
    assert series[["y", "z"]].values.tolist() == [[1, "t"], [2, "t"]]
    frame = _serial(lambda x, rng: pd.DataFrame({"y": [x]}), {"x": [3]}).table
    assert frame["y"].tolist() == [3]
    record = _serial(lambda x, rng: _Record(x), {"x": [3]})
    assert record.outputs == ("x2",) and record.table["x2"].tolist() == [6]
    with pytest.warns(UserWarning, match="2 of 2 sweep tasks failed"):
        bad = _serial(lambda x, rng: {"y": [x]} if x else {"seed": 1}, {"x": [0, 1]})
    assert bad.table["error"].str.startswith("TypeError: the task returned").all()
    with pytest.warns(UserWarning, match="1 of 1 sweep tasks failed.*'x', which is a parameter of the grid"):
        clash = _serial(lambda x, rng: {"x": 10 * x, "y": x}, {"x": [2]})
    assert clash.table["x"].tolist() == [2] and clash.outputs == ()


def test_list_values_are_json_text_in_the_table_and_results_convert():
    result = _serial(hypothesis_auction, {"means": [[0.2, 0.8]], "rounds": [100, 200]}, repeats=2)
    assert result.table["means"].tolist() == ["[0.2,0.8]"] * 4
    ds = result.to_xarray()
    assert dict(ds.sizes) == {"means": 1, "rounds": 2, "repeat": 2}
    assert float(ds["average_reward"].isel(means=0).sel(rounds=100, repeat=1)) == result.table["average_reward"].iloc[1]
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["tasks"] == 4 and d["failed"] == 0 and len(d["rows"]) == 4 and d["rows"][0]["rounds"] == 100
    s = result.summary()
    assert s["tasks"].tolist() == [2, 2]
    assert s["average_reward"].iloc[0] == pytest.approx(result.table["average_reward"].iloc[:2].mean())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grid": {}}, "expected at least one parameter"),
    ({"grid": []}, "expected at least one point"),
    ({"grid": {"n_atoms": 3}}, r"expected a list of values, e.g. \[3\]"),
    ({"grid": {"kind": "conjunctions"}}, "expected a list of values"),
    ({"grid": {"n_atoms": []}}, "is empty"),
    ({"grid": {"seed": [1]}}, "reserved"),
    ({"grid": {"n-atoms": [1]}}, "identifier"),
    ({"grid": {"n_atoms": [object()]}}, "written as JSON"),
    ({"grid": {"n_atoms": [math.nan]}}, "finite number"),
    ({"grid": [{"n_atoms": 2}, {"n_atoms": 2}]}, "given twice"),
    ({"grid": [3]}, "table of parameter"),
    ({"grid": "n_atoms"}, "expected a table"),
    ({"fn": "coherence"}, "expected a callable"),
    ({"scheduler": "threads"}, "expected None or 'local'"),
    ({"seed": -1}, "seed=-1"),
    ({"repeats": 0}, "repeats=0"),
    ({"fixed": {"n_atoms": 3}}, "both swept and fixed"),
    ({"fixed": [1]}, "fixed="),
])
def test_bad_input_is_refused_before_any_work(kwargs, message):
    args = {"fn": coherence, "grid": {"n_atoms": [2]}, "scheduler": "serial", "progressbar": False, **kwargs}
    fn, grid = args.pop("fn"), args.pop("grid")
    with pytest.raises(SweepError, match=message):
        sweep(fn, grid, **args)


def test_an_unreachable_scheduler_is_reported_within_the_timeout(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    with pytest.raises(SweepError, match="no Dask scheduler answered within 1 s"):
        sweep(coherence, {"n_atoms": [2]}, scheduler="tcp://127.0.0.1:9", progressbar=False)


# built-in tasks: a tiny grid each, and an invariant that a wrong simulation would break -----------------------
def test_economy_conserves_credit_and_only_vickrey_mints():
    t = _serial(economy, {"auction": ["ccv", "vickrey", "first"], "clones": [1, 2]},
                fixed={"environment": "chain", "env_n_states": 4, "episodes": 60, "gamma": 0.9}).table
    assert t["error"].isna().all() and t["credit_conserved"].all()
    assert (t.loc[t["auction"] != "vickrey", "minted"] == 0).all()
    assert t[["success_rate", "final_success_rate"]].stack().between(0, 1).all()


def test_hypothesis_auction_never_overestimates_beyond_its_allowance():
    t = _serial(hypothesis_auction, {"means": [[0.2, 0.8], [0.6, 0.5, 0.4]], "c": [1.0, 5.0]},
                fixed={"rounds": 400}).table
    assert (t["overestimation"] <= t["total_allowance"]).all()
    assert (t["identity_error"].abs() <= 1e-9 * t["total_allowance"]).all()
    assert t["average_reward"].between(0, 1).all()


def test_induction_prices_pass_the_exact_check():
    t = _serial(induction, {"days": [3, 5]}, repeats=2).table
    assert t["error"].isna().all() and (t["max_residual_ratio"] <= 1).all()
    assert ((0 <= t["min_price"]) & (t["min_price"] <= t["max_price"]) & (t["max_price"] <= 1)).all()


def test_latent_market_payouts_telescope():
    t = _serial(latent_market, {"classes": [2, 3]}, fixed={"traders": 3, "cases_per_trader": 20, "rounds": 1}).table
    assert t["payouts_conserved"].all() and (t["kl_final"] >= -1e-12).all() and (t["kl_initial"] >= -1e-12).all()
    assert np.allclose(t["maker_loss"], t["telescoped"], rtol=1e-9)


def test_layered_market_ledger_balances_within_the_state_limit():
    t = _serial(layered_market, {"rent": ["bic", "aic"]}, fixed={"n": 120, "rounds": 3, "max_states": 4},
                repeats=2).table
    assert t["error"].isna().all()
    assert (t["ledger_balance"].abs() < 1e-9).all()
    assert t["states"].between(1, 4).all() and np.isfinite(t["held_out_log_score"]).all()
    assert t["ari"].between(-1, 1).all()


def test_coherence_profit_is_the_distance_to_the_simplex_and_bounds_frechet():
    t = _serial(coherence, GRID, repeats=4).table
    one = t[t["kind"] == "exactly_one"]
    # under "exactly one holds", the L1 distance to coherent prices is |sum - 1|
    assert np.allclose(one["max_profit"], (one["price_sum"] - 1).abs(), atol=1e-12)
    assert (one["coherent"] == (one["price_sum"].round(9) == 1)).all()
    conj = t[t["kind"] == "conjunctions"]
    # a Fréchet violation is a Dutch book, so the best book wins at least as much
    assert (conj["max_profit"] >= conj["frechet_violation"] - 1e-12).all()
    assert not conj.loc[conj["frechet_violation"] > 0, "coherent"].any()


def _exits(x, rng):
    if x == 2:
        sys.exit(3)
    return {"y": x}


def test_a_task_that_exits_fails_its_row_and_the_sweep_goes_on():
    with pytest.warns(UserWarning, match="1 of 3 sweep tasks failed; the first: SystemExit: 3"):
        result = _serial(_exits, {"x": [1, 2, 3]})
    assert result.table["y"].tolist()[::2] == [1, 3] and result.n_failed == 1
