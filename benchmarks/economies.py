#!/usr/bin/env python
"""Benchmarks of agent economies (``deepmarkets.models.economies``) against baselines on the same instances.

Every economy below is trained for a number of episodes and then evaluated greedily: exploration
is switched off (``eco.explore = 0``) and it runs ``--eval`` more episodes, whose success rate and
steps over the shortest solution (from each episode's start) are reported. Spearman is the rank
correlation of the market price and V* over every state the economy has seen
(``Economy.equilibrium``).

Part A, invariants: random economies (a random environment among a bandit, a chain and Blocks
World n = 3; random auction, bids, clones, gamma, learning rate, exploration, tax, death and
birth wealth) run with ``check=True``, which checks after every step that the ledger's total
(bank plus every agent's wealth) is unchanged to 1e-9 and that nobody holds less than zero. A
failed check is a DISAGREE (exit status 1). Vickrey economies are run the same way and report
the money the bank paid in (minted): the Vickrey rule does not conserve the agents' money.

Part B, exact prices: a 4-armed bandit (fixed payments 0.2 .. 0.8), CCV with 2 clones, 2,000
episodes: the highest bid on each arm against its payment. A 6-state chain (gamma 0.99), CCV,
3,000 episodes: the price in each non-terminal state against V*.

Part C, Blocks World n = 3, CCV with 2 clones, gamma 0.9, 20,000 episodes per seed; the
ablation: profit-seeking bidders (b += eta (income - price)) with 1 agent per state and action or
2 clones, and valuation bidders alone, under Vickrey and CCV (an economy whose money diverges
counts the episodes it could not play as failures); baselines on the same
instance: a random policy, a greedy one-step lookahead on the number of correct blocks, and
tabular Q-learning (alpha 0.5, gamma 0.9, epsilon 0.5) with the same episode budget.

Part D, Baum's Hayek economy on Blocks World n = 3: first-price auction, adaptive bids, tax,
births and deaths; success, Spearman, mean profit per win over the goal reward R (a competitive
equilibrium pays the seller of the world what it is worth: profit near zero), judged over the
greedy evaluation, where every winner outbid the others (in training, explorers forced to buy
the world at the market's price lose what their worse move is worth), births, deaths.

Part E, Blocks World n = 5 (2,520 states), CCV as in part C, against greedy and random.

Part F, Tower of Hanoi n = 4, CCV, gamma 0.9: success and mean solution length over 15 moves.

Part G, speed: the economy against a straightforward implementation of the same economy written
here (:class:`LoopEconomy`: a Python object per agent, a Python loop over every agent to find
the bidders of the current state and another over the bidders for the highest bid). It follows
the same rules and draws the same random numbers in the same order, so both runs are the same
run: their per-episode success and steps must be identical (else DISAGREE, exit status 1). The
loop runs episodes until ``--loop-limit`` seconds are spent; each engine of the economy (compiled,
compiled with the Gini of every episode, Python) then runs exactly those episodes from the same
seed, and the ratio is loop seconds over economy seconds.

Part H, pattern agents: the rules of ``BlocksWorld.pattern_strategy()`` declared as five agents at
4 to 16 blocks; then the largest number of blocks that a pattern economy learning from
entrepreneurs (random patterns of 1-3 features, bidding 0 until tried) solves at greedy success
>= 0.9 within ``--pattern-budget`` seconds, next to tabular Q-learning's.

Exit status 1 on a DISAGREE (an invariant that failed, or the loop economy not reproducing the
economy); PASS/MISS against the targets does not change it.

    python benchmarks/economies.py              # full run (about 8 minutes on 2 cores)
    python benchmarks/economies.py --smoke      # well under a minute
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from harness import finish, fmt_s, header, log, machine_info, settings, table  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.errors import EconomyError
from deepmarkets.helpers import as_rng
from deepmarkets.models.economies.baselines import QLearning, evaluate, greedy_policy, random_policy
from deepmarkets.models.economies.economy import Economy
from deepmarkets.models.economies.envs import Bandit, BlocksWorld, Chain, TowerOfHanoi

DISAGREE = "DISAGREE"
#: Part A: the conservation tolerance (relative to the money in play, as Ledger.check)
CONSERVATION_TOL = 1e-9
#: Part B: bids and prices against rewards and V*
EXACT_TOL = 1e-3
#: Part G: speed target (loop seconds / economy seconds)
SPEEDUP_TARGET = 20.0
#: The CCV economy of parts C, E and G
CCV = {"auction": "ccv", "clones": 2, "gamma": 0.9}
#: The ablation judged in part C: profit-seeking bidders, one clone, Vickrey's rule
SOLITARY = ("profit", 1, "vickrey")
#: Baum's Hayek economy of part D
HAYEK = {"auction": "first", "clones": 2, "gamma": 0.9, "initial_bid": 0.5, "tax": 1e-5, "birth_wealth": 10.3,
         "death_wealth": 5.0}


# ---------------------------------------------------------------------------
# targets and cells
# ---------------------------------------------------------------------------
def judge(value: float, op: str, target: float, smoke: bool) -> str:
    """PASS or MISS of ``value op target`` (``-`` for no value, ``smoke`` when not judged)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if smoke:
        return "smoke"
    ok = {">=": value >= target, "<=": value <= target, ">": value > target, "<": value < target}[op]
    return "PASS" if ok else "MISS"


