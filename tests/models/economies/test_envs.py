"""Environments of the economies: state spaces, exact optimal values and the Gymnasium API."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from collections import Counter, deque

import numpy as np
import pytest
from scipy import stats

from deepmarkets.errors import DeclarationError
from deepmarkets.models.economies.envs import (
    Bandit,
    BlocksWorld,
    Chain,
    Discrete,
    DiscreteEnv,
    TowerOfHanoi,
    as_discrete_env,
)

# ---------------------------------------------------------------------------
# independent brute force: moves written again here, breadth-first search from the goal
# ---------------------------------------------------------------------------


def moves(state, hanoi=False):
    """Every state one move away (the moves are their own inverses, so this also walks backwards)."""
    out = set()
    for i, j in itertools.permutations(range(len(state)), 2):
        if not state[i] or (hanoi and state[j] and state[j][-1] < state[i][-1]):
            continue
        new = [list(s) for s in state]
        new[j].append(new[i].pop())
        out.add(tuple(tuple(s) for s in new))
    return out


def bfs(goal, hanoi=False):
    dist, queue = {goal: 0}, deque([goal])
    while queue:
        s = queue.popleft()
        for t in moves(s, hanoi):
            if t not in dist:
                dist[t] = dist[s] + 1
                queue.append(t)
    return dist


@pytest.mark.parametrize("n, k", [(1, 3), (2, 3), (3, 3), (4, 3), (5, 3), (2, 4), (3, 4), (4, 4), (3, 5)])
def test_blocks_states_match_formula_and_brute_force(n, k):
    env = BlocksWorld(n, n_stacks=k)
    states = env.states()
    formula = math.factorial(n) * math.comb(n + k - 1, k - 1)
    assert len(states) == len(set(states)) == formula
    assert set(states) == set(bfs(env.goal))  # every arrangement is reachable and nothing else is listed
    assert env.n_actions == k * (k - 1) == len(set(env.action_names))


def test_blocks_known_counts():
    assert len(BlocksWorld(3).states()) == 60
    assert len(BlocksWorld(5).states()) == 2520


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_blocks_values_are_discounted_goal_reward(n, gamma):
    env = BlocksWorld(n, goal_reward=2.5)
    dist = bfs(env.goal)
    values = env.optimal_values(gamma)
    assert set(values) == set(dist)
    for s, d in dist.items():
        assert env.optimal_steps(s) == d
        expected = 0.0 if d == 0 else 2.5 * gamma ** (d - 1)
        assert values[s] == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_blocks_worst_shortest_solution_is_3n_minus_2(n):
    """The bound behind the default max_steps (30 n): the hardest start needs 3 n - 2 moves."""
    env = BlocksWorld(n)
    assert max(bfs(env.goal).values()) == 3 * n - 2
    assert env.max_steps == 30 * n


def test_blocks_intermediate_reward_telescopes():
    """Undiscounted, every path to the goal earns R + R/n times the blocks still to place."""
    env = BlocksWorld(4, intermediate_reward=True, goal_reward=2.0)
    values = env.optimal_values(1.0)
    for s, v in values.items():
        expected = 0.0 if s == env.goal else 2.0 + 2.0 / 4 * (4 - env.correct(s))
        assert v == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("env", [BlocksWorld(3), BlocksWorld(3, intermediate_reward=True), TowerOfHanoi(3),
                                 Chain(5, gamma=0.8)])
def test_q_is_one_step_bellman_of_v(env):
    gamma = 0.85
    values, q = env.optimal_values(gamma), env.optimal_q(gamma)
    for s in env.states():
        if s == getattr(env, "goal", env.states()[-1]):
            assert np.all(q[s] == 0) and values[s] == 0
            continue
        assert q[s].shape == (env.n_actions,)
        assert values[s] == pytest.approx(q[s].max(), abs=1e-12)
        for a in range(env.n_actions):
            t, r, done = env.transition(s, a)
            assert q[s][a] == pytest.approx(r + (0.0 if done else gamma * values[t]), abs=1e-10)


def test_blocks_step_reward_and_features():
    env = BlocksWorld(3)
    obs, info = env.reset(seed=0, options={"start": ((0, 1), (2,), ())})
    assert obs == ((0, 1), (2,), ()) and info == {}
    names = dict(zip(env.feature_names, env.features(obs), strict=True))
    assert names["block 0 correctly placed"] and names["block 1 correctly placed"]
    assert not names["block 2 correctly placed"]
    assert names["top of stack 1 is the next block needed"] and not names["top of stack 0 is the next block needed"]
    assert names["stack 2 is empty"] and names["stack 0 holds only correctly placed blocks"]
    assert [names[f"stack {i} holds the next block needed"] for i in range(3)] == [False, True, False]
    buried = dict(zip(env.feature_names, env.features(((1, 2), (0,), ())), strict=True))
    assert [buried[f"stack {i} holds the next block needed"] for i in range(3)] == [False, True, False]
    assert not buried["stack 0 holds only correctly placed blocks"]
    obs, r, term, trunc, info = env.step(env.action_names.index("1->0"))
    assert (obs, r, term, trunc, info["success"]) == (env.goal, 1.0, True, False, True)
    assert env.features(obs)[: env.n_blocks].all()
    with pytest.raises(DeclarationError, match="reset"):
        env.step(0)


def test_blocks_empty_move_is_a_no_op_and_truncates():
    env = BlocksWorld(3, max_steps=5)
    start = ((1, 0, 2), (), ())
    env.reset(seed=0, options={"start": start})
    a = env.action_names.index("2->0")
    for t in range(1, 6):
        obs, r, term, trunc, info = env.step(a)
        assert obs == start and r == 0.0 and not term and trunc == (t == 5) and not info["success"]
    with pytest.raises(DeclarationError, match="reset"):
        env.step(a)


def test_blocks_starts_are_uniform_over_non_goal_states():
    env = BlocksWorld(2)
    env.reset(seed=7)
    counts = Counter(env.reset()[0] for _ in range(11_000))
    non_goal = [s for s in env.states() if s != env.goal]
    assert set(counts) == set(non_goal)  # the goal is never a start
    chi2 = sum((counts[s] - 1000) ** 2 / 1000 for s in non_goal)
    assert chi2 < stats.chi2.ppf(1 - 1e-9, df=len(non_goal) - 1)


def test_fixed_start():
    env = BlocksWorld(3, start=[[2], [1, 0], []])
    assert all(env.reset(seed=s)[0] == ((2,), (1, 0), ()) for s in range(3))


def test_determinism_under_seed():
    def trajectory(seed):
        env = BlocksWorld(4)
        rng = np.random.default_rng(seed)
        out = [env.reset(seed=seed)[0]]
        for _ in range(3):
            out.append(env.reset()[0])
            for _ in range(10):
                out.append(env.step(env.action_space.sample(rng))[:4])
                if out[-1][2] or out[-1][3]:
                    break
        return out

    assert trajectory(3) == trajectory(3)
    assert trajectory(3) != trajectory(4)


def test_copy_is_independent():
    env = BlocksWorld(4)
    env.reset(seed=1)
    twin = env.copy()
    assert [env.reset()[0] for _ in range(5)] == [twin.reset()[0] for _ in range(5)]
    assert twin.states() is not None and len(twin.states()) == len(env.states())


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_hanoi_optimal_solution_is_2_to_n_minus_1(n):
    env = TowerOfHanoi(n)
    start, _ = env.reset(seed=0)
    assert start == (tuple(range(n - 1, -1, -1)), (), ())
    assert env.optimal_steps(start) == 2**n - 1
    dist = bfs(env.goal, hanoi=True)
    assert set(env.states()) == set(dist) and len(dist) == 3**n
    values = env.optimal_values(0.9)
    assert all(values[s] == pytest.approx(0.0 if d == 0 else 0.9 ** (d - 1), abs=1e-12) for s, d in dist.items())
    assert env.max_steps == 10 * (2**n - 1)


def test_hanoi_illegal_move_is_a_no_op():
    env = TowerOfHanoi(2)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.action_names.index("0->1"))  # the small disc to peg 1
    assert obs == ((1,), (0,), ())
    obs2, r, term, trunc, _ = env.step(env.action_names.index("0->1"))  # large onto small: illegal
    assert obs2 == obs and r == 0.0 and not term and not trunc
    for name in ("0->2", "1->2"):
        obs, r, term, trunc, info = env.step(env.action_names.index(name))
    assert obs == ((), (), (1, 0)) and r == 1.0 and term and info["success"]
    assert env.features(obs).tolist() == [True, True, True, True, False, False, False, True]


@pytest.mark.parametrize("n", [2, 3, 6, 9])
@pytest.mark.parametrize("gamma", [0.5, 0.99, 1.0])
def test_chain_closed_form(n, gamma):
    env = Chain(n, gamma=gamma, reward=3.0)
    values = env.optimal_values()
    assert values == pytest.approx({s: 3.0 * gamma ** (n - 2 - s) if s < n - 1 else 0.0 for s in range(n)},
                                   rel=1e-12)
    q = env.optimal_q()
    assert all(q[s][1] >= q[s][0] for s in range(n - 1))
    assert [env.optimal_steps(s) for s in range(n)] == list(range(n - 1, -1, -1))


def test_chain_walk():
    env = Chain(3, gamma=0.9)
    assert env.reset(seed=0)[0] == 0
    assert env.step(0)[:4] == (0, 0.0, False, False)
    assert env.step(1)[:4] == (1, 0.0, False, False)
    assert env.step(1)[:4] == (2, 1.0, True, False)


def test_bandit_q_and_rewards():
    means = [0.1, 0.7, 0.4, 0.7]
    env = Bandit(means, goal_reward=2.0)
    assert env.optimal_values() == {0: pytest.approx(1.4)}
    assert env.optimal_q()[0] == pytest.approx(2.0 * np.array(means))
    assert env.states() == [0] and env.optimal_steps(0) == 1 and env.max_steps == 1
    env.reset(seed=5)
    pulls = 4000
    rewards = []
    for _ in range(pulls):
        env.reset()
        obs, r, term, trunc, info = env.step(2)
        assert obs == 0 and term and not trunc and not info["success"] and r in (0.0, 2.0)
        rewards.append(r)
    sd = 2.0 * math.sqrt(0.4 * 0.6 / pulls)
    assert abs(np.mean(rewards) - 0.8) < 6 * sd
    env.reset()
    assert env.step(3)[4]["success"]  # a best arm
    fixed = Bandit(means, bernoulli=False)
    fixed.reset(seed=0)
    assert fixed.step(1)[1] == 0.7


def test_bandit_is_deterministic_under_seed():
    def pulls(seed):
        env = Bandit([0.5, 0.5])
        env.reset(seed=seed)
        out = []
        for _ in range(50):
            out.append(env.step(0)[1])
            env.reset()
        return out

    assert pulls(1) == pulls(1) and pulls(1) != pulls(2)


@pytest.mark.parametrize("make, match", [
    (lambda: BlocksWorld(0), "n_blocks=0"),
    (lambda: BlocksWorld(-1), "n_blocks=-1"),
    (lambda: BlocksWorld(2.5), "n_blocks=2.5"),
    (lambda: BlocksWorld(True), "n_blocks=True"),
    (lambda: BlocksWorld(3, n_stacks=2), "n_stacks=2"),
    (lambda: BlocksWorld(3, goal_reward=0), "goal_reward=0"),
    (lambda: BlocksWorld(3, max_steps=0), "max_steps=0"),
    (lambda: BlocksWorld(2, start=((0, 1), (), ())), "is the goal"),
    (lambda: BlocksWorld(2, start=((0, 0), (), ())), "not a state"),
    (lambda: BlocksWorld(2, start=((0,), (1,))), "not a state"),
    (lambda: TowerOfHanoi(0), "n_discs=0"),
    (lambda: Bandit([]), "means"),
    (lambda: Bandit([0.2, 1.5]), "probabilities"),
    (lambda: Bandit([[0.1, 0.2]]), "means"),
    (lambda: Bandit(["a"]), "means"),
    (lambda: Bandit([0.1, float("nan")]), "means"),
    (lambda: Chain(1), "n_states=1"),
    (lambda: Chain(3, gamma=0), "gamma=0"),
    (lambda: Chain(3, gamma=1.5), "gamma=1.5"),
    (lambda: Chain(3, reward=-1), "reward=-1"),
    (lambda: Discrete(0), "n=0"),
])
def test_bad_arguments(make, match):
    with pytest.raises(DeclarationError, match=match):
        make()


@pytest.mark.parametrize("action", [6, -1, 1.0, True, "0", None])
def test_action_out_of_range(action):
    env = BlocksWorld(3)
    env.reset(seed=0)
    with pytest.raises(DeclarationError, match=r"expected an integer in 0\.\.5"):
        env.step(action)


def test_numpy_actions_are_accepted():
    env = Chain(3)
    env.reset(seed=0)
    assert env.step(np.int64(1))[0] == 1
    assert env.step(np.array(1))[0] == 2


def test_unknown_state_and_bad_gamma():
    env = BlocksWorld(2)
    with pytest.raises(DeclarationError, match="not a state"):
        env.optimal_steps(((0, 1, 2), (), ()))
    with pytest.raises(DeclarationError, match="gamma=0"):
        env.optimal_values(0)
    with pytest.raises(DeclarationError, match="not a state"):
        env.reset(options={"start": ((1,), (), ())})


def test_discrete_space():
    space = Discrete(3)
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(300)]
    assert set(draws) == {0, 1, 2} and space.contains(np.int64(2)) and not space.contains(3)
    assert not space.contains(True) and 1 in space and space == Discrete(3)
    assert [space.sample(5) for _ in range(3)] == [Discrete(3).sample(5)] * 3


def test_envs_module_does_not_import_gymnasium():
    code = "import sys, deepmarkets.models.economies.envs; print('gymnasium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# as_discrete_env
# ---------------------------------------------------------------------------


def test_builtins_pass_through():
    env = BlocksWorld(3)
    assert as_discrete_env(env) is env
    with pytest.raises(DeclarationError, match="max_steps"):
        as_discrete_env(env, max_steps=10)


class ArrayEnv:
    """A minimal environment with the Gymnasium API, numpy array observations and a shifted action space."""

    class Space:
        n = np.int64(2)
        start = 1

    action_space = Space()

    def reset(self, *, seed=None, options=None):
        self.pos = 0
        return np.array([self.pos, 0]), {}

    def step(self, action):
        assert action in (1, 2)
        self.pos += 1 if action == 2 else 0
        return np.array([self.pos, 0]), float(self.pos == 3), self.pos == 3, False, {}


def test_wrapped_array_observations_and_shifted_actions():
    env = as_discrete_env(ArrayEnv(), max_steps=4)
    assert isinstance(env, DiscreteEnv) and env.n_actions == 2 and env.max_steps == 4
    obs, _ = env.reset(seed=0)
    assert env.state_key(obs) == (0, 0) and hash(env.state_key(obs)) is not None
    assert env.step(0)[2:4] == (False, False)  # action 0 is the space's 1: stay
    obs, r, term, trunc, _ = env.step(1)
    assert env.state_key(obs) == (1, 0)
    obs, r, term, trunc, _ = env.step(1)
    assert (r, term, trunc) == (0.0, False, False)
    assert env.step(0)[2:4] == (False, True)  # truncated after 4 steps
    with pytest.raises(DeclarationError, match=r"expected an integer in 0\.\.1"):
        env.step(2)
    for method in (env.states, env.optimal_values, env.optimal_q):
        with pytest.raises(DeclarationError, match="only known for built-in environments"):
            method()
    with pytest.raises(DeclarationError, match="only known for built-in environments"):
        env.optimal_steps((0, 0))


def test_not_discrete_is_refused():
    class Box:
        def __repr__(self):
            return "Box(-1.0, 1.0, (1,), float32)"

    class Continuous:
        action_space = Box()

        def reset(self, *, seed=None, options=None):
            return np.zeros(1), {}

        def step(self, action):
            return np.zeros(1), 0.0, False, False, {}

    with pytest.raises(DeclarationError, match=r"needs a discrete action space.*Box\(-1.0"):
        as_discrete_env(Continuous())
    with pytest.raises(DeclarationError, match="Gymnasium API"):
        as_discrete_env(object())


def test_unhashable_observation_is_refused():
    env = as_discrete_env(ArrayEnv())
    with pytest.raises(DeclarationError, match="not hashable"):
        env.state_key({"a": 1})


def test_gymnasium_frozen_lake_runs_unchanged():
    gym = pytest.importorskip("gymnasium")
    env = as_discrete_env(gym.make("FrozenLake-v1", is_slippery=False), max_steps=50)
    assert env.n_actions == 4
    obs, _ = env.reset(seed=0)
    assert env.state_key(obs) == 0 and isinstance(env.state_key(obs), int)
    left, down, right = 0, 1, 2
    for a in (down, down, right, right, down):
        obs, r, term, trunc, _ = env.step(a)
        assert r == 0.0 and not term and not trunc
    obs, r, term, trunc, _ = env.step(right)
    assert env.state_key(obs) == 15 and r == 1.0 and term
    wrapped = as_discrete_env(gym.make("FrozenLake-v1", is_slippery=False), max_steps=7)
    wrapped.reset(seed=0)  # left at the start stays there; the wrapper truncates at max_steps
    assert [wrapped.step(left)[3] for _ in range(7)] == [False] * 6 + [True]
    with pytest.raises(DeclarationError, match="only known for built-in"):
        wrapped.optimal_values()


def test_gymnasium_continuous_actions_are_refused():
    gym = pytest.importorskip("gymnasium")
    with pytest.raises(DeclarationError, match="needs a discrete action space.*Box"):
        as_discrete_env(gym.make("Pendulum-v1"))
