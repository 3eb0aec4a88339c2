"""Pictures of a fitted latent class model: the class shares and each trader's reliability."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled

__all__ = ["plot_class_shares", "plot_reliability"]


@styled
def plot_class_shares(fit: Any, ax: Any = None):
    """The share of each latent class: bars at the estimate, and the posterior draws when the fit
    has them (NUTS or ADVI) as a 90 % interval.

    Parameters
    ----------
    fit : LatentClassFit or PartitionedFit
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from deepmarkets.models import infer, simulate_reports
    >>> book, _, _ = simulate_reports(100, 4, classes=2, model="dawid-skene", rng=0)
    >>> fig = plot_class_shares(infer(book, rng=0))
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['1', '2']
    """
    names = [str(c) for c in fit.classes]
    shares = np.asarray(fit.class_shares, dtype=float)
    fig, ax = figure_and_axes(ax, figsize=(max(3.5, 0.9 * len(names) + 2), 3.2))
    x = np.arange(len(names))
    ax.bar(x, shares, color=COLOURS[0], width=0.6, label="estimate")
    idata = getattr(fit, "idata", None)
    if idata is not None and "posterior" in idata.children and "class_share" in idata["posterior"]:
        draws = np.asarray(idata["posterior"]["class_share"]).reshape(-1, len(names))
        low, high = np.quantile(draws, [0.05, 0.95], axis=0)
        ax.errorbar(x, shares, yerr=[shares - low, high - shares], fmt="none", color=COLOURS[7], capsize=4,
                    label="90 % posterior interval")
        ax.legend()
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("share of questions")
    ax.set_title(f"{fit.model}: class shares")
    return fig


@styled
def plot_reliability(fit: Any, ax: Any = None, top: int = 40):
    """Each trader's reliability, most reliable first (the ``top`` most and, beyond that, the least).

    Dawid–Skene: ``P(answer = truth)``; LCA and forecasts: ``I(class; answer) / H(class)``.

    Parameters
    ----------
    fit : LatentClassFit or PartitionedFit
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.
    top : int
        Traders shown by name; with more traders the plot is a sorted curve without names.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from deepmarkets.models import infer, simulate_reports
    >>> book, _, _ = simulate_reports(100, 4, classes=2, model="dawid-skene", rng=0)
    >>> fig = plot_reliability(infer(book, rng=0))
    >>> fig.axes[0].get_ylabel()
    'P(answer = truth)'
    """
    rel = fit.reliability().sort_values(ascending=False)
    what = "P(answer = truth)" if fit.model == "dawid-skene" else "I(class; answer) / H(class)"
    named = len(rel) <= top
    fig, ax = figure_and_axes(ax, figsize=(max(4.0, 0.25 * len(rel) + 2) if named else 6.4, 3.4))
    x = np.arange(len(rel))
    if named:
        ax.bar(x, rel.to_numpy(), color=COLOURS[2], width=0.7)
        ax.set_xticks(x, [str(t) for t in rel.index], rotation=60 if len(rel) > 8 else 0,
                      ha="right" if len(rel) > 8 else "center")
        ax.set_xlabel("trader")
    else:
        ax.plot(x + 1, rel.to_numpy(), color=COLOURS[2])
        ax.set_xlabel("trader rank (most reliable first)")
    ax.set_ylim(0, 1)
    ax.set_ylabel(what)
    ax.set_title(f"reliability of {len(rel)} traders")
    return fig
