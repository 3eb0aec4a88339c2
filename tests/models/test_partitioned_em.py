"""Map-reduce EM over partitioned books: the in-memory EM's answer to 1e-9, whatever the partitions; a local
cluster gives the synchronous path's answer; bad input is refused before anything is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")

from deepmarkets.errors import BookError, DeclarationError, InferenceError  # noqa: E402
from deepmarkets.models.data import Reports  # noqa: E402
from deepmarkets.models.em import fit_em  # noqa: E402
from deepmarkets.models.infer import infer  # noqa: E402
from deepmarkets.models.partitioned import PartitionedFit, fit_partitioned  # noqa: E402
from deepmarkets.models.simulate import simulate_reports  # noqa: E402

TOL = 1e-9


def _book(model: str, seed: int = 1) -> pd.DataFrame:
    """A simulated book with missing answers, rows in random order (so questions straddle any row split)."""
    book, _, _ = simulate_reports(240, 6, classes=3, model=model, missing=0.2, rng=seed)
    return book.frame.sample(frac=1, random_state=seed).reset_index(drop=True)


def _write(frame: pd.DataFrame, folder, cuts: list[int]) -> None:
    folder.mkdir(exist_ok=True)
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(frame)], strict=True)):
        frame.iloc[a:b].to_parquet(folder / f"part-{i:03d}.parquet")


def _assert_same(fit: PartitionedFit, ref) -> None:
    assert fit.model == ref.model and fit.classes.tolist() == ref.classes.tolist()
    assert fit.traders.tolist() == ref.reports.traders.tolist()
    assert fit.answer_labels.tolist() == ref.reports.labels.tolist()
    assert [lv.tolist() for lv in fit.levels] == [lv.tolist() for lv in ref.reports.levels]
    assert abs(fit.loglik - ref.loglik) <= TOL
    np.testing.assert_allclose(fit.restarts_loglik, ref.restarts_loglik, rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.class_shares, ref.class_shares, rtol=0, atol=TOL)
    for a, b in zip(fit.response, ref.response, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    assert (fit.n_iter, fit.converged, fit.n_parameters) == (ref.n_iter, ref.converged, ref.n_parameters)
    assert (fit.n_questions, fit.n_answers) == (ref.reports.n_questions, ref.reports.n_answers)
    assert fit.bic == pytest.approx(ref.bic, abs=1e-6)
    pd.testing.assert_series_equal(fit.reliability(), ref.reliability(), atol=TOL, rtol=0)
    mine = fit.labels().compute().set_index("question").loc[ref.reports.questions]
    theirs = ref.labels().set_index("question")
    assert mine["label"].tolist() == theirs["label"].tolist()
    np.testing.assert_allclose(mine["probability"], theirs["probability"], rtol=0, atol=TOL)


@pytest.mark.parametrize("model,classes,restarts", [("dawid-skene", None, 1), ("lca", 3, 4)])
@pytest.mark.parametrize("cuts", [[], [700], [101, 333, 500, 901]], ids=["1 part", "2 parts", "5 parts"])
def test_parquet_folder_gives_fit_em_answer_to_1e_9(tmp_path, model, classes, restarts, cuts):
    """Same starts (the vote for Dawid-Skene; lca's random tables from the same seed): same estimate, with the
    rows cut anywhere (questions straddle the cuts, so the book is shuffled by question first)."""
    frame = _book(model)
    _write(frame, tmp_path / "book", cuts)
    ref = fit_em(Reports.from_frame(frame), model=model, classes=classes, restarts=restarts, rng=7,
                 progressbar=False)
    fit = fit_partitioned(tmp_path / "book", model=model, classes=classes, restarts=restarts, rng=7,
                          scheduler="synchronous", progressbar=False)
    assert fit.n_partitions == len(cuts) + 1 and fit.shuffled == bool(cuts)
    _assert_same(fit, ref)


def test_questions_in_one_partition_each_are_not_shuffled(tmp_path):
    frame = _book("dawid-skene").sort_values("question", kind="stable").reset_index(drop=True)
    questions = frame["question"].drop_duplicates().to_numpy()
    cuts = [int(np.flatnonzero(frame["question"] == questions[k])[0]) for k in (60, 150)]
    _write(frame, tmp_path / "book", cuts)
    fit = fit_partitioned(tmp_path / "book", restarts=1, rng=0, scheduler="synchronous", progressbar=False)
    assert not fit.shuffled
    _assert_same(fit, fit_em(Reports.from_frame(frame), model="dawid-skene", classes=None, restarts=1, rng=0,
                             progressbar=False))


def test_dawid_skene_restarts_do_not_depend_on_the_partitions_and_keep_the_vote_start(tmp_path):
    frame = _book("dawid-skene", seed=4)
    one = fit_partitioned(dd.from_pandas(frame, npartitions=1), restarts=5, rng=3, scheduler="synchronous",
                          progressbar=False)
    four = fit_partitioned(dd.from_pandas(frame, npartitions=4, sort=False), restarts=5, rng=3,
                           scheduler="synchronous", progressbar=False)
    np.testing.assert_allclose(one.restarts_loglik, four.restarts_loglik, rtol=0, atol=TOL)
    for a, b in zip(one.response, four.response, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    vote = fit_em(Reports.from_frame(frame), model="dawid-skene", classes=None, restarts=1, rng=0,
                  progressbar=False)
    assert four.restarts_loglik[0] == pytest.approx(vote.loglik, abs=TOL)  # start 0 is fit_em's start 0
    assert four.loglik == max(four.restarts_loglik) >= vote.loglik - TOL


def test_repeated_reports_count_as_evidence_with_repeats(tmp_path):
    frame = _book("dawid-skene")
    doubled = pd.concat([frame, frame.iloc[:300]], ignore_index=True)
    with pytest.raises(BookError, match="more than once.*repeats=True"):
        fit_partitioned(dd.from_pandas(doubled, npartitions=3, sort=False), restarts=1, scheduler="synchronous",
                        progressbar=False)
    fit = fit_partitioned(dd.from_pandas(doubled, npartitions=3, sort=False), restarts=1, repeats=True,
                          scheduler="synchronous", progressbar=False)
    _assert_same(fit, fit_em(Reports.from_frame(doubled, repeats=True), model="dawid-skene", classes=None,
                             restarts=1, rng=0, progressbar=False))


def test_local_cluster_gives_the_synchronous_answer(tmp_path):
    distributed = pytest.importorskip("distributed")
    frame = _book("dawid-skene", seed=2)
    _write(frame, tmp_path / "book", [400, 800])
    alone = fit_partitioned(tmp_path / "book", restarts=2, rng=1, scheduler="synchronous", progressbar=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        fit = fit_partitioned(tmp_path / "book", restarts=2, rng=1, scheduler=client, progressbar=False)
        fit.write_labels(tmp_path / "labels", scheduler=client)
    assert abs(fit.loglik - alone.loglik) <= TOL and fit.n_iter == alone.n_iter
    for a, b in zip(fit.response, alone.response, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    written = pd.read_parquet(tmp_path / "labels").sort_values("question").reset_index(drop=True)
    expected = alone.labels().compute().sort_values("question").reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, atol=TOL)


def test_infer_dispatches_folders_and_dask_frames(tmp_path):
    frame = _book("dawid-skene")
    _write(frame, tmp_path / "book", [500])
    fit = infer(tmp_path / "book", restarts=1, rng=0, progressbar=False, scheduler="synchronous")
    assert isinstance(fit, PartitionedFit) and fit.method == "em"
    d = fit.to_dict()
    assert d["n_partitions"] == 2 and d["n_answers"] == len(frame) and d["diagnostics"] is None
    assert set(d) >= {"loglik", "class_shares", "traders", "bic", "n_iter", "converged", "restarts_loglik"}
    assert "over 2 partitions" in repr(fit) and "converged" in repr(fit)
    same = infer(dd.from_pandas(frame, npartitions=2, sort=False), restarts=1, rng=0, progressbar=False)
    assert abs(same.loglik - fit.loglik) <= TOL
    with pytest.raises(InferenceError, match="map-reduce EM only"):
        infer(tmp_path / "book", method="nuts")
    with pytest.raises(InferenceError, match="scheduler=.*fitted in memory"):
        infer(frame, scheduler="synchronous")


def test_labels_to_csv_and_parquet_appear_whole(tmp_path):
    frame = _book("dawid-skene")
    fit = fit_partitioned(dd.from_pandas(frame, npartitions=3, sort=False), restarts=1, scheduler="synchronous",
                          progressbar=False)
    fit.write_labels(tmp_path / "labels.csv")
    table = pd.read_csv(tmp_path / "labels.csv", dtype={"question": str, "label": str})
    assert list(table.columns) == ["question", "label", "probability"] and len(table) == fit.n_questions
    assert sorted(table["question"]) == sorted(frame["question"].unique())
    (tmp_path / "taken").mkdir()
    with pytest.raises(DeclarationError, match="exists"):
        fit.write_labels(tmp_path / "taken")
    fit.close()
    with pytest.raises(InferenceError, match="closed"):
        fit.labels()


@pytest.mark.parametrize("make,error,match", [
    (lambda p: p / "missing", BookError, "no such folder"),
    (lambda p: _parquet(p, None), BookError, "no Parquet files"),
    (lambda p: _parquet(p, pd.DataFrame({"question": ["q1"], "who": ["a"], "answer": ["x"]})), BookError,
     "no column for trader"),
    (lambda p: _two_files(p, ["question", "trader", "answer"], ["item", "worker", "label"]), BookError,
     r"part-1.parquet has the columns \['item', 'worker', 'label'\].*needs the same columns"),
    (lambda p: _parquet(p, pd.DataFrame({"question": pd.Series([], dtype=str), "trader": pd.Series([], dtype=str),
                                         "answer": pd.Series([], dtype=str)})), BookError, "no rows"),
    (lambda p: _parquet(p, pd.DataFrame({"question": ["q1", "q2"], "trader": ["a", "a"], "answer": ["x", None]})),
     BookError, "partition 1 of the book.*missing"),
    (lambda p: _parquet(p, pd.DataFrame({"question": ["q1", "q2", "q2"], "trader": ["a", "a", "b"],
                                         "answer": ["x", "x", "x"]})), InferenceError, "one label"),
    (lambda p: _parquet(p, pd.DataFrame({"question": ["q1", "q2"], "trader": ["a", "b"], "probability": [0.2, 0.7]})),
     InferenceError, "forecast"),
])
def test_bad_books_are_refused_and_leave_no_cache(tmp_path, make, error, match):
    cache = tmp_path / "cache"
    cache.mkdir()
    book = make(tmp_path / "book")
    with pytest.raises(error, match=match):
        fit_partitioned(book, restarts=1, scheduler="synchronous", cache=cache, progressbar=False)
    assert list(cache.iterdir()) == []


def _parquet(folder, frame):
    folder.mkdir(exist_ok=True)
    if frame is not None:
        frame.to_parquet(folder / "part-0.parquet")
    return folder


def _two_files(folder, first, second):
    """Two Parquet files whose columns differ (their rows alike otherwise)."""
    folder.mkdir()
    for i, names in enumerate((first, second)):
        frame = pd.DataFrame({"question": [f"q{i}", f"q{i}"], "trader": ["a", "b"], "answer": ["x", "y"]})
        frame.set_axis(names, axis=1).to_parquet(folder / f"part-{i}.parquet")
    return folder


def test_bad_arguments(tmp_path):
    frame = _book("lca")
    book = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(InferenceError, match="needs the number of latent classes"):
        fit_partitioned(book, model="lca", scheduler="synchronous", progressbar=False)
    with pytest.raises(InferenceError, match="fitted in memory only"):
        fit_partitioned(book, model="forecast", scheduler="synchronous", progressbar=False)
    with pytest.raises(InferenceError, match="scheduler=3; expected None, 'local'"):
        fit_partitioned(book, scheduler=3, progressbar=False)
    with pytest.raises(InferenceError, match="only 240 questions"):
        fit_partitioned(book, classes=241, scheduler="synchronous", progressbar=False)
