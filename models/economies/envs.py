"""Environments with the Gymnasium API, and their exact optimal values on small instances.

Every environment follows Gymnasium's protocol: ``reset(*, seed=None, options=None)`` returns
``(obs, info)`` and ``step(action)`` returns ``(obs, reward, terminated, truncated, info)``;
``action_space`` has an integer ``n``. The built-ins (:class:`BlocksWorld`,
:class:`TowerOfHanoi`, :class:`Bandit`, :class:`Chain`) also know their model: every state
(:meth:`~BlocksWorld.states`), the optimal values V* and Q* (value iteration on the exact
deterministic model; terminal states are worth 0 and the goal reward is paid on the transition
into the goal), the shortest number of steps to the goal, and named boolean features of a state.
``info["success"]`` says whether the goal was reached.

:func:`as_discrete_env` lets any environment with a discrete action space (a Gymnasium
``FrozenLake-v1`` say) be used unchanged where an economy expects one of these.

Seeding follows Gymnasium: ``reset(seed=s)`` restarts the environment's random generator from
``s``; a later ``reset()`` without a seed continues it. Built-ins never import gymnasium; their
``action_space`` is the small :class:`Discrete` below, which has the same ``n``, ``contains`` and
``sample``.
"""

from __future__ import annotations

import copy as _copy
import itertools
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.validate import finite_float, positive_float, whole_number

__all__ = ["Discrete", "BlocksWorld", "TowerOfHanoi", "Bandit", "Chain", "DiscreteEnv", "as_discrete_env"]


class Discrete:
    """A finite action space ``{0, 1, ..., n - 1}``, like Gymnasium's ``Discrete(n)``.

    Parameters
    ----------
    n : int
        The number of actions (at least 1).

    Examples
    --------
    >>> space = Discrete(4)
    >>> space.n, space.contains(3), space.contains(4)
    (4, True, False)
    >>> space.sample(0) in range(4)
    True
    """

    def __init__(self, n: int):
        self.n = whole_number(n, "n", 1, hint="the number of actions")

    def sample(self, rng: int | np.random.Generator | None = None) -> int:
        """A uniformly random action."""
        return int(as_rng(rng).integers(self.n))

    def contains(self, action: Any) -> bool:
        """Whether ``action`` is an integer in ``0..n-1``."""
        a = _as_action(action)
        return a is not None and 0 <= a < self.n

    def __contains__(self, action: Any) -> bool:
        return self.contains(action)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Discrete) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("Discrete", self.n))

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


def _as_action(action: Any) -> int | None:
    """``action`` as an int, or None when it is not an integer (bools are not actions)."""
    if isinstance(action, np.ndarray) and action.ndim == 0:
        action = action.item()
    if isinstance(action, bool | np.bool_) or not isinstance(action, int | np.integer):
        return None
    return int(action)


def _check_action(action: Any, n: int, what: str) -> int:
    a = _as_action(action)
    if a is None or not 0 <= a < n:
        raise DeclarationError(f"action={action!r}; expected an integer in 0..{n - 1} ({what} has {n} actions)")
    return a


