"""Coherence of quoted prices: a certified distribution over worlds, or a Dutch book.

Prices on sentences are coherent when some probability distribution over the
theory's possible worlds reproduces them (de Finetti). The check is a linear
programme over worlds solved by column generation: a restricted master LP
(HiGHS) over the worlds found so far, and z3 as the pricing oracle that finds
the world beating the current dual stakes. Every answer carries a certificate
re-checked in exact rational arithmetic:

* COHERENT: a distribution over at most n+1 worlds reproducing every price exactly;
* INCOHERENT: a Dutch book whose guaranteed profit is the exact minimum, over all
  possible worlds, found by z3 with rational weights;
* UNKNOWN: z3 hit its resource limit or the time limit ran out; the reason says which.

Where the float master cannot tell the prices from the boundary of the coherent set
(prices within rounding of a face), column generation goes on in exact rational
arithmetic (:mod:`.exact_lp` for the master, the exact oracle for pricing), so the
verdict is exact whatever the prices' last digits. Incoherence up to a tolerance is
reported as rounding noise next to that verdict (``within_tolerance``).

Conditional prices ``P(A | B) = p`` are called-off bets (pay 1 if A and B, refund
if not B) and are checked in de Finetti's sense by Gilio's layered algorithm, so
conditioning events of probability zero are handled.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from deepmarkets.errors import DeclarationError, SolverUnknownError
from deepmarkets.helpers import StatusLine, to_fraction
from deepmarkets.helpers.validate import positive_float
from deepmarkets.logic.local import SUMMED_GROUP_SIZE, local_books, summed_books
from deepmarkets.logic.prices import conditional_prices, sentence_prices
from deepmarkets.logic.sentence import TRUE, Sentence
from deepmarkets.logic.theory import Theory
from deepmarkets.logic.worlds import OutOfTime, WorldSearch

if TYPE_CHECKING:
    from deepmarkets.logic.exact_lp import ExactSolution

__all__ = ["Verdict", "Bet", "Position", "DutchBook", "CoherenceReport", "check_coherence", "find_distribution"]

#: Master LP objective below which prices are treated as coherent (then certified exactly).
FEASIBILITY_TOL = 1e-9
#: Grid denominators for rounding dual stakes before the exact z3 oracle; the last is "exact".
_GRIDS = (64, 4096, 2**20, None)


class Verdict(StrEnum):
    """Three-valued answer of a coherence check."""

    COHERENT = "coherent"
    INCOHERENT = "incoherent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Bet:
    """A quoted price: ``P(sentence) = price`` or, with ``given``, ``P(sentence | given) = price``.

    Shown as ``P(rain given cloudy) = 0.3``: a bar would read as the disjunction ``rain | cloudy``.
    """

    sentence: Sentence
    price: Fraction
    given: Sentence | None = None

    def __str__(self) -> str:
        return f"P({self.label}) = {float(self.price):g}"

    @property
    def label(self) -> str:
        """The priced event as text: ``rain``, or ``rain given cloudy`` for a conditional price."""
        return str(self.sentence) if self.given is None else f"{self.sentence} given {self.given}"

    @property
    def wins(self) -> Sentence:
        """When the bet pays 1."""
        return self.sentence if self.given is None else self.sentence & self.given


@dataclass(frozen=True)
class Position:
    """A stake on one bet: buy (stake > 0) or sell (stake < 0) ``|stake|`` units at the quoted price."""

    bet: Bet
    stake: Fraction

    @property
    def side(self) -> str:
        return "buy" if self.stake > 0 else "sell"

    def to_dict(self) -> dict:
        return {
            "sentence": str(self.bet.sentence),
            "given": None if self.bet.given is None else str(self.bet.given),
            "side": self.side,
            "stake": float(abs(self.stake)),
            "stake_exact": str(abs(self.stake)),
            "price": float(self.bet.price),
        }


@dataclass(frozen=True)
class DutchBook:
    """Stakes that win in every possible world: a proof that the prices are incoherent.

    ``guaranteed_profit`` is the exact minimum of the book's payoff over every possible
    world in which at least one of its bets is active (conditional bets are refunded
    elsewhere, paying 0); it was found by z3 with exact rational weights and re-checked
    with fractions at the worst world. Where ``proof`` starts with "at least", it is a lower
    bound proved in exact arithmetic without searching whole worlds (books summed over
    groups of sentences): the book wins at least that much in every possible world,
    and ``worst_world`` is a possible world where it pays no less.
    """

    positions: tuple[Position, ...]
    guaranteed_profit: Fraction
    worst_world: tuple[bool, ...] = field(repr=False)
    proof: str = "z3 exact optimisation over all possible worlds"

    def payoff(self, truth: Mapping[Sentence, bool]) -> Fraction:
        """The book's exact payoff in a world given as truth values of its sentences."""
        total = Fraction(0)
        for pos in self.positions:
            active = True if pos.bet.given is None else truth[pos.bet.given]
            if active:
                total += pos.stake * ((1 if truth[pos.bet.sentence] else 0) - pos.bet.price)
        return total

    def to_dict(self) -> dict:
        return {
            "positions": [p.to_dict() for p in self.positions],
            "guaranteed_profit": float(self.guaranteed_profit),
            "guaranteed_profit_exact": str(self.guaranteed_profit),
            "proof": self.proof,
        }

    def table(self) -> str:
        rows = [f"{'sentence':<40} {'side':<5} {'stake':>8} {'price':>7}"]
        for p in self.positions:
            rows.append(f"{p.bet.label:<40} {p.side:<5} {float(abs(p.stake)):>8.4g} {float(p.bet.price):>7.4g}")
        rows.append(f"guaranteed profit: {float(self.guaranteed_profit):.6g} ({self.guaranteed_profit})")
        return "\n".join(rows)

    def __repr__(self) -> str:
        legs = ", ".join(f"{p.side} {float(abs(p.stake)):g} {p.bet.sentence}" for p in self.positions)
        return f"DutchBook({legs}; guaranteed profit {float(self.guaranteed_profit):.6g})"