def cell(value: float | None, op: str | None = None, target: float | None = None, *, smoke: bool = False,
         digits: int = 3) -> tuple[str, str]:
    """The text of a measured number with its target and verdict, and the verdict alone."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-", "-"
    text = f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.1e}"
    if op is None:
        return text, "-"
    verdict = judge(value, op, target, smoke)
    return f"{text} ({op}{target:g} {verdict})", verdict


# ---------------------------------------------------------------------------
# training and greedy evaluation
# ---------------------------------------------------------------------------
def train_and_evaluate(env, episodes: int, eval_episodes: int, seed: int, **settings) -> dict:
    """Train an economy, then run it greedily; success, steps over optimal, Spearman and the run's facts."""
    eco = Economy(env, rng=seed, keep_history=False, **settings)
    t0 = time.perf_counter()
    try:
        eco.run(episodes, progressbar=False)
    except EconomyError:  # its money diverged: judged on the episodes it played
        return diverged(eco, episodes, seed, time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    trained = eco.result.table()
    profits = eco.profits()
    pop = eco.population
    before = (len(pop), pop.income.copy() - pop.paid.copy(), pop.age.copy())
    eco.explore = 0.0
    eco.run(eval_episodes, progressbar=False)
    greedy = greedy_profits(eco, *before)
    ev = eco.result.table().iloc[episodes:]
    keys = {str(k): k for k in env.states()}
    done = ev[ev["success"]]
    ratios = [s / env.optimal_steps(keys[start]) for start, s in zip(done["start"], done["steps"], strict=True)]
    eq = eco.equilibrium()
    return {"episodes": episodes, "seed": seed, "seconds": seconds, "episodes_per_s": episodes / seconds,
            "train_success": float(trained["success"].tail(1000).mean()), "success": float(ev["success"].mean()),
            "mean_solution_steps": float(done["steps"].mean()) if len(done) else math.nan,
            "steps_over_optimal": float(np.mean(ratios)) if ratios else math.nan,
            "spearman": eq.attrs["spearman"], "states_priced": len(eq),
            "price_error": float(eq["error"].abs().mean()) if len(eq) else math.nan,
            "births": int(trained["births"].sum()), "deaths": int(trained["deaths"].sum()),
            "alive": int(trained["alive"].iloc[-1]),
            "mean_profit_per_win": float(profits["profit_per_win"].mean()) if len(profits) else math.nan,
            "profit_per_win_overall": (float((profits["income"] - profits["paid"]).sum() / profits["wins"].sum())
                                       if len(profits) else math.nan),
            "greedy_profit_per_win": greedy[0], "greedy_profit_per_win_overall": greedy[1],
            "goal_reward": float(env.goal_reward)}


def greedy_profits(eco: Economy, n: int, profit_before: np.ndarray, wins_before: np.ndarray) -> tuple[float, float]:
    """Profit per win since a snapshot: the mean over agents that won since, and over all those wins."""
    pop = eco.population
    profit = pop.income - pop.paid
    profit[:n] -= profit_before
    wins = pop.age.copy()
    wins[:n] -= wins_before
    won = wins > 0
    if not won.any():
        return math.nan, math.nan
    return float(np.mean(profit[won] / wins[won])), float(profit[won].sum() / wins[won].sum())


def diverged(eco: Economy, episodes: int, seed: int, seconds: float) -> dict:
    """The facts of an economy whose money diverged: it cannot play on, so the episodes of the budget it did
    not play count as failures (``success``); ``success_played`` is over the episodes it played."""
    played = eco.result.table()
    return {"episodes": episodes, "seed": seed, "seconds": seconds, "episodes_per_s": len(played) / seconds,
            "diverged_at": len(played), "train_success": float(played["success"].mean()),
            "success_played": float(played["success"].mean()),
            "success": float(played["success"].sum()) / episodes, "mean_solution_steps": math.nan,
            "steps_over_optimal": math.nan, "spearman": math.nan, "states_priced": 0, "price_error": math.nan,
            "births": int(played["births"].sum()), "deaths": int(played["deaths"].sum()),
            "alive": int(played["alive"].iloc[-1]), "mean_profit_per_win": math.nan,
            "profit_per_win_overall": math.nan, "greedy_profit_per_win": math.nan,
            "greedy_profit_per_win_overall": math.nan, "goal_reward": float(eco.env.goal_reward)}


def baseline(name: str, env_factory, episodes: int, eval_episodes: int, seed: int) -> dict:
    """Random, greedy, or Q-learning trained on ``episodes`` episodes, each evaluated on ``eval_episodes``."""
    env = env_factory()
    t0 = time.perf_counter()
    if name == "Q-learning":
        learner = QLearning(env, alpha=0.5, gamma=0.9, epsilon=0.5, rng=seed)
        learner.run(episodes, progressbar=False)
        policy = learner
    else:
        policy = {"random": random_policy, "greedy": greedy_policy}[name]
    train_s = time.perf_counter() - t0
    ev = evaluate(policy, env_factory(), eval_episodes, rng=seed + 10_000)
    return {"method": name, "seed": seed, "episodes": episodes if name == "Q-learning" else 0,
            "seconds": train_s if name == "Q-learning" else None, "success": ev.success_rate,
            "steps_over_optimal": ev.steps_over_optimal}


# ---------------------------------------------------------------------------
# part A: invariants over random economies
# ---------------------------------------------------------------------------
def random_economy(seed: int, auction: str) -> tuple[Economy, str]:
    """A random environment and random settings (every parameter drawn from ``seed``), checked at every step."""
    gen = np.random.default_rng(seed)
    kind = ["bandit", "chain", "blocks3"][int(gen.integers(3))]
    if kind == "bandit":
        k = int(gen.integers(2, 6))
        env = Bandit(gen.uniform(0, 1, k).round(3).tolist(), bernoulli=bool(gen.integers(2)))
        label = f"Bandit({k})"
    elif kind == "chain":
        n = int(gen.integers(3, 8))
        env = Chain(n, gamma=float(gen.uniform(0.8, 0.99)))
        label = f"Chain({n})"
    else:
        env = BlocksWorld(3)
        label = "BlocksWorld(3)"
    death = float(gen.choice([0.0, gen.uniform(0.0, 2.0)]))
    settings = {
        "auction": auction, "bids": str(gen.choice(["adaptive", "fixed"])), "clones": int(gen.integers(1, 4)),
        "gamma": float(gen.uniform(0.5, 1.0)), "learning_rate": float(gen.uniform(0.05, 0.5)),
        "explore": float(gen.uniform(0.0, 0.3)), "initial_bid": float(gen.uniform(0.1, 1.5)),
        "entry_wealth": float(gen.uniform(0.5, 10.0)), "tax": float(gen.choice([0.0, gen.uniform(0.0, 1e-2)])),
        "death_wealth": death, "birth_wealth": float(gen.choice([math.inf, death + gen.uniform(0.5, 12.0)])),
        "mutation": float(gen.uniform(0.0, 0.3)), "max_agents": int(gen.integers(20, 2000)),
    }
    label += ", " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in settings.items() if k != "auction")
    return Economy(env, check=True, rng=seed, keep_history=False, **settings), label


