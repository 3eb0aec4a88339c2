"""Instance factories and a brute-force oracle for tests and benchmarks.

``brute_force_coherence`` enumerates all 2^n assignments of the atoms, so it is only
for small cases; it is the independent answer that :func:`check_coherence` is tested
and benchmarked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import z3
from scipy.optimize import linprog

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, to_fraction
from deepmarkets.logic.prices import sentence_prices
from deepmarkets.logic.sentence import Sentence, atoms
from deepmarkets.logic.theory import Theory

__all__ = ["CNFInstance", "random_cnf_instance", "random_face_instance", "brute_force_coherence",
           "brute_force_max_profit", "evaluate_all", "possible_truth_table"]


@dataclass(frozen=True)
class CNFInstance:
    """Random clauses as sentences under a random 3-CNF theory, with prices."""

    sentences: tuple[Sentence, ...]
    theory: Theory
    prices: tuple[float | str, ...]  # decimal strings where the exact digits matter
    coherent_by_construction: bool

    @property
    def price_map(self) -> list[tuple[Sentence, float]]:
        return list(zip(self.sentences, self.prices, strict=True))


def _clause(xs, rng, k=3) -> Sentence:
    idx = rng.choice(len(xs), size=min(k, len(xs)), replace=False)
    lits = [xs[i] if rng.random() < 0.5 else ~xs[i] for i in idx]
    out = lits[0]
    for lit in lits[1:]:
        out = out | lit
    return out


def random_possible_worlds(theory: Theory, n_atoms: int, count: int, rng) -> list[dict[str, bool]]:
    """Random possible worlds: random atom values, repaired by dropping unsat-core assumptions."""
    rng = as_rng(rng)
    names = [f"x{i}" for i in range(n_atoms)]
    s = theory.solver()
    worlds = []
    for _ in range(count):
        target = {n: bool(rng.random() < 0.5) for n in names}
        active = {n: (z3.Bool(n) if v else z3.Not(z3.Bool(n))) for n, v in target.items()}
        while s.check(*active.values()) != z3.sat:
            core = {c.get_id() for c in s.unsat_core()}
            if not core:
                raise DeclarationError("the theory has no possible world")
            for n in [n for n, lit in active.items() if lit.get_id() in core]:
                del active[n]
        m = s.model()
        worlds.append({n: z3.is_true(m.eval(z3.Bool(n), model_completion=True)) for n in names})
    return worlds


def random_cnf_instance(
    n_atoms: int,
    n_sentences: int,
    clause_ratio: float = 2.0,
    *,
    coherent: bool,
    rng: int | np.random.Generator | None = None,
    mixture: int | None = None,
    literals: int = 3,
) -> CNFInstance:
    """Random clauses of ``literals`` literals priced under a random satisfiable 3-CNF theory.

    With ``coherent=True`` the prices are a random mixture of ``mixture`` possible worlds
    (default ``n_sentences + 1``), hence coherent; otherwise uniform on [0, 1].
    """
    rng = as_rng(rng)
    xs = atoms([f"x{i}" for i in range(n_atoms)])
    for _ in range(100):
        theory = Theory([_clause(xs, rng) for _ in range(int(round(clause_ratio * n_atoms)))])
        if theory.is_consistent():
            break
    else:
        raise DeclarationError("could not draw a satisfiable random theory")
    sentences = tuple(_clause(xs, rng, literals) for _ in range(n_sentences))
    if coherent:
        k = mixture or n_sentences + 1
        worlds = random_possible_worlds(theory, n_atoms, k, rng)
        # integer weights out of 1000 keep the prices exact three-digit decimals
        counts = rng.multinomial(1000, rng.dirichlet(np.ones(k)))
        truth = np.array([[s.evaluate(world) for s in sentences] for world in worlds], dtype=int)
        prices = tuple(int(v) / 1000 for v in counts @ truth)
    else:
        prices = tuple(float(p) for p in np.round(rng.random(n_sentences), 3))
    return CNFInstance(sentences, theory, prices, coherent)


def random_face_instance(
    n_atoms: int,
    n_sentences: int,
    clause_ratio: float = 2.0,
    *,
    worlds: int = 3,
    rng: int | np.random.Generator | None = None,
    literals: int = 3,
) -> CNFInstance:
    """Prices on a face of the coherent set, as floating-point code writes them.

    The sentences and theory of :func:`random_cnf_instance`; the prices are a float mixture
    (Dirichlet weights) of ``worlds`` possible worlds, printed to 17 significant digits. These
    decimals lie within a few ulps of the face, on either side of it, and a sentence true in
    every world of the mixture may be priced 1.0000000000000002, so ``coherent_by_construction``
    is False: only an exact check can tell.
    """
    rng = as_rng(rng)
    base = random_cnf_instance(n_atoms, n_sentences, clause_ratio, coherent=False, rng=rng, literals=literals)
    chosen = random_possible_worlds(base.theory, n_atoms, worlds, rng)
    weights = rng.dirichlet(np.ones(worlds))
    truth = [[s.evaluate(world) for world in chosen] for s in base.sentences]
    prices = tuple(f"{sum(float(w) for w, t in zip(weights, row, strict=True) if t):.17g}" for row in truth)
    return CNFInstance(base.sentences, base.theory, prices, False)


# ---------------------------------------------------------------------------
# brute force
# ---------------------------------------------------------------------------
def evaluate_all(exprs: list[z3.BoolRef], names: list[str]) -> np.ndarray:
    """Truth values of propositional z3 expressions in all 2^len(names) assignments.

    Returns a boolean array of shape (2^n, len(exprs)).
    """
    n = len(names)
    grid = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    column = {name: grid[:, i] for i, name in enumerate(names)}
    memo: dict[int, np.ndarray] = {}

    def ev(e: z3.ExprRef) -> np.ndarray:
        key = e.get_id()
        if key in memo:
            return memo[key]
        k = e.decl().kind()
        kids = e.children()
        if z3.is_true(e):
            out = np.ones(2**n, bool)
        elif z3.is_false(e):
            out = np.zeros(2**n, bool)
        elif k == z3.Z3_OP_UNINTERPRETED and not kids:
            out = column[e.decl().name()]
        elif k == z3.Z3_OP_NOT:
            out = ~ev(kids[0])
        elif k == z3.Z3_OP_AND:
            out = np.logical_and.reduce([ev(c) for c in kids])
        elif k == z3.Z3_OP_OR:
            out = np.logical_or.reduce([ev(c) for c in kids])
        elif k == z3.Z3_OP_IMPLIES:
            out = ~ev(kids[0]) | ev(kids[1])
        elif k == z3.Z3_OP_EQ:
            out = ev(kids[0]) == ev(kids[1])
        elif k == z3.Z3_OP_XOR:
            out = ev(kids[0]) ^ ev(kids[1])
        elif k in (z3.Z3_OP_PB_AT_MOST, z3.Z3_OP_PB_EQ):
            params = e.params()
            counts = sum(ev(c).astype(int) * (1 if k == z3.Z3_OP_PB_AT_MOST else params[i + 1])
                         for i, c in enumerate(kids))
            out = counts <= params[0] if k == z3.Z3_OP_PB_AT_MOST else counts == params[0]
        else:
            raise DeclarationError(f"brute force handles propositional sentences only, not {e}")
        memo[key] = out
        return out

    return np.column_stack([ev(e) for e in exprs]) if exprs else np.zeros((2**n, 0), bool)


def possible_truth_table(sentences: list[Sentence], theory: Theory | None = None) -> np.ndarray:
    """Truth values of ``sentences`` in every assignment of their atoms that the theory allows.

    Enumerates all 2^n assignments (n <= 22); returns a boolean array of shape (worlds, sentences).
    """
    axioms = list(theory.axioms) if theory is not None else []
    names = sorted(set().union(*(s.atom_names for s in [*sentences, *axioms])))
    if len(names) > 22:
        raise DeclarationError(f"brute force over {len(names)} atoms is too large (limit 22)")
    values = evaluate_all([s.z3 for s in sentences] + [a.z3 for a in axioms], names)
    possible = values[:, len(sentences):].all(axis=1)
    return values[possible, : len(sentences)]


def _distinct_prices(prices) -> list[tuple[Sentence, Fraction]]:
    """The (sentence, exact price) pairs with a price repeated exactly kept once, as check_coherence counts them."""
    seen: dict[tuple, tuple] = {}
    for s, v in sentence_prices(prices):
        p = to_fraction(v, f"the price of {s}")
        seen.setdefault((str(s), p), (s, p))
    return list(seen.values())


def brute_force_coherence(prices, theory: Theory | None = None) -> tuple[bool, float]:
    """(coherent, max_profit) by enumerating every assignment of the atoms and one LP over all worlds.

    ``max_profit`` is the largest guaranteed profit with stakes in [-1, 1], which equals the L1
    distance from the prices to the convex hull of the possible worlds. ``prices`` are
    ``{sentence: price}`` or ``(sentence, price)`` pairs, as for :func:`check_coherence`; a price
    repeated exactly is one security and counted once, as :func:`check_coherence` counts it.
    """
    items = _distinct_prices(prices)
    sents = [s for s, _ in items]
    p = np.array([float(v) for _, v in items])
    worlds = np.unique(possible_truth_table(sents, theory), axis=0).astype(float)
    if len(worlds) == 0:
        raise DeclarationError("the theory has no possible world")
    n, k = len(sents), len(worlds)
    a_eq = np.block([[worlds.T, np.eye(n), -np.eye(n)], [np.ones((1, k)), np.zeros((1, 2 * n))]])
    b_eq = np.concatenate([p, [1.0]])
    c = np.concatenate([np.zeros(k), np.ones(2 * n)])
    res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"brute-force LP failed: {res.message}")
    return bool(res.fun <= 1e-9), float(res.fun)


def brute_force_max_profit(prices, theory: Theory | None = None) -> Fraction:
    """The exact largest guaranteed profit with stakes in [-1, 1]: 0 exactly when the prices are coherent.

    Prices are read exactly (``"0.43000000000000005"`` is that decimal) and a price repeated
    exactly is counted once, as :func:`check_coherence` counts it; every assignment of the
    atoms is enumerated and the LP over all possible worlds is solved by z3's rational simplex.
    """
    items = _distinct_prices(prices)
    sents = [s for s, _ in items]
    p = [v for _, v in items]
    worlds = np.unique(possible_truth_table(sents, theory), axis=0)
    if len(worlds) == 0:
        raise DeclarationError("the theory has no possible world")
    stakes = [z3.Real(f"x{i}") for i in range(len(sents))]
    profit = z3.Real("profit")
    opt = z3.Optimize()
    opt.add(*(z3.And(x >= -1, x <= 1) for x in stakes))
    for world in worlds:
        opt.add(z3.Sum([x * z3.RealVal(int(t) - q) for x, t, q in zip(stakes, world, p, strict=True)]) >= profit)
    opt.maximize(profit)
    if opt.check() != z3.sat:
        raise RuntimeError("brute-force exact LP failed")
    return opt.model()[profit].as_fraction()
