"""The compiled round loop plays the same rounds as the Python path, bit for bit, over random auctions;
numpy's pairwise sum reproduced exactly; check=True still checks every round; which auctions compile."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmarkets.errors import DeclarationError
from deepmarkets.models.bria import (
    Allowance,
    AuctionBRIA,
    Bandit,
    Lottery,
    PrisonersDilemma,
    RepeatedGame,
    callables,
    constant,
    copy_best,
    strategies,
)
from deepmarkets.models.bria.hypotheses import STRATEGIES, Constant
from deepmarkets.models.bria.kernel import pairwise_sum
from deepmarkets.models.economies.auction import Sale

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _state(agent: AuctionBRIA) -> dict:
    """Everything a run leaves behind, as exact values."""
    run = agent.result
    out = {name: getattr(run, name).tolist() for name in (
        "choices", "rewards", "estimates", "winners", "observations", "wealth", "allowance_received", "records",
        "wins", "rejections", "last_rejection", "snapshot_rounds", "snapshot_wealth")}
    out["rejected"] = None if run.rejected is None else [a.tolist() for a in run.rejected]
    out["scalars"] = (run.total_allowance, agent.overestimation, agent.ledger.bank, agent.ledger.rounding,
                      agent.ledger.error(), agent.past.round, agent.past.counts.tolist(), agent.past.totals.tolist())
    out["last auction"] = (agent._bids.tolist(), agent.options.tolist(), agent.promises.tolist())
    return out


@st.composite
def auctions(draw):
    """A random auction the compiled loop plays: constant, copy-the-best and strategy families on a bandit,
    the lottery or a repeated game against a strategy."""
    kind = draw(st.sampled_from(["bandit", "lottery", "game"]))
    m = draw(st.integers(1, 5)) if kind == "bandit" else 2
    families = []
    for _ in range(draw(st.integers(1, 3))):
        family = draw(st.sampled_from(["constant", "copy_best", "strategies"] if m == 2 else ["constant", "copy_best"]))
        if family == "constant":
            size = draw(st.integers(1, 40))
            options = np.array(draw(st.lists(st.integers(0, m - 1), min_size=size, max_size=size)), dtype=np.int64)
            # coarse promises make ties, which the tie-breaking generator settles
            promises = np.array(draw(st.lists(st.integers(0, 20), min_size=size, max_size=size))) / 20
            families.append(Constant(options, promises))
        elif family == "copy_best":
            families.append(copy_best(np.array(draw(st.lists(st.integers(0, 20), min_size=1, max_size=6))) / 20))
        else:
            names = draw(st.lists(st.sampled_from(list(STRATEGIES)), min_size=1, max_size=5))
            families.append(strategies(names, np.array(draw(st.lists(st.integers(0, 20), min_size=1, max_size=4)))
                                       / 20))
    if kind == "bandit":
        task = Bandit(np.array(draw(st.lists(st.integers(0, 10), min_size=m, max_size=m))) / 10)
    elif kind == "lottery":
        task = Lottery(draw(st.sampled_from([0.0, 0.4, 0.55])))
    else:
        payoffs = np.array(draw(st.lists(st.integers(0, 5), min_size=4, max_size=4))).reshape(2, 2) / 5
        opponent = draw(st.sampled_from(list(STRATEGIES)))
        if draw(st.booleans()):
            task = lambda: RepeatedGame(payoffs, ("c", "d"), opponent)  # noqa: E731  (a fresh game per agent)
        else:
            task = lambda: PrisonersDilemma(opponent)  # noqa: E731
    allowance = Allowance(draw(st.sampled_from([0.05, 1.0, 5.0, 20.0])), draw(st.sampled_from([0.3, 0.7, 1.0])),
                          draw(st.sampled_from([1.05, 1.1, 2.0])))
    return families, task, allowance


@PROPERTY
@given(auctions(), st.integers(0, 2**32 - 1), st.lists(st.integers(0, 300), min_size=1, max_size=3),
       st.sampled_from([0, 1, 7, 200]), st.booleans())
def test_compiled_rounds_equal_the_python_rounds_bit_for_bit(auction, seed, runs, snapshots, check):
    """Choices, winners, estimates, rewards, wealth, records, rejections, snapshots and the ledger's floats."""
    families, task, allowance = auction
    agents = [AuctionBRIA(families, task() if callable(task) else task, allowance=allowance, rng=seed, check=check,
                          engine=engine) for engine in ("python", "compiled")]  # a game keeps the opponent's view
    for n in runs:
        for agent in agents:
            agent.run(n, progressbar=False, snapshots=snapshots)
    python, compiled = (_state(a) for a in agents)
    for key in python:
        assert python[key] == compiled[key], key
    their = [getattr(a.task, "_their", None) for a in agents]
    if their[0] is not None:  # the opponent saw the same rounds
        assert [(h.choices, h.rewards, h.observations, h.round, h.counts.tolist(), h.totals.tolist(),
                 h.seen.tolist()) for h in their] == [(their[1].choices, their[1].rewards, their[1].observations,
                                                       their[1].round, their[1].counts.tolist(),
                                                       their[1].totals.tolist(), their[1].seen.tolist())] * 2


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64])
def test_any_numpy_bit_generator_gives_the_same_rounds(bit_generator):
    """The compiled loop draws rewards and breaks ties through the generator's own bit generator."""
    agents = [AuctionBRIA(constant(3, [0.1, 0.2, 0.3, 0.5]), Bandit([0.3, 0.5, 0.7]),
                          rng=np.random.Generator(bit_generator(5)), engine=e) for e in ("python", "compiled")]
    for agent in agents:
        agent.run(3000, progressbar=False)
    assert _state(agents[0]) == _state(agents[1])


