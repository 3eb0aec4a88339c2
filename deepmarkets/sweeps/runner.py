"""Sweeps: one function run over a parameter grid, serially or on a Dask cluster, into one table.

Every task (a grid point and a repeat) gets a seed that is a pure function of the point, the
repeat and the sweep's seed, so a sweep gives the same table whatever runs it and in whatever
order its tasks finish. Dask is imported only when a cluster is used.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import SweepError
from deepmarkets.helpers.cluster import SERIAL, dask_client, is_scheduler
from deepmarkets.helpers.jsonsafe import json_safe
from deepmarkets.helpers.progress import ProgressBar
from deepmarkets.helpers.validate import whole_number
from deepmarkets.helpers.warn import warn

__all__ = ["sweep", "SweepResult", "task_seed", "grid_points", "SERIAL", "RESERVED"]

#: Columns the table adds to the parameters; neither a parameter nor an output may use them.
RESERVED = ("repeat", "seed", "seconds", "error", "rng")


def _canonical(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (numpy scalars as Python, tuples as lists), or a SweepError."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SweepError(f"{where}={value!r}; expected a finite number (seeds are derived from the values)")
        return value
    if isinstance(value, list | tuple):
        return [_canonical(v, where) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise SweepError(f"{where}={value!r}; a table of values needs text keys")
        return {k: _canonical(v, f"{where}.{k}") for k, v in value.items()}
    raise SweepError(f"{where}={value!r} ({type(value).__name__}); expected a number, text, a bool, None, or a "
                     "list or table of them, so that the point can be written as JSON and seeded")


def _point_text(point: Mapping[str, Any]) -> str:
    return json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)


def task_seed(point: Mapping[str, Any], repeat: int = 0, seed: int = 0) -> int:
    """The seed of one task: a 63-bit integer that depends only on the point, the repeat and ``seed``.

    The point's canonical JSON (keys sorted, no spaces) and the repeat are hashed with SHA-256;
    the digest and ``seed`` are the entropy of a :class:`numpy.random.SeedSequence`, whose first
    64-bit word (its top bit cleared) is the seed. ``1`` and ``1.0`` are different points.

    Examples
    --------
    >>> task_seed({"a": 1, "b": "x"}) == task_seed({"b": "x", "a": 1})
    True
    >>> task_seed({"a": 1}, repeat=0) != task_seed({"a": 1}, repeat=1)
    True
    """
    text = _point_text({k: _canonical(v, k) for k, v in point.items()})
    digest = hashlib.sha256(f"{text}#{int(repeat)}".encode()).digest()
    entropy = [int(seed), int.from_bytes(digest, "big")]
    word = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return int(word) & (2**63 - 1)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise SweepError(f"parameter name {name!r}; expected a Python identifier (it is passed as a keyword)")
    if name in RESERVED:
        raise SweepError(f"parameter name {name!r} is reserved for the table's own columns {RESERVED}; rename it")
    return name


def grid_points(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The points of a grid, checked: a table of name → values (every combination, the first name
    varying slowest) or a list of points (tables of name → value).

    Raises
    ------
    SweepError
        For an empty grid, a value list that is not a list, a name that is not an identifier or is
        reserved, a value that cannot be written as JSON, or a point given twice.

    Examples
    --------
    >>> grid_points({"a": [1, 2], "b": ["x"]})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    if isinstance(grid, Mapping):
        if not grid:
            raise SweepError("grid={}; expected at least one parameter, e.g. {'gamma': [0.9, 1.0]}")
        names = [_check_name(n) for n in grid]
        columns = []
        for name in names:
            values = grid[name]
            if isinstance(values, np.ndarray) and values.ndim == 1:
                values = values.tolist()
            if not isinstance(values, list | tuple | range):
                raise SweepError(f"grid[{name!r}]={values!r}; expected a list of values, e.g. [{values!r}] "
                                 "(a value every task shares belongs in fixed=)")
            if not len(values):
                raise SweepError(f"grid[{name!r}] is empty; give at least one value")
            columns.append(list(values))
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
    elif isinstance(grid, list | tuple):
        if not grid:
            raise SweepError("grid=[]; expected at least one point, e.g. [{'gamma': 0.9}]")
        points = []
        for k, point in enumerate(grid):
            if not isinstance(point, Mapping):
                raise SweepError(f"grid[{k}]={point!r}; expected a table of parameter -> value")
            points.append({_check_name(n): v for n, v in point.items()})
    else:
        raise SweepError(f"grid={grid!r} ({type(grid).__name__}); expected a table of parameter -> list of values, "
                         "or a list of points")
    seen: dict[str, int] = {}
    for k, point in enumerate(points):
        text = _point_text({n: _canonical(v, n) for n, v in point.items()})
        if text in seen:
            raise SweepError(f"the point {text} is given twice (points {seen[text]} and {k}); "
                             "use repeats= for several runs of one point")
        seen[text] = k
    return points


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str | np.bool_ | np.number)


def _number(value: Any) -> bool:
    return isinstance(value, bool | int | float | np.number | np.bool_)


def _outputs(value: Any) -> dict[str, Any]:
    """A task's return value as a dict of scalars (see :func:`sweep`)."""
    if _scalar(value):
        return {"value": value}
    if hasattr(value, "iloc") and getattr(value, "ndim", 0) == 2:  # a one-row DataFrame
        if len(value) != 1:
            raise TypeError(f"the task returned a table of {len(value)} rows; expected one row")
        value = value.iloc[0]
    if hasattr(value, "iloc") and getattr(value, "ndim", 0) == 1:  # a Series
        value = value.to_dict()
        taken = value
    elif isinstance(value, Mapping):
        taken = value
        bad = [k for k, v in value.items() if not _scalar(v)]
        if bad:
            raise TypeError(f"the task returned {bad[0]}={value[bad[0]]!r}; expected a number, text, a bool or "
                            "None for every entry")
    elif callable(getattr(value, "to_dict", None)):
        taken = {k: v for k, v in value.to_dict().items() if _scalar(v)}
    else:
        raise TypeError(f"the task returned a {type(value).__name__}; expected a dict of scalars, a pandas Series "
                        "or one-row DataFrame, an object with to_dict(), or a single number")
    out = {}
    for k, v in taken.items():
        if not isinstance(k, str) or k in RESERVED:
            raise TypeError(f"the task returned the entry {k!r}; entries need text names other than {RESERVED}")
        out[k] = v.item() if isinstance(v, np.generic) else v
    return out


