"""deepmarkets.logic: sentences, theories, worlds (z3), coherence with Dutch books, and bets on
quantified sentences settled by verification–falsification games, and a logical inductor."""

from deepmarkets.logic.parse import parse, parse_theory
from deepmarkets.logic.sentence import (
    FALSE,
    TRUE,
    Sentence,
    Term,
    at_most_one,
    atoms,
    exactly_one,
    exists,
    forall,
    iff,
    implies,
    ints,
    predicate,
    reals,
    sentence,
)

__all__ = [
    "FALSE",
    "TRUE",
    "Sentence",
    "Term",
    "at_most_one",
    "atoms",
    "exactly_one",
    "exists",
    "forall",
    "iff",
    "implies",
    "ints",
    "predicate",
    "reals",
    "sentence",
    "parse",
    "parse_theory",
]

from deepmarkets.logic.coherence import (  # noqa: E402
    Bet,
    CoherenceReport,
    DutchBook,
    Position,
    Verdict,
    check_coherence,
    find_distribution,
)
from deepmarkets.logic.theory import Theory, WorldOptimum  # noqa: E402

__all__ += ["Theory", "WorldOptimum", "Bet", "CoherenceReport", "DutchBook", "Position", "Verdict",
            "check_coherence", "find_distribution"]

from deepmarkets.logic.quantified import (  # noqa: E402
    Agent,
    QuantifiedMarket,
    QuantifiedSentence,
    Z3Constructor,
    equilibrium_price,
    play,
    pm1_benchmark,
    prime,
    settle,
)

__all__ += ["Agent", "QuantifiedMarket", "QuantifiedSentence", "Z3Constructor", "equilibrium_price", "play",
            "pm1_benchmark", "prime", "settle"]

from deepmarkets.logic.induction import (  # noqa: E402
    DeductiveProcess,
    InductionResult,
    Inductor,
    Trader,
    arbitrageurs,
    exclusive_exhaustive_trader,
    frequency_trader,
    threshold_trader,
)

__all__ += ["DeductiveProcess", "InductionResult", "Inductor", "Trader", "arbitrageurs",
            "exclusive_exhaustive_trader", "frequency_trader", "threshold_trader"]
