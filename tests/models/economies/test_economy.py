"""Economies: auctions against brute force, the ledger's invariants over random economies, learned prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmarkets.beliefs import Book
from deepmarkets.errors import DeclarationError
from deepmarkets.models.economies.agents import Population, pack_features
from deepmarkets.models.economies.auction import BANK, Ledger, clear
from deepmarkets.models.economies.economy import Economy, gini
from deepmarkets.models.economies.envs import Bandit, BlocksWorld, Chain

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- auctions ----------------------------------------------------------------------------------------------
@PROPERTY
@given(st.lists(st.integers(0, 6), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_auctions_agree_with_sorting(raw, seed):
    bids = np.array(raw, dtype=float) / 4
    ordered = sorted(bids, reverse=True)
    for rule in ("first", "vickrey", "ccv"):
        sale = clear(bids, rule, np.random.default_rng(seed))
        assert bids[sale.winner] == ordered[0] == sale.top
        expected = ordered[0] if rule == "first" else (ordered[1] if len(bids) > 1 else 0.0)
        assert sale.price == expected and sale.price <= bids[sale.winner]


def test_ties_are_broken_uniformly():
    gen = np.random.default_rng(0)
    wins = np.bincount([clear(np.array([1.0, 0.5, 1.0]), "ccv", gen).winner for _ in range(4000)], minlength=3)
    assert wins[1] == 0 and abs(wins[0] - 2000) < 5 * math.sqrt(1000)  # binomial(4000, 1/2): 5 standard errors


# --- the ledger and the population --------------------------------------------------------------------------
def test_ledger_transfers_taxes_and_write_offs_conserve_the_total():
    pop = Population()
    ids = pop.add(state=0, action=[0, 1, 2], bid=0.0, wealth=0.0)
    ledger = Ledger(lambda: pop.wealth, bank=5.0)
    ledger.fund(ids, 2.0)
    assert ledger.bank == -1.0 and pop.wealth.tolist() == [2.0, 2.0, 2.0]
    assert ledger.pay(0, 1, 3.0, what="too much") == 2.0  # pays all it has; the rest is written off
    assert ledger.written_off == 1.0 and ledger.write_offs == [(0, 1.0, "too much")]
    assert ledger.tax(ids, 1.5) == 0.0 + 1.5 + 1.5
    ledger.mint(2, 0.25)
    assert ledger.minted == 0.25 and ledger.error() == 0.0
    ledger.check()
    pop.wealth[1] += 1e-3  # money from nowhere
    with pytest.raises(AssertionError, match="total changed"):
        ledger.check()
    assert ledger.pay(BANK, 0, 0.0) == 0.0


def test_population_matches_states_and_patterns():
    pop = Population(capacity=1)
    a = pop.add(state=[2, 2, 5], action=[0, 1, 0], bid=0.1, wealth=1.0)
    p = pop.add(mask=pack_features([1, 1, 0]), want=pack_features([1, 0, 0]), action=1, bid=0.2, wealth=1.0)
    assert pop.matching(2, pack_features([1, 0, 1])).tolist() == [*a[:2], *p]
    assert pop.matching(2, pack_features([1, 1, 1])).tolist() == list(a[:2])  # feature 1 must be false
    pop.kill(a[0])
    assert pop.matching(2).tolist() == [a[1]] and len(pop) == 4 and pop.n_alive == 3


def test_gini_closed_forms():
    assert gini(np.ones(5)) == 0.0 and gini(np.zeros(3)) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)


# --- invariants over random economies -----------------------------------------------------------------------
ENVS = {"bandit": lambda: Bandit([0.3, 0.5, 0.7]), "chain": lambda: Chain(5, gamma=0.9),
        "blocks": lambda: BlocksWorld(3, intermediate_reward=True)}


@PROPERTY
@given(env=st.sampled_from(sorted(ENVS)), auction=st.sampled_from(["first", "ccv", "vickrey"]),
       bids=st.sampled_from(["adaptive", "fixed"]), conditions=st.sampled_from(["state", "pattern"]),
       clones=st.integers(1, 3), gamma=st.sampled_from([1.0, 0.9]), explore=st.sampled_from([0.0, 0.3]),
       tax=st.sampled_from([0.0, 0.01]), birth=st.sampled_from([math.inf, 3.0]),
       entry_rate=st.sampled_from([0.0, 0.2]), seed=st.integers(0, 2**32 - 1))
def test_money_is_conserved_in_random_economies(env, auction, bids, conditions, clones, gamma, explore, tax, birth,
                                                entry_rate, seed):
    eco = Economy(ENVS[env](), auction=auction, bids=bids, conditions=conditions, clones=clones, gamma=gamma,
                  explore=explore, tax=tax, birth_wealth=birth, entry_wealth=2.0, death_wealth=0.05 if tax else 0.0,
                  entry_rate=entry_rate, check=True, rng=seed)
    run = eco.run(15, progressbar=False)  # check=True asserts the ledger after every step
    # 1e-9 of the money in play plus the rounding bound of the additions made (tiny after 15 episodes)
    assert eco.ledger.rounding < 1e-8 and all(abs(r.conservation_error) <= eco.ledger.tolerance()
                                                 for r in run.episodes)
    assert (eco.population.wealth >= 0).all()
    if auction != "vickrey":
        assert eco.ledger.minted == 0.0
    # prices are paid in full; only negative rewards and exploring buyers can exceed wealth (written off, logged)
    assert all(what in ("negative reward", "exploration") for _, _, what in eco.ledger.write_offs)
    history = eco.history  # one owner per step: one sale per time
    assert history["time"].is_unique and len(history) == sum(r.steps for r in run.episodes if r.steps)
    assert Book.from_frame(history).kind == "trades"


# --- what the prices learn ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_ccv_bids_learn_the_arm_rewards(seed):
    rewards = [0.2, 0.4, 0.6, 0.8]
    eco = Economy(Bandit(rewards, bernoulli=False), auction="ccv", clones=2, explore=0.2, learning_rate=0.2,
                  rng=seed)
    eco.run(2000, progressbar=False)
    obs, _ = eco.env.reset(seed=0)
    # every arm is explored ~100 times (binomial(2000, 0.05)); each update shrinks the error by 0.8
    np.testing.assert_allclose(eco.bids_in(obs), rewards, atol=1e-3)
    assert eco.price(obs) == pytest.approx(0.8, abs=1e-3)  # the clone's bid: the value of the state


@pytest.mark.parametrize("seed", range(3))
def test_ccv_prices_on_a_chain_are_the_optimal_values(seed):
    env = Chain(6, gamma=0.99)
    eco = Economy(env, auction="ccv", clones=2, gamma=0.99, explore=0.1, learning_rate=0.2, rng=seed)
    eco.run(3000, progressbar=False)
    values = env.optimal_values(0.99)
    for key in env.states():
        if key in eco._states and values[key] > 0:
            assert eco.price(key) == pytest.approx(values[key], abs=1e-3), key


def test_bad_economies_are_refused_before_any_work():
    env = Bandit([0.5])
    for kwargs, match in [({"auction": "dutch"}, "auction='dutch'"), ({"tax": -1}, "tax=-1"),
                          ({"bids": "smart"}, "bids='smart'"), ({"clones": 0}, "clones=0"),
                          ({"gamma": 1.5}, "gamma=1.5"), ({"explore": 2}, "explore=2"),
                          ({"birth_wealth": 0.0, "death_wealth": 1.0}, "birth_wealth=0.0")]:
        with pytest.raises(DeclarationError, match=match):
            Economy(env, **kwargs)
    with pytest.raises(DeclarationError, match="Gymnasium API"):
        Economy(object())


def test_economies_are_declared_like_markets():
    from deepmarkets.models.economies.economy import agent

    env = BlocksWorld(3)
    start = env.reset(seed=1)[0]
    with Economy(env, auction="first", rng=0, entry_wealth=2.0) as eco:
        a = agent(state=start, action=2, bid=0.4)
        b = agent(pattern={env.feature_names[0]: True}, action=1, bid=0.3, wealth=5.0)
    assert eco.ledger.bank == -7.0 and eco.population.wealth.tolist() == [2.0, 5.0]
    assert eco.population.action[[a, b]].tolist() == [2, 1]
    with pytest.raises(DeclarationError, match="no economy is being declared"):
        agent(state=start, action=0, bid=0.1)
    for kwargs, match in [({"state": start, "action": 99, "bid": 0.1}, "action=99"),
                          ({"action": 0, "bid": 0.1}, "a state or a pattern"),
                          ({"pattern": {"colour": True}, "action": 0, "bid": 0.1}, "unknown features"),
                          ({"state": start, "action": 0, "bid": -1}, "bid=-1")]:
        with pytest.raises(DeclarationError, match=match):
            eco.agent(**kwargs)


def test_long_runs_with_deaths_keep_the_ledger_within_its_rounding_bound():
    # every agent dies after its episode: thousands of fundings and estates; the total drifts by rounding only
    eco = Economy(BlocksWorld(3), auction="ccv", entry_wealth=0.525, death_wealth=1.71, check=True, rng=0,
                  keep_history=False)
    eco.run(2000, progressbar=False)
    assert abs(eco.ledger.error()) <= eco.ledger.tolerance() and eco.run(0, progressbar=False).episodes


@pytest.mark.parametrize(("n", "stacks"), [(6, 3), (12, 3), (7, 4)])
def test_five_pattern_agents_solve_blocks_world_of_any_size(n, stacks):
    # exactly one rule's condition holds in every state but the goal, so the economy follows one strategy:
    # clear stack 0 down to its correct run, then fetch the next block (digging it out of the stack holding it)
    env = BlocksWorld(n, n_stacks=stacks)
    eco = Economy(env, conditions="pattern", explore=0.0, keep_history=False, rng=n)
    rules = env.pattern_strategy()
    for pattern, action in rules:
        eco.agent(pattern=pattern, action=action, bid=0.5)
    run = eco.run(60, progressbar=False)
    assert len(eco.population) == len(rules) == 2 * stacks - 1  # nobody else entered: some agent could always bid
    assert all(r.success and r.steps <= 3 * n * n for r in run.episodes)


def test_entrepreneurs_enter_at_their_rate_with_patterns_of_up_to_pattern_size_features():
    # a chain of 3 states: agents for both actions enter the first time each of states 0 and 1 is seen (rich enough
    # never to go broke); after that an entrepreneur enters at each auction with probability 1/2
    eco = Economy(Chain(3, gamma=1.0), clones=1, explore=0.0, entry_rate=0.5, entry_wealth=1e6, rng=5,
                  keep_history=False)
    assert not eco.compiled  # entrepreneurs are played by the Python engine
    run = eco.run(400, progressbar=False)
    auctions = sum(r.steps for r in run.episodes) - 2
    entrepreneurs = len(eco.population) - 4
    assert abs(entrepreneurs - auctions / 2) <= 5 * math.sqrt(auctions / 4)  # binomial(auctions, 1/2): 5 sd
    env = BlocksWorld(3)
    eco = Economy(env, conditions="pattern", pattern_size=3, entry_rate=0.5, rng=1, keep_history=False)
    eco.run(30, progressbar=False)
    pop = eco.population
    sizes = np.array([bin(int(m)).count("1") for m in pop.mask])
    assert set(sizes.tolist()) == {1, 2, 3} and len(pop) >= 60  # each size 1/3 of the draws: all appear
    assert np.all((pop.want & ~pop.mask) == 0)  # a pattern only asks about the features it constrains
    with pytest.raises(DeclarationError, match="entry_rate=1.5"):
        Economy(env, entry_rate=1.5)
    with pytest.raises(DeclarationError, match="no entry_rate"):
        Economy(env, entry_rate=0.1, engine="compiled")