def part_a(count: int, episodes: int, vickrey_count: int, quiet: bool) -> tuple[list[dict], list[dict], bool]:
    runs = []
    bad = False
    plan = [(seed, auction) for seed in range(count) for auction in ("first", "ccv")[seed % 2:seed % 2 + 1]]
    plan += [(1000 + seed, "vickrey") for seed in range(vickrey_count)]
    for seed, auction in plan:
        log(f"part A economy {seed} ({auction})", quiet)
        eco, label = random_economy(seed, auction)
        error, failure = None, None
        try:
            eco.run(episodes, progressbar=False)
        except AssertionError as err:
            failure = str(err)
        t = eco.result.table() if eco.result.episodes else None
        scale = max(1.0, abs(eco.ledger.bank) + float(np.abs(eco.population.wealth).sum()))
        error = abs(eco.ledger.error()) / scale
        worst = float(t["conservation_error"].abs().max()) / scale if t is not None else math.nan
        ok = failure is None and max(error, worst) <= CONSERVATION_TOL
        bad |= not ok
        runs.append({"seed": seed, "auction": auction, "economy": label, "episodes": len(eco.result.episodes),
                     "steps": int(t["steps"].sum()) if t is not None else 0,
                     "max_relative_error": max(error, worst), "failure": failure, "ok": ok,
                     "births": int(t["births"].sum()) if t is not None else 0,
                     "deaths": int(t["deaths"].sum()) if t is not None else 0,
                     "written_off": eco.ledger.written_off, "minted": eco.ledger.minted})
    rows = []
    for auction in ("first", "ccv", "vickrey"):
        mine = [r for r in runs if r["auction"] == auction]
        if not mine:
            continue
        rows.append({"auction": auction, "economies": len(mine), "steps_checked": sum(r["steps"] for r in mine),
                     "max_relative_error": max(r["max_relative_error"] for r in mine),
                     "births": sum(r["births"] for r in mine), "deaths": sum(r["deaths"] for r in mine),
                     "written_off": sum(r["written_off"] for r in mine), "minted": sum(r["minted"] for r in mine),
                     "failed": sum(not r["ok"] for r in mine)})
    return runs, rows, bad


def print_part_a(rows: list[dict], runs: list[dict], episodes: int) -> None:
    print(f"Part A: invariants, random economies checked after every step (check=True), {episodes} episodes each")
    body = []
    for r in rows:
        minted = f"{r['minted']:.4g}" if r["auction"] == "vickrey" else "-"
        verdict = "PASS" if r["failed"] == 0 else DISAGREE
        body.append([r["auction"], str(r["economies"]), str(r["steps_checked"]), f"{r['max_relative_error']:.1e}",
                     f"<= {CONSERVATION_TOL:g}", verdict, str(r["births"]), str(r["deaths"]),
                     f"{r['written_off']:.4g}", minted])
    print(table(["auction", "economies", "steps checked", "max |error|/money", "target", "result", "births",
                 "deaths", "written off", "minted by bank"], body, right={1, 2, 3, 6, 7, 8, 9}))
    print("  (error: bank + sum of wealth minus its opening total, relative to the money in play; the Vickrey rule's"
          " excess is paid in by the bank and logged as minted, so the ledger balances while the agents' money grows)")
    for r in runs:
        if not r["ok"]:
            print(f"  {DISAGREE} seed {r['seed']} {r['auction']}: {r['failure'] or 'error too large'}; {r['economy']}")
    print()


# ---------------------------------------------------------------------------
# part B: bids and prices that must be exact
# ---------------------------------------------------------------------------
def part_b(bandit_episodes: int, chain_episodes: int, seed: int, smoke: bool) -> list[dict]:
    means = [0.2, 0.4, 0.6, 0.8]
    env = Bandit(means, bernoulli=False)
    eco = Economy(env, auction="ccv", clones=2, explore=0.2, learning_rate=0.2, rng=seed, keep_history=False)
    t0 = time.perf_counter()
    eco.run(bandit_episodes, progressbar=False)
    secs = time.perf_counter() - t0
    bids = eco.bids_in(env.reset(seed=0)[0])
    bandit_err = float(np.max(np.abs(bids - np.asarray(means) * env.goal_reward)))
    rows = [{"case": "Bandit(0.2, 0.4, 0.6, 0.8), CCV, 2 clones", "episodes": bandit_episodes, "seconds": secs,
             "measure": "max |bid - reward|", "value": bandit_err, "bids": bids.tolist(),
             "result": judge(bandit_err, "<=", EXACT_TOL, smoke)}]
    chain = Chain(6, gamma=0.99)
    eco = Economy(chain, auction="ccv", clones=2, gamma=0.99, explore=0.1, learning_rate=0.2, rng=seed,
                  keep_history=False)
    t0 = time.perf_counter()
    eco.run(chain_episodes, progressbar=False)
    secs = time.perf_counter() - t0
    values = chain.optimal_values(0.99)
    live = [s for s in chain.states() if chain.optimal_steps(s) > 0]
    prices = {s: eco.price(s) for s in live}
    chain_err = float(np.max(np.abs([prices[s] - values[s] for s in live])))
    rows.append({"case": "Chain(6, gamma 0.99), CCV, 2 clones", "episodes": chain_episodes, "seconds": secs,
                 "measure": "max |price - V*|", "value": chain_err,
                 "prices": {str(s): prices[s] for s in live}, "values": {str(s): values[s] for s in live},
                 "result": judge(chain_err, "<=", EXACT_TOL, smoke)})
    return rows


