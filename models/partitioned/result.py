"""The result of a partitioned EM fit: :class:`PartitionedFit`.

It has the names of :class:`~deepmarkets.models.fit.LatentClassFit` that do not need the whole
book in memory (class shares, response or confusion matrices, log-likelihood, iterations,
``to_dict()``, BIC, reliability); the labels of the questions are computed partition by
partition from the encoded book it keeps in its cache folder: :meth:`PartitionedFit.labels`
returns a lazy Dask DataFrame and :meth:`PartitionedFit.write_labels` writes them to a Parquet
folder or one CSV file.
"""

from __future__ import annotations

import os
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.fit import ClassFitSummary

__all__ = ["PartitionedFit"]


@dataclass(eq=False, repr=False)
class PartitionedFit(ClassFitSummary):
    """Dawid–Skene or latent class analysis fitted by EM over a partitioned book.

    Attributes
    ----------
    model : str
        ``"dawid-skene"`` or ``"lca"``.
    method : str
        ``"em"``.
    classes : numpy.ndarray
        ``(K,)`` class names: the labels for Dawid–Skene, ``"1".."K"`` (by decreasing share) for lca.
    class_shares : numpy.ndarray
        ``(K,)`` estimated ``P(class)``.
    response : tuple of numpy.ndarray
        Per trader, ``(K, L_j)`` ``P(answer = level | class)`` over its levels (lca), or its
        ``(K, L)`` confusion matrix over all labels (Dawid–Skene).
    loglik : float
        Log-likelihood at the estimate.
    n_parameters, n_iter : int
        Free parameters; EM iterations of the best start.
    converged : bool
        Whether the best start met the tolerance.
    restarts_loglik : numpy.ndarray
        Log-likelihood each start reached.
    seconds : float
        Wall time of the fit (reading and encoding the book included).
    prior : float
        Dirichlet pseudo-count (0: maximum likelihood).
    traders, answer_labels : numpy.ndarray
        Trader ids (first appearance) and the sorted answer labels.
    levels : tuple of numpy.ndarray
        Each trader's levels.
    n_questions, n_answers, n_partitions : int
        Size of the book, and the partitions it was fitted in.
    shuffled : bool
        Whether questions straddled partitions, so that the book was shuffled by question.
    diagnostics, mean, sigma : None
        Always None (NUTS diagnostics and forecasts do not apply); present so that code reading
        a :class:`~deepmarkets.models.fit.LatentClassFit` reads this too.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from deepmarkets.models.partitioned import fit_partitioned
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
    >>> fit = fit_partitioned(dd.from_pandas(book.frame, npartitions=2), restarts=1, scheduler="synchronous",
    ...                       progressbar=False)
    >>> table = fit.labels().compute()
    >>> list(table.columns), len(table)
    (['question', 'label', 'probability'], 200)
    >>> fit.close()
    """

    model: str
    classes: np.ndarray
    class_shares: np.ndarray
    response: tuple[np.ndarray, ...]
    loglik: float
    n_parameters: int
    n_iter: int
    converged: bool
    restarts_loglik: np.ndarray
    seconds: float
    prior: float
    traders: np.ndarray
    answer_labels: np.ndarray
    levels: tuple[np.ndarray, ...]
    n_questions: int
    n_answers: int
    n_partitions: int
    shuffled: bool
    parts: list[dict[str, Any]] = field(repr=False)
    folder: str = field(repr=False)
    n_columns: int = field(repr=False)
    log_params: tuple[np.ndarray, np.ndarray] = field(repr=False)
    order: np.ndarray = field(repr=False)
    method: str = "em"
    diagnostics: None = None
    mean: None = None
    sigma: None = None

    def __post_init__(self) -> None:
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)

    # -- derived quantities ----------------------------------------------------

    @property
    def n_traders(self) -> int:
        """Number of traders ``J``."""
        return len(self.traders)

    def trader_names(self) -> np.ndarray:
        """Trader ids, in the order of ``response``."""
        return self.traders

    def question_count(self) -> int:
        """Questions in the book."""
        return self.n_questions

    def response_levels(self, j: int) -> np.ndarray:
        """The answer labels indexing the columns of ``response[j]``."""
        return self.answer_labels if self.model == "dawid-skene" else self.levels[j]

    # -- labels, partition by partition ------------------------------------------

    def _check_open(self) -> None:
        if not os.path.isdir(self.folder):
            raise InferenceError("this fit was closed, so its encoded book is gone; fit the book again to get labels")

    def labels(self):
        """The most probable class of each question, as a lazy Dask DataFrame.

        Columns ``question``, ``label`` (a class name; for Dawid–Skene an answer label) and
        ``probability`` (its posterior probability), one partition per partition of the
        encoded book; computing it reads the fit's cache folder, so compute it before
        :meth:`close`.

        Returns
        -------
        dask.dataframe.DataFrame
        """
        import dask.dataframe as dd
        import pandas as pd

        from deepmarkets.models.partitioned.em import partition_labels

        self._check_open()
        meta = pd.DataFrame({"question": pd.Series([], dtype="str"), "label": pd.Series([], dtype="str"),
                             "probability": pd.Series([], dtype=np.float64)})
        return dd.from_map(partition_labels, self.parts, n_columns=self.n_columns, log_params=self.log_params,
                           order=self.order, classes=self.classes, meta=meta, enforce_metadata=False)

    def write_labels(self, path: str | os.PathLike, *, scheduler: Any = None) -> Path:
        """Write question,label,probability for every question, never holding them all in memory.

        Parameters
        ----------
        path : str or os.PathLike
            A name ending in ``.csv``: one CSV file, written partition by partition. Anything
            else: a new folder of Parquet files, one per partition. Either appears only when
            complete (written under a temporary name beside it, then renamed).
        scheduler : None, str or distributed.Client
            As for the fit (see :func:`~deepmarkets.models.partitioned.scheduler.dask_scheduler`).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        DeclarationError
            If the folder to write into does not exist, or a Parquet folder ``path`` already exists.
        """
        from deepmarkets.helpers import atomic_path
        from deepmarkets.models.partitioned.scheduler import dask_scheduler

        self._check_open()
        target = Path(path)
        table = self.labels()
        if target.suffix.lower() == ".csv":
            import dask

            with atomic_path(target) as tmp, open(tmp, "w", newline="") as out, \
                    dask_scheduler(scheduler, rows=self.n_answers, partitions=self.n_partitions) as compute:
                for i, part in enumerate(table.to_delayed()):
                    (frame,) = dask.compute(part, scheduler=compute)
                    frame.to_csv(out, index=False, header=i == 0)
            return target
        if target.exists():
            raise DeclarationError(f"cannot write labels to {str(target)!r}: it exists; remove it or give a new "
                                   f"folder name (or a name ending in .csv for one CSV file)")
        if not target.parent.is_dir():
            raise DeclarationError(f"cannot write labels to {str(target)!r}: the folder {str(target.parent)!r} does "
                                   f"not exist; create it first")
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        try:
            with dask_scheduler(scheduler, rows=self.n_answers, partitions=self.n_partitions) as compute:
                table.to_parquet(tmp, write_index=False, compute_kwargs={"scheduler": compute})
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def close(self) -> None:
        """Remove the encoded book from the cache folder (labels can then no longer be computed)."""
        self._cleanup()

    # -- summaries -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with the keys of :meth:`LatentClassFit.to_dict`, plus ``n_partitions``
        and ``shuffled``."""
        names = [str(c) for c in self.classes]
        return {
            "model": self.model, "method": self.method, "classes": names, "loglik": float(self.loglik),
            "class_shares": {c: float(s) for c, s in zip(names, self.class_shares, strict=True)},
            "traders": self._trader_entries(), "diagnostics": None, "n_questions": int(self.n_questions),
            "n_traders": int(self.n_traders), "n_answers": int(self.n_answers), "bic": self.bic, "aic": self.aic,
            "n_parameters": int(self.n_parameters), "prior": float(self.prior), "converged": bool(self.converged),
            "n_iter": int(self.n_iter), "restarts_loglik": [float(v) for v in self.restarts_loglik],
            "seconds": float(self.seconds), "n_partitions": int(self.n_partitions), "shuffled": bool(self.shuffled),
        }

    def _headline(self) -> str:
        est = "MAP" if self.prior > 0 else "ML"
        return (f"{self.model} fit by EM ({est}) over {self.n_partitions} partitions: {self.n_classes} classes, "
                f"loglik {self.loglik:.4f}, {self.n_questions} questions, {self.n_traders} traders, "
                f"{self.n_answers} answers")

    def _repr_markdown_(self) -> str:
        lines = [f"**PartitionedFit**: {self._headline()}", "", "| class | share |", "|---|---|"]
        lines += [f"| {c} | {s:.4f} |" for c, s in zip(self.classes, self.class_shares, strict=True)]
        lines += ["", f"BIC {self.bic:.2f}, AIC {self.aic:.2f}, {self.n_parameters} parameters"]
        return "\n".join(lines)
