"""Reports books encoded as integer arrays for latent class inference.

A reports book has one row per (question, trader, answer); :class:`Reports` turns it into the
long integer arrays that the estimators work on: which question, which trader, and which answer
each row is, coded two ways. The *LCA code* indexes the levels that trader used (as poLCA does,
so traders may have different numbers of levels); the *Dawid–Skene code* indexes the sorted
union of all labels (answers and truth share one label set). Missing answers are simply absent
rows; a trader may answer a question more than once (each answer is evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepmarkets.errors import BookError, InferenceError
from deepmarkets.helpers import warn

__all__ = ["Reports", "sort_labels", "PROBABILITY_CLIP"]

#: Forecast probabilities of exactly 0 or 1 are moved this far inside (0, 1) (logit(1e-6) = -13.8).
PROBABILITY_CLIP = 1e-6

_INTEGER = re.compile(r"[+-]?\d+\Z")
_NA_TOKENS = frozenset({"nan", "na", "n/a", "null", "none"})
_QUESTION_NAMES = ("question", "item", "task", "question_id")


def _label_key(label: str) -> tuple[int, int, str]:
    if _INTEGER.match(label):
        return (0, int(label), label)
    return (1, 0, label)


def sort_labels(labels: Any) -> np.ndarray:
    """Sort answer labels: integer-looking ones numerically first ("2" < "10"), the rest as text.

    Parameters
    ----------
    labels : iterable of str

    Returns
    -------
    numpy.ndarray
        The sorted distinct labels (dtype str).

    Examples
    --------
    >>> sort_labels(["10", "2", "b", "a", "2"]).tolist()
    ['2', '10', 'a', 'b']
    """
    unique = {str(v) for v in labels}
    return np.array(sorted(unique, key=_label_key), dtype=str)


def _str_array(values: Any) -> np.ndarray:
    """A numpy ``str`` array (an empty one has dtype ``<U1``)."""
    out = np.asarray(list(values), dtype=str)
    return out if out.size else np.array([], dtype="<U1")


def _refuse_repeats(book: Any) -> None:
    """BookError naming the first trader who reports on one question twice, and both rows."""
    frame = book.frame
    again = frame.duplicated(["question", "trader"]).to_numpy()
    if not again.any():
        return
    i = int(np.argmax(again))
    q, t = frame["question"].iloc[i], frame["trader"].iloc[i]
    first = int(np.argmax(((frame["question"] == q) & (frame["trader"] == t)).to_numpy()))
    n_pairs = int(frame.loc[again, ["question", "trader"]].drop_duplicates().shape[0])
    raise BookError(
        f"{book.row_origin(i)}: trader {str(t)!r} reports on question {str(q)!r} again (first in "
        f"{book.row_origin(first)}; {n_pairs} question-trader pair{'s' if n_pairs != 1 else ''} reported more than "
        f"once); expected one report per trader and question. Keep one of them, or pass repeats=True "
        f"(deepmarkets infer --repeats) when they are replicate ratings that each count as evidence"
    )


@dataclass(frozen=True, eq=False)
class Reports:
    """A reports book as integer arrays: who answered what on which question.

    Attributes
    ----------
    questions : numpy.ndarray
        ``(Q,)`` question ids (str) in order of first appearance.
    traders : numpy.ndarray
        ``(J,)`` trader ids (str) in order of first appearance.
    labels : numpy.ndarray
        ``(L,)`` the sorted union of all answer labels (the Dawid–Skene label set); integer-looking
        labels sort numerically (see :func:`sort_labels`). Empty for a book of probabilities only.
    levels : tuple of numpy.ndarray
        For each trader, the sorted labels that trader used (its LCA levels, as in poLCA).
    question, trader : numpy.ndarray
        ``(N,)`` int64 index into ``questions`` and ``traders``, one entry per report.
    answer : numpy.ndarray
        ``(N,)`` int64 index into ``levels[trader[n]]`` (the LCA code); -1 where the report has no answer.
    label : numpy.ndarray
        ``(N,)`` int64 index into ``labels`` (the Dawid–Skene code); -1 where the report has no answer.
    probability : numpy.ndarray or None
        ``(N,)`` float64 quoted probabilities in (0, 1) for a book of forecasts (NaN where a row
        has an answer but no probability), else None. Probabilities of exactly 0 or 1 are moved
        :data:`PROBABILITY_CLIP` inside, with a warning.

    Examples
    --------
    >>> import pandas as pd
    >>> r = Reports.from_frame(pd.DataFrame({"question": ["q1", "q1", "q2"], "trader": ["ann", "bob", "ann"],
    ...                                      "answer": ["yes", "no", "no"]}))
    >>> r
    Reports(2 questions, 2 traders, 3 answers, labels ['no', 'yes'])
    >>> r.wide().tolist()
    [[1, 0], [0, -1]]
    """

    questions: np.ndarray
    traders: np.ndarray
    labels: np.ndarray
    levels: tuple[np.ndarray, ...]
    question: np.ndarray
    trader: np.ndarray
    answer: np.ndarray
    label: np.ndarray
    probability: np.ndarray | None = None

    # -- constructors ----------------------------------------------------------

    @classmethod
    def from_book(cls, book: Any, *, repeats: bool = False) -> Reports:
        """Encode a :class:`deepmarkets.beliefs.Book` of kind ``"reports"``.

        Parameters
        ----------
        book : deepmarkets.beliefs.Book
            A reports book (columns question, trader and answer and/or probability).
        repeats : bool, default False
            Accept several reports of one trader on one question (replicate ratings, as in Dawid
            and Skene's data; each counts as evidence). Without it they are an error.

        Returns
        -------
        Reports

        Raises
        ------
        BookError
            If ``book`` is not a reports book, or (without ``repeats``) a trader reports on one
            question twice.

        Examples
        --------
        >>> from deepmarkets.beliefs import Book
        >>> book = Book.from_records([{"item": 1, "worker": "w1", "label": 3},
        ...                           {"item": 1, "worker": "w2", "label": 10}])
        >>> Reports.from_book(book).labels.tolist()
        ['3', '10']
        """
        from deepmarkets.beliefs.book import Book

        if not isinstance(book, Book):
            raise BookError(
                f"Reports.from_book takes a deepmarkets Book of reports, got a {type(book).__name__}; "
                f"use Reports.from_frame for a pandas DataFrame or Book.read for a file"
            )
        if book.kind != "reports":
            raise BookError(
                "Reports.from_book needs a reports book (columns question, trader, answer or probability), "
                "got a trades book; read the file with Book.read(path, kind='reports')"
            )
        frame = book.frame
        if not repeats:
            _refuse_repeats(book)
        answers = frame["answer"].to_numpy(object) if "answer" in frame.columns else None
        probs = frame["probability"].to_numpy(np.float64, na_value=np.nan) if "probability" in frame.columns else None
        return cls._encode(
            frame["question"].to_numpy(object), frame["trader"].to_numpy(object), answers, probs,
            source=book.source or "book",
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, wide: bool = False, repeats: bool = False) -> Reports:
        """Encode a pandas DataFrame in long or wide layout.

        Parameters
        ----------
        frame : pandas.DataFrame
            Long (``wide=False``): one row per report, columns ``question, trader, answer`` and/or
            ``probability`` (the aliases of :class:`~deepmarkets.beliefs.Book` are accepted; the
            frame is validated as a Book). Wide (``wide=True``): one row per question and one
            column per trader; an optional column named ``question`` (or ``item``, ``task``,
            ``question_id``) holds the question ids, else questions are the row numbers
            ``"1"..."Q"``. Empty cells, NaN and the text ``na``/``nan``/``null``/``none`` are
            missing answers.
        wide : bool, default False
        repeats : bool, default False
            Long layout: accept several reports of one trader on one question (see :meth:`from_book`).

        Returns
        -------
        Reports

        Raises
        ------
        BookError
            For a cell that is not a label (a fraction, a boolean), duplicate trader columns,
            no answers at all, or (long layout) anything :class:`~deepmarkets.beliefs.Book` rejects.

        Examples
        --------
        >>> import pandas as pd
        >>> wide = pd.DataFrame({"A": [1, 2, 2], "B": [1, None, 2]})
        >>> r = Reports.from_frame(wide, wide=True)
        >>> r.questions.tolist(), r.n_answers
        (['1', '2', '3'], 5)
        """
        if not isinstance(frame, pd.DataFrame):
            raise BookError(f"Reports.from_frame takes a pandas DataFrame, got a {type(frame).__name__}")
        if not wide:
            from deepmarkets.beliefs.book import Book

            return cls.from_book(Book.from_frame(frame, kind="reports"), repeats=repeats)
        return cls._from_wide(frame)

    @classmethod
    def _from_wide(cls, frame: pd.DataFrame) -> Reports:
        if len(frame) == 0:
            raise BookError("wide frame: no rows; expected one row per question and one column per trader")
        names = [str(c).strip() for c in frame.columns]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise BookError(f"wide frame: the column {dup!r} appears twice; each trader needs one column")
        qcols = [i for i, n in enumerate(names) if n.casefold() in _QUESTION_NAMES]
        if len(qcols) > 1:
            raise BookError(
                f"wide frame: the columns {[names[i] for i in qcols]} all name the questions; keep one of them"
            )
        if qcols:
            qcol = frame.iloc[:, qcols[0]]
            qids = _wide_cells(qcol, names[qcols[0]])
            missing = [i for i, v in enumerate(qids) if v is None]
            if missing:
                raise BookError(
                    f"wide frame: row {missing[0] + 1}, column {names[qcols[0]]!r}: the question id is missing; "
                    f"fill it in or remove the row"
                )
            if len(set(qids)) != len(qids):
                dup = next(q for q in qids if qids.count(q) > 1)
                raise BookError(
                    f"wide frame: question {dup!r} has two rows; a wide table has one row per question "
                    f"(use the long layout question,trader,answer with repeats=True for replicate answers)"
                )
        else:
            qids = [str(i + 1) for i in range(len(frame))]
        trader_cols = [i for i in range(len(names)) if not qcols or i != qcols[0]]
        if not trader_cols:
            raise BookError("wide frame: no trader columns; expected one column of answers per trader")
        q_idx: list[np.ndarray] = []
        t_names: list[np.ndarray] = []
        answers: list[np.ndarray] = []
        for i in trader_cols:
            cells = _wide_cells(frame.iloc[:, i], names[i])
            present = np.array([v is not None for v in cells], dtype=bool)
            rows = np.flatnonzero(present)
            vals = np.array(cells, dtype=object)[rows]
            if len(rows) == len(frame) and len(frame) >= 20 and len(set(vals.tolist())) == len(frame):
                warn(
                    f"wide frame: column {names[i]!r} has a different value in every row, so it looks like an id "
                    f"column, not a trader's answers; rename it to 'question' if it names the questions, or drop it"
                )
            q_idx.append(rows)
            t_names.append(np.full(len(rows), names[i], dtype=object))
            answers.append(vals)
        if not any(len(a) for a in answers):
            raise BookError("wide frame: every cell is empty; expected at least one answer")
        # question-major order, so that questions keep the row order and traders the column order
        q_all = np.concatenate(q_idx)
        t_all = np.concatenate(t_names)
        a_all = np.concatenate(answers)
        col_all = np.concatenate([np.full(len(r), k) for k, r in enumerate(q_idx)])
        order = np.lexsort((col_all, q_all))
        qid_arr = np.asarray(qids, dtype=object)
        return cls._encode(
            qid_arr[q_all[order]], t_all[order], a_all[order], None, source="wide frame",
            questions=qid_arr, traders=np.asarray([names[i] for i in trader_cols], dtype=object),
        )

    @classmethod
    def _encode(cls, question_col: np.ndarray, trader_col: np.ndarray, answers: np.ndarray | None,
                probs: np.ndarray | None, *, source: str, questions: np.ndarray | None = None,
                traders: np.ndarray | None = None) -> Reports:
        """Integer codes from columns of names; ``questions``/``traders`` fix the order when given."""
        n = len(question_col)
        if n == 0:
            raise BookError(f"{source}: no reports; expected at least one row question,trader,answer")
        q_codes, q_names = _codes(question_col, questions)
        t_codes, t_names = _codes(trader_col, traders)
        if answers is None and probs is None:
            raise BookError(f"{source}: the reports have neither answers nor probabilities")
        if answers is not None:
            has = np.fromiter((isinstance(a, str) and a != "" for a in answers), dtype=bool, count=n)
        else:
            has = np.zeros(n, dtype=bool)
        label_code = np.full(n, -1, dtype=np.int64)
        answer_code = np.full(n, -1, dtype=np.int64)
        if has.any():
            present = np.asarray(answers, dtype=object)[has]
            uniq, inv = np.unique(present.astype(str), return_inverse=True)
            labels = sort_labels(uniq)
            rank = pd.Index(labels).get_indexer(uniq)
            label_code[has] = rank[inv.reshape(-1)]
            _warn_mixed_labels(labels, source)
        else:
            labels = np.array([], dtype="<U1")
        n_labels = max(len(labels), 1)
        J = len(t_names)
        levels: list[np.ndarray] = []
        if has.any():
            pair = t_codes[has] * n_labels + label_code[has]
            upairs, pinv = np.unique(pair, return_inverse=True)
            ptrader = upairs // n_labels
            first = np.searchsorted(ptrader, np.arange(J))
            rank_in_trader = np.arange(len(upairs)) - first[ptrader]
            answer_code[has] = rank_in_trader[pinv.reshape(-1)]
            stops = np.searchsorted(ptrader, np.arange(J), side="right")
            for j in range(J):
                levels.append(labels[upairs[first[j]:stops[j]] % n_labels])
        else:
            levels = [np.array([], dtype="<U1") for _ in range(J)]
        probability = None
        if probs is not None:
            probability = np.asarray(probs, dtype=np.float64).copy()
            if np.isnan(probability).all():
                probability = None
            else:
                outside = ~np.isnan(probability) & ((probability < 0) | (probability > 1))
                if outside.any():
                    i = int(np.flatnonzero(outside)[0])
                    raise BookError(
                        f"{source}: report {i + 1} has probability {probability[i]!r}, outside [0, 1]; "
                        f"expected a probability (percentages must be divided by 100)"
                    )
                edge = (probability == 0) | (probability == 1)
                if edge.any():
                    warn(
                        f"{source}: {int(edge.sum())} probabilit{'ies' if edge.sum() != 1 else 'y'} of exactly 0 or 1 "
                        f"moved by {PROBABILITY_CLIP:g} into (0, 1), so that their logits are finite "
                        f"(logit = ±{np.log((1 - PROBABILITY_CLIP) / PROBABILITY_CLIP):.1f})"
                    )
                    probability = np.clip(probability, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
        return cls(
            questions=_str_array(q_names), traders=_str_array(t_names), labels=labels, levels=tuple(levels),
            question=q_codes, trader=t_codes, answer=answer_code, label=label_code, probability=probability,
        )

    # -- views -------------------------------------------------------------------

    @property
    def n_questions(self) -> int:
        """Number of questions ``Q``."""
        return len(self.questions)

    @property
    def n_traders(self) -> int:
        """Number of traders ``J``."""
        return len(self.traders)

    @property
    def n_answers(self) -> int:
        """Number of reports ``N`` (rows of the book)."""
        return len(self.question)

    @property
    def n_levels(self) -> np.ndarray:
        """``(J,)`` number of levels each trader used."""
        return np.array([len(lv) for lv in self.levels], dtype=np.int64)

    def wide(self) -> np.ndarray:
        """The ``(Q, J)`` table of LCA codes, -1 where a trader did not answer.

        Raises
        ------
        InferenceError
            If a trader answered a question more than once (one cell cannot hold two answers),
            or if the book has no categorical answers.

        Examples
        --------
        >>> import pandas as pd
        >>> Reports.from_frame(pd.DataFrame({"A": ["x", "y"], "B": ["y", None]}), wide=True).wide().tolist()
        [[0, 0], [1, -1]]
        """
        has = self.answer >= 0
        if not has.any():
            raise InferenceError("the book has no categorical answers (probabilities only); there is no answer table")
        out = np.full((self.n_questions, self.n_traders), -1, dtype=np.int64)
        q, t, a = self.question[has], self.trader[has], self.answer[has]
        cell = q * self.n_traders + t
        uniq, counts = np.unique(cell, return_counts=True)
        if (counts > 1).any():
            first = int(uniq[np.argmax(counts > 1)])
            qi, ti = divmod(first, self.n_traders)
            n_rep = int((counts > 1).sum())
            raise InferenceError(
                f"trader {str(self.traders[ti])!r} answered question {str(self.questions[qi])!r} "
                f"{int(counts.max())} times "
                f"({n_rep} question-trader pair{'s' if n_rep != 1 else ''} answered more than once); a wide table has "
                f"one answer per cell. Use the long arrays (the estimators count repeated answers), or keep one "
                f"answer per pair"
            )
        out[q, t] = a
        return out

    def patterns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct rows of :meth:`wide`: ``(P, J)`` codes, ``(P,)`` counts, ``(Q,)`` pattern of each question.

        Examples
        --------
        >>> import pandas as pd
        >>> r = Reports.from_frame(pd.DataFrame({"A": [1, 1, 2], "B": [1, 1, 1]}), wide=True)
        >>> pats, counts, which = r.patterns()
        >>> pats.tolist(), counts.tolist(), which.tolist()
        ([[0, 0], [1, 0]], [2, 1], [0, 0, 1])
        """
        table = self.wide()
        pats, inverse, counts = np.unique(table, axis=0, return_inverse=True, return_counts=True)
        return pats, counts.astype(np.int64), inverse.reshape(-1).astype(np.int64)

    def __repr__(self) -> str:
        shown = self.labels.tolist()
        text = repr(shown) if len(shown) <= 8 else repr(shown[:8])[:-1] + ", ...]"
        parts = [
            f"{self.n_questions} question{'s' if self.n_questions != 1 else ''}",
            f"{self.n_traders} trader{'s' if self.n_traders != 1 else ''}",
            f"{self.n_answers} answer{'s' if self.n_answers != 1 else ''}",
        ]
        if len(shown):
            parts.append(f"labels {text}")
        if self.probability is not None:
            parts.append("probabilities given")
        return f"Reports({', '.join(parts)})"

    def _repr_markdown_(self) -> str:
        return f"**{self!r}**"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, labels and levels per trader.

        Examples
        --------
        >>> import pandas as pd
        >>> Reports.from_frame(pd.DataFrame({"A": [1, 2]}), wide=True).to_dict()["labels"]
        ['1', '2']
        """
        return {
            "n_questions": self.n_questions,
            "n_traders": self.n_traders,
            "n_answers": self.n_answers,
            "labels": self.labels.tolist(),
            "levels": {str(t): lv.tolist() for t, lv in zip(self.traders, self.levels, strict=True)},
            "probabilities": self.probability is not None,
        }


def _codes(column: np.ndarray, order: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a column of names in first-appearance order (or in the given order)."""
    values = np.asarray(column, dtype=object).astype(str)
    if order is None:
        codes, uniques = pd.factorize(values, sort=False)
        return codes.astype(np.int64), np.asarray(uniques, dtype=object)
    names = np.asarray(order, dtype=object).astype(str)
    codes = pd.Index(names).get_indexer(values)
    return codes.astype(np.int64), names


def _warn_mixed_labels(labels: np.ndarray, source: str) -> None:
    numeric = [bool(_INTEGER.match(v)) for v in labels]
    if any(numeric) and not all(numeric):
        odd = [str(v) for v, k in zip(labels, numeric, strict=True) if not k]
        if len(odd) < sum(numeric):
            warn(
                f"{source}: the answer labels mix whole numbers and text; {odd[:5]} are not numbers while "
                f"{sum(numeric)} labels are. If these are typos or codes for a missing answer, fix or blank them: "
                f"every distinct label is an answer level of its own"
            )


def _wide_cells(col: pd.Series, name: str) -> list[str | None]:
    """Labels (str) or None (missing) for one column of a wide table."""
    out: list[str | None] = []
    for row, v in enumerate(col.to_numpy(object)):
        if v is None or v is pd.NA or (isinstance(v, float | np.floating) and v != v):
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            raise BookError(f"wide frame: row {row + 1}, column {name!r}: {v!r} is a boolean; expected a label")
        elif isinstance(v, int | np.integer):
            out.append(str(int(v)))
        elif isinstance(v, float | np.floating):
            if not np.isfinite(v) or v != int(v):
                raise BookError(
                    f"wide frame: row {row + 1}, column {name!r}: {v!r} is not a label; expected text or a whole "
                    f"number (answer codes such as 1, 2, 3), or an empty cell for a missing answer"
                )
            out.append(str(int(v)))
        elif isinstance(v, str):
            t = v.strip()
            out.append(None if not t or t.casefold() in _NA_TOKENS else t)
        else:
            raise BookError(
                f"wide frame: row {row + 1}, column {name!r}: {v!r} is a {type(v).__name__}; expected a label"
            )
    return out
