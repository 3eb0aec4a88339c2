"""Every public plot function: returns its Figure, draws on the caller's axes, labels every axis, draws in the one
style of deepmarkets.helpers.plotting, refuses axes it cannot draw on, and leaves the global rcParams alone."""

from __future__ import annotations

import ast
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deepmarkets.errors import DeepMarketsError, PlotError  # noqa: E402
from deepmarkets.helpers.plotting import COLOURS, STYLE, figure_and_axes, styled  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("logic", "beliefs", "models", "deepmarkets")


# ---------------------------------------------------------------------------
# small real objects, built once
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def objects():
    from deepmarkets.beliefs.book import Book
    from deepmarkets.beliefs.makers import LMSR
    from deepmarkets.beliefs.market import Market
    from deepmarkets.beliefs.replay import replay
    from deepmarkets.logic import atoms, check_coherence
    from deepmarkets.logic.induction import Inductor, threshold_trader
    from deepmarkets.logic.quantified.market import MarketRun
    from deepmarkets.models.bria import AuctionBRIA, Bandit, constant
    from deepmarkets.models.data import Reports
    from deepmarkets.models.economies.economy import Economy
    from deepmarkets.models.economies.envs import Chain
    from deepmarkets.models.em import fit_em
    from deepmarkets.models.latent_market import LatentMarket
    from deepmarkets.models.layered.conditional_market import ConditionalLatentMarket, bishop_inverse
    from deepmarkets.models.layered.market import LayeredLatentMarket
    from deepmarkets.models.natural import fit_natural_latent_errors
    from deepmarkets.models.relabel import fix_gauge
    from deepmarkets.models.simulate import simulate_reports
    from deepmarkets.sweeps import sweep

    a, b = atoms("a b")
    induction = Inductor([a, b], [threshold_trader(a, buy_below=0.7, sell_above=0.7)],
                         deductive=[[], [b]]).run(3, progressbar=False)

    coin = Market("coin", maker=LMSR(b=1.0))
    coin.contract("heads")
    coin.contract("~heads", name="tails")
    book = Book.from_frame(pd.DataFrame({"trader": ["ann", "bob", "ann"], "security": ["heads", "tails", "heads"],
                                         "quantity": [1.0, 2.0, 0.5]}))

    reports = Reports.from_book(simulate_reports(300, 4, classes=2, levels=2, separation=4.0, rng=1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        em = fit_em(reports, model="lca", classes=2, restarts=2, rng=0)
    advi = replace(em, method="advi", elbo=-np.geomspace(500.0, 80.0, 200))

    suspect = LatentMarket("suspect", latent=["guilty", "innocent"],
                           observables={"motive": ["yes", "no"], "witness": ["saw", "did not", "unsure"]})
    truth = suspect.state_from(prior=[0.35, 0.65], tables={"motive": [[0.85, 0.15], [0.3, 0.7]],
                                                           "witness": [[0.6, 0.1, 0.3], [0.1, 0.4, 0.5]]},
                               base=suspect.uniform_state())
    informed = suspect.simulate_informed_traders(truth, 3, 20, 1, rng=0, progressbar=False)

    bria = AuctionBRIA(constant(3, [0.2, 0.6, 1.0]), Bandit(), rng=0)
    bria.run(200, progressbar=False, snapshots=20)

    gen = np.random.default_rng(0)
    x = np.concatenate([gen.normal(c, 1.0, (30, 2)) for c in ((-4, 0), (4, 0), (0, 5))])
    layered = LayeredLatentMarket(x, max_states=4, rng=0).run(3, progressbar=False)
    conditional = ConditionalLatentMarket(*bishop_inverse(150, rng=1), experts=2, rng=1).run(2, progressbar=False)

    economy = Economy(Chain(3), rng=0)
    economy.run(40, progressbar=False)

    swept = sweep(lambda n, k, rng: {"score": n * k + rng % 3}, {"n": [1, 2, 3], "k": [0, 1]}, repeats=2,
                  scheduler="serial", progressbar=False)

    return SimpleNamespace(
        coherence=check_coherence({a: 0.6, b: 0.7, a & b: 0.2}), em=em, sweep=swept, induction=induction,
        quantified=MarketRun("all n. P(n)", (0.5, 0.6, 0.55, 0.7), ()),
        replay=replay(book, coin, world="heads"), advi=advi, informed=informed, truth=truth,
        natural=fit_natural_latent_errors(em), gauge=fix_gauge(_switched_posterior(gen)), bria=bria,
        layered=layered, conditional=conditional, economy=economy)


def _switched_posterior(gen, chains=2, draws=40, questions=12, K=2):
    """Posterior draws of a two-class model whose second chain has its classes swapped."""
    import xarray as xr

    base = np.where(np.arange(questions)[:, None] % K == np.arange(K), 0.9, 0.1)
    probs = np.stack([[gen.dirichlet(50 * row) for row in base] for _ in range(chains * draws)])
    share = np.stack([gen.dirichlet([60.0, 40.0]) for _ in range(chains * draws)])
    probs[draws:], share[draws:] = probs[draws:, :, ::-1], share[draws:, ::-1]
    post = xr.Dataset({"class_probability": (("chain", "draw", "question", "class"),
                                             probs.reshape(chains, draws, questions, K)),
                       "class_share": (("chain", "draw", "class"), share.reshape(chains, draws, K)),
                       "loglik": (("chain", "draw"), gen.normal(size=(chains, draws)))},
                      coords={"class": ["1", "2"]})
    return xr.DataTree.from_dict({"posterior": post})


def _plots():
    """name -> (panels: None for one Axes, else (rows, cols); draw(objects, ax) -> Figure)."""
    from deepmarkets.logic.coherence_plot import plot_coherence
    from deepmarkets.logic.induction import plot_exploitation
    from deepmarkets.logic.induction import plot_prices as induction_prices
    from deepmarkets.logic.quantified.market import plot_prices as quantified_prices
    from deepmarkets.models.bria.plots import (
        plot_average_reward,
        plot_bria,
        plot_rejections,
        plot_wealth,
        plot_win_shares,
    )
    from deepmarkets.models.economies import plots as economy
    from deepmarkets.models.fit_plots import plot_class_shares, plot_reliability
    from deepmarkets.models.latent_market import plot_tables
    from deepmarkets.models.layered import plots as layered
    from deepmarkets.models.natural import plot_natural_latent
    from deepmarkets.models.relabel import plot_gauge_fixing
    from deepmarkets.models.simulate import plot_kl
    from deepmarkets.sweeps.plots import plot_sweep

    return {
        "logic/coherence_plot.py:plot_coherence": (None, lambda o, ax: plot_coherence(o.coherence, ax=ax)),
        "models/fit_plots.py:plot_class_shares": (None, lambda o, ax: plot_class_shares(o.em, ax=ax)),
        "models/fit_plots.py:plot_reliability": (None, lambda o, ax: plot_reliability(o.em, ax=ax)),
        "deepmarkets/sweeps/plots.py:plot_sweep": (None, lambda o, ax: plot_sweep(o.sweep, "score", ax=ax)),
        "logic/induction/inductor.py:plot_prices": (None, lambda o, ax: induction_prices(o.induction, ax=ax)),
        "logic/induction/inductor.py:plot_exploitation": (None, lambda o, ax: plot_exploitation(o.induction, ax=ax)),
        "logic/quantified/market.py:plot_prices": (None, lambda o, ax: quantified_prices(o.quantified, ax=ax)),
        "beliefs/replay.py:Replay.plot_prices": (None, lambda o, ax: o.replay.plot_prices(ax=ax)),
        "models/fit.py:LatentClassFit.plot_elbo": (None, lambda o, ax: o.advi.plot_elbo(ax=ax)),
        "models/simulate.py:plot_kl": (None, lambda o, ax: plot_kl(o.informed, ax=ax)),
        "models/natural.py:plot_natural_latent": (None, lambda o, ax: plot_natural_latent(o.natural, ax=ax)),
        "models/relabel.py:plot_gauge_fixing": ((2, 2), lambda o, ax: plot_gauge_fixing(o.gauge, ax=ax)),
        "models/latent_market.py:plot_tables": (
            (1, 3), lambda o, ax: plot_tables(o.informed.final_state, o.truth, ax=ax)),
        "models/bria/plots.py:plot_wealth": (None, lambda o, ax: plot_wealth(o.bria, ax=ax)),
        "models/bria/plots.py:plot_win_shares": (None, lambda o, ax: plot_win_shares(o.bria, ax=ax)),
        "models/bria/plots.py:plot_rejections": (None, lambda o, ax: plot_rejections(o.bria, ax=ax)),
        "models/bria/plots.py:plot_average_reward": (None, lambda o, ax: plot_average_reward(o.bria, ax=ax)),
        "models/bria/plots.py:plot_bria": ((2, 2), lambda o, ax: plot_bria(o.bria, 1.0, ax=ax)),
        "models/layered/plots.py:plot_structure": (None, lambda o, ax: layered.plot_structure(o.layered, ax=ax)),
        "models/layered/plots.py:plot_log_score": (None, lambda o, ax: layered.plot_log_score(o.layered, ax=ax)),
        "models/layered/plots.py:plot_clusters": (
            None, lambda o, ax: layered.plot_clusters(o.layered, np.repeat([0, 1, 2], 30), ax=ax)),
        "models/layered/plots.py:plot_market": ((1, 3), lambda o, ax: layered.plot_market(o.layered, ax=ax)),
        "models/layered/market.py:LayeredLatentMarket.plot": ((1, 3), lambda o, ax: o.layered.plot(ax=ax)),
        "models/layered/conditional_market.py:ConditionalLatentMarket.plot": (
            (1, 2), lambda o, ax: o.conditional.plot(ax=ax)),
        "models/economies/plots.py:plot_learning": (None, lambda o, ax: economy.plot_learning(o.economy, ax=ax)),
        "models/economies/plots.py:plot_prices": (None, lambda o, ax: economy.plot_prices(o.economy, ax=ax)),
        "models/economies/plots.py:plot_chain_depth": (
            None, lambda o, ax: economy.plot_chain_depth(o.economy, ax=ax)),
        "models/economies/plots.py:plot_population": (
            None, lambda o, ax: economy.plot_population(o.economy, ax=ax)),
        "models/economies/plots.py:plot_economy": ((1, 4), lambda o, ax: economy.plot_economy(o.economy, ax=ax)),
    }


PLOTS = _plots()


def _public_plot_functions() -> set[str]:
    """Every public function or method named plot or plot_* in the packages' sources."""
    found = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(ROOT).as_posix()
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("plot"):
                    found.add(f"{where}:{node.name}")
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    found.update(f"{where}:{node.name}.{f.name}" for f in node.body
                                 if isinstance(f, ast.FunctionDef) and f.name.startswith("plot"))
    return found


def test_every_public_plot_function_is_checked_here():
    assert _public_plot_functions() == set(PLOTS)


# ---------------------------------------------------------------------------
# what every plot must do
# ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _drawn(fig: Figure):
    """The visible axes of a figure."""
    return [ax for ax in fig.axes if ax.axison and ax.get_visible()]


def _labelled(ax, axis: str) -> bool:
    """An axis has a label, or shares its axis with a twin that has one."""
    shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    return any((a.get_xlabel() if axis == "x" else a.get_ylabel()).strip() for a in shared.get_siblings(ax))


def _colours(ax) -> set[tuple[float, float, float]]:
    """The colours of the lines, bars and markers drawn, less greys (reference lines) and white."""
    rgb = [to_rgb(line.get_color()) for line in ax.lines]
    rgb += [tuple(p.get_facecolor()[:3]) for p in ax.patches]
    for c in ax.collections:
        rgb += [tuple(f[:3]) for f in np.atleast_2d(c.get_facecolor()) if len(f)]
        rgb += [tuple(e[:3]) for e in np.atleast_2d(c.get_edgecolor()) if len(e) and not len(c.get_facecolor())]
    return {tuple(round(v, 4) for v in c) for c in rgb if not np.allclose(c, c[0])}


@pytest.mark.parametrize("name", PLOTS)
def test_a_new_figure_in_the_style_with_every_axis_labelled(objects, name):
    panels, draw = PLOTS[name]
    before = set(plt.get_fignums())
    fig = draw(objects, None)
    assert isinstance(fig, Figure)
    assert set(plt.get_fignums()) - before == {fig.number}
    axes = _drawn(fig)
    assert len(axes) >= (1 if panels is None else panels[0] * panels[1] - 1)
    assert fig.dpi == STYLE["figure.dpi"] and type(fig.get_layout_engine()).__name__ == "TightLayoutEngine"
    palette = {tuple(round(v, 4) for v in to_rgb(c)) for c in COLOURS}
    assert any(line.get_visible() for ax in axes for line in ax.xaxis.get_gridlines() + ax.yaxis.get_gridlines())
    for ax in axes:
        assert _labelled(ax, "x") and _labelled(ax, "y"), (name, ax.get_title())
        for label in (ax.xaxis.label, ax.yaxis.label):
            if label.get_text():
                assert label.get_fontsize() == STYLE["axes.labelsize"], (name, label.get_text())
        if ax.get_title():
            assert ax.title.get_fontsize() == STYLE["axes.titlesize"], name
        if ax.get_legend() is not None:
            assert ax.get_legend().get_texts()[0].get_fontsize() == STYLE["legend.fontsize"], name
        assert not ax.spines["top"].get_visible()
        assert _colours(ax) <= palette, (name, _colours(ax) - palette)


@pytest.mark.parametrize("name", PLOTS)
def test_it_draws_on_the_given_axes(objects, name):
    panels, draw = PLOTS[name]
    if panels is None:
        fig, ax = plt.subplots()
        given = [ax]
    else:
        fig, ax = plt.subplots(*panels)
        given = list(ax.ravel())
    before = set(plt.get_fignums())
    assert draw(objects, ax) is fig
    assert set(plt.get_fignums()) == before  # no figure of its own
    for a in given:
        if a.axison:
            assert a.lines or a.patches or a.collections, name
            assert _labelled(a, "x") and _labelled(a, "y"), name
            assert a.xaxis.label.get_fontsize() == STYLE["axes.labelsize"], name


@pytest.mark.parametrize("name", PLOTS)
def test_axes_it_cannot_draw_on_are_refused(objects, name):
    panels, draw = PLOTS[name]
    if panels is None:
        _, pair = plt.subplots(1, 2)
        wrong = [list(pair), "axes"]
    else:
        n = panels[0] * panels[1]
        _, grid = plt.subplots(1, n + 1)
        wrong = [grid[0], list(grid), list(grid[:-2]), ["axes"] * n]
    for ax in wrong:
        with pytest.raises(PlotError, match="expect") as info:
            draw(objects, ax)
        assert isinstance(info.value, DeepMarketsError) and isinstance(info.value, ValueError)


def test_a_plot_leaves_the_global_rcparams_alone(objects):
    _, draw = PLOTS["models/bria/plots.py:plot_bria"]
    with matplotlib.rc_context({"font.size": 17.0, "axes.labelsize": 17.0}):
        saved = dict(matplotlib.rcParams)
        fig = draw(objects, None)
        assert fig.axes[0].xaxis.label.get_fontsize() == STYLE["axes.labelsize"]
        assert dict(matplotlib.rcParams) == saved
        # drawn later, outside the style, the figure keeps what it was given
        fig.canvas.draw()
        assert fig.axes[0].xaxis.label.get_fontsize() == STYLE["axes.labelsize"]
        assert plt.figure().dpi == saved["figure.dpi"]


# ---------------------------------------------------------------------------
# the helpers themselves
# ---------------------------------------------------------------------------
def test_figure_and_axes_takes_an_array_in_row_major_order_and_refuses_mixed_figures():
    fig, grid = plt.subplots(2, 3)
    got_fig, axes = figure_and_axes(grid, shape=(2, 3))
    assert got_fig is fig and axes == tuple(grid.ravel())
    assert figure_and_axes(tuple(grid[0]), shape=(1, 3))[1] == tuple(grid[0])
    _, other = plt.subplots()
    with pytest.raises(PlotError, match="2 different figures"):
        figure_and_axes([grid[0, 0], other], shape=(1, 2))
    with pytest.raises(PlotError, match=r"ax=an array of shape \(2, 3\); .* 4 matplotlib Axes"):
        figure_and_axes(grid, shape=(2, 2))
    new, axes = figure_and_axes(shape=(2, 2), sharex=True)
    assert len(axes) == 4 and axes[0].get_shared_x_axes().joined(axes[0], axes[3]) and new is axes[0].figure


def test_styled_restores_the_rcparams_when_the_plot_raises():
    @styled
    def broken():
        assert matplotlib.rcParams["axes.labelsize"] == STYLE["axes.labelsize"]
        raise PlotError("bad axes")

    saved = dict(matplotlib.rcParams)
    with pytest.raises(PlotError):
        broken()
    assert dict(matplotlib.rcParams) == saved and broken.__name__ == "broken"


def test_the_palette_is_distinct_and_the_cycle_uses_it():
    assert len(set(COLOURS)) == len(COLOURS) == 8
    with matplotlib.rc_context(STYLE):
        assert [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]] == list(COLOURS)
