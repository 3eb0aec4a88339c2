"""The compiled engine plays the same episodes as the Python engine, hands work back to Python correctly,
and refuses what it cannot play."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmarkets.errors import DeclarationError, EconomyError
from deepmarkets.models.economies.economy import Economy
from deepmarkets.models.economies.engine import KernelState, tabular
from deepmarkets.models.economies.envs import Bandit, BlocksWorld, Chain, TowerOfHanoi

PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENVS = {"chain": lambda: Chain(5, gamma=0.9), "blocks": lambda: BlocksWorld(3, intermediate_reward=True),
        "blocks from one start": lambda: BlocksWorld(3, start=((2, 1, 0), (), ())),
        "hanoi": lambda: TowerOfHanoi(3)}
RECORD = ("episode", "start", "success", "steps", "reward", "owners", "births", "deaths", "alive")
ARRAYS = ("state", "action", "bid", "wealth", "age", "parent", "born", "alive", "income", "paid")


def _same_economies(a: Economy, b: Economy) -> None:
    assert len(a.result.episodes) == len(b.result.episodes)
    for ra, rb in zip(a.result.episodes, b.result.episodes, strict=True):
        assert [getattr(ra, f) for f in RECORD] == [getattr(rb, f) for f in RECORD]
        assert ra.gini == pytest.approx(rb.gini, abs=1e-12, nan_ok=True)
        assert abs(ra.conservation_error - rb.conservation_error) <= 2 * a.ledger.tolerance()
    for name in ARRAYS:  # every agent's every figure, bit for bit
        assert np.array_equal(getattr(a.population, name), getattr(b.population, name)), name
    assert a.ledger.write_offs == b.ledger.write_offs and a.ledger.minted == b.ledger.minted
    assert abs(a.ledger.bank - b.ledger.bank) <= a.ledger.tolerance()  # sums of taxes may round differently
    assert a.history.equals(b.history) and a.securities == b.securities
    assert a.rng.bit_generator.state == b.rng.bit_generator.state  # the same draws, in the same order


@PROPERTY
@given(env=st.sampled_from(sorted(ENVS)), auction=st.sampled_from(["first", "ccv", "vickrey"]),
       bids=st.sampled_from(["adaptive", "profit", "fixed"]), clones=st.integers(1, 3),
       gamma=st.sampled_from([1.0, 0.9]), explore=st.sampled_from([0.0, 0.3]), tax=st.sampled_from([0.0, 0.01]),
       birth=st.sampled_from([math.inf, 3.0]),
       history=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_both_engines_play_the_same_episodes(env, auction, bids, clones, gamma, explore, tax, birth, history, seed):
    kw = {"auction": auction, "bids": bids, "clones": clones, "gamma": gamma, "explore": explore, "tax": tax,
          "birth_wealth": birth, "entry_wealth": 2.0, "death_wealth": 0.05 if tax else 0.0, "rng": seed,
          "keep_history": history}
    python = Economy(ENVS[env](), engine="python", **kw)
    compiled = Economy(ENVS[env](), engine="compiled", check=True, **kw)  # the ledger checked at each hand-back
    assert not python.compiled and compiled.compiled
    python.run(30, progressbar=False)
    compiled._kernel_state = KernelState(int(compiled.env.max_steps), write_offs=12, sales=3)  # many hand-backs
    for _ in range(3):
        compiled.step()
    compiled.run(27, progressbar=False)
    _same_economies(python, compiled)


def test_a_long_blocks_world_run_is_the_same_in_both_engines():
    kw = {"auction": "ccv", "clones": 2, "gamma": 0.9, "rng": 7, "keep_history": False}
    python, compiled = Economy(BlocksWorld(3), engine="python", **kw), Economy(BlocksWorld(3), **kw)
    assert compiled.engine == "auto" and compiled.compiled
    python.run(1500, progressbar=False)
    compiled.run(1500, progressbar=False)
    _same_economies(python, compiled)
    assert compiled.result.success_rate(200) == python.result.success_rate(200)


def test_episodes_start_uniformly_among_the_states_other_than_the_goal():
    env = BlocksWorld(2)  # 2! * C(4, 2) = 12 states, 11 of them starts
    starts = tabular(env).starts
    assert len(starts) == 11 == env.state_count() - 1 and env.goal not in env.start_states()
    eco = Economy(env, rng=3, keep_history=False, gini_every=5)
    eco.run(4400, progressbar=False)
    counts = eco.result.table()["start"].value_counts()
    assert len(counts) == 11  # binomial(4400, 1/11): mean 400, sd 19; 5 sd either side
    assert all(abs(c - 400) <= 5 * math.sqrt(4400 / 11 * 10 / 11) for c in counts)
    gini = eco.result.table()["gini"]
    assert gini.notna().sum() == 4400 // 5 and gini.iloc[4::5].notna().all()


def test_what_the_compiled_engine_cannot_play_is_refused_or_left_to_python():
    with pytest.raises(DeclarationError, match="engine='warp'"):
        Economy(Chain(3), engine="warp")
    with pytest.raises(DeclarationError, match="tabular environment"):
        Economy(Bandit([0.2, 0.8]), engine="compiled")  # stochastic rewards: no table
    with pytest.raises(DeclarationError, match="conditioned on states"):
        Economy(BlocksWorld(3), conditions="pattern", engine="compiled")
    assert tabular(Bandit([0.2, 0.8])) is None and tabular(BlocksWorld(9)) is None  # 9! * 55 states: too many
    eco = Economy(BlocksWorld(3), engine="compiled")
    eco.agent(pattern={"stack 0 is empty": True}, action=0, bid=0.5)
    with pytest.raises(DeclarationError, match="pattern agents"):
        eco.run(1, progressbar=False)
    auto = Economy(BlocksWorld(3), rng=0)
    auto.agent(pattern={"stack 0 is empty": True}, action=0, bid=0.5)
    assert not auto.compiled and auto.run(3, progressbar=False).episodes  # played by the Python engine
    with pytest.raises(DeclarationError, match="not a state"):
        Economy(BlocksWorld(3)).agent(state=((0, 1), (), ()), action=0, bid=0.1)


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_the_valuation_and_profit_rules_by_hand(engine):
    # state 0: A (right, 0.5) beats 0.2 and pays 0.2; state 1: C (right, 0.8) beats 0.1, pays A 0.1, reaches the goal
    expected = {"adaptive": (0.5 + 0.5 * (0.1 - 0.5), 0.8 + 0.5 * (1.0 - 0.8)),  # b += eta (income - b)
                "profit": (0.5 + 0.5 * (0.1 - 0.2), 0.8 + 0.5 * (1.0 - 0.1))}  # b += eta (income - price)
    for bids, (a_bid, c_bid) in expected.items():
        with Economy(Chain(3, gamma=1.0), auction="ccv", bids=bids, clones=1, gamma=1.0, explore=0.0,
                     learning_rate=0.5, engine=engine, rng=0) as eco:
            a = eco.agent(state=0, action=1, bid=0.5)
            eco.agent(state=0, action=0, bid=0.2)
            c = eco.agent(state=1, action=1, bid=0.8)
            eco.agent(state=1, action=0, bid=0.1)
        record = eco.step()
        assert record.success and record.steps == 2 and record.owners == 2
        assert eco.population.bid[a] == pytest.approx(a_bid, abs=1e-15)
        assert eco.population.bid[c] == pytest.approx(c_bid, abs=1e-15)
        assert eco.population.income[a] == pytest.approx(0.1) and eco.population.paid[a] == pytest.approx(0.2)


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_a_diverging_economy_stops_with_a_clear_error_and_keeps_its_episodes(engine):
    # profit seekers alone under Vickrey's rule: the bank pays each seller the top bid, and bids inflate without end
    eco = Economy(BlocksWorld(3), auction="vickrey", bids="profit", clones=1, gamma=0.9, engine=engine, rng=0,
                  keep_history=False)
    with pytest.raises(EconomyError, match="money diverged in episode"):
        eco.run(20_000, progressbar=False)
    played = eco.result.episodes
    assert 0 < len(played) < 20_000 and not math.isfinite(eco.ledger.bank + eco.ledger.minted)
    assert all(math.isfinite(r.reward) for r in played)
