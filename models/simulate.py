"""Simulations with a known hidden truth, for tests, benchmarks and notebooks.

:func:`simulate_reports` draws a class for every question, then each trader's reports from
the model's own generative story (latent class analysis, Dawid–Skene, or forecasts), and
returns the book together with the truth and the parameters used.

:func:`simulate_informed_traders` lets traders who each see a private sample of cases drawn
from a true state move a :class:`~deepmarkets.models.latent_market.LatentMarket`, and records
how close the market's joint comes to the truth (:class:`InformedTraders`, :func:`plot_kl`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import ProgressBar, as_rng
from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled
from deepmarkets.helpers.validate import finite_float, positive_float, whole_number

if TYPE_CHECKING:
    from deepmarkets.models.latent_market import LatentMarket, LatentState

__all__ = ["simulate_reports", "simulate_informed_traders", "InformedTraders", "plot_kl", "TRADER_RULE"]

_MODELS = ("lca", "dawid-skene", "forecast")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def simulate_reports(n_questions: int, n_traders: int, *, classes: int = 3, levels: int | Sequence[int] = 3,
                     separation: float = 2.5, missing: float = 0.0, model: str = "lca",
                     rng: int | np.random.Generator | None = None) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Simulate a reports book from a latent class model with known parameters.

    Each question's class is drawn from shares ``pi ~ Dirichlet(5, ..., 5)``. Then every
    (question, trader) pair is reported with probability ``1 - missing`` (each question keeps
    at least one report):

    * ``"lca"``: trader j has ``levels[j]`` answer levels ``"1".."L_j"``; in class k its answer
      distribution is ``softmax(z)`` with ``z ~ Normal(0, 0.5)`` plus ``separation`` on a
      preferred level (distinct preferred levels for the classes when ``L_j >= K``).
    * ``"dawid-skene"``: the labels are ``"1".."K"`` (``levels`` is not used); trader j's
      confusion row for truth k is ``softmax(z)`` with ``separation`` added on label k.
    * ``"forecast"``: trader j quotes ``p = expit(x)`` with ``x ~ Normal(mean[j, k], sigma[j])``,
      ``mean[j, k] = separation * scale_j * (k - (K - 1) / 2) + Normal(0, 0.3)``,
      ``scale_j ~ Uniform(0.5, 1.5)``, ``sigma_j ~ Uniform(0.5, 1)``; the book has a
      probability column and no answers.

    Parameters
    ----------
    n_questions, n_traders : int
        Questions ``q1..qQ`` and traders ``t1..tJ``.
    classes : int, default 3
        Number of hidden classes K.
    levels : int or sequence of int, default 3
        Answer levels per trader (lca).
    separation : float, default 2.5
        How far apart the classes are (a log-odds boost; larger is easier).
    missing : float, default 0.0
        Probability that a (question, trader) pair has no report, in [0, 1).
    model : {"lca", "dawid-skene", "forecast"}
    rng : int, numpy.random.Generator or None

    Returns
    -------
    (deepmarkets.beliefs.Book, numpy.ndarray, dict)
        The reports book (rows ordered by question, then trader), the ``(Q,)`` true class
        index (0-based; in Dawid–Skene the label ``str(k + 1)``), and the true parameters:
        ``model``, ``class_shares`` (K,), ``response`` (list of ``(K, L_j)``, lca and
        Dawid–Skene), ``mean`` (J, K) and ``sigma`` (J,) (forecast).

    Examples
    --------
    >>> book, truth, params = simulate_reports(50, 4, classes=2, levels=2, rng=0)
    >>> len(book), truth.shape, params["class_shares"].shape
    (200, (50,), (2,))
    """
    from deepmarkets.beliefs.book import Book

    Q = whole_number(n_questions, "n_questions", 1)
    J = whole_number(n_traders, "n_traders", 1)
    K = whole_number(classes, "classes", 1)
    if model not in _MODELS:
        raise DeclarationError(f"model={model!r}; expected one of {list(_MODELS)}")
    if isinstance(separation, bool) or not isinstance(separation, int | float | np.integer | np.floating) or \
            not math.isfinite(separation):
        raise DeclarationError(f"separation={separation!r}; expected a finite number")
    if isinstance(missing, bool) or not isinstance(missing, int | float | np.integer | np.floating) or \
            not 0 <= missing < 1:
        raise DeclarationError(f"missing={missing!r}; expected a probability in [0, 1)")
    if model == "dawid-skene":
        n_levels = np.full(J, K, dtype=np.int64)
        if K < 2:
            raise DeclarationError("a Dawid-Skene book needs classes >= 2 (the labels are the classes)")
    elif isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        n_levels = np.full(J, whole_number(levels, "levels", 1), dtype=np.int64)
    else:
        try:
            n_levels = np.array([whole_number(v, "levels[j]", 1) for v in levels], dtype=np.int64)  # type: ignore[union-attr]
        except TypeError:
            raise DeclarationError(f"levels={levels!r}; expected a whole number or one per trader") from None
        if len(n_levels) != J:
            raise DeclarationError(f"levels has {len(n_levels)} entries for {J} traders; give one per trader")
    gen = as_rng(rng)
    pi = gen.dirichlet(np.full(K, 5.0))
    truth = gen.choice(K, size=Q, p=pi)
    present = gen.random((Q, J)) >= missing
    empty = np.flatnonzero(~present.any(axis=1))
    present[empty, gen.integers(0, J, size=len(empty))] = True
    qi, ji = np.nonzero(present)  # ordered by question, then trader
    params: dict[str, Any] = {"model": model, "class_shares": pi}
    columns: dict[str, Any] = {
        "question": np.array([f"q{i + 1}" for i in range(Q)], dtype=object)[qi],
        "trader": np.array([f"t{j + 1}" for j in range(J)], dtype=object)[ji],
    }
    if model == "forecast":
        scale = gen.uniform(0.5, 1.5, size=J)
        centre = np.arange(K) - (K - 1) / 2.0
        mean = separation * scale[:, None] * centre[None, :] + gen.normal(0.0, 0.3, size=(J, K))
        sigma = gen.uniform(0.5, 1.0, size=J)
        x = gen.normal(mean[ji, truth[qi]], sigma[ji])
        columns["probability"] = 1.0 / (1.0 + np.exp(-x))
        params.update(mean=mean, sigma=sigma)
    else:
        Lmax = int(n_levels.max())
        cdf = np.ones((J, K, Lmax))
        response = []
        for j in range(J):
            L = int(n_levels[j])
            z = gen.normal(0.0, 0.5, size=(K, L))
            if model == "dawid-skene":
                pref = np.arange(K)
            else:
                pref = (gen.permutation(max(L, K)) % L)[:K]
            z[np.arange(K), pref] += separation
            theta = _softmax(z)
            response.append(theta)
            cdf[j, :, :L] = np.cumsum(theta, axis=1)
            cdf[j, :, L - 1:] = 1.0
        u = gen.random(len(qi))
        answer = (u[:, None] >= cdf[ji, truth[qi]]).sum(axis=1)
        answer = np.minimum(answer, n_levels[ji] - 1)
        columns["answer"] = (answer + 1).astype(str).astype(object)
        params["response"] = response
    import pandas as pd

    book = Book.from_frame(pd.DataFrame(columns), kind="reports")
    return book, truth, params


