"""A repeated market in a quantified sentence, settled each round by its game (PM1).

Agents are a trader (a demand for the sentence and for its negation as a function of price) and a
constructor (the strategy that chooses witnesses and counterexamples).

The market (:class:`QuantifiedMarket`) repeats a one-shot market. Each round:

1. the equilibrium price ``p`` balances the units of the sentence demanded with the units of its
   negation demanded (each pair is one dollar, minted by the market); for Kelly traders this is
   the wealth-weighted mean belief ``p = Σ w_i b_i / Σ w_i``;
2. the game is played: holders (agents net long the sentence, by stake) make the ∃ moves,
   issuers (net short) the ∀ moves, each side's move coming from the first of its constructors,
   largest stake first, that offers one; a side with no move forfeits;
3. positions pay one dollar per unit on the winning side; wealth is updated (the wealth-weighted
   rule of the paper: a Kelly trader's wealth is multiplied by ``b/p`` on a win of the sentence
   and by ``(1-b)/(1-p)`` on a loss, a Bayesian update of the market's belief). An unsettled round
   refunds every position at its price.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, track
from deepmarkets.helpers.plotting import figure_and_axes, styled
from deepmarkets.helpers.validate import whole_number
from deepmarkets.logic.quantified.games import DEFAULT_RLIMIT, Constructor, GameResult, QuantifiedSentence, play
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = ["Agent", "RoundRecord", "MarketRun", "QuantifiedMarket", "equilibrium_price", "kelly_population",
           "plot_prices"]

# --- traders and equilibrium ---------------------------------------------------------------------
@dataclass
class Agent:
    """A trader and its constructor.

    Parameters
    ----------
    name : str
    belief : float
        Subjective probability, in (0, 1), that the agent's side wins the game of the sentence.
    wealth : float
        Current wealth (> 0).
    constructor : callable or None
        ``f(state) -> int | None``, asked for moves on whichever side the agent is on.
        None: it can make no moves.
    demand : callable or None
        ``f(price, wealth) -> (units of the sentence, units of its negation)``; the default is the
        Kelly bettor ``(w·b/p, w·(1-b)/(1-p))``, who spends all its wealth in proportion to belief.
        A demand must cost at most the wealth: ``units·p + neg_units·(1-p) ≤ w``.
    """

    name: str
    belief: float
    wealth: float = 1.0
    constructor: Constructor | None = None
    demand: Callable[[float, float], tuple[float, float]] | None = None

    def __post_init__(self):
        if not (0.0 < float(self.belief) < 1.0):
            raise DeclarationError(f"agent {self.name}: belief must be in (0, 1), got {self.belief}")
        if not (float(self.wealth) > 0.0):
            raise DeclarationError(f"agent {self.name}: wealth must be > 0, got {self.wealth}")

    def units(self, price: float) -> tuple[float, float]:
        """Units of the sentence and of its negation demanded at ``price``."""
        if self.demand is None:
            return self.wealth * self.belief / price, self.wealth * (1.0 - self.belief) / (1.0 - price)
        a, c = self.demand(price, self.wealth)
        a, c = float(a), float(c)
        if a < 0 or c < 0 or not (math.isfinite(a) and math.isfinite(c)):
            raise DeclarationError(f"agent {self.name}: demand at price {price} gave ({a}, {c}); expected finite >= 0")
        if a * price + c * (1 - price) > self.wealth * (1 + 1e-9):
            raise DeclarationError(
                f"agent {self.name}: demand ({a}, {c}) at price {price} costs more than its wealth {self.wealth}"
            )
        return a, c


def equilibrium_price(agents: Sequence[Agent], *, tol: float = 1e-12) -> float:
    """The price at which units of the sentence demanded equal units of its negation demanded.

    Found by bisection on the excess demand (which must fall as the price rises). For Kelly
    agents this is the wealth-weighted mean belief.

    Raises
    ------
    DeclarationError
        With no agents, or when no price in (0, 1) balances the demands.

    Examples
    --------
    >>> round(equilibrium_price([Agent("a", 0.9, 1.0), Agent("b", 0.3, 3.0)]), 6)
    0.45
    """
    if not agents:
        raise DeclarationError("equilibrium_price needs at least one agent")
    if all(ag.demand is None for ag in agents):  # Kelly traders: the closed form
        return sum(ag.wealth * ag.belief for ag in agents) / sum(ag.wealth for ag in agents)

    def excess(p: float) -> float:
        total = 0.0
        for ag in agents:
            a, c = ag.units(p)
            total += a - c
        return total

    lo, hi = 1e-9, 1 - 1e-9
    e_lo, e_hi = excess(lo), excess(hi)
    if e_lo < 0 or e_hi > 0:
        raise DeclarationError(
            f"no price in (0, 1) balances demand: excess demand is {e_lo:.3g} at p≈0 and {e_hi:.3g} at p≈1; "
            "demand for the sentence must fall (and for its negation rise) as the price rises"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def kelly_population(n: int, constructor: Constructor | None, *, wealth: float = 1.0) -> list[Agent]:
    """``n`` Kelly agents with beliefs evenly spread on (0, 1) (``(k + 1/2)/n``), sharing a constructor.

    Their wealth-weighted market prices a sentence whose game the holders win ``s`` times in
    ``t`` rounds near Laplace's rule ``(s + 1)/(t + 2)``.
    """
    if n < 1:
        raise DeclarationError(f"n must be >= 1, got {n}")
    return [Agent(f"trader{k}", (k + 0.5) / n, wealth, constructor) for k in range(n)]


# --- the market ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundRecord:
    """One round: the price it cleared at, the game played and the total wealth afterwards."""

    round: int
    price: float
    game: GameResult
    wealth: float

    def to_dict(self) -> dict:
        return {"round": self.round, "price": self.price, "game": self.game.to_dict(), "wealth": self.wealth}


@dataclass(frozen=True)
class MarketRun:
    """The history of a :class:`QuantifiedMarket`: ``prices[t]`` is the price before round ``t + 1``'s game,
    ``prices[-1]`` the price after the last round."""

    sentence: str
    prices: tuple[float, ...]
    rounds: tuple[RoundRecord, ...]
    wealth: dict[str, float] = field(default_factory=dict)

    @property
    def outcomes(self) -> tuple[bool | None, ...]:
        return tuple(r.game.outcome for r in self.rounds)

    def price_after(self, t: int) -> float:
        """The price once ``t`` rounds have been played (``t = 0``: the opening price)."""
        return self.prices[t]

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence,
            "prices": list(self.prices),
            "rounds": [r.to_dict() for r in self.rounds],
            "wealth": dict(self.wealth),
        }

    def __repr__(self) -> str:
        wins = sum(o is True for o in self.outcomes)
        unsettled = sum(o is None for o in self.outcomes)
        return (
            f"MarketRun({self.sentence!r}: {len(self.rounds)} rounds, holder won {wins}, unsettled {unsettled}, "
            f"price {self.prices[0]:.3f} -> {self.prices[-1]:.3f})"
        )

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {r.round} | {r.price:.4f} | {r.game.outcome} |" for r in self.rounds)
        return f"**{self.sentence}**\n\n| round | price | holder won |\n|---|---|---|\n{rows}\n"


class QuantifiedMarket:
    """A repeated one-shot market in a quantified sentence, settled each round by its game.

    Update rule (wealth-weighted, as in the paper): each round every agent buys its demand at the
    equilibrium price, the holders' constructors play the game against the issuers', and each unit
    on the winning side pays 1. A Kelly agent's wealth becomes ``w·b/p`` if the sentence's side
    wins and ``w·(1-b)/(1-p)`` otherwise, so the next price is the wealth-weighted mean belief.
    An unsettled round (z3 unknown) refunds positions: wealth is unchanged.

    Parameters
    ----------
    sentence : QuantifiedSentence
    agents : sequence of Agent
    rlimit : int
        z3's resource limit for each settlement.
    rng : int, Generator or None
        Randomness of the games (a later ``run(..., rng=)`` replaces it).

    A market is a process (:meth:`step`, :meth:`run`) and follows the trading protocol:
    :meth:`prices`, and :attr:`history` with each agent's net units of the sentence per round
    (buying ``c`` units of its negation at ``1 - p`` is selling ``c`` units of it at ``p``).

    Examples
    --------
    >>> import z3
    >>> from deepmarkets.logic.quantified.constructors import constant, offset, roles
    >>> x, y = z3.Ints("x y")
    >>> largest = QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)
    >>> agents = kelly_population(9, roles(constant(10**6), offset("x", 1)))
    >>> run = QuantifiedMarket(largest, agents).run(5, rng=0, progressbar=False)
    >>> run.prices[-1] < 0.2
    True
    """

    def __init__(self, sentence: QuantifiedSentence, agents: Sequence[Agent], *, rlimit: int = DEFAULT_RLIMIT,
                 rng: int | np.random.Generator | None = None):
        if not isinstance(sentence, QuantifiedSentence):
            raise DeclarationError(f"QuantifiedMarket needs a QuantifiedSentence, got {type(sentence).__name__}")
        if not agents:
            raise DeclarationError("QuantifiedMarket needs at least one agent")
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise DeclarationError(f"agent names must be distinct, got {names}")
        self.sentence = sentence
        self.agents = list(agents)
        self.rlimit = rlimit
        self.rounds: list[RoundRecord] = []
        self._rng = as_rng(rng)
        self._trades: list[dict] = []

    @property
    def securities(self) -> tuple[str]:
        """The one security: the sentence, as text."""
        return (str(self.sentence),)

    def prices(self):
        """The price the agents' demands clear at now, as a pandas Series."""
        import pandas as pd

        return pd.Series([equilibrium_price(self.agents)], index=list(self.securities), name="price", dtype=float)

    @property
    def history(self):
        """Each agent's net units of the sentence bought each round, at the round's price (a trades book).

        An agent whose purchases of the sentence and of its negation cancel has no row that round.
        """
        import pandas as pd

        return pd.DataFrame(self._trades, columns=list(TRADE_HISTORY_COLUMNS)).astype(
            {"time": float, "quantity": float, "price": float})

    def to_dict(self) -> dict:
        """The sentence, the rounds played, the price now and each agent's wealth (JSON-safe)."""
        return {"sentence": str(self.sentence), "rounds": len(self.rounds),
                "price": float(equilibrium_price(self.agents)), "wealth": {a.name: a.wealth for a in self.agents}}

    def step(self) -> RoundRecord:
        """Play one round and update the agents' wealth in place."""
        round_number = len(self.rounds) + 1
        p = equilibrium_price(self.agents)
        positions = [(ag, *ag.units(p)) for ag in self.agents]
        self._trades.extend({"time": float(round_number), "trader": ag.name, "security": str(self.sentence),
                             "quantity": float(a - c), "price": p} for ag, a, c in positions if a != c)
        holders = sorted((t for t in positions if t[1] > t[2]), key=lambda t: t[2] - t[1])
        issuers = sorted((t for t in positions if t[2] > t[1]), key=lambda t: t[1] - t[2])
        verifier = [(t[0].name, t[0].constructor) for t in holders if t[0].constructor is not None]
        falsifier = [(t[0].name, t[0].constructor) for t in issuers if t[0].constructor is not None]
        game = play(self.sentence, verifier, falsifier, rng=self._rng, rlimit=self.rlimit)
        for ag, a, c in positions:
            spent = a * p + c * (1 - p)
            if game.outcome is None:
                payoff = spent
            else:
                payoff = a if game.outcome else c
            ag.wealth = ag.wealth - spent + payoff
        record = RoundRecord(round_number, p, game, sum(ag.wealth for ag in self.agents))
        self.rounds.append(record)
        return record

    def run(self, rounds: int, *, rng: int | np.random.Generator | None = None, progressbar: bool = True) -> MarketRun:
        """Play ``rounds`` more rounds; returns their price path (opening price first) and each game.

        ``rng`` (when given) replaces the market's randomness before the first of them.
        """
        rounds = whole_number(rounds, "rounds", 0)
        if rng is not None:
            self._rng = as_rng(rng)
        records = [self.step() for _ in track(range(rounds), f"PM1 {self.sentence}", rounds, enabled=progressbar)]
        prices = tuple(r.price for r in records) + (equilibrium_price(self.agents),)
        return MarketRun(str(self.sentence), prices, tuple(records), {a.name: a.wealth for a in self.agents})




@styled
def plot_prices(runs: dict[str, MarketRun] | MarketRun, ax=None):
    """Price trajectories by round (one line per run).

    Parameters
    ----------
    runs : MarketRun or dict of str to MarketRun
        One run, or runs by label.
    ax : matplotlib.axes.Axes, optional
        Drawn there when given, else on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure`` when ``ax`` was given.
    """
    if isinstance(runs, MarketRun):
        runs = {runs.sentence: runs}
    fig, ax = figure_and_axes(ax, figsize=(7, 4))
    for label, run in runs.items():
        ax.plot(range(len(run.prices)), run.prices, marker=".", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("price")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("PM1: prices of quantified sentences")
    return fig
