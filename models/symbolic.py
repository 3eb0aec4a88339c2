"""Symbolic latent-variable models: parameters are sympy symbols, observables exact expressions in them.

A :class:`SymbolicModel` declares a parametric model of observables: its parameters (sympy
symbols), the distribution it implies for what can be observed (a list of exact expressions),
the class-indexed parameter blocks and the sign-flippable latents. It is the input of the gauge
analysis (:mod:`deepmarkets.models.gauge`). Its expressions are compiled once
(:func:`compile_expressions`) into one Python function evaluated in floating point or, for
rational functions with rational coefficients, exactly over the rationals (python-flint).

Constructors for common models: :func:`latent_class_model` (latent class analysis),
:func:`factor_model` (Gaussian linear factor analysis) and :func:`from_latent_market` (the
model of a :class:`~deepmarkets.models.latent_market.LatentMarket`).

Examples
--------
>>> m = latent_class_model(3, 2, items=3)          # 3 classes, 3 binary items
>>> m.n_parameters, m.n_observables
(11, 7)
"""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng
from deepmarkets.helpers.validate import whole_number

__all__ = [
    "SymbolicModel",
    "latent_class_model",
    "factor_model",
    "from_latent_market",
    "CompiledExpressions",
    "compile_expressions",
]

#: Denominator of the random rational points.
_DENOMINATOR = 1_000_003


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
class CompiledExpressions:
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


def compile_expressions(parameters: Sequence[sympy.Symbol], expressions: Sequence[sympy.Expr]) -> CompiledExpressions:
    """Compile expressions of the parameters into one Python function ``f(x) -> list`` (``x[i]`` = parameter i)."""
    writer = _CodeWriter(parameters)
    body = ",\n    ".join(writer.code(sympy.sympify(e)) for e in expressions)
    source = f"def _compiled(x):\n  return [\n    {body},\n  ]\n"
    namespace: dict[str, Any] = {"_R": _float_rational, "math": math}
    # the source is generated above from sympy trees (as sympy.lambdify does), never from user text
    exec(compile(source, "<deepmarkets.models.symbolic>", "exec"), namespace)
    return CompiledExpressions(function=namespace["_compiled"], exact_ok=writer.exact_ok, n_out=len(expressions))

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
    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> m = SymbolicModel([a, b], [a + b, a * b], class_blocks=[[a], [b]])
    >>> m.n_parameters, m.n_observables, m.n_classes
    (2, 2, 2)
    >>> from deepmarkets.models.gauge import discrete_gauge
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
    def _compiled(self, what: str) -> CompiledExpressions:
        if what not in self._cache:
            if what == "observables":
                self._cache[what] = compile_expressions(self.parameters, self.observables)
            elif what == "blocks":
                flat = [e for b in self.class_blocks for e in b]
                self._cache[what] = compile_expressions(self.parameters, flat or [sympy.S.Zero])
            elif what == "jacobian":
                self._cache[what] = compile_expressions(self.parameters, [e for row in self.jacobian() for e in row])
            else:  # pragma: no cover - internal
                raise KeyError(what)
        return self._cache[what]

    def jacobian(self) -> tuple[tuple[sympy.Expr, ...], ...]:
        """The symbolic Jacobian ``d observable_i / d parameter_j`` (computed once, then cached).

        Examples
        --------
        >>> import sympy
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
        >>> import sympy
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
        >>> from deepmarkets.models import symbolic_latent_class_model
        >>> m = symbolic_latent_class_model(2, 2, items=2)
        >>> p = m.random_point(0)
        >>> len(p), all(0 < v < 1 for v in p)
        (5, True)
        """
        gen = as_rng(rng)
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
    >>> from deepmarkets.models import symbolic_latent_class_model
    >>> m = symbolic_latent_class_model(2, [2, 3])
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
    >>> from deepmarkets.models.gauge import discrete_gauge
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