class _BuiltinEnv:
    """What every built-in environment shares: seeding, step counting, validation and the exact model.

    A subclass sets ``n_actions``, ``max_steps``, ``goal_reward``, ``gamma``, ``action_names`` and
    ``feature_names`` and defines ``_start(rng)``, ``_transition(state, action)`` (the deterministic
    model: next state, reward, whether the goal is reached), ``_is_goal(state)``, ``_all_states()`` and
    ``features(obs)``.
    """

    name = "environment"
    gamma = 1.0

    def _setup(self) -> None:
        self.action_space = Discrete(self.n_actions)
        self._rng: np.random.Generator | None = None
        self._state: Any = None
        self._steps = 0
        self._done = True
        self._tables: tuple | None = None
        self._distances: np.ndarray | None = None

    # -- Gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Start an episode.

        Parameters
        ----------
        seed : int, optional
            Restart the random generator from this seed (the first reset without a seed draws fresh entropy).
        options : dict, optional
            ``{"start": state}`` starts from that state instead of a random one.

        Returns
        -------
        obs, info
            The start state and an empty dict.
        """
        if seed is not None or self._rng is None:
            self._rng = as_rng(seed)
        start = (options or {}).get("start")
        self._state = self._start(self._rng) if start is None else self._checked_state(start)
        self._steps = 0
        self._done = False
        return self._state, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Take one action.

        Returns
        -------
        obs, reward, terminated, truncated, info
            ``terminated`` is True when the goal is reached, ``truncated`` when the episode reaches
            ``max_steps`` first; ``info["success"]`` says whether the goal was reached.
        """
        if self._done:
            raise DeclarationError(f"step() called on a finished or unstarted {self.name} episode; call reset() first")
        a = _check_action(action, self.n_actions, self.name)
        self._state, reward, terminated = self._sample_transition(self._state, a)
        self._steps += 1
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self._state, reward, terminated, truncated, {"success": self._success(terminated, a)}

    def _sample_transition(self, state, action):
        return self._transition(state, action)

    def start_states(self) -> list | None:
        """The states an episode starts from, each equally likely, when :meth:`step` follows the
        deterministic model; ``None`` otherwise (a stochastic environment, or no such list)."""
        return None

    def state_count(self) -> int:
        """The number of states."""
        return len(self.states())

    def _success(self, terminated: bool, action: int) -> bool:
        return bool(terminated)

    def close(self) -> None:
        """Nothing to release (kept for the Gymnasium API)."""

    def copy(self):
        """An independent copy (own random generator and episode; the exact tables are shared)."""
        new = _copy.copy(self)
        new._rng = _copy.deepcopy(self._rng)
        return new

    # -- states and exact values ---------------------------------------------------------------
    def state_key(self, obs: Any) -> Hashable:
        """The hashable key of an observation (built-in observations are their own keys)."""
        return obs

    def states(self) -> list:
        """Every state of this instance (terminal ones included), in a fixed order."""
        return list(self._model()[0])

    def transition(self, state: Any, action: int) -> tuple[Any, float, bool]:
        """The model: ``(next state, expected reward, goal reached)`` of taking ``action`` in ``state``."""
        return self._transition(self._checked_state(state), _check_action(action, self.n_actions, self.name))

    def _model(self):
        """States, their index, and the (next index, reward, goal) tables of the deterministic model."""
        if self._tables is None:
            states = list(self._all_states())
            index = {s: i for i, s in enumerate(states)}
            nxt = np.zeros((len(states), self.n_actions), dtype=np.int64)
            reward = np.zeros((len(states), self.n_actions))
            done = np.zeros((len(states), self.n_actions), dtype=bool)
            for i, s in enumerate(states):
                if self._is_goal(s):  # terminal: never left
                    nxt[i], done[i] = i, True
                    continue
                for a in range(self.n_actions):
                    t, r, d = self._transition(s, a)
                    nxt[i, a], reward[i, a], done[i, a] = index[t], r, d
            terminal = np.array([self._is_goal(s) for s in states])
            self._tables = (states, index, nxt, reward, done, terminal)
        return self._tables

    def _gamma(self, gamma: float | None) -> float:
        if gamma is None:
            return self.gamma
        g = finite_float(gamma, "gamma", low=0)
        if g > 1 or g == 0:
            raise DeclarationError(f"gamma={gamma!r}; expected a discount in (0, 1]")
        return g

    def _q_table(self, gamma: float | None) -> np.ndarray:
        g = self._gamma(gamma)
        states, _, nxt, reward, done, terminal = self._model()
        v = np.zeros(len(states))
        for _ in range(1_000_000):
            q = reward + g * np.where(done, 0.0, v[nxt])
            new = np.where(terminal, 0.0, q.max(axis=1))
            if np.max(np.abs(new - v), initial=0.0) <= 1e-13 * max(1.0, abs(self.goal_reward)):
                v = new
                break
            v = new
        q = reward + g * np.where(done, 0.0, v[nxt])
        q[terminal] = 0.0
        return q

    def optimal_q(self, gamma: float | None = None) -> dict[Hashable, np.ndarray]:
        """Q*(s, a) for every state, by value iteration on the exact model.

        Parameters
        ----------
        gamma : float, optional
            The discount in (0, 1]; default the environment's own (1 except for :class:`Chain`).

        Returns
        -------
        dict
            State key -> array of ``n_actions`` values (zeros at terminal states).
        """
        q = self._q_table(gamma)
        return {s: q[i].copy() for i, s in enumerate(self._model()[0])}

    def optimal_values(self, gamma: float | None = None) -> dict[Hashable, float]:
        """V*(s) = max_a Q*(s, a) for every state (0 at terminal states); see :meth:`optimal_q`."""
        q = self._q_table(gamma)
        return {s: float(q[i].max()) for i, s in enumerate(self._model()[0])}

    def optimal_steps(self, key: Hashable) -> int:
        """The shortest number of steps from state ``key`` to the goal (0 at the goal)."""
        states, index, nxt, _, done, terminal = self._model()
        if self._distances is None:
            d = np.where(terminal, 0, np.iinfo(np.int64).max // 2)
            while True:
                new = np.where(terminal, 0, np.min(np.where(done, 1, 1 + d[nxt]), axis=1))
                if np.array_equal(new, d):
                    break
                d = new
            self._distances = d
        if key not in index:
            raise DeclarationError(f"state {key!r} is not a state of {self!r}")
        return int(self._distances[index[key]])

    def _checked_state(self, state: Any) -> Any:
        if not self._is_state(state):
            raise DeclarationError(f"state {state!r} is not a state of {self!r}")
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._args()})"