@dataclass(frozen=True)
class CoherenceReport:
    """The answer of :func:`check_coherence`.

    Attributes
    ----------
    verdict : Verdict
    bets : the quoted prices, in input order; a price repeated exactly is counted once (see ``notes``).
    distribution : for COHERENT, ``((probability, world), ...)`` over at most n+1 worlds,
        each world the truth values of ``(bet.sentence, bet.given)`` per bet; exact fractions.
        For conditional prices, the first layer of the certificate (see ``layers``).
    layers : for conditional prices, one distribution per layer of Gilio's algorithm.
    dutch_book : for INCOHERENT, the certified Dutch book.
    max_profit : the largest guaranteed profit with every stake in [-1, 1] (LP value), when
        the search ran to optimality; otherwise ``None`` and ``max_profit_bounds`` holds a
        verified lower bound and an upper bound.
    l1_distance : L1 distance from the prices to the nearest coherent price vector (equal to
        ``max_profit`` by LP duality); unconditional prices only.
    nearest_prices : a coherent price vector at that distance (floats).
    reason : why the verdict is UNKNOWN.
    stats : rounds, worlds generated, oracle calls, seconds.
    notes : remarks on the input, such as a sentence priced twice (equal prices are counted
        once; different prices are a Dutch book by themselves) or a price a hair outside [0, 1].
    tolerance : incoherence up to this much (``max_profit``, the L1 distance for unconditional
        prices) is reported as rounding noise; the verdict stays exact.
    within_tolerance : True when the prices are coherent or incoherent by at most ``tolerance``,
        False when by more, None when unknown (or only bracketed around the tolerance).
    """

    verdict: Verdict
    bets: tuple[Bet, ...]
    distribution: tuple[tuple[Fraction, tuple[tuple[bool, bool], ...]], ...] | None = None
    layers: tuple = ()
    dutch_book: DutchBook | None = None
    max_profit: float | None = None
    max_profit_bounds: tuple[float, float] | None = None
    l1_distance: float | None = None
    nearest_prices: tuple[float, ...] | None = None
    reason: str = ""
    stats: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    tolerance: float = 0.0
    within_tolerance: bool | None = None

    @property
    def coherent(self) -> bool | None:
        """True, False, or None when unknown."""
        return None if self.verdict is Verdict.UNKNOWN else self.verdict is Verdict.COHERENT

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "prices": [
                {"sentence": str(b.sentence), "given": None if b.given is None else str(b.given),
                 "price": float(b.price)}
                for b in self.bets
            ],
            "max_profit": self.max_profit,
            "max_profit_bounds": list(self.max_profit_bounds) if self.max_profit_bounds else None,
            "l1_distance": self.l1_distance,
            "nearest_prices": list(self.nearest_prices) if self.nearest_prices else None,
            "dutch_book": self.dutch_book.to_dict() if self.dutch_book else None,
            "distribution": None,
            "reason": self.reason or None,
            "stats": self.stats,
            "notes": list(self.notes),
            "tolerance": self.tolerance,
            "within_tolerance": self.within_tolerance,
        }
        if self.distribution is not None:
            out["distribution"] = [
                {"probability": float(p), "probability_exact": str(p),
                 "world": {str(b.sentence) if b.given is None else str(b): _outcome(b, w)
                           for b, w in zip(self.bets, world, strict=True)}}
                for p, world in self.distribution
            ]
        return out

    def summary(self) -> str:
        lines = [f"verdict: {self.verdict.value.upper()}"]
        if self.verdict is Verdict.COHERENT and self.distribution is not None:
            lines.append(f"certificate: a distribution over {len(self.distribution)} possible worlds "
                         "reproduces every price exactly")
            if len(self.layers) > 1:
                lines.append(f"  ({len(self.layers)} layers: some conditioning events have probability 0)")
        if self.dutch_book is not None:
            lines.append("Dutch book:")
            lines.append(self.dutch_book.table())
        if self.max_profit is not None:
            lines.append(f"max profit with stakes in [-1, 1]: {self.max_profit:.6g}")
        elif self.max_profit_bounds is not None:
            lo, hi = self.max_profit_bounds
            lines.append(f"max profit with stakes in [-1, 1]: between {lo:.6g} and {hi:.6g}")
        if self.l1_distance is not None and self.verdict is not Verdict.COHERENT:
            lines.append(f"L1 distance to the nearest coherent prices: {self.l1_distance:.6g}")
        if self.reason:
            lines.append(f"reason: {self.reason}")
        if self.verdict is Verdict.INCOHERENT and self.within_tolerance:
            lines.append(self._within_tolerance_line())
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _within_tolerance_line(self) -> str:
        by = f"{self.max_profit:.2g}" if self.max_profit is not None else f"at most {self.max_profit_bounds[1]:.2g}"
        line = f"within tolerance: incoherent by {by}, within the tolerance {self.tolerance:g} of coherent prices"
        if self.nearest_prices is not None:
            shown = ", ".join(f"{b.label} = {p:.12g}" for b, p in zip(self.bets, self.nearest_prices, strict=True))
            line += f"; nearest coherent prices (to 12 digits): {shown}"
        return line

    def __repr__(self) -> str:
        return f"CoherenceReport({self.summary()})"

    def _repr_markdown_(self) -> str:
        return "```\n" + self.summary() + "\n```"


def _outcome(bet: Bet, truth: tuple[bool, bool]) -> bool | str:
    wins, active = truth
    if bet.given is None:
        return bool(wins)
    return "called off" if not active else ("wins" if wins else "loses")


# ---------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------
def _price(value: Any, bet: Bet, tolerance: float) -> Fraction:
    """``value`` as an exact price in [0, 1], or at most ``tolerance`` outside; ``bet`` (priced 0)
    names the event in an error.

    The event's text is built only for an error message: a sentence can be long.
    """
    try:
        p = to_fraction(value)
    except DeclarationError:
        p = to_fraction(value, f"the price of {bet.label}")  # fails again, now naming the event
    if not -tolerance <= p <= 1 + tolerance:
        within = f" (up to the tolerance {tolerance:g} outside)" if tolerance else ""
        raise DeclarationError(f"the price of {bet.label} is {float(p):g}; prices must lie in [0, 1]{within}")
    return p


def _time_limit(value: Any) -> float:
    return positive_float(value, "time_limit", hint="time_limit is in seconds, or None for no limit")


def _tolerance(value: Any) -> float:
    try:
        tolerance = float(value)
    except (TypeError, ValueError):
        tolerance = math.nan
    if isinstance(value, bool) or not 0 <= tolerance < 1:
        raise DeclarationError(f"tolerance must be a number in [0, 1), such as 1e-9; got {value!r}")
    return tolerance


def _outside_notes(bets: Sequence[Bet], tolerance: float) -> tuple[str, ...]:
    """A note for each price a hair outside [0, 1]: incoherent by itself, but within the tolerance."""
    notes = []
    for b in bets:
        if b.price < 0 or b.price > 1:
            excess, side = (-b.price, "buying") if b.price < 0 else (b.price - 1, "selling")
            notes.append(f"the price of {b.label} is {float(b.price)!r}, outside [0, 1] by {float(excess):.2g}: "
                         f"{side} it wins that much whatever happens, a Dutch book by itself, but within the "
                         f"tolerance {tolerance:g} (rounding noise?)")
    return tuple(notes)


def _judged(report: CoherenceReport, tolerance: float) -> CoherenceReport:
    """``report`` with ``tolerance`` and ``within_tolerance`` filled in; the verdict is unchanged."""
    within = None
    if report.verdict is Verdict.COHERENT:
        within = True
    elif report.verdict is Verdict.INCOHERENT:
        if report.max_profit is not None:
            within = report.max_profit <= tolerance
        elif report.max_profit_bounds is not None:
            low, high = report.max_profit_bounds
            within = True if high <= tolerance else False if low > tolerance else None
    return replace(report, tolerance=tolerance, within_tolerance=within)


def _bets(prices: Any, conditional: Any, tolerance: float) -> list[Bet]:
    bets = [] if prices is None else [Bet(s, _price(p, Bet(s, Fraction(0)), tolerance))
                                      for s, p in sentence_prices(prices)]
    if conditional is not None:
        bets += [Bet(a, _price(p, Bet(a, Fraction(0), b), tolerance), given=b)
                 for a, b, p in conditional_prices(conditional)]
    if not bets:
        raise DeclarationError("no prices given: pass {sentence: price} and/or {(sentence, given): price}")
    return bets


