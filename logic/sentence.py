"""Sentences: immutable, hashable logical formulas backed by z3.

A :class:`Sentence` wraps a z3 Boolean expression. Two sentences built the
same way are equal (z3 hash-conses its terms), so sentences work as dict keys
and set members. Numeric variables (:func:`ints`, :func:`reals`) build linear
arithmetic atoms such as ``x + y <= 3``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

import z3

from deepmarkets.errors import DeclarationError

__all__ = [
    "Sentence",
    "Term",
    "TRUE",
    "FALSE",
    "atoms",
    "ints",
    "reals",
    "sentence",
    "implies",
    "iff",
    "at_most_one",
    "exactly_one",
    "forall",
    "exists",
    "predicate",
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
# A predicate application printed bare must parse back to the same name: identifier or number
# arguments (optionally negative) separated by exactly ", " (as predicate() writes them).
_ARG = r"-?(?:[A-Za-z_][A-Za-z0-9_.]*|[0-9]+(?:\.[0-9]+)?)"
_APPLIED = re.compile(rf"([A-Za-z_][A-Za-z0-9_.]*)\({_ARG}(?:, {_ARG})*\)\Z")
RESERVED = frozenset({"true", "false", "at_most_one", "exactly_one", "forall", "exists", "in", "int", "real"})


class Sentence:
    """A logical sentence: an immutable wrapper of a z3 Boolean expression.

    Build sentences with :func:`atoms`, the operators ``&``, ``|``, ``~``,
    ``^``, the methods :meth:`implies` and :meth:`iff`, the helpers
    :func:`at_most_one`, :func:`exactly_one`, :func:`forall`, :func:`exists`,
    or from text with :func:`deepmarkets.logic.parse`.

    Examples
    --------
    >>> a, b = atoms("a b")
    >>> (a & b) == (a & b)
    True
    >>> str(a.implies(~b))
    'a -> ~b'
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: Any):
        if isinstance(expr, Sentence):
            expr = expr._expr
        elif isinstance(expr, bool):
            expr = z3.BoolVal(expr)
        if not isinstance(expr, z3.BoolRef):
            raise DeclarationError(
                f"a Sentence wraps a z3 Boolean expression, got {type(expr).__name__} {expr!r}; "
                "build sentences with atoms(), parse() or z3.Bool()"
            )
        object.__setattr__(self, "_expr", expr)

    def __setattr__(self, name, value):
        raise AttributeError("Sentence is immutable")

    @property
    def z3(self) -> z3.BoolRef:
        """The underlying z3 expression."""
        return self._expr

    # connectives -----------------------------------------------------------
    def __and__(self, other: Any) -> Sentence:
        return Sentence(z3.And(self._expr, sentence(other)._expr))

    def __rand__(self, other: Any) -> Sentence:
        return Sentence(z3.And(sentence(other)._expr, self._expr))

    def __or__(self, other: Any) -> Sentence:
        return Sentence(z3.Or(self._expr, sentence(other)._expr))

    def __ror__(self, other: Any) -> Sentence:
        return Sentence(z3.Or(sentence(other)._expr, self._expr))

    def __xor__(self, other: Any) -> Sentence:
        return Sentence(z3.Xor(self._expr, sentence(other)._expr))

    def __invert__(self) -> Sentence:
        return Sentence(z3.Not(self._expr))

    def implies(self, other: Any) -> Sentence:
        """``self -> other``."""
        return Sentence(z3.Implies(self._expr, sentence(other)._expr))

    def iff(self, other: Any) -> Sentence:
        """``self <-> other``."""
        return Sentence(self._expr == sentence(other)._expr)

    # identity --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sentence) and self._expr.eq(other._expr)

    def __hash__(self) -> int:
        return self._expr.hash()

    def __bool__(self) -> bool:
        raise TypeError(
            "a Sentence has no truth value of its own; use Theory(...).entails(s) "
            "or evaluate it in a world"
        )

    def __str__(self) -> str:
        return to_text(self._expr)

    def __repr__(self) -> str:
        return f"Sentence({to_text(self._expr)!r})"

    # inspection ------------------------------------------------------------
    @property
    def atom_names(self) -> frozenset[str]:
        """Names of the Boolean atoms the sentence mentions."""
        return frozenset(d.name() for d in _constants(self._expr) if d.range() == z3.BoolSort())

    @property
    def real_variables(self) -> frozenset[str]:
        """Names of the real-valued variables the sentence mentions."""
        return frozenset(d.name() for d in _constants(self._expr) if d.range() == z3.RealSort())

    def evaluate(self, world: dict[str, bool | int | Fraction]) -> bool:
        """Truth value in a world given as ``{name: value}`` for every symbol used.

        Raises
        ------
        DeclarationError
            If the world lacks a value for a symbol of the sentence.
        """
        subs = []
        for d in _constants(self._expr):
            if d.name() not in world:
                raise DeclarationError(f"the world gives no value for {d.name()!r}, needed by {self}")
            value = world[d.name()]
            if d.range() == z3.BoolSort():
                subs.append((d(), z3.BoolVal(bool(value))))
            elif d.range() == z3.IntSort():
                subs.append((d(), z3.IntVal(int(value))))
            else:
                subs.append((d(), z3.RealVal(Fraction(value))))
        result = z3.simplify(z3.substitute(self._expr, *subs)) if subs else z3.simplify(self._expr)
        if z3.is_true(result):
            return True
        if z3.is_false(result):
            return False
        raise DeclarationError(f"{self} does not evaluate to a truth value in {world}")

    # sympy -----------------------------------------------------------------
    def to_sympy(self):
        """The sentence as a sympy Boolean expression.

        Atoms become ``Symbol``; integer variables ``Symbol(integer=True)``;
        real variables ``Symbol(real=True)``. ``at_most_one``/``exactly_one``
        are expanded into pairwise exclusions.
        """
        from deepmarkets.logic.sympy_bridge import z3_to_sympy

        return z3_to_sympy(self._expr)

    @classmethod
    def from_sympy(cls, expr) -> Sentence:
        """Build a sentence from a sympy Boolean expression (no string evaluation)."""
        from deepmarkets.logic.sympy_bridge import sympy_to_z3

        return cls(sympy_to_z3(expr))


