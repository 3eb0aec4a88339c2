"""The conditional layered market: traders move a mixture of experts ``q(y | x)``, paid by cross-fitted log score.

The same market as :class:`~deepmarkets.models.layered.market.LayeredLatentMarket`, for a
conditional density (the family of mixture density networks): the state is a
:class:`~deepmarkets.models.layered.conditional.ConditionalState`, a case is a pair ``(x, y)``,
and a trader moving ``θ`` to ``θ'`` is paid
``b Σ_f Σ_{(x, y) in fold f} [log q_{θ'_{-f}}(y | x) - log q_{θ_{-f}}(y | x)]``. The number of
experts is fixed (no rent). Relabelling the experts pays nothing.

Examples
--------
>>> x, y = bishop_inverse(300, rng=0)
>>> m = ConditionalLatentMarket(x, y, experts=3, rng=0).run(10, progressbar=False)
>>> bool(m.rounds["held_out"].iloc[-1] > m.rounds["held_out"].iloc[0])
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, json_safe
from deepmarkets.helpers.plotting import figure_and_axes, styled
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.layered.conditional import (
    ConditionalState,
    bishop_inverse,
    conditional_data,
    em_step,
    init_conditional,
)
from deepmarkets.models.layered.crossfit import CrossFittedMarket
from deepmarkets.models.layered.traders import Plan

if TYPE_CHECKING:
    import matplotlib.figure

__all__ = ["ConditionalLatentMarket", "ConditionalEMTrader", "bishop_inverse"]


class ConditionalEMTrader:
    """One generalised EM step of the experts and the gating per round."""

    def __init__(self, name: str = "em", *, gate_steps: int = 1, reg: float = 1e-6):
        self.name = str(name)
        self.gate_steps = whole_number(gate_steps, "gate_steps", 1)
        self.reg = float(reg)

    def plan(self, state: ConditionalState, data: np.ndarray, rng: np.random.Generator) -> Plan:
        steps, reg = self.gate_steps, self.reg
        return Plan(lambda s, d: em_step(s, d[:, 0], d[:, 1], reg=reg, gate_steps=steps), "move", "EM step")

    def __repr__(self) -> str:
        return f"ConditionalEMTrader({self.name!r})"


class ConditionalLatentMarket(CrossFittedMarket):
    """A market in a conditional density ``q(y | x)`` (mixture of experts), paid by cross-fitted log score.

    Parameters
    ----------
    x, y : 1-d arrays
        The cases.
    experts : int
        Number of experts (mixture components).
    features : {"rbf", "chebyshev"}
        Basis of ``x`` for the gating and the experts.
    size : int
        Number of basis functions.
    heteroscedastic : bool
        Whether each expert's scale varies with ``x`` or is constant (default). Scales that vary
        need more data: with a few hundred cases they collapse where cases are sparse, and the
        cross-fitted score shows it (a held-out case scored thousands of nats below the rest).
    init : ConditionalState, optional
        The starting state (default: experts on equal-count slices of ``y``).
    traders : sequence, optional
        Default: one :class:`ConditionalEMTrader`.
    folds, b, rng
        As in :class:`~deepmarkets.models.layered.crossfit.CrossFittedMarket`.
    """

    what = "conditional market rounds"

    def __init__(self, x: Any, y: Any, *, experts: int = 3, features: str = "rbf", size: int = 8,
                 heteroscedastic: bool = False, init: ConditionalState | None = None,
                 traders: Sequence[Any] | None = None, folds: int = 5, b: float = 1.0,
                 rng: int | np.random.Generator | None = None):
        x, y = conditional_data(x, y)
        gen = as_rng(rng)
        if init is None:
            init = init_conditional(x, y, whole_number(experts, "experts", 1), features=features, size=size,
                                    heteroscedastic=heteroscedastic, rng=gen)
        elif not isinstance(init, ConditionalState):
            raise DeclarationError(f"init must be a ConditionalState, got {type(init).__name__}")
        super().__init__(np.column_stack([x, y]), init, traders if traders is not None else [ConditionalEMTrader()],
                         folds=folds, b=b, rng=gen)

    def log_q(self, state: ConditionalState, data: np.ndarray) -> np.ndarray:
        return state.log_q(data[:, 0], data[:, 1])

    def _checked(self, state: Any, data: np.ndarray) -> ConditionalState:
        if not isinstance(state, ConditionalState):
            raise DeclarationError(f"a rule returned {type(state).__name__}, not a ConditionalState")
        return super()._checked(state, data)

    def _align(self, copy: ConditionalState, main: ConditionalState) -> ConditionalState:
        """Experts of a fold copy relabelled to match the state's by their mean curves on the data."""
        from scipy.optimize import linear_sum_assignment

        _, mc, _ = copy.mixture(self.x[:, 0])
        _, mm, _ = main.mixture(self.x[:, 0])
        cost = ((mc[:, :, None] - mm[:, None, :]) ** 2).mean(axis=0)
        rows, cols = linear_sum_assignment(cost)
        order = np.empty(copy.k, dtype=np.int64)
        order[cols] = rows
        return copy.permuted(order)

    def score(self, x: Any, y: Any) -> float:
        """Mean ``log q(y | x)`` of new cases under the current state."""
        x, y = conditional_data(x, y)
        return float(np.mean(self.state.log_q(x, y)))

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"n": len(self.x), "experts": self.state.k, "heteroscedastic": self.state.heteroscedastic,
                          "parameters": self.state.n_parameters, "folds": self.folds, "b": self.b,
                          "rounds": self.round, "held_out_log_score": self.held_out_log_score,
                          "traders": self.trader_ledger().reset_index().to_dict("records"),
                          "history": self.rounds.to_dict("records")})

    def __repr__(self) -> str:
        return (f"ConditionalLatentMarket(n={len(self.x)}, {self.state.k} experts, round {self.round}, "
                f"held-out {self.held_out_log_score:.4f} per case)")

    @styled
    def plot(self, ax: Any = None) -> matplotlib.figure.Figure:
        """The cases, each expert's mean curve (drawn where its gating weight exceeds 0.2) and the log score.

        Parameters
        ----------
        ax : sequence of two matplotlib.axes.Axes, optional
            Of one figure: the cases and curves, then the log score; a new figure when None.

        Returns
        -------
        matplotlib.figure.Figure
            The figure of ``ax`` when given.
        """
        fig, axes = figure_and_axes(ax, shape=(1, 2), figsize=(11, 4))
        x, y = self.x[:, 0], self.x[:, 1]
        axes[0].scatter(x, y, s=4, c="0.6", label="cases")
        grid = np.linspace(x.min(), x.max(), 300)
        log_pi, mu, _ = self.state.mixture(grid)
        for k in range(self.state.k):
            curve = np.where(np.exp(log_pi[:, k]) > 0.2, mu[:, k], np.nan)
            axes[0].plot(grid, curve, lw=2, label=f"expert {k + 1}")
        axes[0].set_xlabel("x")
        axes[0].set_ylabel("y")
        axes[0].set_title("experts' means where their gate exceeds 0.2")
        axes[0].legend()
        r = self.rounds
        axes[1].plot(r["round"], r["held_out"], marker=".", label="held-out (cross-fitted)")
        axes[1].plot(r["round"], r["log_likelihood"], marker=".", alpha=0.7, label="in-sample")
        axes[1].set_xlabel("round")
        axes[1].set_ylabel("log score per case (nats)")
        axes[1].legend()
        return fig
