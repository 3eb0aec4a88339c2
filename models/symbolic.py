"""Gauge symmetries of latent-variable models: what can change in the hidden parts without a trace.

A latent-variable model is observed only through the distribution it implies for its
observables. A transformation of its parameters that leaves that distribution unchanged is a
*gauge transformation*: no data can tell the two parameter values apart. This module finds them
for models declared symbolically (:class:`SymbolicModel`: parameters are sympy symbols and the
observable distribution is a list of exact expressions in them).

**Discrete gauge** (:func:`discrete_gauge`)
    The permutations of class-indexed parameter blocks (relabelling the hidden classes) and the
    sign flips of continuous latents that leave every observable expression invariant. Each
    candidate is first evaluated numerically at random points (a fast way to reject the ones
    that change something), and each survivor is then proven invariant by sympy: the
    difference of every substituted observable and the original reduces exactly to 0. The
    survivors form a group (:class:`GaugeGroup`); by default only a generating set is proven
    directly and every other element is proven as a product of proven generators (a product
    of invariances is an invariance), or ``prove="all"`` proves every element.
**Continuous gauge** (:func:`continuous_gauge`)
    The dimension of the set of parameter values that imply the same observables near a
    generic point: the number of parameters minus the rank of the Jacobian of the observables
    with respect to the parameters (:class:`ContinuousGauge`), with a basis of the Jacobian's
    null space as infinitesimal generators (the ``k (k - 1) / 2`` rotations of a ``k``-factor
    model). The rank is computed in floating point by SVD with a stated relative tolerance at
    several random points and, for small models, exactly over the rationals (python-flint) at
    the same points.
**Gauge fixing** (:func:`fix_gauge`)
    Posterior draws of a latent class model come in any of the ``K!`` labellings; this picks
    one per draw so that all chains share one labelling, by Stephens' (2000) Kullback-Leibler
    relabelling algorithm or by alignment to a pivot, and reports R-hat and ESS before and
    after (:class:`GaugeFixing`).

Constructors for common models: :func:`latent_class_model` (latent class analysis),
:func:`factor_model` (Gaussian linear factor analysis) and :func:`from_latent_market` (the
model of a :class:`~deepmarkets.models.latent_market.LatentMarket`).

Examples
--------
>>> m = latent_class_model(3, 2, items=3)          # 3 classes, 3 binary items
>>> discrete_gauge(m).order                        # the 3! relabellings of the classes
6
>>> continuous_gauge(m, rng=0).dimension           # 11 parameters, 7 observables
4
"""

from __future__ import annotations

import itertools
import math
import time
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.checks import whole_number
from deepmarkets.models.fit import plain

__all__ = [
    "SymbolicModel",
    "latent_class_model",
    "factor_model",
    "from_latent_market",
    "GaugeElement",
    "GaugeGroup",
    "SymmetryCheck",
    "discrete_gauge",
    "check_symmetry",
    "ContinuousGauge",
    "continuous_gauge",
    "GaugeFixing",
    "fix_gauge",
    "plot_gauge_fixing",
    "RANK_TOL",
    "EXACT_MAX_ENTRIES",
]

#: Default relative tolerance of the floating-point rank: singular values ``s <= tol * s_max`` count as 0.
RANK_TOL = 1e-8
#: ``exact=None`` computes the exact rank when the Jacobian has at most this many entries.
EXACT_MAX_ENTRIES = 20_000
#: Largest number of candidate transformations :func:`discrete_gauge` enumerates.
MAX_CANDIDATES = 50_000
#: Relative difference above which the numeric filter calls two values different.
_NUMERIC_TOL = 1e-9
#: Denominator of the random rational points.
_DENOMINATOR = 1_000_003
_METHODS = ("stephens", "pivot")
_PROVE = ("generators", "all")


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise DeclarationError(f"rng={rng!r}; expected an int seed, a numpy Generator or None")




def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or \
            not math.isfinite(float(value)) or float(value) <= 0:
        raise DeclarationError(f"{name}={value!r}; expected a positive finite number")
    return float(value)


