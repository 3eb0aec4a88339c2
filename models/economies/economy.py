"""An economy of dumb agents that auction control of the world (Baum's Hayek machine, Vickrey and CCV societies).

At every step of an episode the agents whose condition holds in the current state bid (each
bid capped at its bidder's wealth); the auction (:mod:`~deepmarkets.models.economies.auction`)
picks the next owner of the world, who pays the previous owner (the bank at the start of an
episode), takes its one action and is paid the reward by the bank. The previous owner receives
``gamma`` times the price and the bank the rest, so a chain of owners values a state at its
discounted future reward.

Bids are fixed genes changed only by mutation at birth (``bids="fixed"``, Baum's Hayek), follow
the adaptive valuation rule ``b <- b + eta (income - tax - b)`` (``bids="adaptive"``), where an
owner's income is its reward plus what the next owner paid it, or seek profit:
``b <- b + eta (income - tax - price)`` (``bids="profit"``: bid more while winning pays, less when
it loses money). Agents with the same condition and action are clones: they saw the same
auction, so each learns from the income of the one that won. Among clones bidding alike (and
under the first-price rule) the price is the winner's own bid, so the profit rule is the
valuation rule; a solitary agent (``clones=1``) pays a rival action's bid instead, and the
profit rule shows what competition does for prices. With probability ``explore`` an auction
goes to a random bidder, who pays the market's price (all it has at most: the rest is written
off and logged), so the seller's income does not depend on exploration.

Population dynamics (all optional, all named): every living agent pays ``tax`` per step; agents
whose wealth falls to ``death_wealth`` or below die and their wealth returns to the bank; agents
richer than ``birth_wealth`` give half of it to a child with their condition and action (and a
mutated bid); when nobody bids in a state, the bank funds ``clones`` new agents for each action
there (state agents) or random patterns that hold there (pattern agents), each with
``entry_wealth``.
"""

from __future__ import annotations

import contextvars
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, EconomyError
from deepmarkets.helpers import ProgressBar, as_rng, json_safe, track
from deepmarkets.helpers.validate import finite_float, positive_float, whole_number
from deepmarkets.models.economies.agents import Population, pack_features
from deepmarkets.models.economies.auction import BANK, Ledger, check_auction, clear, clearing_price
from deepmarkets.models.economies.engine import TABLE_LIMIT, KernelState, play_compiled, tabular
from deepmarkets.models.economies.envs import as_discrete_env
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = ["Economy", "EconomyRun", "EpisodeRecord", "BID_RULES", "ENGINES", "agent", "gini"]

#: How agents set their bids (see :class:`Economy`).
BID_RULES = ("adaptive", "profit", "fixed")
#: Who plays an economy's episodes (see :class:`Economy`).
ENGINES = ("auto", "compiled", "python")

_CURRENT: contextvars.ContextVar[tuple[Economy, ...]] = contextvars.ContextVar("deepmarkets_economy", default=())


def agent(*, action: int, bid: float, state: Any = None, pattern: dict[str, bool] | None = None,
          wealth: float | None = None) -> int:
    """Declare an agent in the economy of the innermost ``with Economy(...)`` block; see :meth:`Economy.agent`.

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import Chain
    >>> with Economy(Chain(3, gamma=0.9), rng=0) as eco:
    ...     right = agent(state=0, action=1, bid=0.9)
    ...     lazy = agent(state=0, action=0, bid=0.1)
    >>> eco.bids_in(0).tolist()
    [0.1, 0.9]
    """
    stack = _CURRENT.get()
    if not stack:
        raise DeclarationError("no economy is being declared: call agent(...) inside 'with Economy(env) as eco:', "
                               "or use eco.agent(...)")
    return stack[-1].agent(action=action, bid=bid, state=state, pattern=pattern, wealth=wealth)


