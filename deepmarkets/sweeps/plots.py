"""The picture of a sweep: one output across the grid."""

from __future__ import annotations

from typing import Any

from deepmarkets.errors import SweepError
from deepmarkets.helpers.plotting import figure_and_axes, styled

__all__ = ["plot_sweep"]


@styled
def plot_sweep(result: Any, output: str, ax: Any = None, x: str | None = None):
    """The mean of ``output`` against one grid parameter, one line per value of the others, with the
    spread over repeats (minimum to maximum) as a band.

    Parameters
    ----------
    result : SweepResult
    output : str
        A numeric output column.
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.
    x : str, optional
        The parameter on the horizontal axis (default: the numeric parameter with most values,
        else the first).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SweepError
        ``output`` is not a numeric output, or ``x`` not a parameter of the sweep.
    """
    import numpy as np
    import pandas as pd

    if output not in result.numeric_outputs:
        raise SweepError(f"output {output!r}: expected a numeric output of this sweep, one of "
                         f"{result.numeric_outputs}")
    t = result.table[result.table["error"].isna()].copy()
    params = list(result.parameters)
    if x is not None and x not in params:
        raise SweepError(f"x={x!r}: expected a parameter of this sweep, one of {params}")
    if x is None and params:
        numeric = [p for p in params if pd.to_numeric(t[p], errors="coerce").notna().all()]
        x = max(numeric or params, key=lambda p: t[p].nunique())
    fig, ax = figure_and_axes(ax)
    t[output] = t[output].astype(float)
    if x is None:
        ax.plot(np.arange(len(t)), t[output], "o")
        ax.set_xlabel("repeat")
    else:
        others = [p for p in params if p != x]
        groups = t.groupby(others, sort=False, dropna=False) if others else [((), t)]
        for key, group in groups:
            stats = group.groupby(x, sort=True)[output].agg(["mean", "min", "max"])
            xs = stats.index.to_numpy()
            label = ", ".join(f"{p}={v}" for p, v in zip(others, key if isinstance(key, tuple) else (key,),
                                                          strict=True)) or None
            line, = ax.plot(xs, stats["mean"], "o-", label=label)
            if (stats["max"] > stats["min"]).any():
                ax.fill_between(xs, stats["min"], stats["max"], color=line.get_color(), alpha=0.15)
        ax.set_xlabel(x)
        if pd.api.types.is_integer_dtype(t[x]):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if others and len(ax.get_lines()) <= 10:
            ax.legend()
    ax.set_ylabel(output)
    ax.set_title(f"{output} across the sweep")
    return fig