def print_part_b(rows: list[dict]) -> None:
    print("Part B: exact prices (bandit bids against the arm payments, chain prices against V*)")
    body = [[r["case"], str(r["episodes"]), fmt_s(r["seconds"]), r["measure"], cell(r["value"], digits=5)[0],
             f"<= {EXACT_TOL:g}", r["result"]] for r in rows]
    print(table(["case", "episodes", "seconds", "measure", "value", "target", "result"], body, right={1, 2, 4}))
    print()


# ---------------------------------------------------------------------------
# parts C-F: learning
# ---------------------------------------------------------------------------
def economy_row(case: str, rec: dict, targets: dict, smoke: bool) -> list[str]:
    """A table row of an economy: success, steps/optimal and Spearman, each with its target and verdict."""
    cells = {}
    for name in ("success", "steps_over_optimal", "spearman"):
        op, target = targets.get(name, (None, None))
        cells[name] = cell(rec[name], op, target, smoke=smoke)[0]
    episodes = (str(rec["episodes"]) if "diverged_at" not in rec
                else f"{rec['diverged_at']} (diverged; {rec['success_played']:.2f} solved)")
    return [case, str(rec["seed"]), episodes, fmt_s(rec["seconds"]), f"{rec['episodes_per_s']:.0f}",
            cells["success"], cells["steps_over_optimal"], cells["spearman"], cell(rec["price_error"])[0]]


def baseline_row(rec: dict, targets: dict, smoke: bool) -> list[str]:
    op, target = targets.get("success", (None, None))
    return [rec["method"], str(rec["seed"]), str(rec["episodes"]) if rec["episodes"] else "-", fmt_s(rec["seconds"]),
            "-", cell(rec["success"], op, target, smoke=smoke)[0], cell(rec["steps_over_optimal"])[0], "-", "-"]


LEARNING_HEADERS = ["method", "seed", "episodes", "train s", "episodes/s", "success", "steps/optimal",
                    "Spearman(price, V*)", "mean |price - V*|"]


def part_c(episodes: int, seeds: list[int], ablation_seeds: list[int], eval_episodes: int, smoke: bool,
           quiet: bool) -> dict:
    env = lambda: BlocksWorld(3)  # noqa: E731
    targets = {"success": (">=", 0.99), "steps_over_optimal": ("<=", 1.10), "spearman": (">=", 0.90)}
    ccv = []
    for seed in seeds:
        log(f"part C CCV seed {seed}", quiet)
        ccv.append(train_and_evaluate(env(), episodes, eval_episodes, seed, **CCV))
    solitary = []  # profit-seeking bidders with and without a clone to compete with, then valuation bidders alone
    for bids, clones, auction in [("profit", 1, "vickrey"), ("profit", 2, "vickrey"), ("profit", 1, "ccv"),
                                  ("profit", 2, "ccv"), ("adaptive", 1, "vickrey"), ("adaptive", 1, "ccv")]:
        for seed in ablation_seeds:
            log(f"part C {bids} bids, {clones} clones, {auction}, seed {seed}", quiet)
            rec = train_and_evaluate(env(), episodes, eval_episodes, seed, auction=auction, clones=clones, gamma=0.9,
                                     bids=bids)
            rec.update(auction=auction, bids=bids, clones=clones)
            solitary.append(rec)
    base = []
    for name in ("random", "greedy", "Q-learning"):
        for seed in seeds if name == "Q-learning" else seeds[:1]:
            log(f"part C {name} seed {seed}", quiet)
            base.append(baseline(name, env, episodes, eval_episodes, seed))
    return {"ccv": ccv, "solitary": solitary, "baselines": base, "targets": targets}


def print_part_c(res: dict, eval_episodes: int, smoke: bool) -> None:
    print(f"Part C: Blocks World n=3 (60 states); greedy evaluation over {eval_episodes} episodes after training")
    t = res["targets"]
    body = [economy_row("CCV, 2 clones", r, t, smoke) for r in res["ccv"]]
    body += [economy_row(f"{r['bids']} bids, {r['auction']}, {r['clones']} clone{'s' if r['clones'] > 1 else ''}",
                         r, {"success": ("<=", 0.10)} if (r["bids"], r["clones"], r["auction"]) == SOLITARY else {},
                         smoke)
             for r in res["solitary"]]
    body += [baseline_row(r, {}, smoke) for r in res["baselines"]]
    print(table(LEARNING_HEADERS, body, right={1, 2, 3, 4}))
    print("  (1 clone: one agent per state and action, so an agent's only rivals are the other actions' agents;"
          " profit bids: b += eta (income - price),")
    print("   which among clones is the valuation rule b += eta (income - b); the target is on the solitary Vickrey"
          " society of profit seekers;")
    print("   diverged: the economy's money stopped being finite (EconomyError) after that many episodes, of which")
    print("   the share shown was solved; it cannot play on, so its success is its solved episodes over the whole")
    print("   budget; Q-learning: alpha 0.5, gamma 0.9, epsilon 0.5, the economy's episode budget)")
    print()


