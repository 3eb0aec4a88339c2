"""deepmarkets.logic.quantified: betting on quantified sentences (PM1).

After Pallavi Sudhir & Tran-Thanh (2024), "Betting on what is neither verifiable nor
falsifiable". ``games`` holds quantified sentences, their settlement by z3 and the
verification–falsification game; ``constructors`` the strategies that choose witnesses and
counterexamples; ``market`` the agents and the repeated market; ``scenarios`` the PM1
acceptance runs.
"""

from deepmarkets.helpers import export_lazily

# submodule -> the names it exports; each loads on first use
__all__ = export_lazily(__name__, {
    "games": ["DEFAULT_RLIMIT", "Binder", "GameResult", "GameState", "Move", "QuantifiedSentence", "play", "prime",
              "settle"],
    "constructors": ["Z3Constructor", "constant", "next_prime_witness", "offset", "random_integers", "roles"],
    "market": ["Agent", "MarketRun", "QuantifiedMarket", "RoundRecord", "equilibrium_price", "kelly_population",
               "plot_prices"],
    "scenarios": ["BenchmarkResult", "infinitely_many_primes", "largest_number", "pm1_benchmark"],
})
