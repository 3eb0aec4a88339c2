#!/usr/bin/env python
"""Benchmarks of the hypothesis auction (``deepmarkets.models.bria``): what bounded inductive rationality shows.

Part A, bandit: Bernoulli arms 0.3 / 0.5 / 0.7, 60 constant hypotheses (arm × promise 0.05 ..
1.0), A = 5/(n·i^1.1), 5 seeds at T = 2,000 and 20,000 (the T = 2,000 runs with ``check=True``:
every invariant after every round). The judged class lists the hypotheses promise by promise
(every arm at 0.05, then every arm at 0.10, ...): the enumeration decides who gets the larger
allowances, and promise-major gives an arm no more than its place among the task's options
(arm-major hands the largest allowances to whichever arm is listed first, here the worst; it is
shown beside it). The paper's example schedule A = 1/(n·i²) on the same runs, and epsilon-greedy
(0.1), UCB1 and Thompson sampling with the same seeds (the same reward streams). Targets: minimum
average reward >= 0.68 at 2,000 and >= 0.69 at 20,000. Then 100 seeds at T = 2,000, both
enumerations with the best arm listed last, first and in the middle, against the oracle that
always pulls the 0.7 arm on the same reward draws: how often each falls below 0.68.

Part B, pseudo-random lottery (Theorem 4): a safe option paying 0.40 against bit 0 of
SHA-256(n). Hypotheses: both options × promises 0.01 .. 1.00 enumerated promise by promise,
A = 20/(n·i^1.1); 20 tie-breaking seeds at 20,000 and 100,000 rounds (the lottery is
deterministic: the seed only breaks ties). Targets: average reward >= 0.48 at 20,000 and >= 0.49 at
100,000; the lottery taken >= 95% of the time; the overpromisers (promise 0.95 or 1.0) win <= 1% of
the rounds by 20,000. The default class (both options × 0.05 .. 1.0, option by option,
A = 5/(n·i^1.1)) is shown beside it, and the lottery's share at 20,000 under neighbouring grids and
schedules (how sensitive it is).

Part C, the prisoner's dilemma scaled to [0, 1] (payoffs 5, 3, 1, 0 over 5) against always
defect: 5 strategies × 20 promises, 5 seeds, T = 5,000. Target: average >= 0.19 (maximin 0.2).
Two such agents against each other: the frequencies of the four outcomes over the last half.

Part D, speed: k = 10^3 and 10^4 constant hypotheses (10 arms × k/10 promises) on a 10-armed
bandit; the auction (compiled round loop, and the Python methods) against a straightforward
per-hypothesis Python loop written here (one callable per hypothesis, one Python pass over every
hypothesis per round), which must take the same options, winners and estimates (else DISAGREE,
exit status 1). The loop runs for ``--loop-limit`` seconds; the auction then plays exactly those
rounds from the same seed (the compiled loop is compiled, or loaded from numba's cache, before
the clock starts). Target: loop/ours >= 50 for the compiled loop.

Exit status 1 on a DISAGREE (an invariant that failed, or the loop not reproducing the
auction); PASS/MISS against the targets does not change it.

    python benchmarks/bria.py            # full run (about two minutes on 2 cores)
    python benchmarks/bria.py --quick    # the smoke run: tiny sizes, targets not judged
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from harness import finish, header, log, machine_info, settings, table  # noqa: E402  (benchmarks/ is on sys.path)

from deepmarkets.models.bria import (
    Allowance,
    AuctionBRIA,
    Bandit,
    History,
    Lottery,
    PrisonersDilemma,
    constant,
    epsilon_greedy,
    play,
    promise_grid,
    strategies,
    thompson,
    ucb1,
)
from deepmarkets.models.economies.auction import Sale

DEFAULT = Allowance(5, 1, 1.1)
PAPER = Allowance(1, 1, 2)
LOTTERY = Allowance(20, 1, 1.1)


def judge(value: float, target: float, smoke: bool, above: bool = True) -> str:
    if smoke:
        return "smoke"
    return "PASS" if (value >= target if above else value <= target) else "MISS"


# --- part A ----------------------------------------------------------------------------------------------
def part_a(horizons: list[int], seeds: list[int], quiet: bool) -> dict:
    rows = []
    for T in horizons:
        for seed in seeds:
            log(f"part A: T={T} seed={seed}", quiet)
            check = T <= 2000
            bria = AuctionBRIA(constant(3, order="promise"), Bandit(), allowance=DEFAULT, rng=seed, check=check).run(
                T, progressbar=False)
            by_arm = AuctionBRIA(constant(3), Bandit(), allowance=DEFAULT, rng=seed).run(T, progressbar=False)
            paper = AuctionBRIA(constant(3), Bandit(), allowance=PAPER, rng=seed).run(T, progressbar=False)
            rows.append({
                "T": T, "seed": seed, "checked": check, "bria": bria.average_reward(),
                "bria_last_tenth": bria.average_reward(T // 10), "by_arm": by_arm.average_reward(),
                "paper": paper.average_reward(), "paper_arm_0.3_share": paper.option_shares()["arm 0.3"],
                "epsilon_greedy": epsilon_greedy(Bandit(), T, epsilon=0.1, rng=seed).average_reward(),
                "ucb1": ucb1(Bandit(), T, rng=seed).average_reward(),
                "thompson": thompson(Bandit(), T, rng=seed).average_reward(),
                "oracle": _oracle(seed, T, 0.7),
                "overestimation": bria.overestimation(), "allowance": bria.total_allowance,
            })
    return {"rows": rows}


def _oracle(seed: int, T: int, best: float) -> float:
    """The average reward of always pulling the best arm on the reward draws the agent with this seed sees."""
    task_rng = np.random.default_rng(seed).spawn(2)[0]  # the agent's task stream: one uniform draw per round
    return float(np.mean(task_rng.random(T) < best))


def part_a_seeds(T: int, n_seeds: int, quiet: bool) -> list[dict]:
    """How often each enumeration falls below 0.68, with the best arm listed last, first and in the middle."""
    rows = []
    for means in ((0.3, 0.5, 0.7), (0.7, 0.5, 0.3), (0.5, 0.7, 0.3)):
        for order in ("promise", "option"):
            log(f"part A: {n_seeds} seeds, arms {means}, {order}-major", quiet)
            vals = np.array([AuctionBRIA(constant(3, order=order), Bandit(means), allowance=DEFAULT, rng=s).run(
                T, progressbar=False, snapshots=0).average_reward() for s in range(n_seeds)])
            rows.append({"arms": list(means), "order": order, "min": float(vals.min()),
                         "median": float(np.median(vals)), "below_0.68": float(np.mean(vals < 0.68))})
    oracle = np.array([_oracle(s, T, 0.7) for s in range(n_seeds)])
    rows.append({"arms": [0.7], "order": "oracle", "min": float(oracle.min()), "median": float(np.median(oracle)),
                 "below_0.68": float(np.mean(oracle < 0.68))})
    return rows


def _break_ties_by(key: str):
    """An agent whose auction breaks ties for the top bid by the tied hypotheses' record or wealth (the
    highest; then the first) instead of at random."""

    class Agent(AuctionBRIA):
        def _auction(self, bids: np.ndarray) -> Sale:
            top = float(bids.max())
            tied = np.flatnonzero(bids == top)
            rank = self.records if key == "record" else self.wealth
            return Sale(int(tied[np.argmax(rank[tied])]), top, top)

    return Agent


def part_a_ties(T: int, n_seeds: int, quiet: bool) -> dict:
    """Where the promise-major agent loses reward (rounds where an arm-0.7 hypothesis tied for the top bid and
    the tie went elsewhere), and the agent with ties broken by record or by wealth."""
    means = np.array([0.3, 0.5, 0.7])
    log(f"part A: ties over {n_seeds} seeds", quiet)
    lost_tied, lost, average = np.zeros(n_seeds), np.zeros(n_seeds), np.zeros(n_seeds)
    for s in range(n_seeds):
        agent = AuctionBRIA(constant(3, order="promise"), Bandit(means), allowance=DEFAULT, rng=s, engine="python")
        for _ in range(T):
            option = agent.decide()
            regret = means[2] - means[option]  # expected reward lost
            tied = agent.options[agent._bids == agent._bids.max()]
            lost[s] += regret
            lost_tied[s] += regret if (tied == 2).any() else 0.0
            agent.settle(*agent.task.reward(agent.past.round, option, agent._task_rng))
        average[s] = agent.average_reward()
    low = average < 0.68
    out = {"seeds": n_seeds, "below": int(low.sum()),
           "tied_share_low": float(lost_tied[low].sum() / lost[low].sum()) if low.any() else float("nan"),
           "tied_share_all": float(lost_tied.sum() / lost.sum()), "rules": []}
    for key in ("record", "wealth"):
        agent_class = _break_ties_by(key)
        vals = np.array([agent_class(constant(3, order="promise"), Bandit(means), allowance=DEFAULT, rng=s).run(
            T, progressbar=False, snapshots=0).average_reward()
                         for s in range(n_seeds)])
        out["rules"].append({"ties": key, "min": float(vals.min()), "median": float(np.median(vals)),
                             "below_0.68": float(np.mean(vals < 0.68))})
    return out


def print_part_a(a: dict, horizons: list[int], smoke: bool) -> None:
    print("Part A: bandit 0.3/0.5/0.7, 60 constant hypotheses, average reward per seed")
    methods = [("BRIA 5/(n i^1.1), promise-major", "bria"), ("BRIA, last tenth", "bria_last_tenth"),
               ("BRIA 5/(n i^1.1), arm-major", "by_arm"), ("BRIA 1/(n i^2) (paper), arm-major", "paper"),
               ("epsilon-greedy 0.1", "epsilon_greedy"), ("UCB1", "ucb1"), ("Thompson", "thompson"),
               ("oracle (always arm 0.7)", "oracle")]
    rows = []
    for T in horizons:
        runs = [r for r in a["rows"] if r["T"] == T]
        for label, key in methods:
            vals = [r[key] for r in runs]
            target = {2000: 0.68, 20000: 0.69}.get(T) if key == "bria" else None
            rows.append([str(T), label, " ".join(f"{v:.4f}" for v in vals), f"{min(vals):.4f}",
                         f">= {target}" if target else "-", judge(min(vals), target, smoke) if target else "-"])
    print(table(["T", "method", "per seed", "min", "target", "result"], rows, {3}))
    stuck = [r["paper_arm_0.3_share"] for r in a["rows"]]
    print(f"with 1/(n i^2) the agent takes arm 0.3 in {min(stuck):.1%} .. {max(stuck):.1%} of rounds: the arm-0.7 "
          "hypotheses (numbers 41-60) never hold the 0.3 needed to outbid an early under-promiser")
    print(f"L_T <= allowance handed out in every run: "
          f"{all(r['overestimation'] <= r['allowance'] + 1e-9 for r in a['rows'])}; invariants checked every round "
          f"at T = 2,000")
    seeds = a["seeds"]
    print(f"T = {a['seeds_T']}, seeds 0..{a['n_seeds'] - 1}: how often the average falls below 0.68")
    print(table(["arms", "enumeration", "min", "median", "share of seeds < 0.68"],
                [["/".join(f"{m:g}" for m in r["arms"]), {"promise": "promise-major", "option": "arm-major"}.get(
                    r["order"], r["order"]),
                  f"{r['min']:.4f}", f"{r['median']:.4f}", f"{r['below_0.68']:.0%}"] for r in seeds], {2, 3, 4}))
    ties = a["ties"]
    print(f"promise-major, arms 0.3/0.5/0.7: of the expected reward lost, {ties['tied_share_all']:.0%} over all "
          f"{ties['seeds']} seeds and {ties['tied_share_low']:.0%} over the {ties['below']} below 0.68 comes from "
          "rounds where an arm-0.7 hypothesis tied for the top bid and the tie went to another arm; "
          "ties broken otherwise:")
    print(table(["ties broken by", "min", "median", "share of seeds < 0.68"],
                [["random (the agent)", f"{seeds[0]['min']:.4f}", f"{seeds[0]['median']:.4f}",
                  f"{seeds[0]['below_0.68']:.0%}"]]
                + [[f"highest {r['ties']}", f"{r['min']:.4f}", f"{r['median']:.4f}", f"{r['below_0.68']:.0%}"]
                   for r in ties["rules"]], {1, 2, 3}))
    print()


# --- part B ----------------------------------------------------------------------------------------------
def _overpromisers(names: list[str]) -> np.ndarray:
    return np.array([n.endswith("@ 0.95") or n.endswith("@ 1") for n in names])


def part_b(horizons: list[int], seeds: list[int], quiet: bool) -> dict:
    rows = []
    fine = constant(2, promise_grid(0.01, 1.0, 0.01), labels=("safe", "lottery"), order="promise")
    default = constant(2, labels=("safe", "lottery"))
    for T in horizons:
        for label, fam, allowance in (("both x 0.01..1, promise-major, 20/(n i^1.1)", fine, LOTTERY),
                                      ("both x 0.05..1, option-major, 5/(n i^1.1)", default, DEFAULT)):
            log(f"part B: {label} T={T}, {len(seeds)} seeds", quiet)
            for seed in seeds:
                run = AuctionBRIA(fam, Lottery(0.4), allowance=allowance, rng=seed).run(T, progressbar=False,
                                                                                        snapshots=0)
                over = _overpromisers(run.names)
                rows.append({"T": T, "hypotheses": label, "seed": seed, "average": run.average_reward(),
                             "lottery_share": run.option_shares()["lottery"],
                             "overpromisers_win_share": float(run.win_shares()[over].sum()),
                             "lottery_mean": Lottery().mean(T)})
    return {"rows": rows}


def part_b_sensitivity(T: int, seeds: list[int], quiet: bool) -> list[dict]:
    """The lottery's share under neighbouring promise grids and schedules (promise-major)."""
    rows = []
    for step, c, a, b in ((0.01, 20, 1, 1.1), (0.01, 5, 1, 1.1), (0.01, 10, 1, 1.1), (0.01, 50, 1, 1.1),
                          (0.01, 100, 1, 1.5), (0.02, 3, 1, 1.1), (0.02, 5, 1, 1.1), (0.02, 8, 1, 1.1),
                          (0.02, 20, 1, 1.1), (0.05, 20, 1, 1.1), (0.01, 20, 0.5, 1.1), (0.01, 20, 0.7, 1.1)):
        log(f"part B: grid {step}, A = {c}/(n^{a} i^{b})", quiet)
        fam = constant(2, promise_grid(step, 1.0, step), order="promise")
        shares = np.array([AuctionBRIA(fam, Lottery(0.4), allowance=Allowance(c, a, b), rng=s).run(
            T, progressbar=False, snapshots=0).option_shares()["lottery"] for s in seeds])
        rows.append({"step": step, "c": c, "a": a, "b": b, "min": float(shares.min()),
                     "median": float(np.median(shares)), "below_0.95": float(np.mean(shares < 0.95))})
    return rows


