"""The population of an economy as numpy arrays: one entry per agent, never a Python object per agent.

An agent is deliberately dumb: a **condition** (one state, or a pattern over the environment's
boolean features), one primitive **action**, and a **bid**. Besides those it has wealth, an age,
a parent (-1 for agents the bank funded), a birth episode and whether it is alive. Agents are
never removed from the arrays, only marked dead, so an agent's id is its index for the whole run.

Agents conditioned on a state are found through an index by state: row ``s`` of ``slots`` lists the
living agents conditioned on state ``s`` in the order they entered (``count[s]`` of them), the
layout the compiled engine reads. Pattern agents match a state when the state's features agree
with the pattern on the pattern's mask (features packed in the bits of one integer, at most 63
features).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["Population", "NO_STATE", "pack_features"]

#: The condition of a pattern agent (it has no state of its own).
NO_STATE = -1

_FIELDS = {
    "state": np.int64,  # the state id an agent is conditioned on, NO_STATE for pattern agents
    "mask": np.int64,  # pattern agents: which features the pattern constrains (bits)
    "want": np.int64,  # pattern agents: the values it requires on them (bits)
    "action": np.int64,
    "bid": np.float64,
    "wealth": np.float64,
    "age": np.int64,  # auctions won
    "parent": np.int64,
    "born": np.int64,  # the episode it entered
    "alive": np.bool_,
    "income": np.float64,  # total received (rewards and payments)
    "paid": np.float64,  # total paid (prices and taxes)
}


def pack_features(features: Sequence[bool] | np.ndarray) -> int:
    """Boolean features as the bits of one integer (feature ``k`` is bit ``k``).

    Examples
    --------
    >>> pack_features([True, False, True])
    5
    """
    bits = np.asarray(features, dtype=bool)
    if bits.ndim != 1 or bits.size > 63:
        raise DeclarationError(f"features must be a vector of at most 63 booleans, got shape {bits.shape}")
    return int(np.sum(np.left_shift(1, np.flatnonzero(bits).astype(np.int64)))) if bits.any() else 0


class Population:
    """Every agent of an economy, alive or dead, as parallel numpy arrays.

    Examples
    --------
    >>> pop = Population()
    >>> ids = pop.add(state=[3, 3], action=[0, 1], bid=0.5, wealth=1.0)
    >>> pop.matching(3).tolist(), pop.matching(4).tolist()
    ([0, 1], [])
    >>> pop.kill([0]); pop.matching(3).tolist(), pop.n_alive
    ([1], 1)
    """

    def __init__(self, capacity: int = 64):
        self._n = 0
        self._cap = max(int(capacity), 1)
        for name, dtype in _FIELDS.items():
            setattr(self, "_" + name, np.zeros(self._cap, dtype=dtype))
        self.slots = np.full((16, 4), -1, dtype=np.int64)  # row s: the living agents of state s, in order
        self.count = np.zeros(16, dtype=np.int64)
        self._patterns: list[int] = []
        self._pattern_cache: np.ndarray | None = None
        self._any_pattern = False

    # arrays of the agents so far (views: writing to them writes to the population)
    def __getattr__(self, name: str) -> np.ndarray:
        if name in _FIELDS:
            return self.__dict__["_" + name][: self.__dict__["_n"]]
        raise AttributeError(name)

    def __len__(self) -> int:
        return self._n

    @property
    def has_patterns(self) -> bool:
        """Whether any agent (alive or not) has a pattern for its condition."""
        return self._any_pattern

    @property
    def n_alive(self) -> int:
        return int(self._alive[: self._n].sum())

    def add(self, *, action, bid, wealth, state=NO_STATE, mask=0, want=0, parent=-1, born=0) -> np.ndarray:
        """Add agents (arguments broadcast to one length); returns their ids."""
        columns = np.broadcast_arrays(*(np.asarray(v) for v in (state, mask, want, action, bid, wealth, parent, born)))
        k = columns[0].size
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        state, mask, want, action, bid, wealth, parent, born = (c.ravel() for c in columns)
        if np.any(wealth < 0) or not np.all(np.isfinite(bid)) or np.any(bid < 0):
            raise DeclarationError("agents need finite bids >= 0 and wealth >= 0")
        self._grow(self._n + k)
        ids = np.arange(self._n, self._n + k)
        values = {"state": state, "mask": mask, "want": want, "action": action, "bid": bid, "wealth": wealth,
                  "age": 0, "parent": parent, "born": born, "alive": True, "income": 0.0, "paid": 0.0}
        for name, value in values.items():
            getattr(self, "_" + name)[ids] = value
        self._n += k
        for i, s in zip(ids.tolist(), state.tolist(), strict=True):
            if s == NO_STATE:
                self._patterns.append(i)
            else:
                self._slot(s, i)
        if np.any(state == NO_STATE):
            self._pattern_cache = None
            self._any_pattern = True
        return ids

    def reserve_states(self, n: int) -> None:
        """Give states ``0 .. n-1`` a row of the index (empty until agents enter)."""
        if n > len(self.count):
            self._resize(n, self.slots.shape[1])

    def _slot(self, s: int, i: int) -> None:
        """Append agent ``i`` to the row of state ``s`` (growing the index as needed)."""
        rows, width = self.slots.shape
        if s >= rows:
            self._resize(max(2 * rows, s + 1), width)
        elif self.count[s] >= width:
            self._resize(rows, 2 * width)
        self.slots[s, self.count[s]] = i
        self.count[s] += 1

    def _resize(self, rows: int, width: int) -> None:
        """The index with ``rows`` rows of ``width`` places (never smaller than it is), its entries kept."""
        old_rows, old_width = self.slots.shape
        slots = np.full((rows, width), -1, dtype=np.int64)
        slots[:old_rows, :old_width] = self.slots
        count = np.zeros(rows, dtype=np.int64)
        count[:old_rows] = self.count
        self.slots, self.count = slots, count

    def kill(self, ids) -> None:
        """Mark agents dead (their wealth is the caller's to settle first)."""
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        self._alive[ids] = False
        for s in np.unique(self._state[ids]).tolist():
            if s == NO_STATE:
                self._pattern_cache = None
                continue
            row = self.slots[s, : self.count[s]]
            keep = row[self._alive[row]]
            self.slots[s, : len(keep)] = keep
            self.slots[s, len(keep): self.count[s]] = -1
            self.count[s] = len(keep)

    def matching(self, state: int, features: int = 0) -> np.ndarray:
        """Ids of the living agents whose condition holds in ``state`` (with packed ``features``)."""
        own = self.slots[state, : self.count[state]].copy() if 0 <= state < len(self.count) else self.slots[0, :0]
        if not self._patterns:
            return own
        patterns = self._pattern_cache
        if patterns is None:
            listed = np.asarray(self._patterns, dtype=np.int64)
            patterns = listed[self._alive[listed]]
            self._patterns = patterns.tolist()
            self._pattern_cache = patterns
        hit = patterns[(features & self._mask[patterns]) == self._want[patterns]]
        return np.concatenate([own, hit]) if len(hit) else own

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap)
        for name in _FIELDS:
            old = getattr(self, "_" + name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, "_" + name, new)
        self._cap = cap