def _stacks_key(stacks: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(b) for b in s) for s in stacks)


def _move(stacks: tuple[tuple[int, ...], ...], i: int, j: int) -> tuple[tuple[int, ...], ...]:
    """Move the top of stack ``i`` onto stack ``j`` (no change when stack ``i`` is empty)."""
    if not stacks[i]:
        return stacks
    out = list(stacks)
    out[j] = stacks[j] + (stacks[i][-1],)
    out[i] = stacks[i][:-1]
    return tuple(out)


def _move_actions(n_stacks: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n_stacks) for j in range(n_stacks) if i != j]


class BlocksWorld(_BuiltinEnv):
    """Blocks World: put ``n_blocks`` labelled blocks in order on stack 0, moving one top block at a time.

    The goal is stack 0 reading ``0, 1, ..., n-1`` from bottom to top and every other stack empty
    (as in Baum's Hayek machine). Action ``a`` moves the top block of stack ``i`` onto stack ``j``
    for the ``a``-th pair ``(i, j)``, ``i != j``, in lexicographic order (``n_stacks * (n_stacks - 1)``
    actions, named ``"i->j"``); moving from an empty stack changes nothing but costs a step.
    Observations are tuples of stacks, each a tuple of blocks from bottom to top.

    Parameters
    ----------
    n_blocks : int
        Number of blocks (at least 1).
    n_stacks : int, default 3
        Number of stacks (at least 3; with two stacks most orders cannot be built).
    intermediate_reward : bool, default False
        Also pay ``goal_reward / n_blocks`` times the change in the number of correctly placed
        blocks (the longest bottom run of stack 0 reading ``0, 1, ...``) on every step, the last
        one included; a path from ``s`` to the goal then earns ``goal_reward * (1 + (n - c(s)) / n)``.
    goal_reward : float, default 1.0
        Paid on the move that completes the goal (the episode then terminates).
    max_steps : int, optional
        Truncate an episode after this many steps; default ``30 * n_blocks``: 10 times ``3 * n_blocks``,
        a bound on the shortest solution from any state (the worst is ``3 * n_blocks - 2`` with three
        stacks for ``2 <= n_blocks <= 6``, checked by the tests; more stacks only shorten it).
    start : state, optional
        Start every episode here; default a uniformly random state other than the goal at each reset.

    Examples
    --------
    >>> env = BlocksWorld(3)
    >>> obs, info = env.reset(seed=0, options={"start": ((0, 1), (2,), ())})
    >>> env.step(env.action_names.index("1->0"))[:4]
    (((0, 1, 2), (), ()), 1.0, True, False)
    >>> len(env.states()), env.optimal_steps(((2, 1, 0), (), ()))
    (60, 7)
    """

    name = "Blocks World"

    def __init__(self, n_blocks: int, *, n_stacks: int = 3, intermediate_reward: bool = False,
                 goal_reward: float = 1.0, max_steps: int | None = None, start: Sequence | None = None):
        self.n_blocks = whole_number(n_blocks, "n_blocks", 1, hint="the number of blocks")
        self.n_stacks = whole_number(n_stacks, "n_stacks", 3, hint="Blocks World needs at least 3 stacks")
        self.intermediate_reward = bool(intermediate_reward)
        self.goal_reward = positive_float(goal_reward, "goal_reward")
        self.max_steps = (30 * self.n_blocks if max_steps is None
                          else whole_number(max_steps, "max_steps", 1))
        self._actions = _move_actions(self.n_stacks)
        self.n_actions = len(self._actions)
        self.action_names = tuple(f"{i}->{j}" for i, j in self._actions)
        self.goal = (tuple(range(self.n_blocks)),) + ((),) * (self.n_stacks - 1)
        self.feature_names = (tuple(f"block {k} correctly placed" for k in range(self.n_blocks))
                              + tuple(f"top of stack {i} is the next block needed" for i in range(self.n_stacks))
                              + tuple(f"stack {i} is empty" for i in range(self.n_stacks))
                              + ("stack 0 holds only correctly placed blocks",)
                              + tuple(f"stack {i} holds the next block needed" for i in range(self.n_stacks)))
        self._setup()
        self.start = None
        if start is not None:
            key = _stacks_key(start) if self._is_sequence_of_sequences(start) else start
            self.start = self._checked_state(key)
            if self.start == self.goal:
                raise DeclarationError(f"start={start!r} is the goal; expected a state other than the goal")

    def _args(self) -> str:
        extra = "".join([f", n_stacks={self.n_stacks}" if self.n_stacks != 3 else "",
                         ", intermediate_reward=True" if self.intermediate_reward else ""])
        return f"{self.n_blocks}{extra}"

    @staticmethod
    def _is_sequence_of_sequences(x: Any) -> bool:
        return isinstance(x, Sequence) and all(isinstance(s, Sequence) and not isinstance(s, str) for s in x)

    def _is_state(self, state: Any) -> bool:
        return (isinstance(state, tuple) and len(state) == self.n_stacks
                and all(isinstance(s, tuple) and all(isinstance(b, int) for b in s) for s in state)
                and sorted(b for s in state for b in s) == list(range(self.n_blocks)))

    def correct(self, state: tuple) -> int:
        """The number of correctly placed blocks: the longest bottom run of stack 0 reading 0, 1, ...."""
        c = 0
        for k, b in enumerate(state[0]):
            if b != k:
                break
            c += 1
        return c

    def _start(self, rng: np.random.Generator):
        if self.start is not None:
            return self.start
        n, k = self.n_blocks, self.n_stacks
        while True:  # uniform: a random order, cut by k - 1 bars placed uniformly among n + k - 1 slots
            order = rng.permutation(n).tolist()
            bars = np.sort(rng.choice(n + k - 1, size=k - 1, replace=False))
            sizes = np.diff(np.concatenate([[-1], bars, [n + k - 1]])) - 1
            cuts = np.concatenate([[0], np.cumsum(sizes)])
            state = tuple(tuple(order[cuts[i]:cuts[i + 1]]) for i in range(k))
            if state != self.goal:
                return state

    def _transition(self, state, action):
        nxt = _move(state, *self._actions[action])
        goal = nxt == self.goal
        reward = self.goal_reward if goal else 0.0
        if self.intermediate_reward:
            reward += self.goal_reward / self.n_blocks * (self.correct(nxt) - self.correct(state))
        return nxt, reward, goal

    def _is_goal(self, state) -> bool:
        return state == self.goal

    def pattern_strategy(self) -> list[tuple[dict[str, bool], int]]:
        """``(pattern, action)`` rules over :attr:`feature_names` that solve every instance.

        Clear stack 0 down to its correctly placed run; then fetch the next block needed, digging
        it out of whichever stack holds it. In every state but the goal exactly one rule's pattern
        holds, so agents declared with them (``Economy.agent(pattern=..., action=...)``) act at any
        size as one strategy.

        Examples
        --------
        >>> rules = BlocksWorld(3).pattern_strategy()
        >>> len(rules), rules[0]
        (5, ({'stack 0 holds only correctly placed blocks': False}, 0))
        """
        ok, move = "stack 0 holds only correctly placed blocks", self.action_names.index
        rules = [({ok: False}, move("0->1"))]
        for i in range(1, self.n_stacks):
            j = i % (self.n_stacks - 1) + 1  # another stack that is not stack 0
            top = f"top of stack {i} is the next block needed"
            rules.append(({ok: True, top: True}, move(f"{i}->0")))
            rules.append(({ok: True, f"stack {i} holds the next block needed": True, top: False}, move(f"{i}->{j}")))
        return rules

    def start_states(self) -> list:
        """Every state but the goal (``reset`` draws one uniformly), or the fixed ``start``."""
        return [self.start] if self.start is not None else [s for s in self.states() if s != self.goal]

    def state_count(self) -> int:
        """``n! * C(n + k - 1, k - 1)`` for ``n`` blocks on ``k`` stacks, without enumerating them."""
        n, k = self.n_blocks, self.n_stacks
        return math.factorial(n) * math.comb(n + k - 1, k - 1)

    def _all_states(self):
        n, k = self.n_blocks, self.n_stacks
        for order in itertools.permutations(range(n)):
            for bars in itertools.combinations(range(n + k - 1), k - 1):
                edges = (-1, *bars, n + k - 1)
                sizes = [edges[i + 1] - edges[i] - 1 for i in range(k)]
                cuts = list(itertools.accumulate(sizes, initial=0))
                yield tuple(tuple(order[cuts[i]:cuts[i + 1]]) for i in range(k))

    def features(self, obs) -> np.ndarray:
        """Named booleans of a state, in the order of ``feature_names``: which blocks are correctly
        placed, whether the top of each stack is the next block needed, which stacks are empty,
        whether stack 0 holds only correctly placed blocks, and which stack holds the next block
        needed (all false at the goal)."""
        c = self.correct(obs)
        placed = [k < c for k in range(self.n_blocks)]
        needed = [bool(s) and s[-1] == c for s in obs]
        empty = [not s for s in obs]
        holds = [c in s for s in obs]
        return np.array(placed + needed + empty + [len(obs[0]) == c] + holds, dtype=bool)


