"""Sentences: immutable, hashable logical formulas backed by z3.

A :class:`Sentence` wraps a z3 Boolean expression. Two sentences built the
same way are equal (z3 hash-conses its terms), so sentences work as dict keys
and set members. Numeric variables (:func:`ints`, :func:`reals`) build linear
arithmetic atoms such as ``x + y <= 3``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
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
    """The declarations of the uninterpreted constants (atoms, variables) in ``expr``."""
    seen: dict[int, z3.FuncDeclRef] = {}
    for e, kids in postorder(expr):
        if not kids and op_kind(e) == z3.Z3_OP_UNINTERPRETED:
            d = e.decl()
            seen.setdefault(d.get_id(), d)
    return list(seen.values())


def quote_name(name: str) -> str:
    """A name as written in the text syntax: bare when it is an identifier, else quoted."""
    applied = _APPLIED.match(name)
    if (_IDENT.match(name) and name not in RESERVED) or (applied and applied.group(1) not in RESERVED):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# precedence: 1 <->, 2 ->, 3 |, 4 ^, 5 &, 6 ~, 7 comparison, 8 +/-, 9 *, 10 atom
_CHAINS = {z3.Z3_OP_AND: (" & ", 5), z3.Z3_OP_OR: (" | ", 3), z3.Z3_OP_XOR: (" ^ ", 4)}
_COMPARISONS = {
    z3.Z3_OP_LE: "<=",
    z3.Z3_OP_LT: "<",
    z3.Z3_OP_GE: ">=",
    z3.Z3_OP_GT: ">",
    z3.Z3_OP_EQ: "==",
    z3.Z3_OP_DISTINCT: "!=",
}
_ARITH_CHAINS = {z3.Z3_OP_ADD: (" + ", 8), z3.Z3_OP_SUB: (" - ", 8), z3.Z3_OP_MUL: (" * ", 9)}

#: One step of a layout: a piece of text, or a subexpression with the precedence level below which
#: (or, when the flag is set, at which) it is wrapped in parentheses.
Piece = str | tuple[z3.ExprRef, int, bool]


def to_text(expr: z3.ExprRef) -> str:
    """Render a z3 expression in the text syntax understood by ``parse``."""
    return render(expr, _layout)


def render(expr: z3.ExprRef, layout: Callable[[z3.ExprRef], tuple[int, list[Piece]]]) -> str:
    """Text of ``expr``, where ``layout(e)`` gives the precedence of ``e`` and its text as pieces.

    The pieces are expanded with an explicit stack, so nesting depth is limited by memory only.

    >>> render(z3.Not(z3.Bool("a")), lambda e: (10, [e.decl().name()]) if not e.children()
    ...        else (6, ["not ", (e.children()[0], 6, False)]))
    'not a'
    """
    out: list[str] = []
    stack: list[Piece] = [(expr, 0, False)]
    while stack:
        piece = stack.pop()
        if isinstance(piece, str):
            out.append(piece)
            continue
        e, level, strict = piece
        prec, pieces = layout(e)
        if prec < level or (strict and prec == level):
            pieces = ["(", *pieces, ")"]
        stack.extend(reversed(pieces))
    return "".join(out)


def postorder(
    expr: z3.ExprRef,
    children: Callable[[z3.ExprRef], list[z3.ExprRef]] | None = None,
    done: Container[int] = (),
) -> list[tuple[z3.ExprRef, list[z3.ExprRef]]]:
    """Every distinct subexpression of ``expr`` with its children, each after its children.

    Walks with an explicit stack (no recursion), visiting a shared subexpression once.
    ``children(e)`` defaults to ``e.children()``; expressions whose ``get_id()`` is in ``done``
    are neither listed nor entered.

    >>> a, b = atoms("a b")
    >>> [to_text(e) for e, _ in postorder((a & b | a).z3)]
    ['a', 'b', 'a & b', 'a & b | a']
    """
    kids_of = children or (lambda e: e.children())
    order: list[tuple[z3.ExprRef, list[z3.ExprRef]]] = []
    seen: set[int] = set()
    stack: list[tuple[z3.ExprRef, list[z3.ExprRef] | None]] = [(expr, None)]
    while stack:
        e, kids = stack.pop()
        if kids is not None:
            order.append((e, kids))
            continue
        key = e.get_id()
        if key in seen or key in done:
            continue
        seen.add(key)
        kids = kids_of(e)
        stack.append((e, kids))
        stack.extend((c, None) for c in reversed(kids))
    return order


def _number(e: z3.ExprRef) -> str:
    if z3.is_int_value(e):
        return str(e.as_long())
    value = Fraction(e.numerator_as_long(), e.denominator_as_long())
    # a whole real numeral is written 3.0 so that it is not read back as the integer 3
    return f"{value.numerator}.0" if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _chain(kids: list[z3.ExprRef], sym: str, prec: int) -> list[Piece]:
    """``k0 sym k1 sym k2 ...``: the first operand is wrapped below ``prec``, the others at it too."""
    pieces: list[Piece] = [(kids[0], prec, False)]
    for c in kids[1:]:
        pieces += [sym, (c, prec, True)]
    return pieces


def _listed(name: str, kids: list[z3.ExprRef]) -> list[Piece]:
    pieces: list[Piece] = [name + "("]
    for i, c in enumerate(kids):
        pieces += [", "] * (i > 0) + [(c, 0, False)]
    return [*pieces, ")"]


def op_kind(e: z3.ExprRef) -> int | None:
    """The operator of ``e``, a ``z3.Z3_OP_*`` value; None for a quantifier or a bound variable.

    Asks z3 once, where ``z3.is_true``, ``z3.is_const`` and friends each ask several times:
    walkers over large sentences test the kind of every node this way.

    >>> op_kind(z3.Bool("a")) == z3.Z3_OP_UNINTERPRETED
    True
    """
    ref, ast = e.ctx_ref(), e.as_ast()
    if z3.Z3_get_ast_kind(ref, ast) not in (z3.Z3_APP_AST, z3.Z3_NUMERAL_AST):
        return None
    return z3.Z3_get_decl_kind(ref, z3.Z3_get_app_decl(ref, ast))


def _layout(e: z3.ExprRef) -> tuple[int, list[Piece]]:
    """Precedence of ``e`` and its text as pieces (its subexpressions are laid out later)."""
    k = op_kind(e)
    while k == z3.Z3_OP_TO_REAL:
        e = e.arg(0)
        k = op_kind(e)
    if k == z3.Z3_OP_TRUE:
        return 10, ["true"]
    if k == z3.Z3_OP_FALSE:
        return 10, ["false"]
    if k == z3.Z3_OP_ANUM:
        text = _number(e)
        return (9 if "/" in text or text.startswith("-") else 10), [text]
    kids = e.children() if k is not None else []
    if k == z3.Z3_OP_UNINTERPRETED and not kids:
        return 10, [quote_name(e.decl().name())]
    if k == z3.Z3_OP_NOT:
        return 6, ["~", (kids[0], 6, False)]
    if k in _CHAINS:
        sym, prec = _CHAINS[k]
        return prec, _chain(kids, sym, prec)
    if k == z3.Z3_OP_IMPLIES:
        return 2, [(kids[0], 2, True), " -> ", (kids[1], 2, False)]
    if k == z3.Z3_OP_EQ and z3.is_bool(kids[0]):
        return 1, [(kids[0], 1, False), " <-> ", (kids[1], 1, True)]
    if k == z3.Z3_OP_PB_AT_MOST and e.params() == [1]:
        return 10, _listed("at_most_one", kids)
    if k == z3.Z3_OP_PB_EQ and all(p == 1 for p in e.params()):
        return 10, _listed("exactly_one", kids)
    if k in _COMPARISONS and len(kids) == 2:
        return 7, [(kids[0], 8, False), f" {_COMPARISONS[k]} ", (kids[1], 8, False)]
    if k in _ARITH_CHAINS:
        sym, prec = _ARITH_CHAINS[k]
        return prec, _chain(kids, sym, prec)
    if k == z3.Z3_OP_UMINUS:
        inner = kids[0]
        while op_kind(inner) == z3.Z3_OP_TO_REAL:
            inner = inner.arg(0)
        # -(3) is minus applied to 3; -3 is the numeral minus three
        if op_kind(inner) == z3.Z3_OP_ANUM:
            return 9, ["-(", _number(inner), ")"]
        return 9, ["-", (inner, 9, True)]
    # Anything else (quantifiers, functions) is shown in z3's own syntax and cannot be re-parsed.
    return 10, [f"{{{e.sexpr()}}}"]
