"""Agents declared in TOML are the agents built in Python: the same hypotheses, schedule and rounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepmarkets.models.bria import Allowance, AuctionBRIA, Bandit, PrisonersDilemma, constant, copy_best, strategies
from deepmarkets.models.bria.spec import agent_from_spec, read_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bria.toml"


def test_example_spec_is_the_python_agent():
    agent, rounds = read_spec(EXAMPLE)
    same = AuctionBRIA([constant(3, labels=Bandit().options, order="promise"), copy_best([0.5, 0.6, 0.65])], Bandit(),
                       allowance=Allowance(5, 1, 1.1), rng=0)
    assert rounds == 20000 and agent.names == same.names and agent.allowance == same.allowance
    a, b = agent.run(300, progressbar=False), same.run(300, progressbar=False)
    np.testing.assert_array_equal(a.choices, b.choices)
    np.testing.assert_array_equal(a.wealth, b.wealth)


def test_games_and_strategy_families():
    agent, rounds = agent_from_spec({
        "rounds": 50, "seed": 3, "task": {"kind": "prisoners_dilemma", "opponent": "tit_for_tat"},
        "allowance": {"c": 1, "a": 1, "b": 2}, "agent": {"check": True},
        "hypotheses": [{"family": "strategies", "names": ["grim", "defect"], "promises": {"low": 0.2, "high": 0.6,
                                                                                        "step": 0.2}}]})
    assert agent.names == ["grim @ 0.2", "grim @ 0.4", "grim @ 0.6", "defect @ 0.2", "defect @ 0.4", "defect @ 0.6"]
    assert agent.check and agent.task.opponent == "tit_for_tat"
    same = AuctionBRIA(strategies(["grim", "defect"], [0.2, 0.4, 0.6]), PrisonersDilemma("tit_for_tat"),
                       allowance=Allowance(1, 1, 2), rng=3)
    np.testing.assert_array_equal(agent.run(rounds, progressbar=False).choices,
                                  same.run(rounds, progressbar=False).choices)
