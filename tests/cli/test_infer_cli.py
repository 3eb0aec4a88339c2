"""``deepmarkets infer``: published numbers, JSON keys, the labels file, NUTS diagnostics, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepmarkets.cli import main
from deepmarkets.models.metrics import adjusted_rand_index
from deepmarkets.models.simulate import simulate_reports

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CARCINOMA = DATA / "poLCA" / "carcinoma.csv"


@pytest.fixture
def book_csv(tmp_path):
    book, truth, _ = simulate_reports(300, 6, classes=2, model="dawid-skene", rng=3)
    path = tmp_path / "book.csv"
    book.frame.rename(columns={"question": "item", "trader": "worker", "answer": "label"}).to_csv(path, index=False)
    return path, book, truth


def test_dawid_skene_labels_match_the_truth_and_json_has_the_documented_keys(book_csv, tmp_path, capsys):
    path, book, truth = book_csv
    labels = tmp_path / "labels.csv"
    assert main([ "infer", str(path), "--json", "--labels", str(labels)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"loglik", "class_shares", "traders", "diagnostics"} <= set(d)
    assert d["model"] == "dawid-skene" and d["diagnostics"] is None
    assert sum(d["class_shares"].values()) == pytest.approx(1.0)
    table = pd.read_csv(labels, dtype={"question": str, "label": str})
    assert list(table.columns) == ["question", "label", "probability"]
    assert ((table["probability"] >= 0.5) & (table["probability"] <= 1)).all()
    questions = book.frame["question"].drop_duplicates().tolist()
    inferred = table.set_index("question").loc[questions, "label"].astype(int).to_numpy() - 1
    assert adjusted_rand_index(inferred, truth) > 0.9


@pytest.mark.skipif(not CARCINOMA.exists(), reason="shared poLCA data absent")
def test_carcinoma_text_report_gives_the_published_loglik(capsys):
    assert main(["infer", str(CARCINOMA), "--wide", "--classes", "2"]) == 0
    out = capsys.readouterr().out
    assert "loglik -317.2568" in out
    assert "0.5012" in out and "0.4988" in out


def test_nuts_writes_a_posterior_and_reports_diagnostics(book_csv, tmp_path, capsys):
    path, _, _ = book_csv
    nc = tmp_path / "post.nc"
    code = main(["infer", str(path), "--method", "nuts", "--draws", "150", "--tune", "150", "--chains", "2",
                 "--posterior", str(nc), "--json"])
    d = json.loads(capsys.readouterr().out)
    diag = d["diagnostics"]
    assert {"max_rhat", "min_ess_bulk", "min_ess_tail", "divergences"} <= set(diag)
    # one rule for the command and the library: 100 per chain, so 200 with two chains
    ok = diag["max_rhat"] <= 1.01 and min(diag["min_ess_bulk"], diag["min_ess_tail"]) >= 200 \
        and not diag["divergences"]
    assert d["converged"] == ok
    assert code == (0 if ok else 1)
    import xarray as xr

    tree = xr.open_datatree(nc)
    assert "posterior" in tree.children
    assert np.isfinite(tree["posterior"].to_dataset().to_array()).all()


def test_nuts_on_another_backend_says_which(book_csv, capsys):
    path, _, _ = book_csv
    code = main(["infer", str(path), "--method", "nuts", "--backend", "numpyro", "--draws", "100", "--tune", "100",
                 "--chains", "2", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and d["method"] == "nuts" and d["diagnostics"]["backend"] == "numpyro"
    assert d["approximate"] is False and d["converged"] == (code == 0)


def test_advi_reports_an_approximate_fit(book_csv, tmp_path, capsys):
    path, _, truth = book_csv
    nc = tmp_path / "post.nc"
    code = main(["infer", str(path), "--method", "advi", "--batch-size", "32", "--iterations", "400",
                 "--draws", "100", "--posterior", str(nc)])
    out = capsys.readouterr().out
    assert code == 0
    assert "fit by ADVI (approximate posterior mean)" in out
    assert "ADVI (approximate; no R-hat or ESS): 400 iterations, minibatches of 32 of" in out
    import xarray as xr

    assert xr.open_datatree(nc)["posterior"].sizes["draw"] == 100


def test_a_missing_extra_exits_2_naming_it(book_csv, capsys, monkeypatch):
    import sys

    path, _, _ = book_csv
    monkeypatch.setitem(sys.modules, "nutpie", None)
    assert main(["infer", str(path), "--method", "nuts", "--backend", "nutpie"]) == 2
    assert "pip install 'deepmarkets[nutpie]'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--posterior", "x.nc"], "only --method nuts"),
    (["--backend", "nutpie"], "add --method nuts"),
    (["--batch-size", "10"], "add --method advi"),
    (["--iterations", "100"], "--iterations sets ADVI's optimisation steps; add --method advi"),
    (["--method", "advi", "--batch-size", "100000"], "batch_size=100000 but the book has only"),
    (["--method", "advi", "--iterations", "3"], "--iterations"),
    (["--labels", "labels.txt"], "ending in .csv"),
    (["--labels", "missing/labels.csv"], "does not exist"),
    (["--classes", "400"], "class"),
])
def test_bad_input_exits_2_and_writes_nothing(book_csv, tmp_path, capsys, monkeypatch, args, message):
    path, _, _ = book_csv
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["infer", str(path), *args]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unknown_columns_are_named(tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_text("patient,observer,rating\n1,a,1\n")
    assert main(["infer", str(path)]) == 2
    assert "columns found" in capsys.readouterr().err


def test_text_report_names_each_failure_of_the_convergence_rule():
    from deepmarkets.cli import _fit_report
    from deepmarkets.models.data import Reports
    from deepmarkets.models.fit import LatentClassFit

    r = Reports.from_frame(pd.DataFrame({"A": [1, 2], "B": [1, 1]}), wide=True)
    diag = {"chains": 2, "draws": 300, "max_rhat": 1.018, "min_ess_bulk": 299.0, "min_ess_tail": 150.0,
            "divergences": 0}
    fit = LatentClassFit(model="lca", method="nuts", reports=r, classes=np.array(["1", "2"]),
                         class_shares=np.array([0.5, 0.5]), response=(np.full((2, 2), 0.5), np.full((2, 1), 1.0)),
                         posterior=np.full((2, 2), 0.5), loglik=-3.0, n_parameters=5, n_iter=300, converged=False,
                         restarts_loglik=np.array([-3.0]), seconds=0.1, diagnostics=diag)
    text = _fit_report(fit, None, None)
    assert "max R-hat 1.018 > 1.01" in text and "min tail ESS 150 < 200" in text and "bulk ESS 299 <" not in text
    assert "bulk and tail ESS >= 100 per chain" in text


def test_an_empty_book_suggests_report_columns(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert main(["infer", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "the file is empty" in err and "question,trader,answer" in err and "security" not in err


def test_a_trader_answering_a_question_twice_is_bad_input_unless_repeats(tmp_path, capsys):
    book = tmp_path / "answers.csv"
    book.write_text("question,trader,answer\nq1,ann,yes\nq1,bob,no\nq2,ann,yes\nq1,ann,no\nq2,bob,yes\n",
                    encoding="utf-8")
    labels = tmp_path / "labels.csv"
    assert main(["infer", str(book), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert f"{book} row 4 (line 5): trader 'ann' reports on question 'q1' again (first in {book} row 1" in err
    assert "--repeats" in err and not labels.exists()
    assert main(["infer", str(book), "--repeats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_answers"] == 5


def test_a_folder_of_parquet_files_is_fitted_partition_by_partition(book_csv, tmp_path, capsys):
    from deepmarkets.models.data import Reports
    from deepmarkets.models.em import fit_em

    _, book, _ = book_csv
    frame = book.frame.sample(frac=1, random_state=0).reset_index(drop=True)
    folder = tmp_path / "book"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(folder / f"part-{i}.parquet")
    labels = tmp_path / "labels.csv"
    assert main(["infer", str(folder), "--restarts", "1", "--scheduler", "synchronous", "--json",
                 "--labels", str(labels)]) == 0
    d = json.loads(capsys.readouterr().out)
    ref = fit_em(Reports.from_frame(frame), model="dawid-skene", classes=None, restarts=1, rng=0, progressbar=False)
    assert d["n_partitions"] == 3 and d["loglik"] == pytest.approx(ref.loglik, abs=1e-9)
    assert d["class_shares"] == pytest.approx(dict(zip(ref.classes, ref.class_shares, strict=True)), abs=1e-9)
    table = pd.read_csv(labels, dtype={"question": str, "label": str}).set_index("question")
    expected = ref.labels().set_index("question")
    assert table.loc[expected.index, "label"].tolist() == expected["label"].tolist()


def test_a_folder_book_refuses_nuts_and_a_missing_folder(tmp_path, capsys):
    folder = tmp_path / "book"
    folder.mkdir()
    frame = pd.DataFrame({"question": ["q1", "q2"], "trader": ["a", "b"], "answer": ["x", "y"]})
    frame.to_parquet(folder / "p.parquet")
    labels = tmp_path / "labels.csv"
    assert main(["infer", str(folder), "--method", "nuts", "--labels", str(labels)]) == 2
    assert "map-reduce EM only" in capsys.readouterr().err and not labels.exists()
    assert main(["infer", str(tmp_path / "missing") + "/", "--scheduler", "synchronous"]) == 2
    assert "no such folder" in capsys.readouterr().err
