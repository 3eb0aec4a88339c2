"""The picture of a coherence check: each quoted price beside the nearest coherent one."""

from __future__ import annotations

from typing import Any

from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled

__all__ = ["plot_coherence"]

#: Sentences named on the vertical axis; beyond this many, rows are numbered.
NAMED = 60
#: Tallest figure drawn when no ``ax`` is given (inches).
MAX_HEIGHT = 12.0


@styled
def plot_coherence(report: Any, ax: Any = None):
    """Quoted prices (dots) and the nearest coherent prices (bars), one row per sentence.

    For a coherent report the two coincide; for an incoherent one the gaps are what the
    Dutch book exploits (their sum is the report's L1 distance).

    Parameters
    ----------
    report : CoherenceReport
        The result of :func:`~deepmarkets.logic.check_coherence`.
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from deepmarkets.logic import atoms, check_coherence
    >>> a, b = atoms("a b")
    >>> fig = plot_coherence(check_coherence({a: 0.6, b: 0.7, a & b: 0.2}))
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['a', 'b', 'a & b']
    """
    import numpy as np

    d = report.to_dict()
    names = [p["sentence"] if p["given"] is None else f"{p['sentence']} | {p['given']}" for p in d["prices"]]
    quoted = np.array([p["price"] for p in d["prices"]], dtype=float)
    nearest = d.get("nearest_prices")
    fig, ax = figure_and_axes(ax, figsize=(6.4, min(0.9 + 0.35 * len(names), MAX_HEIGHT)))
    rows = np.arange(len(names))
    if nearest is not None:
        ax.barh(rows, np.asarray(nearest, dtype=float), height=0.6, color="0.8", label="nearest coherent price")
    ax.plot(quoted, rows, "o", color=COLOURS[3] if d["verdict"] == "incoherent" else COLOURS[0], label="quoted price")
    if len(names) <= NAMED:
        ax.set_yticks(rows, names)
        ax.set_ylabel("sentence")
    else:
        ax.set_ylabel("sentence (row of the prices)")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("price (probability)")
    ax.set_title(f"{d['verdict']}" + (f": L1 distance {d['l1_distance']:.4g}" if d.get("l1_distance") else ""))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25 - 1.2 / (1 + len(names))), ncol=2)
    return fig
