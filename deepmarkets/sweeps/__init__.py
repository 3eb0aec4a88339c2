"""Sweeps: a simulation run over a parameter grid, in this process or on a Dask cluster, into one table.

:mod:`~deepmarkets.sweeps.runner`
    :func:`sweep`, the seeds it derives from each grid point, and :class:`SweepResult`.
:mod:`~deepmarkets.sweeps.tasks`
    Built-in tasks (agent economies, hypothesis auctions, logical inductors, latent markets,
    coherence checks), each returning a dict of metrics.
:mod:`~deepmarkets.sweeps.spec`
    Sweeps declared in TOML (``deepmarkets sweep SPEC.toml``).
:mod:`~deepmarkets.sweeps.plots`
    :func:`plot_sweep`: an output across the grid.
"""

from deepmarkets.helpers import export_lazily

__all__ = export_lazily(__name__, {
    "runner": ["sweep", "SweepResult", "task_seed", "grid_points"],
    "tasks": ["TASKS"],
    "spec": ["read_spec", "sweep_from_spec", "SweepSpec"],
    "plots": ["plot_sweep"],
})
