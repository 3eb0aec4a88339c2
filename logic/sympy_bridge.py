"""Convert sentences between z3 and sympy, walking the expression trees (no strings).

Used by :meth:`Sentence.to_sympy <deepmarkets.logic.sentence.Sentence.to_sympy>` and
:meth:`Sentence.from_sympy <deepmarkets.logic.sentence.Sentence.from_sympy>`.

=====================================  ==============================================
z3                                     sympy
=====================================  ==============================================
Boolean atom ``a``                     ``Symbol("a")``
integer variable ``x``                 ``Symbol("x", integer=True)``
real variable ``p``                    ``Symbol("p", real=True)``
``true`` / ``false``                   ``true`` / ``false``
And, Or, Not, Implies, Xor, ``<->``    And, Or, Not, Implies, Xor, Equivalent
If over sentences                      ITE
``<=, <, >=, >, ==, !=``               Le, Lt, Ge, Gt, Eq, Ne
linear terms, rational numbers         Add, Mul by a number, Integer, Rational
``at_most_one(a, b, c)``               ``And(~(a & b), ~(a & c), ~(b & c))``
``exactly_one(a, b, c)``               ``Or(a, b, c)`` and the pairwise exclusions
=====================================  ==============================================

sympy canonicalises what it builds (argument order, flattening, simple
evaluation), so Sentence -> sympy -> Sentence gives a logically equivalent
sentence, not always an equal one; sympy -> Sentence -> sympy gives back an equal
expression for the constructs in the table (n-ary ``Equivalent``, ``Nand``,
``Nor`` and ``Xnor`` come back as equivalent combinations of the others).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Any

import sympy
import z3
from sympy.logic.boolalg import Boolean, BooleanFalse, BooleanTrue, Xnor

from deepmarkets.errors import DeclarationError
from deepmarkets.logic.sentence import op_kind, postorder

__all__ = ["z3_to_sympy", "sympy_to_z3"]


# z3 -> sympy -------------------------------------------------------------------
def z3_to_sympy(expr: Any) -> sympy.Basic:
    """Convert a z3 Boolean expression (or a Sentence) into a sympy Boolean expression.

    Parameters
    ----------
    expr : z3.BoolRef or Sentence
        The expression; arithmetic must be linear with rational numbers.

    Returns
    -------
    sympy.Basic
        A sympy Boolean: Boolean atoms are plain ``Symbol``, integer variables
        ``Symbol(integer=True)``, real variables ``Symbol(real=True)``;
        ``at_most_one``/``exactly_one`` are expanded into pairwise exclusions.

    Raises
    ------
    DeclarationError
        For a construct with no sympy counterpart here (quantifiers, nonlinear
        products, integer division, uninterpreted functions, bit-vectors, ...).

    Examples
    --------
    >>> from deepmarkets.logic import atoms, ints
    >>> a, b = atoms("a b")
    >>> (x,) = ints("x")
    >>> z3_to_sympy((a.implies(b) & (2 * x <= 3)).z3)
    (Implies(a, b)) & (2*x <= 3)
    """
    inner = getattr(expr, "z3", expr)
    if not isinstance(inner, z3.BoolRef):
        raise DeclarationError(
            f"expected a z3 Boolean expression or a Sentence, got {type(expr).__name__} {expr!r}"
        )
    return _ToSympy().convert(inner)


_BOOL_OPS = {
    z3.Z3_OP_AND: sympy.And,
    z3.Z3_OP_OR: sympy.Or,
    z3.Z3_OP_NOT: sympy.Not,
    z3.Z3_OP_IMPLIES: sympy.Implies,
    z3.Z3_OP_XOR: sympy.Xor,
}
_RELATIONS = {
    z3.Z3_OP_LE: sympy.Le,
    z3.Z3_OP_LT: sympy.Lt,
    z3.Z3_OP_GE: sympy.Ge,
    z3.Z3_OP_GT: sympy.Gt,
}


def _operands(e: z3.ExprRef) -> list[z3.ExprRef]:
    """Children of ``e``; for a chain of And (or of Or), the operands of the whole chain.

    sympy flattens nested And/Or itself, at a cost that grows with the size of the inner
    operand: converting ``(((a | b) | c) | ...)`` level by level would take quadratic time.
    """
    kind = op_kind(e)
    if kind is None:
        return []  # not entered: a quantifier is reported as having no sympy form
    if kind not in (z3.Z3_OP_AND, z3.Z3_OP_OR):
        return e.children()
    flat: list[z3.ExprRef] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if op_kind(node) == kind:
            stack.extend(reversed(node.children()))
        else:
            flat.append(node)
    return flat


class _ToSympy:
    def __init__(self) -> None:
        self.memo: dict[int, sympy.Basic] = {}

    def convert(self, e: z3.ExprRef) -> sympy.Basic:
        memo = self.memo
        for node, kids in postorder(e, children=_operands, done=memo):  # children first
            memo[node.get_id()] = self._convert(node, kids)
        return memo[e.get_id()]

    def _convert(self, e: z3.ExprRef, kids: list[z3.ExprRef]) -> sympy.Basic:
        kind = op_kind(e)
        if kind is None and z3.is_quantifier(e):
            raise DeclarationError(
                f"the z3 quantifier {e} has no sympy form; "
                "expand it over a finite domain with forall()/exists()"
            )
        if kind is None:
            raise DeclarationError(f"the z3 expression {e} has no sympy form")
        if kind == z3.Z3_OP_TRUE:
            return sympy.true
        if kind == z3.Z3_OP_FALSE:
            return sympy.false
        if kind == z3.Z3_OP_ANUM and z3.is_int_value(e):
            return sympy.Integer(e.as_long())
        if kind == z3.Z3_OP_ANUM:
            return sympy.Rational(e.numerator_as_long(), e.denominator_as_long())
        if kind == z3.Z3_OP_UNINTERPRETED and not kids:
            return self.symbol(e)
        args = [self.memo[k.get_id()] for k in kids]
        if kind in _BOOL_OPS:
            return _BOOL_OPS[kind](*args)
        if kind == z3.Z3_OP_EQ:
            return sympy.Equivalent(*args) if z3.is_bool(kids[0]) else sympy.Eq(*args)
        if kind == z3.Z3_OP_DISTINCT:
            pair = sympy.Xor if z3.is_bool(kids[0]) else sympy.Ne
            return sympy.And(*(pair(a, b) for a, b in combinations(args, 2)))
        if kind == z3.Z3_OP_ITE and z3.is_bool(e):
            return sympy.ITE(*args)
        if kind == z3.Z3_OP_PB_AT_MOST and e.params() == [1]:
            return _at_most_one(args)
        if kind == z3.Z3_OP_PB_EQ and all(p == 1 for p in e.params()):
            return sympy.And(sympy.Or(*args), _at_most_one(args))
        if kind in _RELATIONS:
            return _RELATIONS[kind](*args)
        if kind == z3.Z3_OP_ADD:
            return sympy.Add(*args)
        if kind == z3.Z3_OP_SUB:
            return args[0] - sympy.Add(*args[1:])
        if kind == z3.Z3_OP_UMINUS:
            return -args[0]
        if kind == z3.Z3_OP_TO_REAL:
            return args[0]
        if kind == z3.Z3_OP_MUL:
            if sum(1 for a in args if a.free_symbols) > 1:
                raise DeclarationError(f"the nonlinear product {e} is not supported (linear arithmetic only)")
            return sympy.Mul(*args)
        if kind == z3.Z3_OP_DIV and z3.is_rational_value(kids[1]) and args[1] != 0:
            return args[0] / args[1]
        raise DeclarationError(
            f"the z3 construct '{e.decl().name()}' (in {e}) has no sympy form; supported are the "
            "connectives, at_most_one/exactly_one, comparisons and linear arithmetic"
        )

    def symbol(self, e: z3.ExprRef) -> sympy.Symbol:
        name = e.decl().name()
        sort = e.sort()
        if sort.kind() == z3.Z3_BOOL_SORT:
            return sympy.Symbol(name)
        if sort.kind() == z3.Z3_INT_SORT:
            return sympy.Symbol(name, integer=True)
        if sort.kind() == z3.Z3_REAL_SORT:
            return sympy.Symbol(name, real=True)
        raise DeclarationError(
            f"the z3 constant {name!r} of sort {sort} has no sympy form (Bool, Int or Real)"
        )


def _at_most_one(args: list[sympy.Basic]) -> sympy.Basic:
    return sympy.And(*(sympy.Not(sympy.And(a, b)) for a, b in combinations(args, 2)))


# sympy -> z3 -------------------------------------------------------------------
def sympy_to_z3(expr: Any) -> z3.BoolRef:
    """Convert a sympy Boolean expression into a z3 Boolean expression.

    Plain symbols are Boolean atoms in a Boolean position; in arithmetic a symbol
    must be declared ``integer=True`` (a z3 Int) or ``real=True`` (a z3 Real).

    Parameters
    ----------
    expr : sympy.Basic or bool
        A sympy Boolean built from symbols, ``true``/``false``, And, Or, Not,
        Implies, Equivalent, Xor, Nand, Nor, Xnor, ITE and the relations Le, Lt,
        Ge, Gt, Eq, Ne between linear terms with rational numbers.

    Returns
    -------
    z3.BoolRef

    Raises
    ------
    DeclarationError
        Naming the construct, for anything else: floats, powers, nonlinear
        products, functions, symbols with other assumptions, a name used both as
        a Boolean atom and a number (or as an integer and a real), ...

    Examples
    --------
    >>> import sympy
    >>> a = sympy.Symbol("a")
    >>> x = sympy.Symbol("x", integer=True)
    >>> from deepmarkets.logic import Sentence
    >>> str(Sentence(sympy_to_z3(a & (x / 2 < 1))))
    'a & 1/2 * x < 1'
    >>> Sentence(sympy_to_z3(a & (x / 2 < 1))).to_sympy() == a & (x / 2 < 1)
    True
    """
    return _ToZ3().boolean(expr)


_ARITH_RELATIONS = {
    sympy.LessThan: z3.ArithRef.__le__,
    sympy.StrictLessThan: z3.ArithRef.__lt__,
    sympy.GreaterThan: z3.ArithRef.__ge__,
    sympy.StrictGreaterThan: z3.ArithRef.__gt__,
    sympy.Equality: z3.ArithRef.__eq__,
    sympy.Unequality: z3.ArithRef.__ne__,
}
_KIND_WORDS = {"bool": "a Boolean atom", "int": "an integer (integer=True)", "real": "a real (real=True)"}


def _is_boolean(e: Any) -> bool:
    return isinstance(e, (bool, Boolean)) and not isinstance(e, sympy.Symbol)


_CONNECTIVES = (sympy.And, sympy.Or, sympy.Not, sympy.Implies, sympy.Equivalent, sympy.Xor, Xnor, sympy.Nand,
                sympy.Nor, sympy.ITE)


def _connective_args(e: Any) -> tuple:
    """The Boolean operands of a sympy connective (an equation between truth values included), else ()."""
    if isinstance(e, _CONNECTIVES):
        return e.args
    if isinstance(e, (sympy.Equality, sympy.Unequality)) and all(_is_boolean(a) for a in e.args):
        return e.args
    return ()


class _ToZ3:
    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}

    def boolean(self, root: Any) -> z3.BoolRef:
        """Convert with an explicit stack, children first, so nesting depth is limited by memory only."""
        done: dict[int, z3.BoolRef] = {}
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            e, ready = stack.pop()
            if id(e) in done:
                continue
            args = _connective_args(e)
            if ready or not args:
                done[id(e)] = self.node(e, [done[id(a)] for a in args])
            else:
                stack.append((e, True))
                stack.extend((a, False) for a in reversed(args))
        return done[id(root)]

    def node(self, e: Any, parts: list[z3.BoolRef]) -> z3.BoolRef:
        """``e`` as z3, given its Boolean operands already converted (``parts``)."""
        if isinstance(e, bool):
            return z3.BoolVal(e)
        if not isinstance(e, sympy.Basic):
            raise DeclarationError(f"expected a sympy Boolean expression, got {type(e).__name__} {e!r}")
        if isinstance(e, BooleanTrue):
            return z3.BoolVal(True)
        if isinstance(e, BooleanFalse):
            return z3.BoolVal(False)
        if isinstance(e, sympy.Symbol):
            kind = self.kind(e)
            if kind != "bool":
                raise DeclarationError(
                    f"the sympy symbol {e.name!r} is {_KIND_WORDS[kind]} but is used as a truth value"
                )
            return z3.Bool(e.name)
        if isinstance(e, sympy.And):
            return z3.And(parts)
        if isinstance(e, sympy.Or):
            return z3.Or(parts)
        if isinstance(e, sympy.Not):
            return z3.Not(parts[0])
        if isinstance(e, sympy.Implies):
            return z3.Implies(parts[0], parts[1])
        if isinstance(e, sympy.Equivalent):
            pairs = [a == b for a, b in zip(parts, parts[1:], strict=False)]
            return pairs[0] if len(pairs) == 1 else z3.And(pairs)
        if isinstance(e, (sympy.Xor, Xnor)):
            out = parts[0]
            for p in parts[1:]:
                out = z3.Xor(out, p)
            return z3.Not(out) if isinstance(e, Xnor) else out
        if isinstance(e, sympy.Nand):
            return z3.Not(z3.And(parts))
        if isinstance(e, sympy.Nor):
            return z3.Not(z3.Or(parts))
        if isinstance(e, sympy.ITE):
            return z3.If(parts[0], parts[1], parts[2])
        if isinstance(e, (sympy.Equality, sympy.Unequality)) and parts:
            same = parts[0] == parts[1]
            return same if isinstance(e, sympy.Equality) else z3.Not(same)
        for cls, method in _ARITH_RELATIONS.items():
            if isinstance(e, cls):
                return method(self.arith(e.lhs), self.arith(e.rhs))
        raise DeclarationError(
            f"the sympy {type(e).__name__} {e} is not supported in a sentence; use symbols, true/false, "
            "And, Or, Not, Implies, Equivalent, Xor, ITE and linear comparisons"
        )

    def arith(self, e: sympy.Basic) -> z3.ArithRef:
        if isinstance(e, sympy.Integer):
            return z3.IntVal(int(e))
        if isinstance(e, sympy.Rational):
            return z3.RealVal(Fraction(int(e.p), int(e.q)))
        if isinstance(e, sympy.Float):
            raise DeclarationError(
                f"the sympy Float {e} is not exact; "
                "write the number as a sympy Rational such as Rational(1, 10)"
            )
        if isinstance(e, sympy.Symbol):
            kind = self.kind(e)
            if kind == "bool":
                raise DeclarationError(
                    f"the sympy symbol {e.name!r} is used in arithmetic but has no integer=True or "
                    f"real=True assumption; declare it as Symbol({e.name!r}, integer=True) or "
                    f"Symbol({e.name!r}, real=True)"
                )
            return z3.Int(e.name) if kind == "int" else z3.Real(e.name)
        if isinstance(e, sympy.Add):
            terms = [self.arith(a) for a in e.args]
            out = terms[0]
            for t in terms[1:]:
                out = z3.ArithRef.__add__(out, t)
            return out
        if isinstance(e, sympy.Mul):
            if sum(1 for a in e.args if a.free_symbols) > 1:
                raise DeclarationError(f"the nonlinear product {e} is not supported (linear arithmetic only)")
            factors = [self.arith(a) for a in e.args]
            out = factors[0]
            for f in factors[1:]:
                out = z3.ArithRef.__mul__(out, f)
            return out
        if isinstance(e, sympy.Pow):
            raise DeclarationError(f"the power {e} is not supported (linear arithmetic only)")
        raise DeclarationError(
            f"the sympy {type(e).__name__} {e} is not supported in linear arithmetic; use integer or real "
            "symbols, rational numbers, sums and products by a number"
        )

    def kind(self, sym: sympy.Symbol) -> str:
        name = sym.name
        if type(sym) is not sympy.Symbol:
            raise DeclarationError(
                f"the sympy {type(sym).__name__} {name!r} is not supported; use sympy.Symbol"
            )
        if sym == sympy.Symbol(name):
            kind = "bool"
        elif sym == sympy.Symbol(name, integer=True):
            kind = "int"
        elif sym == sympy.Symbol(name, real=True):
            kind = "real"
        else:
            given = {k: v for k, v in sym._assumptions_orig.items() if k != "commutative"}
            raise DeclarationError(
                f"the sympy symbol {name!r} has assumptions {given}; supported are none (a Boolean atom), "
                "integer=True and real=True"
            )
        known = self.kinds.setdefault(name, kind)
        if known != kind:
            raise DeclarationError(
                f"the sympy symbol {name!r} is used both as {_KIND_WORDS[known]} and as {_KIND_WORDS[kind]}"
            )
        return kind