def print_part_b(b: dict, smoke: bool) -> None:
    print(f"Part B: safe 0.40 against bit 0 of SHA-256(n); {len({r['seed'] for r in b['rows']})} tie-breaking seeds")
    rows = []
    groups = sorted({(r["T"], r["hypotheses"]) for r in b["rows"]},
                    key=lambda g: (g[0], not g[1].startswith("both x 0.01")))
    for T, label in groups:
        runs = [r for r in b["rows"] if r["T"] == T and r["hypotheses"] == label]
        judged = label.startswith("both x 0.01")
        avg, share, over = ([r[k] for r in runs] for k in ("average", "lottery_share", "overpromisers_win_share"))
        t_avg = {20000: 0.48, 100000: 0.49}.get(T)
        res_avg = judge(min(avg), t_avg, smoke) if judged and t_avg else "-"
        res_share = judge(min(share), 0.95, smoke) if judged and t_avg else "-"
        res_over = judge(max(over), 0.01, smoke, above=False) if judged and T == 20000 else "-"
        rows.append([str(T), label, f"{min(avg):.4f} / {np.median(avg):.4f}", res_avg,
                     f"{min(share):.3f} / {np.median(share):.3f}", f"{sum(x >= 0.95 for x in share)}/{len(share)}",
                     res_share, f"{max(over):.4f}", res_over])
    print(table(["T", "hypotheses", "average min / median", "(>= .48/.49)", "lottery share min / median",
                 "seeds >= .95", "(>= .95)", "overpromisers' wins max", "(<= .01)"], rows, {2, 4, 5, 7}))
    means = sorted({(r["T"], r["lottery_mean"]) for r in b["rows"]})
    print("lottery's mean over the rounds: " + ", ".join(f"{m:.5f} (T = {T})" for T, m in means))
    print(f"lottery's share at T = {b['sensitivity_T']} under neighbouring grids and schedules (promise-major, "
          "same seeds):")
    print(table(["promise grid", "allowance", "min", "median", "share of seeds < 0.95"],
                [[f"{r['step']:g}..1", f"{r['c']:g}/(n^{r['a']:g} i^{r['b']:g})", f"{r['min']:.3f}",
                  f"{r['median']:.3f}",
                  f"{r['below_0.95']:.0%}"] for r in b["sensitivity"]], {2, 3, 4}))
    print()