class TowerOfHanoi(_BuiltinEnv):
    """Tower of Hanoi: move ``n_discs`` discs from peg 0 to peg 2, never a larger disc on a smaller one.

    Discs are numbered by size, 0 the smallest; observations are tuples of pegs, each a tuple of
    discs from bottom to top, so the start is ``((n-1, ..., 1, 0), (), ())``. Six actions move the
    top disc of peg ``i`` to peg ``j`` (named ``"i->j"``); an illegal move (from an empty peg, or onto
    a smaller disc) changes nothing but costs a step. The shortest solution has ``2**n - 1`` moves.

    Parameters
    ----------
    n_discs : int
        Number of discs (at least 1).
    goal_reward : float, default 1.0
        Paid on the move that completes peg 2 (the episode then terminates).
    max_steps : int, optional
        Truncate an episode after this many steps; default ``10 * (2**n_discs - 1)``.

    Examples
    --------
    >>> env = TowerOfHanoi(3)
    >>> env.reset(seed=0)[0]
    ((2, 1, 0), (), ())
    >>> env.optimal_steps(((2, 1, 0), (), ())), len(env.states())
    (7, 27)
    """

    name = "Tower of Hanoi"

    def __init__(self, n_discs: int, *, goal_reward: float = 1.0, max_steps: int | None = None):
        self.n_discs = whole_number(n_discs, "n_discs", 1, hint="the number of discs")
        self.goal_reward = positive_float(goal_reward, "goal_reward")
        self.max_steps = (10 * (2 ** self.n_discs - 1) if max_steps is None
                          else whole_number(max_steps, "max_steps", 1))
        self._actions = _move_actions(3)
        self.n_actions = 6
        self.action_names = tuple(f"{i}->{j}" for i, j in self._actions)
        tower = tuple(range(self.n_discs - 1, -1, -1))
        self.start, self.goal = (tower, (), ()), ((), (), tower)
        self.feature_names = (tuple(f"disc {k} on peg 2" for k in range(self.n_discs))
                              + tuple(f"peg {i} is empty" for i in range(3))
                              + tuple(f"smallest disc on peg {i}" for i in range(3)))
        self._setup()

    def _args(self) -> str:
        return f"{self.n_discs}"

    def _is_state(self, state: Any) -> bool:
        return (isinstance(state, tuple) and len(state) == 3
                and all(isinstance(p, tuple) and list(p) == sorted(p, reverse=True) for p in state)
                and sorted(d for p in state for d in p) == list(range(self.n_discs)))

    def _start(self, rng):
        return self.start

    def start_states(self) -> list:
        """The fixed start (all discs on peg 0 unless ``start`` was given)."""
        return [self.start]

    def state_count(self) -> int:
        """``3 ** n_discs``."""
        return 3**self.n_discs

    def _transition(self, state, action):
        i, j = self._actions[action]
        if not state[i] or (state[j] and state[j][-1] < state[i][-1]):
            return state, 0.0, False
        nxt = _move(state, i, j)
        goal = nxt == self.goal
        return nxt, self.goal_reward if goal else 0.0, goal

    def _is_goal(self, state) -> bool:
        return state == self.goal

    def _all_states(self):
        for pegs in itertools.product(range(3), repeat=self.n_discs):  # pegs[d]: the peg of disc d
            yield tuple(tuple(d for d in range(self.n_discs - 1, -1, -1) if pegs[d] == p) for p in range(3))

    def features(self, obs) -> np.ndarray:
        """Named booleans of a state, in the order of ``feature_names``."""
        on_goal = [d in obs[2] for d in range(self.n_discs)]
        empty = [not p for p in obs]
        smallest = [bool(p) and p[-1] == 0 for p in obs]
        return np.array(on_goal + empty + smallest, dtype=bool)


