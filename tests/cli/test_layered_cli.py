"""``deepmarkets layered``: a CSV fitted end to end, its JSON and plot, and bad input refused with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepmarkets.cli import main


@pytest.fixture
def three_clusters(tmp_path):
    rng = np.random.default_rng(0)
    centres = {"a": (-6, 0, 100), "b": (6, 0, 200), "c": (0, 8, 300)}
    rows = [(*rng.normal(c[:2], 1.0), c[2] + rng.normal(0, 10), name) for name, c in centres.items() for _ in range(50)]
    path = tmp_path / "clusters.csv"
    pd.DataFrame(rows, columns=["u", "v", "w", "kind"]).to_csv(path, index=False)
    return path


def test_the_states_found_are_the_clusters(three_clusters, tmp_path, capsys):
    png = tmp_path / "layered.png"
    assert main(["layered", str(three_clusters), "--labels", "kind", "--rounds", "8", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "location states 3, no coarse layer" in out and "adjusted Rand index (location states vs kind): 1.000" in out
    assert "entrepreneur" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_is_the_markets_summary(three_clusters, capsys):
    args = ["layered", str(three_clusters), "--labels", "kind", "--rounds", "8", "--json", "--columns", "u,v"]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["columns"] == ["u", "v"] and d["state"]["emission"] == "diag" and len(d["state"]["weights"]) == 3
    assert d["adjusted_rand_index"] == {"location": 1.0} and abs(sum(d["accounts"].values())) < 1e-9
    assert d["history"][-1]["states"] == 3 and d["rent"] == "bic"


def test_a_coarse_layer_is_reported_with_its_children(three_clusters, capsys):
    assert main(["layered", str(three_clusters), "--labels", "kind", "--rounds", "8", "--layer", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # three clusters of one shape: one shape state is enough, and its children are the three states
    assert d["state"]["layered"] and len(d["children"]) == 1 and len(next(iter(d["children"].values()))) == 3
    assert d["adjusted_rand_index"]["location"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["--labels", "nope"], "no such column"),
    (["--columns", "u,zz"], "unknown columns"),
    (["--columns", "kind"], "not numeric"),
])
def test_bad_input_is_refused_and_nothing_is_written(three_clusters, tmp_path, capsys, args, message):
    png = tmp_path / "out.png"
    assert main(["layered", str(three_clusters), *args, "--plot", str(png)]) == 2
    assert message in capsys.readouterr().err and not png.exists()


def test_missing_values_and_bad_files_are_refused(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n" + "1,2\n3,\n5,6\n" * 5)
    assert main(["layered", str(path)]) == 2
    assert "NaN" in capsys.readouterr().err
    assert main(["layered", str(tmp_path / "absent.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["layered", str(path), "--plot", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


def test_built_in_wine_is_compared_with_its_cultivars(capsys):
    pytest.importorskip("sklearn")
    assert main(["layered", "wine", "--rounds", "6", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n"] == 178 and len(d["state"]["weights"]) == 4 and 0 < d["adjusted_rand_index"]["location"] < 1
    assert main(["layered", "wine", "--labels", "region"]) == 2
    assert "cultivar" in capsys.readouterr().err


def test_answers_are_fitted_as_a_latent_class_model(tmp_path, capsys):
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, 150)
    answers = {f"q{j}": np.where(rng.random(150) < np.where(z == 1, 0.9, 0.1), "yes", "no") for j in range(5)}
    path = tmp_path / "answers.csv"
    pd.DataFrame({**answers, "group": z}).to_csv(path, index=False)
    args = ["layered", str(path), "--emission", "categorical", "--labels", "group", "--json", "--rounds", "6"]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["state"]["emission"] == "categorical" and len(d["state"]["weights"]) == 2
    assert d["columns"] == [f"q{j}" for j in range(5)] and d["adjusted_rand_index"]["location"] > 0.6