def _merge_repeats(bets: list[Bet]) -> tuple[list[Bet], list[int], tuple[str, ...]]:
    """Count each repeated price once; say so, and name the Dutch book of a sentence priced differently.

    Returns the bets kept (in input order), for each input bet the index of the kept bet that
    stands for it, and the notes. Sentences are compared structurally (``a & b`` twice).
    """
    kept: list[Bet] = []
    origin: list[int] = []
    at: dict[tuple, int] = {}
    repeats: dict[tuple, list[Bet]] = {}
    for b in bets:
        key = (b.sentence, b.given, b.price)
        if key not in at:
            at[key] = len(kept)
            kept.append(b)
        origin.append(at[key])
        repeats.setdefault((b.sentence, b.given), []).append(b)
    notes = []
    for same in repeats.values():
        if len(same) < 2:
            continue
        label, prices = same[0].label, sorted({b.price for b in same})
        if len(prices) == 1:
            notes.append(f"{label} is priced {len(same)} times, each at {float(prices[0]):g}; counted once")
            continue
        low, high = prices[0], prices[-1]
        when = "whatever happens" if same[0].given is None else (
            f"whenever {same[0].given} is true (both bets are called off otherwise)")
        shown = [f"{float(p):g}" for p in prices]
        notes.append(f"{label} is priced {len(same)} times, at {', '.join(shown[:-1])} and {shown[-1]}: "
                     f"buying it at {float(low):g} and selling it at {float(high):g} wins {float(high - low):g} "
                     f"{when}, a Dutch book by itself")
    return kept, origin, tuple(notes)


def _merged_worlds(worlds: Iterable[Sequence[bool]], origin: list[int], n: int) -> Iterator[tuple[bool, ...]]:
    """Worlds given per input price, as truth values of the ``n`` prices kept by :func:`_merge_repeats`."""
    for j, given in enumerate(worlds):
        given = tuple(given)
        if len(given) != len(origin):
            raise DeclarationError(f"world {j} has {len(given)} truth values; expected one per price ({len(origin)})")
        world: list[bool | None] = [None] * n
        for i, v in zip(origin, given, strict=True):
            if world[i] not in (None, bool(v)):
                raise DeclarationError(f"world {j} gives a price repeated in the input two truth values")
            world[i] = bool(v)
        yield tuple(world)


# ---------------------------------------------------------------------------
# one layer: is 0 in the convex hull of the bets' payoff vectors?
# ---------------------------------------------------------------------------
class _Layer:
    """Column generation for: find a distribution over worlds (within ``restriction``)
    under which every bet of the layer has expected payoff 0, with the mass row
    ``sum_w x_w [mass](w) = 1``; the L1 phase-1 objective is the distance to feasibility."""

    def __init__(self, theory: Theory, bets: Sequence[Bet], restriction: Sentence | None,
                 mass: Sentence, deadline: float | None, search: WorldSearch | None = None):
        self.theory, self.bets, self.restriction = theory, list(bets), restriction
        self.deadline = deadline
        # distinct sentences whose truth values make up a world
        self.psi: list[Sentence] = []
        index: dict[Sentence, int] = {}

        def idx(s: Sentence) -> int:
            if s not in index:
                index[s] = len(self.psi)
                self.psi.append(s)
            return index[s]

        self.win_idx = [idx(b.wins) for b in self.bets]
        self.act_idx = [None if b.given is None else idx(b.given) for b in self.bets]
        self.mass_idx = None if mass == TRUE else idx(mass)
        self.prices = np.array([float(b.price) for b in self.bets])
        self.worlds: list[tuple[bool, ...]] = []
        self.seen: set[tuple[bool, ...]] = set()
        self._matrix = np.zeros((0, len(self.psi)))
        self.master = _Master(len(self.bets))
        self.search = search if search is not None else WorldSearch(theory, self.psi, restriction, deadline)
        # (guaranteed profit, stakes, the world where the book pays least)
        self.best_book: tuple[Fraction, tuple[Fraction, ...], tuple[bool, ...]] | None = None
        self.best_proof: str | None = None  # how best_book's profit is proved, when not by the exact oracle
        self.upper = math.inf  # the latest master objective: an upper bound on the max profit
        self.exact: _ExactMaster | None = None  # the master in exact arithmetic, once needed
        self.worlds_given = False  # whether the caller seeded known worlds
        self.rounds = 0

    # world -> column ---------------------------------------------------------
    def payoff_vector(self, world: tuple[bool, ...]) -> np.ndarray:
        col = np.empty(len(self.bets))
        for i, (wi, ai) in enumerate(zip(self.win_idx, self.act_idx, strict=True)):
            active = True if ai is None else world[ai]
            col[i] = (float(world[wi]) - self.prices[i]) if active else 0.0
        return col

    def exact_column(self, world: tuple[bool, ...]) -> list[Fraction]:
        """The payoff vector of one unit of every bet in ``world``, in exact arithmetic."""
        return [
            ((1 if world[wi] else 0) - b.price) if ai is None or world[ai] else Fraction(0)
            for b, wi, ai in zip(self.bets, self.win_idx, self.act_idx, strict=True)
        ]

    def mass_of(self, world: tuple[bool, ...]) -> float:
        return 1.0 if self.mass_idx is None else float(world[self.mass_idx])

    def add(self, world: tuple[bool, ...]) -> bool:
        if world in self.seen:
            return False
        self.seen.add(world)
        self.worlds.append(world)
        self.master.add_column(self.payoff_vector(world), self.mass_of(world))
        return True

    # the oracle: the book's payoff as a weighted sum of sentence indicators -------------
    def linear(self, stakes: Sequence[Any], mass_weight: Any = 0) -> tuple[list, Any]:
        """Weights over ``psi`` and a constant with ``sum_i stakes_i payoff_i(w) - mass_weight [mass](w)
        = weights . psi(w) + constant`` (floats or fractions, whatever ``stakes`` holds)."""
        zero = stakes[0] * 0 if len(stakes) else 0
        weights = [zero] * len(self.psi)
        const = zero
        for i, x in enumerate(stakes):
            if not x:
                continue
            p = self.bets[i].price if isinstance(x, Fraction) else self.prices[i]
            weights[self.win_idx[i]] += x
            if self.act_idx[i] is None:
                const -= x * p
            else:
                weights[self.act_idx[i]] -= x * p
        if mass_weight:
            if self.mass_idx is None:
                const -= mass_weight
            else:
                weights[self.mass_idx] -= mass_weight
        return weights, const

    def known_minimum(self, weights: list[Fraction], const: Fraction) -> tuple[Fraction, tuple[bool, ...]]:
        """Exact minimum of ``weights . psi(w) + const`` over the worlds found so far."""
        values = self.matrix() @ np.array([float(w) for w in weights])
        close = np.flatnonzero(values <= values.min() + 1e-7 * max(1.0, abs(values.min())))
        best = None
        for j in close:
            w = self.worlds[j]
            v = sum((c for c, t in zip(weights, w, strict=True) if t and c), Fraction(0)) + const
            if best is None or v < best[0]:
                best = (v, w)
        return best

    def matrix(self) -> np.ndarray:
        if len(self._matrix) != len(self.worlds):
            self._matrix = np.array(self.worlds, dtype=float).reshape(len(self.worlds), len(self.psi))
        return self._matrix

    # master LP ---------------------------------------------------------------
    def solve_master(self):
        return self.master.solve()