class Bandit(_BuiltinEnv):
    """A k-armed bandit: one step per episode; pulling arm ``a`` pays ``goal_reward`` with probability ``means[a]``.

    There is one state, ``0`` (also the observation after the pull, when the episode has
    terminated). With ``bernoulli=False`` arm ``a`` pays ``goal_reward * means[a]`` every time.
    ``info["success"]`` says whether an arm of the highest mean was pulled. Q*(0, a) is
    ``goal_reward * means[a]`` and V*(0) its maximum.

    Parameters
    ----------
    means : sequence of float
        Success probability of each arm, in [0, 1] (any finite value with ``bernoulli=False``).
    goal_reward : float, default 1.0
        The payment of a success.
    bernoulli : bool, default True
        Random 0/``goal_reward`` payments, or fixed ones.

    Examples
    --------
    >>> env = Bandit([0.2, 0.9])
    >>> env.optimal_values()
    {0: 0.9}
    >>> env.reset(seed=1)[0], env.step(1)[2:4]
    (0, (True, False))
    """

    name = "bandit"

    def __init__(self, means: Sequence[float], *, goal_reward: float = 1.0, bernoulli: bool = True):
        try:
            m = np.array(means, dtype=float)
        except (TypeError, ValueError):
            m = None
        if m is None or m.ndim != 1 or m.size < 1 or not np.all(np.isfinite(m)):
            raise DeclarationError(f"means={means!r}; expected a non-empty sequence of finite numbers, one per arm")
        self.bernoulli = bool(bernoulli)
        if self.bernoulli and (m.min() < 0 or m.max() > 1):
            raise DeclarationError(f"means={means!r}; expected probabilities in [0, 1] for Bernoulli arms "
                                   "(or pass bernoulli=False for fixed payments)")
        self.means = m
        self.goal_reward = positive_float(goal_reward, "goal_reward")
        self.max_steps = 1
        self.n_actions = m.size
        self.action_names = tuple(f"arm {a}" for a in range(m.size))
        self.feature_names = ()
        self._setup()

    def _args(self) -> str:
        return f"{self.means.tolist()}" + ("" if self.bernoulli else ", bernoulli=False")

    def _is_state(self, state) -> bool:
        return _as_action(state) == 0

    def _start(self, rng):
        return 0

    def _transition(self, state, action):
        return 0, self.goal_reward * float(self.means[action]), True

    def _sample_transition(self, state, action):
        if not self.bernoulli:
            return self._transition(state, action)
        return 0, self.goal_reward * float(self._rng.random() < self.means[action]), True

    def _success(self, terminated, action) -> bool:
        return bool(self.means[action] == self.means.max())

    def _is_goal(self, state) -> bool:
        return False  # the single state is where every episode starts; pulls end the episode

    def _all_states(self):
        return [0]

    def optimal_steps(self, key: Hashable) -> int:
        """One pull."""
        self._checked_state(key)
        return 1

    def features(self, obs) -> np.ndarray:
        """No features: the bandit has one state."""
        return np.zeros(0, dtype=bool)


