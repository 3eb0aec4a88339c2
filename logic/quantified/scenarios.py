"""The PM1 acceptance scenarios: infinitely many primes and a largest number, with their targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import z3

from deepmarkets.helpers import as_rng
from deepmarkets.logic.quantified.constructors import next_prime_witness, offset, random_integers, roles
from deepmarkets.logic.quantified.games import QuantifiedSentence, prime
from deepmarkets.logic.quantified.market import MarketRun, QuantifiedMarket, kelly_population

__all__ = ["BenchmarkResult", "infinitely_many_primes", "largest_number", "pm1_benchmark"]

# --- acceptance benchmark ------------------------------------------------------------------------
def infinitely_many_primes() -> QuantifiedSentence:
    """There are infinitely many primes: ``∀x ∃y (y > x ∧ prime(y))``."""
    x, y = z3.Ints("x y")
    return QuantifiedSentence([("forall", "x", None), ("exists", "y", None)], z3.And(y > x, prime(y)))


def largest_number() -> QuantifiedSentence:
    """There is a largest number: ``∃x ∀y (y ≤ x)``."""
    x, y = z3.Ints("x y")
    return QuantifiedSentence([("exists", "x", None), ("forall", "y", None)], y <= x)


@dataclass(frozen=True)
class BenchmarkResult:
    """Price paths of the three PM1 acceptance scenarios, with their targets and verdicts."""

    runs: dict[str, MarketRun]
    checks: dict[str, tuple[str, float, bool]]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.checks.values())

    def table(self, every: int = 5) -> str:
        """Price by round (every ``every`` rounds) for each scenario, then the checks."""
        names = list(self.runs)
        n = max(len(r.prices) for r in self.runs.values())
        lines = ["round  " + "  ".join(f"{k:>22}" for k in names)]
        for t in range(0, n, every):
            cells = [f"{self.runs[k].prices[t]:22.4f}" if t < len(self.runs[k].prices) else " " * 22 for k in names]
            lines.append(f"{t:5d}  " + "  ".join(cells))
        lines.append("")
        for k, (target, value, ok) in self.checks.items():
            lines.append(f"{k}: {target}: {value:.4f} {'PASS' if ok else 'FAIL'}")
        lines.append(f"total {self.seconds:.2f} s")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "runs": {k: r.to_dict() for k, r in self.runs.items()},
            "checks": {k: {"target": t, "value": v, "passed": ok} for k, (t, v, ok) in self.checks.items()},
            "seconds": self.seconds,
            "passed": self.passed,
        }

    def __repr__(self) -> str:
        return self.table()


def pm1_benchmark(
    *, n_agents: int = 50, rng: int | np.random.Generator | None = 0, progressbar: bool = True
) -> BenchmarkResult:
    """The PM1 acceptance runs (seeded, deterministic).

    * primes, next-prime constructor (:func:`next_prime_witness`), falsifier x uniform in [0, 10⁴]:
      price ≥ 0.95 by round 50;
    * primes, holders without a witness constructor: price ≤ 0.15 at every round from 10 to 50;
      (``Z3Constructor(minimize=True)`` plays the same moves, about 0.2 s each, so it is left out here);
    * largest number, holders choosing x uniform in [0, 10⁶], falsifier y = x + 1: price ≤ 0.12
      by round 25.

    Examples
    --------
    >>> pm1_benchmark(n_agents=20).passed
    True
    """
    import time

    gen = as_rng(rng)
    start = time.perf_counter()
    falsify_x = random_integers(0, 10_000)
    runs = {
        "primes, next-prime": QuantifiedMarket(
            infinitely_many_primes(), kelly_population(n_agents, roles(next_prime_witness, falsify_x))
        ).run(50, rng=gen, progressbar=progressbar),
        "primes, no witnesses": QuantifiedMarket(
            infinitely_many_primes(), kelly_population(n_agents, roles(None, falsify_x))
        ).run(50, rng=gen, progressbar=progressbar),
        "largest number": QuantifiedMarket(
            largest_number(), kelly_population(n_agents, roles(random_integers(0, 10**6), offset("x", 1)))
        ).run(25, rng=gen, progressbar=progressbar),
    }
    seconds = time.perf_counter() - start
    p1 = runs["primes, next-prime"].prices
    p2 = runs["primes, no witnesses"].prices
    p3 = runs["largest number"].prices
    checks = {
        "primes, next-prime": ("price at round 50 >= 0.95", p1[50], p1[50] >= 0.95),
        "primes, no witnesses": ("max price over rounds 10..50 <= 0.15", max(p2[10:51]), max(p2[10:51]) <= 0.15),
        "largest number": ("price at round 25 <= 0.12", p3[25], p3[25] <= 0.12),
    }
    return BenchmarkResult(runs, checks, seconds)