# ---------------------------------------------------------------------------
# informed traders in a latent market
# ---------------------------------------------------------------------------
#: The informed-trader rule, as stated in :class:`InformedTraders`.
TRADER_RULE = (
    "incremental EM (Neal & Hinton 1998) as trading: the market's state stands for the expected counts of the "
    "N cases behind the earlier trades plus `smoothing` pseudo-cases of the starting state (N = cases_per_trader "
    "times the number of traders who have traded, or market_cases); a trader removes the counts it put in at its "
    "previous trade, runs em_steps EM steps on its private sample with the rest held fixed (P(Y) and each "
    "P(X_i|Y) row proportional to fixed + sample expected counts), and moves the market to the result; when the "
    "market's hidden states are indistinguishable the EM start is randomly perturbed so that they can separate"
)


@dataclass(frozen=True, eq=False)
class InformedTraders:
    """A simulation of informed traders moving a latent market toward the truth.

    Attributes
    ----------
    true_state : LatentState
        The state the cases were drawn from.
    initial_state, final_state : LatentState
        The market's state before the first and after the last simulated trade.
    aligned_state : LatentState
        ``final_state`` relabelled to best match ``true_state`` (see ``permutation``).
    permutation : tuple of int
        Hidden state ``j`` of ``aligned_state`` is state ``permutation[j]`` of ``final_state``;
        it minimises the squared distance of all parameters to the true ones (over all
        permutations, found exactly by the Hungarian algorithm since the cost separates by state).
    kl_initial : float
        ``KL(true || market)`` in nats before the first trade.
    kl : ndarray, shape (T,)
        ``KL(true || market)`` in nats after each trade.
    threshold : float
        The KL level of interest (nats).
    trades_to_threshold : int or None
        The first trade (1-based) after which the KL is below ``threshold``; None if never.
    table_error : float
        Largest absolute difference between ``aligned_state`` and ``true_state`` parameters.
    cases : ndarray, shape (n_traders * cases_per_trader, n_observables)
        The resolved cases the traders saw (level codes), trader by trader.
    latent : ndarray, shape (n_traders * cases_per_trader,)
        The hidden state of each case (index into ``true_state.classes``).
    owner : ndarray, shape (n_traders * cases_per_trader,)
        Which trader (0-based) saw each case.
    n_traders, cases_per_trader, rounds, em_steps : int
    rule : str
        How each trader moved the market.
    seconds : float
    """

    true_state: LatentState
    initial_state: LatentState
    final_state: LatentState
    aligned_state: LatentState
    permutation: tuple[int, ...]
    kl_initial: float
    kl: np.ndarray
    threshold: float
    trades_to_threshold: int | None
    table_error: float
    cases: np.ndarray
    latent: np.ndarray
    owner: np.ndarray
    n_traders: int
    cases_per_trader: int
    rounds: int
    em_steps: int
    rule: str = TRADER_RULE
    seconds: float = 0.0

    @property
    def n_trades(self) -> int:
        return int(self.kl.shape[0])

    def to_dict(self) -> dict:
        return {
            "n_traders": self.n_traders, "cases_per_trader": self.cases_per_trader, "rounds": self.rounds,
            "em_steps": self.em_steps, "n_trades": self.n_trades, "kl_initial": float(self.kl_initial),
            "kl": [float(v) for v in self.kl], "kl_final": float(self.kl[-1]) if self.n_trades else None,
            "threshold": float(self.threshold), "trades_to_threshold": self.trades_to_threshold,
            "table_error": float(self.table_error), "permutation": list(self.permutation),
            "true_state": self.true_state.to_dict(), "final_state": self.final_state.to_dict(),
            "aligned_state": self.aligned_state.to_dict(), "rule": self.rule, "seconds": float(self.seconds),
        }

    def _reached(self) -> str:
        if self.trades_to_threshold is None:
            return f"never below {self.threshold:g} nats"
        return f"below {self.threshold:g} nats after {self.trades_to_threshold} trades"

    def __repr__(self) -> str:
        final = self.kl[-1] if self.n_trades else self.kl_initial
        return (f"InformedTraders({self.n_traders} traders x {self.cases_per_trader} cases x {self.rounds} rounds: "
                f"KL(true || market) {self.kl_initial:.4g} -> {final:.4g} nats, {self._reached()}; "
                f"latent tables within {self.table_error:.3g} of the truth up to relabelling)")

    def _repr_markdown_(self) -> str:
        final = self.kl[-1] if self.n_trades else self.kl_initial
        return "\n".join([
            f"**informed traders**: {self.n_traders} traders, {self.cases_per_trader} private cases each, "
            f"{self.rounds} rounds ({self.n_trades} trades, {self.seconds:.2f} s)",
            "",
            f"- KL(true ‖ market): {self.kl_initial:.4g} → {final:.4g} nats, {self._reached()}",
            f"- latent tables (relabelled by {list(self.permutation)}): largest error {self.table_error:.3g}",
            "",
            "aligned market state:",
            "",
            self.aligned_state._repr_markdown_(),
            "",
            "true state:",
            "",
            self.true_state._repr_markdown_(),
        ])



