"""Agent economies: dumb agents that auction control of the world.

Baum's Hayek machine and the Vickrey and credit-conserving Vickrey (CCV) societies of Chang et
al.: at each step one agent owns the world; it acts, collects the reward, and the world is
auctioned to the next owner, who pays the previous one. Every agent knows one condition and one
action; what the economy does beyond that is made by the chain of owners.

:mod:`~deepmarkets.models.economies.envs`
    Environments with the Gymnasium API (Blocks World, Tower of Hanoi, bandits, chains) and
    their exact optimal values.
:mod:`~deepmarkets.models.economies.agents`
    The population as numpy arrays (one entry per agent).
:mod:`~deepmarkets.models.economies.auction`
    Auction rules (first-price, Vickrey, CCV) and the ledger whose total never changes: the core
    the hypothesis auction shares.
:mod:`~deepmarkets.models.economies.economy`
    The economy: auctions, payments, bids, population dynamics, results.
:mod:`~deepmarkets.models.economies.engine`, :mod:`~deepmarkets.models.economies.kernel`
    The compiled engine (numba) that plays state economies on tabular environments: the same
    episodes as the Python engine, from the same seed.
:mod:`~deepmarkets.models.economies.baselines`
    Random, greedy and tabular Q-learning policies on the same environments.
:mod:`~deepmarkets.models.economies.spec`, :mod:`~deepmarkets.models.economies.plots`
    Economies declared in TOML (``deepmarkets economy SPEC.toml``); plots of a run.
"""

from deepmarkets.helpers import export_lazily

__all__ = export_lazily(__name__, {
    "envs": ["BlocksWorld", "TowerOfHanoi", "Bandit", "Chain", "Discrete", "DiscreteEnv", "as_discrete_env"],
    "baselines": ["random_policy", "greedy_policy", "QLearning", "QLearningRun", "evaluate", "Evaluation"],
    "agents": ["Population"],
    "auction": ["AUCTIONS", "Ledger", "clear"],
    "economy": ["Economy", "EconomyRun", "EpisodeRecord", "BID_RULES", "ENGINES", "agent", "gini"],
    "engine": ["TABLE_LIMIT", "tabular"],
    "spec": ["ENVIRONMENTS", "read_spec", "economy_from_spec"],
    "plots": ["plot_learning", "plot_prices", "plot_chain_depth", "plot_population", "plot_economy"],
})
