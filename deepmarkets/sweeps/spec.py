"""Sweeps declared in TOML (the ``deepmarkets sweep SPEC.toml`` format).

Example ``SPEC.toml``::

    task = "economy"           # a built-in task (economy, hypothesis_auction, induction,
                               # latent_market, coherence) or "package.module:function"
    repeats = 2                # runs of every point, each with its own seed
    seed = 0                   # the sweep's seed

    [fixed]                    # given to every task, not swept
    environment = "chain"
    env_n_states = 5
    episodes = 200

    [grid]                     # every combination of these values
    auction = ["ccv", "vickrey", "first"]
    gamma = [0.9, 1.0]

Instead of ``[grid]``, ``[[points]]`` tables list the points one by one. Every key is checked
before any work; a bad one is a :class:`~deepmarkets.errors.SweepError` naming the file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepmarkets.errors import SweepError
from deepmarkets.helpers.files import read_toml_spec
from deepmarkets.sweeps.runner import grid_points
from deepmarkets.sweeps.tasks import TASKS

__all__ = ["SweepSpec", "read_spec", "sweep_from_spec", "resolve_task"]

_KEYS = ("task", "repeats", "seed", "fixed", "grid", "points")


@dataclass
class SweepSpec:
    """A parsed sweep: the task, its grid (a table of lists, or a list of points) and the rest of
    :func:`~deepmarkets.sweeps.sweep`'s arguments."""

    task: str
    fn: Callable[..., Any]
    grid: Any
    fixed: dict = field(default_factory=dict)
    repeats: int = 1
    seed: int = 0

    def run(self, *, scheduler: Any = None, progressbar: bool = True):
        """Run the sweep (see :func:`~deepmarkets.sweeps.sweep`)."""
        from deepmarkets.sweeps.runner import sweep

        return sweep(self.fn, self.grid, fixed=self.fixed, scheduler=scheduler, seed=self.seed,
                     repeats=self.repeats, progressbar=progressbar)


def resolve_task(name: Any) -> Callable[..., Any]:
    """A built-in task by name, or the function ``"package.module:function"`` imported.

    Examples
    --------
    >>> resolve_task("coherence").__name__
    'coherence'
    """
    if not isinstance(name, str) or not name:
        raise SweepError(f"task={name!r}; expected a built-in task ({', '.join(TASKS)}) or 'package.module:function'")
    if name in TASKS:
        return TASKS[name]
    module, _, attr = name.partition(":")
    if not attr or not all(part.isidentifier() for part in [*module.split("."), attr]):
        raise SweepError(f"task={name!r}; expected a built-in task ({', '.join(TASKS)}) or 'package.module:function'")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise SweepError(f"task={name!r}: cannot import {module!r} ({err}); is it on PYTHONPATH?") from None
    except AttributeError:
        raise SweepError(f"task={name!r}: module {module!r} has no {attr!r}") from None
    if not callable(fn):
        raise SweepError(f"task={name!r} is a {type(fn).__name__}, not a function")
    return fn


def sweep_from_spec(spec: Mapping[str, Any]) -> SweepSpec:
    """The sweep of a parsed spec (see the module docstring).

    Examples
    --------
    >>> s = sweep_from_spec({"task": "coherence", "grid": {"n_atoms": [2, 3]}, "repeats": 2})
    >>> s.task, s.repeats, s.seed
    ('coherence', 2, 0)
    """
    unknown = sorted(set(spec) - set(_KEYS))
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r}; a sweep spec has {', '.join(_KEYS)}")
    if "task" not in spec:
        raise SweepError(f"no task; add task = \"economy\" (built-in: {', '.join(TASKS)}) or "
                         "task = \"package.module:function\"")
    fn = resolve_task(spec["task"])
    if ("grid" in spec) == ("points" in spec):
        raise SweepError("give either a [grid] table (every combination) or [[points]] tables (one by one)")
    grid = spec["grid"] if "grid" in spec else spec["points"]
    if "grid" in spec and not isinstance(grid, Mapping):
        raise SweepError("grid must be a table: [grid] with name = [values]")
    if "points" in spec and not isinstance(grid, list):
        raise SweepError("points must be an array of tables: [[points]]")
    grid_points(grid)  # checked here so that the message names the file
    fixed = spec.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise SweepError("fixed must be a table: [fixed] with name = value")
    for key in ("repeats", "seed"):
        value = spec.get(key, 1 if key == "repeats" else 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "repeats" else 0):
            raise SweepError(f"{key}={value!r}; expected a whole number >= {1 if key == 'repeats' else 0}")
    return SweepSpec(spec["task"], fn, grid, dict(fixed), spec.get("repeats", 1), spec.get("seed", 0))


def read_spec(path: str | Path) -> SweepSpec:
    """The sweep declared in a TOML file; every error names the file."""
    try:
        return read_toml_spec(path, sweep_from_spec)
    except SweepError as err:
        raise SweepError(f"{path}: {err}") from None