def _run_task(fn: Callable, point: dict, fixed: dict, repeat: int, seed: int) -> dict:
    """Run one task; an exception becomes the row's error text (the traceback's last line and where it was)."""
    start = time.perf_counter()
    try:
        outputs, error = _outputs(fn(**fixed, **point, rng=seed)), None
        clash = [k for k in outputs if k in point]
        if clash:  # the table would show the output in the parameter's column
            raise TypeError(f"the task returned the entry {clash[0]!r}, which is a parameter of the grid; "
                            "give the output another name")
    except (Exception, SystemExit) as exc:  # a failed task (sys.exit included) is reported in its row, never lost
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        outputs, error = {}, f"{type(exc).__name__}: {exc}{where}"
    return {"repeat": repeat, "seed": seed, "outputs": outputs, "seconds": time.perf_counter() - start,
            "error": error}


@dataclass(repr=False)
class SweepResult:
    """The table of a sweep: one row per grid point and repeat.

    Attributes
    ----------
    table : pandas.DataFrame
        The parameters (list and table values as their JSON text), ``repeat``, ``seed``, the
        task's outputs, ``seconds`` and ``error`` (None, or the text of the exception it raised),
        in grid order.
    parameters, outputs : tuple of str
        The parameter columns and the output columns of ``table``.
    fixed : dict
        The parameters every task was given besides its point.
    scheduler : str
        What ran the tasks.
    seconds : float
        Wall-clock seconds of the whole sweep (starting and closing a cluster included).
    """

    table: Any
    parameters: tuple[str, ...]
    outputs: tuple[str, ...]
    fixed: dict = field(default_factory=dict)
    scheduler: str = "serial"
    seconds: float = 0.0

    @property
    def failed(self):
        """The rows whose task raised."""
        return self.table[self.table["error"].notna()]

    @property
    def n_failed(self) -> int:
        return int(self.table["error"].notna().sum())

    @property
    def first_error(self) -> str | None:
        """The error of the first failed row in grid order (None when every task ran)."""
        failed = self.failed
        return None if failed.empty else str(failed["error"].iloc[0])

    @property
    def numeric_outputs(self) -> list[str]:
        """The outputs whose every value that ran is a number (booleans count as 0 and 1)."""
        ok = self.table[self.table["error"].isna()]
        return [c for c in self.outputs if len(ok) and ok[c].map(_number).all()]

    def summary(self):
        """One row per point: its parameters, tasks run and failed, and the mean of each numeric output
        over the repeats that ran (a pandas DataFrame)."""
        import pandas as pd

        t = self.table
        keys = list(self.parameters)
        ok = t[t["error"].isna()]
        numeric = self.numeric_outputs
        order = t[keys].drop_duplicates().reset_index(drop=True) if keys else pd.DataFrame(index=[0])
        if not keys:
            counts = pd.DataFrame({"tasks": [len(t)], "failed": [self.n_failed]})
            means = ok[numeric].astype(float).mean().to_frame().T if numeric else pd.DataFrame(index=[0])
            return pd.concat([counts, means.reset_index(drop=True)], axis=1)
        counts = t.groupby(keys, sort=False, dropna=False).agg(tasks=("seed", "size"),
                                                               failed=("error", lambda e: int(e.notna().sum())))
        out = order.merge(counts.reset_index(), on=keys, how="left")
        if numeric:
            values = ok[keys].join(ok[numeric].astype(float))
            means = values.groupby(keys, sort=False, dropna=False)[numeric].mean()
            out = out.merge(means.reset_index(), on=keys, how="left")
        return out

    def to_xarray(self):
        """The table as an :class:`xarray.Dataset` with one dimension per parameter and ``repeat``.

        Points missing from a grid that is not a full product are NaN.
        """
        return self.table.set_index([*self.parameters, "repeat"]).to_xarray()

    def to_dict(self) -> dict:
        """A JSON-safe summary and every row."""
        return json_safe({
            "tasks": len(self.table), "failed": self.n_failed, "first_error": self.first_error,
            "scheduler": self.scheduler, "seconds": self.seconds, "parameters": list(self.parameters),
            "outputs": list(self.outputs), "fixed": self.fixed,
            "rows": self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records"),
        })

    def __repr__(self) -> str:
        failed = f", {self.n_failed} failed" if self.n_failed else ""
        return (f"SweepResult({len(self.table)} tasks over {', '.join(self.parameters) or 'no parameters'}{failed}; "
                f"{self.scheduler}, {self.seconds:.2f} s)")

    def _repr_markdown_(self) -> str:
        s = self.summary()
        cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in s.itertuples(index=False)]
        lines = [f"**{self!r}**", "", "| " + " | ".join(map(str, s.columns)) + " |", "|---" * len(s.columns) + "|"]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])


