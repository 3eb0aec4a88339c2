"""Playing an economy's episodes with the compiled kernel: the environment as a table, the buffers, the hand-offs.

:func:`tabular` turns a deterministic built-in environment into arrays (next state, reward and
goal for every state and action, and the states episodes start from). :func:`play_compiled`
runs :func:`~deepmarkets.models.economies.kernel.run_episodes` and does, between its calls,
what only Python does: funding entrants, births and deaths, draining the logs into the ledger
and the sale history, and turning finished episodes into records.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deepmarkets.models.economies import kernel as K

if TYPE_CHECKING:
    from deepmarkets.models.economies.economy import Economy

__all__ = ["TABLE_LIMIT", "Table", "tabular", "play_compiled"]

#: The most states an environment may have to be played from a table (its table is built once, in Python).
TABLE_LIMIT = 200_000


@dataclass(frozen=True)
class Table:
    """A deterministic environment as arrays, states numbered in the environment's order."""

    states: list
    index: dict
    nxt: np.ndarray  # (states, actions) next state
    reward: np.ndarray  # (states, actions)
    goal: np.ndarray  # (states, actions) whether the move reaches the goal
    starts: np.ndarray  # the states episodes start from, each equally likely
    names: dict = field(default_factory=dict)  # state number -> key as text, filled as needed


def tabular(env: Any) -> Table | None:
    """The table of a deterministic built-in environment with at most :data:`TABLE_LIMIT` states, else None."""
    if not (hasattr(env, "start_states") and hasattr(env, "_model")) or env.state_count() > TABLE_LIMIT:
        return None
    starts = env.start_states()
    if not starts:
        return None
    states, index, nxt, reward, done, _ = env._model()
    return Table(states, index, np.ascontiguousarray(nxt, dtype=np.int64), np.ascontiguousarray(reward, dtype=float),
                 np.ascontiguousarray(done, dtype=np.bool_), np.array([index[s] for s in starts], dtype=np.int64))


class KernelState:
    """The kernel's buffers and the state of an episode in progress, kept between calls."""

    def __init__(self, max_steps: int, *, write_offs: int = 256, sales: int = 4096):
        self.ep = np.zeros(K.EP_SIZE, dtype=np.int64)
        self.ep_f = np.zeros(K.EP_FLOAT_SIZE)
        self.owners = np.zeros(max(max_steps, 1), dtype=np.int64)
        self.clones = np.zeros(4, dtype=np.int64)
        self.led = np.zeros(K.LED_SIZE)
        self.wo_payer = np.zeros(write_offs, dtype=np.int64)  # the kernel hands back when 8 places are left
        self.wo_amount = np.zeros(write_offs)
        self.wo_what = np.zeros(write_offs, dtype=np.int64)
        self.h_agent = np.zeros(sales, dtype=np.int64)
        self.h_sid = np.zeros(sales, dtype=np.int64)
        self.h_price = np.zeros(sales)

    def fit(self, width: int) -> None:
        """Room for a state's every agent in the clone buffer (keeping the clones of an episode in progress)."""
        if len(self.clones) < width:
            grown = np.zeros(width, dtype=np.int64)
            grown[: len(self.clones)] = self.clones
            self.clones = grown


def _name(table: Table, sid: int) -> str:
    """The state's key as text (kept: printing a nested tuple costs more than a short episode)."""
    name = table.names.get(sid)
    if name is None:
        name = table.names[sid] = str(table.states[sid])
    return name


def _to_kernel(eco: Economy, ks: KernelState) -> None:
    led = eco.ledger
    ks.led[:] = (led.bank, led.minted, led.written_off, led.rounding, led.total)


def _from_kernel(eco: Economy, ks: KernelState) -> None:
    led = eco.ledger
    led.bank, led.minted, led.written_off, led.rounding = (float(x) for x in ks.led[:4])
    ep = ks.ep
    n = int(ep[K.EP_N_WRITE_OFFS])
    if n:
        led.write_offs.extend((int(p), float(a), K.WHAT[int(w)])
                              for p, a, w in zip(ks.wo_payer[:n], ks.wo_amount[:n], ks.wo_what[:n], strict=True))
        ep[K.EP_N_WRITE_OFFS] = 0
    n = int(ep[K.EP_N_SALES])
    if n:
        eco._sales.extend(ks.h_agent[:n], ks.h_sid[:n], ks.h_price[:n])
        ep[K.EP_N_SALES] = 0


