"""The hypothesis auction: a per-hypothesis loop written from the paper's definitions plays the same rounds;
the invariants hold at every round over random families; closed forms; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmarkets.errors import DeclarationError, DeepMarketsError
from deepmarkets.models.bria import (
    Allowance,
    AuctionBRIA,
    Bandit,
    History,
    Lottery,
    PrisonersDilemma,
    callables,
    constant,
    copy_best,
    strategies,
)
from deepmarkets.models.bria.hypotheses import Constant
from deepmarkets.models.economies.auction import Ledger

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def loop_auction(hypotheses, task, allowance, seed, rounds):
    """The auction as the paper states it, one hypothesis at a time in plain Python floats."""
    gen = np.random.default_rng(seed)
    task_rng, tie_rng = gen.spawn(2)
    k = len(hypotheses)
    wealth, records, given_ = [0.0] * k, [0.0] * k, [0.0] * k
    rejections, last, events = [0] * k, [0] * k, set()
    past = History(len(task.options))
    weights = allowance.weights(k).tolist()  # i^-b, as the agent computes it (the same floats)
    out = []
    for n in range(1, rounds + 1):
        proposals = [h(past) for h in hypotheses]
        bids = []
        for i in range(k):
            a = allowance.scale(n) * weights[i]
            wealth[i] += a
            given_[i] += a
            promise = proposals[i][1]
            bids.append(promise if promise < wealth[i] else wealth[i])
        top = max(bids)
        best = [i for i in range(k) if bids[i] == top]
        winner = best[0] if len(best) == 1 else best[int(tie_rng.integers(len(best)))]
        for i in range(k):
            if proposals[i][1] > top:  # the agent's estimate is below the promise: a rejection
                rejections[i] += 1
                last[i] = n
                events.add((n, i))
        option = proposals[winner][0]
        reward, obs = task.reward(n, option, task_rng)
        wealth[winner] += reward - top
        records[winner] += reward - proposals[winner][1]
        past.record(option, reward, obs)
        out.append((option, winner, top, reward))
    return out, wealth, records, given_, (rejections, last, events)


def _as_callables(names, options, promises):
    return [lambda past, o=int(o), p=float(p): (o, p) for o, p in zip(options, promises, strict=True)]


@PROPERTY
@given(st.integers(1, 4), st.lists(st.integers(0, 20), min_size=1, max_size=12), st.integers(0, 2**31),
       st.sampled_from([(5, 1, 1.1), (1, 1, 2), (0.3, 0.5, 1.5)]))
def test_agrees_with_a_per_hypothesis_loop(n_options, raw, seed, abc):
    """Same choices, winners, estimates and final wealth as the plain loop (ties included)."""
    promises = np.array(raw, dtype=float) / 20
    options = np.arange(len(promises)) % n_options
    gen_means = np.random.default_rng(seed).random(n_options)
    allowance = Allowance(*abc)
    family = callables(_as_callables(None, options, promises))
    rounds, wealth, records, given_, (rejections, last, events) = loop_auction(
        family.hypotheses, Bandit(gen_means), allowance, seed, 60)
    # the same hypotheses as callables (asked every round) and as a constant family (counted at the end),
    # the latter played by the Python methods and by the compiled loop
    fixed = Constant(options.astype(np.int64), promises)
    for hypotheses, engine in ((family, "python"), (fixed, "python"), (fixed, "compiled")):
        run = AuctionBRIA(hypotheses, Bandit(gen_means), allowance=allowance, rng=seed, check=True,
                          engine=engine).run(60, progressbar=False)
        assert run.choices.tolist() == [r[0] for r in rounds]
        assert run.winners.tolist() == [r[1] for r in rounds]
        assert run.estimates.tolist() == [r[2] for r in rounds]
        np.testing.assert_allclose(run.wealth, wealth, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(run.records, records, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(run.allowance_received, given_, rtol=1e-12)
        assert run.rejections.tolist() == rejections and run.last_rejection.tolist() == last
        assert set(zip(*(a.tolist() for a in run.rejected), strict=True)) == events


@PROPERTY
@given(st.integers(0, 2**31), st.integers(1, 30), st.sampled_from(["bandit", "lottery", "pd"]),
       st.floats(0.05, 20), st.floats(0.2, 1.0), st.floats(1.01, 3.0))
def test_invariants_hold_at_every_round(seed, k, kind, c, a, b):
    """Random promises each round: check=True asserts the invariants after every round; then recomputed here."""
    gen = np.random.default_rng(seed)
    task = {"bandit": Bandit(gen.random(3)), "lottery": Lottery(0.4), "pd": PrisonersDilemma("tit_for_tat")}[kind]
    m = len(task.options)
    draws = gen.random((200, k, 2))

    def member(j):
        return lambda past: (int(draws[past.round - 1, j, 0] * m), float(draws[past.round - 1, j, 1]))

    agent = AuctionBRIA([member(j) for j in range(k)], task, allowance=Allowance(c, a, b), rng=seed, check=True)
    run = agent.run(200, progressbar=False)
    money = max(1.0, run.total_allowance, run.wealth.sum())  # the money in play
    assert abs(run.wealth.sum() - (run.total_allowance - run.overestimation())) <= 1e-8 * money
    assert (run.wealth >= 0).all()
    assert (run.records <= run.wealth - run.allowance_received + 1e-8 * money).all()
    assert run.total_allowance <= Allowance(c, a, b).round_bound(1) * np.sum(1.0 / np.arange(1, 201) ** a)
    assert run.overestimation() <= run.total_allowance + 1e-8 * money  # L_T <= allowance handed out
    # the estimate is the highest bid, and the winner's recommendation is what the agent did
    rounds = run.rounds()
    assert (run.choices == np.array([int(draws[n, j, 0] * m) for n, j in enumerate(run.winners)])).all()
    assert (rounds["estimate"].to_numpy() <= draws[np.arange(200), run.winners, 1] + 1e-15).all()


def test_a_lone_honest_hypothesis_keeps_exactly_its_allowance():
    """Promise 0.4 on the safe option paying 0.4: every round it pays 0.4 and gets 0.4 back once rich enough."""
    A = Allowance(c=1, a=1, b=2)
    agent = AuctionBRIA(constant([0], [0.4]), Lottery(0.4), allowance=A, rng=0, check=True)
    run = agent.run(50, progressbar=False)
    harmonic = sum(1 / n for n in range(1, 51))
    assert run.total_allowance == pytest.approx(harmonic, rel=1e-14)
    assert run.wealth[0] == pytest.approx(harmonic, rel=1e-14)  # L_T = 0: nothing is lost
    assert run.overestimation() == pytest.approx(0, abs=1e-14) and run.rejections[0] == 0


def test_an_overpromiser_is_rejected_with_a_record_below_one_minus_its_allowance():
    """Theorem 1's coverage step, exactly: at a rejection, record <= wealth - allowance < promise - allowance."""
    agent = AuctionBRIA(constant([0, 0], [0.4, 1.0]), Lottery(0.4), allowance=Allowance(1, 1, 2), rng=0, check=True)
    for _ in range(400):
        rnd = agent.step()
        if agent.last_rejection[1] == rnd.round:
            given_ = agent.allowance_received()[1]
            assert agent.records[1] <= 1.0 - given_ + 1e-12
    run = agent.result
    assert run.rejections[1] > 300 and run.records[1] == pytest.approx(-0.6 * run.wins[1], rel=1e-12)
    # it may still win often, but only by bidding all it has, which is 0.4 plus allowances: the
    # agent's estimate exceeds the 0.4 it gets by at most the allowance handed out
    assert 0 <= run.overestimation() <= run.total_allowance