def gini(values: np.ndarray) -> float:
    """The Gini coefficient of non-negative values (0: all equal; 1: one holds everything).

    Examples
    --------
    >>> gini(np.array([1.0, 1.0, 1.0])), round(gini(np.array([0.0, 0.0, 3.0])), 4)
    (0.0, 0.6667)
    """
    x = np.sort(np.asarray(values, dtype=float))
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode: success, steps, the chain of owners and the state of the population after it."""

    episode: int
    start: str  # the starting state's key, as text
    success: bool
    steps: int
    reward: float
    owners: int  # distinct agents that owned the world: the depth of the supply chain
    births: int
    deaths: int
    alive: int
    gini: float
    conservation_error: float
    seconds: float

    def to_dict(self) -> dict:
        return json_safe(self.__dict__)


class SaleLog:
    """Every sale of the world: the buyer, the state and the price, in growing arrays."""

    def __init__(self):
        self._agent = np.zeros(1024, dtype=np.int64)
        self._sid = np.zeros(1024, dtype=np.int64)
        self._price = np.zeros(1024)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, agents, sids, prices) -> None:
        k = len(agents)
        if self._n + k > len(self._agent):
            size = max(2 * len(self._agent), self._n + k)
            for name in ("_agent", "_sid", "_price"):
                old = getattr(self, name)
                new = np.zeros(size, dtype=old.dtype)
                new[: self._n] = old[: self._n]
                setattr(self, name, new)
        self._agent[self._n: self._n + k] = agents
        self._sid[self._n: self._n + k] = sids
        self._price[self._n: self._n + k] = prices
        self._n += k

    def frame(self, keys: list):
        """The sales as a trades book (one unit of the state's world each, at the price paid)."""
        import pandas as pd

        n = self._n
        sids = self._sid[:n].tolist()
        names = {s: str(keys[s]) for s in set(sids)}
        return pd.DataFrame({
            "time": np.arange(1, n + 1, dtype=float), "trader": [f"agent{i}" for i in self._agent[:n].tolist()],
            "security": [names[s] for s in sids], "quantity": np.ones(n),
            "price": self._price[:n].copy()}, columns=list(TRADE_HISTORY_COLUMNS))


class EconomyRun:
    """The episodes of a run, as records and as a table.

    The compiled engine hands over episodes as columns; they become :class:`EpisodeRecord` objects
    only when they are read (:attr:`episodes`, :meth:`table`, :meth:`success_rate`).
    """

    _FIELDS = tuple(EpisodeRecord.__dataclass_fields__)

    def __init__(self, episodes: list[EpisodeRecord] | None = None):
        self._records: list[EpisodeRecord] = []
        self._blocks: list[dict] = []  # columns of episodes not yet made records
        self._n = 0
        for r in episodes or ():
            self.append(r)

    def __len__(self) -> int:
        return self._n

    def append(self, record: EpisodeRecord) -> None:
        """Add one episode's record."""
        self._settle()
        self._records.append(record)
        self._n += 1

    def extend(self, columns: dict) -> None:
        """Add episodes given as columns (one list or array per field of :class:`EpisodeRecord`)."""
        k = len(columns["episode"])
        if k:
            self._blocks.append(columns)
            self._n += k

    def _settle(self) -> None:
        for block in self._blocks:
            rows = zip(*(block[f] for f in self._FIELDS), strict=True)
            self._records.extend(EpisodeRecord(*row) for row in rows)
        self._blocks.clear()

    @property
    def episodes(self) -> list[EpisodeRecord]:
        """Every episode's record, in order."""
        self._settle()
        return self._records

    def table(self):
        """One row per episode (a pandas DataFrame indexed by episode)."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.episodes], columns=list(self._FIELDS)).set_index("episode")

    def success_rate(self, last: int | None = None) -> float:
        """The share of successful episodes (among the ``last`` ones)."""
        eps = self.episodes[-last:] if last else self.episodes
        return float(np.mean([r.success for r in eps])) if eps else math.nan

    def write_log(self, path) -> None:
        """Write one JSON line per episode, atomically."""
        import json

        from deepmarkets.helpers import atomic_path

        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for r in self.episodes:
                fh.write(json.dumps(r.to_dict(), allow_nan=False) + "\n")

    def to_dict(self) -> dict:
        t = self.table() if self.episodes else None
        return json_safe({
            "episodes": len(self.episodes),
            "success_rate": self.success_rate(),
            "mean_steps": float(t["steps"].mean()) if t is not None else None,
            "max_conservation_error": float(t["conservation_error"].abs().max()) if t is not None else None,
            "births": int(t["births"].sum()) if t is not None else 0,
            "deaths": int(t["deaths"].sum()) if t is not None else 0,
        })


class Economy:
    """A society of agents auctioning the world, run episode by episode.

    Parameters
    ----------
    env : environment
        A built-in environment (:mod:`~deepmarkets.models.economies.envs`) or any object with the
        Gymnasium API and a discrete action space.
    auction : {"ccv", "vickrey", "first"}
    bids : {"adaptive", "profit", "fixed"}
    conditions : {"state", "pattern"}
        Agents conditioned on one state, or on a pattern over the environment's features.
    clones : int
        Agents per (condition, action) funded when a state has no bidder.
    gamma : float
        The share of a price that reaches the previous owner (the rest goes to the bank).
    learning_rate : float
        ``eta`` of the adaptive valuation rule.
    explore : float
        The probability that an auction goes to a random bidder.
    initial_bid : float, optional
        The bid of agents the bank funds (default: the environment's goal reward, which makes
        untried actions look good until tried).
    entry_wealth, tax, death_wealth, birth_wealth, mutation : float
        Population dynamics (see the module docstring). ``entry_wealth`` defaults to ten times the
        goal reward, enough for an agent to learn its value before its wealth caps its bid;
        ``birth_wealth=inf`` (default) turns births off, ``tax=0`` (default) rent off.
    pattern_size : int
        The most features a new pattern agent constrains (``conditions="pattern"``): each entrant
        constrains a uniformly drawn number from 1 to ``pattern_size`` of the features, with the
        values they have where it enters.
    entry_rate : float
        The probability that at an auction the bank also funds ``clones`` entrepreneurs there: one
        random condition that holds (a pattern, or the state) and one random action, bidding
        ``initial_bid``. Without them agents enter only where nobody can bid. Played by the Python
        engine.
    max_agents : int
        No births or entries beyond this many living agents.
    check : bool
        Check the ledger's invariants after every step (money conserved to 1e-9, nobody below
        zero); raises AssertionError when one fails.
    rng : int, Generator or None
    keep_history : bool
        Keep every sale for :attr:`history` (memory grows with the steps run).
    engine : {"auto", "compiled", "python"}
        Who plays the episodes. ``"compiled"`` (:mod:`~deepmarkets.models.economies.kernel`, numba)
        needs a tabular environment (a deterministic built-in with at most ``TABLE_LIMIT`` states)
        and agents conditioned on states; ``"auto"`` uses it when it can and ``check`` is off. Both
        engines play the same episodes from the same seed.
    gini_every : int
        Record the wealth Gini of every ``gini_every``-th episode (NaN in the others; 1: every
        episode). Sorting every agent's wealth costs more than a short episode once there are
        thousands of agents; :meth:`wealth_gini` gives it now.

    Notes
    -----
    On a tabular environment the economy draws each episode's start uniformly from the
    environment's :meth:`start_states` with its own generator, and numbers states in the
    environment's order; otherwise it calls ``env.reset(seed=...)`` with a seed from its generator
    and numbers states as they are first seen.

    Examples
    --------
    >>> from deepmarkets.models.economies.envs import Bandit
    >>> eco = Economy(Bandit([0.2, 0.8], bernoulli=False), auction="ccv", explore=0.2, learning_rate=0.2, rng=0)
    >>> run = eco.run(300, progressbar=False)
    >>> [round(float(b), 3) for b in eco.bids_in(eco.env.reset(seed=0)[0])[:2]]
    [0.2, 0.8]
    """

    def __init__(self, env: Any, *, auction: str = "ccv", bids: str = "adaptive", conditions: str = "state",
                 clones: int = 2, gamma: float = 1.0, learning_rate: float = 0.1, explore: float = 0.05,
                 initial_bid: float | None = None, entry_wealth: float | None = None, tax: float = 0.0,
                 death_wealth: float = 0.0, birth_wealth: float = math.inf, mutation: float = 0.1,
                 pattern_size: int = 2, entry_rate: float = 0.0, max_agents: int = 100_000, check: bool = False,
                 rng: int | np.random.Generator | None = None, keep_history: bool = True, engine: str = "auto",
                 gini_every: int = 100):
        self.env = as_discrete_env(env)
        self.auction = check_auction(auction)
        if bids not in BID_RULES:
            raise DeclarationError(f"bids={bids!r}; expected 'adaptive' (the valuation rule), 'profit' (bid up while "
                                   "winning pays) or 'fixed' (genes)")
        if conditions not in ("state", "pattern"):
            raise DeclarationError(f"conditions={conditions!r}; expected 'state' or 'pattern'")
        self.bids, self.conditions = bids, conditions
        if conditions == "pattern" and not hasattr(self.env, "features"):
            raise DeclarationError("conditions='pattern' needs an environment with features(obs); "
                                   "the built-in environments have them")
        self.clones = whole_number(clones, "clones", 1)
        self.gamma = finite_float(gamma, "gamma", low=0)
        if self.gamma > 1:
            raise DeclarationError(f"gamma={gamma!r}; expected a number in [0, 1]")
        self.learning_rate = positive_float(learning_rate, "learning_rate")
        self.explore = finite_float(explore, "explore", low=0)
        if self.explore > 1:
            raise DeclarationError(f"explore={explore!r}; expected a probability in [0, 1]")
        reward = float(getattr(self.env, "goal_reward", 1.0))
        self.initial_bid = finite_float(reward if initial_bid is None else initial_bid, "initial_bid", low=0)
        self.entry_wealth = finite_float(10 * reward if entry_wealth is None else entry_wealth, "entry_wealth",
                                         low=0)
        self.tax = finite_float(tax, "tax", low=0, hint="tax is the rent every living agent pays per step")
        self.death_wealth = finite_float(death_wealth, "death_wealth", low=0)
        if not (isinstance(birth_wealth, int | float) and birth_wealth > self.death_wealth):
            raise DeclarationError(f"birth_wealth={birth_wealth!r}; expected a number above death_wealth "
                                   f"({self.death_wealth:g}), or inf for no births")
        self.birth_wealth = float(birth_wealth)
        self.mutation = finite_float(mutation, "mutation", low=0)
        self.pattern_size = whole_number(pattern_size, "pattern_size", 1)
        self.entry_rate = finite_float(entry_rate, "entry_rate", low=0)
        if self.entry_rate > 1:
            raise DeclarationError(f"entry_rate={entry_rate!r}; expected a probability in [0, 1]")
        self.max_agents = whole_number(max_agents, "max_agents", 1)
        self.check = bool(check)
        self.keep_history = bool(keep_history)
        if engine not in ENGINES:
            raise DeclarationError(f"engine={engine!r}; expected one of {', '.join(map(repr, ENGINES))}")
        self.gini_every = whole_number(gini_every, "gini_every", 1)
        self.rng = as_rng(rng)
        self.population = Population()
        self.ledger = Ledger(lambda: self.population.wealth)
        self.result = EconomyRun()
        self._states: dict[Any, int] = {}
        self._keys: list[Any] = []
        self._sales = SaleLog()
        self._births = self._deaths = 0
        self._table = tabular(self.env)
        if self._table is not None:  # number the states in the environment's order
            self._keys = list(self._table.states)
            self._states = self._table.index
        # tabular: which states were seen or declared (otherwise every numbered state was)
        self._seen = np.zeros(len(self._keys), dtype=bool) if self._table is not None else None
        if engine == "compiled" and (self._table is None or conditions != "state" or self.entry_rate):
            raise DeclarationError("engine='compiled' needs agents conditioned on states, no entry_rate, and a tabular "
                                   f"environment (a deterministic built-in with at most {TABLE_LIMIT:,} states); "
                                   "use engine='auto' to fall back to the Python engine")
        self.engine = engine
        self._kernel_state: KernelState | None = None

    # declaration ---------------------------------------------------------------------------------------------
    def __enter__(self) -> Economy:
        self._token = _CURRENT.set((*_CURRENT.get(), self))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _CURRENT.reset(self._token)
        return False

    def agent(self, *, action: int, bid: float, state: Any = None, pattern: dict[str, bool] | None = None,
              wealth: float | None = None) -> int:
        """Add one agent, funded by the bank with ``wealth`` (default ``entry_wealth``); returns its id.

        Its condition is a ``state`` (an observation or state key) or a ``pattern``
        (``{feature name: value}`` over the environment's ``feature_names``), not both.
        """
        action = whole_number(action, "action", 0)
        if action >= self.env.n_actions:
            raise DeclarationError(f"action={action}; the environment has actions 0..{self.env.n_actions - 1}")
        bid = finite_float(bid, "bid", low=0)
        wealth = self.entry_wealth if wealth is None else finite_float(wealth, "wealth", low=0)
        if (state is None) == (pattern is None):
            raise DeclarationError("give an agent a state or a pattern (its condition), not both and not neither")
        if state is not None:
            kw = {"state": self._sid(state)}
        else:
            names = list(getattr(self.env, "feature_names", ()))
            unknown = sorted(set(pattern) - set(names))
            if unknown or not pattern:
                raise DeclarationError(f"pattern names unknown features {unknown}; the features are {names}")
            mask = pack_features([n in pattern for n in names])
            want = pack_features([bool(pattern.get(n, False)) for n in names])
            kw = {"mask": mask, "want": want}
        i = self.population.add(action=action, bid=bid, wealth=0.0, born=len(self.result), **kw)
        self.ledger.fund(i, wealth)
        return int(i[0])

    # states -------------------------------------------------------------------------------------------------
    def _sid(self, obs: Any) -> int:
        """The number of the state of ``obs`` (numbering it when it is new), marked as seen."""
        key = self.env.state_key(obs)
        sid = self._states.get(key)
        if sid is None:
            if self._table is not None:
                raise DeclarationError(f"state {key!r} is not a state of {self.env!r}")
            sid = self._states[key] = len(self._keys)
            self._keys.append(key)
        elif self._seen is not None:
            self._seen[sid] = True
        return sid

    def _features(self, obs: Any) -> int:
        patterns = self.conditions == "pattern" or self.population.has_patterns
        return pack_features(self.env.features(obs)) if patterns else 0

    def _bidders(self, sid: int, feats: int, obs: Any) -> np.ndarray:
        ids = self.population.matching(sid, feats)
        if len(ids) and np.any(self.population.wealth[ids] > 0):
            if self.entry_rate and self.rng.random() < self.entry_rate:
                return np.concatenate([ids, self._enter(sid, obs, one=True)])
            return ids
        return np.concatenate([ids, self._enter(sid, obs)])

    def _enter(self, sid: int, obs: Any, *, one: bool = False) -> np.ndarray:
        """The bank funds ``clones`` new agents for every action where nobody can bid (for one random action:
        an entrepreneur)."""
        pop, gen = self.population, self.rng
        room = self.max_agents - pop.n_alive
        if room <= 0:
            return np.zeros(0, dtype=np.int64)
        base = np.array([gen.integers(self.env.n_actions)]) if one else np.arange(self.env.n_actions)
        if self.conditions == "state":
            actions = np.tile(base, self.clones)[:room]
            kw = {"state": sid}
        else:
            feats = np.asarray(self.env.features(obs), dtype=bool)
            masks, wants = [], []
            for _ in range(min(len(base), room)):
                k = int(gen.integers(1, min(self.pattern_size, len(feats)) + 1)) if len(feats) else 0
                chosen = np.isin(np.arange(len(feats)), gen.choice(len(feats), size=k, replace=False))
                masks.append(pack_features(chosen))
                wants.append(pack_features(feats & chosen))
            actions = np.tile(base[: len(masks)], self.clones)[:room]
            kw = {"mask": np.tile(masks, self.clones)[:room], "want": np.tile(wants, self.clones)[:room]}
        bid = self.initial_bid if self.bids != "fixed" else self.rng.uniform(0, self.initial_bid, len(actions))
        ids = pop.add(action=actions, bid=bid, wealth=0.0, born=len(self.result), **kw)
        self.ledger.fund(ids, self.entry_wealth)
        return ids

    # one episode --------------------------------------------------------------------------------------------
    @property
    def compiled(self) -> bool:
        """Whether the next episodes are played by the compiled engine (see ``engine``)."""
        if self.engine == "python" or self._table is None or self.conditions != "state" or self.entry_rate:
            return False
        if self.population.has_patterns:
            if self.engine == "compiled":
                raise DeclarationError("engine='compiled' plays agents conditioned on states only, and this economy "
                                       "has pattern agents; use engine='auto' or 'python'")
            return False
        return self.engine == "compiled" or not self.check

    def step(self) -> EpisodeRecord:
        """Run one episode; returns its record."""
        if self.compiled:
            play_compiled(self, 1)
            return self.result.episodes[-1]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is caught after the episode, by name
            return self._play_episode()

    def _play_episode(self) -> EpisodeRecord:
        """One episode played by the Python engine."""
        started = time.perf_counter()
        env, pop, ledger, gen = self.env, self.population, self.ledger, self.rng
        if self._table is not None:
            starts = self._table.starts
            sid = int(starts[gen.integers(len(starts))]) if len(starts) > 1 else int(starts[0])
            obs, _ = env.reset(options={"start": self._keys[sid]})
        else:
            obs, _ = env.reset(seed=int(gen.integers(2**63)))
        start = obs
        owner, clones, reward, total, bought_at = BANK, None, 0.0, 0.0, 0.0
        owners: set[int] = set()
        success = False
        births0, deaths0 = self._births, self._deaths
        steps = 0
        max_steps = int(getattr(env, "max_steps", 200))
        while steps < max_steps:
            sid = self._sid(obs)
            ids = self._bidders(sid, self._features(obs), obs)
            if len(ids) == 0:
                break  # nobody can buy the world: the episode ends here
            capped = np.minimum(pop.bid[ids], pop.wealth[ids])
            sale = clear(capped, self.auction, gen)
            winner, price = sale.winner, sale.price
            if self.explore and gen.random() < self.explore:
                winner = int(gen.integers(len(ids)))  # it buys at the market's price (all it has at most)
            i = int(ids[winner])
            received = self._settle_sale(i, owner, price, sale.top, explored=winner != sale.winner)
            if clones is not None:
                self._learn(clones, reward + received, bought_at)
            bought_at = price
            clones = ids[(pop.action[ids] == pop.action[i]) & (pop.state[ids] == pop.state[i])
                         & (pop.mask[ids] == pop.mask[i]) & (pop.want[ids] == pop.want[i])]
            if self.keep_history:
                self._sales.extend([i], [sid], [price])
            obs, reward, terminated, truncated, _ = env.step(int(pop.action[i]))
            steps += 1
            reward = float(reward)
            total += reward
            if reward > 0:
                pop.income[i] += ledger.pay(BANK, i, reward, what="reward")
            elif reward < 0:
                pop.income[i] -= ledger.pay(i, BANK, -reward, what="negative reward")
            pop.age[i] += 1
            owner = i
            owners.add(i)
            if self.tax:
                ledger.tax(np.flatnonzero(pop.alive), self.tax)
            if self.check:
                self._check_invariants()
            if terminated or truncated:
                success = bool(terminated)
                break
        if clones is not None:
            self._learn(clones, reward, bought_at)  # nobody buys the world after the last owner
        self._dynamics()
        if self.check:
            self._check_invariants()
        alive = pop.alive
        number = len(self.result) + 1
        record = EpisodeRecord(
            episode=number, start=str(env.state_key(start)), success=success, steps=steps,
            reward=total, owners=len(owners), births=self._births - births0, deaths=self._deaths - deaths0,
            alive=int(alive.sum()), gini=gini(pop.wealth[alive]) if number % self.gini_every == 0 else math.nan,
            conservation_error=ledger.error(), seconds=time.perf_counter() - started)
        self.result.append(record)
        self._check_finite()
        return record

    def _check_finite(self) -> None:
        """Raise EconomyError once the bank's balance or the money minted is no longer finite."""
        led = self.ledger
        if math.isfinite(led.bank) and math.isfinite(led.minted):
            return
        raise EconomyError(
            f"the economy's money diverged in episode {len(self.result)}: the bank's balance is "
            f"{led.bank:.3g} and it minted {led.minted:.3g}. Bids grew without bound (under the Vickrey rule the "
            "bank pays each seller the top bid, so profit-seeking bidders without a clone to compete with inflate "
            "prices); use clones >= 2, a conserving rule (auction='ccv' or 'first'), or bids='adaptive'. "
            "The episodes played so far are kept in .result")

    def _settle_sale(self, buyer: int, seller: int, price: float, top: float, *, explored: bool) -> float:
        """The buyer pays the price: ``gamma`` of it to the seller, the rest to the bank; what the seller got."""
        ledger, pop = self.ledger, self.population
        what = "exploration" if explored else "price"
        if seller == BANK:
            pop.paid[buyer] += ledger.pay(buyer, BANK, price, what=what)
            return 0.0
        to_seller = self.gamma * price
        got = ledger.pay(buyer, seller, to_seller, what=what)
        pop.paid[buyer] += got + ledger.pay(buyer, BANK, price - to_seller, what=what)
        if self.auction == "vickrey" and top > price:
            extra = self.gamma * (top - price)
            ledger.mint(seller, extra)
            got += extra
        pop.income[seller] += got
        return got

    def _learn(self, clones: np.ndarray, income: float, price: float) -> None:
        """The winner's clones learn from its income (and the price it paid, under the profit rule)."""
        if self.bids == "fixed":
            return
        b = self.population.bid
        target = b[clones] if self.bids == "adaptive" else price
        b[clones] = np.maximum(b[clones] + self.learning_rate * (income - self.tax - target), 0.0)

    def _dynamics(self) -> None:
        pop, ledger = self.population, self.ledger
        alive = np.flatnonzero(pop.alive)
        dying = alive[pop.wealth[alive] <= self.death_wealth] if self.death_wealth > 0 or self.tax > 0 else alive[:0]
        if len(dying):
            for i in dying.tolist():
                ledger.pay(i, BANK, float(pop.wealth[i]), what="estate")
            pop.kill(dying)
            self._deaths += len(dying)
        if math.isfinite(self.birth_wealth):
            alive = np.flatnonzero(pop.alive)
            rich = alive[pop.wealth[alive] >= self.birth_wealth][: max(self.max_agents - len(alive), 0)]
            if len(rich):
                bid = pop.bid[rich]
                if self.bids == "fixed" and self.mutation:
                    bid = bid * np.exp(self.mutation * self.rng.standard_normal(len(rich)))
                kids = pop.add(state=pop.state[rich], mask=pop.mask[rich], want=pop.want[rich],
                               action=pop.action[rich], bid=bid, wealth=0.0, parent=rich,
                               born=len(self.result) + 1)
                for parent, kid in zip(rich.tolist(), kids.tolist(), strict=True):
                    ledger.pay(parent, kid, 0.5 * float(pop.wealth[parent]), what="birth")
                self._births += len(rich)

    def _check_invariants(self) -> None:
        self.ledger.check()
        unpaid = [w for w in self.ledger.write_offs if w[2] == "price"]
        if unpaid:  # bids are capped at wealth, so a price is always paid in full
            raise AssertionError(f"an agent bid more than it had: {unpaid[-1]}")

    # the process and trading protocols ---------------------------------------------------------------------
    def run(self, n: int, *, progressbar: bool = True) -> EconomyRun:
        """Run ``n`` more episodes; returns the run so far."""
        n = whole_number(n, "episodes", 0)
        if self.compiled:
            with ProgressBar(f"economy ({self.auction})", n, enabled=progressbar) as bar:
                play_compiled(self, n, bar)
            return self.result
        for _ in track(range(n), f"economy ({self.auction})", n, enabled=progressbar):
            self.step()
        return self.result

    def _capped_bids(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The agents who would bid in the state of ``obs`` now, and their bids capped at their wealth."""
        pop = self.population
        sid = self._states.get(self.env.state_key(obs))
        ids = pop.matching(sid if sid is not None else -2, self._features(obs))
        return ids, np.minimum(pop.bid[ids], pop.wealth[ids])

    def bids_in(self, obs: Any) -> np.ndarray:
        """The bids (capped at wealth) of each action in the state of ``obs``: the highest per action."""
        ids, capped = self._capped_bids(obs)
        actions = self.population.action[ids]
        out = np.full(self.env.n_actions, np.nan)
        for a in np.unique(actions).tolist():
            out[a] = float(capped[actions == a].max())
        return out

    def price(self, obs: Any) -> float:
        """What the world would sell for now in the state of ``obs`` under the economy's auction (NaN: no bidder)."""
        _, capped = self._capped_bids(obs)
        return clearing_price(capped, self.auction) if len(capped) else math.nan

    def wealth_gini(self) -> float:
        """The Gini coefficient of the living agents' wealth now."""
        alive = self.population.alive
        return gini(self.population.wealth[alive])

    def profits(self):
        """Per agent that ever won: auctions won, income (rewards and sales), paid (prices), profit per win.

        In a competitive equilibrium the world sells for what it is worth, so the profit per win
        is near zero. Taxes are not counted (they are rent, not trade).
        """
        import pandas as pd

        pop = self.population
        won = np.flatnonzero(pop.age > 0)
        frame = pd.DataFrame({"agent": won, "wins": pop.age[won], "income": pop.income[won], "paid": pop.paid[won],
                              "alive": pop.alive[won]})
        frame["profit_per_win"] = (frame["income"] - frame["paid"]) / frame["wins"]
        return frame.set_index("agent")

    def equilibrium(self, *, tol: float = 0.05):
        """Prices against the optimal values V* (discounted by the economy's ``gamma``) in every state seen.

        In a competitive equilibrium the world sells for what it is worth: the price in a state
        is its value. Returns a pandas DataFrame (one row per state with a price) with ``value``,
        ``price``, ``error`` and ``mispriced`` (``|error| > tol * goal_reward``), sorted by value;
        ``DataFrame.attrs["spearman"]`` holds the rank correlation of price and value.

        Raises
        ------
        DeclarationError
            When the environment does not know its optimal values (only built-ins do).
        """
        import pandas as pd
        from scipy.stats import spearmanr

        if not hasattr(self.env, "optimal_values"):
            raise DeclarationError(f"{type(self.env).__name__} does not know its optimal values; "
                                   "the equilibrium check needs a built-in environment")
        values = self.env.optimal_values(self.gamma)
        rows = [(str(k), float(values[k]), self.price(k)) for k in self._seen_keys() if k in values]
        frame = pd.DataFrame(rows, columns=["state", "value", "price"]).dropna()
        frame["error"] = frame["price"] - frame["value"]
        frame["mispriced"] = frame["error"].abs() > tol * float(getattr(self.env, "goal_reward", 1.0))
        frame = frame.sort_values("value", ascending=False).reset_index(drop=True)
        varied = len(frame) > 2 and frame["value"].nunique() > 1 and frame["price"].nunique() > 1
        frame.attrs["spearman"] = float(spearmanr(frame["price"], frame["value"]).statistic) if varied else math.nan
        return frame

    def _seen_keys(self) -> list:
        """The keys of the states seen so far (in the environment's order on a tabular environment)."""
        return self._keys if self._seen is None else [self._keys[i] for i in np.flatnonzero(self._seen)]

    @property
    def securities(self) -> tuple[str, ...]:
        """The states seen so far (the world in each state is what is sold), as text."""
        return tuple(str(k) for k in self._seen_keys())

    def prices(self):
        """The price of the world in every state seen, as a pandas Series by state."""
        import pandas as pd

        keys = self._seen_keys()
        return pd.Series([self.price(k) for k in keys], index=[str(k) for k in keys], name="price", dtype=float)

    @property
    def history(self):
        """Every sale of the world as a trades book: one unit of the state's world, at the price paid."""

        return self._sales.frame(self._keys)

    def to_dict(self) -> dict:
        """The settings, the run's summary and the ledger (JSON-safe)."""
        return json_safe({
            "auction": self.auction, "bids": self.bids, "conditions": self.conditions, "clones": self.clones,
            "gamma": self.gamma, "learning_rate": self.learning_rate, "explore": self.explore, "tax": self.tax,
            "agents": len(self.population), "alive": self.population.n_alive, "run": self.result.to_dict(),
            "bank": self.ledger.bank, "minted": self.ledger.minted, "written_off": self.ledger.written_off,
            "conservation_error": self.ledger.error(),
        })

    def __repr__(self) -> str:
        return (f"Economy({type(self.env).__name__}, auction={self.auction!r}, bids={self.bids!r}, "
                f"{self.population.n_alive} agents alive, {len(self.result)} episodes)")
