"""Where parallel work runs: usable CPUs, and one rule for a ``scheduler=`` argument (Dask).

Dask is imported only when a cluster is used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from deepmarkets.errors import DeepMarketsError

__all__ = ["usable_cpus", "is_scheduler", "dask_client", "SERIAL", "LOCAL", "CONNECT_TIMEOUT"]

#: Scheduler names that run the work in this process, one task at a time.
SERIAL = ("serial", "sync", "synchronous")
#: The scheduler name that starts a local cluster.
LOCAL = "local"
#: Seconds to wait for a scheduler at a given address.
CONNECT_TIMEOUT = 10.0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the system tells it), at least 1.

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _active_client() -> Any:
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def is_scheduler(value: Any) -> bool:
    """Whether ``value`` is something :func:`dask_client` takes (it may still fail to connect)."""
    if value is None or value == LOCAL or value in SERIAL:
        return True
    if isinstance(value, str):
        return "://" in value
    return type(value).__name__ == "Client" and type(value).__module__.startswith("distributed")


@contextlib.contextmanager
def dask_client(scheduler: Any, *, local: bool, error: type[DeepMarketsError]) -> Iterator[tuple[Any, str]]:
    """Yield ``(target, description)``: what ``dask.compute(..., scheduler=)`` or ``client.submit`` uses.

    The rule: a ``distributed.Client`` is used as it is (not closed). None uses the active
    client when there is one, else a local cluster when ``local`` is true and the
    single-process synchronous scheduler otherwise. ``"local"`` is a local cluster (one
    single-threaded worker process per usable CPU, no dashboard), ``"serial"``/``"sync"``/
    ``"synchronous"`` the synchronous scheduler (target ``"synchronous"``), and any other
    string the address of a running scheduler (``"tcp://10.0.0.5:8786"``). Clusters and
    clients made here are closed when the block ends.

    Raises
    ------
    error
        For another kind of value, or an address where no scheduler answers within
        :data:`CONNECT_TIMEOUT` seconds.

    Examples
    --------
    >>> from deepmarkets.errors import SweepError
    >>> with dask_client("serial", local=True, error=SweepError) as (target, where):
    ...     target, where
    ('synchronous', 'serial')
    """
    if not is_scheduler(scheduler):
        raise error(f"scheduler={scheduler!r}; expected None, 'local' (a local Dask cluster), 'serial' (this "
                    f"process), a scheduler address such as 'tcp://host:8786', or a distributed.Client")
    if isinstance(scheduler, str) and scheduler in SERIAL:
        yield "synchronous", "serial"
        return
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler, f"dask {scheduler.scheduler.address}"
        return
    if scheduler is None:
        active = _active_client()
        if active is not None:
            yield active, f"dask {active.scheduler.address}"
            return
        if not local:
            yield "synchronous", "serial"
            return
    if scheduler is None or scheduler == LOCAL:
        workers = usable_cpus()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client, f"local dask cluster, {workers} worker(s)"
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise error(f"scheduler={scheduler!r}: no Dask scheduler answered within {CONNECT_TIMEOUT:g} s "
                    f"({type(err).__name__}: {err}); give the address the scheduler prints (tcp://HOST:8786), "
                    f"or leave scheduler=None") from None
    with client:
        yield client, f"dask {scheduler}"