def simulate_informed_traders(
    market: LatentMarket,
    true_state: LatentState | Mapping,
    n_traders: int = 20,
    cases_per_trader: int = 50,
    rounds: int = 3,
    rng: int | np.random.Generator | None = None,
    progressbar: bool = True,
    *,
    em_steps: int = 30,
    market_cases: float | None = None,
    smoothing: float = 1.0,
    threshold: float = 0.02,
) -> InformedTraders:
    """Simulate traders who each see a private sample of resolved cases and move the market.

    Each trader draws ``cases_per_trader`` cases from ``true_state`` once (it sees the
    observables, never ``Y``). In each of ``rounds`` rounds the traders trade in turn. The
    rule is incremental EM (Neal & Hinton 1998) played as a market: the market's state is read
    as the expected counts of the ``N`` cases behind the earlier trades plus ``smoothing``
    pseudo-cases of the starting state, where ``N`` is ``market_cases`` if given, else
    ``cases_per_trader`` times the number of distinct traders who have traded (public
    information). A trader takes away the counts it put in at its previous trade, runs
    ``em_steps`` EM steps on its own sample with the rest held fixed (``P(Y)`` and each row of
    ``P(X_i | Y)`` proportional to the fixed counts plus its sample's expected counts: the
    MAP update under a Dirichlet prior centred on the market), and moves the market to the
    result. Over rounds the market therefore converges to a fixed point of EM on all the
    traders' cases pooled (with the ``smoothing`` pseudo-cases as the only prior), though no
    one sees them all. When the market's hidden states cannot be told apart (all rows equal,
    as in the uniform state) the EM start is randomly perturbed so that the states can
    separate. Every trade is recorded in the book.

    Parameters
    ----------
    market : LatentMarket
        The market the traders move (its book records every trade).
    true_state : state
        Where the cases come from.
    n_traders, cases_per_trader, rounds : int
        Traders, private cases per trader, and times each trader trades.
    rng : int, numpy Generator or None
        Seeds the cases and the perturbation of a symmetric start.
    progressbar : bool
        Show a rich progress bar over trades.
    em_steps : int
        EM steps per trade.
    market_cases : float, optional
        ``N``, the cases the market's state is read as standing for (default: as above).
    smoothing : float
        Pseudo-cases of the starting state kept in the market (keeps every probability positive).
    threshold : float
        The KL level (nats) whose first crossing is reported.

    Returns
    -------
    InformedTraders
        ``KL(true || market)`` after each trade, the first trade below ``threshold``, and
        the final tables aligned to the true ones up to relabelling.

    Examples
    --------
    >>> from deepmarkets.models.latent_market import LatentMarket
    >>> m = LatentMarket("m", latent=2, observables={f"x{i}": ["0", "1"] for i in range(3)})
    >>> truth = m.state_from(prior=[0.4, 0.6], tables=[[[0.9, 0.1], [0.2, 0.8]]] * 3)
    >>> sim = simulate_informed_traders(m, truth, 10, 60, rounds=2, rng=0, progressbar=False)
    >>> bool(sim.kl[-1] < 0.02)
    True
    """
    from deepmarkets.models.latent_market import _best_permutation

    truth = market._coerce(true_state, "true_state")
    n_traders = whole_number(n_traders, "n_traders", 1)
    m = whole_number(cases_per_trader, "cases_per_trader", 1)
    rounds = whole_number(rounds, "rounds", 1)
    em_steps = whole_number(em_steps, "em_steps", 1)
    positive_float(smoothing, "smoothing")
    positive_float(threshold, "threshold")
    if market_cases is not None:
        finite_float(market_cases, "market_cases", low=0, hint="or None for all of them")
    gen = as_rng(rng)
    started = time.perf_counter()
    codes, latent = market.sample(n_traders * m, truth, gen)
    owner = np.repeat(np.arange(n_traders), m)
    onehots = [np.eye(len(lv))[codes[:, i]] for i, lv in enumerate(market.levels)]
    outcomes = market.outcomes()
    log_true = market._log_q(truth, outcomes)
    p_true = np.exp(log_true)

    def kl_now() -> float:
        return float(np.sum(p_true * (log_true - market._log_q(market.state, outcomes))))

    initial = market.state
    kl0 = kl_now()
    kls = []
    total = n_traders * rounds
    own: list[tuple[np.ndarray, list[np.ndarray]] | None] = [None] * n_traders
    with ProgressBar(f"{market.name}: informed traders", total, enabled=progressbar) as bar:
        for t in range(total):
            j = t % n_traders
            rows = slice(j * m, (j + 1) * m)
            n0 = float(market_cases) if market_cases is not None else float(min(t, n_traders) * m)
            after, own[j] = _trader_update(market, market.state, codes[rows], [o[rows] for o in onehots], n0,
                                                own[j], smoothing, em_steps, gen)
            market.move(f"trader {j + 1}", after)
            kls.append(kl_now())
            bar.advance(f"KL {kls[-1]:.4g}")
    kl = np.array(kls)
    below = np.flatnonzero(kl < threshold)
    perm = _best_permutation(market.state, truth)
    aligned = market.state.relabel(perm)
    return InformedTraders(
        true_state=truth, initial_state=initial, final_state=market.state, aligned_state=aligned,
        permutation=tuple(int(p) for p in perm), kl_initial=kl0, kl=kl, threshold=float(threshold),
        trades_to_threshold=int(below[0]) + 1 if below.size else None,
        table_error=aligned.distance(truth), cases=codes, latent=latent, owner=owner, n_traders=n_traders,
        cases_per_trader=m, rounds=rounds, em_steps=em_steps, seconds=time.perf_counter() - started,
    )


