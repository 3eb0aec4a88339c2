"""The hypothesis auction: a boundedly rational inductive agent (Oesterheld, Demski & Conitzer 2023).

Each round n every hypothesis i receives its allowance A(n, i) from the bank, then bids
min(promise, wealth); the highest bid wins (ties broken uniformly at random), the agent takes
the winner's recommendation and reports the winning bid as its estimate; the winner pays its
bid and is credited the reward. Wealth lives in the :class:`~deepmarkets.models.economies.auction.Ledger`
of the agent economies, so ``bank + Σ wealth`` never changes.

The quantities of the paper, after T rounds:

overestimation L_T
    Σ_{n<=T} (estimate_n − reward_n).
allowance_i
    Σ_{n<=T} A(n, i), what hypothesis i was given.
test set and record_i
    The rounds i won (the agent followed its recommendation), and Σ over them of
    (reward_n − promise_{i,n}).
rejection
    Round n rejects i when estimate_n < promise_{i,n}: i promised more than the agent believed.

and the invariants (checked every round with ``check=True``):
Σ_i wealth_i = Σ_i allowance_i − L_T; record_i <= wealth_i − allowance_i (the winner pays its bid,
at most its promise); wealth_i >= 0; at a rejection, wealth_i < promise_i (only a lack of money
keeps a hypothesis from bidding its promise). So L_T is at most the allowance handed out, and a
hypothesis rejected infinitely often has a record going to −∞ (Theorem 1).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.progress import ProgressBar
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.bria.allowance import Allowance
from deepmarkets.models.bria.hypotheses import Constant, CopyBest, History, Strategies, as_families
from deepmarkets.models.bria.results import BRIARun
from deepmarkets.models.bria.tasks import Bandit, Lottery, PrisonersDilemma, RepeatedGame
from deepmarkets.models.economies.auction import BANK, Ledger, Sale, clear
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = ["AuctionBRIA", "Round", "INVARIANT_TOL", "ENGINES"]

#: Who plays the rounds of :meth:`AuctionBRIA.run`.
ENGINES = ("auto", "compiled", "python")

#: Tolerance of the invariants checked with ``check=True``, relative to the money in play (at least 1).
INVARIANT_TOL = 1e-8

#: Rounds of one call of the compiled loop at most (its outputs are buffered).
CHUNK = 1 << 16

#: Hypotheses up to which every rejection (round, hypothesis) is kept for plots; above, only counts.
KEEP_REJECTIONS = 200


def _last(history: History) -> np.ndarray:
    """The last round's (choice, observation, reward) of a history, -1 (and reward 0) before the first."""
    if not history.choices:
        return np.array([-1.0, -1.0, 0.0])
    return np.array([history.choices[-1], history.observations[-1], history.rewards[-1]], dtype=float)


class Round(NamedTuple):
    """One round: the option taken, the winning hypothesis, its bid (the agent's estimate), the reward."""

    round: int
    option: int
    winner: int
    estimate: float
    reward: float
    observation: int = -1


