"""Fixed deductive processes and trader classes for the empirical properties of logical induction.

Each builder returns an :class:`~deepmarkets.logic.induction.Inductor` ready to run and the
sentences the property is about. Regression checks, not proofs (Garrabrant et al. 2016, §4).
:func:`random_inductor` draws random theories, trader classes and deductive processes for
property tests of the market maker.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng
from deepmarkets.logic.induction.features import price, ramp, safe_reciprocal
from deepmarkets.logic.induction.inductor import (
    DeductiveProcess,
    Inductor,
    Trader,
    arbitrageurs,
    exclusive_exhaustive_trader,
    frequency_trader,
    threshold_trader,
)
from deepmarkets.logic.sentence import atoms, exactly_one
from deepmarkets.logic.theory import Theory

__all__ = ["sha_bit", "pi_digits", "sha_frequencies", "pi_coherence", "provability", "paradox", "mixed_market",
           "random_inductor"]

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


def mixed_market(seed: int = 0, *, overlap: bool = False) -> tuple[Inductor, list]:
    """50 sentences and 20 traders, for 200 days: exclusive-exhaustive groups, atoms and their traders.

    Three exactly-one groups of 10 (one group's true member revealed every 40 days) and 20
    independent atoms (one revealed every 10 days, alternating between two halves); traders: the
    3 arbitrageurs of the theory, 15 seeded random threshold traders on the atoms (on any
    sentence with ``overlap``, where a weak threshold trader can pull against an arbitrageur)
    and a frequency trader on each half of the atoms.

    Examples
    --------
    >>> ind, sentences = mixed_market(0)
    >>> len(sentences), len(ind.traders)
    (50, 20)
    """
    rng = np.random.default_rng(seed)
    groups = [list(atoms([f"g{g}_{i}" for i in range(10)])) for g in range(3)]
    singles = list(atoms([f"s{i}" for i in range(20)]))
    sents = [s for g in groups for s in g] + singles
    theory = Theory([exactly_one(*g) for g in groups])
    traders = arbitrageurs(theory, sents)
    pool = sents if overlap else singles
    for j in range(15):
        s = pool[int(rng.integers(len(pool)))]
        lo = float(np.round(rng.uniform(0.05, 0.4), 2))
        hi = float(np.round(rng.uniform(0.6, 0.95), 2))
        traders.append(threshold_trader(s, buy_below=lo, sell_above=hi, name=f"threshold{j}({s})"))
    for j, half in enumerate((singles[:10], singles[10:])):
        traders.append(frequency_trader(half, revealed=lambda day, j=j: max(0, min(10, (day - 5 * j) // 10)),
                                        name=f"frequency{j}"))
    truth = [int(rng.integers(10)) for _ in groups]
    single_truth = rng.random(len(singles)) < 0.5

    def reveal(day):
        out = []
        g = day // 40 - 1
        if day % 40 == 0 and 0 <= g < len(groups):
            out.append(groups[g][truth[g]])
        for j in range(2):  # frequency trader j's sentences revealed on days 10r + 5j
            r = (day - 5 * j) // 10
            if (day - 5 * j) % 10 == 0 and 1 <= r <= 10:
                i = 10 * j + r - 1
                out.append(singles[i] if single_truth[i] else ~singles[i])
        return out

    return Inductor(sents, traders, deductive=reveal, theory=theory), sents


def random_inductor(rng: int | np.random.Generator | None = None, *, days: int = 100) -> tuple[Inductor, list]:
    """A random inductor: theory, sentences, traders of every built-in family and deductive process.

    A hidden world is drawn first; the theory holds exactly-one groups and implications true
    in it, and the deductive process reveals (in the first ``days`` days) the truth of random
    sentences in that world, sometimes with z3 proving from the theory as well, so ``D`` is
    always consistent with the theory. The sentences are 3 to 8 atoms and up to 3 compound
    sentences; the traders, in random order: the theory's arbitrageurs, threshold traders,
    exclusive-exhaustive traders on random sets (not necessarily exclusive), frequency traders
    (their "revealed" sentences may stay unsettled) and traders on lagged prices, products and
    reciprocals. Budgets, the initial price and ``settle`` are random too. Exploitation is not
    tracked (it does not change the prices).

    Examples
    --------
    >>> ind, sentences = random_inductor(3, days=5)
    >>> len(ind.run(5, progressbar=False).days)
    5
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise DeclarationError(f"days = {days!r}; expected a whole number >= 1 (the deductive process's length)")
    gen = as_rng(rng)
    xs = list(atoms([f"r{i}" for i in range(int(gen.integers(3, 9)))]))
    world = {x: bool(gen.random() < 0.5) for x in xs}
    axioms = []
    pool = [xs[int(i)] for i in gen.permutation(len(xs))]
    while len(pool) >= 2 and gen.random() < 0.6:
        size = int(gen.integers(2, min(5, len(pool)) + 1))
        group, pool = pool[:size], pool[size:]
        true = int(gen.integers(size))
        world.update({x: j == true for j, x in enumerate(group)})
        axioms.append(exactly_one(*group))
    for _ in range(int(gen.integers(0, 3))):
        a, b = (xs[int(i)] for i in gen.choice(len(xs), 2, replace=False))
        if world[b] or not world[a]:
            axioms.append(a.implies(b))
    sentences, truth = list(xs), dict(world)
    for _ in range(int(gen.integers(0, 4))):
        a, b = (xs[int(i)] for i in gen.choice(len(xs), 2, replace=False))
        s, v = [(a | b, world[a] or world[b]), (a & ~b, world[a] and not world[b]), (~a, not world[a])][
            int(gen.integers(3))]
        if s not in truth:
            sentences.append(s)
            truth[s] = v
    theory = Theory(axioms)

    def pick() -> object:
        return sentences[int(gen.integers(len(sentences)))]

    def width() -> float:
        return round(float(gen.uniform(0.01, 0.1)), 3)

    traders = arbitrageurs(theory, sentences, width=width()) if axioms else []
    for _ in range(int(gen.integers(1, 5))):
        lo, hi = round(float(gen.uniform(0.05, 0.6)), 2), round(float(gen.uniform(0.4, 0.95)), 2)
        side = int(gen.integers(3))
        traders.append(threshold_trader(pick(), buy_below=None if side == 2 else lo,
                                        sell_above=None if side == 1 else hi, width=width()))
    for _ in range(int(gen.integers(0, 2))):
        group = [sentences[int(i)] for i in gen.choice(len(sentences), int(gen.integers(2, 4)), replace=False)]
        traders.append(exclusive_exhaustive_trader(group, width=width()))
    for _ in range(int(gen.integers(0, 2))):
        seq = [sentences[int(i)] for i in gen.permutation(len(sentences))]
        lag, step = int(gen.integers(0, 10)), int(gen.integers(1, 8))
        traders.append(frequency_trader(seq, revealed=lambda n, lag=lag, step=step: (n - lag) // step,
                                        margin=round(float(gen.uniform(0, 0.05)), 2), width=width()))
    for _ in range(int(gen.integers(0, 3))):
        a, b, w = pick(), pick(), width()
        kind = int(gen.integers(3))
        if kind == 0:  # buys a below its price of yesterday, sells above
            demand = {a: ramp((price(a, lag=1) - price(a)) / w) - ramp((price(a) - price(a, lag=1)) / w)}
        elif kind == 1:  # buys a while P(a) < P(b) / 2 + 1/4
            demand = {a: price(b) * 0.5 + 0.25 - price(a)}
        else:  # a product and a reciprocal
            demand = {a: (price(b) * 2 - 1) * safe_reciprocal(price(a) * 4) - (price(a) - 0.5) * price(b)}
        traders.append(Trader(f"feature{kind}", demand))
    order = gen.permutation(len(traders))
    traders = [traders[int(i)] for i in order]
    traders = [Trader(f"{k}:{t.name}", t.demand, t.start) for k, t in enumerate(traders)]
    schedule: list[list] = [[] for _ in range(days)]
    for s in sentences:
        day = int(gen.integers(1, 2 * days + 1))
        if day <= days:
            schedule[day - 1].append(s if truth[s] else ~s)
    prove = theory if axioms and gen.random() < 0.2 else None
    budgets = [b for b in (1, 2, 3, 4) if gen.random() < 0.7] or [1]
    ind = Inductor(sentences, traders, deductive=DeductiveProcess(schedule, prove=prove), theory=theory,
                   budgets=budgets, settle=bool(gen.random() < 0.85), initial=round(float(gen.uniform(0, 1)), 2),
                   exploitation=False)
    return ind, sentences
