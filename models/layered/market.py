"""The layered latent market: traders move a layered latent model and are paid by held-out log score.

The market's state ``θ`` is a :class:`~deepmarkets.models.layered.state.LayeredState` (location
states with Gaussian emissions, and optionally a coarse layer of shape states above them) or a
:class:`~deepmarkets.models.layered.categorical.CategoricalState` (latent classes over answers).
A trader's trade is a rule (:mod:`~deepmarkets.models.layered.traders`) that moves ``θ`` to
``θ'``; it is paid the cross-fitted gain in log score
(:class:`~deepmarkets.models.layered.crossfit.CrossFittedMarket`): the market keeps one copy of
its state per fold, fitted without that fold, so a move that only fits noise earns nothing, a
gauge transformation pays exactly nothing, and payouts telescope.

**Structure pays rent.** Every structural element has an account: each location state, each
shape state of the coarse layer, and the coarse layer itself. Each round the element is credited
its *dividend*, ``b`` times the log score it adds on all the data (the score with it minus the
score of the best state without it: a location state removed, a shape state's children joined
to another shape, the layer removed; then ``refit`` EM steps), and charged ``b`` times the rent
per parameter (``log(n)/2`` nats per pass for ``"bic"``: BIC's penalty, ``log(n)/(2n)`` per datum;
1 for ``"aic"``) for the parameters it costs: how many more the state has with it than without
it (``d + 1`` for a location state, plus its shape's without a layer; ``s`` for a shape state,
``d`` diag or ``d(d+1)/2`` full; for the layer one, less the shapes it saves its children). So
an element keeps a non-negative account exactly while the criterion (BIC or AIC) prefers the
state with it. The element with the most negative account leaves at the end of the round: a
location state is removed and its weight spread over the others, a shape state's children join
the shape that suits them best (both then refitted), the layer is removed by giving each
location state a copy of its shape, which leaves ``q`` unchanged. Entries (splits into
identical copies, a layer inserted as an identity map) leave ``q`` unchanged too; what the
entrepreneur then does to them is its trade, paid held-out like any other.

**Money.** The market maker pays the traders' payouts and the elements' dividends and collects
the rents; the ledger records every transfer with both its sides, so the balances, the market
maker's included, always sum to zero. A trade whose rule raises, or whose result has NaN,
infinite values, a non-positive variance or a singular covariance, is rejected: nothing moves
and nothing is paid.

Examples
--------
>>> rng = np.random.default_rng(1)
>>> x = np.concatenate([rng.normal(-3, 1, (80, 1)), rng.normal(3, 1, (80, 1))])
>>> m = LayeredLatentMarket(x, max_states=4, rng=0)
>>> _ = m.run(6, progressbar=False)
>>> m.state.n_states
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import json_safe
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.layered.categorical import CategoricalState, encode_answers
from deepmarkets.models.layered.crossfit import FAILURES, MARKET, CrossFittedMarket, Trade
from deepmarkets.models.layered.em import REG_COVAR, em_step
from deepmarkets.models.layered.state import EMISSIONS, LayeredState
from deepmarkets.models.layered.traders import EMTrader, Entrepreneur, Plan, Restarter, rent_per_parameter

if TYPE_CHECKING:
    import matplotlib.figure

__all__ = ["LayeredLatentMarket", "Trade", "read_data", "read_answers", "MARKET"]


def _select(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    """The named columns of ``frame`` (all when ``columns`` is None); unknown names are refused."""
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DeclarationError(f"unknown columns {missing}; the data have {list(frame.columns)}")
    return frame[list(columns)]


def read_data(data: Any, columns: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Observations as a float ``(n, d)`` array and their column names; NaN or text are refused."""
    if isinstance(data, pd.DataFrame):
        frame = _select(data, columns)
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise DeclarationError(f"columns {bad} are not numeric; select numeric columns with columns=[...]")
        names = [str(c) for c in frame.columns]
        x = frame.to_numpy(dtype=np.float64)
    else:
        try:
            x = np.array(data, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise DeclarationError(f"data must be numeric: {e}") from None
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise DeclarationError(f"data must be a table (n rows, d columns), got shape {x.shape}")
        names = [f"x{j + 1}" for j in range(x.shape[1])] if columns is None else [str(c) for c in columns]
        if len(names) != x.shape[1]:
            raise DeclarationError(f"{len(names)} column names for {x.shape[1]} columns")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DeclarationError(f"the data are empty (shape {x.shape})")
    bad_rows = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
    if len(bad_rows):
        raise DeclarationError(f"{len(bad_rows)} rows have NaN or infinite values (first: row {bad_rows[0]}); "
                               f"drop or impute them first")
    return x, names


def read_answers(data: Any, columns: Sequence[str] | None = None) -> tuple[np.ndarray, list[str], list[int]]:
    """Categorical answers as codes ``0 .. L_j - 1``, the column names and the number of levels per column.

    A DataFrame's columns are coded by their sorted distinct values; an array must already hold the codes.
    """
    if isinstance(data, pd.DataFrame):
        frame = _select(data, columns)
        if frame.empty:
            raise DeclarationError(f"the data are empty (shape {frame.shape})")
        x, levels, _ = encode_answers(frame)
        return x, [str(c) for c in frame.columns], levels
    x, names = read_data(data, columns)
    if np.any(x != np.round(x)) or np.any(x < 0):
        raise DeclarationError("categorical answers given as an array must be codes 0, 1, 2, ...; pass a DataFrame "
                               "to have labels coded")
    levels = [max(int(v) + 1, 2) for v in x.max(axis=0)]
    return x, names, levels


class LayeredLatentMarket(CrossFittedMarket):
    """A market whose traders fit a layered latent model and whose structure is set by rent.

    Parameters
    ----------
    data : DataFrame or (n, d) array
        Observations (standardise them first when their scales differ).
    emission : {"diag", "full", "factor", "categorical"}
        Covariance family of the Gaussian emissions, or categorical answers (a latent class model;
        a DataFrame's columns are coded by their distinct values; no coarse layer).
    factors : int
        Factors of each shape when ``emission="factor"``.
    init : LayeredState, optional
        The starting state; by default one Gaussian fitted to all the data.
    traders : list, optional
        Objects with a ``name`` and ``plan(state, x, rng)``; by default an :class:`EMTrader`, an
        :class:`Entrepreneur` with ``max_states`` and ``layer``, and a :class:`Restarter` with
        ``restarts`` fresh starts (none when 0).
    max_states : int
        The default entrepreneur's largest number of location states.
    layer : bool
        Whether the default entrepreneur may grow a coarse layer.
    folds : int
        Cross-fitting folds (at least 2).
    b : float
        Liquidity: payouts, dividends and rents are in units of ``b`` nats.
    rent : {"bic", "aic"}, float or None
        Rent per parameter per pass over the data; ``None`` fixes the structure (no rent, no
        dividends, no exits: the market of EM traders alone is EM).
    refit : int
        EM steps used to refit a state without an element when its dividend is computed.
    columns : list of str, optional
        Columns of a DataFrame to use.
    rng : int or Generator, optional

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> m = LayeredLatentMarket(x, rng=0)
    >>> m.step()["states"]              # one Gaussian suits these data
    1
    """

    def __init__(self, data: Any, *, emission: str = "diag", init: LayeredState | None = None,
                 traders: Sequence[Any] | None = None, max_states: int = 6, layer: bool = False, folds: int = 5,
                 b: float = 1.0, rent: str | float | None = "bic", refit: int = 3, columns: Sequence[str] | None = None,
                 factors: int = 2, restarts: int = 5, rng: int | np.random.Generator | None = None):
        if emission not in (*EMISSIONS, "categorical"):
            raise DeclarationError(f"emission={emission!r}; expected one of {(*EMISSIONS, 'categorical')}")
        if emission == "categorical" or isinstance(init, CategoricalState):
            x, self.columns, levels = read_answers(data, columns)
        else:
            x, self.columns = read_data(data, columns)
        self.rent = rent
        self.rent_per_parameter = None if rent is None else rent_per_parameter(rent, len(x))
        self.refit = whole_number(refit, "refit", 0)
        self.events: list[dict[str, Any]] = []
        self._prices: list[dict[str, Any]] = []
        if init is None:
            init = CategoricalState.one_class(x, levels) if emission == "categorical" else \
                _one_gaussian(x, emission, whole_number(factors, "factors", 1))
        elif not isinstance(init, LayeredState | CategoricalState):
            raise DeclarationError(f"init must be a LayeredState or a CategoricalState, got {type(init).__name__}")
        elif init.dim != x.shape[1]:
            raise DeclarationError(f"init has {init.dim} dimensions, the data {x.shape[1]} columns")
        self.emission = init.emission
        self._kind = type(init)
        if traders is None:
            traders = [EMTrader("em"), Entrepreneur(max_states=max_states, layer=layer)]
            if whole_number(restarts, "restarts", 0):
                traders.append(Restarter(starts=restarts))
        super().__init__(x, init, traders, folds=folds, b=b, rng=rng)

    # ------------------------------------------------------------------ trading
    what = "layered market rounds"

    def _checked(self, state: Any, x: np.ndarray) -> LayeredState:
        if not isinstance(state, self._kind):
            raise DeclarationError(f"a rule returned {type(state).__name__}, not a {self._kind.__name__}")
        return super()._checked(state, x)

    def _align(self, copy: LayeredState, main: LayeredState) -> LayeredState:
        return _aligned(copy, main)

    @staticmethod
    def _element_names(state: LayeredState) -> set[str]:
        return set(state.ids) | set(state.shape_ids if state.layered else ())

    def _traded(self, trader: str, plan: Plan, before: LayeredState) -> None:
        """Open accounts for the elements a trade brought in, close those it took out, record the prices."""
        old, new = self._element_names(before), self._element_names(self.state)
        for e in sorted(new - old):
            self.accounts.setdefault(e, 0.0)
            self.events.append({"round": self.round, "event": "entry", "element": e, "by": trader,
                                "label": plan.label})
        if self.state.layered and LAYER not in self.accounts:
            self.accounts[LAYER] = 0.0
            self.events.append({"round": self.round, "event": "entry", "element": LAYER, "by": trader,
                                "label": plan.label})
        for e in sorted(old - new):
            self._close(e, trader)
        self._record_prices(trader)

    def _close(self, element: str, by: str) -> None:
        """An element leaves: its balance is written off to the market."""
        balance = self.accounts.pop(element, 0.0)
        self._ledger.append((self.round, element, MARKET, balance, "exit"))
        self.events.append({"round": self.round, "event": "exit", "element": element, "by": by,
                            "label": f"balance {balance:.4g}"})

    # ------------------------------------------------------------------ rent
    @staticmethod
    def _best_home(state: LayeredState, g: int, x: np.ndarray) -> int:
        scores = [(float(state.joined(g, h).log_q(x).sum()), h) for h in range(state.n_shapes) if h != g]
        return max(scores)[1]

    def _elements(self) -> list[str]:
        """Accounts that pay rent now: location states (when more than one), shape states (when more than
        one) and the coarse layer."""
        s = self.state
        out = list(s.ids) if s.n_states > 1 else []
        if s.layered:
            out += list(s.shape_ids) if s.n_shapes > 1 else []
            out.append(LAYER)
        return out

    def settle(self) -> None:
        """Credit every element its dividend, charge its rent, and let the most indebted one leave."""
        if self.rent_per_parameter is None:
            return
        rent = self.b * self.rent_per_parameter
        base = float(self.state.log_q(self.x).sum())
        for element in self._elements():
            bare = self._removal(element, 0)(self.state, self.x)       # the structure without it, not refitted
            params = self.state.n_parameters - bare.n_parameters + (1 if element == LAYER else 0)
            try:
                with np.errstate(divide="raise", over="raise", invalid="raise"):
                    without = bare
                    for _ in range(self.refit):
                        without = em_step(without, self.x)
                    without = self._checked(without, self.x)
                dividend = self.b * (base - float(without.log_q(self.x).sum()))
            except FAILURES:
                dividend = 0.0
            self._pay(MARKET, element, dividend, "dividend")
            self._pay(element, MARKET, rent * params, "rent")
        owing = [(self.accounts[e], e) for e in self._elements() if self.accounts[e] < 0]
        if owing:
            _, element = min(owing)
            self._exit(element)

    def _removal(self, element: str, refit: int):
        """The rule that removes ``element`` from every copy, then ``refit`` EM steps; a shape state's
        children join the shape chosen on all the data."""
        s = self.state
        g = None if element in s.ids or element == LAYER else s.shape_ids.index(element)
        home = None if g is None else self._best_home(s, g, self.x)

        def rule(st, data):
            out = st.joined(g, home) if g is not None else (
                st.without_layer() if element == LAYER else st.without_state(st.ids.index(element)))
            for _ in range(refit):
                out = em_step(out, data)
            return out
        return rule

    def _exit(self, element: str) -> None:
        s = self.state
        rule = self._removal(element, 0 if element == LAYER else self.refit)  # the layer leaves q as it is
        main, copies, lq = self._apply(rule)
        before = set(s.ids) | set(s.shape_ids if s.layered else ())
        self._commit(main, copies, lq)
        after = set(main.ids) | set(main.shape_ids if main.layered else ())
        gone = sorted((before - after) | {element})
        for e in gone:
            if e in self.accounts:
                self._close(e, MARKET)
        if element != LAYER and LAYER in self.accounts and not main.layered:
            self._close(LAYER, MARKET)
        self._record_prices(MARKET)

    # ------------------------------------------------------------------ structure
    def add_layer(self) -> None:
        """Insert the coarse layer as an identity map (``q`` unchanged); it then pays rent like any element."""
        self.trade("user", Plan(lambda s, data: s.with_layer(), "layer", "insert the coarse layer"))

    # ------------------------------------------------------------------ results
    def _row(self) -> dict[str, Any]:
        s = self.state
        row = super()._row()
        return {**row, "states": s.n_states, "shapes": s.n_shapes if s.layered else 0, "layered": s.layered,
                "parameters": s.n_parameters,
                "bic": -2 * row["log_likelihood"] * len(self.x) + s.n_parameters * np.log(len(self.x))}

    def _progress(self, row: dict[str, Any]) -> str:
        return f"K={row['states']} G={row['shapes']} held-out {row['held_out']:.4f}"

    @property
    def structure(self) -> pd.DataFrame:
        """Entries and exits of elements: round, event, element, by whom, what."""
        return pd.DataFrame(self.events, columns=["round", "event", "element", "by", "label"])

    def posteriors(self, x: Any = None) -> dict[str, pd.DataFrame]:
        """``P(location state | x)`` and, with a coarse layer, ``P(shape state | x)`` (the prices per datum)."""
        data = self.x if x is None else read_data(x)[0]
        resp, _ = self.state.responsibilities(data)
        out = {"location": pd.DataFrame(resp, columns=list(self.state.ids))}
        if self.state.layered:
            out["shape"] = pd.DataFrame(self.state.shape_posterior(resp), columns=list(self.state.shape_ids))
        return out

    def labels(self, x: Any = None) -> dict[str, np.ndarray]:
        """The most probable state of each layer for every row."""
        return {k: np.asarray(v.columns)[np.argmax(v.to_numpy(), axis=1)] for k, v in self.posteriors(x).items()}

    def bic(self) -> float:
        """BIC of the current state: ``-2 log L + p log n`` (in-sample)."""
        return float(self._row()["bic"])

    def icl(self) -> float:
        """ICL: BIC plus twice the entropy of the location-state posteriors."""
        resp, _ = self.state.responsibilities(self.x)
        entropy = -float(np.sum(resp * np.log(np.clip(resp, 1e-300, None))))
        return self.bic() + 2.0 * entropy

    @property
    def securities(self) -> tuple[str, ...]:
        """``P(g)`` of each shape state and ``P(a | g)`` of each location state (``P(a)`` without a layer)."""
        return tuple(self.prices().index)

    def prices(self) -> pd.Series:
        """The current prices of the layers' conditionals."""
        s = self.state
        if not s.layered:
            return pd.Series({f"P({i})": float(w) for i, w in zip(s.ids, s.weights, strict=True)}, name="price")
        top = np.zeros(s.n_shapes)
        np.add.at(top, s.shape_of, s.weights)
        out = {f"P({g})": float(p) for g, p in zip(s.shape_ids, top, strict=True)}
        for a, i in enumerate(s.ids):
            out[f"P({i}|{s.shape_ids[s.shape_of[a]]})"] = float(s.weights[a] / top[s.shape_of[a]])
        return pd.Series(out, name="price")

    def _record_prices(self, trader: str) -> None:
        time = self._prices[-1]["time"] + 1 if self._prices else 0      # one time per trade or exit
        for question, p in self.prices().items():
            self._prices.append({"time": time, "trader": trader, "question": question, "probability": p})

    @property
    def history(self) -> pd.DataFrame:
        """The prices each accepted trade set, as a reports book (time, trader, question, probability)."""
        return pd.DataFrame(self._prices, columns=["time", "trader", "question", "probability"])

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "n": len(self.x), "columns": self.columns, "emission": self.emission, "folds": self.folds, "b": self.b,
            "rent": self.rent, "rent_per_parameter": self.rent_per_parameter, "rounds": self.round,
            "held_out_log_score": self.held_out_log_score, "bic": self.bic(), "icl": self.icl(),
            "state": self.state.to_dict(), "children": self.state.children() if self.state.layered else None,
            "accounts": dict(self.balances()), "traders": self.trader_ledger().reset_index().to_dict("records"),
            "structure": self.structure.to_dict("records"), "history": self.rounds.to_dict("records"),
        })

    def __repr__(self) -> str:
        return (f"LayeredLatentMarket(n={len(self.x)}, d={self.x.shape[1]}, {self.state!r}, round {self.round}, "
                f"held-out {self.held_out_log_score:.4f} per datum)")

    # ------------------------------------------------------------------ plots
    def plot(self, truth: Any = None, *, ax: Any = None) -> matplotlib.figure.Figure:
        """Structure over time, log score over time, and the clusters (markers: ``truth`` when given).

        Parameters
        ----------
        truth : array-like, optional
            Known labels of the data, drawn as markers on the clusters.
        ax : sequence of three matplotlib.axes.Axes, optional
            Of one figure, in that order; a new figure when None.

        Returns
        -------
        matplotlib.figure.Figure
            The figure of ``ax`` when given.
        """
        from deepmarkets.models.layered.plots import plot_market
        return plot_market(self, truth=truth, ax=ax)

    def posterior(self, *, draws: int = 500, tune: int = 500, chains: int = 2,
                  rng: int | np.random.Generator | None = None, progressbar: bool = True) -> Any:
        """NUTS posterior (PyMC) of the final parameters with the structure fixed, as an ArviZ DataTree
        (diagonal emissions; see :func:`~deepmarkets.models.layered.posterior.sample_posterior`)."""
        from deepmarkets.models.layered.posterior import sample_posterior
        return sample_posterior(self.state, self.x, draws=draws, tune=tune, chains=chains,
                                rng=self.rng if rng is None else rng, progressbar=progressbar)