class Chain(_BuiltinEnv):
    """A chain of ``n_states`` states: start at 0, move left or right, paid ``reward`` on reaching ``n_states - 1``.

    Action 0 moves left (staying at 0 at the left end), action 1 right; reaching the right end
    terminates the episode. With discount ``gamma`` the optimal value is the closed form
    ``V*(s) = reward * gamma**(n_states - 2 - s)`` for ``s < n_states - 1`` (0 at the right end).

    Parameters
    ----------
    n_states : int
        Number of states (at least 2).
    gamma : float, default 0.99
        The chain's discount in (0, 1]; the default of :meth:`optimal_values`.
    reward : float, default 1.0
        Paid on reaching the right end (also available as ``goal_reward``).
    max_steps : int, optional
        Truncate an episode after this many steps; default ``10 * (n_states - 1)``.

    Examples
    --------
    >>> env = Chain(4, gamma=0.5)
    >>> env.optimal_values()
    {0: 0.25, 1: 0.5, 2: 1.0, 3: 0.0}
    """

    name = "chain"

    def __init__(self, n_states: int, *, gamma: float = 0.99, reward: float = 1.0, max_steps: int | None = None):
        self.n_states = whole_number(n_states, "n_states", 2, hint="the number of states")
        self.gamma = self._gamma(gamma)
        self.goal_reward = positive_float(reward, "reward")
        self.max_steps = 10 * (self.n_states - 1) if max_steps is None else whole_number(max_steps, "max_steps", 1)
        self.n_actions = 2
        self.action_names = ("left", "right")
        self.feature_names = tuple(f"at state {s}" for s in range(self.n_states))
        self._setup()

    @property
    def reward(self) -> float:
        """The payment on reaching the right end."""
        return self.goal_reward

    def _args(self) -> str:
        return f"{self.n_states}, gamma={self.gamma:g}"

    def _is_state(self, state) -> bool:
        s = _as_action(state)
        return s is not None and 0 <= s < self.n_states

    def _start(self, rng):
        return 0

    def start_states(self) -> list:
        """State 0."""
        return [0]

    def state_count(self) -> int:
        """``n_states``."""
        return self.n_states

    def _transition(self, state, action):
        nxt = max(state - 1, 0) if action == 0 else state + 1
        goal = nxt == self.n_states - 1
        return nxt, self.goal_reward if goal else 0.0, goal

    def _is_goal(self, state) -> bool:
        return state == self.n_states - 1

    def _all_states(self):
        return range(self.n_states)

    def features(self, obs) -> np.ndarray:
        """One-hot position on the chain, in the order of ``feature_names``."""
        return np.arange(self.n_states) == obs


