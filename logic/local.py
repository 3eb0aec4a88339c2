"""Dutch books on small groups of related sentences.

A Dutch book on a few of the priced sentences is a Dutch book on all of them (the other
stakes are zero). When many sentences are priced at random, the incoherence usually sits in a
few sentences that share symbols, while the book the master LP proposes early on stakes every
sentence and its worst world is too hard for exact MaxSAT. :func:`local_books` looks at each
sentence with its neighbours (the sentences sharing a symbol with it), lists every truth vector
of the group that the theory allows (incremental SAT under assumptions, so nothing is
enumerated beyond the group) and solves the group's small LP. Groups whose prices are
incoherent give sparse books, which the caller certifies exactly.

Books on groups add up, even on groups that overlap: :func:`summed_books` chooses one book per
group so that their sum, with stakes in [-1, 1] per sentence, has the largest sum of the groups'
least payoffs (one LP over all the groups' truth vectors). The sum is a Dutch book that wins at
least that much in every possible world, a bound proved by the groups' enumerated truth vectors
alone, with no search over whole worlds. It is the max profit against a relaxation of the coherent
set (prices whose restriction to every group is coherent), so it is a lower bound on the max profit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from deepmarkets.logic.sentence import Sentence, _constants
from deepmarkets.logic.worlds import WorldSearch

__all__ = ["neighbourhoods", "group_truth_vectors", "local_books", "summed_books"]

#: Largest group: a sentence and up to this many minus one neighbours.
GROUP_SIZE = 6
#: Largest group of :func:`summed_books`: every group is enumerated, so they are kept small.
SUMMED_GROUP_SIZE = 4


def _symbols(s: Sentence) -> frozenset[str]:
    return frozenset(d.name() for d in _constants(s.z3))


def neighbourhoods(sentences: Sequence[Sentence], size: int = GROUP_SIZE) -> list[tuple[int, ...]]:
    """Groups of sentence indices: each sentence with the neighbours sharing most symbols with it.

    Pairs of neighbours come first (the cheapest groups, and the commonest source of
    incoherence), then the larger groups; duplicates are dropped."""
    symbols = [_symbols(s) for s in sentences]
    holders: dict[str, list[int]] = {}
    for i, names in enumerate(symbols):
        for name in names:
            holders.setdefault(name, []).append(i)
    pairs: list[tuple[int, ...]] = []
    groups: list[tuple[int, ...]] = []
    for i, names in enumerate(symbols):
        shared: dict[int, int] = {}
        for name in names:
            for j in holders[name]:
                if j != i:
                    shared[j] = shared.get(j, 0) + 1
        nearest = sorted(shared, key=lambda j: (-shared[j], j))[: size - 1]
        pairs += [tuple(sorted((i, j))) for j in nearest]
        groups.append(tuple(sorted((i, *nearest))))
    seen: set[tuple[int, ...]] = set()
    out = []
    for g in [*pairs, *groups]:
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out


def group_truth_vectors(search: WorldSearch, group: Sequence[int]) -> list[tuple[bool, ...]]:
    """Every truth vector of ``search.sentences[k]`` for k in ``group`` that some possible world has.

    Depth-first over the group; each branch that a known world already reaches costs no solver call."""
    out: list[tuple[bool, ...]] = []

    def walk(depth: int, chosen: list[tuple[int, bool]], world: tuple[bool, ...]) -> None:
        if depth == len(group):
            out.append(tuple(v for _, v in chosen))
            return
        k = group[depth]
        walk(depth + 1, [*chosen, (k, world[k])], world)
        other = search.world_where(dict([*chosen, (k, not world[k])]))
        if other is not None:
            walk(depth + 1, [*chosen, (k, not world[k])], other)

    first = search.world_where({})
    if first is not None:
        walk(0, [], first)
    return out


def _group_book(vectors: list[tuple[bool, ...]], prices: np.ndarray) -> tuple[float, np.ndarray]:
    """Max over stakes x in [-1, 1]^k of min over the vectors of x . (v - prices), and the stakes."""
    import highspy

    from deepmarkets.logic.coherence import _new_highs  # a silent model

    k = len(prices)
    payoff = np.array(vectors, dtype=float).reshape(len(vectors), k) - prices
    # variables (x, t): maximise t subject to t - payoff x <= 0
    h = _new_highs()
    inf = highspy.kHighsInf
    h.addVars(k + 1, np.r_[-np.ones(k), -inf], np.r_[np.ones(k), inf])
    h.changeColsCost(k + 1, np.arange(k + 1, dtype=np.int32), np.r_[np.zeros(k), -1.0])
    rows = np.c_[-payoff, np.ones(len(payoff))]
    h.addRows(len(rows), np.full(len(rows), -inf), np.zeros(len(rows)), rows.size,
              np.arange(0, rows.size, k + 1, dtype=np.int32), np.tile(np.arange(k + 1, dtype=np.int32), len(rows)),
              rows.ravel())
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return 0.0, np.zeros(k)
    x = np.asarray(h.getSolution().col_value)
    return float(x[k]), x[:k]


def local_books(search: WorldSearch, prices: Sequence[float], *,
                size: int = GROUP_SIZE) -> Iterator[tuple[float, dict[int, float]]]:
    """Sparse books ``(profit, {sentence index: stake})`` that win on every possible truth vector of
    their group, in the order the groups are searched. ``prices[k]`` is the price of
    ``search.sentences[k]``. The profit is a floating-point LP value: certify it exactly."""
    prices = np.asarray(prices, dtype=float)
    for group in neighbourhoods(search.sentences, size):
        vectors = group_truth_vectors(search, group)
        profit, stakes = _group_book(vectors, prices[list(group)])
        if profit > 1e-9:
            yield profit, {k: float(x) for k, x in zip(group, stakes, strict=True) if abs(x) > 1e-12}


def summed_books(search: WorldSearch, prices: Sequence[float], *, size: int = SUMMED_GROUP_SIZE,
                 ) -> list[tuple[tuple[int, ...], list[tuple[bool, ...]], np.ndarray]]:
    """Books on the groups of :func:`neighbourhoods` (up to ``size`` sentences) whose sum, with every
    sentence's total stake in [-1, 1], maximises the sum of the groups' least payoffs over their truth
    vectors: ``(group, truth vectors, stakes)`` for each group with a nonzero book.

    ``truth vectors`` are all the group's possible truth vectors, so the least payoff of ``stakes``
    over them, computed exactly by the caller, is what the group's book wins at least in every
    possible world, and the sum over groups is what the summed book wins at least.
    """
    import highspy

    from deepmarkets.logic.coherence import _new_highs  # a silent model

    prices = np.asarray(prices, dtype=float)
    groups = neighbourhoods(search.sentences, size)
    vectors = [group_truth_vectors(search, g) for g in groups]
    # variables per group: its stakes x_G, then t_G <= x_G . (v - p_G) for every truth vector v
    offsets = np.cumsum([0, *(len(g) + 1 for g in groups)])
    n = int(offsets[-1])
    inf = highspy.kHighsInf
    h = _new_highs()
    h.addVars(n, np.full(n, -inf), np.full(n, inf))
    cost = np.zeros(n)
    cost[offsets[1:] - 1] = -1.0  # maximise the sum of the t_G
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
    starts, index, value, upper = [], [], [], []
    for g, vs, o in zip(groups, vectors, offsets, strict=False):
        payoff = np.array(vs, dtype=float).reshape(len(vs), len(g)) - prices[list(g)]
        cols = [int(o + len(g)), *range(int(o), int(o) + len(g))]
        for row in payoff:
            starts.append(len(index))
            index += cols
            value += [1.0, *(-row)]
            upper.append(0.0)
    h.addRows(len(upper), np.full(len(upper), -inf), np.array(upper), len(index), np.array(starts, np.int32),
              np.array(index, np.int32), np.array(value))
    holders: dict[int, list[int]] = {}
    for g, o in zip(groups, offsets, strict=False):
        for j, k in enumerate(g):
            holders.setdefault(k, []).append(int(o) + j)
    cols = list(holders.values())  # every sentence's total stake in [-1, 1]
    h.addRows(len(cols), -np.ones(len(cols)), np.ones(len(cols)), sum(map(len, cols)),
              np.cumsum([0, *map(len, cols[:-1])]).astype(np.int32), np.array([c for cs in cols for c in cs], np.int32),
              np.ones(sum(map(len, cols))))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return []
    x = np.asarray(h.getSolution().col_value)
    out = []
    for g, vs, o in zip(groups, vectors, offsets, strict=False):
        stakes = x[int(o):int(o) + len(g)]
        if np.any(np.abs(stakes) > 1e-12):
            out.append((g, vs, stakes))
    return out
