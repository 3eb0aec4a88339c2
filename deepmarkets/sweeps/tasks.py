"""Built-in sweep tasks: thin wrappers over the simulations people sweep, each returning a dict of metrics.

Every task takes keyword parameters and ``rng`` (the seed :func:`~deepmarkets.sweeps.sweep` derives
from the grid point) and returns a dict of scalars. A spec names them by their key in :data:`TASKS`.

========================  ============================================================================
``economy``               an agent economy (Hayek machine / Vickrey / CCV society) on a built-in
                          environment: success, reward, wealth Gini, and whether credit was conserved
``hypothesis_auction``    the hypothesis auction of bounded inductive rationality: average reward,
                          overestimation L_T against the allowance, and the wealth identity
``induction``             a random logical inductor: the exact check's residuals and the price range
``latent_market``         informed traders moving a latent-class market: KL to the truth, table error,
                          and whether the settled payouts telescope
``layered_market``        a layered latent market on a simulated Gaussian mixture: states kept, ARI
                          against the true clusters, held-out log score, BIC, and the ledger's balance
``coherence``             random prices checked for coherence: verdict and the largest Dutch-book profit
========================  ============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from deepmarkets.errors import DeclarationError

__all__ = ["TASKS", "economy", "hypothesis_auction", "induction", "latent_market", "layered_market", "coherence"]

#: Prefix of the economy task's parameters that belong to the environment (``env_n_blocks=3``).
ENV_PREFIX = "env_"


def economy(*, environment: str = "chain", episodes: int = 200, rng: int | None = None, **settings: Any) -> dict:
    """Run an agent economy for ``episodes`` episodes on a built-in environment.

    Parameters
    ----------
    environment : {"blocks_world", "hanoi", "bandit", "chain"}
        The environment's kind (as in ``deepmarkets economy`` specs).
    episodes : int
    rng : int, optional
    **settings
        Arguments of :class:`~deepmarkets.models.economies.Economy` (``auction``, ``gamma``,
        ``clones`` ...); the environment's own arguments carry the prefix ``env_``
        (``env_n_blocks=3``, ``env_n_states=6``, ``env_means=[0.2, 0.8]``).

    Returns
    -------
    dict
        ``success_rate`` (all episodes), ``final_success_rate``, ``final_reward`` and ``final_steps``
        (means over the last tenth), ``agents_alive``, ``wealth_gini``, ``minted`` (paid in by the
        bank: only the Vickrey rule does), ``written_off``, ``conservation_error`` (bank + wealth
        minus the opening total) and ``credit_conserved`` (that error within the ledger's rounding
        bound), ``spearman`` (prices against the optimal values).

    Examples
    --------
    >>> m = economy(environment="chain", env_n_states=4, episodes=50, auction="ccv", rng=0)
    >>> m["credit_conserved"], m["minted"]
    (True, 0.0)
    """
    from deepmarkets.models.economies.spec import economy_from_spec

    env = {k.removeprefix(ENV_PREFIX): v for k, v in settings.items() if k.startswith(ENV_PREFIX)}
    eco_settings = {k: v for k, v in settings.items() if not k.startswith(ENV_PREFIX)}
    eco, n = economy_from_spec({"episodes": episodes, "seed": rng, "environment": {"kind": environment, **env},
                                "economy": eco_settings})
    run = eco.run(n, progressbar=False)
    table = run.table()
    tail = table.tail(max(1, len(table) // 10))
    error = eco.ledger.error()
    spearman = eco.equilibrium().attrs["spearman"] if hasattr(eco.env, "optimal_values") else math.nan
    return {"success_rate": run.success_rate(), "final_steps": float(tail["steps"].mean()),
            "minted": float(eco.ledger.minted), "credit_conserved": bool(abs(error) <= eco.ledger.tolerance()),
            "wealth_gini": eco.wealth_gini(), "spearman": spearman,
            "final_success_rate": float(tail["success"].mean()), "final_reward": float(tail["reward"].mean()),
            "agents_alive": int(eco.population.n_alive), "written_off": float(eco.ledger.written_off),
            "conservation_error": float(error)}


def hypothesis_auction(*, task: str = "bandit", rounds: int = 1000,
                       hypotheses: Sequence[Mapping[str, Any]] = ({"family": "constant"},), c: float = 5.0,
                       a: float = 1.0, b: float = 1.1, rng: int | None = None, **task_settings: Any) -> dict:
    """Run a hypothesis auction (:class:`~deepmarkets.models.bria.AuctionBRIA`) for ``rounds`` rounds.

    Parameters
    ----------
    task : {"bandit", "lottery", "prisoners_dilemma"}
    rounds : int
    hypotheses : list of dict
        Hypothesis families as in ``deepmarkets bria`` specs (``{"family": "constant", "promises": [...]}``).
    c, a, b : float
        The allowance ``A(n, i) = c n^-a i^-b``.
    rng : int, optional
    **task_settings
        The task's own arguments (``means`` of a bandit, ``safe`` of a lottery, ``opponent``).

    Returns
    -------
    dict
        ``average_reward``, ``final_reward`` (the last tenth), ``overestimation`` (L_T),
        ``total_allowance`` (L_T never exceeds it), ``identity_error`` (Σ wealth − (allowance − L_T)),
        ``ledger_error``, ``hypotheses``.

    Examples
    --------
    >>> m = hypothesis_auction(means=[0.2, 0.8], rounds=500, rng=0)
    >>> m["overestimation"] <= m["total_allowance"]
    True
    """
    from deepmarkets.models.bria.spec import agent_from_spec

    agent, n = agent_from_spec({"rounds": rounds, "seed": rng, "task": {"kind": task, **task_settings},
                                "allowance": {"c": c, "a": a, "b": b}, "hypotheses": list(hypotheses)})
    run = agent.run(n, progressbar=False)
    return {"average_reward": run.average_reward(), "final_reward": run.average_reward(max(1, n // 10)),
            "overestimation": run.overestimation(), "total_allowance": float(run.total_allowance),
            "identity_error": run.identity_error(), "ledger_error": float(run.ledger_error),
            "hypotheses": len(run.names)}


def induction(*, days: int = 20, rng: int | None = None) -> dict:
    """Run a random logical inductor (:func:`~deepmarkets.logic.induction.scenarios.random_inductor`).

    The seed draws the theory, the sentences, the traders and the deductive process.

    Returns
    -------
    dict
        ``sentences``, ``traders``, ``entered`` (sentences in the deductive process by the last day),
        ``max_residual`` and ``max_residual_ratio`` (the largest residual over its tolerance: the
        market maker's exact check keeps it at most 1), ``min_price`` and ``max_price`` over every
        day, ``mean_final_price``.

    Examples
    --------
    >>> m = induction(days=3, rng=0)
    >>> m["max_residual_ratio"] <= 1 and 0 <= m["min_price"] <= m["max_price"] <= 1
    True
    """
    from deepmarkets.logic.induction.scenarios import random_inductor

    inductor, _ = random_inductor(rng, days=days)
    result = inductor.run(days, progressbar=False)
    prices = result.prices()
    return {"sentences": len(result.sentences), "traders": len(result.traders),
            "entered": len(result.entered_day()),
            "max_residual": max(float(d.residual) for d in result.days),
            "max_residual_ratio": max(float(d.residual / d.tolerance) for d in result.days),
            "min_price": float(prices.min()), "max_price": float(prices.max()),
            "mean_final_price": float(prices[-1].mean())}


def latent_market(*, classes: int = 2, observables: int = 3, levels: int = 2, traders: int = 10,
                  cases_per_trader: int = 50, rounds: int = 2, em_steps: int = 30, concentration: float = 1.0,
                  rng: int | None = None) -> dict:
    """Informed traders moving a latent-class market toward a random true state, then the book settled.

    A :class:`~deepmarkets.models.LatentMarket` with ``classes`` hidden states and ``observables``
    observables of ``levels`` levels; the truth is drawn with
    :meth:`~deepmarkets.models.LatentMarket.random_state`; the traders follow
    :meth:`~deepmarkets.models.LatentMarket.simulate_informed_traders`; the moves are settled on
    the cases the traders saw.

    Returns
    -------
    dict
        ``kl_initial`` and ``kl_final`` (KL(true || market) in nats), ``trades_to_threshold`` (NaN:
        never below 0.02 nats), ``table_error`` (up to relabelling), ``trades``, ``maker_loss``,
        ``telescoped`` and ``payouts_conserved`` (the moves' payouts sum to the telescoped log-score).

    Examples
    --------
    >>> m = latent_market(traders=3, cases_per_trader=20, rounds=1, rng=0)
    >>> m["payouts_conserved"], m["kl_final"] >= 0
    (True, True)
    """
    from deepmarkets.helpers import as_rng
    from deepmarkets.helpers.validate import whole_number
    from deepmarkets.models.latent_market import LatentMarket

    gen = as_rng(rng)
    levels = whole_number(levels, "levels", 2)
    names = {f"x{i + 1}": list(range(levels)) for i in range(whole_number(observables, "observables", 1))}
    market = LatentMarket("sweep", latent=classes, observables=names)
    truth = market.random_state(gen, concentration=concentration)
    sim = market.simulate_informed_traders(truth, traders, cases_per_trader, rounds, gen, progressbar=False,
                                           em_steps=em_steps)
    settled = market.settle(sim.cases)
    reached = sim.trades_to_threshold
    return {"kl_initial": float(sim.kl_initial), "kl_final": float(sim.kl[-1]),
            "trades_to_threshold": math.nan if reached is None else reached, "table_error": float(sim.table_error),
            "trades": sim.n_trades, "maker_loss": settled.maker_loss, "telescoped": settled.telescoped,
            "payouts_conserved": settled.conserved}


def coherence(*, n_atoms: int = 3, kind: str = "exactly_one", decimals: int = 2, rng: int | None = None) -> dict:
    """Check random prices for coherence and measure the largest guaranteed Dutch-book profit.

    Parameters
    ----------
    n_atoms : int
        Atoms ``a1 .. an``.
    kind : {"exactly_one", "conjunctions"}
        ``"exactly_one"``: prices on the atoms under the axiom that exactly one holds (coherent
        iff they sum to 1; the largest profit with stakes in [-1, 1] is then ``|sum - 1|``).
        ``"conjunctions"``: prices on the atoms and every pair's conjunction, no axioms.
    decimals : int
        Each price is drawn uniformly from [0, 1] and rounded to this many decimals.
    rng : int, optional

    Returns
    -------
    dict
        ``coherent``, ``max_profit`` (0 when coherent), ``price_sum`` (of the atoms' prices),
        ``frechet_violation`` (how far the worst conjunction's price is outside its Fréchet bounds
        ``[max(0, p_a + p_b - 1), min(p_a, p_b)]``, a necessary condition; 0 for ``exactly_one``),
        ``sentences``.

    Examples
    --------
    >>> m = coherence(n_atoms=3, rng=0)
    >>> abs(m["max_profit"] - abs(m["price_sum"] - 1)) < 1e-12
    True
    """
    from fractions import Fraction

    from deepmarkets.helpers import as_rng
    from deepmarkets.helpers.validate import whole_number
    from deepmarkets.logic import atoms, check_coherence, exactly_one

    n = whole_number(n_atoms, "n_atoms", 2)
    decimals = whole_number(decimals, "decimals", 0)
    if kind not in ("exactly_one", "conjunctions"):
        raise DeclarationError(f"kind={kind!r}; expected 'exactly_one' or 'conjunctions'")
    gen = as_rng(rng)
    xs = atoms([f"a{i + 1}" for i in range(n)])

    def draw() -> Fraction:
        return Fraction(round(float(gen.random()) * 10**decimals), 10**decimals)

    prices = {x: draw() for x in xs}
    theory, worst = [], Fraction(0)
    if kind == "exactly_one":
        theory = [exactly_one(*xs)]
    else:
        for i in range(n):
            for j in range(i + 1, n):
                p, pa, pb = draw(), prices[xs[i]], prices[xs[j]]
                prices[xs[i] & xs[j]] = p
                worst = max(worst, p - min(pa, pb), max(Fraction(0), pa + pb - 1) - p)
    report = check_coherence(prices, theory, progressbar=False)
    profit = report.max_profit
    return {"coherent": report.verdict.value == "coherent", "max_profit": float(profit or 0),
            "price_sum": float(sum(prices[x] for x in xs)), "frechet_violation": float(worst),
            "sentences": len(prices)}


def layered_market(*, clusters: int = 3, dim: int = 2, n: int = 300, separation: float = 4.0,
                   emission: str = "diag", rounds: int = 10, max_states: int = 6, rent: str | float = "bic",
                   restarts: int = 2, rng: int | None = None) -> dict:
    """A layered latent market fitted to ``n`` points from ``clusters`` equally likely Gaussians.

    The cluster means are drawn uniformly in a cube of side ``separation`` (unit covariances);
    the market starts from one Gaussian and its default traders grow and prune the states for
    ``rounds`` rounds under ``rent``.

    Returns
    -------
    dict
        ``states`` (location states kept), ``ari`` (adjusted Rand index of the market's labels
        against the true clusters), ``held_out_log_score`` (per datum, nats), ``bic``, and
        ``ledger_balance`` (the accounts and the market maker's sum, 0 up to rounding).

    Examples
    --------
    >>> m = layered_market(n=150, rounds=3, rng=0)
    >>> abs(m["ledger_balance"]) < 1e-9, -1 <= m["ari"] <= 1
    (True, True)
    """
    from deepmarkets.helpers import as_rng
    from deepmarkets.helpers.validate import whole_number
    from deepmarkets.models.layered import LayeredLatentMarket
    from deepmarkets.models.metrics import adjusted_rand_index

    k, d, size = (whole_number(v, name, 1, DeclarationError) for v, name in
                  ((clusters, "clusters"), (dim, "dim"), (n, "n")))
    gen = as_rng(rng)
    means = gen.uniform(0.0, float(separation), size=(k, d))
    truth = gen.integers(0, k, size=size)
    x = means[truth] + gen.standard_normal((size, d))
    market = LayeredLatentMarket(x, emission=emission, max_states=max_states, rent=rent, restarts=restarts, rng=gen)
    market.run(whole_number(rounds, "rounds", 1, DeclarationError), progressbar=False)
    labels = next(iter(market.labels().values()))
    return {"states": int(market.state.n_states), "ari": float(adjusted_rand_index(truth, labels)),
            "held_out_log_score": float(market.held_out_log_score), "bic": market.bic(),
            "ledger_balance": float(market.balances().sum())}


#: The built-in tasks by the name a spec gives them.
TASKS = {"economy": economy, "hypothesis_auction": hypothesis_auction, "induction": induction,
         "latent_market": latent_market, "layered_market": layered_market, "coherence": coherence}
