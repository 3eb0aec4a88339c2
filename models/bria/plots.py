"""Plots of a hypothesis auction: wealth over time, win shares, rejection times, average reward.

Each function takes a :class:`~deepmarkets.models.bria.BRIARun` (or the agent), draws on ``ax``
when given (so plots compose) and returns the matplotlib Figure, in the style of
:mod:`deepmarkets.helpers.plotting`.
"""

from __future__ import annotations

import numpy as np

from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled

__all__ = ["plot_wealth", "plot_win_shares", "plot_rejections", "plot_average_reward", "plot_bria"]


def _run(run):
    return run.result if hasattr(run, "result") else run


def _top(run, top: int) -> np.ndarray:
    return np.argsort(-run.wins, kind="stable")[:top]


@styled
def plot_wealth(run, ax=None, top: int = 6):
    """Wealth over time of the ``top`` hypotheses by wins (from the run's wealth snapshots).

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    run = _run(run)
    fig, ax = figure_and_axes(ax)
    for i in _top(run, top):
        ax.plot(run.snapshot_rounds, run.snapshot_wealth[:, i], label=run.names[i], lw=1)
    ax.set_xlabel("round")
    ax.set_ylabel("wealth (reward units)")
    ax.set_title("wealth of the most frequent winners")
    if len(run.snapshot_rounds):
        ax.legend()
    return fig


@styled
def plot_win_shares(run, ax=None, top: int = 12, last: int | None = None):
    """The ``top`` hypotheses' shares of the rounds won (over the ``last`` rounds when given).

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    run = _run(run)
    fig, ax = figure_and_axes(ax)
    shares = run.win_shares(last)
    order = np.argsort(-shares, kind="stable")[:top]
    ax.barh(np.arange(len(order))[::-1], shares[order], color=COLOURS[0])
    ax.set_yticks(np.arange(len(order))[::-1], [run.names[i] for i in order], fontsize="small")
    ax.set_xlabel("share of rounds won" + (f" (last {last})" if last else ""))
    ax.set_ylabel("hypothesis")
    ax.set_title("who decides")
    return fig


@styled
def plot_rejections(run, ax=None):
    """Rejection times: a dot for each round a hypothesis promised more than the agent's estimate.

    Without the kept rejections (more than 200 hypotheses), each hypothesis's last rejection.
    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    run = _run(run)
    fig, ax = figure_and_axes(ax)
    if run.rejected is not None:
        rounds, hyps = run.rejected
        step = max(1, len(rounds) // 50_000)  # thin very long records for drawing
        ax.scatter(rounds[::step], hyps[::step], s=0.5, color=COLOURS[3], alpha=0.4, rasterized=True)
        ax.set_title("rejection times")
    else:
        seen = run.last_rejection > 0
        ax.scatter(run.last_rejection[seen], np.flatnonzero(seen), s=4, color=COLOURS[3])
        ax.set_title("last rejection of each hypothesis")
    ax.set_xlabel("round")
    ax.set_ylabel("hypothesis (enumeration order)")
    return fig


@styled
def plot_average_reward(run, ax=None, best: float | None = None, others: dict | None = None):
    """The running average reward and the running average estimate; ``best`` as a line, ``others`` (name ->
    rewards array, e.g. a baseline's) as curves.

    Returns the Figure (``ax.figure`` when ``ax``, one matplotlib Axes, is given).
    """
    run = _run(run)
    fig, ax = figure_and_axes(ax)
    t = np.arange(1, run.n_rounds + 1)
    ax.plot(t, np.cumsum(run.rewards) / t, label="average reward")
    ax.plot(t, np.cumsum(run.estimates) / t, label="average estimate", ls="--")
    for name, rewards in (others or {}).items():
        r = np.asarray(rewards, dtype=float)
        ax.plot(np.arange(1, len(r) + 1), np.cumsum(r) / np.arange(1, len(r) + 1), label=name, lw=0.8)
    if best is not None:
        ax.axhline(best, color="grey", lw=0.8, ls=":", label=f"best {best:g}")
    ax.set_xscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("running average (reward units)")
    ax.set_title("reward and estimate")
    ax.legend()
    return fig


@styled
def plot_bria(run, best: float | None = None, *, ax=None):
    """The four plots in one figure: average reward, wealth, win shares, rejections.

    Parameters
    ----------
    run : BRIARun or AuctionBRIA
    best : float, optional
        The best achievable average reward, drawn as a line.
    ax : sequence of four matplotlib.axes.Axes, optional
        Of one figure, in that order (e.g. a 2 x 2 grid); a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` when given.
    """
    fig, axes = figure_and_axes(ax, shape=(2, 2), figsize=(12, 8))
    plot_average_reward(run, ax=axes[0], best=best)
    plot_wealth(run, ax=axes[1])
    plot_win_shares(run, ax=axes[2])
    plot_rejections(run, ax=axes[3])
    return fig