def part_d(episodes: int, seeds: list[int], eval_episodes: int, quiet: bool) -> list[dict]:
    out = []
    for seed in seeds:
        log(f"part D Hayek seed {seed}", quiet)
        out.append(train_and_evaluate(BlocksWorld(3), episodes, eval_episodes, seed, **HAYEK))
    return out


def print_part_d(recs: list[dict], eval_episodes: int, smoke: bool) -> None:
    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in HAYEK.items())
    print(f"Part D: Hayek economy on Blocks World n=3 (adaptive bids; {settings}); greedy evaluation over "
          f"{eval_episodes} episodes")
    body = []
    for r in recs:
        profit = r["greedy_profit_per_win"] / r["goal_reward"]
        body.append([str(r["seed"]), str(r["episodes"]), fmt_s(r["seconds"]),
                     cell(r["success"], ">=", 0.95, smoke=smoke)[0], cell(r["spearman"], ">=", 0.85, smoke=smoke)[0],
                     f"{profit:.4f} (|.|<=0.01 {judge(abs(profit), '<=', 0.01, smoke)})",
                     f"{r['greedy_profit_per_win_overall'] / r['goal_reward']:.4f}",
                     f"{r['mean_profit_per_win'] / r['goal_reward']:.4f}",
                     f"{r['profit_per_win_overall'] / r['goal_reward']:.4f}",
                     f"{r['births']} (>0 {judge(r['births'], '>', 0, smoke)})",
                     f"{r['deaths']} (>0 {judge(r['deaths'], '>', 0, smoke)})", str(r["alive"])])
    print(table(["seed", "episodes", "train s", "success", "Spearman(price, V*)", "greedy: profit per win / R",
                 "all wins / R", "training: per win / R", "all wins / R", "births", "deaths", "alive"], body,
                right={0, 1, 2, 5, 6, 7, 8}))
    print("  (profit per win: mean over the agents that won of (income - paid) / wins; all wins: total (income - paid)")
    print("   over total wins; greedy: over the evaluation episodes, every winner the highest bidder; training: since")
    print("   birth, exploration included (an explorer buys the world at the market's price for a worse move);")
    print("   taxes are rent, not counted)")
    print()


def part_e(episodes: int, seeds: list[int], eval_episodes: int, quiet: bool) -> dict:
    env = lambda: BlocksWorld(5)  # noqa: E731
    ccv = []
    for seed in seeds:
        log(f"part E CCV seed {seed}", quiet)
        ccv.append(train_and_evaluate(env(), episodes, eval_episodes, seed, **CCV))
    base = []
    for name in ("greedy", "random"):
        log(f"part E {name}", quiet)
        base.append(baseline(name, env, 0, eval_episodes, seeds[0]))
    return {"ccv": ccv, "baselines": base}


def print_part_e(res: dict, eval_episodes: int, smoke: bool) -> None:
    print(f"Part E: Blocks World n=5 (2,520 states); greedy evaluation over {eval_episodes} episodes")
    body = [economy_row("CCV, 2 clones", r, {"success": (">=", 0.95)}, smoke) for r in res["ccv"]]
    body += [baseline_row(r, {}, smoke) for r in res["baselines"]]
    print(table(LEARNING_HEADERS, body, right={1, 2, 3, 4}))
    print("  (greedy: one-step lookahead on correctly placed blocks, ties broken at random)")
    print()


def part_f(episodes: int, seed: int, eval_episodes: int) -> dict:
    return train_and_evaluate(TowerOfHanoi(4), episodes, eval_episodes, seed, auction="ccv", clones=2, gamma=0.9)


def print_part_f(rec: dict, eval_episodes: int, smoke: bool) -> None:
    print(f"Part F: Tower of Hanoi n=4 (81 states, shortest solution 15 moves), CCV, 2 clones, gamma 0.9; greedy "
          f"evaluation over {eval_episodes} episodes")
    length = rec["mean_solution_steps"] / 15
    body = [[str(rec["seed"]), str(rec["episodes"]), fmt_s(rec["seconds"]), f"{rec['episodes_per_s']:.0f}",
             cell(rec["success"], ">=", 0.95, smoke=smoke)[0], cell(rec["mean_solution_steps"], digits=2)[0],
             cell(length, "<=", 1.2, smoke=smoke)[0], cell(rec["spearman"])[0]]]
    print(table(["seed", "episodes", "train s", "episodes/s", "success", "mean moves", "moves / 15",
                 "Spearman(price, V*)"], body, right={0, 1, 2, 3, 5}))
    print()


# ---------------------------------------------------------------------------
# part H: pattern agents
# ---------------------------------------------------------------------------
def declared_patterns(env: BlocksWorld, seed: int) -> Economy:
    """Five pattern agents that play one strategy at any number of blocks (``BlocksWorld.pattern_strategy``)."""
    eco = Economy(env, conditions="pattern", explore=0.0, keep_history=False, rng=seed)
    for pattern, action in env.pattern_strategy():
        eco.agent(pattern=pattern, action=action, bid=0.5)
    return eco


#: The pattern economy of part H: entrepreneurs with patterns of 1 to 3 features, bidding 0 until tried
LEARNED = {"conditions": "pattern", "pattern_size": 3, "entry_rate": 0.05, "clones": 1, "auction": "ccv",
           "gamma": 0.9, "initial_bid": 0.0, "explore": 0.1, "tax": 1e-4, "death_wealth": 1.0, "entry_wealth": 3.0}


