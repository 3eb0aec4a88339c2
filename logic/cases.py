"""Coherence questions with known answers: one catalogue for tests, benchmarks and examples.

Each :class:`CoherenceCase` is plain data (sentences as text, prices as exact decimal strings) with
its verdict and, where it is known in closed form, the max profit with stakes in [-1, 1] (the L1
distance to the nearest coherent prices). Tests run every case through each implementation that
answers the question (:func:`~deepmarkets.logic.check_coherence`, ``deepmarkets check``, brute
force), instead of restating the same examples file by file.

Examples
--------
>>> from deepmarkets.logic import check_coherence
>>> case = CASES["conjunction_too_cheap"]
>>> report = check_coherence(case.prices(), case.theory(), case.conditional())
>>> report.verdict.value, report.dutch_book.guaranteed_profit == case.max_profit
('incoherent', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from deepmarkets.logic.sentence import Sentence, sentence
from deepmarkets.logic.theory import Theory

__all__ = ["CoherenceCase", "CASES"]


@dataclass(frozen=True)
class CoherenceCase:
    """A price set with its known answer.

    Attributes
    ----------
    name : str
        A short identifier.
    priced : tuple of (str, str)
        ``(sentence, price)`` pairs, in the text syntax and as exact decimals.
    axioms : tuple of str
        The theory's axioms in the text syntax.
    verdict : {"coherent", "incoherent", "unknown"}
    max_profit : Fraction or None
        The exact max profit with stakes in [-1, 1] (0 for coherent prices); None where it is
        not known in closed form (conditional prices, unknown verdicts).
    given : tuple of (str, str, str)
        Conditional prices ``(sentence, condition, price)``.
    why : str
        The reason, in one line.
    """

    name: str
    priced: tuple[tuple[str, str], ...]
    axioms: tuple[str, ...]
    verdict: str
    max_profit: Fraction | None
    given: tuple[tuple[str, str, str], ...] = field(default=())
    why: str = ""

    def prices(self) -> dict[Sentence, str]:
        """The unconditional prices, sentence -> exact decimal."""
        return {sentence(s): p for s, p in self.priced}

    def theory(self) -> Theory:
        return Theory([sentence(a) for a in self.axioms])

    def conditional(self) -> dict[tuple[Sentence, Sentence], str] | None:
        """The conditional prices, (sentence, condition) -> exact decimal, or None."""
        return {(sentence(s), sentence(h)): p for s, h, p in self.given} or None


_CASES = (
    CoherenceCase("conjunction_too_cheap", (("a", "0.6"), ("b", "0.7"), ("a & b", "0.2")), (), "incoherent",
                  Fraction(1, 10), why="P(a & b) >= P(a) + P(b) - 1 = 0.3"),
    CoherenceCase("conjunction_on_the_boundary", (("a", "0.6"), ("b", "0.7"), ("a & b", "0.3")), (), "coherent",
                  Fraction(0), why="P(a & b) = P(a) + P(b) - 1 exactly"),
    CoherenceCase("complement_over_one", (("~a", "0.3"), ("a", "0.8")), (), "incoherent", Fraction(1, 10),
                  why="P(a) + P(~a) = 1.1"),
    CoherenceCase("exclusive_contracts_over_one", (("w1", "0.5"), ("w2", "0.4"), ("w3", "0.3")),
                  ("exactly_one(w1, w2, w3)",), "incoherent", Fraction(1, 5), why="exclusive prices sum to 1.2"),
    CoherenceCase("exclusive_contracts_with_float_noise",
                  (("dem", "0.43000000000000005"), ("rep", "0.5700000000000001")), ("exactly_one(dem, rep)",),
                  "incoherent", Fraction(3, 20000000000000000), why="the decimals sum to 1 + 1.5e-16"),
    CoherenceCase("exclusive_contracts_with_noise_below", (("dem", "0.52"), ("rep", "0.48000000000000004")),
                  ("exactly_one(dem, rep)",), "incoherent", Fraction(1, 25000000000000000),
                  why="the decimals sum to 1 + 4e-17"),
    CoherenceCase("exclusive_contracts_summing_to_one", (("dem", "0.52"), ("rep", "0.48")), ("exactly_one(dem, rep)",),
                  "coherent", Fraction(0), why="the prices sum to 1 exactly"),
    CoherenceCase("implication_priced_against_its_premise", (("rain", "0.3"), ("cloudy", "0.2")), ("rain -> cloudy",),
                  "incoherent", Fraction(1, 10), why="rain implies cloudy, so P(cloudy) >= P(rain)"),
    CoherenceCase("called_off_bets_on_a_null_condition", (("H", "0"),), (), "incoherent", None,
                  given=(("E", "H", "0.3"), ("~E", "H", "0.9")), why="P(E | H) + P(~E | H) = 1.2 even when P(H) = 0"),
    CoherenceCase("conditionals_on_a_null_condition_summing_to_one", (("H", "0"),), (), "coherent", Fraction(0),
                  given=(("E", "H", "0.3"), ("~E", "H", "0.7")), why="coherent in a second layer, given H"),
    CoherenceCase("conditional_as_a_ratio", (("rain", "0.3"), ("cloudy", "0.5")), ("rain -> cloudy",), "coherent",
                  Fraction(0), given=(("rain", "cloudy", "0.6"),), why="P(rain | cloudy) = 0.3 / 0.5"),
    CoherenceCase("conditional_off_the_ratio", (("rain", "0.3"), ("cloudy", "0.5")), ("rain -> cloudy",), "incoherent",
                  None, given=(("rain", "cloudy", "0.4"),), why="P(rain | cloudy) must be 0.3 / 0.5 = 0.6"),
    CoherenceCase("impossible_condition", (), ("~b",), "unknown", None, given=(("a", "b", "0.5"),),
                  why="a price given b is undefined when b is impossible"),
)

#: The catalogue, by name.
CASES: dict[str, CoherenceCase] = {case.name: case for case in _CASES}
