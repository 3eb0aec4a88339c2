"""A reports book in partitions, encoded once into a cache folder.

:func:`open_book` turns a Dask DataFrame or a folder of Parquet files into a Dask DataFrame with
the canonical columns ``question, trader, answer``. :func:`encode` reads every partition once:
it validates the rows exactly as :class:`~deepmarkets.beliefs.Book` does, codes questions,
traders and answers by integers local to the partition, and writes them (one row per distinct
(question, trader, answer) with its count) to the cache folder. The partitions' small
vocabularies are then merged into the book's (:class:`Vocabulary`) in the order
:class:`~deepmarkets.models.data.Reports` uses in memory: traders in order of first appearance
(partition by partition, row by row), labels sorted by :func:`~deepmarkets.models.data.sort_labels`,
each trader's levels the labels it used, in label order.

EM needs every question's answers in one partition. When a question straddles partitions
(detected from 64-bit hashes of the question ids, 8 bytes per question held by the client), the
book is shuffled by question once with Dask and encoded again; the vocabulary keeps the order
of the book as given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.errors import BookError, InferenceError
from deepmarkets.models.data import sort_labels

__all__ = ["open_book", "encode", "Vocabulary", "Encoded", "question_hashes"]

_CANONICAL = ("question", "trader", "answer")


def open_book(book: Any) -> tuple[Any, str, int | None]:
    """The book as a Dask DataFrame with columns ``question, trader, answer``.

    Parameters
    ----------
    book : dask.dataframe.DataFrame, str or os.PathLike
        A Dask DataFrame, or a folder holding ``*.parquet`` files (searched recursively; names
        starting with ``.`` or ``_`` are skipped), read in sorted path order.

    Returns
    -------
    (dask.dataframe.DataFrame, str, int or None)
        The frame, a description of the source for messages, and the number of rows when the
        Parquet footers tell it (None for a Dask DataFrame).

    Raises
    ------
    BookError
        For a missing folder, a file, a folder without Parquet files, unreadable files, or
        columns that do not name a question, a trader and an answer.
    """
    import dask.dataframe as dd

    rows = None
    if isinstance(book, dd.DataFrame):
        frame, source = book, "Dask DataFrame"
    elif isinstance(book, str | os.PathLike):
        path = Path(book)
        if not path.exists():
            raise BookError(f"{path}: no such folder; expected a folder of Parquet files (the working folder is "
                            f"{os.getcwd()})")
        if not path.is_dir():
            raise BookError(f"{path}: is a file; a partitioned book is a folder of Parquet files (give the folder, "
                            f"or fit one file in memory with infer(path))")
        files = sorted(p for p in path.rglob("*.parquet")
                       if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
        if not files:
            raise BookError(f"{path}: the folder holds no Parquet files (*.parquet); write the book there with "
                            f"pandas' or Dask's DataFrame.to_parquet, one file per partition")
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            footers = [pq.ParquetFile(f) for f in files]
            rows = sum(p.metadata.num_rows for p in footers)
            names = [[c for c in p.schema_arrow.names if not c.startswith("__index_level_")] for p in footers]
            frame = dd.read_parquet([str(f) for f in files])
        except (pa.ArrowException, OSError, ValueError) as err:
            raise BookError(f"{path}: cannot read the Parquet files ({type(err).__name__}: {err}); check that "
                            f"every *.parquet file is a complete Parquet file with the same columns") from None
        for f, cols in zip(files, names, strict=True):  # else Dask fails inside the fit with a KeyError
            if sorted(cols) != sorted(names[0]):
                raise BookError(f"{path}: {f.relative_to(path)} has the columns {cols}, but "
                                f"{files[0].relative_to(path)} has {names[0]}; every Parquet file of a partitioned "
                                f"book needs the same columns: rewrite the files with one set")
        source = str(path)
    else:
        raise BookError(f"a partitioned book is a Dask DataFrame or a folder of Parquet files, got a "
                        f"{type(book).__name__}")
    return _canonical_columns(frame, source), source, rows


def _canonical_columns(frame: Any, source: str) -> Any:
    """The question, trader and answer columns of ``frame`` under their canonical names."""
    from deepmarkets.beliefs.book import REPORT_COLUMNS

    names = [str(c) for c in frame.columns]
    found: dict[str, list[str]] = {}
    for c in frame.columns:
        for canon, aliases in REPORT_COLUMNS.items():
            if str(c).strip().casefold() in aliases:
                found.setdefault(canon, []).append(c)
    for canon, cols in found.items():
        if len(cols) > 1:
            raise BookError(f"{source}: the columns {cols[0]!r} and {cols[1]!r} both name the {canon} column "
                            f"(accepted names: {', '.join(REPORT_COLUMNS[canon])}); keep one of them")
    if "answer" not in found and "probability" in found:
        raise InferenceError(f"{source}: the book has probabilities and no answers; a partitioned book is fitted with "
                             f"the categorical models (dawid-skene, lca) only. Fit a forecast book in memory: "
                             f"infer(frame.compute())")
    missing = [c for c in _CANONICAL if c not in found]
    if missing:
        accepted = "; ".join(f"{c} (or {', '.join(REPORT_COLUMNS[c][1:])})" for c in missing)
        raise BookError(f"{source}: no column for {accepted}; columns found: {names}. Rename the columns to "
                        f"question, trader and answer")
    frame = frame[[found[c][0] for c in _CANONICAL]]
    return frame.rename(columns={found[c][0]: c for c in _CANONICAL})


def question_hashes(names: np.ndarray) -> np.ndarray:
    """64-bit hashes of question ids (pandas' SipHash with its fixed key: the same in every process)."""
    return pd.util.hash_array(np.asarray(names, dtype=object), categorize=False)


def _local_path(folder: str, index: int) -> str:
    return os.path.join(folder, f"local-{index:05d}.parquet")


def questions_path(folder: str, index: int) -> str:
    """The Parquet file of partition ``index``'s question ids, in the order of its local codes."""
    return os.path.join(folder, f"questions-{index:05d}.parquet")


def encode_partition(frame: pd.DataFrame, index: int, folder: str) -> dict[str, Any] | None:
    """Validate and encode one partition into ``folder``; a summary of it (None when it is empty).

    The summary holds the partition's traders (first appearance), answers, the (trader, answer)
    pairs used, the sorted hashes of its questions, its rows and questions, and the first
    question-trader pair answered twice (if any).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepmarkets.beliefs.book import Book

    if len(frame) == 0:
        return None
    try:
        book = Book.from_frame(frame.reset_index(drop=True), kind="reports").frame
    except BookError as err:
        raise BookError(f"partition {index + 1} of the book: {err}") from None
    q, q_names = pd.factorize(book["question"].to_numpy(object))
    t, t_names = pd.factorize(book["trader"].to_numpy(object))
    a, a_names = pd.factorize(book["answer"].to_numpy(object))
    n_t, n_a = len(t_names), len(a_names)
    cell = q.astype(np.int64) * n_t + t
    again = pd.Series(cell).duplicated().to_numpy()
    repeat = None
    if again.any():
        i = int(np.argmax(again))
        repeat = (int(len(cell) - len(np.unique(cell))), str(q_names[q[i]]), str(t_names[t[i]]))
    key, count = np.unique(cell * n_a + a, return_counts=True)
    pair = np.unique((key // n_a) % n_t * n_a + key % n_a)
    pq.write_table(pa.table({"q": (key // (n_t * n_a)).astype(np.int32), "t": ((key // n_a) % n_t).astype(np.int32),
                             "a": (key % n_a).astype(np.int32), "n": count.astype(np.int32)}),
                   _local_path(folder, index))
    pq.write_table(pa.table({"question": pa.array(np.asarray(q_names, dtype=object).astype(str))}),
                   questions_path(folder, index))
    return {"index": index, "traders": np.asarray(t_names, dtype=object).astype(str),
            "answers": np.asarray(a_names, dtype=object).astype(str), "pairs": (pair // n_a, pair % n_a),
            "hashes": np.unique(question_hashes(q_names)), "rows": len(frame), "questions": len(q_names),
            "repeat": repeat}


@dataclass(frozen=True)
class Vocabulary:
    """The book's traders, labels and levels, in the order :class:`~deepmarkets.models.data.Reports` gives.

    Attributes
    ----------
    traders : numpy.ndarray
        ``(J,)`` trader ids in order of first appearance.
    labels : numpy.ndarray
        ``(L,)`` the sorted answer labels.
    used : numpy.ndarray
        ``(J, L)`` bool: which labels each trader used (its LCA levels).
    """

    traders: np.ndarray
    labels: np.ndarray
    used: np.ndarray

    @property
    def levels(self) -> tuple[np.ndarray, ...]:
        """Each trader's levels: the labels it used, in label order."""
        return tuple(self.labels[row] for row in self.used)

    @property
    def n_levels(self) -> np.ndarray:
        """``(J,)`` number of levels per trader."""
        return self.used.sum(axis=1).astype(np.int64)

    def columns(self, model: str) -> np.ndarray:
        """``(J, L)`` design column of each (trader, label): ``j * L + l`` for Dawid–Skene, the trader's
        block offset plus the label's rank among its levels for lca (-1 where unused)."""
        J, L = self.used.shape
        if model == "dawid-skene":
            return np.arange(J * L, dtype=np.int64).reshape(J, L)
        return np.where(self.used, np.cumsum(self.used.ravel()).reshape(J, L) - 1, -1).astype(np.int64)


@dataclass
class Encoded:
    """A book encoded in a cache folder: its vocabulary and, per partition, the local-to-global maps."""

    folder: str
    vocabulary: Vocabulary
    parts: list[dict[str, Any]]  # index, traders (local -> global), labels (local -> global), rows, questions
    n_answers: int
    n_questions: int
    repeat: tuple[int, str, str] | None  # (pairs answered more than once, a question, a trader)
    shuffled: bool


def _run_encode(frame: Any, folder: str, compute: Any) -> list[dict[str, Any]]:
    import dask

    os.makedirs(folder, exist_ok=True)
    tasks = [dask.delayed(encode_partition)(part, i, folder) for i, part in enumerate(frame.to_delayed())]
    (summaries,) = dask.compute(tasks, scheduler=compute)
    return [s for s in summaries if s is not None]


def _straddles(summaries: list[dict[str, Any]]) -> bool:
    hashes = [s["hashes"] for s in summaries]
    return len(np.unique(np.concatenate(hashes))) < sum(len(h) for h in hashes)


def encode(frame: Any, folder: str, compute: Any, *, source: str) -> Encoded:
    """Encode every partition of ``frame`` (columns question, trader, answer) into ``folder``.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        From :func:`open_book`.
    folder : str
        An empty cache folder that every worker can read and write.
    compute : str or distributed.Client
        The Dask scheduler.
    source : str
        The book's description, for messages.

    Returns
    -------
    Encoded

    Raises
    ------
    BookError
        For an empty book, and for any row :class:`~deepmarkets.beliefs.Book` rejects.
    """
    first = _run_encode(frame, os.path.join(folder, "given"), compute)
    if not first:
        raise BookError(f"{source}: the book has no rows; expected one row per report question,trader,answer")
    traders = pd.unique(np.concatenate([s["traders"] for s in first]))
    summaries, shuffled = first, False
    if len(first) > 1 and _straddles(first):
        import shutil

        shutil.rmtree(os.path.join(folder, "given"), ignore_errors=True)
        # normalised ids hash alike in the shuffle: "q1", " q1" and the integer-looking 1 / "1" meet in one partition
        keyed = frame.assign(question=frame["question"].astype(str).str.strip())
        summaries = _run_encode(keyed.shuffle(on="question", npartitions=frame.npartitions),
                                os.path.join(folder, "byquestion"), compute)
        shuffled = True
        if _straddles(summaries):
            raise InferenceError(f"{source}: questions still straddle partitions after the shuffle by question; "
                                 f"this is a bug in deepmarkets, please report it")
    labels = sort_labels(np.concatenate([s["answers"] for s in summaries]))
    t_index, l_index = pd.Index(traders), pd.Index(labels)
    used = np.zeros((len(traders), len(labels)), dtype=bool)
    parts = []
    for s in summaries:
        tmap = t_index.get_indexer(s["traders"]).astype(np.int64)
        lmap = l_index.get_indexer(s["answers"]).astype(np.int64)
        used[tmap[s["pairs"][0]], lmap[s["pairs"][1]]] = True
        parts.append({"index": s["index"], "traders": tmap, "labels": lmap, "rows": s["rows"],
                      "questions": s["questions"],
                      "folder": os.path.join(folder, "byquestion" if shuffled else "given")})
    repeats = [s["repeat"] for s in summaries if s["repeat"] is not None]
    repeat = (sum(r[0] for r in repeats), repeats[0][1], repeats[0][2]) if repeats else None
    return Encoded(folder=folder, vocabulary=Vocabulary(np.asarray(traders, dtype=str), labels, used), parts=parts,
                   n_answers=sum(s["rows"] for s in summaries), n_questions=sum(s["questions"] for s in summaries),
                   repeat=repeat, shuffled=shuffled)


def read_local(part: dict[str, Any]) -> pd.DataFrame:
    """The encoded rows ``q, t, a, n`` of one partition (local codes, sorted by question)."""
    import pyarrow.parquet as pq

    return pq.read_table(_local_path(part["folder"], part["index"])).to_pandas()
