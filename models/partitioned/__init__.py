"""EM for latent class models on books larger than memory (Dask).

A book given as a Dask DataFrame or a folder of Parquet files (long layout ``question, trader,
answer``, with the aliases a :class:`~deepmarkets.beliefs.Book` accepts) is fitted by
map-reduce EM: each partition computes its E-step and the sufficient statistics of the M-step,
and the M-step sums them, so memory stays bounded by one partition plus the parameters.

* :func:`fit_partitioned` -- Dawid–Skene or latent class analysis by EM over partitions, with
  the same answer as the in-memory :func:`~deepmarkets.models.em.fit_em` on books that fit.
* :class:`PartitionedFit` -- its result; labels are written or read lazily, partition by partition.
* :func:`is_partitioned_book` -- whether :func:`~deepmarkets.models.infer.infer` sends a book here.

Dask is imported only when a partitioned book is fitted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deepmarkets.helpers import export_lazily

__all__ = export_lazily(__name__, {
    "em": ["fit_partitioned"],
    "result": ["PartitionedFit"],
}) + ["is_partitioned_book"]


def is_partitioned_book(book: Any) -> bool:
    """True for a Dask DataFrame, the path of a folder, or a path ending in a separator (a folder, maybe missing).

    Examples
    --------
    >>> import tempfile
    >>> is_partitioned_book(tempfile.mkdtemp()), is_partitioned_book("book.csv")
    (True, False)
    """
    if type(book).__module__.split(".")[0] == "dask":
        import dask.dataframe as dd

        return isinstance(book, dd.DataFrame)
    if not isinstance(book, str | os.PathLike):
        return False
    return Path(book).is_dir() or os.fspath(book).endswith(("/", os.sep))
