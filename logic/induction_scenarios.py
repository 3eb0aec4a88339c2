"""Fixed deductive processes and trader classes for the empirical properties of logical induction.

Each builder returns an :class:`~deepmarkets.logic.induction.Inductor` ready to run and the
sentences the property is about. Regression checks, not proofs (Garrabrant et al. 2016, §4).
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

from deepmarkets.logic.induction import Inductor, Trader, arbitrageurs, frequency_trader
from deepmarkets.logic.induction_features import price, ramp
from deepmarkets.logic.sentence import atoms, exactly_one
from deepmarkets.logic.theory import Theory

__all__ = ["sha_bit", "pi_digits", "sha_frequencies", "pi_coherence", "provability", "paradox"]

_PI = ("14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214"
       "808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196")


def sha_bit(n: int) -> bool:
    """Bit ``n mod 256`` of SHA-256 of the decimal text of ``n``.

    Examples
    --------
    >>> sha_bit(1) in (True, False)
    True
    """
    digest = int.from_bytes(hashlib.sha256(str(n).encode()).digest(), "big")
    return bool((digest >> (n % 256)) & 1)


def pi_digits(count: int) -> list[int]:
    """The first ``count`` decimals of π (at most 200)."""
    if not 0 <= count <= len(_PI):
        raise ValueError(f"pi_digits knows {len(_PI)} decimals, asked for {count}")
    return [int(c) for c in _PI[:count]]


def sha_frequencies(days: int, *, delay: int = 3, **options) -> tuple[Inductor, list]:
    """Sentence ``n``: "bit n of SHA-256(n) is 1", visible from day n, revealed (or refuted) on day n+delay.

    Examples
    --------
    >>> ind, bits = sha_frequencies(8, delay=2)
    >>> res = ind.run(8, progressbar=False)
    >>> 0 <= res.price(bits[-1]) <= 1
    True
    """
    bits = list(atoms([f"sha{n}" for n in range(1, days + 1)]))

    def reveal(day: int):
        n = day - delay
        if n < 1 or n > days:
            return []
        return [bits[n - 1] if sha_bit(n) else ~bits[n - 1]]

    trader = frequency_trader(bits, revealed=lambda day: max(0, day - delay), visible=lambda day: day)
    return Inductor(bits, [trader], deductive=reveal, **options), bits


def pi_coherence(positions: int, *, delay: int = 2, **options) -> tuple[Inductor, list[list]]:
    """Ten sentences "digit n of π is d" per position, exactly one true (the theory), revealed on day n+delay.

    Traders: the theory's exclusive-exhaustive arbitrageurs.
    """
    digits = pi_digits(positions)
    groups = [list(atoms([f"pi{n}_{d}" for d in range(10)])) for n in range(1, positions + 1)]
    theory = Theory([exactly_one(*g) for g in groups])
    sents = [s for g in groups for s in g]

    def reveal(day: int):
        n = day - delay
        return [groups[n - 1][digits[n - 1]]] if 1 <= n <= positions else []

    return Inductor(sents, arbitrageurs(theory, sents), deductive=reveal, theory=theory, **options), groups


def provability(count: int, *, threshold: float = 0.95, width: float = 0.05, **options) -> tuple[Inductor, list]:
    """Theorems ``θ_n`` whose proofs enter D only on day 2n; a threshold trader buys each below ``threshold``."""
    thetas = list(atoms([f"theorem{n}" for n in range(1, count + 1)]))

    def proofs(day: int):
        return [thetas[day // 2 - 1]] if day % 2 == 0 and 1 <= day // 2 <= count else []

    buyer = Trader(f"buy theorems below {threshold}",
                   {t: ramp((Fraction(repr(threshold)) - price(t)) * Fraction(1) / Fraction(repr(width)))
                    for t in thetas})
    return Inductor(thetas, [buyer], deductive=proofs, **options), thetas


def paradox(days: int, **options) -> tuple[Inductor, list]:
    """χ_n is true iff P_n(χ_n) < 1/2, revealed on day n+1; a calibration trader over the χ's."""
    chis = list(atoms([f"chi{n}" for n in range(1, days + 1)]))

    def reveal(day: int, prices):
        n = day - 1
        if n < 1 or n > days:
            return []
        return [chis[n - 1] if prices(chis[n - 1], n) < Fraction(1, 2) else ~chis[n - 1]]

    trader = frequency_trader(chis, revealed=lambda day: max(0, min(days, day - 1)), visible=lambda day: day)
    return Inductor(chis, [trader], deductive=reveal, **options), chis
