"""Plots of an economy: learning curve, price against value, depth of the chain, population.

Each function draws on ``ax`` when given (so plots compose) and returns the matplotlib Figure, in the
style of :mod:`deepmarkets.helpers.plotting`.
"""

from __future__ import annotations

import numpy as np

from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled

__all__ = ["plot_learning", "plot_prices", "plot_chain_depth", "plot_population", "plot_economy"]


def _rolling(x: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(x)))
    c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0.0))
    out = (c[window:] - c[:-window]) / window
    return np.concatenate([np.cumsum(x[: window - 1]) / np.arange(1, window), out]) if window > 1 else out


@styled
def plot_learning(economy, ax=None, window: int = 100):
    """Success rate and steps per episode (rolling means over ``window`` episodes).

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax)
    t = economy.result.table()
    episodes = t.index.to_numpy()
    ax.plot(episodes, _rolling(t["success"].to_numpy(float), window), label="success rate")
    ax.set_xlabel("episode")
    ax.set_ylabel(f"success rate (mean of {window})")
    ax.set_ylim(-0.02, 1.02)
    right = ax.twinx()
    right.plot(episodes, _rolling(t["steps"].to_numpy(float), window), color=COLOURS[1], label="steps")
    right.spines["right"].set_visible(True)
    right.grid(False)
    right.set_ylabel("steps per episode")
    ax.set_title("learning curve")
    return fig


@styled
def plot_prices(economy, ax=None):
    """The market price of the world in each state against its optimal value V*.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax, figsize=(4.5, 4))
    eq = economy.equilibrium()
    ax.scatter(eq["value"], eq["price"], s=12, c=np.where(eq["mispriced"], COLOURS[3], COLOURS[0]))
    top = float(max(eq["value"].max(), eq["price"].max(), 1e-9)) if len(eq) else 1.0
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("optimal value V*(s)")
    ax.set_ylabel("market price")
    ax.set_title(f"price against value (Spearman {eq.attrs.get('spearman', float('nan')):.2f})")
    return fig


@styled
def plot_chain_depth(economy, ax=None, window: int = 100):
    """Distinct owners per episode: the depth of the supply chain.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax)
    t = economy.result.table()
    ax.plot(t.index, _rolling(t["owners"].to_numpy(float), window))
    ax.set_xlabel("episode")
    ax.set_ylabel(f"owners per episode (mean of {window})")
    ax.set_title("depth of the chain")
    return fig


@styled
def plot_population(economy, ax=None):
    """Living agents, and births and deaths per episode.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    fig, ax = figure_and_axes(ax)
    t = economy.result.table()
    ax.plot(t.index, t["alive"], label="alive")
    ax.plot(t.index, t["births"].cumsum(), label="births (total)")
    ax.plot(t.index, t["deaths"].cumsum(), label="deaths (total)")
    ax.set_xlabel("episode")
    ax.set_ylabel("agents")
    ax.legend()
    ax.set_title("population")
    return fig


@styled
def plot_economy(economy, *, ax=None):
    """The four plots side by side (the price plot only where the environment knows V*).

    Parameters
    ----------
    economy : Economy
    ax : sequence of four matplotlib.axes.Axes, optional
        Of one figure: learning, prices, chain depth, population (the second is switched off
        where the environment does not know V*); a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` when given.
    """
    fig, axes = figure_and_axes(ax, shape=(1, 4), figsize=(20, 4))
    plot_learning(economy, ax=axes[0])
    if hasattr(economy.env, "optimal_values"):
        plot_prices(economy, ax=axes[1])
    else:
        axes[1].set_axis_off()
    plot_chain_depth(economy, ax=axes[2])
    plot_population(economy, ax=axes[3])
    return fig
