"""The one plot style, and the axes every plot function draws on.

Every public ``plot_*`` function is decorated with :func:`styled` (it draws inside
``matplotlib.rc_context(STYLE)``, so the global rcParams are left as they were) and takes its
axes from :func:`figure_and_axes`: the ``ax`` the caller gave, or a new figure.
matplotlib is imported inside the functions, so importing this module costs nothing.

A fixed colour is named ``COLOURS[i]``, not ``"Ci"``: a line resolves ``"Ci"`` when the figure is
drawn, after the style is gone, and would take the caller's colour cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from deepmarkets.errors import PlotError

__all__ = ["COLOURS", "STYLE", "styled", "figure_and_axes", "panels"]

#: Okabe & Ito's colour-blind-safe palette (yellow and black last: weakest on white, and the text colour).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

#: rcParams applied while a plot function draws.
STYLE: dict[str, Any] = {
    "figure.dpi": 150,
    "figure.figsize": (6.4, 4.0),
    "figure.facecolor": "white",
    "figure.autolayout": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "axes.prop_cycle": f"cycler(color={list(COLOURS)!r})",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "0.88",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "image.cmap": "viridis",
}


def styled(plot: Callable) -> Callable:
    """Decorate a plot function so that it draws in the project's style.

    The style holds only while the function runs (``matplotlib.rc_context``): figures it makes
    keep their size, resolution and layout; the caller's rcParams are untouched.
    """

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    return draw


def figure_and_axes(ax: Any = None, *, shape: tuple[int, int] | None = None, figsize: tuple[float, float] | None = None,
                    **subplots: Any) -> tuple[Any, Any]:
    """The figure and the axes a plot draws on: the caller's ``ax``, or a new figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, sequence of Axes, or None
        For a one-panel plot (``shape`` None) one Axes; for a plot of ``rows * cols`` panels a
        sequence of that many Axes of one figure (a list, a tuple or an array, in row-major
        order). None makes a new figure.
    shape : (rows, cols), optional
        The panels of a composite plot.
    figsize : (float, float), optional
        Size in inches of a new figure (default the style's).
    **subplots
        Passed to ``matplotlib.pyplot.subplots`` for a new figure (``sharex``, ``sharey`` ...).

    Returns
    -------
    (matplotlib.figure.Figure, Axes or tuple of Axes)
        One Axes for a one-panel plot, else a flat tuple of ``rows * cols`` Axes.

    Raises
    ------
    PlotError
        ``ax`` is not an Axes, or not a sequence of the right number of Axes of one figure.
    """
    from matplotlib.axes import Axes

    if shape is None:
        if ax is None:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=figsize, **subplots)
            return fig, ax
        if not isinstance(ax, Axes):
            raise PlotError(f"ax={_show(ax)}; expected one matplotlib Axes (or None for a new figure), "
                            "e.g. fig, ax = plt.subplots()")
        return ax.figure, ax
    rows, cols = shape
    n = rows * cols
    if ax is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False, **subplots)
        return fig, tuple(axes.ravel())
    flat = _flatten(ax)
    if flat is None or len(flat) != n or not all(isinstance(a, Axes) for a in flat):
        raise PlotError(f"ax={_show(ax)}; this plot draws {n} panels ({rows} x {cols}) and expects a sequence of "
                        f"{n} matplotlib Axes (or None for a new figure), e.g. fig, ax = plt.subplots({rows}, {cols})")
    figures = {id(a.figure) for a in flat}
    if len(figures) > 1:
        raise PlotError(f"ax holds Axes of {len(figures)} different figures; give {n} Axes of one figure")
    return flat[0].figure, flat


def panels(rows: int, cols: int, *, figsize: tuple[float, float] | None = None) -> tuple[Any, tuple]:
    """A new figure of ``rows x cols`` panels made in the style, to give composite plots as ``ax``.

    Returns
    -------
    (matplotlib.figure.Figure, tuple of Axes)
        The Axes flat, in row-major order.

    Examples
    --------
    >>> fig, axes = panels(1, 2, figsize=(8, 3))
    >>> len(axes), fig.get_dpi() == STYLE["figure.dpi"]
    (2, True)
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return figure_and_axes(shape=(rows, cols), figsize=figsize)


def _flatten(ax: Any) -> tuple | None:
    """``ax`` as a flat tuple when it is a sequence or an array of objects, else None."""
    if hasattr(ax, "ravel") and hasattr(ax, "dtype"):
        return tuple(ax.ravel())
    if isinstance(ax, Sequence) and not isinstance(ax, str | bytes):
        return tuple(ax)
    return None


def _show(ax: Any) -> str:
    """A short description of a bad ``ax`` for an error message."""
    if isinstance(ax, Sequence) and not isinstance(ax, str | bytes):
        return f"a {type(ax).__name__} of {len(ax)}"
    if hasattr(ax, "shape") and hasattr(ax, "dtype"):
        return f"an array of shape {tuple(ax.shape)}"
    return f"a {type(ax).__name__}"
