"""Plots of a run: each returns a Figure, draws on a given Axes, and shows the run's own numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deepmarkets.models.bria import AuctionBRIA, Bandit, constant  # noqa: E402
from deepmarkets.models.bria.plots import (  # noqa: E402
    plot_average_reward,
    plot_bria,
    plot_rejections,
    plot_wealth,
    plot_win_shares,
)


@pytest.fixture(scope="module")
def agent():
    agent = AuctionBRIA(constant(3, [0.2, 0.6, 1.0]), Bandit(), rng=0)
    agent.run(400, progressbar=False, snapshots=40)
    return agent


@pytest.mark.parametrize("plot", [plot_wealth, plot_win_shares, plot_rejections, plot_average_reward])
def test_each_plot_draws_on_the_given_axes(agent, plot):
    fig, ax = plt.subplots()
    assert plot(agent.result, ax=ax) is fig and (ax.lines or ax.collections or ax.patches)
    assert plot(agent) is not fig  # a new figure without ax
    plt.close("all")


def test_plots_show_the_runs_numbers(agent):
    run = agent.result
    fig, ax = plt.subplots()
    plot_average_reward(run, ax=ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1], run.average_reward())
    fig, ax = plt.subplots()
    plot_wealth(run, ax=ax)
    assert len(ax.lines) == 6 and len(ax.lines[0].get_xdata()) == 40
    fig, ax = plt.subplots()
    plot_win_shares(run, ax=ax)
    assert max(p.get_width() for p in ax.patches) == pytest.approx(run.win_shares().max())
    fig, ax = plt.subplots()
    plot_rejections(run, ax=ax)
    assert len(ax.collections[0].get_offsets()) == len(run.rejected[0])
    assert len(plot_bria(run, best=0.7).axes) == 4
    plt.close("all")