def _freeze(value: Any) -> Hashable:
    """A hashable key of an observation: numpy scalars as Python numbers, arrays and lists as nested tuples."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        raise DeclarationError(f"observation {value!r} of type {type(value).__name__} is not hashable; expected "
                               "an int, a tuple or a numpy array (a discrete observation)") from None
    return value


class DiscreteEnv:
    """Any environment with the Gymnasium API and a discrete action space, as the economy needs it.

    Made by :func:`as_discrete_env`. Actions are ``0..n_actions-1`` (shifted by the wrapped space's
    ``start`` if it has one); observations keep their form and :meth:`state_key` makes a hashable
    key of them; an episode is truncated after ``max_steps`` steps. Exact values are known only for
    built-in environments.
    """

    feature_names: tuple[str, ...] = ()

    def __init__(self, env: Any, *, max_steps: int = 200):
        self.env = env
        space = env.action_space
        self._offset = int(getattr(space, "start", 0))
        self.n_actions = int(space.n)
        self.action_space = Discrete(self.n_actions)
        self.action_names = tuple(str(self._offset + a) for a in range(self.n_actions))
        self.max_steps = whole_number(max_steps, "max_steps", 1)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset the wrapped environment (Gymnasium's ``reset``)."""
        self._steps = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Step the wrapped environment; ``truncated`` also becomes True after ``max_steps`` steps."""
        a = _check_action(action, self.n_actions, repr(self.env))
        result = self.env.step(self._offset + a)
        if not isinstance(result, tuple) or len(result) != 5:
            raise DeclarationError(f"{self.env!r}.step returned {result!r}; expected Gymnasium's "
                                   "(obs, reward, terminated, truncated, info)")
        obs, reward, terminated, truncated, info = result
        self._steps += 1
        return obs, float(reward), bool(terminated), bool(truncated) or self._steps >= self.max_steps, info

    def state_key(self, obs: Any) -> Hashable:
        """A hashable key of an observation (numpy arrays become nested tuples, numpy scalars Python numbers)."""
        return _freeze(obs)

    def features(self, obs: Any) -> np.ndarray:
        """No named features are known for a wrapped environment."""
        return np.zeros(0, dtype=bool)

    def close(self) -> None:
        """Close the wrapped environment."""
        if callable(getattr(self.env, "close", None)):
            self.env.close()

    def _unknown(self, what: str):
        raise DeclarationError(f"{what} is only known for built-in environments (BlocksWorld, TowerOfHanoi, "
                               f"Bandit, Chain), not for {self.env!r}")

    def states(self) -> list:
        """Not known for a wrapped environment: raises DeclarationError."""
        self._unknown("the list of states")

    def optimal_values(self, gamma: float | None = None) -> dict:
        """Not known for a wrapped environment: raises DeclarationError."""
        self._unknown("V*")

    def optimal_q(self, gamma: float | None = None) -> dict:
        """Not known for a wrapped environment: raises DeclarationError."""
        self._unknown("Q*")

    def optimal_steps(self, key: Hashable) -> int:
        """Not known for a wrapped environment: raises DeclarationError."""
        self._unknown("the shortest number of steps")

    def __repr__(self) -> str:
        return f"as_discrete_env({self.env!r}, max_steps={self.max_steps})"


def as_discrete_env(env: Any, *, max_steps: int | None = None):
    """``env`` as an environment an economy can run: built-ins unchanged, others wrapped in :class:`DiscreteEnv`.

    Parameters
    ----------
    env : object
        A built-in environment, or any object with Gymnasium's ``reset`` and ``step`` whose
        ``action_space`` has an integer ``n`` (a Gymnasium ``Discrete`` works unchanged) and whose
        observations are hashable or numpy arrays.
    max_steps : int, optional
        Truncate wrapped episodes after this many steps (default 200). Built-ins take their own
        ``max_steps`` when constructed, so passing one with a built-in is an error.

    Raises
    ------
    DeclarationError
        When ``env`` has no ``reset``/``step`` or no discrete action space.

    Examples
    --------
    >>> as_discrete_env(Chain(3)).n_actions
    2
    >>> class Continuous:
    ...     action_space = "Box(-1.0, 1.0, (2,), float32)"
    ...     def reset(self, *, seed=None, options=None): ...
    ...     def step(self, action): ...
    >>> as_discrete_env(Continuous())
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: the economy needs a discrete action space (an action_space with an \
integer .n, like Gymnasium's Discrete); got action_space='Box(-1.0, 1.0, (2,), float32)' of ...
    """
    if isinstance(env, _BuiltinEnv | DiscreteEnv):
        if max_steps is not None:
            raise DeclarationError(f"max_steps={max_steps!r} given for {env!r}, which has its own "
                                   f"max_steps={env.max_steps}; pass max_steps= when constructing it")
        return env
    if not (callable(getattr(env, "reset", None)) and callable(getattr(env, "step", None))):
        raise DeclarationError(f"{env!r} has no reset() and step(); expected an environment with the Gymnasium API")
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DeclarationError("the economy needs a discrete action space (an action_space with an integer .n, like "
                               f"Gymnasium's Discrete); got action_space={space!r} of {env!r}")
    return DiscreteEnv(env, max_steps=200 if max_steps is None else max_steps)

