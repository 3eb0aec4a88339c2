"""deepmarkets.logic: sentences, theories, worlds (z3), coherence with Dutch books, and bets on
quantified sentences settled by verification–falsification games, and a logical inductor."""

from deepmarkets.helpers import export_lazily

# submodule -> the names it exports; each loads on first use (z3, scipy and HiGHS are slow to import)
__all__ = export_lazily(__name__, {
    "sentence": ["FALSE", "TRUE", "Sentence", "Term", "at_most_one", "atoms", "exactly_one", "exists", "forall",
                 "iff", "implies", "ints", "predicate", "reals", "sentence"],
    "parse": ["parse", "parse_theory"],
    "prices": ["conditional_prices", "sentence_prices"],
    "theory": ["Theory", "WorldOptimum"],
    "coherence": ["Bet", "CoherenceReport", "DutchBook", "Position", "Verdict", "check_coherence",
                  "find_distribution"],
    "coherence_plot": ["plot_coherence"],
    "quantified": ["Agent", "QuantifiedMarket", "QuantifiedSentence", "Z3Constructor", "equilibrium_price", "play",
                   "pm1_benchmark", "prime", "settle"],
    "induction": ["DeductiveProcess", "InductionResult", "Inductor", "Trader", "arbitrageurs",
                  "exclusive_exhaustive_trader", "frequency_trader", "threshold_trader"],
})