class AuctionBRIA:
    """A decision-maker that is an auction of hypotheses.

    Parameters
    ----------
    hypotheses : family, callable or list of them
        The enumeration of hypotheses (see :mod:`~deepmarkets.models.bria.hypotheses`);
        hypothesis i (from 1, in order) receives the allowance A(n, i).
    task : Task
        Options and rewards (see :mod:`~deepmarkets.models.bria.tasks`).
    allowance : Allowance, optional
        The schedule A(n, i) (default 5/(n·i^1.1)).
    rng : int, Generator or None
        Seeds the task's randomness and the tie-breaking (two independent streams).
    check : bool
        Verify every invariant of the module docstring after every round (slower).
    keep_rejections : bool, optional
        Keep every (round, hypothesis) rejection for plots (default: up to 200 hypotheses).
    engine : {"auto", "compiled", "python"}
        Who plays the rounds of :meth:`run`: a compiled loop (numba, see :mod:`~deepmarkets.models.bria.kernel`)
        for constant, copy-the-best and strategy families on a :class:`Bandit`, a :class:`Lottery` or a
        repeated game against a strategy, or the Python methods :meth:`decide` and :meth:`settle` (any
        hypotheses and tasks). ``"auto"`` compiles when it can. Both play the same rounds from the same
        seed, bit for bit; ``check=True`` checks every invariant after every round with either.

    Attributes
    ----------
    names : list of str
        The hypotheses, in enumeration order.
    past : History
        What the hypotheses see: the rounds played so far.
    wealth, wins, records : numpy.ndarray
        Per hypothesis; ``wealth`` is the ledger's account of each.
    ledger : Ledger
        The bank and the hypotheses' wealth (``bank + Σ wealth`` never changes).
    history : pandas.DataFrame
        Every round's sale as a trade (the trading protocol); :attr:`result` has every array.

    Examples
    --------
    >>> from deepmarkets.models.bria import Bandit, constant
    >>> agent = AuctionBRIA(constant(3), Bandit([0.3, 0.5, 0.7]), rng=0, check=True)
    >>> run = agent.run(2000, progressbar=False)
    >>> run.average_reward() > 0.6, abs(run.identity_error()) < 1e-8
    (True, True)
    """

    def __init__(self, hypotheses: Any, task: Any, *, allowance: Allowance | None = None,
                 rng: int | np.random.Generator | None = None, check: bool = False,
                 keep_rejections: bool | None = None, engine: str = "auto"):
        options = getattr(task, "options", None)
        if not options or not callable(getattr(task, "reward", None)):
            raise DeclarationError(f"task={task!r}; expected a task with options and reward(n, option, rng) "
                                   "(Bandit, Lottery, PrisonersDilemma ...)")
        if allowance is not None and not isinstance(allowance, Allowance):
            raise DeclarationError(f"allowance={allowance!r}; expected an Allowance(c, a, b)")
        self.task = task
        self.n_options = len(options)
        self.families = as_families(hypotheses)
        self.names = [name for f in self.families for name in f.names]
        k = len(self.names)
        self.allowance = allowance or Allowance()
        self.check = bool(check)
        self.keep_rejections = k <= KEEP_REJECTIONS if keep_rejections is None else bool(keep_rejections)
        self._weights = self.allowance.weights(k)
        self.options = np.zeros(k, dtype=np.int64)
        self.promises = np.zeros(k)
        self._dynamic = []
        static = []
        start = 0
        for f in self.families:
            part = slice(start, start + len(f.names))
            start = part.stop
            if f.static:
                self._write(f, part, History(self.n_options))
                static.append(np.arange(part.start, part.stop))
            else:
                self._dynamic.append((f, part))
        # constant promises: their rejections follow from the estimates alone, so they are counted when asked
        self._static = np.concatenate(static) if static else np.zeros(0, dtype=np.int64)
        if engine not in ENGINES:
            raise DeclarationError(f"engine={engine!r}; expected one of {', '.join(map(repr, ENGINES))}")
        compiles = (type(task) in (Bandit, Lottery) or (type(task) in (RepeatedGame, PrisonersDilemma)
                                                         and task.opponent is not None)) \
            and all(type(f) in (Constant, CopyBest) or (type(f) is Strategies and self.n_options == 2)
                    for f in self.families) and type(self)._auction is AuctionBRIA._auction
        if engine == "compiled" and not compiles:
            raise DeclarationError("engine='compiled' plays constant(...), copy_best(...) and strategies(...) on a "
                                   "Bandit, a Lottery or a repeated game against a strategy, ties broken at random; "
                                   "use engine='auto' or 'python' for other hypotheses, tasks and auctions")
        self.engine = engine
        self._compiles = compiles and engine != "python"
        gen = as_rng(rng)
        self._task_rng, self._tie_rng = gen.spawn(2)
        self.wealth = np.zeros(k)
        self.ledger = Ledger(lambda: self.wealth)
        self.past = History(self.n_options)
        self.wins = np.zeros(k, dtype=np.int64)
        self.records = np.zeros(k)
        self._rejections = np.zeros(k, dtype=np.int64)  # kept round by round for the changing promises only
        self._last_rejection = np.zeros(k, dtype=np.int64)
        self._allowance_scale = 0.0  # Σ_n c n^-a: hypothesis i was given this times i^-b
        self.total_allowance = 0.0
        self.overestimation = 0.0
        self._estimates: list[float] = []
        self._winners: list[int] = []
        self._rejected: list[tuple[int, np.ndarray]] = []
        self._snapshots: list[tuple[int, np.ndarray]] = []
        self._bids = np.zeros(k)  # the last auction's bids
        self._grant = np.zeros(k)
        self._pending: tuple[int, int, float, int] | None = None
        self.every = 0  # wealth snapshots every this many rounds (0: none); run() sets it

    # the hypotheses' proposals ---------------------------------------------------------------------------
    def _write(self, family, part: slice, history: History) -> None:
        opts, proms = family.propose(history)
        opts, proms = np.asarray(opts), np.asarray(proms, dtype=float)
        size = part.stop - part.start
        if opts.shape != (size,) or proms.shape != (size,):
            raise DeclarationError(f"a family of {size} hypotheses proposed {opts.shape} options and {proms.shape} "
                                   "promises; expected one of each per hypothesis")
        if not (proms.min() >= 0.0 and proms.max() <= 1.0):  # NaN fails both comparisons
            j = int(np.flatnonzero(~((proms >= 0) & (proms <= 1)))[0])
            raise DeclarationError(f"hypothesis {self.names[part.start + j]!r} promised {float(proms[j])!r} in round "
                                   f"{history.round}; expected a promise in [0, 1] (a reward it claims)")
        if not (opts.min() >= 0 and opts.max() < self.n_options) or opts.dtype.kind not in "iu":
            bad = opts[~((opts >= 0) & (opts < self.n_options))] if opts.dtype.kind in "iu" else opts
            raise DeclarationError(f"a hypothesis recommended option {bad.tolist()[0]!r} in round {history.round}; "
                                   f"expected an int in 0..{self.n_options - 1} ({', '.join(self.task.options)})")
        self.options[part] = opts
        self.promises[part] = proms

    # one round -------------------------------------------------------------------------------------------
    def decide(self) -> int:
        """Run round n's auction: allowances, bids, the winner; returns the option the agent takes."""
        if self._pending is not None:
            raise DeclarationError(f"round {self._pending[0]} was decided but not settled; call settle(reward)")
        past = self.past
        n = past.round
        for family, part in self._dynamic:
            self._write(family, part, past)
        scale = self.allowance.scale(n)
        self._allowance_scale += scale
        self.total_allowance += self.ledger.grant(np.multiply(self._weights, scale, out=self._grant))
        promises = self.promises
        bids = np.minimum(promises, self.wealth, out=self._bids)
        sale = self._auction(bids)
        winner, estimate = sale.winner, sale.price
        for _, part in self._dynamic:
            rejected = np.flatnonzero(promises[part] > estimate) + part.start
            self._rejections[rejected] += 1
            self._last_rejection[rejected] = n
            if self.keep_rejections:
                self._rejected.append((n, rejected))
        if self.check:
            rejected = promises > estimate
            if np.any(self.wealth[rejected] >= promises[rejected]):
                i = int(np.flatnonzero(rejected & (self.wealth >= promises))[0])
                raise AssertionError(f"round {n}: {self.names[i]!r} was rejected with wealth {self.wealth[i]!r} "
                                     f">= its promise {promises[i]!r}")
        option = int(self.options[winner])
        self._pending = (n, winner, estimate, option)
        return option

    def _auction(self, bids: np.ndarray) -> Sale:
        """The first-price auction: the highest bid wins, ties broken uniformly at random.

        A subclass may break ties otherwise by overriding this; it then plays every round in Python.
        """
        return clear(bids, "first", self._tie_rng)

    def settle(self, reward: float, observation: int = -1) -> Round:
        """Pay the decided round: the winner pays its bid and is credited ``reward``; returns the round."""
        if self._pending is None:
            raise DeclarationError("settle(reward) was called before decide()")
        if not (0.0 <= reward <= 1.0):
            raise DeclarationError(f"reward={reward!r} in round {self._pending[0]}; expected a number in [0, 1]")
        n, winner, estimate, option = self._pending
        self._pending = None
        net = reward - estimate
        if net > 0:
            self.ledger.pay(BANK, winner, net, what="reward")
        elif net < 0:
            self.ledger.pay(winner, BANK, -net, what="bid")
        self.wins[winner] += 1
        self.records[winner] += reward - self.promises[winner]
        self.overestimation += estimate - reward
        self._estimates.append(estimate)
        self._winners.append(winner)
        self.past.record(option, reward, int(observation))
        if self.every and n % self.every == 0:
            self._snapshots.append((n, self.wealth.copy()))
        if self.check:
            self.check_invariants()
        return Round(n, option, winner, estimate, reward, int(observation))

    def step(self) -> Round:
        """Play one round of the task; returns it."""
        option = self.decide()
        reward, observation = self.task.reward(self.past.round, option, self._task_rng)
        return self.settle(reward, observation)

    def run(self, n: int, *, progressbar: bool = True, snapshots: int = 200) -> BRIARun:
        """Play ``n`` more rounds (a progress bar unless ``progressbar=False``); returns the run so far.

        ``snapshots`` wealth vectors are kept over the ``n`` rounds for plots of wealth over time.
        """
        n = whole_number(n, "rounds", 0)
        self.every = max(1, n // max(1, snapshots)) if snapshots else 0
        if self._compiles and self._pending is None:
            self._run_compiled(n, progressbar)
            return self.result
        decide, settle, reward, rng, past = self.decide, self.settle, self.task.reward, self._task_rng, self.past
        with ProgressBar("hypothesis auction", n, enabled=progressbar) as bar:
            tick = max(1, n // 100)
            for t in range(1, n + 1):
                option = decide()
                settle(*reward(past.round, option, rng))
                if t % tick == 0:
                    bar.update(t, f"average reward {self.average_reward():.3f}")
        return self.result

    # the compiled loop -------------------------------------------------------------------------------------
    def _run_compiled(self, n: int, progressbar: bool) -> None:
        """Play ``n`` rounds in calls of the compiled loop that end at every progress tick and, with
        ``check=True``, every round."""
        tick = max(1, n // 100)
        with ProgressBar("hypothesis auction", n, enabled=progressbar) as bar:
            t = 0
            while t < n:
                end = t + 1 if self.check else min(n, t + CHUNK)
                if progressbar:
                    end = min(end, (t // tick + 1) * tick)
                self._play_compiled(end - t)
                if self.check:
                    self.check_invariants()
                t = end
                if progressbar and t % tick == 0:
                    bar.update(t, f"average reward {self.average_reward():.3f}")

    def _play_compiled(self, rounds: int) -> None:
        """Play ``rounds`` rounds with :func:`~deepmarkets.models.bria.kernel.play_rounds` and record them."""
        from deepmarkets.models.bria import kernel as K

        past, ledger = self.past, self.ledger
        n0 = past.round
        for family, part in self._dynamic:  # copy the best and strategies: fixed promises, the loop sets the options
            self._write(family, part, past)
        scales = np.array([self.allowance.scale(n) for n in range(n0, n0 + rounds)])
        task, empty = self.task, np.zeros((0, self.n_options))
        means, table, payoffs, opponent, their = np.zeros(0), empty, empty, 0, History(self.n_options)
        if type(task) is Bandit:
            kind, means = K.BANDIT, task.means
        elif type(task) is Lottery:
            kind = K.TABLE
            table = np.array([[task.reward(n, o, None)[0] for o in range(self.n_options)]
                              for n in range(n0, n0 + rounds)]).reshape(rounds, self.n_options)
        else:
            kind, payoffs, opponent, their = K.GAME, task.payoffs, K.RULES[task.opponent], task._their
        parts = []
        for family, part in self._dynamic:
            if type(family) is CopyBest:
                parts.append((part.start, part.stop, K.COPY_BEST))
            else:
                size = len(family.promises) // len(family.strategies)
                parts.extend((part.start + j * size, part.start + (j + 1) * size, K.RULES[name])
                             for j, name in enumerate(family.strategies))
        parts = np.array(parts, dtype=np.int64).reshape(-1, 3)
        led = np.zeros(K.LED_SIZE)
        led[[K.LED_BANK, K.LED_ROUNDING, K.LED_TOTAL, K.LED_ALLOWANCE, K.LED_OVERESTIMATION, K.LED_SCALE]] = (
            ledger.bank, ledger.rounding, ledger.total, self.total_allowance, self.overestimation,
            self._allowance_scale)
        option, winner = np.zeros(rounds, dtype=np.int64), np.zeros(rounds, dtype=np.int64)
        estimate, reward, observation = np.zeros(rounds), np.zeros(rounds), np.full(rounds, -1, dtype=np.int64)
        err = np.zeros(2, dtype=np.int64)
        every = self.every
        # the rounds n with n % every == 0 keep their wealth (as settle() does)
        snap_rounds = np.arange(-(-n0 // every) * every, n0 + rounds, every, dtype=np.int64) if every else \
            np.zeros(0, dtype=np.int64)
        snap_wealth = np.zeros((len(snap_rounds), len(self.wealth)))
        code = K.play_rounds(self._task_rng, self._tie_rng, kind, means, table, payoffs, opponent, n0, scales,
                             self._weights, self.options, self.promises, parts, self.wealth, self._grant, self._bids,
                             self.records, self.wins, past.counts, past.totals, past.seen, _last(past), their.counts,
                             their.totals, their.seen, _last(their), led, self.check, snap_rounds, snap_wealth,
                             option, winner, estimate, reward, observation, err)
        ledger.bank, ledger.rounding = float(led[K.LED_BANK]), float(led[K.LED_ROUNDING])
        self.total_allowance, self.overestimation = float(led[K.LED_ALLOWANCE]), float(led[K.LED_OVERESTIMATION])
        self._allowance_scale = float(led[K.LED_SCALE])
        played = rounds if code == K.DONE else int(err[0]) - n0  # a stopped round keeps its allowances and bids
        self._estimates.extend(estimate[:played].tolist())
        self._winners.extend(winner[:played].tolist())
        past.choices.extend(option[:played].tolist())
        past.rewards.extend(reward[:played].tolist())
        past.observations.extend(observation[:played].tolist())
        past.round += played
        self._snapshots.extend((int(r), w) for r, w in zip(snap_rounds, snap_wealth, strict=True) if r < n0 + played)
        if kind == K.GAME:  # the opponent's view of the same rounds
            theirs, ours = observation[:played], option[:played]
            their.choices.extend(theirs.tolist())
            their.rewards.extend(payoffs[theirs, ours].tolist())
            their.observations.extend(ours.tolist())
            their.round += played
        est = estimate[:played] if code == K.DONE else np.append(estimate[:played], self._bids.max())
        self._count_dynamic_rejections(n0, est)
        if code == K.REJECTED_RICH:
            i = int(err[1])
            raise AssertionError(f"round {int(err[0])}: {self.names[i]!r} was rejected with wealth "
                                 f"{self.wealth[i]!r} >= its promise {self.promises[i]!r}")
        if code == K.WRITE_OFF:
            raise AssertionError(f"round {int(err[0])}: {self.names[int(err[1])]!r} could not pay its bid")

    def _count_dynamic_rejections(self, n0: int, estimates: np.ndarray) -> None:
        """The rejections of the families whose options change (their promises do not), rounds n0, n0 + 1, ..."""
        if not self._dynamic or not len(estimates):
            return
        rejected = []
        for _, part in self._dynamic:
            mask = self.promises[part][None, :] > estimates[:, None]  # rounds x members
            ids = np.arange(part.start, part.stop)
            self._rejections[part] += mask.sum(axis=0)
            hit = mask.any(axis=0)
            self._last_rejection[ids[hit]] = n0 + len(estimates) - 1 - np.argmax(mask[::-1, hit], axis=0)
            rejected.append((mask, ids))
        if self.keep_rejections:
            for t in range(len(estimates)):
                for mask, ids in rejected:
                    self._rejected.append((n0 + t, ids[mask[t]]))

    # invariants ------------------------------------------------------------------------------------------
    @property
    def rejections(self) -> np.ndarray:
        """How often each hypothesis was rejected (the agent's estimate below its promise)."""
        return self._rejection_stats()[0]

    @property
    def last_rejection(self) -> np.ndarray:
        """The last round each hypothesis was rejected in (0: never)."""
        return self._rejection_stats()[1]

    def _rejection_stats(self) -> tuple[np.ndarray, np.ndarray]:
        counts, last = self._rejections.copy(), self._last_rejection.copy()
        est = np.asarray(self._estimates)
        if len(self._static) and len(est):
            p = self.promises[self._static]
            counts[self._static] = np.searchsorted(np.sort(est), p, side="left")  # rounds with estimate < p
            # the last such round: the suffix minima of the estimates rise, so it is a count again
            last[self._static] = np.searchsorted(np.minimum.accumulate(est[::-1])[::-1], p, side="left")
        return counts, last

    def _rejection_events(self) -> tuple[np.ndarray, np.ndarray]:
        """Every rejection as (rounds, hypotheses) arrays."""
        est = np.asarray(self._estimates)
        rounds = [np.zeros(0, np.int64)]
        hyps = [np.zeros(0, np.int64)]
        if len(self._static) and len(est):
            order = self._static[np.argsort(-self.promises[self._static], kind="stable")]
            ranked = np.sort(self.promises[self._static])
            many = len(ranked) - np.searchsorted(ranked, est, side="right")  # static promises above each estimate
            rounds.append(np.repeat(np.arange(1, len(est) + 1), many))
            hyps.append(np.concatenate([order[:m] for m in many]) if many.sum() else np.zeros(0, np.int64))
        for n, rejected in self._rejected:
            rounds.append(np.full(len(rejected), n))
            hyps.append(rejected)
        return np.concatenate(rounds).astype(np.int64), np.concatenate(hyps).astype(np.int64)

    def allowance_received(self) -> np.ndarray:
        """Σ_{n<=T} A(n, i) for every hypothesis i."""
        return self._allowance_scale * self._weights

    def identity_error(self) -> float:
        """Σ wealth − (Σ allowance − L_T): zero up to rounding."""
        return float(self.wealth.sum()) - (self.total_allowance - self.overestimation)

    def check_invariants(self) -> None:
        """Raise AssertionError unless every invariant of the module docstring holds (to :data:`INVARIANT_TOL`)."""
        self.ledger.check()
        money = max(1.0, self.total_allowance, float(self.wealth.sum()))  # the money in play
        tol = INVARIANT_TOL * money
        if abs(err := self.identity_error()) > tol:
            raise AssertionError(f"round {self.past.round - 1}: sum of wealth differs from allowance - L_T "
                                 f"by {err:.3g}")
        if self.wealth.min() < 0:
            raise AssertionError(f"{self.names[int(np.argmin(self.wealth))]!r} holds {self.wealth.min():.3g} < 0")
        slack = self.wealth - self.allowance_received() - self.records
        if slack.min() < -tol:
            i = int(np.argmin(slack))
            raise AssertionError(f"{self.names[i]!r}: record {self.records[i]:.6g} exceeds wealth - allowance "
                                 f"{self.wealth[i] - self.allowance_received()[i]:.6g}")

    def average_reward(self) -> float:
        """The average reward so far (NaN before the first round)."""
        r = self.past.rewards
        return float(np.mean(r)) if r else float("nan")

    # results and the trading/process protocols -------------------------------------------------------------
    @property
    def result(self) -> BRIARun:
        """The run so far, as arrays and tables (a copy)."""
        rej = self._rejection_events() if self.keep_rejections else None
        counts, last = self._rejection_stats()
        snaps = self._snapshots
        return BRIARun(
            names=list(self.names), options=tuple(self.task.options), allowance=self.allowance,
            choices=np.array(self.past.choices, dtype=np.int64), rewards=np.array(self.past.rewards),
            estimates=np.array(self._estimates), winners=np.array(self._winners, dtype=np.int64),
            observations=np.array(self.past.observations, dtype=np.int64),
            wealth=self.wealth.copy(), allowance_received=self.allowance_received(), records=self.records.copy(),
            wins=self.wins.copy(), rejections=counts, last_rejection=last,
            rejected=rej, snapshot_rounds=np.array([s[0] for s in snaps], dtype=np.int64),
            snapshot_wealth=np.array([s[1] for s in snaps]).reshape(len(snaps), len(self.names)),
            total_allowance=self.total_allowance, ledger_error=self.ledger.error())

    @property
    def securities(self) -> tuple[str, ...]:
        """The options: what each round's auction sells is the right to choose one."""
        return tuple(self.task.options)

    def prices(self):
        """Each option's price in the last auction: the highest bid recommending it (0 when none did)."""
        import pandas as pd

        best = np.zeros(self.n_options)
        np.maximum.at(best, self.options, self._bids)
        return pd.Series(best, index=list(self.securities), name="price", dtype=float)

    @property
    def history(self):
        """Every round's sale as a trades book: the winner bought one unit of its option at its bid."""
        import pandas as pd

        names, opts = self.names, self.task.options
        rows = {"time": np.arange(1, len(self._winners) + 1, dtype=float),
                "trader": [names[i] for i in self._winners],
                "security": [opts[c] for c in self.past.choices],
                "quantity": np.ones(len(self._winners)), "price": np.array(self._estimates)}
        return pd.DataFrame(rows, columns=list(TRADE_HISTORY_COLUMNS))

    def to_dict(self) -> dict:
        """Settings and the run's summary (JSON-safe)."""
        return self.result.to_dict()

    def __repr__(self) -> str:
        return (f"AuctionBRIA({len(self.names)} hypotheses, {self.task!r}, allowance {self.allowance}, "
                f"{len(self._estimates)} rounds)")