class Term:
    """A linear arithmetic term over integer or real variables.

    Comparisons (``<=, <, >=, >, ==, !=``) give :class:`Sentence` objects, as in z3.

    Examples
    --------
    >>> x, y = ints("x y")
    >>> str(x + y <= 3)
    'x + y <= 3'
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: z3.ArithRef):
        if not isinstance(expr, z3.ArithRef):
            raise DeclarationError(f"a Term wraps a z3 arithmetic expression, got {expr!r}")
        object.__setattr__(self, "_expr", expr)

    @property
    def z3(self) -> z3.ArithRef:
        return self._expr

    def __add__(self, other):
        return Term(self._expr + _arith(other))

    def __radd__(self, other):
        return Term(_arith(other) + self._expr)

    def __sub__(self, other):
        return Term(self._expr - _arith(other))

    def __rsub__(self, other):
        return Term(_arith(other) - self._expr)

    def __mul__(self, other):
        if isinstance(other, Term):
            raise DeclarationError("only linear arithmetic is supported: multiply a term by a number")
        return Term(self._expr * _arith(other))

    def __rmul__(self, other):
        return Term(_arith(other) * self._expr)

    def __neg__(self):
        return Term(-self._expr)

    def __le__(self, other):
        return Sentence(z3.ArithRef.__le__(self._expr, _arith(other)))

    def __lt__(self, other):
        return Sentence(z3.ArithRef.__lt__(self._expr, _arith(other)))

    def __ge__(self, other):
        return Sentence(z3.ArithRef.__ge__(self._expr, _arith(other)))

    def __gt__(self, other):
        return Sentence(z3.ArithRef.__gt__(self._expr, _arith(other)))

    def __eq__(self, other):  # type: ignore[override]
        return Sentence(z3.ArithRef.__eq__(self._expr, _arith(other)))

    def __ne__(self, other):  # type: ignore[override]
        return Sentence(z3.ArithRef.__ne__(self._expr, _arith(other)))

    def __hash__(self) -> int:
        return self._expr.hash()

    def __str__(self) -> str:
        return to_text(self._expr)

    def __repr__(self) -> str:
        return f"Term({to_text(self._expr)!r})"


def _arith(value: Any) -> z3.ArithRef:
    if isinstance(value, Term):
        return value._expr
    if isinstance(value, bool):
        raise DeclarationError("a truth value is not a number")
    if isinstance(value, int):
        return z3.IntVal(value)
    if isinstance(value, (float, Fraction)):
        return z3.RealVal(Fraction(value))
    if isinstance(value, z3.ArithRef):
        return value
    raise DeclarationError(f"expected a number or a Term, got {value!r}")


TRUE = Sentence(z3.BoolVal(True))
FALSE = Sentence(z3.BoolVal(False))


def _names(names: str | Iterable[str]) -> list[str]:
    result = names.split() if isinstance(names, str) else list(names)
    for name in result:
        if not isinstance(name, str) or not name.strip():
            raise DeclarationError(f"a name must be a non-empty string, got {name!r}")
    return result


def atoms(names: str | Iterable[str]) -> tuple[Sentence, ...]:
    """Boolean atoms, from a space-separated string or an iterable of names.

    Names with spaces or punctuation are allowed when given as an iterable.

    >>> a, b = atoms("a b"); biden = atoms(["Biden wins"])[0]
    >>> str(biden)
    '"Biden wins"'
    """
    return tuple(Sentence(z3.Bool(n)) for n in _names(names))


def ints(names: str | Iterable[str]) -> tuple[Term, ...]:
    """Integer variables for linear arithmetic atoms."""
    return tuple(Term(z3.Int(n)) for n in _names(names))


def reals(names: str | Iterable[str]) -> tuple[Term, ...]:
    """Real variables for linear arithmetic atoms."""
    return tuple(Term(z3.Real(n)) for n in _names(names))


def sentence(value: Any) -> Sentence:
    """Coerce a Sentence, a z3 Boolean, a bool, a sympy Boolean or text into a Sentence."""
    if isinstance(value, Sentence):
        return value
    if isinstance(value, (bool, z3.BoolRef)):
        return Sentence(value)
    if isinstance(value, str):
        from deepmarkets.logic.parse import parse

        return parse(value)
    if type(value).__module__.startswith("sympy"):
        return Sentence.from_sympy(value)
    raise DeclarationError(
        f"cannot make a sentence from {type(value).__name__} {value!r}; "
        "give a Sentence, text such as 'A & ~B', a z3 Boolean, or a sympy Boolean"
    )


def implies(a: Any, b: Any) -> Sentence:
    """``a -> b``."""
    return sentence(a).implies(b)


def iff(a: Any, b: Any) -> Sentence:
    """``a <-> b``."""
    return sentence(a).iff(b)


def _many(args: tuple) -> list[z3.BoolRef]:
    if len(args) == 1 and not isinstance(args[0], (Sentence, str, bool, z3.BoolRef)):
        args = tuple(args[0])
    if not args:
        raise DeclarationError("at_most_one/exactly_one need at least one sentence")
    return [sentence(a)._expr for a in args]


def at_most_one(*sentences: Any) -> Sentence:
    """At most one of the sentences is true (accepts sentences or one iterable)."""
    return Sentence(z3.AtMost(*_many(sentences), 1))


def exactly_one(*sentences: Any) -> Sentence:
    """Exactly one of the sentences is true (accepts sentences or one iterable)."""
    exprs = _many(sentences)
    return Sentence(z3.PbEq([(e, 1) for e in exprs], 1))


def forall(domain: Iterable, body: Callable[[Any], Any]) -> Sentence:
    """Conjunction of ``body(d)`` over an explicit finite domain.

    >>> wins = predicate("Wins")
    >>> str(forall(["a", "b"], lambda c: ~wins(c)))
    '~Wins(a) & ~Wins(b)'
    """
    parts = [sentence(body(d))._expr for d in _domain(domain)]
    return Sentence(z3.And(parts) if len(parts) > 1 else parts[0])


def exists(domain: Iterable, body: Callable[[Any], Any]) -> Sentence:
    """Disjunction of ``body(d)`` over an explicit finite domain."""
    parts = [sentence(body(d))._expr for d in _domain(domain)]
    return Sentence(z3.Or(parts) if len(parts) > 1 else parts[0])


def _domain(domain: Iterable) -> list:
    values = list(domain)
    if not values:
        raise DeclarationError("a quantifier needs a non-empty finite domain")
    return values


def predicate(name: str) -> Callable[..., Sentence]:
    """A predicate over finite domains: ``predicate("Wins")("biden")`` is the atom ``Wins(biden)``."""
    if not _IDENT.match(name):
        raise DeclarationError(f"a predicate name must be an identifier, got {name!r}")

    def apply(*args: Any) -> Sentence:
        if not args:
            raise DeclarationError(f"predicate {name} needs at least one argument")
        for a in args:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", str(a)):
                raise DeclarationError(f"predicate argument {a!r} must be a name or a number")
        return Sentence(z3.Bool(f"{name}({', '.join(str(a) for a in args)})"))

    apply.__name__ = name
    return apply


# printing -------------------------------------------------------------------
def _constants(expr: z3.ExprRef) -> list[z3.FuncDeclRef]:
    seen: dict[int, z3.FuncDeclRef] = {}
    stack = [expr]
    visited: set[int] = set()
    while stack:
        e = stack.pop()
        if e.get_id() in visited:
            continue
        visited.add(e.get_id())
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            seen.setdefault(e.decl().get_id(), e.decl())
        stack.extend(e.children())
    return list(seen.values())


def quote_name(name: str) -> str:
    """A name as written in the text syntax: bare when it is an identifier, else quoted."""
    applied = _APPLIED.match(name)
    if (_IDENT.match(name) and name not in RESERVED) or (applied and applied.group(1) not in RESERVED):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# precedence: 1 <->, 2 ->, 3 |, 4 ^, 5 &, 6 ~, 7 comparison, 8 +/-, 9 *, 10 atom
def to_text(expr: z3.ExprRef) -> str:
    """Render a z3 expression in the text syntax understood by ``parse``."""
    return _show(expr)[0]


def _wrap(part: tuple[str, int], level: int, strict: bool = False) -> str:
    text, prec = part
    return f"({text})" if prec < level or (strict and prec == level) else text


def _number(e: z3.ExprRef) -> str:
    if z3.is_int_value(e):
        return str(e.as_long())
    value = Fraction(e.numerator_as_long(), e.denominator_as_long())
    # a whole real numeral is written 3.0 so that it is not read back as the integer 3
    return f"{value.numerator}.0" if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _show(e: z3.ExprRef) -> tuple[str, int]:
    k = e.decl().kind() if z3.is_app(e) else None
    kids = e.children()
    if z3.is_true(e):
        return "true", 10
    if z3.is_false(e):
        return "false", 10
    if z3.is_const(e) and k == z3.Z3_OP_UNINTERPRETED:
        return quote_name(e.decl().name()), 10
    if z3.is_int_value(e) or z3.is_rational_value(e):
        text = _number(e)
        return text, 9 if "/" in text or text.startswith("-") else 10
    if k == z3.Z3_OP_NOT:
        return "~" + _wrap(_show(kids[0]), 6), 6
    if k in (z3.Z3_OP_AND, z3.Z3_OP_OR, z3.Z3_OP_XOR):
        sym, prec = {z3.Z3_OP_AND: (" & ", 5), z3.Z3_OP_OR: (" | ", 3), z3.Z3_OP_XOR: (" ^ ", 4)}[k]
        first = _wrap(_show(kids[0]), prec)
        rest = [_wrap(_show(c), prec, strict=True) for c in kids[1:]]
        return sym.join([first, *rest]), prec
    if k == z3.Z3_OP_IMPLIES:
        return f"{_wrap(_show(kids[0]), 2, strict=True)} -> {_wrap(_show(kids[1]), 2)}", 2
    if k == z3.Z3_OP_EQ and z3.is_bool(kids[0]):
        return f"{_wrap(_show(kids[0]), 1)} <-> {_wrap(_show(kids[1]), 1, strict=True)}", 1
    if k == z3.Z3_OP_PB_AT_MOST and e.params() == [1]:
        return "at_most_one(" + ", ".join(_show(c)[0] for c in kids) + ")", 10
    if k == z3.Z3_OP_PB_EQ and all(p == 1 for p in e.params()):
        return "exactly_one(" + ", ".join(_show(c)[0] for c in kids) + ")", 10
    comparisons = {
        z3.Z3_OP_LE: "<=",
        z3.Z3_OP_LT: "<",
        z3.Z3_OP_GE: ">=",
        z3.Z3_OP_GT: ">",
        z3.Z3_OP_EQ: "==",
        z3.Z3_OP_DISTINCT: "!=",
    }
    if k in comparisons and len(kids) == 2:
        return f"{_wrap(_show(kids[0]), 8)} {comparisons[k]} {_wrap(_show(kids[1]), 8)}", 7
    if k == z3.Z3_OP_ADD:
        return " + ".join([_wrap(_show(kids[0]), 8)] + [_wrap(_show(c), 8, strict=True) for c in kids[1:]]), 8
    if k == z3.Z3_OP_SUB:
        return " - ".join([_wrap(_show(kids[0]), 8)] + [_wrap(_show(c), 8, strict=True) for c in kids[1:]]), 8
    if k == z3.Z3_OP_UMINUS:
        inner = _show(kids[0])
        # -(3) is minus applied to 3; -3 is the numeral minus three
        return "-" + (f"({inner[0]})" if inner[0][:1].isdigit() else _wrap(inner, 9, strict=True)), 9
    if k == z3.Z3_OP_MUL:
        return " * ".join([_wrap(_show(kids[0]), 9)] + [_wrap(_show(c), 9, strict=True) for c in kids[1:]]), 9
    if k == z3.Z3_OP_TO_REAL:
        return _show(kids[0])
    # Anything else (quantifiers, functions) is shown in z3's own syntax and cannot be re-parsed.
    return f"{{{e.sexpr()}}}", 10
