"""The discrete gauge of a symbolic model: relabellings of its classes and sign flips of its latents.

The permutations of class-indexed parameter blocks (relabelling the hidden classes) and the
sign flips of continuous latents that leave every observable expression invariant. Each
candidate is first evaluated numerically at random points (a fast way to reject the ones that
change something), and each survivor is then proven invariant by sympy: the difference of
every substituted observable and the original reduces exactly to 0. The survivors form a group
(:class:`GaugeGroup`); by default only a generating set is proven directly and every other
element is proven as a product of proven generators (a product of invariances is an
invariance), or ``prove="all"`` proves every element.

Examples
--------
>>> from deepmarkets.models.symbolic import latent_class_model
>>> discrete_gauge(latent_class_model(3, 2, items=3)).order    # the 3! relabellings of the classes
6
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.helpers import as_rng, json_safe, warn
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.models.symbolic import SymbolicModel, compile_expressions

__all__ = ["GaugeElement", "GaugeGroup", "SymmetryCheck", "discrete_gauge", "check_symmetry", "MAX_CANDIDATES"]

#: Largest number of candidate transformations :func:`discrete_gauge` enumerates.
MAX_CANDIDATES = 50_000
#: Relative difference above which the numeric filter calls two values different.
_NUMERIC_TOL = 1e-9
_PROVE = ("generators", "all")


def _cycles(perm: Sequence[int], names: Sequence[str]) -> str:
    """Cycle notation of ``k -> perm[k]`` with class names; fixed points left out."""
    seen, out = set(), []
    for start in range(len(perm)):
        if start in seen or perm[start] == start:
            seen.add(start)
            continue
        cycle, k = [], start
        while k not in seen:
            seen.add(k)
            cycle.append(str(names[k]))
            k = perm[k]
        out.append("(" + " ".join(cycle) + ")")
    return "".join(out)

def _is_rational_function(expr: sympy.Expr, parameters: Sequence[sympy.Symbol]) -> bool:
    if expr.atoms(sympy.Float):
        return False
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Symbol | sympy.Rational | sympy.Add | sympy.Mul):
            continue
        if isinstance(node, sympy.Pow) and isinstance(node.exp, sympy.Integer):
            continue
        return False
    return True

def _zero(diff: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> tuple[bool | None, str]:
    """Is ``diff`` identically 0? ``(True, how)`` proven, ``(False, how)`` disproven, ``(None, how)`` undecided."""
    if diff == 0:
        return True, "canonical form"
    if not diff.free_symbols:
        value = sympy.nsimplify(diff) if diff.is_Float else diff
        return (True, "arithmetic") if value == 0 else (False, "arithmetic")
    expanded = sympy.expand(diff)
    if expanded == 0:
        return True, "expand"
    if expanded.is_polynomial(*symbols) and not expanded.atoms(sympy.Float):
        return False, "expand (a non-zero polynomial)"
    if _is_rational_function(diff, symbols):
        cancelled = sympy.cancel(sympy.together(diff))
        return (True, "cancel") if cancelled == 0 else (False, "cancel (a non-zero rational function)")
    simplified = sympy.simplify(diff)
    if simplified == 0:
        return True, "simplify"
    return None, "simplify (not reduced to 0)"

# ---------------------------------------------------------------------------
# the discrete gauge
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GaugeElement:
    """One transformation in the discrete gauge group.

    Attributes
    ----------
    permutation : tuple of int
        Class ``k``'s block becomes the block of class ``permutation[k]`` (the identity is
        ``(0, 1, ..., K-1)``).
    signs : tuple of int
        ``+1`` or ``-1`` per sign-flippable latent.
    label : str
        Cycle notation over the class names plus the flipped latents (``"e"`` for the identity).
    proven : bool
        Whether every observable was proven invariant (directly or as a product of proven
        generators).
    method : str
        How: ``"identity"``, ``"canonical form"`` (the substituted expression is literally the
        same), ``"expand"``, ``"cancel"``, ``"simplify"``, or ``"product of proven generators"``.
    """

    permutation: tuple[int, ...]
    signs: tuple[int, ...]
    label: str
    proven: bool
    method: str

    @property
    def is_identity(self) -> bool:
        return self.permutation == tuple(range(len(self.permutation))) and all(s == 1 for s in self.signs)

    def to_dict(self) -> dict:
        return {"permutation": list(self.permutation), "signs": list(self.signs), "label": self.label,
                "proven": self.proven, "method": self.method}


@dataclass(frozen=True)
class GaugeGroup:
    """The discrete gauge group of a model: the class relabellings and sign flips that change no observable.

    Attributes
    ----------
    model : str
        The model's name.
    elements : tuple of GaugeElement
        The group (identity first).
    generators : tuple of GaugeElement
        A generating set (every element is a product of these).
    candidates : int
        Transformations examined (``K! 2^m``).
    rejected : dict of str to int
        How many candidates were rejected, by reason: ``"numeric"`` (an observable changed at a
        random point), ``"blocks"`` (a fixed or derived block entry does not follow the
        relabelling: the swap is asymmetric), ``"symbolic"`` (the exact difference is not 0).
    examples : tuple of str
        A few rejected candidates with the reason.
    prove : str
        ``"generators"`` or ``"all"``.
    seconds : float
    """

    model: str
    class_names: tuple[str, ...]
    latent_names: tuple[str, ...]
    elements: tuple[GaugeElement, ...]
    generators: tuple[GaugeElement, ...]
    candidates: int
    rejected: dict[str, int]
    examples: tuple[str, ...]
    prove: str
    seconds: float
    table: np.ndarray = field(repr=False, compare=False, default=None)

    @property
    def order(self) -> int:
        """Number of elements."""
        return len(self.elements)

    @property
    def proven(self) -> bool:
        """Every element proven invariant."""
        return all(e.proven for e in self.elements)

    @property
    def structure(self) -> str:
        """The group in words."""
        K, m = len(self.class_names), len(self.latent_names)
        if self.order == 1:
            return "trivial (only the identity)"
        if m == 0 and self.order == math.factorial(K):
            return f"S_{K}: all {K}! relabellings of the classes"
        if m > 0 and K == m and self.order == math.factorial(K) * 2 ** m:
            return f"all {self.order} signed permutations of the {K} latents (hyperoctahedral group B_{K})"
        if K <= 1 and self.order == 2 ** m:
            return f"all {self.order} sign flips of the {m} latents"
        return f"a group of order {self.order}"

    def permutations(self) -> list[tuple[int, ...]]:
        """The class permutations of the elements."""
        return [e.permutation for e in self.elements]

    def __len__(self) -> int:
        return self.order

    def to_dict(self) -> dict:
        return json_safe({
            "model": self.model, "order": self.order, "structure": self.structure, "proven": self.proven,
            "elements": [e.to_dict() for e in self.elements], "generators": [e.label for e in self.generators],
            "candidates": self.candidates, "rejected": dict(self.rejected), "examples": list(self.examples),
            "prove": self.prove, "seconds": self.seconds,
        })

    def __repr__(self) -> str:
        gens = ", ".join(g.label for g in self.generators) or "none"
        status = "all proven" if self.proven else "NOT all proven"
        return (f"GaugeGroup({self.model!r}: order {self.order}, {self.structure}; generators {gens}; {status}; "
                f"{self.candidates} candidates, rejected {dict(self.rejected)})")

    def _repr_markdown_(self) -> str:
        lines = [f"**discrete gauge of {self.model}**: order {self.order}, {self.structure}", "",
                 f"generators: {', '.join(g.label for g in self.generators) or 'none'}; "
                 f"{self.candidates} candidates, rejected {dict(self.rejected)} ({self.seconds:.3f} s)", "",
                 "| element | permutation | signs | proven | how |", "|---|---|---|---|---|"]
        shown = self.elements[:48]
        for e in shown:
            lines.append(f"| {e.label} | {list(e.permutation)} | {list(e.signs) or '-'} | "
                         f"{'yes' if e.proven else 'NO'} | {e.method} |")
        if len(self.elements) > len(shown):
            lines.append(f"\n({len(shown)} of {len(self.elements)} elements shown)")
        return "\n".join(lines)


@dataclass(frozen=True)
class SymmetryCheck:
    """Whether a substitution of the parameters leaves every observable unchanged.

    Attributes
    ----------
    holds : bool or None
        True (proven), False (an observable changes) or None (numerically equal, but sympy
        could not reduce the difference to 0).
    method : str
        How it was decided.
    observable : str or None
        The first observable that changes (when ``holds`` is False).
    max_difference : float
        The largest relative difference of the observables at the random points.
    """

    holds: bool | None
    method: str
    observable: str | None
    max_difference: float

    def to_dict(self) -> dict:
        return json_safe({"holds": self.holds, "method": self.method, "observable": self.observable,
                       "max_difference": self.max_difference})

    def __bool__(self) -> bool:
        return self.holds is True

    def _repr_markdown_(self) -> str:
        verdict = {True: "holds (proven)", False: "does NOT hold", None: "undecided"}[self.holds]
        extra = f"; first changed observable `{self.observable}`" if self.observable else ""
        return (f"**symmetry check**: {verdict} by {self.method}{extra}; max relative difference "
                f"{self.max_difference:.3g}")


def _relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))


class _Action:
    """Numeric and symbolic action of (permutation, signs) candidates on a model's parameters."""

    def __init__(self, model: SymbolicModel):
        self.model = model
        self.K = model.n_classes
        self.width = len(model.class_blocks[0]) if self.K else 0
        self.blocks = model._compiled("blocks") if self.K else None
        self.flip_index = [np.array([model._index[s] for s in f], dtype=np.int64) for f in model.sign_flips]
        pos = sorted(model._positions.items())
        self.sym_params = np.array([p for p, _ in pos], dtype=np.int64)
        self.sym_class = np.array([k for _, (k, _) in pos], dtype=np.int64)
        self.sym_entry = np.array([i for _, (_, i) in pos], dtype=np.int64)
        self.derived = [(k, i) for k, b in enumerate(model.class_blocks) for i, e in enumerate(b)
                        if not isinstance(e, sympy.Symbol)]

    def _signed(self, theta: np.ndarray, signs: Sequence[int]) -> np.ndarray:
        out = theta.copy()
        for c, s in enumerate(signs):
            if s < 0:
                out[self.flip_index[c]] *= -1.0
        return out

    def block_values(self, theta: np.ndarray) -> np.ndarray:
        return self.blocks.floats(theta).reshape(self.K, self.width)

    def image(self, theta: np.ndarray, perm: Sequence[int],
              signs: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """``g(theta)`` and the block values it must reproduce (``P_perm(blocks(S theta))``)."""
        t = self._signed(theta, signs)
        if not self.K:
            return t, None
        vals = self.block_values(t)[np.asarray(perm)]
        out = t.copy()
        out[self.sym_params] = vals[self.sym_class, self.sym_entry]
        return out, vals

    def substitution(self, perm: Sequence[int], signs: Sequence[int]) -> dict[sympy.Symbol, sympy.Expr]:
        m = self.model
        sign_map = {s: -s for c, sg in enumerate(signs) if sg < 0 for s in m.sign_flips[c]}
        out: dict[sympy.Symbol, sympy.Expr] = dict(sign_map)
        for p, (k, i) in m._positions.items():
            out[m.parameters[p]] = m.class_blocks[perm[k]][i].xreplace(sign_map)
        return out


def _label(perm: Sequence[int], signs: Sequence[int], model: SymbolicModel) -> str:
    parts = []
    cyc = _cycles(perm, model.class_names)
    if cyc:
        parts.append(cyc)
    flipped = [model.latent_names[c] for c, s in enumerate(signs) if s < 0]
    if flipped:
        parts.append("flip " + ",".join(flipped))
    return " · ".join(parts) or "e"


def _prove(model: SymbolicModel, action: _Action, perm, signs) -> tuple[bool | None, str, str | None]:
    """Symbolic check of one candidate: (verdict, method, why it failed)."""
    sub = action.substitution(perm, signs)
    sign_map = {s: -s for c, sg in enumerate(signs) if sg < 0 for s in model.sign_flips[c]}
    methods = []
    for (k, i) in action.derived:
        lhs = model.class_blocks[k][i].xreplace(sub)
        rhs = model.class_blocks[perm[k]][i].xreplace(sign_map)
        ok, how = _zero(lhs - rhs, model.parameters)
        if ok is not True:
            return (False if ok is False else None), how, (f"block entry {i} of class {model.class_names[k]} "
                                                           f"({model.class_blocks[k][i]}) becomes {lhs}, not {rhs}")
        methods.append(how)
    for name, o in zip(model.observable_names, model.observables, strict=True):
        ok, how = _zero(o.xreplace(sub) - o, model.parameters)
        if ok is not True:
            return (False if ok is False else None), how, f"observable {name} changes"
        methods.append(how)
    order = ["canonical form", "arithmetic", "expand", "cancel", "simplify"]
    worst = max(methods, key=lambda h: order.index(h) if h in order else len(order), default="canonical form")
    return True, worst, None


def _numeric_check(model: SymbolicModel, action: _Action, points: list[np.ndarray], values: list[np.ndarray],
                   perm, signs, tol: float) -> tuple[bool, str, str | None]:
    obs = model._compiled("observables")
    for theta, base in zip(points, values, strict=True):
        img, want = action.image(theta, perm, signs)
        new = obs.floats(img)
        diff = _relative(new, base)
        if diff.max() > tol:
            j = int(np.argmax(diff))
            return False, "numeric", (f"observable {model.observable_names[j]} changes from {base[j]:.6g} to "
                                      f"{new[j]:.6g} at a random point")
        if want is not None and action.derived:
            got = action.block_values(img)
            diff = _relative(got, want)
            if diff.max() > tol:
                k, i = np.unravel_index(int(np.argmax(diff)), diff.shape)
                return False, "blocks", (f"entry {i} of class {model.class_names[k]}'s block "
                                         f"({model.class_blocks[k][i]}) is {got[k, i]:.6g} after the relabelling "
                                         f"but {want[k, i]:.6g} in class {model.class_names[perm[k]]}")
    return True, "numeric", None


def discrete_gauge(model: SymbolicModel, *, prove: str = "generators", points: int = 2, tol: float = _NUMERIC_TOL,
                   rng: int | np.random.Generator | None = None) -> GaugeGroup:
    """The class relabellings and sign flips that leave every observable of ``model`` invariant.

    Every candidate ``(permutation of the class blocks, signs of the latents)`` is applied to
    the parameters: the symbols of class ``k``'s block are replaced by the entries of class
    ``perm[k]``'s block (and flipped latents' symbols by their negatives). A candidate is a
    symmetry when every observable expression is unchanged. Candidates are filtered
    numerically first (at ``points`` random points; a relative change above ``tol`` rejects
    them, as does a fixed or derived block entry that does not follow the relabelling, for
    example a class prior fixed to unequal values); the survivors are proven by sympy (the
    difference is 0 in canonical form, or after ``expand``, ``cancel`` or ``simplify``).

    Parameters
    ----------
    model : SymbolicModel
    prove : {"generators", "all"}, default "generators"
        ``"generators"``: prove a generating set of the surviving group directly and the other
        elements as products of proven generators (a product of invariances is one); a
        generator that fails its proof is dropped and the group recomputed. ``"all"``: prove
        every element directly.
    points : int, default 2
        Random points for the numeric filter.
    tol : float, default 1e-9
        Relative tolerance of the numeric filter.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    GaugeGroup

    Raises
    ------
    DeclarationError
        For a model with neither class blocks nor sign flips, or too many candidates.

    Warns
    -----
    UserWarning
        When an element passes the numeric filter but sympy cannot reduce its differences to
        0 (it is kept, marked unproven).

    Examples
    --------
    >>> from deepmarkets.models.symbolic import latent_class_model
    >>> g = discrete_gauge(latent_class_model(3, 2, items=3))
    >>> g.order, [e.label for e in g.generators]
    (6, ['(1 2)', '(1 3)'])
    >>> discrete_gauge(latent_class_model(3, 2, items=3, prior=[0.2, 0.3, 0.5])).order
    1
    """
    started = time.perf_counter()
    if not isinstance(model, SymbolicModel):
        raise DeclarationError(f"expected a SymbolicModel, got {type(model).__name__}")
    if prove not in _PROVE:
        raise DeclarationError(f"prove={prove!r}; expected one of {list(_PROVE)}")
    points = whole_number(points, "points", 1)
    tol = positive_float(tol, "tol")
    K, m = model.n_classes, model.n_latents
    if K == 0 and m == 0:
        raise DeclarationError(f"{model.name} declares no class blocks and no sign flips: there is no discrete "
                               f"transformation to test (declare class_blocks= or sign_flips=)")
    n_cand = math.factorial(K) * 2 ** m
    if n_cand > MAX_CANDIDATES:
        raise DeclarationError(f"{K}! permutations x 2^{m} sign patterns = {n_cand} candidates, more than "
                               f"{MAX_CANDIDATES}; test chosen substitutions with check_symmetry instead")
    gen = as_rng(rng)
    action = _Action(model)
    obs = model._compiled("observables")
    pts = [np.array([float(v) for v in model.random_point(gen)]) for _ in range(points)]
    vals = [obs.floats(t) for t in pts]
    identity = (tuple(range(K)), tuple([1] * m))
    survivors, rejected, examples = [], {"numeric": 0, "blocks": 0, "symbolic": 0}, []
    for perm in itertools.permutations(range(K)):
        for signs in itertools.product((1, -1), repeat=m):
            cand = (tuple(perm), tuple(signs))
            if cand == identity:
                survivors.append(cand)
                continue
            ok, why, text = _numeric_check(model, action, pts, vals, perm, signs, tol)
            if ok:
                survivors.append(cand)
            else:
                rejected[why] += 1
                if len(examples) < 5:
                    examples.append(f"{_label(perm, signs, model)}: {text}")
    proofs: dict[tuple, tuple[bool, str]] = {identity: (True, "identity")}
    unproven: list[str] = []
    while True:
        table, images = _cayley(action, survivors, gen)
        if prove == "all":
            todo = [c for c in survivors if c not in proofs]
        else:
            gens_idx = _generating_set(table, survivors)
            todo = [survivors[i] for i in gens_idx if survivors[i] not in proofs]
        dropped = False
        for cand in todo:
            ok, how, why = _prove(model, action, *cand)
            if ok is False:
                rejected["symbolic"] += 1
                if len(examples) < 5:
                    examples.append(f"{_label(*cand, model)}: {why} ({how})")
                survivors.remove(cand)
                dropped = True
            else:
                proofs[cand] = (ok is True, how)
                if ok is None:
                    unproven.append(_label(*cand, model))
        if not dropped:
            break
    table, images = _cayley(action, survivors, gen)
    gens_idx = _generating_set(table, survivors)
    if prove == "generators":
        gen_ok = all(proofs[survivors[i]][0] for i in gens_idx)
        for c in survivors:
            if c not in proofs:
                proofs[c] = (gen_ok, "product of proven generators" if gen_ok else "product of generators (unproven)")
    elements = [GaugeElement(c[0], c[1], _label(*c, model), proofs[c][0], proofs[c][1]) for c in survivors]
    if unproven:
        warn(f"{model.name}: {unproven} pass the numeric check but sympy could not reduce every difference "
                      f"to 0; they are kept, marked unproven")
    return GaugeGroup(model=model.name, class_names=model.class_names, latent_names=model.latent_names,
                      elements=tuple(elements), generators=tuple(elements[i] for i in gens_idx), candidates=n_cand,
                      rejected=rejected, examples=tuple(examples), prove=prove,
                      seconds=time.perf_counter() - started, table=table)


def _cayley(action: _Action, elements: list[tuple], gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Multiplication table of the candidates (``table[a, b]`` = index of ``a ∘ b``), from their images at a point."""
    model = action.model
    theta = np.array([float(v) for v in model.random_point(gen)])
    images = np.array([action.image(theta, *c)[0] for c in elements])
    n = len(elements)
    table = np.full((n, n), -1, dtype=np.int64)
    scale = np.maximum(1.0, np.abs(images))
    for b in range(n):
        for a in range(n):
            comp = action.image(images[b], *elements[a])[0]
            dist = (np.abs(images - comp[None]) / scale).max(axis=1)
            j = int(np.argmin(dist))
            if dist[j] <= 1e-7:
                table[a, b] = j
    if (table < 0).any():
        raise InferenceError(f"{model.name}: the transformations that passed the checks are not closed under "
                             f"composition; the model's class blocks or sign flips are not declared consistently")
    return table, images


def _generating_set(table: np.ndarray, elements: list[tuple]) -> list[int]:
    """Greedy generators: simplest elements first, each kept if not generated by the ones before."""
    n = len(elements)

    def moved(c):
        perm, signs = c
        positions = [k for k, p in enumerate(perm) if p != k]
        flipped = [i for i, s in enumerate(signs) if s < 0]
        return (len(positions) + len(flipped), positions, flipped, perm)

    order = sorted(range(n), key=lambda i: moved(elements[i]))
    identity = next(i for i in range(n) if moved(elements[i])[0] == 0)
    span = {identity}
    gens: list[int] = []
    for i in order:
        if i in span:
            continue
        gens.append(i)
        frontier = list(span)
        while frontier:
            new = []
            for a in frontier:
                for g in gens:
                    for c in (int(table[a, g]), int(table[g, a])):
                        if c not in span:
                            span.add(c)
                            new.append(c)
            frontier = new
        if len(span) == n:
            break
    return gens


def check_symmetry(model: SymbolicModel, substitution: Mapping[sympy.Symbol, Any], *, points: int = 2,
                   tol: float = _NUMERIC_TOL, rng: int | np.random.Generator | None = None) -> SymmetryCheck:
    """Whether replacing parameters by expressions leaves every observable unchanged.

    Use it for transformations outside the class relabellings, for example a partial swap
    (only some of a class's parameters), which is not a symmetry of a latent class model.

    Parameters
    ----------
    model : SymbolicModel
    substitution : mapping of parameter symbol to expression
        Applied simultaneously; parameters not named stay.
    points, tol, rng
        As in :func:`discrete_gauge`.

    Returns
    -------
    SymmetryCheck

    Examples
    --------
    >>> from deepmarkets.models.symbolic import latent_class_model
    >>> m = latent_class_model(2, 2, items=2)
    >>> s = {v: k for v, k in zip(m.class_blocks[0][1:], m.class_blocks[1][1:])}
    >>> s.update({k: v for v, k in s.items()})                # swap the responses only, not the prior
    >>> check_symmetry(m, s).holds
    False
    """
    if not isinstance(model, SymbolicModel):
        raise DeclarationError(f"expected a SymbolicModel, got {type(model).__name__}")
    points = whole_number(points, "points", 1)
    tol = positive_float(tol, "tol")
    sub: dict[sympy.Symbol, sympy.Expr] = {}
    for k, v in dict(substitution).items():
        if k not in model._index:
            raise DeclarationError(f"{k!r} is not a parameter of {model.name}; the parameters are "
                                   f"{[str(p) for p in model.parameters][:10]}...")
        e = sympy.sympify(v)
        unknown = e.free_symbols - set(model._index)
        if unknown:
            raise DeclarationError(f"substitution for {k} uses {sorted(map(str, unknown))}, not parameters")
        sub[k] = e
    gen = as_rng(rng)
    mapped = compile_expressions(model.parameters, [sub.get(p, p) for p in model.parameters])
    obs = model._compiled("observables")
    worst, first = 0.0, None
    for _ in range(points):
        theta = np.array([float(v) for v in model.random_point(gen)])
        d = _relative(obs.floats(mapped.floats(theta)), obs.floats(theta))
        if d.max() > worst:
            worst = float(d.max())
            if worst > tol and first is None:
                first = model.observable_names[int(np.argmax(d))]
    if worst > tol:
        return SymmetryCheck(False, "numeric (an observable changes at a random point)", first, worst)
    methods = []
    for name, o in zip(model.observable_names, model.observables, strict=True):
        ok, how = _zero(o.xreplace(sub) - o, model.parameters)
        if ok is not True:
            return SymmetryCheck(ok, how, name if ok is False else None, worst)
        methods.append(how)
    order = ["canonical form", "arithmetic", "expand", "cancel", "simplify"]
    return SymmetryCheck(True, max(methods, key=order.index), None, worst)