def learn_until_solved(train, evaluate_greedy, budget: float, target: float = 0.9) -> dict:
    """Alternate ``train()`` (returns episodes trained) and ``evaluate_greedy()`` (returns the success rate) until
    the greedy success reaches ``target`` or ``budget`` seconds are spent."""
    t0, episodes, success = time.perf_counter(), 0, math.nan
    while time.perf_counter() - t0 < budget:
        episodes += train()
        success = evaluate_greedy()
        if success >= target:
            break
    return {"episodes": episodes, "seconds": time.perf_counter() - t0, "success": success,
            "solved": bool(success >= target)}


def part_h(sizes: list[int], episodes: int, learn_sizes: list[int], q_sizes: list[int], budget: float, chunk: int,
           eval_episodes: int, seed: int, quiet: bool) -> dict:
    declared = []
    for n in sizes:
        log(f"part H declared patterns n={n}", quiet)
        eco = declared_patterns(BlocksWorld(n), seed)
        t0 = time.perf_counter()
        t = eco.run(episodes, progressbar=False).table()
        declared.append({"n_blocks": n, "states": BlocksWorld(n).state_count(), "episodes": episodes,
                         "seconds": time.perf_counter() - t0, "success": float(t["success"].mean()),
                         "mean_steps": float(t["steps"].mean()), "agents": len(eco.population)})
    learned = []
    for n in learn_sizes:  # the largest n solved within the budget: stop at the first one that is not
        log(f"part H learned patterns n={n} (up to {budget:g} s)", quiet)
        eco = Economy(BlocksWorld(n), keep_history=False, rng=seed, **LEARNED)

        def train(eco=eco) -> int:
            eco.explore = LEARNED["explore"]
            eco.run(chunk, progressbar=False)
            return chunk

        def greedy(eco=eco) -> float:
            eco.explore = 0.0
            return float(eco.run(eval_episodes, progressbar=False).table()["success"].tail(eval_episodes).mean())

        rec = learn_until_solved(train, greedy, budget)
        rec.update(n_blocks=n, alive=eco.population.n_alive, agents=len(eco.population))
        learned.append(rec)
        if not rec["solved"]:
            break
    q = []
    for n in q_sizes:
        log(f"part H Q-learning n={n} (up to {budget:g} s)", quiet)
        env = BlocksWorld(n)
        learner = QLearning(env, alpha=0.5, gamma=0.9, epsilon=0.5, rng=seed)

        def q_train(learner=learner) -> int:
            learner.run(chunk, progressbar=False)
            return chunk

        def q_greedy(learner=learner, env=env) -> float:
            return evaluate(learner, env, eval_episodes, rng=seed).success_rate

        rec = learn_until_solved(q_train, q_greedy, budget)
        rec.update(n_blocks=n)
        q.append(rec)
        if not rec["solved"]:
            break
    return {"declared": declared, "learned": learned, "q_learning": q, "budget": budget, "settings": LEARNED}


def print_part_h(res: dict, eval_episodes: int, smoke: bool) -> None:
    print("Part H: pattern agents (conditions over named features, so one agent acts at every size)")
    body = [[f"5 declared pattern agents, n={r['n_blocks']}", f"{r['states']:,}", str(r["episodes"]),
             fmt_s(r["seconds"]), cell(r["success"], ">=", 0.9, smoke=smoke)[0], f"{r['mean_steps']:.1f}"]
            for r in res["declared"]]
    for label, rows in (("pattern economy learned", res["learned"]), ("Q-learning", res["q_learning"])):
        for r in rows:
            body.append([f"{label}, n={r['n_blocks']}" + (f" ({r['alive']} alive)" if "alive" in r else ""),
                         f"{BlocksWorld(r['n_blocks']).state_count():,}", str(r["episodes"]), fmt_s(r["seconds"]),
                         cell(r["success"], ">=", 0.9, smoke=smoke)[0], "-"])
    print(table(["economy", "states", "episodes", "seconds", "greedy success", "mean steps"], body,
                right={1, 2, 3, 5}))
    def largest(rows: list[dict]) -> str:
        solved = [r["n_blocks"] for r in rows if r["solved"]]
        if not solved:
            return "none"
        return f"{max(solved)}" if not rows[-1]["solved"] else f">= {max(solved)} (the largest size tried)"

    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in res["settings"].items())
    print(f"  largest n solved (greedy success >= 0.9) within {res['budget']:g} s: pattern economy "
          f"{largest(res['learned'])}, Q-learning {largest(res['q_learning'])} (each stops at its first n not solved)")
    print(f"  (learned: {settings}; trained in chunks, each followed by {eval_episodes} greedy episodes; declared:")
    print("   BlocksWorld.pattern_strategy(), one strategy at any size)")
    print()


# ---------------------------------------------------------------------------
# part G: the same economy as a per-agent Python loop
# ---------------------------------------------------------------------------
class LoopAgent:
    """One agent as a Python object: its state, its action, its bid and its money."""

    __slots__ = ("state", "action", "bid", "wealth", "income", "paid", "wins")

    def __init__(self, state, action: int, bid: float, wealth: float):
        self.state, self.action, self.bid, self.wealth = state, action, bid, wealth
        self.income = self.paid = 0.0
        self.wins = 0


