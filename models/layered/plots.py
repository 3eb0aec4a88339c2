"""Plots of a layered latent market: its structure over time, its log score over time, its clusters.

Each function draws on ``ax`` when given (so plots compose) and returns the matplotlib Figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_structure", "plot_log_score", "plot_clusters", "plot_market"]


def _axes(ax, size=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def plot_structure(market, ax=None):
    """Location states and shape states after each round, with entries and exits marked."""
    fig, ax = _axes(ax)
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
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_log_score(market, ax=None):
    """Held-out (cross-fitted) and in-sample log score per datum after each round."""
    fig, ax = _axes(ax)
    r = market.rounds
    ax.plot(r["round"], r["held_out"], marker=".", label="held-out (cross-fitted)")
    ax.plot(r["round"], r["log_likelihood"], marker=".", alpha=0.7, label="in-sample")
    ax.set_xlabel("round")
    ax.set_ylabel("log score per datum (nats)")
    ax.set_title("log score")
    ax.legend(fontsize="small")
    return fig


def plot_clusters(market, truth: Any = None, layer: str = "location", ax=None):
    """The data on their first two principal components, coloured by a layer's labels (markers: ``truth``)."""
    fig, ax = _axes(ax, (6, 5))
    x = market.x - market.x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pc = x @ vt[:2].T if x.shape[1] > 1 else np.column_stack([x[:, 0], np.zeros(len(x))])
    labels = market.labels()[layer]
    names = sorted(set(labels))
    colour = np.array([names.index(v) for v in labels])
    if truth is None:
        ax.scatter(pc[:, 0], pc[:, 1], c=colour, cmap="tab10", s=12)
    else:
        truth = np.asarray(truth)
        for marker, t in zip("o^sDvP*Xh<>", sorted(set(truth)), strict=False):
            m = truth == t
            ax.scatter(pc[m, 0], pc[m, 1], c=colour[m], cmap="tab10", vmin=0, vmax=max(9, len(names) - 1), s=14,
                       marker=marker, label=str(t))
        legend = ax.legend(title="known class (marker)", fontsize="small")
        for handle in legend.legend_handles:
            handle.set_color("0.4")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(f"{layer} states ({len(names)}) by colour")
    return fig


def plot_market(market, truth: Any = None):
    """Structure, log score and clusters side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    plot_structure(market, ax=axes[0])
    plot_log_score(market, ax=axes[1])
    plot_clusters(market, truth=truth, layer="shape" if market.state.layered else "location", ax=axes[2])
    fig.tight_layout()
    return fig