def _trader_update(market: LatentMarket, state: LatentState, codes: np.ndarray, onehots: list[np.ndarray], n0: float,
                   own: tuple[np.ndarray, list[np.ndarray]] | None, smoothing: float, steps: int,
                   gen: np.random.Generator) -> tuple[LatentState, tuple[np.ndarray, list[np.ndarray]]]:
    """One informed trader's move (see :func:`simulate_informed_traders`); returns it and the trader's counts."""
    from deepmarkets.models.latent_market import LatentState, _lse

    k = market.n_classes
    # the expected counts the market's state stands for (n0 cases plus the starting state's `smoothing`
    # pseudo-cases), less what this trader put in last time; a floor keeps every probability positive
    mass = n0 + smoothing
    base_prior = mass * state.prior
    base_tables = [mass * state.prior[:, None] * t for t in state.tables]
    if own is not None:
        base_prior = base_prior - own[0]
        base_tables = [bt - c for bt, c in zip(base_tables, own[1], strict=True)]
    base_prior = np.maximum(base_prior, 1e-6 * smoothing / k)
    base_tables = [np.maximum(bt, 1e-6 * smoothing / bt.size) for bt in base_tables]
    prior, tables = state.prior, list(state.tables)
    if all(np.allclose(t, t[:1], atol=1e-6) for t in tables):
        # indistinguishable hidden states: EM would stay on the symmetric point, so perturb its start
        tables = [0.7 * t + 0.3 * gen.dirichlet(np.ones(t.shape[1]), size=k) for t in tables]
    for _ in range(steps):
        a = np.log(prior)[None, :] + sum(np.log(t)[:, codes[:, i]].T for i, t in enumerate(tables))
        r = np.exp(a - _lse(a)[:, None])
        nk = r.sum(axis=0)
        counts = [r.T @ oh for oh in onehots]
        prior = (base_prior + nk) / (base_prior + nk).sum()
        tables = [(bt + c) / (bt + c).sum(axis=1, keepdims=True) for bt, c in zip(base_tables, counts, strict=True)]
    # the counts this trader put into the state it moves to
    return LatentState(market.classes, market.observables, market.levels, prior, tuple(tables)), (nk, counts)