def test_compiled_rounds_go_on_from_python_rounds():
    """Rounds played by decide()/settle() and then by run() equal rounds played by run() alone."""
    agents = [AuctionBRIA(constant(3, order="promise"), Bandit([0.3, 0.5, 0.7]), rng=4, engine=e)
              for e in ("python", "compiled")]
    for agent in agents:
        for _ in range(25):
            agent.step()
        agent.run(500, progressbar=False)
    assert _state(agents[0]) == _state(agents[1])


@pytest.mark.parametrize("n", [*range(0, 270), 1000, 8191, 8192, 8193, 10_000, 123_457])
def test_pairwise_sum_is_numpys_sum(n):
    gen = np.random.default_rng(n)
    a = gen.random(n) * 10.0 ** gen.integers(-8, 8, n)  # magnitudes apart: every rounding shows
    assert pairwise_sum(a) == float(a.sum())


def test_check_mode_checks_every_compiled_round():
    agent = AuctionBRIA(constant(3), Bandit([0.3, 0.5, 0.7]), rng=0, check=True, engine="compiled")
    agent.run(50, progressbar=False)
    agent.wealth[0] += 0.5  # money from nowhere: the next round's check must see it
    with pytest.raises(AssertionError, match="ledger's total changed"):
        agent.run(1, progressbar=False)


def test_a_game_against_a_strategy_compiled_equals_python():
    agents = [AuctionBRIA(strategies(), PrisonersDilemma("tit_for_tat"), rng=3, engine=e)
              for e in ("python", "compiled")]
    for agent in agents:
        agent.run(3000, progressbar=False)
    assert _state(agents[0]) == _state(agents[1])
    assert agents[0].task._their.choices == agents[1].task._their.choices


@pytest.mark.parametrize("hypotheses, task", [
    (strategies(), PrisonersDilemma(None)),  # the opponent is another agent: play(first, second, rounds)
    (callables([lambda past: (0, 0.5)]), Bandit([0.5])),
    (strategies(["cooperate"]), Bandit([0.5])),  # strategies play games of two options
    (strategies(["pavlov"]), Bandit([0.2, 0.5, 0.8])),
])
def test_engine_compiled_refuses_what_it_cannot_play(hypotheses, task):
    with pytest.raises(DeclarationError, match="engine='compiled' plays constant"):
        AuctionBRIA(hypotheses, task, engine="compiled")
    assert not AuctionBRIA(hypotheses, task)._compiles  # auto falls back to Python


def test_an_auction_breaking_ties_otherwise_plays_in_python():
    class ByWealth(AuctionBRIA):
        def _auction(self, bids):
            top = float(bids.max())
            tied = np.flatnonzero(bids == top)
            return Sale(int(tied[np.argmax(self.wealth[tied])]), top, top)

    agent = ByWealth(constant(3, [0.2]), Bandit([0.3, 0.5, 0.7]), rng=0)
    assert not agent._compiles
    run = agent.run(30, progressbar=False)
    # every promise is 0.2: from the first round all bid 0.2 and the richest (the first, largest allowance) wins
    assert set(run.winners[run.estimates == 0.2].tolist()) == {0}
    with pytest.raises(DeclarationError, match="ties broken at random"):
        ByWealth(constant(3), Bandit([0.3, 0.5, 0.7]), engine="compiled")


def test_bad_engine():
    with pytest.raises(DeclarationError, match="engine='numba'; expected one of 'auto', 'compiled', 'python'"):
        AuctionBRIA(constant(2), Bandit([0.5, 0.5]), engine="numba")
