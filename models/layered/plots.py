"""Plots of a layered latent market: its structure over time, its log score over time, its clusters.

Each function draws on ``ax`` when given (so plots compose) and returns the matplotlib Figure, in the
style of :mod:`deepmarkets.helpers.plotting`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled

__all__ = ["plot_structure", "plot_log_score", "plot_clusters", "plot_market"]


@styled
def plot_structure(market, ax=None):
    """Location states and shape states after each round, with entries and exits marked.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax)
    r = market.rounds
    ax.step(r["round"], r["states"], where="post", label="location states K")
    if r["layered"].any():
        ax.step(r["round"], r["shapes"].where(r["layered"]), where="post", label="shape states G")
    s = market.structure
    for event, marker, name in (("entry", "^", "entries"), ("exit", "v", "exits")):
        rounds = s.loc[s["event"] == event, "round"].value_counts().sort_index()
        if len(rounds):
            ax.scatter(rounds.index, np.zeros(len(rounds)) + 0.5, marker=marker, s=12 * rounds.to_numpy(),
                       alpha=0.6, label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("number of states")
    ax.set_title("structure set by rent")
    ax.legend(loc="lower right")
    return fig


@styled
def plot_log_score(market, ax=None):
    """Held-out (cross-fitted) and in-sample log score per datum after each round.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax)
    r = market.rounds
    ax.plot(r["round"], r["held_out"], marker=".", label="held-out (cross-fitted)")
    ax.plot(r["round"], r["log_likelihood"], marker=".", alpha=0.7, label="in-sample")
    ax.set_xlabel("round")
    ax.set_ylabel("log score per datum (nats)")
    ax.set_title("log score")
    ax.legend()
    return fig


@styled
def plot_clusters(market, truth: Any = None, layer: str = "location", ax=None):
    """The data on their first two principal components, coloured by a layer's labels (markers: ``truth``).

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax, figsize=(6, 5))
    x = market.x - market.x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pc = x @ vt[:2].T if x.shape[1] > 1 else np.column_stack([x[:, 0], np.zeros(len(x))])
    labels = market.labels()[layer]
    names = sorted(set(labels))
    palette = np.array(COLOURS)
    colour = palette[np.array([names.index(v) for v in labels]) % len(palette)]
    if truth is None:
        ax.scatter(pc[:, 0], pc[:, 1], c=colour, s=12)
    else:
        truth = np.asarray(truth)
        for marker, t in zip("o^sDvP*Xh<>", sorted(set(truth)), strict=False):
            m = truth == t
            ax.scatter(pc[m, 0], pc[m, 1], c=colour[m], s=14, marker=marker, label=str(t))
        legend = ax.legend(title="known class (marker)")
        for handle in legend.legend_handles:
            handle.set_color("0.4")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(f"{layer} states ({len(names)}) by colour")
    return fig


@styled
def plot_market(market, truth: Any = None, *, ax=None):
    """Structure, log score and clusters side by side.

    Parameters
    ----------
    market : LayeredLatentMarket
    truth : array-like, optional
        Known labels of the data, drawn as markers on the clusters.
    ax : sequence of three matplotlib.axes.Axes, optional
        Of one figure, in that order; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` when given.
    """
    fig, axes = figure_and_axes(ax, shape=(1, 3), figsize=(16, 4.5))
    plot_structure(market, ax=axes[0])
    plot_log_score(market, ax=axes[1])
    plot_clusters(market, truth=truth, layer="shape" if market.state.layered else "location", ax=axes[2])
    return fig