def _exact_number(value: Any, what: str) -> sympy.Expr:
    """A number as an exact sympy value: floats by their shortest decimal (0.2 -> 1/5)."""
    if isinstance(value, bool):
        raise DeclarationError(f"{what}={value!r}; expected a number")
    if isinstance(value, sympy.Basic):
        if value.free_symbols:
            return value
        return sympy.nsimplify(value) if isinstance(value, sympy.Float) else value
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, int | np.integer):
        return sympy.Integer(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            raise DeclarationError(f"{what}={value!r}; expected a finite number")
        return sympy.Rational(repr(float(value)))
    raise DeclarationError(f"{what}={value!r}; expected a number (int, float, Fraction or sympy number)")


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


def _plain(value: Any) -> Any:
    """:func:`~deepmarkets.models.fit.plain`, with non-finite floats as None."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    value = plain(value)
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ---------------------------------------------------------------------------
# compiling expressions: one code object, bound to float or exact rational arithmetic
# ---------------------------------------------------------------------------


def _printer_class():
    from sympy.printing.pycode import PythonCodePrinter

    class _Printer(PythonCodePrinter):
        """Python code in which every rational constant is a call ``_R(p, q)`` and parameters are ``x[i]``."""

        def __init__(self, names: Mapping[sympy.Symbol, str]):
            super().__init__({"fully_qualified_modules": True})
            self._names = names

        def _print_Symbol(self, expr):
            return self._names[expr]

        def _print_Rational(self, expr):
            return f"_R({expr.p}, {expr.q})"

        def _print_Half(self, expr):
            return "_R(1, 2)"

    return _Printer


def _float_rational(p: int, q: int) -> float:
    return p / q


class _CodeWriter:
    """Python source for sympy expressions: a fast path for sums, products, integer powers and rationals.

    Anything else is printed by sympy's Python code printer (``math`` functions) and marks the
    expressions as not exactly evaluable.
    """

    def __init__(self, parameters: Sequence[sympy.Symbol]):
        self.names = {p: f"x[{i}]" for i, p in enumerate(parameters)}
        self.memo: dict[sympy.Basic, str] = {}
        self.exact_ok = True
        self._printer = None

    def code(self, e: sympy.Basic) -> str:
        memo = self.memo
        if e in memo:
            return memo[e]
        if e.is_Symbol:
            out = self.names[e]
        elif e.is_Integer:
            out = str(int(e)) if e >= 0 else f"({int(e)})"
        elif e.is_Rational:
            out = f"_R({e.p}, {e.q})"
        elif e.is_Add:
            out = "(" + " + ".join(self.code(a) for a in e.args) + ")"
        elif e.is_Mul:
            out = "(" + "*".join(self.code(a) for a in e.args) + ")"
        elif e.is_Pow and e.exp.is_Integer:
            out = f"({self.code(e.base)})**({int(e.exp)})"
        else:
            if e.is_Float:
                self.exact_ok = False
                out = f"({float(e)!r})"
            else:
                self.exact_ok = False
                if self._printer is None:
                    self._printer = _printer_class()(self.names)
                out = "(" + self._printer.doprint(e) + ")"
        memo[e] = out
        return out


@dataclass
class _Compiled:
    """A list of expressions compiled once; call ``floats(x)`` or ``exact(x)`` with a parameter vector."""

    function: Any
    exact_ok: bool
    n_out: int

    def floats(self, x: Sequence[float]) -> np.ndarray:
        return np.asarray(self.function([float(v) for v in x]), dtype=np.float64)

    def exact(self, x: Sequence[Any]) -> list:
        if not self.exact_ok:
            raise DeclarationError("these expressions are not rational functions with rational coefficients; "
                                   "exact evaluation needs them to be (use floating point instead)")
        import flint

        fn = self.__dict__.get("_exact_fn")
        if fn is None:
            glob = dict(self.function.__globals__)
            glob["_R"] = flint.fmpq
            fn = types.FunctionType(self.function.__code__, glob, self.function.__name__)
            self.__dict__["_exact_fn"] = fn
        args = [flint.fmpq(v.numerator, v.denominator) if isinstance(v, Fraction) else flint.fmpq(v) for v in x]
        return list(fn(args))


def _compile(parameters: Sequence[sympy.Symbol], expressions: Sequence[sympy.Expr]) -> _Compiled:
    """Compile expressions of the parameters into one Python function ``f(x) -> list`` (``x[i]`` = parameter i)."""
    writer = _CodeWriter(parameters)
    body = ",\n    ".join(writer.code(sympy.sympify(e)) for e in expressions)
    source = f"def _compiled(x):\n  return [\n    {body},\n  ]\n"
    namespace: dict[str, Any] = {"_R": _float_rational, "math": math}
    # the source is generated above from sympy trees (as sympy.lambdify does), never from user text
    exec(compile(source, "<deepmarkets.models.symbolic>", "exec"), namespace)
    return _Compiled(function=namespace["_compiled"], exact_ok=writer.exact_ok, n_out=len(expressions))


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


def _gradient(expr: sympy.Expr, wanted: Mapping[sympy.Symbol, int], cache: dict) -> dict[sympy.Symbol, sympy.Expr]:
    """``{x: d expr / d x}`` for the symbols ``x`` of ``wanted`` that ``expr`` depends on (one pass over the tree)."""
    key = expr
    if key in cache:
        return cache[key]
    if expr.is_Symbol:
        out = {expr: sympy.S.One} if expr in wanted else {}
    elif expr.is_Number or not expr.free_symbols:
        out = {}
    elif expr.is_Add:
        out = {}
        for arg in expr.args:
            for x, d in _gradient(arg, wanted, cache).items():
                out.setdefault(x, []).append(d)
        out = {x: sympy.Add(*ds) for x, ds in out.items()}
    elif expr.is_Mul:
        args = expr.args
        out = {}
        for i, arg in enumerate(args):
            g = _gradient(arg, wanted, cache)
            if not g:
                continue
            rest = sympy.Mul(*args[:i], *args[i + 1:])
            for x, d in g.items():
                out.setdefault(x, []).append(d * rest)
        out = {x: sympy.Add(*ds) for x, ds in out.items()}
    elif expr.is_Pow and expr.exp.is_Number and not expr.exp.free_symbols:
        base, n = expr.args
        g = _gradient(base, wanted, cache)
        factor = n * base ** (n - 1)
        out = {x: factor * d for x, d in g.items()}
    else:
        out = {x: expr.diff(x) for x in expr.free_symbols if x in wanted}
        out = {x: d for x, d in out.items() if d != 0}
    cache[key] = out
    return out


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
# the symbolic model
# ---------------------------------------------------------------------------


class SymbolicModel:
    """A parametric model of observables, declared with sympy: the input of the gauge analysis.

    Parameters
    ----------
    parameters : sequence of sympy.Symbol
        The parameters (distinct symbols).
    observables : sequence of sympy expressions
        The observable distribution as exact expressions of the parameters (for a discrete
        model, the probabilities of all outcomes but one; for a Gaussian, the distinct entries
        of the covariance matrix).
    class_blocks : sequence of sequences of sympy expressions, optional
        For each hidden class ``k``, the parameters indexed by ``k``, in the same order for
        every class (entry ``i`` of every block plays the same role). A relabelling of the
        classes maps block ``k`` onto block ``perm[k]``. Entries may be expressions (a derived
        value such as ``1 - P(Y=1) - P(Y=2)``) or constants (a fixed value); the symbol entries
        are what a relabelling substitutes.
    sign_flips : sequence of sequences of sympy.Symbol, optional
        For each continuous latent that can change sign, the parameters that change sign with
        it (a factor's column of loadings).
    fixed : mapping of sympy.Symbol to number, optional
        Values substituted for symbols (they stop being parameters).
    constraints : sequence of sympy expressions or Eq, optional
        Equations ``g = 0`` between the parameters; each is solved for a parameter it is linear
        in (the last such one) and that parameter is eliminated.
    name : str, default "model"
    observable_names, class_names, latent_names : sequences of str, optional
        Labels (defaults: ``o1..``, ``1..K``, ``z1..``).
    bounds : mapping of sympy.Symbol to (low, high), optional
        Where the random points of the gauge analysis put each parameter (default ``(0, 1)``);
        any generic point does, this keeps them inside the model's natural domain.
    kind : str, default "custom"
        A short description (the constructors set it).

    Raises
    ------
    DeclarationError
        For repeated or non-symbol parameters, observables in unknown symbols, blocks of
        different lengths, a symbol in two block positions, or a constraint that is linear in
        no parameter.

    Examples
    --------
    >>> a, b = sympy.symbols("a b")
    >>> m = SymbolicModel([a, b], [a + b, a * b], class_blocks=[[a], [b]])
    >>> m.n_parameters, m.n_observables, m.n_classes
    (2, 2, 2)
    >>> discrete_gauge(m).order      # swapping a and b changes neither a + b nor a b
    2
    """

    def __init__(self, parameters: Sequence[sympy.Symbol], observables: Sequence[Any], *,
                 class_blocks: Sequence[Sequence[Any]] = (), sign_flips: Sequence[Sequence[sympy.Symbol]] = (),
                 fixed: Mapping[sympy.Symbol, Any] | None = None, constraints: Sequence[Any] = (),
                 name: str = "model", observable_names: Sequence[str] | None = None,
                 class_names: Sequence[str] | None = None, latent_names: Sequence[str] | None = None,
                 bounds: Mapping[sympy.Symbol, tuple[float, float]] | None = None, kind: str = "custom"):
        if not isinstance(name, str) or not name.strip():
            raise DeclarationError(f"name={name!r}; expected a non-empty string")
        self.name = name
        self.kind = str(kind)
        params = list(parameters) if not isinstance(parameters, sympy.Basic) else [parameters]
        for p in params:
            if not isinstance(p, sympy.Symbol):
                raise DeclarationError(f"parameter {p!r} is a {type(p).__name__}; expected sympy Symbols "
                                       f"(e.g. sympy.symbols('a b c'))")
        if len(set(params)) != len(params):
            dup = sorted({str(p) for p in params if params.count(p) > 1})
            raise DeclarationError(f"the parameters repeat {dup}; give each symbol once")
        # fixed values and constraints: substitute, then eliminate
        subs: dict[sympy.Symbol, sympy.Expr] = {}
        fixed = dict(fixed or {})
        for sym, value in fixed.items():
            if not isinstance(sym, sympy.Symbol):
                raise DeclarationError(f"fixed: key {sym!r} is not a sympy Symbol")
            subs[sym] = _exact_number(value, f"fixed[{sym}]")
        self.fixed: dict[sympy.Symbol, sympy.Expr] = dict(subs)
        params = [p for p in params if p not in subs]
        eliminated: dict[sympy.Symbol, sympy.Expr] = {}
        self.constraints: tuple[sympy.Expr, ...] = ()
        declared = []
        for c in constraints:
            expr = c.lhs - c.rhs if isinstance(c, sympy.Equality) else sympy.sympify(c)
            declared.append(expr)
            expr = sympy.expand(expr.xreplace(subs))
            if expr == 0:
                continue
            chosen = None
            for p in reversed(params):
                coeff = expr.diff(p)
                if coeff != 0 and p not in coeff.free_symbols:
                    chosen = (p, coeff)
                    break
            if chosen is None:
                raise DeclarationError(f"the constraint {expr} = 0 is linear in none of the parameters "
                                       f"{[str(p) for p in params]}; eliminate a parameter yourself (fixed=...)")
            p, coeff = chosen
            solution = sympy.expand(p - expr / coeff)
            subs = {k: v.xreplace({p: solution}) for k, v in subs.items()}
            subs[p] = solution
            eliminated[p] = solution
            params.remove(p)
        for p in eliminated:
            eliminated[p] = subs[p]
        self.constraints = tuple(declared)
        self.eliminated: dict[sympy.Symbol, sympy.Expr] = eliminated
        self.parameters: tuple[sympy.Symbol, ...] = tuple(params)
        index = {p: i for i, p in enumerate(self.parameters)}
        self._index = index

        obs = list(observables) if not isinstance(observables, sympy.Basic) else [observables]
        if not obs:
            raise DeclarationError("no observables; give the observable distribution as a list of expressions")
        clean = []
        for i, o in enumerate(obs):
            try:
                e = sympy.sympify(o, strict=True)
            except (sympy.SympifyError, TypeError):
                raise DeclarationError(f"observable {i} is {o!r}; expected a sympy expression") from None
            e = e.xreplace(subs) if subs else e
            unknown = e.free_symbols - set(index)
            if unknown:
                raise DeclarationError(f"observable {i} ({e}) uses {sorted(str(s) for s in unknown)}, which are not "
                                       f"parameters; add them to parameters or give their values in fixed=")
            clean.append(e)
        self.observables: tuple[sympy.Expr, ...] = tuple(clean)
        names = [f"o{i + 1}" for i in range(len(clean))] if observable_names is None else [str(n) for n in
                                                                                           observable_names]
        if len(names) != len(clean):
            raise DeclarationError(f"{len(names)} observable_names for {len(clean)} observables")
        self.observable_names: tuple[str, ...] = tuple(names)

        blocks = [list(b) for b in class_blocks]
        if blocks:
            width = len(blocks[0])
            if any(len(b) != width for b in blocks) or width == 0:
                raise DeclarationError(f"class_blocks have lengths {[len(b) for b in blocks]}; every class needs a "
                                       f"non-empty block of the same length (entry i plays the same role in each)")
        self.class_blocks: tuple[tuple[sympy.Expr, ...], ...] = tuple(
            tuple((sympy.sympify(e).xreplace(subs) if subs else sympy.sympify(e)) for e in b) for b in blocks)
        self._positions: dict[int, tuple[int, int]] = {}
        for k, b in enumerate(self.class_blocks):
            for i, e in enumerate(b):
                unknown = e.free_symbols - set(index)
                if unknown:
                    raise DeclarationError(f"class block {k} entry {i} ({e}) uses {sorted(map(str, unknown))}, "
                                           f"which are not parameters")
                if isinstance(e, sympy.Symbol):
                    if index[e] in self._positions:
                        raise DeclarationError(f"{e} appears twice in the class blocks; each parameter belongs to "
                                               f"at most one class and position")
                    self._positions[index[e]] = (k, i)
        flips = [list(f) for f in sign_flips]
        self._flip_of: dict[int, int] = {}
        for c, f in enumerate(flips):
            if not f:
                raise DeclarationError(f"sign_flips[{c}] is empty; list the parameters that change sign with "
                                       f"the latent")
            for s in f:
                if s not in index:
                    raise DeclarationError(f"sign_flips[{c}] holds {s!r}, which is not a parameter")
                if index[s] in self._flip_of:
                    raise DeclarationError(f"{s} is in two sign_flips; each parameter flips with one latent at most")
                self._flip_of[index[s]] = c
        self.sign_flips: tuple[tuple[sympy.Symbol, ...], ...] = tuple(tuple(f) for f in flips)
        K = len(self.class_blocks)
        self.class_names: tuple[str, ...] = tuple(str(c) for c in (class_names or [str(k + 1) for k in range(K)]))
        if len(self.class_names) != K:
            raise DeclarationError(f"{len(self.class_names)} class_names for {K} class blocks")
        m = len(self.sign_flips)
        self.latent_names: tuple[str, ...] = tuple(str(c) for c in (latent_names or [f"z{c + 1}" for c in range(m)]))
        if len(self.latent_names) != m:
            raise DeclarationError(f"{len(self.latent_names)} latent_names for {m} sign-flippable latents")
        self.bounds: dict[sympy.Symbol, tuple[float, float]] = {}
        for p in self.parameters:
            lo, hi = (bounds or {}).get(p, (0.0, 1.0))
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise DeclarationError(f"bounds[{p}] = {(lo, hi)}; expected finite low < high")
            self.bounds[p] = (float(lo), float(hi))
        self._cache: dict[str, Any] = {}

    # -- sizes -----------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return len(self.parameters)

    @property
    def n_observables(self) -> int:
        return len(self.observables)

    @property
    def n_classes(self) -> int:
        """Number of class blocks (0 when none were declared)."""
        return len(self.class_blocks)

    @property
    def n_latents(self) -> int:
        """Number of sign-flippable continuous latents."""
        return len(self.sign_flips)

    # -- compiled functions ----------------------------------------------------
    def _compiled(self, what: str) -> _Compiled:
        if what not in self._cache:
            if what == "observables":
                self._cache[what] = _compile(self.parameters, self.observables)
            elif what == "blocks":
                flat = [e for b in self.class_blocks for e in b]
                self._cache[what] = _compile(self.parameters, flat or [sympy.S.Zero])
            elif what == "jacobian":
                self._cache[what] = _compile(self.parameters, [e for row in self.jacobian() for e in row])
            else:  # pragma: no cover - internal
                raise KeyError(what)
        return self._cache[what]

    def jacobian(self) -> tuple[tuple[sympy.Expr, ...], ...]:
        """The symbolic Jacobian ``d observable_i / d parameter_j`` (computed once, then cached).

        Examples
        --------
        >>> a, b = sympy.symbols("a b")
        >>> SymbolicModel([a, b], [a * b, a + b]).jacobian()
        ((b, a), (1, 1))
        """
        if "jacobian_exprs" not in self._cache:
            cache: dict = {}
            rows = []
            for o in self.observables:
                g = _gradient(o, self._index, cache)
                rows.append(tuple(g.get(p, sympy.S.Zero) for p in self.parameters))
            self._cache["jacobian_exprs"] = tuple(rows)
        return self._cache["jacobian_exprs"]

    def evaluate(self, point: Mapping[sympy.Symbol, Any] | Sequence[float]) -> np.ndarray:
        """The observables (floats) at a point (a sequence in parameter order, or ``{symbol: value}``).

        Examples
        --------
        >>> a, b = sympy.symbols("a b")
        >>> SymbolicModel([a, b], [a * b, a + b]).evaluate([2.0, 3.0]).tolist()
        [6.0, 5.0]
        """
        return self._compiled("observables").floats(self._vector(point))

    def jacobian_at(self, point: Mapping[sympy.Symbol, Any] | Sequence[Any], *, exact: bool = False):
        """The Jacobian at a point: a float ``(n_observables, n_parameters)`` array, or exact rationals.

        With ``exact=True`` the point's values are read as exact rationals and the result is a
        ``flint.fmpq_mat``.
        """
        x = self._vector(point, exact=exact)
        comp = self._compiled("jacobian")
        if exact:
            import flint

            return flint.fmpq_mat(self.n_observables, self.n_parameters, comp.exact(x))
        return comp.floats(x).reshape(self.n_observables, self.n_parameters)

    def _vector(self, point: Any, *, exact: bool = False) -> list:
        if isinstance(point, Mapping):
            missing = [str(p) for p in self.parameters if p not in point]
            if missing:
                raise DeclarationError(f"the point gives no value for {missing}")
            values = [point[p] for p in self.parameters]
        else:
            values = list(np.asarray(point, dtype=object).ravel()) if not isinstance(point, list) else point
            if len(values) != self.n_parameters:
                raise DeclarationError(f"the point has {len(values)} values; expected {self.n_parameters} "
                                       f"(one per parameter, in the order of model.parameters)")
        if exact:
            out = []
            for v in values:
                if isinstance(v, Fraction):
                    out.append(v)
                elif isinstance(v, sympy.Rational):
                    out.append(Fraction(int(v.p), int(v.q)))
                else:
                    out.append(Fraction(v))
            return out
        return [float(v) for v in values]

    def random_point(self, rng: int | np.random.Generator | None = None) -> list[Fraction]:
        """A random rational point inside ``bounds`` (denominator 1,000,003, a prime).

        Examples
        --------
        >>> m = latent_class_model(2, 2, items=2)
        >>> p = m.random_point(0)
        >>> len(p), all(0 < v < 1 for v in p)
        (5, True)
        """
        gen = _generator(rng)
        out = []
        for p in self.parameters:
            lo, hi = self.bounds[p]
            a, b = math.ceil(lo * _DENOMINATOR) + 1, math.floor(hi * _DENOMINATOR) - 1
            out.append(Fraction(int(gen.integers(a, max(a + 1, b))), _DENOMINATOR))
        return out

    # -- display ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind,
            "parameters": [str(p) for p in self.parameters],
            "observables": {n: str(o) for n, o in zip(self.observable_names, self.observables, strict=True)},
            "class_blocks": {c: [str(e) for e in b] for c, b in zip(self.class_names, self.class_blocks, strict=True)},
            "sign_flips": {z: [str(s) for s in f] for z, f in zip(self.latent_names, self.sign_flips, strict=True)},
            "fixed": {str(k): str(v) for k, v in self.fixed.items()},
            "eliminated": {str(k): str(v) for k, v in self.eliminated.items()},
            "n_parameters": self.n_parameters, "n_observables": self.n_observables,
        }

    def _summary(self) -> str:
        parts = [f"{self.n_parameters} parameters", f"{self.n_observables} observables"]
        if self.n_classes:
            parts.append(f"{self.n_classes} class blocks of {len(self.class_blocks[0])}")
        if self.n_latents:
            parts.append(f"{self.n_latents} sign-flippable latents")
        if self.fixed:
            parts.append(f"{len(self.fixed)} fixed")
        if self.eliminated:
            parts.append(f"{len(self.eliminated)} eliminated by constraints")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"SymbolicModel({self.name!r}, {self.kind}: {self._summary()})"

    def _repr_markdown_(self) -> str:
        lines = [f"**SymbolicModel** {self.name} ({self.kind}): {self._summary()}", ""]
        shown = self.parameters[:12]
        lines.append("parameters: " + ", ".join(f"`{p}`" for p in shown)
                     + (f", ... ({self.n_parameters} in all)" if self.n_parameters > len(shown) else ""))
        if self.n_classes:
            lines += ["", "| class | block |", "|---|---|"]
            for c, b in zip(self.class_names, self.class_blocks, strict=True):
                text = ", ".join(str(e) for e in b[:6]) + (", ..." if len(b) > 6 else "")
                lines.append(f"| {c} | {text.replace('|', chr(92) + '|')} |")
        for k, v in {**self.fixed, **self.eliminated}.items():
            lines.append(f"\n`{k}` = `{v}`")
        return "\n".join(lines)


def _levels_of(levels: Any, items: int | None) -> list[int]:
    if isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        L = whole_number(levels, "levels", 2)
        if items is None:
            raise DeclarationError(f"levels={L} is one number of levels; also give items=J (how many items), or "
                                   f"give a sequence of levels per item such as {[L] * 3}")
        return [L] * whole_number(items, "items", 1)
    if isinstance(levels, str | bytes) or not isinstance(levels, Sequence | np.ndarray):
        raise DeclarationError(f"levels={levels!r}; expected a whole number >= 2 (with items=J) or one per item")
    out = [whole_number(v, f"levels[{j}]", 2) for j, v in enumerate(levels)]
    if not out:
        raise DeclarationError("levels is empty; give at least one item")
    if items is not None and whole_number(items, "items", 1) != len(out):
        raise DeclarationError(f"items={items} but levels lists {len(out)} items; give one or make them agree")
    return out


def latent_class_model(K: int, levels: int | Sequence[int], *, items: int | None = None,
                       prior: Sequence[Any] | None = None) -> SymbolicModel:
    """The latent class model with ``K`` classes and categorical items, as a :class:`SymbolicModel`.

    Free parameters: ``P(Y=k)`` for ``k < K`` (the last class has ``1 - sum``) and
    ``P(X_j = l | Y = k)`` for levels ``l < L_j`` (the last level has ``1 - sum``). Observables:
    the probabilities ``sum_k P(Y=k) prod_j P(X_j = x_j | Y=k)`` of all answer patterns but the
    last (they sum to 1). Class blocks: ``[P(Y=k), P(X_1=1|Y=k), ...]``.

    Parameters
    ----------
    K : int
        Number of classes (>= 1).
    levels : int or sequence of int
        Levels per item (each >= 2); one number for all items together with ``items=J``.
    items : int, optional
        Number of items when ``levels`` is one number.
    prior : sequence of K numbers, optional
        Fix the class prior to these values (exact rationals; floats are read by their shortest
        decimal, 0.2 as 1/5); they must sum to 1. Unequal values break the relabelling symmetry.

    Returns
    -------
    SymbolicModel

    Examples
    --------
    >>> m = latent_class_model(2, [2, 3])
    >>> m.n_parameters, m.n_observables          # 1 + 2 * (1 + 2); 2 * 3 - 1 patterns
    (7, 5)
    >>> m.parameters[:2]
    (P(Y=1), P(X1=1|Y=1))
    """
    K = whole_number(K, "K", 1)
    L = _levels_of(levels, items)
    J = len(L)
    cells = math.prod(L)
    if cells > 200_000:
        raise DeclarationError(f"the items have {cells} answer patterns; the symbolic model enumerates them all "
                               f"(at most 200,000): use fewer items")
    classes = [str(k + 1) for k in range(K)]
    bounds: dict[sympy.Symbol, tuple[float, float]] = {}
    if prior is None:
        pis = [sympy.Symbol(f"P(Y={c})", positive=True) for c in classes[:-1]]
        for p in pis:
            bounds[p] = (0.3 / K, 1.0 / K)
        shares: list[sympy.Expr] = [*pis, 1 - sympy.Add(*pis)]
        fixed_text = None
    else:
        if isinstance(prior, str | bytes) or not isinstance(prior, Sequence | np.ndarray) or len(prior) != K:
            raise DeclarationError(f"prior={prior!r}; expected {K} class probabilities summing to 1")
        shares = [_exact_number(v, f"prior[{k}]") for k, v in enumerate(prior)]
        if any(s.free_symbols or s < 0 for s in shares) or sympy.Add(*shares) != 1:
            raise DeclarationError(f"prior={list(prior)} gives {[str(s) for s in shares]}, summing to "
                                   f"{sympy.Add(*shares)}; expected {K} non-negative numbers summing to exactly 1")
        pis = []
        fixed_text = [str(s) for s in shares]
    params: list[sympy.Symbol] = []
    theta: list[list[list[sympy.Expr]]] = []  # [k][j][l]
    resp_syms: list[list[sympy.Symbol]] = []  # per class, the free response symbols in block order
    for c in classes:
        per_item, free = [], []
        for j, Lj in enumerate(L):
            syms = [sympy.Symbol(f"P(X{j + 1}={lv + 1}|Y={c})", positive=True) for lv in range(Lj - 1)]
            for s in syms:
                bounds[s] = (0.05 / (Lj - 1), 0.95 / (Lj - 1))
            free.extend(syms)
            per_item.append([*syms, 1 - sympy.Add(*syms)])
        theta.append(per_item)
        resp_syms.append(free)
    for k in range(K):
        if prior is None and k < K - 1:
            params.append(pis[k])
        params.extend(resp_syms[k])
    observables, names = [], []
    patterns = list(itertools.product(*(range(Lj) for Lj in L)))[:-1]
    for x in patterns:
        observables.append(sympy.Add(*[sympy.Mul(shares[k], *[theta[k][j][x[j]] for j in range(J)])
                                       for k in range(K)]))
        names.append("P(" + ",".join(str(v + 1) for v in x) + ")")
    blocks = [[shares[k], *resp_syms[k]] for k in range(K)]
    kind = f"latent class model, K={K}, levels {L}" + (f", prior fixed to {fixed_text}" if fixed_text else "")
    return SymbolicModel(params, observables, class_blocks=blocks, name=f"LCA K={K} J={J}",
                         observable_names=names, class_names=classes, bounds=bounds, kind=kind)


def factor_model(n_observables: int, n_factors: int) -> SymbolicModel:
    """The Gaussian linear factor model ``x = Λ f + e``, ``f ~ N(0, I)``, ``e ~ N(0, Ψ)`` as a :class:`SymbolicModel`.

    Parameters: the loadings ``Λ`` (``p x m``, symbols ``lambda[i,c]``) and the diagonal of
    ``Ψ`` (``psi[i]``). Observables: the ``p (p + 1) / 2`` distinct entries of
    ``Σ = Λ Λᵀ + Ψ``. Class blocks: the columns of ``Λ`` (relabelling the factors); sign flips:
    each column (``f_c -> -f_c``). The continuous gauge is the rotations ``Λ -> Λ R``.

    Parameters
    ----------
    n_observables : int
        ``p >= 1``.
    n_factors : int
        ``m >= 1``.

    Returns
    -------
    SymbolicModel

    Examples
    --------
    >>> m = factor_model(3, 1)
    >>> m.n_parameters, m.n_observables
    (6, 6)
    >>> m.observables[1]
    lambda[1,1]*lambda[2,1]
    """
    p = whole_number(n_observables, "n_observables", 1)
    m = whole_number(n_factors, "n_factors", 1)
    lam = [[sympy.Symbol(f"lambda[{i + 1},{c + 1}]", real=True) for c in range(m)] for i in range(p)]
    psi = [sympy.Symbol(f"psi[{i + 1}]", positive=True) for i in range(p)]
    bounds = {s: (-1.0, 1.0) for row in lam for s in row}
    bounds.update({s: (0.2, 1.0) for s in psi})
    observables, names = [], []
    for i in range(p):
        for j in range(i, p):
            e = sympy.Add(*[lam[i][c] * lam[j][c] for c in range(m)])
            observables.append(e + psi[i] if i == j else e)
            names.append(f"Sigma[{i + 1},{j + 1}]")
    params = [s for row in lam for s in row] + psi
    columns = [[lam[i][c] for i in range(p)] for c in range(m)]
    factors = [f"f{c + 1}" for c in range(m)]
    return SymbolicModel(params, observables, class_blocks=columns, sign_flips=columns,
                         name=f"factor model p={p} m={m}", observable_names=names, class_names=factors,
                         latent_names=factors, bounds=bounds, kind=f"Gaussian linear factor model, {p} observables, "
                                                                   f"{m} factors")


def from_latent_market(market: Any) -> SymbolicModel:
    """The symbolic model of a :class:`~deepmarkets.models.latent_market.LatentMarket`.

    The market's symbols (:meth:`LatentMarket.symbols`) with the last class's ``P(Y)`` and
    each table row's last level eliminated (``1 - sum``); observables: the joint
    :meth:`LatentMarket.joint_expression` of every outcome but the last.

    Examples
    --------
    >>> from deepmarkets.models.latent_market import LatentMarket
    >>> mk = LatentMarket("m", latent=["a", "b"], observables={"x": ["0", "1"], "y": ["0", "1"]})
    >>> m = from_latent_market(mk)
    >>> m.n_parameters, m.n_observables, discrete_gauge(m).order
    (5, 3, 2)
    """
    from deepmarkets.models.latent_market import LatentMarket

    if not isinstance(market, LatentMarket):
        raise DeclarationError(f"expected a LatentMarket, got {type(market).__name__}")
    syms = market.symbols()
    prior = list(syms["prior"])
    tables = [syms["tables"][name] for name in market.observables]
    K = len(prior)
    elim: dict[sympy.Symbol, sympy.Expr] = {prior[-1]: 1 - sympy.Add(*prior[:-1])}
    bounds: dict[sympy.Symbol, tuple[float, float]] = {p: (0.3 / K, 1.0 / K) for p in prior[:-1]}
    blocks: list[list[sympy.Expr]] = [[prior[k] if k < K - 1 else elim[prior[-1]]] for k in range(K)]
    params: list[sympy.Symbol] = []
    for k in range(K):
        if k < K - 1:
            params.append(prior[k])
        for t in tables:
            L = t.shape[1]
            row = [t[k, lv] for lv in range(L)]
            elim[row[-1]] = 1 - sympy.Add(*row[:-1])
            for s in row[:-1]:
                bounds[s] = (0.05 / (L - 1), 0.95 / (L - 1))
            params.extend(row[:-1])
            blocks[k].extend(row[:-1])
    outcomes = market.outcomes()[:-1]
    observables, names = [], []
    for code in outcomes:
        case = {name: market.levels[i][int(c)] for i, (name, c) in enumerate(zip(market.observables, code,
                                                                                   strict=True))}
        observables.append(market.joint_expression(case).xreplace(elim))
        names.append("P(" + ",".join(f"{n}={v}" for n, v in case.items()) + ")")
    return SymbolicModel(params, observables, class_blocks=blocks, name=market.name, observable_names=names,
                         class_names=list(market.classes), bounds=bounds,
                         kind=f"latent market, K={K}, observables {list(market.observables)}")


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
        return _plain({
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
        return _plain({"holds": self.holds, "method": self.method, "observable": self.observable,
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
    tol = _positive_float(tol, "tol")
    K, m = model.n_classes, model.n_latents
    if K == 0 and m == 0:
        raise DeclarationError(f"{model.name} declares no class blocks and no sign flips: there is no discrete "
                               f"transformation to test (declare class_blocks= or sign_flips=)")
    n_cand = math.factorial(K) * 2 ** m
    if n_cand > MAX_CANDIDATES:
        raise DeclarationError(f"{K}! permutations x 2^{m} sign patterns = {n_cand} candidates, more than "
                               f"{MAX_CANDIDATES}; test chosen substitutions with check_symmetry instead")
    gen = _generator(rng)
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
        warnings.warn(f"{model.name}: {unproven} pass the numeric check but sympy could not reduce every difference "
                      f"to 0; they are kept, marked unproven", UserWarning, stacklevel=2)
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
    >>> m = latent_class_model(2, 2, items=2)
    >>> s = {v: k for v, k in zip(m.class_blocks[0][1:], m.class_blocks[1][1:])}
    >>> s.update({k: v for v, k in s.items()})                # swap the responses only, not the prior
    >>> check_symmetry(m, s).holds
    False
    """
    if not isinstance(model, SymbolicModel):
        raise DeclarationError(f"expected a SymbolicModel, got {type(model).__name__}")
    points = whole_number(points, "points", 1)
    tol = _positive_float(tol, "tol")
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
    gen = _generator(rng)
    mapped = _compile(model.parameters, [sub.get(p, p) for p in model.parameters])
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


# ---------------------------------------------------------------------------
# the continuous gauge
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuousGauge:
    """The continuous gauge of a model at generic points: its dimension and infinitesimal generators.

    Attributes
    ----------
    model : str
    dimension : int
        ``n_parameters - rank`` (the exact rank when it was computed).
    n_parameters, n_observables : int
    rank : int
        The generic rank of the Jacobian used.
    float_ranks : tuple of int
        The floating-point rank at each point (singular values ``> tol * s_max``).
    exact_ranks : tuple of int or None
        The exact rank over the rationals at each point (None when not computed).
    tol : float
        The relative tolerance of the floating-point rank.
    singular_values : numpy.ndarray
        At the first point, largest first.
    gap : float or None
        ``s_rank / s_(rank+1)`` at the first point: how clearly the kept singular values stand
        above the dropped ones (None when no computed singular value was dropped, as when the
        Jacobian has fewer rows than columns and full row rank, or nothing was kept).
    generators : numpy.ndarray
        ``(n_parameters, dimension)``: an orthonormal basis of the Jacobian's null space at the
        first point (floating point); each column is a direction in which the parameters can
        move without changing the observables to first order.
    exact_generators : tuple of tuple of Fraction or None
        A basis of the exact null space at the first point (reduced echelon form), when exact.
    parameters : tuple of str
    point : tuple of Fraction
        The first point (rational; the float computations use the same values).
    seconds, compile_seconds : float
        Total wall time and the part spent building and compiling the Jacobian.
    """

    model: str
    dimension: int
    n_parameters: int
    n_observables: int
    rank: int
    float_ranks: tuple[int, ...]
    exact_ranks: tuple[int, ...] | None
    tol: float
    singular_values: np.ndarray = field(repr=False)
    gap: float | None
    generators: np.ndarray = field(repr=False)
    exact_generators: tuple[tuple[Fraction, ...], ...] | None = field(repr=False)
    parameters: tuple[str, ...] = field(repr=False)
    point: tuple[Fraction, ...] = field(repr=False)
    seconds: float = 0.0
    compile_seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return self.exact_ranks is not None

    @property
    def consistent(self) -> bool:
        """All points (and both arithmetics) gave the same rank."""
        ranks = set(self.float_ranks) | set(self.exact_ranks or ())
        return len(ranks) == 1

    def generator_frame(self):
        """The generators as a pandas DataFrame (one row per parameter, one column per generator)."""
        import pandas as pd

        return pd.DataFrame(self.generators, index=list(self.parameters),
                            columns=[f"g{i + 1}" for i in range(self.generators.shape[1])])

    def to_dict(self) -> dict:
        return _plain({
            "model": self.model, "dimension": self.dimension, "n_parameters": self.n_parameters,
            "n_observables": self.n_observables, "rank": self.rank, "float_ranks": list(self.float_ranks),
            "exact_ranks": None if self.exact_ranks is None else list(self.exact_ranks), "tol": self.tol,
            "singular_values": self.singular_values, "gap": self.gap, "consistent": self.consistent,
            "parameters": list(self.parameters), "generators": self.generators,
            "exact_generators": None if self.exact_generators is None else [list(g) for g in self.exact_generators],
            "point": list(self.point), "seconds": self.seconds, "compile_seconds": self.compile_seconds,
        })

    def __repr__(self) -> str:
        how = (f"exact rank {self.rank}" if self.exact else f"float rank {self.rank} (tol {self.tol:g})")
        gap = "" if self.gap is None else f", singular value gap {self.gap:.3g}"
        return (f"ContinuousGauge({self.model!r}: dimension {self.dimension} = {self.n_parameters} parameters - "
                f"{how}{gap}; {len(self.float_ranks)} points{'' if self.consistent else ', RANKS DIFFER'})")

    def _repr_markdown_(self) -> str:
        lines = [f"**continuous gauge of {self.model}**: dimension **{self.dimension}** = "
                 f"{self.n_parameters} parameters − rank {self.rank}", "",
                 f"- float ranks at {len(self.float_ranks)} random points: {list(self.float_ranks)} "
                 f"(singular values > {self.tol:g} × largest)",
                 f"- exact ranks over the rationals: {list(self.exact_ranks) if self.exact else 'not computed'}",
                 f"- singular value gap: {'-' if self.gap is None else f'{self.gap:.3g}'}",
                 f"- {self.seconds:.3f} s ({self.compile_seconds:.3f} s building and compiling the Jacobian)"]
        return "\n".join(lines)


def _exact_rank_and_null(mat) -> tuple[int, list[list[Fraction]]]:
    """Rank of a ``flint.fmpq_mat`` and a basis of its null space from the reduced row echelon form."""
    rref, rank = mat.rref()
    n = mat.ncols()
    pivots = []
    r = 0
    for c in range(n):
        if r < rank and rref[r, c] != 0:
            pivots.append(c)
            r += 1
    free = [c for c in range(n) if c not in pivots]
    basis = []
    for f in free:
        v = [Fraction(0)] * n
        v[f] = Fraction(1)
        for row, pc in enumerate(pivots):
            q = -rref[row, f]
            v[pc] = Fraction(int(q.p), int(q.q))
        basis.append(v)
    return int(rank), basis


def continuous_gauge(model: SymbolicModel, *, points: int = 3, tol: float = RANK_TOL, exact: bool | None = None,
                     rng: int | np.random.Generator | None = None) -> ContinuousGauge:
    """Dimension and generators of the continuous gauge: parameters minus the generic rank of the Jacobian.

    The Jacobian ``d observables / d parameters`` is built symbolically once (one pass over each
    observable's expression tree) and compiled once into one Python function, the way
    :func:`sympy.lambdify` does but without the renaming pass lambdify makes when symbol names
    are not Python identifiers (such as ``P(Y=1)``), which took over 10 s on the 255 x 35
    Jacobian of a K=4, J=8 latent class model (compiling here takes under 1 s). The same code
    object is bound to float arithmetic and to exact rational arithmetic (``flint.fmpq``); the
    model caches it.
    At ``points`` random rational points inside the model's bounds its floating-point rank is
    the number of singular values above ``tol`` times the largest; the generic rank is the
    largest rank seen (a rank can only drop on a measure-zero set). With ``exact`` the rank is
    also computed exactly over the rationals at the same points (python-flint); an exact rank
    at a point is a lower bound of the generic rank and equals it unless the point is a root
    of a non-zero polynomial, which random points avoid with high probability
    (Schwartz-Zippel). When the two disagree the exact rank is used, with a warning.

    Parameters
    ----------
    model : SymbolicModel
    points : int, default 3
    tol : float, default :data:`RANK_TOL`
        Relative tolerance of the floating-point rank.
    exact : bool or None, default None
        Also compute the exact rank; None: when the Jacobian has at most
        :data:`EXACT_MAX_ENTRIES` entries and the observables are rational functions.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    ContinuousGauge

    Examples
    --------
    >>> continuous_gauge(latent_class_model(2, 2, items=2), rng=0).dimension
    2
    >>> g = continuous_gauge(factor_model(6, 2), rng=0)
    >>> g.dimension, g.generators.shape            # one rotation of the two factors
    (1, (18, 1))
    """
    started = time.perf_counter()
    if not isinstance(model, SymbolicModel):
        raise DeclarationError(f"expected a SymbolicModel, got {type(model).__name__}")
    points = whole_number(points, "points", 1)
    tol = _positive_float(tol, "tol")
    if not tol < 1:
        raise DeclarationError(f"tol={tol}; expected a relative tolerance below 1 (e.g. 1e-8)")
    gen = _generator(rng)
    t0 = time.perf_counter()
    comp = model._compiled("jacobian")
    compile_s = time.perf_counter() - t0
    n, q = model.n_parameters, model.n_observables
    if exact is None:
        exact = comp.exact_ok and n * q <= EXACT_MAX_ENTRIES
    elif exact and not comp.exact_ok:
        raise DeclarationError(f"exact=True needs observables that are rational functions with rational "
                               f"coefficients; {model.name} has others (use exact=False)")
    pts = [model.random_point(gen) for _ in range(points)]
    float_ranks, exact_ranks = [], []
    sv0 = null0 = exact_null = None
    for i, pt in enumerate(pts):
        jac = model.jacobian_at(pt)
        if not np.isfinite(jac).all():
            raise InferenceError(f"the Jacobian of {model.name} is not finite at a random point; check the bounds")
        _, s, vt = np.linalg.svd(jac, full_matrices=True)
        r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
        float_ranks.append(r)
        if i == 0:
            sv0, vt0, r0 = s, vt, r
        if exact:
            er, basis = _exact_rank_and_null(model.jacobian_at(pt, exact=True))
            exact_ranks.append(er)
            if i == 0:
                exact_null = basis
    rank = max(exact_ranks) if exact else max(float_ranks)
    if exact and max(float_ranks) != rank:
        warnings.warn(f"{model.name}: the floating-point rank at tol={tol:g} ({float_ranks}) differs from the exact "
                      f"rank ({exact_ranks}); the exact rank is used", UserWarning, stacklevel=2)
    if len(set(float_ranks) | set(exact_ranks)) > 1:
        warnings.warn(f"{model.name}: the rank differs between random points (float {float_ranks}, exact "
                      f"{exact_ranks or '-'}); the largest is taken as the generic rank", UserWarning, stacklevel=2)
    # generators at the first point: the right singular vectors beyond the rank
    first = exact_ranks[0] if exact else r0
    null0 = vt0[first:].T.copy()
    gap = None
    if 0 < first < len(sv0):
        gap = float(sv0[first - 1] / sv0[first]) if sv0[first] > 0 else math.inf
    return ContinuousGauge(
        model=model.name, dimension=n - rank, n_parameters=n, n_observables=q, rank=rank,
        float_ranks=tuple(float_ranks), exact_ranks=tuple(exact_ranks) if exact else None, tol=tol,
        singular_values=sv0, gap=gap, generators=null0,
        exact_generators=None if exact_null is None else tuple(tuple(v) for v in exact_null),
        parameters=tuple(str(p) for p in model.parameters), point=tuple(pts[0]),
        seconds=time.perf_counter() - started, compile_seconds=compile_s,
    )


# ---------------------------------------------------------------------------
# gauge fixing of posterior draws
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class GaugeFixing:
    """Posterior draws relabelled to one labelling, with diagnostics before and after.

    Attributes
    ----------
    method : str
        ``"stephens"`` or ``"pivot"``.
    description : str
        What was done, in words.
    idata : xarray.DataTree
        The relabelled posterior (every variable with a ``class`` dim permuted per draw;
        ``sample_stats.gauge_permutation`` holds the permutations).
    permutations : numpy.ndarray
        ``(chain, draw, K)``: class ``k`` after fixing is class ``permutations[c, d, k]`` of the
        input draw.
    relabelled : int
        Draws whose permutation is not the identity.
    chain_labellings : list of tuple of int
        The most common permutation in each chain.
    iterations : int
        Stephens iterations (1 for the pivot method).
    converged : bool
        Stephens: the permutations stopped changing within ``max_iter``.
    objective : float or None
        Stephens: ``sum over draws and questions of KL(P_draw∘perm ‖ Q)`` at the end (nats).
    before, after : dict
        ``max_rhat``, ``min_ess_bulk`` and ``min_ess_tail`` over the class-indexed parameters.
    fit : LatentClassFit or None
        The input fit with point estimates, diagnostics and ``idata`` recomputed after fixing.
    seconds : float
    """

    method: str
    description: str
    idata: Any = field(repr=False)
    permutations: np.ndarray = field(repr=False)
    relabelled: int
    chain_labellings: list
    iterations: int
    converged: bool
    objective: float | None
    before: dict
    after: dict
    fit: Any = field(default=None, repr=False)
    seconds: float = 0.0
    source: Any = field(default=None, repr=False)

    @property
    def n_draws(self) -> int:
        return int(self.permutations.shape[0] * self.permutations.shape[1])

    def to_dict(self) -> dict:
        return _plain({
            "method": self.method, "description": self.description, "relabelled": self.relabelled,
            "n_draws": self.n_draws, "chain_labellings": [list(p) for p in self.chain_labellings],
            "iterations": self.iterations, "converged": self.converged, "objective": self.objective,
            "before": self.before, "after": self.after, "seconds": self.seconds,
        })

    def __repr__(self) -> str:
        def fmt(d):
            r, e = d.get("max_rhat"), d.get("min_ess_bulk")
            return f"max R-hat {'-' if r is None else f'{r:.3f}'}, min bulk ESS {'-' if e is None else f'{e:.0f}'}"

        return (f"GaugeFixing({self.method}: {self.relabelled} of {self.n_draws} draws relabelled; before: "
                f"{fmt(self.before)}; after: {fmt(self.after)}; {self.iterations} iterations"
                f"{'' if self.converged else ', NOT converged'})")

    def _repr_markdown_(self) -> str:
        def cell(d, key, spec):
            v = d.get(key)
            return "-" if v is None else format(v, spec)

        return "\n".join([
            f"**gauge fixing** ({self.method}): {self.description}", "",
            f"{self.relabelled} of {self.n_draws} draws relabelled; the relabelling of most draws in each chain: "
            f"{[list(p) for p in self.chain_labellings]}; {self.iterations} iteration(s) "
            f"({'converged' if self.converged else 'NOT converged'}), {self.seconds:.2f} s", "",
            "| | max R-hat | min bulk ESS |", "|---|---|---|",
            f"| before | {cell(self.before, 'max_rhat', '.3f')} | {cell(self.before, 'min_ess_bulk', '.0f')} |",
            f"| after | {cell(self.after, 'max_rhat', '.3f')} | {cell(self.after, 'min_ess_bulk', '.0f')} |",
        ])


def _posterior_of(fit_or_idata: Any) -> tuple[Any, Any]:
    from deepmarkets.models.fit import LatentClassFit

    if isinstance(fit_or_idata, LatentClassFit):
        if fit_or_idata.idata is None:
            raise InferenceError(f"this {fit_or_idata.method.upper()} fit has no posterior draws; gauge fixing "
                                 f"needs a NUTS fit (infer(..., method='nuts')) or its idata")
        return fit_or_idata, fit_or_idata.idata
    tree = fit_or_idata
    children = getattr(tree, "children", None)
    if not isinstance(children, Mapping) or "posterior" not in children:
        raise InferenceError(f"expected a LatentClassFit from NUTS or an xarray.DataTree with a posterior group, "
                             f"got {type(fit_or_idata).__name__}")
    return None, tree


def _dataset(node: Any):
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def _flat(da, S: int) -> tuple[np.ndarray, int]:
    """``(S, ...)`` values of a (chain, draw, ...) DataArray and the class axis in that array."""
    da = da.transpose("chain", "draw", ...)
    arr = np.asarray(da.values)
    return arr.reshape(S, *arr.shape[2:]), da.dims.index("class") - 1


def _class_parameters(post, S: int) -> tuple[np.ndarray, list[str]]:
    """``(S, K, D)`` class blocks from class_share, response and mean (columns NaN in any draw dropped)."""
    parts, used = [], []
    for name in ("class_share", "response", "mean"):
        if name in post.data_vars and "class" in post[name].dims:
            arr, axis = _flat(post[name], S)
            arr = np.moveaxis(arr, axis, 1)
            parts.append(arr.reshape(S, arr.shape[1], -1))
            used.append(name)
    if not parts:
        raise InferenceError("the posterior has none of class_share, response or mean with a class dim; give "
                             "pivot blocks for the variables it has, or use method='stephens'")
    blocks = np.concatenate(parts, axis=2).astype(np.float64)
    keep = np.isfinite(blocks).all(axis=(0, 1))
    return blocks[:, :, keep], used


def _diagnostics(post, C: int, D: int) -> dict:
    """Max R-hat and min bulk and tail ESS over the class-indexed parameters (class_share, response, mean)."""
    import arviz as az
    import xarray as xr

    S = C * D
    try:
        blocks, _ = _class_parameters(post, S)
    except InferenceError:
        return {"max_rhat": None, "min_ess_bulk": None, "min_ess_tail": None, "parameters": 0}
    flat = blocks.reshape(C, D, -1)
    ds = xr.Dataset({"theta": (("chain", "draw", "parameter"), flat)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = az.rhat(ds)["theta"].values if C >= 2 else np.array([np.nan])
        ess = az.ess(ds, method="bulk")["theta"].values
        tail = az.ess(ds, method="tail")["theta"].values
    max_rhat = float(np.nanmax(rhat)) if np.isfinite(rhat).any() else None
    return {"max_rhat": max_rhat, "min_ess_bulk": float(np.nanmin(ess)) if np.isfinite(ess).any() else None,
            "min_ess_tail": float(np.nanmin(tail)) if np.isfinite(tail).any() else None,
            "parameters": int(flat.shape[2])}


def _hungarian(costs: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    costs = np.nan_to_num(costs, nan=np.inf, posinf=1e300)
    out = np.empty(costs.shape[:2], dtype=np.int64)
    for s in range(costs.shape[0]):
        out[s] = linear_sum_assignment(costs[s])[1]
    return out


def _stephens(P: np.ndarray, Q0: np.ndarray, max_iter: int) -> tuple[np.ndarray, int, bool, float]:
    """Stephens' (2000) KL relabelling of ``(S, N, K)`` classification probabilities, started from ``Q0``."""
    from deepmarkets.models.relabel import permute_classes

    tiny = 1e-300
    perms = _hungarian(-np.einsum("sql,qk->skl", P, np.log(np.maximum(Q0, tiny))))
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        Qm = permute_classes(P, perms, axis=2).mean(axis=0)
        new = _hungarian(-np.einsum("sql,qk->skl", P, np.log(np.maximum(Qm, tiny))))
        if np.array_equal(new, perms):
            converged = True
            break
        perms = new
    Pp = permute_classes(P, perms, axis=2)
    Qm = Pp.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(Pp > 0, Pp * (np.log(np.maximum(Pp, tiny)) - np.log(np.maximum(Qm, tiny))[None]), 0.0)
    return perms, it, converged, float(kl.sum())


def _pivot_draw(post, S: int, pivot: Any) -> int:
    if pivot is None:
        if "loglik" in post.data_vars:
            ll = np.asarray(post["loglik"].transpose("chain", "draw").values, dtype=float).reshape(S)
            return int(np.nanargmax(ll))
        return 0
    if isinstance(pivot, int | np.integer) and not isinstance(pivot, bool):
        if not 0 <= int(pivot) < S:
            raise InferenceError(f"pivot={pivot}; a draw index must be in [0, {S}) (chain * draws + draw)")
        return int(pivot)
    return -1


def _fit_response_layout(fit: Any, post) -> np.ndarray:
    """A fit's responses in the posterior's (trader, class, level) layout (NaN where unused)."""
    import pandas as pd

    levels = [str(v) for v in post["level"].values]
    J, K = len(fit.response), fit.n_classes
    out = np.full((J, K, len(levels)), np.nan)
    index = pd.Index(levels)
    for j, r in enumerate(fit.response):
        lv = [str(v) for v in fit.response_levels(j)]
        pos = index.get_indexer(lv)
        if (pos < 0).any() or len(pos) != r.shape[1]:
            raise InferenceError(f"trader {j}'s levels {lv} of the pivot fit are not levels of the posterior "
                                 f"{levels}; the pivot must be a fit of the same book")
        out[j][:, pos] = r
    return out


def fix_gauge(fit_or_idata: Any, *, method: str = "stephens", pivot: Any = None, max_iter: int = 100) -> GaugeFixing:
    """Relabel the posterior draws of a latent class model so that all chains share one labelling.

    ``"stephens"`` (Stephens 2000, Algorithm 2, on the per-question class probabilities
    ``P_s[q, k]`` of each draw ``s``): start from each draw's best match to a pivot, then
    repeat until no permutation changes: ``Q = mean over draws of the permuted P_s``; for each
    draw the permutation that minimises ``sum_q KL(P_s[q]∘perm ‖ Q[q])``, found exactly by
    :func:`scipy.optimize.linear_sum_assignment`. This needs the posterior variable
    ``class_probability`` (chain, draw, question, class). ``"pivot"``: each draw's classes are
    matched to the pivot's by :func:`deepmarkets.models.relabel.align_draws` on the class
    blocks (class share and response probabilities, KL cost; trader means for forecasts,
    squared cost).

    Every posterior variable with a ``class`` dim is permuted per draw. The diagnostics are the
    largest rank-normalised split R-hat and the smallest bulk ESS (ArviZ) over the
    class-indexed parameters (``class_share``, ``response``, ``mean``), before and after.

    Parameters
    ----------
    fit_or_idata : LatentClassFit or xarray.DataTree
        A NUTS fit (from :func:`~deepmarkets.models.nuts.fit_nuts` or ``infer(..., method="nuts")``)
        or its ``idata``.
    method : {"stephens", "pivot"}, default "stephens"
    pivot : None, int, LatentClassFit or array, optional
        The labelling to keep: None, the draw with the highest ``loglik`` (else the first
        draw); an int, that draw (``chain * n_draws + draw``); a LatentClassFit of the same
        book (for example the EM fit); an array, ``(Q, K)`` class probabilities (stephens) or
        ``(K, D)`` class blocks (pivot).
    max_iter : int, default 100
        Stephens iterations at most.

    Returns
    -------
    GaugeFixing
        With ``fit`` (point estimates recomputed after fixing) when a fit was given.

    Raises
    ------
    InferenceError
        For input without posterior draws or classes, a missing ``class_probability``
        (stephens), or a pivot that does not match.

    Examples
    --------
    >>> import xarray as xr
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])            # 3 questions, 2 classes
    >>> draws = np.stack([p, p[:, ::-1]])[:, None].repeat(5, axis=1)   # chain 1 has its labels swapped
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
    ...     {"class_probability": (("chain", "draw", "question", "class"), draws)})})
    >>> fixed = fix_gauge(tree)
    >>> fixed.relabelled, fixed.chain_labellings
    (5, [(0, 1), (1, 0)])
    """
    started = time.perf_counter()
    if method not in _METHODS:
        raise DeclarationError(f"method={method!r}; expected one of {list(_METHODS)}")
    max_iter = whole_number(max_iter, "max_iter", 1)
    fit, tree = _posterior_of(fit_or_idata)
    post = _dataset(tree["posterior"])
    if "class" not in post.dims or "chain" not in post.dims or "draw" not in post.dims:
        raise InferenceError(f"the posterior has dims {dict(post.sizes)}; expected chain, draw and class")
    C, D, K = post.sizes["chain"], post.sizes["draw"], post.sizes["class"]
    S = C * D
    from deepmarkets.models.fit import LatentClassFit
    from deepmarkets.models.relabel import align_draws, permute_classes

    objective = None
    if method == "stephens":
        if "class_probability" not in post.data_vars:
            raise InferenceError("the posterior has no class_probability (chain, draw, question, class); Stephens' "
                                 "relabelling needs it; use method='pivot'")
        P, axis = _flat(post["class_probability"], S)
        P = np.moveaxis(P.astype(np.float64), axis, -1).reshape(S, -1, K)
        if not np.isfinite(P).all():
            raise InferenceError("class_probability holds NaN or infinite values")
        s0 = _pivot_draw(post, S, pivot)
        if s0 >= 0:
            Q0 = P[s0]
        elif isinstance(pivot, LatentClassFit):
            Q0 = np.asarray(pivot.posterior, dtype=np.float64)
        else:
            Q0 = np.asarray(pivot, dtype=np.float64)
        if Q0.shape != P.shape[1:]:
            raise InferenceError(f"the pivot's class probabilities have shape {Q0.shape}; expected {P.shape[1:]} "
                                 f"(questions, classes)")
        perms, iterations, converged, objective = _stephens(P, Q0, max_iter)
        description = ("Stephens (2000) KL relabelling of the per-question class probabilities, started from "
                       + ("the highest-loglik draw" if pivot is None and "loglik" in post.data_vars else
                          "the given pivot" if pivot is not None else "the first draw"))
    else:
        blocks, used = _class_parameters(post, S)
        probabilities = "mean" not in used
        cost = "kl" if probabilities else "squared"
        s0 = _pivot_draw(post, S, pivot)
        if s0 >= 0:
            piv = blocks[s0]
        elif isinstance(pivot, LatentClassFit):
            parts = []
            if "class_share" in used:
                parts.append(np.asarray(pivot.class_shares, dtype=float)[:, None])
            if "response" in used:
                parts.append(np.moveaxis(_fit_response_layout(pivot, post), 1, 0).reshape(K, -1))
            if "mean" in used:
                parts.append(np.asarray(pivot.mean, dtype=float).T)
            full = np.concatenate(parts, axis=1)
            piv = full[:, np.isfinite(full).all(axis=0)]
        else:
            piv = np.asarray(pivot, dtype=np.float64)
        if piv.shape != blocks.shape[1:]:
            raise InferenceError(f"the pivot blocks have shape {piv.shape}; expected {blocks.shape[1:]} "
                                 f"(classes, parameters of {used})")
        perms, _ = align_draws(blocks, piv, cost=cost)
        iterations, converged = 1, True
        description = (f"each draw aligned to a pivot by minimum-{cost.upper() if cost == 'kl' else 'squared'} "
                       f"permutation of its class blocks ({', '.join(used)})")

    # apply the permutations to every class-indexed variable
    import xarray as xr

    new_vars = {}
    for name, da in post.data_vars.items():
        if "class" in da.dims and "chain" in da.dims and "draw" in da.dims:
            dims = ("chain", "draw", *[d for d in da.dims if d not in ("chain", "draw")])
            arr, axis = _flat(da, S)
            out = permute_classes(arr, perms, axis=axis).reshape(C, D, *arr.shape[1:])
            new_vars[name] = xr.DataArray(out, dims=dims, coords=da.transpose(*dims).coords, attrs=da.attrs)
        else:
            new_vars[name] = da
    attrs = dict(post.attrs)
    attrs["gauge_fixing"] = description
    fixed_post = xr.Dataset(new_vars, coords=post.coords, attrs=attrs)
    groups = {}
    for name, child in tree.children.items():
        groups[name] = _dataset(child)
    groups["posterior"] = fixed_post
    stats = groups.get("sample_stats")
    perm_da = xr.DataArray(perms.reshape(C, D, K), dims=("chain", "draw", "class"),
                           coords={"chain": post["chain"].values, "draw": post["draw"].values,
                                   "class": post["class"].values},
                           attrs={"meaning": "class k after gauge fixing is class gauge_permutation[k] of the input"})
    groups["sample_stats"] = (stats.assign(gauge_permutation=perm_da) if stats is not None
                              else xr.Dataset({"gauge_permutation": perm_da}))
    new_tree = xr.DataTree.from_dict(groups)

    before = _diagnostics(post, C, D)
    after = _diagnostics(fixed_post, C, D)
    ident = np.arange(K)
    moved = (perms != ident).any(axis=1)
    chain_perms = []
    for c in range(C):
        rows = perms.reshape(C, D, K)[c]
        uniq, counts = np.unique(rows, axis=0, return_counts=True)
        chain_perms.append(tuple(int(v) for v in uniq[int(np.argmax(counts))]))
    result = GaugeFixing(method=method, description=description, idata=new_tree, permutations=perms.reshape(C, D, K),
                         relabelled=int(moved.sum()), chain_labellings=chain_perms, iterations=int(iterations),
                         converged=bool(converged), objective=objective, before=before, after=after,
                         seconds=0.0, source=tree)
    if fit is not None:
        result.fit = _refit(fit, fixed_post, after, result)
    result.seconds = time.perf_counter() - started
    return result


def _refit(fit: Any, post, after: dict, fixing: GaugeFixing) -> Any:
    """The fit with point estimates and diagnostics recomputed from the relabelled draws."""
    from deepmarkets.models.em import log_likelihood
    from deepmarkets.models.fit import convergence_problems

    C, D = post.sizes["chain"], post.sizes["draw"]
    shares = post["class_share"].mean(("chain", "draw")).values if "class_share" in post.data_vars else \
        fit.class_shares
    posterior = (post["class_probability"].mean(("chain", "draw")).transpose("question", "class").values
                 if "class_probability" in post.data_vars else fit.posterior)
    response, mean = fit.response, fit.mean
    if "response" in post.data_vars and fit.model != "forecast":
        import pandas as pd

        resp = post["response"].mean(("chain", "draw")).transpose("trader", "class", "level").values
        index = pd.Index([str(v) for v in post["level"].values])
        new = []
        for j, r in enumerate(fit.response):
            pos = index.get_indexer([str(v) for v in fit.response_levels(j)])
            new.append(resp[j][:, pos].copy() if len(pos) == r.shape[1] and (pos >= 0).all() else r)
        response = tuple(new)
    if "mean" in post.data_vars and fit.model == "forecast":
        mean = post["mean"].mean(("chain", "draw")).transpose("trader", "class").values
    try:
        if fit.model == "forecast":
            loglik, _ = log_likelihood(fit.reports, model="forecast", class_shares=shares, mean=mean, sigma=fit.sigma)
        else:
            loglik, _ = log_likelihood(fit.reports, model=fit.model, class_shares=shares, response=response)
    except (InferenceError, ValueError):
        loglik = float("nan")
    diag = dict(fit.diagnostics or {})
    diag.update({"max_rhat": after["max_rhat"], "min_ess_bulk": after["min_ess_bulk"],
                 "min_ess_tail": after["min_ess_tail"], "chains": int(C),
                 "gauge_fixing": fixing.description, "gauge_fixing_relabelled_draws": fixing.relabelled})
    converged = not convergence_problems(diag)
    return replace(fit, class_shares=np.asarray(shares, dtype=float), posterior=np.asarray(posterior, dtype=float),
                   response=response, mean=mean, loglik=float(loglik), idata=fixing.idata, diagnostics=diag,
                   converged=bool(converged), n_iter=int(D))


def plot_gauge_fixing(fixing: GaugeFixing, *, variable: str = "class_share", max_draws: int = 500):
    """Trace plots of a class-indexed variable before and after gauge fixing (one panel per class).

    Parameters
    ----------
    fixing : GaugeFixing
    variable : str, default "class_share"
        A posterior variable with dims (chain, draw, class); for others, the first entry along
        the extra dims is shown.
    max_draws : int, default 500
        Draws per chain shown (thinned evenly).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (before, after), one column per class, one line per chain.
    """
    import matplotlib.pyplot as plt

    if not isinstance(fixing, GaugeFixing):
        raise DeclarationError(f"expected a GaugeFixing from fix_gauge, got {type(fixing).__name__}")
    before = _dataset(fixing.source["posterior"])
    after = _dataset(fixing.idata["posterior"])
    if variable not in after.data_vars or "class" not in after[variable].dims:
        names = [n for n, v in after.data_vars.items() if "class" in v.dims]
        raise DeclarationError(f"variable={variable!r}; expected one of the class-indexed variables {names}")

    def values(ds):
        da = ds[variable]
        extra = [d for d in da.dims if d not in ("chain", "draw", "class")]
        if extra:
            da = da.isel({d: 0 for d in extra})
        return da.transpose("chain", "draw", "class").values

    vb, va = values(before), values(after)
    C, D, K = va.shape
    step = max(1, D // max(1, int(max_draws)))
    fig, axes = plt.subplots(2, K, figsize=(3.2 * K, 4.8), sharex=True, sharey=True, squeeze=False)
    for row, (vals, title) in enumerate(((vb, "before"), (va, "after"))):
        for k in range(K):
            ax = axes[row, k]
            for c in range(C):
                ax.plot(np.arange(0, D, step), vals[c, ::step, k], lw=0.7, label=f"chain {c}")
            ax.set_title(f"{title}: class {after['class'].values[k]}", fontsize=9)
            if k == 0:
                ax.set_ylabel(variable)
    axes[0, 0].legend(fontsize=7, loc="best")
    for ax in axes[1]:
        ax.set_xlabel("draw")
    fig.suptitle(f"gauge fixing ({fixing.method}): R-hat {fixing.before.get('max_rhat') or float('nan'):.3f} → "
                 f"{fixing.after.get('max_rhat') or float('nan'):.3f}")
    fig.tight_layout()
    return fig