@styled
def plot_kl(result: InformedTraders | Sequence[float], *, threshold: float | None = None, ax=None):
    """Plot ``KL(true || market)`` against the trade number (log scale).

    Parameters
    ----------
    result : InformedTraders or sequence of float
        A simulation, or a KL path (one value per trade).
    threshold : float, optional
        A horizontal line (default: the simulation's threshold).
    ax : matplotlib.axes.Axes, optional
        Drawn there when given, else on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure`` when ``ax`` was given.
    """
    if isinstance(result, InformedTraders):
        kl = np.concatenate([[result.kl_initial], result.kl])
        start = 0
        threshold = result.threshold if threshold is None else threshold
        reached = result.trades_to_threshold
    else:
        kl = np.asarray(result, dtype=float)
        start, reached = 1, None
    fig, ax = figure_and_axes(ax, figsize=(6, 3.5))
    trades = np.arange(start, start + kl.size)
    ax.plot(trades, np.maximum(kl, 1e-12), marker=".", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("trade")
    ax.set_ylabel("KL(true ‖ market) (nats)")
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"{threshold:g} nats")
        if reached is not None:
            ax.axvline(reached, color=COLOURS[3], ls=":", lw=1, label=f"below after {reached} trades")
        ax.legend(loc="upper right")
    ax.set_title("the market's joint approaches the truth")
    return fig