def _new_highs():
    """A silent HiGHS model. HiGHS prints a banner on standard output when the first model of a
    process is made, before any option can turn output off; it would corrupt ``--json`` output."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


_BANNER_SHOWN = False


class _Master:
    """The restricted master LP, kept in one HiGHS model so each round warm-starts from the last basis.

    minimise sum(s+ + s-)  subject to  A lam + s+ - s- = 0 (one row per bet),
    mass . lam = 1, everything >= 0; the columns of A are the payoff vectors of the worlds.
    """

    def __init__(self, n: int):
        import highspy

        self.n = n
        self.k = 0
        h = _new_highs()
        h.setOptionValue("simplex_strategy", 4)  # primal simplex: new columns keep the basis primal feasible
        inf = highspy.kHighsInf
        h.addRows(n + 1, np.r_[np.zeros(n), 1.0], np.r_[np.zeros(n), 1.0], 0, np.zeros(0, np.int32),
                  np.zeros(0, np.int32), np.zeros(0))
        rows = np.repeat(np.arange(n, dtype=np.int32), 2)
        h.addCols(2 * n, np.ones(2 * n), np.zeros(2 * n), np.full(2 * n, inf), 2 * n,
                  np.arange(2 * n, dtype=np.int32), rows, np.tile([1.0, -1.0], n))
        self.h = h
        self._inf = inf

    def add_column(self, payoff: np.ndarray, mass: float) -> None:
        values = np.r_[payoff, mass]
        nz = np.flatnonzero(values).astype(np.int32)
        self.h.addCol(0.0, 0.0, self._inf, len(nz), nz, values[nz])
        self.k += 1

    def basis(self) -> list[int]:
        """HiGHS's last basis as column indices; a basic bet row stands for its ``s+`` column."""
        import highspy

        status = self.h.getBasis()
        basic = highspy.HighsBasisStatus.kBasic
        return ([j for j, v in enumerate(status.col_status) if v == basic]
                + [2 * i for i, v in enumerate(status.row_status) if v == basic and i < self.n])

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, float]:
        """The objective, the world weights, the bet duals and the mass dual."""
        import highspy

        # warm-started primal simplex can stall on these degenerate LPs: cap it, and on a stall
        # solve again from scratch with the dual simplex
        self.h.setOptionValue("simplex_iteration_limit", 20 * (self.n + self.k) + 10_000)
        self.h.run()
        if self.h.getModelStatus() == highspy.HighsModelStatus.kIterationLimit:
            self.h.clearSolver()
            self.h.setOptionValue("simplex_strategy", 1)
            self.h.setOptionValue("simplex_iteration_limit", 2**31 - 1)
            self.h.run()
            self.h.setOptionValue("simplex_strategy", 4)
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverUnknownError(f"the master LP failed: {self.h.modelStatusToString(self.h.getModelStatus())}")
        sol = self.h.getSolution()
        duals = np.asarray(sol.row_dual)
        lam = np.asarray(sol.col_value)[2 * self.n:]
        return float(self.h.getInfo().objective_function_value), lam, duals[: self.n], float(duals[self.n])


def _round(value: float, grid: int | None) -> Fraction:
    """The closest fraction with denominator at most ``grid`` (exactly the float when None)."""
    f = Fraction(float(value))
    return f if grid is None else f.limit_denominator(grid)


def _round_stakes(x: np.ndarray, grid: int | None) -> tuple[Fraction, ...]:
    return tuple(_round(v, grid) for v in np.clip(x, -1.0, 1.0))