def test_the_paper_schedule_starves_late_hypotheses_of_a_bandit():
    """With 1/(n i^2), the arm-0.7 hypotheses (indices 41-60) can never bid 0.3: their allowance is too small."""
    A = Allowance(c=1, a=1, b=2)
    agent = AuctionBRIA(constant(3), Bandit([0.3, 0.5, 0.7]), allowance=A, rng=0)
    run = agent.run(3000, progressbar=False)
    harmonic = sum(1 / n for n in range(1, 3001))
    assert A.c * harmonic * 41 ** -2 < 0.3  # the richest arm-0.7 hypothesis has less than 0.3 in total
    assert run.option_shares()["arm 0.7"] == 0.0


def test_copy_best_and_constant_families_run_together_and_are_enumerated_in_order():
    agent = AuctionBRIA([copy_best([0.5]), constant(2, [0.25])], Bandit([0.2, 0.8]), rng=1, check=True)
    assert agent.names == ["copy the best @ 0.5", "always 0 @ 0.25", "always 1 @ 0.25"]
    run = agent.run(300, progressbar=False)
    assert run.n_rounds == 300 and run.wins.sum() == 300


def test_ledger_grant_conserves_the_total():
    w = np.zeros(4)
    ledger = Ledger(lambda: w)
    assert ledger.grant(np.array([0.5, 0.25, 0.125, 0.0])) == 0.875
    assert ledger.bank == -0.875 and ledger.error() == 0.0
    ledger.check()