def play_compiled(eco: Economy, n: int, bar=None) -> None:
    """Play ``n`` episodes of ``eco`` with the kernel, appending them to ``eco.result``."""
    from deepmarkets.models.economies.economy import gini

    if eco._kernel_state is None:
        eco._kernel_state = KernelState(int(eco.env.max_steps))
    ks, table, pop = eco._kernel_state, eco._table, eco.population
    dynamics = eco.tax > 0 or eco.death_wealth > 0 or math.isfinite(eco.birth_wealth)
    ks.ep[K.EP_DONE] = 0
    out_i = np.zeros((n, 5), dtype=np.int64)
    out_f = np.zeros((n, 3))
    ip = np.zeros(K.P_INT_SIZE, dtype=np.int64)
    ip[[K.P_RULE, K.P_ADAPTIVE, K.P_MAX_STEPS, K.P_WANTED, K.P_DYNAMICS, K.P_HISTORY,
        K.P_GINI_EVERY, K.P_EPISODE0]] = (
        K.RULES[eco.auction], K.BIDS[eco.bids], int(eco.env.max_steps), n, dynamics, eco.keep_history,
        eco.gini_every, len(eco.result))
    fp = np.array([eco.gamma, eco.explore, eco.learning_rate, eco.tax])
    made = 0  # episodes handed to the run so far
    clock = [time.perf_counter(), eco._births, eco._deaths]

    def emit(upto: int) -> None:
        """Hand the episodes finished so far to the run, as columns."""
        nonlocal made
        if upto <= made:
            return
        now = time.perf_counter()
        k = upto - made
        births, deaths = [0] * k, [0] * k
        births[-1], deaths[-1] = eco._births - clock[1], eco._deaths - clock[2]  # only an ended episode's dynamics
        clock[1], clock[2] = eco._births, eco._deaths
        ints, floats = out_i[made:upto], out_f[made:upto]
        first = len(eco.result) + 1
        eco.result.extend({
            "episode": range(first, first + k), "start": [_name(table, s) for s in ints[:, 0].tolist()],
            "success": ints[:, 1].astype(bool).tolist(), "steps": ints[:, 2].tolist(), "reward": floats[:, 0].tolist(),
            "owners": ints[:, 3].tolist(), "births": births, "deaths": deaths, "alive": ints[:, 4].tolist(),
            "gini": floats[:, 1].tolist(), "conservation_error": floats[:, 2].tolist(),
            "seconds": [(now - clock[0]) / k] * k})
        made = upto
        clock[0] = now
        if bar is not None:
            bar.update(made)
        if eco.check:
            eco._check_invariants()

    pop.reserve_states(len(table.states))  # every state has a row: the kernel never reads past the index
    while True:
        ip[K.P_N_AGENTS], ip[K.P_N_ALIVE] = len(pop), pop.n_alive
        ks.fit(pop.slots.shape[1])
        _to_kernel(eco, ks)
        code = K.run_episodes(
            eco.rng, table.nxt, table.reward, table.goal, table.starts, eco._seen, pop.slots, pop.count,
            pop._action, pop._bid, pop._wealth, pop._alive, pop._age, pop._income, pop._paid, ks.clones, ks.owners,
            ks.ep, ks.ep_f, ks.led, ip, fp, ks.wo_payer, ks.wo_amount, ks.wo_what, ks.h_agent, ks.h_sid,
            ks.h_price, out_i, out_f)
        _from_kernel(eco, ks)
        done = int(ks.ep[K.EP_DONE])
        emit(done - 1 if code == K.EPISODE_ENDED else done)  # an ended episode's record waits for the dynamics
        if code == K.NEEDS_ENTRY:
            sid = int(ks.ep[K.EP_SID])
            eco._enter(sid, table.states[sid])
            ks.ep[K.EP_ENTERED] = 1
        elif code == K.EPISODE_ENDED:  # the kernel leaves the episode's population figures to the dynamics
            eco._dynamics()
            alive = pop.alive
            out_i[done - 1, 4] = int(alive.sum())
            number = len(eco.result) + 1
            out_f[done - 1, 1] = gini(pop.wealth[alive]) if number % eco.gini_every == 0 else math.nan
            out_f[done - 1, 2] = eco.ledger.error()
            emit(done)
        elif code == K.DIVERGED:
            emit(done)
            eco._check_finite()
        if code == K.EPISODES_DONE:
            return