def _table(points: list[dict], rows: list[dict]):
    """The tidy table of the rows (one per task) and the points they ran (one per row)."""
    import pandas as pd

    names = list(dict.fromkeys(n for p in points for n in p))
    outputs = list(dict.fromkeys(k for r in rows for k in r["outputs"]))
    records = []
    for r, point in zip(rows, points, strict=True):
        cells = {}
        for n in names:
            v = point.get(n)
            cells[n] = _point_text(_canonical(v, n)) if isinstance(v, list | tuple | Mapping) else v
        cells.update(repeat=r["repeat"], seed=r["seed"])
        cells.update({k: r["outputs"].get(k) for k in outputs})
        cells.update(seconds=r["seconds"], error=r["error"])
        records.append(cells)
    table = pd.DataFrame.from_records(records, columns=[*names, "repeat", "seed", *outputs, "seconds", "error"])
    table["error"] = table["error"].astype(object).where(table["error"].notna(), None)
    return table, tuple(names), tuple(outputs)


def sweep(fn: Callable[..., Any], grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]], *,
          fixed: Mapping[str, Any] | None = None, scheduler: Any = None, seed: int = 0, repeats: int = 1,
          progressbar: bool = True) -> SweepResult:
    """Run ``fn`` on every point of ``grid`` (and every repeat) and gather one tidy table.

    Each task calls ``fn(**fixed, **point, rng=seed)`` where ``seed`` is :func:`task_seed` of the
    point, the repeat and the sweep's ``seed``: a sweep is reproducible anywhere, whatever order
    its tasks run in, and a point keeps its seeds when the grid grows or is reordered.

    ``fn`` returns a dict of scalars (numbers, text, bools, None), a pandas Series or one-row
    DataFrame, a single number (column ``value``), or an object with ``to_dict()`` whose scalar
    entries are kept (nested ones are dropped); no output may be named like a parameter of the
    grid. A task that raises, or returns anything else,
    keeps its row with the error's text in ``error``; the others run on, and a warning names how
    many failed and the first error.

    Parameters
    ----------
    fn : callable
        The task; it must accept the grid's parameters, the fixed ones and ``rng`` as keywords.
        On a cluster it must be importable or picklable by cloudpickle (a lambda works).
    grid : dict of str to list, or list of dict
        Every combination of the listed values (the first parameter varying slowest), or the
        points one by one. Values are numbers, text, bools, None, or lists or tables of them.
    fixed : dict, optional
        Parameters every task gets; they are not in the table and do not change the seeds.
    scheduler : None, str or distributed.Client
        None: the active ``distributed.Client`` when there is one, else a local cluster. ``"local"``:
        a local Dask cluster of one single-threaded worker process per usable core, closed
        afterwards. ``"serial"`` (or ``"sync"``): in this process, without Dask. An address
        (``"tcp://host:8786"``): an existing Dask cluster. A ``distributed.Client``: its cluster
        (left open). See :func:`deepmarkets.helpers.cluster.dask_client`.
    seed : int
        The sweep's seed (a whole number >= 0).
    repeats : int
        Runs of every point, each with its own seed (``repeat`` 0, 1, ...).
    progressbar : bool
        Show tasks done on standard error as they finish.

    Returns
    -------
    SweepResult
        ``.table`` (one row per point and repeat, in grid order), ``.summary()``, ``.to_xarray()``.

    Raises
    ------
    SweepError
        For a ``fn`` that is not callable, a bad grid (see :func:`grid_points`), a bad ``seed``,
        ``repeats`` or ``fixed``, an unknown scheduler or an unreachable one.

    Examples
    --------
    >>> def square(x, rng):
    ...     return {"square": x * x}
    >>> result = sweep(square, {"x": [1, 2, 3]}, scheduler="serial", progressbar=False)
    >>> result.table["square"].tolist()
    [1, 4, 9]
    """
    started = time.perf_counter()
    if not callable(fn):
        raise SweepError(f"fn={fn!r}; expected a callable such as a function taking the parameters and rng=")
    points = grid_points(grid)
    seed = whole_number(seed, "seed", 0, SweepError)
    repeats = whole_number(repeats, "repeats", 1, SweepError)
    if fixed is None:
        fixed = {}
    if not isinstance(fixed, Mapping):
        raise SweepError(f"fixed={fixed!r}; expected a table of parameter -> value")
    fixed = {_check_name(k): v for k, v in fixed.items()}
    clash = sorted({n for p in points for n in p} & set(fixed))
    if clash:
        raise SweepError(f"{clash[0]!r} is both swept and fixed; give it in one place")
    if not is_scheduler(scheduler):
        raise SweepError(f"scheduler={scheduler!r}; expected None or 'local' (a local Dask cluster), 'serial', "
                         "a scheduler address such as 'tcp://host:8786', or a distributed.Client")
    tasks = [(point, r, task_seed(point, r, seed)) for point in points for r in range(repeats)]
    rows: list[dict | None] = [None] * len(tasks)
    with ProgressBar("sweep", len(tasks), enabled=progressbar) as bar:
        if isinstance(scheduler, str) and scheduler in SERIAL:
            where = "serial"
            for k, (point, r, s) in enumerate(tasks):
                rows[k] = _run_task(fn, point, fixed, r, s)
                bar.advance(_failures(rows))
        else:
            where = _on_cluster(fn, fixed, tasks, rows, bar, scheduler)
    expanded = [p for p in points for _ in range(repeats)]
    table, names, outputs = _table(expanded, rows)
    result = SweepResult(table, names, outputs, dict(fixed), where, time.perf_counter() - started)
    if result.n_failed:
        warn(f"{result.n_failed} of {len(table)} sweep tasks failed; the first: {result.first_error} "
             "(their rows have the error; see SweepResult.failed)")
    return result


def _failures(rows: list) -> str:
    n = sum(1 for r in rows if r is not None and r["error"] is not None)
    return f"{n} failed" if n else ""


def _on_cluster(fn, fixed, tasks, rows, bar, scheduler) -> str:
    from distributed import as_completed

    with dask_client(scheduler, local=True, error=SweepError) as (client, where):
        futures = {client.submit(_run_task, fn, point, fixed, r, s, pure=False): k
                   for k, (point, r, s) in enumerate(tasks)}
        for future in as_completed(futures):
            k = futures[future]
            try:
                rows[k] = future.result()
            except Exception as exc:  # the worker died or the task could not be sent or unpickled
                point, r, s = tasks[k]
                rows[k] = {"repeat": r, "seed": s, "outputs": {}, "seconds": math.nan,
                           "error": f"{type(exc).__name__}: {exc}"}
            bar.advance(_failures(rows))
    return where
