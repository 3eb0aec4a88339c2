"""Which Dask scheduler runs a partitioned fit.

The rule for ``scheduler=None``: an active ``distributed.Client`` (one the user made) runs it;
otherwise a book of at least :data:`LOCAL_CLUSTER_ROWS` rows (a Parquet folder, counted from
the file footers) or, for a Dask DataFrame, of at least :data:`LOCAL_CLUSTER_PARTITIONS`
partitions, runs on a local cluster of one single-threaded worker process per core, closed
when the fit ends; anything smaller runs on the single-process synchronous scheduler, which
holds one partition at a time and starts in no time. Other values follow
:func:`deepmarkets.helpers.cluster.dask_client`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from deepmarkets.errors import InferenceError
from deepmarkets.helpers.cluster import dask_client

__all__ = ["dask_scheduler", "LOCAL_CLUSTER_ROWS", "LOCAL_CLUSTER_PARTITIONS"]

#: Rows of a Parquet book from which ``scheduler=None`` starts a local cluster.
LOCAL_CLUSTER_ROWS = 10_000_000
#: Partitions of a Dask DataFrame from which ``scheduler=None`` starts a local cluster.
LOCAL_CLUSTER_PARTITIONS = 16


@contextlib.contextmanager
def dask_scheduler(scheduler: Any, *, rows: int | None = None, partitions: int = 1) -> Iterator[Any]:
    """Yield what ``dask.compute(..., scheduler=...)`` takes for ``scheduler``.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        None: the rule of this module. ``"synchronous"`` (or ``"serial"``): one process, one
        partition at a time. ``"local"``: a local cluster. Another string: the address of a
        running Dask scheduler (``"tcp://10.0.0.5:8786"``), connected to for the fit and
        disconnected after. A ``distributed.Client``: used as it is (not closed).
    rows : int, optional
        Rows of the book, when known.
    partitions : int, default 1
        Partitions of the book.

    Yields
    ------
    str or distributed.Client

    Raises
    ------
    InferenceError
        For another kind of value, or an address where no scheduler answers.

    Examples
    --------
    >>> with dask_scheduler(None, rows=1000) as s:
    ...     s
    'synchronous'
    """
    large = rows >= LOCAL_CLUSTER_ROWS if rows is not None else partitions >= LOCAL_CLUSTER_PARTITIONS
    with dask_client(scheduler, local=large, error=InferenceError) as (target, _):
        yield target