class LoopEconomy:
    """The economy with adaptive bids and state conditions, written the straightforward way.

    A list of :class:`LoopAgent` objects; every step scans the whole list for the agents
    conditioned on the current state, and the bidders for the highest bid. Same rules as
    :class:`Economy` (CCV, Vickrey or first price; bids capped at wealth; random tie-breaks;
    exploration at the market's price; the bank funds ``clones`` agents per action where nobody can
    bid; no tax, births or deaths; episodes start from a uniform draw among the environment's start
    states) and the same random draws in the same order, so from the same seed it plays the same
    episodes.
    """

    def __init__(self, env, *, auction: str = "ccv", clones: int = 2, gamma: float = 1.0, learning_rate: float = 0.1,
                 explore: float = 0.05, rng: int = 0):
        self.env, self.auction, self.clones, self.gamma = env, auction, clones, gamma
        self.learning_rate, self.explore = learning_rate, explore
        self.rng = as_rng(rng)
        self.initial_bid = float(env.goal_reward)
        self.entry_wealth = 10 * float(env.goal_reward)
        self.agents: list[LoopAgent] = []
        self.bank = 0.0
        self.starts = env.start_states()

    def _pay(self, payer: LoopAgent | None, payee: LoopAgent | None, amount: float) -> float:
        """Move money (None is the bank); an agent pays at most what it has."""
        if amount <= 0:
            return 0.0
        paid = amount
        if payer is None:
            self.bank -= paid
        else:
            paid = min(amount, payer.wealth)
            payer.wealth -= paid
        if payee is None:
            self.bank += paid
        else:
            payee.wealth += paid
        return paid

    def _learn(self, clones: list[LoopAgent], income: float) -> None:
        for a in clones:
            a.bid = max(a.bid + self.learning_rate * (income - 0.0 - a.bid), 0.0)

    def episode(self) -> tuple[bool, int]:
        env, gen = self.env, self.rng
        k = len(self.starts)
        obs, _ = env.reset(options={"start": self.starts[int(gen.integers(k))] if k > 1 else self.starts[0]})
        owner, clones, reward, steps, success = None, None, 0.0, 0, False
        while steps < env.max_steps:
            key = env.state_key(obs)
            bidders = [a for a in self.agents if a.state == key]
            if not any(a.wealth > 0 for a in bidders):
                for _ in range(self.clones):
                    for action in range(env.n_actions):
                        new = LoopAgent(key, action, self.initial_bid, self.entry_wealth)
                        self.bank -= self.entry_wealth
                        self.agents.append(new)
                        bidders.append(new)
            capped = [min(a.bid, a.wealth) for a in bidders]
            top = max(capped)
            best = [i for i, c in enumerate(capped) if c == top]
            win = best[0] if len(best) == 1 else best[int(gen.integers(len(best)))]
            if self.auction == "first":
                price = top
            elif len(bidders) == 1:
                price = 0.0
            elif len(best) > 1:
                price = top
            else:
                price = max(c for i, c in enumerate(capped) if i != win)
            if self.explore and gen.random() < self.explore:
                win = int(gen.integers(len(bidders)))
            buyer = bidders[win]
            received = 0.0
            if owner is None:
                buyer.paid += self._pay(buyer, None, price)
            else:
                to_seller = self.gamma * price
                received = self._pay(buyer, owner, to_seller)
                buyer.paid += received + self._pay(buyer, None, price - to_seller)
                if self.auction == "vickrey" and top > price:
                    extra = self.gamma * (top - price)
                    self._pay(None, owner, extra)
                    received += extra
                owner.income += received
            if clones is not None:
                self._learn(clones, reward + received)
            clones = [a for a in bidders if a.action == buyer.action]
            obs, reward, terminated, truncated, _ = env.step(buyer.action)
            steps += 1
            reward = float(reward)
            if reward > 0:
                buyer.income += self._pay(None, buyer, reward)
            elif reward < 0:
                buyer.income -= self._pay(buyer, None, -reward)
            buyer.wins += 1
            owner = buyer
            if terminated or truncated:
                success = bool(terminated)
                break
        if clones is not None:
            self._learn(clones, reward)
        return success, steps


def part_g(sizes: list[int], loop_limit: float, seed: int, quiet: bool) -> tuple[list[dict], bool]:
    """The loop plays for ``loop_limit`` seconds; each engine then plays the same episodes (checked), timed
    as the median of three runs from the same seed."""
    rows, bad = [], False
    for n in sizes:
        log(f"part G n={n}: loop economy", quiet)
        loop = LoopEconomy(BlocksWorld(n), rng=seed, **CCV)
        played = []
        t0 = time.perf_counter()
        while not played or time.perf_counter() - t0 < loop_limit:
            played.append(loop.episode())
        loop_s = time.perf_counter() - t0
        k = len(played)
        row = {"n_blocks": n, "episodes": k, "steps": sum(s for _, s in played), "loop_s": loop_s,
               "loop_agents": len(loop.agents), "loop_episodes_per_s": k / loop_s}
        # the loop computes no Gini: the like-for-like run computes none either (gini_every beyond the run)
        for label, kw in [("compiled", {"engine": "compiled", "gini_every": k + 1}),
                          ("compiled_gini", {"engine": "compiled"}),
                          ("python", {"engine": "python", "gini_every": k + 1})]:
            log(f"part G n={n}: {label} engine, {k} episodes", quiet)
            times = []
            for _ in range(3 if label != "python" else 1):
                eco = Economy(BlocksWorld(n), rng=seed, keep_history=False, **CCV, **kw)
                t0 = time.perf_counter()
                eco.run(k, progressbar=False)
                times.append(time.perf_counter() - t0)
            mine = [(r.success, r.steps) for r in eco.result.episodes]
            first_diff = next((i for i, (a, b) in enumerate(zip(played, mine, strict=True)) if a != b), None)
            bad |= first_diff is not None
            row[label] = {"seconds": float(np.median(times)), "ratio": loop_s / float(np.median(times)),
                          "agree": first_diff is None, "first_difference": first_diff, "agents": len(eco.population)}
        row["success"] = float(np.mean([s for s, _ in played]))
        row["result"] = "PASS" if row["compiled"]["ratio"] >= SPEEDUP_TARGET else "MISS"
        rows.append(row)
    return rows, bad


