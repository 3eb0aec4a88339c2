"""With no Dask client active, a sweep's default scheduler is a local cluster, closed afterwards.

In a module of its own: the other sweep tests keep a client active for their whole module.
"""

from __future__ import annotations

import pandas as pd
import pytest

from deepmarkets.errors import InferenceError
from deepmarkets.helpers.cluster import dask_client
from deepmarkets.sweeps import sweep
from deepmarkets.sweeps.tasks import coherence

GRID = {"n_atoms": [2, 3], "kind": ["exactly_one", "conjunctions"]}


def _active():
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def test_the_default_scheduler_is_a_local_cluster_closed_afterwards():
    assert _active() is None
    result = sweep(coherence, GRID, progressbar=False)
    assert result.scheduler.startswith("local dask cluster")
    assert _active() is None  # the cluster and its client were closed
    serial = sweep(coherence, GRID, scheduler="serial", progressbar=False)
    pd.testing.assert_frame_equal(result.table.drop(columns="seconds"), serial.table.drop(columns="seconds"))


def test_small_partitioned_work_without_a_client_stays_in_this_process():
    with dask_client(None, local=False, error=InferenceError) as (target, where):
        assert (target, where) == ("synchronous", "serial")


@pytest.mark.parametrize("bad", [3, "nowhere", object()])
def test_a_scheduler_that_is_not_one_is_refused(bad):
    with pytest.raises(InferenceError, match="scheduler="):
        with dask_client(bad, local=True, error=InferenceError):
            pass