def _one_gaussian(x: np.ndarray, emission: str, factors: int) -> LayeredState:
    """One Gaussian fitted to all the data (factor loadings from the leading principal axes)."""
    d = x.shape[1]
    mu = x.mean(axis=0, keepdims=True)
    if emission == "diag":
        return LayeredState.from_arrays([1.0], mu, x.var(axis=0)[None] + REG_COVAR, emission=emission)
    cov = np.cov(x, rowvar=False, bias=True).reshape(d, d)
    if emission == "full":
        return LayeredState.from_arrays([1.0], mu, (cov + REG_COVAR * np.eye(d))[None], emission=emission)
    if not 1 <= factors < d:
        raise DeclarationError(f"factors={factors}; a factor emission needs 1 <= factors < {d} (the columns)")
    vals, vecs = np.linalg.eigh(cov)
    noise = vals[:-factors].mean()
    lam = vecs[:, -factors:] * np.sqrt(np.maximum(vals[-factors:] - noise, 0.0))
    psi = np.maximum(np.diag(cov) - np.sum(lam * lam, axis=1), 1e-3 * np.diag(cov)) + REG_COVAR
    return LayeredState.from_arrays([1.0], mu, np.concatenate([lam, psi[:, None]], axis=1)[None],
                                    emission=emission)


#: The coarse layer's account name.
LAYER = "layer"


def _aligned(copy: LayeredState, main: LayeredState) -> LayeredState:
    """``copy``'s location states reordered to match ``main``'s means (a gauge transformation)."""
    if copy.n_states != main.n_states or copy.n_states == 1:
        return copy
    from scipy.optimize import linear_sum_assignment
    cost = ((copy.means[:, None, :] - main.means[None, :, :]) ** 2).sum(-1)
    if copy.layered:                       # never pair states of different shapes
        cost = cost + 1e12 * (copy.shape_of[:, None] != main.shape_of[None, :])
    rows, cols = linear_sum_assignment(cost)
    order = np.empty(copy.n_states, dtype=np.int64)
    order[cols] = rows
    out = copy.permuted(order)
    return out if out.ids == main.ids else _renamed(out, main)


def _renamed(copy: LayeredState, main: LayeredState) -> LayeredState:
    from dataclasses import replace
    return replace(copy, ids=main.ids, shape_ids=main.shape_ids, next_id=main.next_id)