def test_protocols_prices_and_history():
    agent = AuctionBRIA(constant(3, [0.2, 0.6]), Bandit(), rng=0)
    assert list(agent.prices()) == [0.0, 0.0, 0.0] and agent.history.empty
    agent.run(20, progressbar=False)
    prices, history = agent.prices(), agent.history
    assert list(prices.index) == list(agent.securities) and prices.between(0, 1).all()
    assert prices.max() == agent.result.estimates[-1]
    assert list(history.columns) == ["time", "trader", "security", "quantity", "price"] and len(history) == 20
    assert isinstance(agent.result.table(), pd.DataFrame) and agent.to_dict()["rounds"] == 20


# --- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("hypothesis", "message"), [
    (lambda past: (0, float("nan")), "promised nan in round 1; expected a promise in [0, 1]"),
    (lambda past: (0, 1.5), "promised 1.5"),
    (lambda past: (0, -0.1), "promised -0.1"),
    (lambda past: (5, 0.5), "recommended option 5 in round 1; expected an int in 0..2"),
    (lambda past: (0.5, 0.5), "returned (0.5, 0.5) in round 1; expected (option, promise) with an int option"),
    (lambda past: 0.5, "returned 0.5 in round 1; expected (option, promise)"),
])
def test_bad_proposals_raise_a_declaration_error_naming_the_hypothesis(hypothesis, message):
    agent = AuctionBRIA([hypothesis], Bandit(), rng=0)
    with pytest.raises(DeclarationError) as err:
        agent.step()
    assert message in str(err.value)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: AuctionBRIA([], Bandit()), "no hypotheses were given"),
    (lambda: AuctionBRIA(constant(3, []), Bandit()), "promises=[]"),
    (lambda: AuctionBRIA(constant([], [0.5]), Bandit()), "options=[]"),
    (lambda: AuctionBRIA(constant(3, [0.5, float("nan")]), Bandit()), "promise nan is not a number in [0, 1]"),
    (lambda: AuctionBRIA(constant(3, [1.2]), Bandit()), "promise 1.2 is not a number in [0, 1]"),
    (lambda: AuctionBRIA([42], Bandit()), "42 is not a hypothesis"),
    (lambda: AuctionBRIA(constant(3), "bandit"), "task='bandit'"),
    (lambda: AuctionBRIA(constant(3), Bandit(), allowance=(1, 1, 2)), "expected an Allowance"),
    (lambda: AuctionBRIA(constant(4), Bandit()), "recommended option 3"),
    (lambda: strategies(["nice"]), "strategies=['nice']"),
    (lambda: AuctionBRIA(constant(3), Bandit()).run(-1), "rounds=-1"),
])
def test_bad_declarations(make, message):
    with pytest.raises(DeepMarketsError) as err:
        make()
    assert message in str(err.value)


def test_rounds_are_decided_then_settled_with_a_reward_in_the_unit_interval():
    agent = AuctionBRIA(constant(3), Bandit(), rng=0)
    with pytest.raises(DeclarationError, match="before decide"):
        agent.settle(0.5)
    agent.decide()
    with pytest.raises(DeclarationError, match="decided but not settled"):
        agent.decide()
    with pytest.raises(DeclarationError, match=r"reward=nan in round 1; expected a number in \[0, 1\]"):
        agent.settle(float("nan"))
    agent.settle(1.0)
    assert agent.result.n_rounds == 1