def _exact_solve(columns: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """The unique exact solution of ``columns @ lam = rhs`` (None when inconsistent or not unique)."""
    import flint

    m, k = len(rhs), len(columns)
    aug = flint.fmpq_mat(m, k + 1)
    for j, col in enumerate(columns):
        for i, v in enumerate(col):
            if v:
                aug[i, j] = flint.fmpq(v.numerator, v.denominator)
    for i, v in enumerate(rhs):
        if v:
            aug[i, k] = flint.fmpq(v.numerator, v.denominator)
    rref, rank = aug.rref()
    lam: list[Fraction] = [Fraction(0)] * k
    for r in range(rank):
        pivot = next(c for c in range(k + 1) if rref[r, c] != 0)
        if pivot == k or pivot != r:
            return None  # inconsistent (pivot in the rhs column) or dependent columns
        v = rref[r, k]
        lam[r] = Fraction(int(v.p), int(v.q))
    if rank < k:
        return None
    return lam


#: Greedy worlds per round: one in order of the stakes, the rest in perturbed orders.
_GREEDY_WORLDS = 4
_GREEDY_NOISE = 0.3
#: The round at which worlds sampled around the prices join, unless a Dutch book is already certified.
_SAMPLE_AT = 8


def _run_layer(layer: _Layer, *, stop_at_first: bool, progress) -> dict:
    """Column generation on one layer. Returns a dict describing the outcome.

    Each round the master LP gives stakes; greedy searches propose worlds where the stakes
    do badly (columns). z3 is asked for the exact worst world (:meth:`WorldSearch.minimum`)
    only when the rounded stakes look like a Dutch book, or when the greedy search finds
    nothing better.
    """
    rng = np.random.default_rng(0)
    search = layer.search
    probe = layer.mass_idx is not None
    grid_i = 0
    rounds = 0
    start = np.zeros(len(layer.psi))
    if probe:
        start[layer.mass_idx] = -1.0
    layer.add(search.greedy(start))
    sample = not layer.worlds_given and not probe and all(a is None for a in layer.act_idx)
    lower = -math.inf
    if not stop_at_first and sample and _groups_book(layer):
        lower = float(layer.best_book[0])
    budget = _Budget(layer.theory.rlimit)
    local_tried = False
    while True:
        rounds += 1
        if rounds == _SAMPLE_AT and sample and layer.best_book is None:
            _sample_around_prices(layer, rng)
        layer.rounds = rounds
        obj, lam, y, y0 = layer.solve_master()
        layer.upper = obj
        if progress is not None:
            progress(rounds, len(layer.worlds), max(lower, 0.0), obj)
        if obj <= FEASIBILITY_TOL:
            distribution = _certify_distribution(layer, lam)
            if distribution is None:  # closer to the boundary than the float master can separate
                return _finish_exactly(layer, stop_at_first=stop_at_first)
            return {"status": "feasible", "distribution": distribution, "rounds": rounds, "obj": obj}
        # the current book buys x_i units of bet i; a world improves the master when
        # x . payoff(w) - y0 [mass](w) < 0 (for a plain layer y0 = obj)
        x = -y
        added = _greedy_columns(layer, x, y0, rng)
        if not added and not stop_at_first and not probe and budget.missed:
            added = _mip_column(layer, x, y0)  # the exact oracle is slow here: try a faster heuristic first
        grid = _GRIDS[grid_i]
        if not probe:
            stakes = _round_stakes(x, grid)
            exact, exact_const = layer.linear(stakes)
            known, _ = layer.known_minimum(exact, exact_const)
            # certify as soon as the rounded stakes look like a Dutch book (in "optimal" mode
            # too, for the first one: a certified book survives a later z3 resource limit)
            if added and not (known > 0 and (stop_at_first or layer.best_book is None)):
                continue
            # exact: the world where the rounded book pays least (z3 MaxSAT), on a budget that
            # grows after each miss: early books are dense and their minimum is hard to prove
            try:
                value, world = search.minimum(dict(enumerate(exact)), rlimit=budget.rlimit)
            except SolverUnknownError:
                if not local_tried and layer.best_book is None:
                    local_tried = True
                    if _local_book(layer):
                        lower = float(layer.best_book[0])
                        if stop_at_first:
                            return {"status": "book", "rounds": rounds, "obj": obj, "lower": lower}
                if not budget.grow():
                    raise
                continue
            profit = value + exact_const
            if profit > 0 and (layer.best_book is None or profit > layer.best_book[0]):
                layer.best_book = (profit, stakes, world)
                layer.best_proof = None
            lower = max(lower, float(profit))
            if layer.best_book is not None and stop_at_first:
                return {"status": "book", "rounds": rounds, "obj": obj, "lower": lower}
            if profit < known and layer.add(world):
                continue
            if lower >= obj - 1e-9 * max(1.0, obj):
                return {"status": "optimal", "rounds": rounds, "obj": obj, "lower": lower, "lam": lam}
            if added:
                continue
        else:
            if added:
                continue
            stakes = _round_stakes(x, grid)
            exact, exact_const = layer.linear(stakes, _round(y0, grid))
            known, _ = layer.known_minimum(exact, exact_const)
            if known >= 0:
                value, world = search.minimum(dict(enumerate(exact)))
                if value + exact_const < 0 and layer.add(world):
                    continue
                if value + exact_const >= 0 and _round(y0, grid) > 0:
                    # the stakes win y0 > 0 per unit of mass in every possible world: no distribution exists
                    return {"status": "optimal", "rounds": rounds, "obj": obj, "lower": lower, "lam": lam}
        if grid_i + 1 < len(_GRIDS):
            grid_i += 1
            continue
        # no improving world even with exact stakes: the master is optimal; without a certified
        # book, the float master cannot separate the prices from the boundary
        if probe or layer.best_book is None:
            return _finish_exactly(layer, stop_at_first=stop_at_first)
        return {"status": "optimal", "rounds": rounds, "obj": obj, "lower": lower, "lam": lam}


def _local_book(layer: _Layer) -> bool:
    """Look for a Dutch book on a small group of related sentences (:mod:`.local`); record the
    first one z3 certifies as the layer's best book. Unconditional layers with distinct sentences only."""
    if len(layer.psi) != len(layer.bets) or any(a is not None for a in layer.act_idx):
        return False
    bet_of = {k: i for i, k in enumerate(layer.win_idx)}
    prices = [layer.prices[bet_of[k]] for k in range(len(layer.psi))]
    for _, sparse in local_books(layer.search, prices):
        x = np.zeros(len(layer.bets))
        for k, v in sparse.items():
            x[bet_of[k]] = v
        for grid in _GRIDS:
            stakes = _round_stakes(x, grid)
            exact, const = layer.linear(stakes)
            value, world = layer.search.minimum({k: w for k, w in enumerate(exact) if w})
            if value + const > 0:
                layer.best_book = (value + const, stakes, world)
                layer.best_proof = None
                return True
    return False


def _groups_book(layer: _Layer) -> bool:
    """Record the sum of the books on groups of related sentences (:func:`.summed_books`) as the layer's best
    book; unconditional layers with distinct sentences only. Its profit is proved without the exact oracle:
    the least payoff of each group's stakes over all the group's possible truth vectors, in exact
    arithmetic, summed. When a greedy world of the whole book pays exactly that sum, it is the book's exact
    minimum."""
    if len(layer.psi) != len(layer.bets) or any(a is not None for a in layer.act_idx):
        return False
    if len(layer.psi) <= SUMMED_GROUP_SIZE:
        return False  # one group would be the whole question, which column generation answers directly
    bet_of = {k: i for i, k in enumerate(layer.win_idx)}
    prices = [layer.prices[bet_of[k]] for k in range(len(layer.psi))]
    groups = [(group, vectors, _round_stakes(x, 4096)) for group, vectors, x in summed_books(layer.search, prices)]
    stakes = [Fraction(0)] * len(layer.bets)
    for group, _, rounded in groups:
        for k, v in zip(group, rounded, strict=True):
            stakes[bet_of[k]] += v
    # rounding may take a total stake just past 1: scale every group's book down alike
    scale = min([Fraction(1), *(1 / abs(v) for v in stakes if v)])
    stakes = [v * scale for v in stakes]
    bound = scale * sum((min(sum((v * ((1 if t else 0) - layer.bets[bet_of[k]].price)
                                  for k, v, t in zip(group, rounded, vector, strict=True) if v), Fraction(0))
                             for vector in vectors) for group, vectors, rounded in groups), Fraction(0))
    if bound <= 0 or (layer.best_book is not None and bound <= layer.best_book[0]):
        return False
    weights, const = layer.linear(stakes)
    world = layer.search.greedy(np.array([float(w) for w in weights]))
    exact = sum((w for w, t in zip(weights, world, strict=True) if t), const) == bound
    layer.best_book = (bound, tuple(stakes), world)
    groups_proof = (f"the sum over {len(groups)} groups of related sentences of each group's book's least payoff "
                    "over every possible truth vector of the group (enumerated by SAT), in exact arithmetic")
    layer.best_proof = (f"exact minimum: {groups_proof}, attained in a possible world" if exact
                        else f"at least: {groups_proof}")
    return True


#: Seconds of HiGHS's MIP search for an improving world once the greedy search finds none and the
#: exact oracle has hit its resource limit.
_MIP_SECONDS = 5.0
#: Improving worlds after which the MIP search stops.
_MIP_SOLUTIONS = 2


def _mip_column(layer: _Layer, x: np.ndarray, y0: float) -> int:
    """Add the world HiGHS's MIP solver finds within :data:`_MIP_SECONDS` where the book ``x`` pays less
    than ``y0``, if it does (a heuristic: no proof that no such world exists); 1 if one was added."""
    weights, const = layer.linear(x, y0)
    world = layer.search.mip_world(np.array(weights), _MIP_SECONDS, below=-float(const), solutions=_MIP_SOLUTIONS)
    if world is None or float(np.array(weights) @ np.array(world, dtype=float)) + const >= -1e-9:
        return 0
    return int(layer.add(world))


def _greedy_columns(layer: _Layer, x: np.ndarray, y0: float, rng: np.random.Generator, *,
                    tries: int = _GREEDY_WORLDS, noise: float = _GREEDY_NOISE) -> int:
    """Add greedy worlds where the book ``x`` pays less than ``y0`` (improving columns); how many were new.

    The first search follows the stakes' order, the others perturbed orders (``noise``)."""
    weights, const = layer.linear(x, y0)
    weights = np.array(weights)
    added = 0
    for j in range(tries):
        world = layer.search.greedy(weights, rng=rng, noise=0.0 if j == 0 else noise)
        if float(weights @ np.array(world, dtype=float)) + const < -1e-9 and layer.add(world):
            added += 1
    return added


def find_distribution(prices: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
                      theory: Theory | Iterable[Any] | None = None, *,
                      worlds: Iterable[Sequence[bool]] = (), search: WorldSearch | None = None,
                      max_rounds: int = 200, exact_rlimit: int = 5_000_000,
                      ) -> list[tuple[Fraction, tuple[bool, ...]]] | None:
    """A distribution over possible worlds that reproduces the prices of distinct sentences exactly, or None.

    The column generation of :func:`check_coherence` with greedy worlds (in the stakes' order,
    then in perturbed orders, then sampled around the prices) and, when those stall, exact calls
    capped at ``exact_rlimit`` each. It is fast and one-sided: None means that no useful world
    was found in time (the prices may still be coherent), never that they are incoherent.
    ``prices`` are ``{sentence: price}`` or ``(sentence, price)`` pairs as in
    :func:`check_coherence`, each sentence once. ``worlds`` are known possible worlds (truth
    values of the priced sentences in input order), ``search`` a :class:`WorldSearch` over those
    sentences in that order to reuse. Each world returned is the truth values of the priced
    sentences; the distribution is exact (fractions).

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, b = atoms("a b")
    >>> found = find_distribution({a: "0.5", b: "0.5", a & b: "0.25"})
    >>> sum(p for p, _ in found), [sum(p for p, w in found if w[i]) for i in range(3)]
    (Fraction(1, 1), [Fraction(1, 2), Fraction(1, 2), Fraction(1, 4)])
    """
    bets = [Bet(s, _price(p, Bet(s, Fraction(0)), 0.0)) for s, p in sentence_prices(prices)]
    if not bets:
        raise DeclarationError("no prices given: pass {sentence: price}, e.g. {a: 0.5, b: 0.5}")
    if theory is None:
        theory = Theory()
    elif not isinstance(theory, Theory):
        theory = Theory(theory)
    layer = _Layer(theory, bets, None, TRUE, None, search=search)
    if len(layer.psi) != len(bets):
        raise DeclarationError("find_distribution needs distinct sentences")
    for w in worlds:
        layer.add(tuple(bool(v) for v in w))
    if not layer.worlds:
        layer.add(layer.search.greedy(np.zeros(len(bets))))
    rng = np.random.default_rng(0)
    sampled = False
    for rounds in range(1, max_rounds + 1):
        obj, lam, y, y0 = layer.solve_master()
        if obj <= FEASIBILITY_TOL:
            return _certify_distribution(layer, lam)
        added = _greedy_columns(layer, -y, y0, rng)
        if not sampled and (rounds == _SAMPLE_AT or not added):
            _sample_around_prices(layer, rng)
            sampled = True
            continue
        if added:
            continue
        if _greedy_columns(layer, -y, y0, rng, tries=4 * _GREEDY_WORLDS, noise=1.0):
            continue
        # the greedy search is stuck: one exact call for the world where the book pays least
        weights, const = layer.linear(_round_stakes(-y, 4096), _round(y0, 4096))
        try:
            value, world = layer.search.minimum(dict(enumerate(weights)), rlimit=exact_rlimit)
        except SolverUnknownError:
            return None
        if not (value + const < 0 and layer.add(world)):
            return None
    return None


class _Budget:
    """z3's resource limit for exact oracle calls: 1/64 of the theory's at first, four times more after each miss."""

    def __init__(self, full: int):
        self.full = full
        self.rlimit = max(1, full // 64)

    @property
    def missed(self) -> bool:
        """Whether an exact call has hit its limit (the limit has grown)."""
        return self.rlimit > max(1, self.full // 64)

    def grow(self) -> bool:
        """Raise the limit; False when it is already the theory's."""
        if self.rlimit >= self.full:
            return False
        self.rlimit = min(self.full, 4 * self.rlimit)
        return True


def _sample_around_prices(layer: _Layer, rng: np.random.Generator) -> None:
    """Add one world per bet in which each sentence prefers to be true with probability its price.

    Their hull tends to surround coherent prices, which the master's saturated duals approach
    slowly: ten times fewer rounds at 300 sentences."""
    for _ in range(len(layer.bets)):
        want = rng.random(len(layer.bets)) < layer.prices
        weights, _ = layer.linear(np.where(want, -1.0, 1.0) * rng.random(len(layer.bets)))
        layer.add(layer.search.greedy(np.array(weights)))


def _certify_distribution(layer: _Layer, lam: np.ndarray) -> list[tuple[Fraction, tuple[bool, ...]]] | None:
    support = [j for j, v in enumerate(lam) if v > 1e-12]
    columns = []
    for j in support:
        w = layer.worlds[j]
        col = layer.exact_column(w)
        col.append(Fraction(1) if layer.mass_idx is None else Fraction(int(w[layer.mass_idx])))
        columns.append(col)
    rhs = [Fraction(0)] * len(layer.bets) + [Fraction(1)]
    exact = _exact_solve(columns, rhs)
    if exact is None or any(v < 0 for v in exact):
        # weights near HiGHS's tolerance (prices within ~1e-8 of a face): solve exactly over every known world
        return _exact_hull(layer)
    return [(v, layer.worlds[j]) for v, j in zip(exact, support, strict=True) if v > 0]


def _exact_hull(layer: _Layer) -> list[tuple[Fraction, tuple[bool, ...]]] | None:
    """A distribution over the layer's known worlds that meets every bet exactly, or None when there is
    none: the master LP over the known worlds, solved in exact arithmetic."""
    master = _exact_master(layer)
    solution = master.solve()
    return master.distribution(solution) if solution.value == 0 else None


# ---------------------------------------------------------------------------
# exact column generation, where the float master cannot decide
# ---------------------------------------------------------------------------
def _finish_exactly(layer: _Layer, *, stop_at_first: bool) -> dict:
    """Column generation in exact rational arithmetic: the master over the known worlds solved exactly
    (:class:`_ExactMaster`), its stakes priced exactly over every possible world (greedy worlds checked
    in fractions, then :meth:`WorldSearch.minimum`), until the master's value is 0 (a distribution over
    known worlds) or its stakes win that value in every possible world. Returns what :func:`_run_layer`
    returns; the value of an optimal book is ``"exact"``, a Fraction."""
    probe = layer.mass_idx is not None
    master = _exact_master(layer)
    rng = np.random.default_rng(0)
    while True:
        solution = master.solve()
        value = solution.value
        layer.upper = float(value)
        if value == 0:
            return {"status": "feasible", "distribution": master.distribution(solution), "rounds": layer.rounds,
                    "obj": 0.0}
        stakes = tuple(-v for v in solution.dual[: len(layer.bets)])
        weights, const = layer.linear(stakes, value if probe else 0)
        target = 0 if probe else value
        if _greedy_exact_columns(layer, weights, const - target, rng):
            continue
        low, world = layer.search.minimum(dict(enumerate(weights)))
        low += const
        if not probe and low > 0 and (layer.best_book is None or low > layer.best_book[0]):
            layer.best_book = (low, stakes, world)
            layer.best_proof = None
            if stop_at_first:
                return {"status": "book", "rounds": layer.rounds, "obj": float(value), "lower": float(low)}
        if low >= target:
            out = {"status": "optimal", "rounds": layer.rounds, "obj": float(value), "exact": value,
                   "lower": float(low)}
            if not probe and all(a is None for a in layer.act_idx):
                out["nearest"] = master.nearest(solution)
            return out
        if not layer.add(world):
            raise AssertionError("the exact oracle returned a known world below the exact master's value")


def _greedy_exact_columns(layer: _Layer, weights: list[Fraction], const: Fraction, rng: np.random.Generator) -> int:
    """Add greedy worlds where ``weights . psi(w) + const < 0`` in exact arithmetic; how many were new."""
    order = np.array([float(w) for w in weights])
    added = 0
    for j in range(_GREEDY_WORLDS):
        world = layer.search.greedy(order, rng=rng, noise=0.0 if j == 0 else _GREEDY_NOISE)
        if sum((w for w, t in zip(weights, world, strict=True) if t), const) < 0 and layer.add(world):
            added += 1
    return added


def _exact_master(layer: _Layer) -> _ExactMaster:
    if layer.exact is None:
        layer.exact = _ExactMaster(layer)
    return layer.exact


class _ExactMaster:
    """The layer's master LP in exact rational arithmetic (:class:`ExactLP`), with the float master's
    columns in the same order (``s+`` and ``s-`` of each bet, then the worlds): the first solve starts
    from HiGHS's basis, each later one from the last exact basis."""

    def __init__(self, layer: _Layer):
        from deepmarkets.logic.exact_lp import ExactLP  # python-flint loads only when needed

        n = len(layer.bets)
        self.layer, self.n = layer, n
        self.lp = ExactLP([Fraction(0)] * n + [Fraction(1)])
        for i in range(n):
            self.lp.add_column({i: 1}, 1)
            self.lp.add_column({i: -1}, 1)
        self.basis = layer.master.basis()
        # world columns as integers over the prices' common denominator
        self.denominator = math.lcm(*(b.price.denominator for b in layer.bets))
        self.priced = [b.price.numerator * (self.denominator // b.price.denominator) for b in layer.bets]

    def solve(self) -> ExactSolution:
        """An exactly optimal solution over the worlds the layer knows now."""
        from deepmarkets.logic.exact_lp import SingularBasis

        layer = self.layer
        d = self.denominator
        for w in layer.worlds[len(self.lp) - 2 * self.n:]:
            payoff = [(d if w[wi] else 0) - p if ai is None or w[ai] else 0
                      for p, wi, ai in zip(self.priced, layer.win_idx, layer.act_idx, strict=True)]
            self.lp.add_column([*payoff, d if layer.mass_idx is None or w[layer.mass_idx] else 0], denominator=d)
        try:
            solution = self.lp.solve(self.basis, tick=self._tick, highs=_new_highs)
        except SingularBasis:
            solution = self.lp.solve(self._slack_basis(), tick=self._tick, highs=_new_highs)
        self.basis = list(solution.basis)
        return solution

    def distribution(self, solution: ExactSolution) -> list[tuple[Fraction, tuple[bool, ...]]]:
        return [(v, self.layer.worlds[j - 2 * self.n]) for j, v in sorted(solution.primal.items()) if j >= 2 * self.n]

    def nearest(self, solution: ExactSolution) -> tuple[float, ...]:
        """The coherent prices ``p - s+ + s-`` of an optimal solution (unconditional bets)."""
        x = solution.primal
        return tuple(float(b.price - x.get(2 * i, 0) + x.get(2 * i + 1, 0)) for i, b in enumerate(self.layer.bets))

    def _slack_basis(self) -> list[int]:
        """A feasible basis: one world of mass 1, each bet's payoff there absorbed by its slack."""
        layer = self.layer
        j = next(j for j, w in enumerate(layer.worlds) if layer.mass_idx is None or w[layer.mass_idx])
        column = layer.exact_column(layer.worlds[j])
        return [2 * self.n + j, *(2 * i + 1 if v > 0 else 2 * i for i, v in enumerate(column))]

    def _tick(self) -> None:
        if self.layer.deadline is not None and time.monotonic() > self.layer.deadline:
            raise OutOfTime


# ---------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------
def check_coherence(
    prices: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None = None,
    theory: Theory | Iterable[Any] | None = None,
    conditional: Mapping[tuple[Any, Any], Any] | Iterable[tuple[Any, Any, Any]] | None = None,
    *,
    profit: str = "optimal",
    time_limit: float | None = None,
    progressbar: bool = True,
    worlds: Iterable[Sequence[bool]] | None = None,
    tolerance: float = 1e-9,
) -> CoherenceReport:
    """Check whether prices on sentences are coherent; certify the answer either way.

    The verdict is exact whatever the prices' last digits: where floating point cannot tell
    the prices from the boundary of the coherent set, the check finishes in rational arithmetic.

    Parameters
    ----------
    prices : mapping or pairs
        ``{sentence: price}``; sentences may be :class:`Sentence` objects, text, z3 or
        sympy Booleans. Prices are exact decimals: ``0.3`` means 3/10.
    theory : Theory or iterable of sentences, optional
        Axioms restricting the possible worlds.
    conditional : mapping or triples, optional
        ``{(A, B): p}`` for ``P(A | B) = p`` (called-off bets).
    profit : {"optimal", "first"}
        ``"optimal"`` runs column generation to optimality, so ``max_profit`` is exact;
        ``"first"`` stops at the first certified Dutch book and reports bounds.
    time_limit : float, optional
        Seconds of wall-clock time (a positive number; None: no limit); on expiry the verdict
        is UNKNOWN unless a Dutch book was already certified (then INCOHERENT with the best
        certified book and bounds on the max profit, and ``stats["time_limit_reached"]``).
    progressbar : bool
        Show rounds, worlds and the bounds on the max profit on standard error while working:
        a status line on a terminal, elsewhere a line every 5 s (none for a shorter check).
    worlds : iterable of truth-vectors, optional
        Worlds known to be possible, each the truth values of the priced sentences in input
        order (unconditional prices only), used as the first columns. A market that keeps its
        quotes in the convex hull of known worlds is certified in milliseconds this way. Each
        world is checked against the theory first.
    tolerance : float
        Incoherence up to this much (the largest guaranteed profit with stakes in [-1, 1], which
        is the L1 distance to coherent prices) is reported as rounding noise:
        ``within_tolerance`` is True and the summary names the nearest coherent prices; the
        verdict stays exact. Prices at most this far outside [0, 1] are accepted (with a note)
        instead of rejected.

    Returns
    -------
    CoherenceReport

    Examples
    --------
    >>> from deepmarkets.logic import atoms, check_coherence
    >>> a, b = atoms("a b")
    >>> r = check_coherence({a: 0.6, b: 0.7, a & b: 0.2})
    >>> r.verdict.value, r.max_profit
    ('incoherent', 0.1)
    >>> [p.side for p in r.dutch_book.positions]
    ['sell', 'sell', 'buy']

    Floating-point prices a hair incoherent keep their exact verdict, and say how far off they are:

    >>> r = check_coherence({a: 0.43000000000000005, ~a: 0.5700000000000001})
    >>> r.verdict.value, r.dutch_book.guaranteed_profit, r.within_tolerance
    ('incoherent', Fraction(3, 20000000000000000), True)
    """
    if profit not in ("optimal", "first"):
        raise DeclarationError(f"profit must be 'optimal' or 'first', got {profit!r}")
    started = time.monotonic()
    deadline = None if time_limit is None else started + _time_limit(time_limit)
    tolerance = _tolerance(tolerance)
    bets, origin, notes = _merge_repeats(_bets(prices, conditional, tolerance))
    notes += _outside_notes(bets, tolerance)
    if worlds is not None and len(bets) < len(origin):
        worlds = _merged_worlds(worlds, origin, len(bets))
    if theory is None:
        theory = Theory()
    elif not isinstance(theory, Theory):
        theory = Theory(theory)
    try:
        if not theory.is_consistent():
            where = f"{theory.source}: " if theory.source else ""
            raise DeclarationError(f"{where}the theory has no possible world: its axioms contradict each other")
        for b in bets:
            if b.given is not None and not theory.is_possible(b.given):
                return CoherenceReport(
                    Verdict.UNKNOWN, tuple(bets),
                    reason=f"the conditioning event {b.given} is impossible under the theory, so "
                    f"P({b.label}) is undefined; remove that price", notes=notes, tolerance=tolerance,
                )
    except SolverUnknownError as err:
        return CoherenceReport(Verdict.UNKNOWN, tuple(bets), reason=str(err), notes=notes, tolerance=tolerance)

    progress = _Progress(progressbar)
    try:
        with progress:
            report = _check(bets, theory, profit == "first", deadline, started, progress, worlds)
            return _judged(replace(report, notes=notes), tolerance)
    except SolverUnknownError as err:
        return CoherenceReport(Verdict.UNKNOWN, tuple(bets), reason=str(err),
                               stats={"seconds": time.monotonic() - started}, notes=notes, tolerance=tolerance)


class _Progress(StatusLine):
    """Rounds, worlds and the bounds on the max profit, on standard error (:class:`StatusLine`)."""

    def __init__(self, enabled: bool):
        super().__init__("checking coherence", enabled=enabled)

    def __call__(self, rounds: int, worlds: int, lower: float, upper: float):
        self.update(f"round {rounds}: {worlds} worlds, max profit in [{lower:.4g}, {upper:.4g}]")


def _check(bets, theory, stop_at_first, deadline, started, progress, known_worlds=None) -> CoherenceReport:
    conditional = any(b.given is not None for b in bets)
    remaining = list(range(len(bets)))
    layers = []
    stats = {"rounds": 0, "worlds": 0, "oracle_calls": 0, "exact_calls": 0}
    while remaining:
        layer_bets = [bets[i] for i in remaining]
        if any(b.given is None for b in layer_bets):
            restriction = None
        else:
            restriction = layer_bets[0].given
            for b in layer_bets[1:]:
                restriction = restriction | b.given
        layer = _Layer(theory, layer_bets, restriction, TRUE, deadline)
        if known_worlds is not None and not layers:
            _seed(layer, known_worlds)
            layer.worlds_given = True
        try:
            out = _run_layer(layer, stop_at_first=stop_at_first, progress=progress)
        except OutOfTime:
            out = {"status": "timeout"}
            stats["time_limit_reached"] = True
        except SolverUnknownError as err:
            if layer.best_book is None:
                raise
            out = {"status": "timeout", "why": str(err)}  # a certified book stands; only the bounds stay open
        stats["rounds"] += layer.rounds
        stats["worlds"] += len(layer.worlds)
        stats["oracle_calls"] += layer.search.greedy_calls + layer.search.exact_calls
        stats["exact_calls"] += layer.search.exact_calls
        stats["seconds"] = time.monotonic() - started
        if out["status"] != "feasible":
            if layer.best_book is None:  # only a time limit ends a layer without a certificate
                return CoherenceReport(Verdict.UNKNOWN, tuple(bets), reason=_timeout_reason(started), stats=stats)
            profit_, stakes, world = layer.best_book
            book = DutchBook(
                tuple(Position(b, s) for b, s in zip(layer_bets, stakes, strict=True) if s), profit_, world,
                **({"proof": layer.best_proof} if layer.best_proof else {}),
            )
            if out["status"] == "optimal":
                value = round(out["obj"], 12) if "exact" not in out else float(out["exact"])
                nearest = out.get("nearest")
                if nearest is None and not conditional:
                    shift = sum(v * layer.payoff_vector(w) for v, w in zip(out["lam"], layer.worlds, strict=True))
                    nearest = tuple(float(v) for v in np.clip(layer.prices + shift, 0.0, 1.0))
                return CoherenceReport(Verdict.INCOHERENT, tuple(bets), dutch_book=book, max_profit=value,
                                       l1_distance=None if conditional else value, nearest_prices=nearest,
                                       stats=stats)
            why = {"book": "stopped at the first certified Dutch book (profit='first')",
                   "timeout": f"stopped before the optimum: {out.get('why', 'time limit reached')}"}[out["status"]]
            return CoherenceReport(Verdict.INCOHERENT, tuple(bets), dutch_book=book,
                                   max_profit_bounds=(float(profit_), layer.upper), reason=why, stats=stats)
        # feasible layer: certified exactly in _run_layer
        distribution = out["distribution"]
        if not conditional:
            return CoherenceReport(
                Verdict.COHERENT, tuple(bets), distribution=tuple(_full_world(layer, d) for d in distribution),
                layers=(tuple(distribution),), max_profit=0.0, l1_distance=0.0,
                nearest_prices=tuple(float(b.price) for b in bets), stats=stats,
            )
        # conditional: which conditioning events can carry positive mass in some solution?
        positive = {i for i, b in enumerate(layer_bets)
                    if b.given is None or any(p > 0 and w[layer.act_idx[i]] for p, w in distribution)}
        zero = []
        for i, b in enumerate(layer_bets):
            if i in positive:
                continue
            probe = _Layer(theory, layer_bets, restriction, b.given, deadline)
            try:
                res = _run_layer(probe, stop_at_first=False, progress=None)
            except OutOfTime:
                stats["time_limit_reached"] = True
                return CoherenceReport(Verdict.UNKNOWN, tuple(bets), reason=_timeout_reason(started), stats=stats)
            stats["oracle_calls"] += probe.search.greedy_calls + probe.search.exact_calls
            stats["exact_calls"] += probe.search.exact_calls
            if res["status"] == "feasible":
                positive.add(i)
            else:
                zero.append(i)
        if not layers:
            first_layer = tuple(_full_world(layer, d) for d in distribution)
        layers.append(tuple(distribution))
        if len(zero) == len(layer_bets):
            raise AssertionError("a feasible layer always gives positive mass to some conditioning event")
        remaining = [remaining[i] for i in zero]
    stats["seconds"] = time.monotonic() - started
    return CoherenceReport(Verdict.COHERENT, tuple(bets), distribution=first_layer, layers=tuple(layers),
                           max_profit=0.0, stats=stats)


def _seed(layer: _Layer, worlds: Iterable[Sequence[bool]]) -> None:
    """Add worlds given as truth values of the bets' sentences, after checking each is possible."""
    if layer.mass_idx is not None or any(a is not None for a in layer.act_idx):
        raise DeclarationError("worlds= is supported for unconditional prices only")
    for j, given in enumerate(worlds):
        given = tuple(given)
        if len(given) != len(layer.bets):
            raise DeclarationError(f"world {j} has {len(given)} truth values; expected one per price "
                                   f"({len(layer.bets)})")
        world: list[bool | None] = [None] * len(layer.psi)
        for i, v in enumerate(given):
            if world[layer.win_idx[i]] not in (None, bool(v)):
                raise DeclarationError(f"world {j} gives the sentence {layer.bets[i].sentence} two truth values")
            world[layer.win_idx[i]] = bool(v)
        if not layer.search.is_possible(world):
            raise DeclarationError(f"world {j} is not possible under the theory; worlds= must hold possible worlds")
        layer.add(tuple(world))


def _full_world(layer: _Layer, item):
    p, w = item
    return p, tuple((w[wi], True if ai is None else w[ai]) for wi, ai in zip(layer.win_idx, layer.act_idx,
                                                                              strict=True))


def _timeout_reason(started) -> str:
    return f"time limit reached after {time.monotonic() - started:.1f} s before any certificate was found"