def print_part_g(rows: list[dict], loop_limit: float, smoke: bool) -> None:
    print(f"Part G: speed, the economy against the same economy as a per-agent Python loop (CCV, 2 clones, gamma 0.9;"
          f" the first episodes from seed 0, as many as the loop plays in {loop_limit:g} s; engines: median of 3)")
    body = []
    for r in rows:
        verdict = "smoke" if smoke else r["result"]
        agree = all(r[e]["agree"] for e in ("compiled", "compiled_gini", "python"))
        first = min((r[e]["first_difference"] for e in ("compiled", "compiled_gini", "python")
                     if r[e]["first_difference"] is not None), default=None)
        body.append([str(r["n_blocks"]), str(r["episodes"]), str(r["steps"]), str(r["compiled"]["agents"]),
                     fmt_s(r["loop_s"]), fmt_s(r["compiled"]["seconds"]), f"{r['compiled']['ratio']:.1f}",
                     f"{r['compiled_gini']['ratio']:.1f}", f"{r['python']['ratio']:.1f}",
                     f">= {SPEEDUP_TARGET:g}x", verdict, "yes" if agree else f"{DISAGREE} (episode {first + 1})"])
    print(table(["blocks", "episodes", "steps", "agents", "loop s", "compiled s", "loop/compiled",
                 "loop/compiled+Gini", "loop/python", "target", "result", "same episodes"], body,
                right=set(range(9))))
    print("  (same episodes: success and steps identical in every episode, for every engine; the loop scans every")
    print("   agent each step and computes no Gini; +Gini: the wealth Gini of every episode as well)")
    print()


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny fast run with the same tables (targets not judged)")
    ap.add_argument("--seeds", type=int, default=3,
                    help="seeds of parts C (CCV, solitary, Q-learning) and D (default 3)")
    ap.add_argument("--n5-seeds", type=int, default=3, help="seeds of part E's CCV row (default 3)")
    ap.add_argument("--episodes", type=int, default=None, help="training episodes of parts C, E, F (default 20000)")
    ap.add_argument("--eval", type=int, default=None, help="greedy evaluation episodes (default 1000; smoke 20)")
    ap.add_argument("--loop-limit", type=float, default=None,
                    help="seconds the loop economy of part G plays per size (default 15; smoke 2)")
    ap.add_argument("--pattern-budget", type=float, default=None,
                    help="seconds part H gives each size to learn (default 600; smoke 3)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.n5_seeds < 1:
        ap.error("--seeds and --n5-seeds must be at least 1")
    smoke = args.smoke
    episodes = args.episodes or (150 if smoke else 20_000)
    eval_episodes = args.eval or (20 if smoke else 1000)
    loop_limit = args.loop_limit if args.loop_limit is not None else (2.0 if smoke else 15.0)
    seeds = list(range(1 if smoke else args.seeds))
    n5_seeds = list(range(1 if smoke else args.n5_seeds))
    a_count, a_episodes, a_vickrey = (4, 30, 2) if smoke else (20, 200, 5)
    b_bandit, b_chain = (200, 300) if smoke else (2000, 3000)
    d_episodes = 150 if smoke else 10_000
    e_episodes = 20 if smoke else episodes
    f_episodes = 150 if smoke else episodes

    info = machine_info()
    started = time.perf_counter()
    header("economies", smoke, info, f"numpy {info['numpy']}, scipy {info['scipy']}, pandas {info['pandas']}")
    settings(f"training episodes: C/F {episodes}, D {d_episodes}, E {e_episodes}; evaluation {eval_episodes}; "
             f"seeds C {len(seeds)}, E {len(n5_seeds)}; part A {a_count} economies x {a_episodes} episodes "
             f"(+ {a_vickrey} Vickrey); loop limit {loop_limit:g} s", smoke)
    out: dict = {"machine": info, "args": vars(args), "smoke": smoke}

    runs, rows, bad = part_a(a_count, a_episodes, a_vickrey, args.quiet)
    out["part_a"] = {"rows": rows, "runs": runs}
    print_part_a(rows, runs, a_episodes)
    sys.stdout.flush()

    log("part B", args.quiet)
    out["part_b"] = part_b(b_bandit, b_chain, 0, smoke)
    print_part_b(out["part_b"])
    sys.stdout.flush()

    out["part_c"] = part_c(episodes, seeds, seeds, eval_episodes, smoke, args.quiet)
    print_part_c(out["part_c"], eval_episodes, smoke)
    sys.stdout.flush()

    out["part_d"] = part_d(d_episodes, seeds, eval_episodes, args.quiet)
    print_part_d(out["part_d"], eval_episodes, smoke)
    sys.stdout.flush()

    out["part_e"] = part_e(e_episodes, n5_seeds, eval_episodes, args.quiet)
    print_part_e(out["part_e"], eval_episodes, smoke)
    sys.stdout.flush()

    log("part F", args.quiet)
    out["part_f"] = part_f(f_episodes, 0, min(eval_episodes, 100))
    print_part_f(out["part_f"], min(eval_episodes, 100), smoke)
    sys.stdout.flush()

    g_rows, bad_g = part_g([3, 5], loop_limit, 0, args.quiet)
    bad |= bad_g
    out["part_g"] = g_rows
    print_part_g(g_rows, loop_limit, smoke)
    sys.stdout.flush()

    h_eval = 10 if smoke else 100
    out["part_h"] = part_h([4] if smoke else [4, 8, 12, 16], 20 if smoke else 100, [3] if smoke else [3, 4, 5, 6],
                           [3] if smoke else [3, 4, 5, 6], args.pattern_budget or (3.0 if smoke else 600.0),
                           20 if smoke else 1000, h_eval, 0, args.quiet)
    print_part_h(out["part_h"], h_eval, smoke)
    return finish(out, started, bad, DISAGREE, "invariants hold and the loop economy reproduces the economy",
                  args.json)


if __name__ == "__main__":
    sys.exit(main())
