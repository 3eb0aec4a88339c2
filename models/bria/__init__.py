"""Bounded inductive rationality: a decision-maker that is an auction of hypotheses.

Oesterheld, Demski & Conitzer (TARK 2023): every hypothesis bids for the right to decide,
promising a reward; the agent follows the highest bidder; the winner pays its bid and is
credited the reward it actually gets; every hypothesis receives an allowance A(n, i) each round.
Overpromisers go broke and the agent ends up following the hypotheses that keep their promises.

:mod:`~deepmarkets.models.bria.allowance`
    Schedules A(n, i) = c n^-a i^-b, checked against the paper's three requirements.
:mod:`~deepmarkets.models.bria.hypotheses`
    The hypothesis protocol and vectorised families (constant, copy the best, game strategies).
:mod:`~deepmarkets.models.bria.sentences`
    Hypotheses that bet on sentences decided by z3, with promises that are logical-induction features.
:mod:`~deepmarkets.models.bria.agent`
    The auction (:class:`AuctionBRIA`) on the ledger of the agent economies.
:mod:`~deepmarkets.models.bria.tasks`
    A bandit, a pseudo-random SHA-256 lottery, repeated games (the prisoner's dilemma).
:mod:`~deepmarkets.models.bria.baselines`
    Epsilon-greedy, UCB1 and Thompson sampling on the same tasks.
:mod:`~deepmarkets.models.bria.results`, :mod:`~deepmarkets.models.bria.plots`, :mod:`~deepmarkets.models.bria.spec`
    The run's record, its plots, and agents declared in TOML (``deepmarkets bria SPEC.toml``).
"""

from deepmarkets.helpers import export_lazily

__all__ = export_lazily(__name__, {
    "allowance": ["Allowance"],
    "hypotheses": ["History", "Hypothesis", "Family", "STRATEGIES", "constant", "copy_best", "strategies",
                   "callables", "promise_grid"],
    "agent": ["AuctionBRIA", "Round"],
    "results": ["BRIARun"],
    "baselines": ["BanditRun", "epsilon_greedy", "ucb1", "thompson"],
    "sentences": ["SentenceBets", "decided", "feature_promises"],
    "tasks": ["Bandit", "Lottery", "RepeatedGame", "PrisonersDilemma", "play", "sha256_bit"],
})
