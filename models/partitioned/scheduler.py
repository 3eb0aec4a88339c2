"""Which Dask scheduler runs a partitioned fit.

The rule for ``scheduler=None``: an active ``distributed.Client`` (one the user made) runs it;
otherwise a book of at least :data:`LOCAL_CLUSTER_ROWS` rows (a Parquet folder, counted from
the file footers) or, for a Dask DataFrame, of at least :data:`LOCAL_CLUSTER_PARTITIONS`
partitions, runs on a local cluster of one single-threaded worker process per core, closed
when the fit ends; anything smaller runs on the single-process synchronous scheduler, which
holds one partition at a time and starts in no time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from deepmarkets.errors import InferenceError

__all__ = ["dask_scheduler", "LOCAL_CLUSTER_ROWS", "LOCAL_CLUSTER_PARTITIONS", "CONNECT_TIMEOUT"]

#: Rows of a Parquet book from which ``scheduler=None`` starts a local cluster.
LOCAL_CLUSTER_ROWS = 10_000_000
#: Partitions of a Dask DataFrame from which ``scheduler=None`` starts a local cluster.
LOCAL_CLUSTER_PARTITIONS = 16
#: Seconds to wait for a scheduler at a given address.
CONNECT_TIMEOUT = 10


def _active_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        return default_client()
    except ValueError:
        return None


@contextlib.contextmanager
def dask_scheduler(scheduler: Any, *, rows: int | None = None, partitions: int = 1) -> Iterator[Any]:
    """Yield what ``dask.compute(..., scheduler=...)`` takes for ``scheduler``.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        None: the rule of this module. ``"synchronous"``: one process, one partition at a
        time. Any other string: the address of a running Dask scheduler
        (``"tcp://10.0.0.5:8786"``), connected to for the fit and disconnected after. A
        ``distributed.Client``: used as it is (not closed).
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
    if scheduler is None:
        client = _active_client()
        if client is not None:
            yield client
            return
        large = rows >= LOCAL_CLUSTER_ROWS if rows is not None else partitions >= LOCAL_CLUSTER_PARTITIONS
        if not large:
            yield "synchronous"
            return
        from distributed import Client, LocalCluster

        with LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client
        return
    if isinstance(scheduler, str):
        if scheduler == "synchronous":
            yield "synchronous"
            return
        from distributed import Client

        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise InferenceError(f"scheduler={scheduler!r}: no Dask scheduler answered within {CONNECT_TIMEOUT} s "
                                 f"({type(err).__name__}: {err}); give the address the scheduler prints "
                                 f"(tcp://HOST:8786), or leave scheduler=None for a local cluster") from None
        with client:
            yield client
        return
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    raise InferenceError(f"scheduler={scheduler!r}; expected None, 'synchronous', a Dask scheduler address "
                         f"(tcp://HOST:PORT) or a distributed.Client")