# --- part C ----------------------------------------------------------------------------------------------
def part_c(T: int, seeds: list[int], quiet: bool) -> dict:
    rows = []
    for seed in seeds:
        log(f"part C: seed {seed}", quiet)
        run = AuctionBRIA(strategies(), PrisonersDilemma("defect"), rng=seed, check=T <= 1000).run(
            T, progressbar=False)
        rows.append({"seed": seed, "average": run.average_reward(), "defect_share": run.option_shares()["defect"]})
    games = []
    for seed in seeds[:3]:
        a = AuctionBRIA(strategies(), PrisonersDilemma(None), rng=2 * seed)
        b = AuctionBRIA(strategies(), PrisonersDilemma(None), rng=2 * seed + 1)
        play(a, b, T // 2)
        late = play(a, b, T - T // 2) / (T - T // 2)
        games.append({"seed": seed, "CC": late[0, 0], "CD": late[0, 1], "DC": late[1, 0], "DD": late[1, 1],
                      "average_first": a.average_reward(), "average_second": b.average_reward()})
    return {"rows": rows, "games": games}


def print_part_c(c: dict, T: int, smoke: bool) -> None:
    print(f"Part C: prisoner's dilemma on [0, 1], T = {T}")
    vals = [r["average"] for r in c["rows"]]
    rows = [["against always defect", " ".join(f"{v:.4f}" for v in vals), f"{min(vals):.4f}", ">= 0.19",
             judge(min(vals), 0.19, smoke)]]
    print(table(["opponent", "average per seed", "min", "target", "result"], rows, {2}))
    print("BRIA against BRIA (same 100 strategy hypotheses), outcome frequencies over the last half:")
    print(table(["seed", "CC", "CD", "DC", "DD", "average (first)", "average (second)"],
                [[str(g["seed"]), *(f"{g[k]:.3f}" for k in ("CC", "CD", "DC", "DD")), f"{g['average_first']:.4f}",
                  f"{g['average_second']:.4f}"] for g in c["games"]], {1, 2, 3, 4, 5, 6}))
    print()


# --- part D ----------------------------------------------------------------------------------------------
def loop_auction(hypotheses, task, allowance: Allowance, seed: int, limit: float):
    """The auction written as a straightforward loop: one Python pass over every hypothesis per round."""
    gen = np.random.default_rng(seed)
    task_rng, tie_rng = gen.spawn(2)
    k = len(hypotheses)
    weights = allowance.weights(k).tolist()
    wealth, records, wins, rejections = [0.0] * k, [0.0] * k, [0] * k, [0] * k
    past = History(len(task.options))
    out = []
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        n = past.round
        scale = allowance.scale(n)
        top, best, proposals = -1.0, [], []
        for i in range(k):
            option, promise = hypotheses[i](past)
            proposals.append((option, promise))
            wealth[i] += scale * weights[i]
            bid = promise if promise < wealth[i] else wealth[i]
            if bid > top:
                top, best = bid, [i]
            elif bid == top:
                best.append(i)
        winner = best[0] if len(best) == 1 else best[int(tie_rng.integers(len(best)))]
        for i in range(k):
            if proposals[i][1] > top:
                rejections[i] += 1
        option = proposals[winner][0]
        reward, obs = task.reward(n, option, task_rng)
        wealth[winner] += reward - top
        records[winner] += reward - proposals[winner][1]
        wins[winner] += 1
        past.record(option, reward, obs)
        out.append((option, winner, top))
    return out, time.perf_counter() - started


def warm_up() -> float:
    """Compile the round loop (or load it from numba's cache); returns the seconds it took."""
    t0 = time.perf_counter()
    AuctionBRIA(constant(2, [0.5]), Bandit([0.5, 0.5]), rng=0, engine="compiled").run(2, progressbar=False)
    return time.perf_counter() - t0


def part_d(sizes: list[int], limit: float, quiet: bool) -> tuple[list[dict], bool]:
    rows, bad = [], False
    task = Bandit(np.round(np.linspace(0.1, 0.9, 10), 4))
    for k in sizes:
        promises = promise_grid(1 / (k // 10), 1.0, 1 / (k // 10))[: k // 10]
        family = constant(10, promises)
        hypotheses = [lambda past, o=int(o), p=float(p): (o, p) for o, p in zip(*family.propose(History(10)),
                                                                               strict=True)]
        log(f"part D: loop with {k} hypotheses for {limit:g} s", quiet)
        loop, loop_s = loop_auction(hypotheses, task, DEFAULT, 0, limit)
        T = len(loop)
        row = {"hypotheses": k, "rounds": T, "loop_s": loop_s, "loop_rounds_per_s": T / loop_s,
               }
        same = True
        for engine, key in (("compiled", "ours"), ("python", "python")):
            agent = AuctionBRIA(family, task, allowance=DEFAULT, rng=0, engine=engine)
            t0 = time.perf_counter()
            run = agent.run(T, progressbar=False)
            seconds = time.perf_counter() - t0
            same &= (run.choices.tolist() == [r[0] for r in loop] and run.winners.tolist() == [r[1] for r in loop]
                     and run.estimates.tolist() == [r[2] for r in loop])
            row.update({f"{key}_s": seconds, f"{key}_rounds_per_s": T / seconds, f"{key}_ratio": loop_s / seconds})
        row["ratio"], row["agree"] = row["ours_ratio"], same
        bad |= not same
        rows.append(row)
    return rows, bad


def print_part_d(rows: list[dict], warm: float, smoke: bool) -> None:
    print("Part D: speed, constant hypotheses on a 10-armed bandit; the loop must play the same rounds")
    print(table(["hypotheses", "rounds", "compiled rounds/s", "python rounds/s", "loop rounds/s", "loop/compiled",
                 "loop/python", "same rounds", "target", "result"],
                [[str(r["hypotheses"]), str(r["rounds"]), f"{r['ours_rounds_per_s']:.0f}",
                  f"{r['python_rounds_per_s']:.0f}", f"{r['loop_rounds_per_s']:.1f}", f"{r['ratio']:.1f}",
                  f"{r['python_ratio']:.1f}", "yes" if r["agree"] else "DISAGREE", ">= 50",
                  judge(r["ratio"], 50, smoke)] for r in rows], {1, 2, 3, 4, 5, 6}))
    print(f"compiling the round loop (or loading it from numba's cache) took {warm:.2f} s, once per process, "
          "before any clock started")
    print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", "--quick", dest="smoke", action="store_true",
                    help="tiny fast run with the same tables (targets not judged)")
    ap.add_argument("--loop-limit", type=float, default=None,
                    help="seconds the per-hypothesis loop of part D plays per size (default 10; smoke 0.5)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    smoke = args.smoke
    a_horizons = [200, 400] if smoke else [2000, 20000]
    a_seeds = [0, 1] if smoke else list(range(5))
    b_horizons = [500] if smoke else [20000, 100000]
    b_seeds = [0] if smoke else list(range(20))
    n_seeds_a = 3 if smoke else 100
    c_T = 300 if smoke else 5000
    c_seeds = [0] if smoke else list(range(5))
    limit = args.loop_limit if args.loop_limit is not None else (0.5 if smoke else 10.0)

    info = machine_info()
    started = time.perf_counter()
    header("bria", smoke, info, f"numpy {info['numpy']}")
    settings(f"part A T {a_horizons}, {len(a_seeds)} seeds (and {n_seeds_a} at T {a_horizons[0]}); part B T "
             f"{b_horizons}, {len(b_seeds)} seeds; "
             f"part C T {c_T}, {len(c_seeds)} seeds; loop limit {limit:g} s", smoke)
    out: dict = {"machine": info, "args": vars(args), "smoke": smoke, "compile_or_load_s": warm_up()}
    try:
        out["part_a"] = part_a(a_horizons, a_seeds, args.quiet)
        invariants_ok = True
    except AssertionError as err:  # check=True found a broken invariant
        print(f"DISAGREE: an invariant failed: {err}")
        out["part_a"], invariants_ok = {"rows": []}, False
    out["part_a"]["seeds_T"], out["part_a"]["n_seeds"] = a_horizons[0], n_seeds_a
    out["part_a"]["seeds"] = part_a_seeds(a_horizons[0], n_seeds_a, args.quiet)
    out["part_a"]["ties"] = part_a_ties(a_horizons[0], n_seeds_a, args.quiet)
    if out["part_a"]["rows"]:
        print_part_a(out["part_a"], a_horizons, smoke)
    sys.stdout.flush()
    out["part_b"] = part_b(b_horizons, b_seeds, args.quiet)
    out["part_b"]["sensitivity_T"] = b_horizons[0]
    out["part_b"]["sensitivity"] = part_b_sensitivity(b_horizons[0], b_seeds, args.quiet)
    print_part_b(out["part_b"], smoke)
    sys.stdout.flush()
    out["part_c"] = part_c(c_T, c_seeds, args.quiet)
    print_part_c(out["part_c"], c_T, smoke)
    sys.stdout.flush()
    out["part_d"], bad = part_d([1000, 10000], limit, args.quiet)
    print_part_d(out["part_d"], out["compile_or_load_s"], smoke)
    return finish(out, started, bad or not invariants_ok, "DISAGREE", "no disagreement", args.json)


if __name__ == "__main__":
    sys.exit(main())
