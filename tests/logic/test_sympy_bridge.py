"""Tests of deepmarkets.logic.sympy_bridge: Sentence <-> sympy, both ways."""

from __future__ import annotations

import functools
import operator
from fractions import Fraction

import pytest
import sympy
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.logic.boolalg import Xnor

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import (
    FALSE,
    TRUE,
    Sentence,
    Theory,
    at_most_one,
    atoms,
    exactly_one,
    iff,
    ints,
    predicate,
    reals,
    sentence,
)
from deepmarkets.logic.sympy_bridge import sympy_to_z3, z3_to_sympy

a, b, c = atoms("a b c")
x, y = ints("x y")
(p,) = reals("p")
A, B, C = sympy.symbols("a b c")
X, Y = sympy.symbols("x y", integer=True)
P = sympy.Symbol("p", real=True)


def equivalent(s: Sentence, t: Sentence) -> bool:
    solver = z3.Solver()
    solver.add(z3.Not(s.z3 == t.z3))
    return solver.check() == z3.unsat


# z3 -> sympy -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (a, A),
        (TRUE, sympy.true),
        (FALSE, sympy.false),
        (a & ~b, A & ~B),
        (a | b, A | B),
        (a ^ b, sympy.Xor(A, B)),
        (a.implies(b), sympy.Implies(A, B)),
        (a.iff(b), sympy.Equivalent(A, B)),
        (x <= 3, sympy.Le(X, 3)),
        (x < y, sympy.Lt(X, Y)),
        (x >= -1, sympy.Ge(X, -1)),
        (p > Fraction(1, 2), sympy.Gt(P, sympy.Rational(1, 2))),
        (x == 2, sympy.Eq(X, 2)),
        (x != 2, sympy.Ne(X, 2)),
        (2 * x - y + 1 <= 0, sympy.Le(2 * X - Y + 1, 0)),
        (-(x + y) <= p * 0.5, sympy.Le(-(X + Y), P / 2)),
        (p <= Fraction(3), sympy.Le(P, 3)),
        (at_most_one(a, b, c), ~(A & B) & ~(A & C) & ~(B & C)),
        (exactly_one(a, b), (A | B) & ~(A & B)),
        (at_most_one(a), sympy.true),
        (predicate("Wins")("biden"), sympy.Symbol("Wins(biden)")),
        (atoms(["Biden wins"])[0], sympy.Symbol("Biden wins")),
    ],
)
def test_to_sympy(s, expected):
    assert s.to_sympy() == expected
    assert z3_to_sympy(s.z3) == expected
    assert z3_to_sympy(s) == expected


def test_to_sympy_symbol_kinds():
    expr = ((x + p <= 1) & a).to_sympy()
    kinds = {s.name: (s.is_integer, s.is_real) for s in expr.free_symbols}
    assert kinds == {"x": (True, True), "p": (None, True), "a": (None, None)}


def test_to_sympy_extras():
    # z3 constructs the API does not build but the bridge understands
    assert z3_to_sympy(z3.Bool("a") != z3.Bool("b")) == sympy.Xor(A, B)
    assert z3_to_sympy(z3.Distinct(x.z3, y.z3, z3.IntVal(0))) == sympy.And(
        sympy.Ne(X, Y), sympy.Ne(X, 0), sympy.Ne(Y, 0)
    )
    assert z3_to_sympy(z3.If(a.z3, b.z3, c.z3)) == sympy.ITE(A, B, C)
    assert z3_to_sympy(p.z3 / 4 <= 1) == sympy.Le(P / 4, 1)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        (z3.ForAll([z3.Int("k")], z3.Int("k") >= 0), "quantifier"),
        (z3.Int("x") * z3.Int("y") <= 1, "nonlinear"),
        (z3.Int("x") / 2 <= 1, "'div'"),
        (z3.Int("x") % 2 == 0, "'mod'"),
        (z3.Function("f", z3.IntSort(), z3.BoolSort())(z3.Int("x")), "'f'"),
        (z3.BitVec("v", 8) == 0, "sort BitVec(8)"),
        (z3.If(z3.Bool("a"), z3.Int("x"), z3.Int("y")) <= 0, "'if'"),
        (z3.AtMost(z3.Bool("a"), z3.Bool("b"), 2), "at-most"),
        (z3.Real("p") / z3.Real("q") <= 1, "'/'"),
    ],
)
def test_to_sympy_unsupported(expr, fragment):
    with pytest.raises(DeclarationError) as info:
        z3_to_sympy(expr)
    assert fragment in str(info.value)


def test_to_sympy_rejects_non_boolean():
    with pytest.raises(DeclarationError):
        z3_to_sympy(z3.Int("x"))
    with pytest.raises(DeclarationError):
        z3_to_sympy("a & b")


# sympy -> z3 -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (A, a),
        (sympy.true, TRUE),
        (True, TRUE),
        (sympy.false, FALSE),
        (A & B, a & b),
        (A | ~B, a | ~b),
        (sympy.Implies(A, B), a.implies(b)),
        (sympy.Equivalent(A, B), a.iff(b)),
        (sympy.Xor(A, B), a ^ b),
        (sympy.Le(X, 3), x <= 3),
        (sympy.Ne(X, Y), x != y),
        (sympy.Lt(P, sympy.Rational(1, 3)), p < Fraction(1, 3)),
        (sympy.Ge(2 * X, 1), 2 * x >= 1),
        (sympy.Eq(X + 1, Y), 1 + x == y),
        (sympy.Symbol("Wins(biden)"), predicate("Wins")("biden")),
    ],
)
def test_from_sympy(expr, expected):
    assert Sentence.from_sympy(expr) == expected
    assert Sentence(sympy_to_z3(expr)) == expected


def test_from_sympy_other_connectives():
    assert equivalent(Sentence.from_sympy(sympy.Nand(A, B)), ~(a & b))
    assert equivalent(Sentence.from_sympy(sympy.Nor(A, B)), ~(a | b))
    assert equivalent(Sentence.from_sympy(Xnor(A, B)), a.iff(b))
    assert equivalent(Sentence.from_sympy(sympy.ITE(A, B, C)), (a & b) | (~a & c))
    assert equivalent(Sentence.from_sympy(sympy.Equivalent(A, B, C)), a.iff(b) & b.iff(c))
    assert equivalent(Sentence.from_sympy(sympy.Xor(A, B, C)), a ^ b ^ c)


def test_sentence_coerces_sympy():
    assert sentence(A & B) == a & b


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        (sympy.Le(X, sympy.Float(0.5)), "Float"),
        (sympy.Le(X**2, 4), "power"),
        (sympy.Le(X * Y, 4), "nonlinear"),
        (sympy.Le(sympy.sin(P), 1), "sin"),
        (sympy.Le(sympy.Symbol("n", integer=True, positive=True), 4), "assumptions"),
        (sympy.Le(sympy.Symbol("n"), 4), "integer=True or real=True"),
        (X | A, "used as a truth value"),
        (A & sympy.Le(sympy.Symbol("a", integer=True), 1), "used both as a Boolean atom and as an integer"),
        (sympy.Le(X, 1) & sympy.Le(sympy.Symbol("x", real=True), 1), "as a real (real=True)"),
        (sympy.Le(sympy.Dummy("d", integer=True), 1), "Dummy"),
        (sympy.Le(sympy.pi * X, 1), "pi"),
        (sympy.Le(X, sympy.sqrt(2)), "sqrt(2)"),
        (sympy.Contains(X, sympy.Interval(0, 1)), "Contains"),
        (X + 1, "Add"),
        ("a & b", "str"),
    ],
)
def test_from_sympy_unsupported(expr, fragment):
    with pytest.raises(DeclarationError) as info:
        sympy_to_z3(expr)
    assert fragment in str(info.value)


# round trips -------------------------------------------------------------------
def test_sentence_round_trip_examples():
    for s in [
        (a & b & c) | ~(a ^ b),
        at_most_one(a, b, c).implies(exactly_one(a, b)),
        (x + 2 * y <= 3).iff(p * Fraction(1, 3) > -1),
        (x - y != 0) & (p == Fraction(5, 2)),
    ]:
        assert equivalent(Sentence.from_sympy(s.to_sympy()), s)


int_syms = st.sampled_from([X, Y])
real_syms = st.sampled_from([P, sympy.Symbol("q", real=True)])
rationals = st.fractions(-3, 3, max_denominator=4).map(lambda f: sympy.Rational(f.numerator, f.denominator))
linear = st.builds(
    lambda k1, s1, k2, s2, k0: k1 * s1 + k2 * s2 + k0,
    rationals,
    int_syms,
    rationals,
    real_syms,
    rationals,
)
relations = st.builds(
    lambda rel, lhs, rhs: rel(lhs, rhs),
    st.sampled_from([sympy.Le, sympy.Lt, sympy.Ge, sympy.Gt, sympy.Eq, sympy.Ne]),
    st.one_of(linear, int_syms, real_syms),
    st.one_of(rationals, int_syms),
)
sympy_leaves = st.one_of(
    st.sampled_from([A, B, C, sympy.Symbol("Wins(biden)"), sympy.true, sympy.false]), relations
)


def _sympy_extend(children):
    pairs = st.tuples(children, children)
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: sympy.And(*xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: sympy.Or(*xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: sympy.Xor(*xs)),
        children.map(sympy.Not),
        pairs.map(lambda t: sympy.Implies(*t)),
        pairs.map(lambda t: sympy.Equivalent(*t)),
    )


sympy_sentences = st.recursive(sympy_leaves, _sympy_extend, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sympy_sentences)
def test_sympy_round_trip(expr):
    s = Sentence.from_sympy(expr)
    back = s.to_sympy()
    if back != expr:  # z3 may merge symmetric atoms such as Eq(x, y) and Eq(y, x): then equivalent
        assert Theory().entails(iff(Sentence.from_sympy(back), s))


ATOMS = [a, b, c, predicate("Wins")("biden"), atoms(["Biden wins"])[0]]
TERMS = [x, y, p, x + p, 2 * x - y, p * Fraction(1, 3) + 1, -(x + 1)]
api_leaves = st.one_of(
    st.sampled_from(ATOMS),
    st.sampled_from([TRUE, FALSE]),
    st.builds(
        lambda rel, t, k: rel(t, k),
        st.sampled_from([lambda t, k: t <= k, lambda t, k: t > k, lambda t, k: t == k, lambda t, k: t != k]),
        st.sampled_from(TERMS),
        st.one_of(st.integers(-3, 3), st.fractions(-2, 2, max_denominator=3), st.sampled_from(TERMS)),
    ),
)


def _api_extend(children):
    pairs = st.tuples(children, children)
    some = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        pairs.map(lambda t: t[0] & t[1]),
        pairs.map(lambda t: t[0] | t[1]),
        pairs.map(lambda t: t[0] ^ t[1]),
        pairs.map(lambda t: t[0].implies(t[1])),
        pairs.map(lambda t: t[0].iff(t[1])),
        children.map(lambda s: ~s),
        some.map(at_most_one),
        some.map(exactly_one),
    )


api_sentences = st.recursive(api_leaves, _api_extend, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_sentences)
def test_sentence_round_trip_is_equivalent(s):
    back = Sentence.from_sympy(s.to_sympy())
    assert equivalent(back, s), (str(s), str(back))


# size and depth ------------------------------------------------------------------
def test_long_chain_converts_to_one_flat_sympy_or():
    # the API nests binary disjunctions; sympy gets one n-ary Or (built once, not flattened level by level)
    names = [f"x{i}" for i in range(10_000)]
    chain = functools.reduce(operator.or_, atoms(names))
    as_sympy = chain.to_sympy()
    assert as_sympy == sympy.Or(*sympy.symbols(names))
    assert Sentence.from_sympy(as_sympy) == Sentence(z3.Or([z3.Bool(x.name) for x in as_sympy.args]))


def test_deep_nesting_converts_both_ways():
    names = [f"x{i}" for i in range(10_000)]
    xs = atoms(names)
    chain = xs[0]
    for s in xs[1:]:
        chain = s.implies(chain)
    as_sympy = chain.to_sympy()
    part = as_sympy  # walked level by level: sympy's own == recurses and cannot compare this deep
    for n in reversed(names[1:]):
        assert isinstance(part, sympy.Implies) and part.args[0] == sympy.Symbol(n)
        part = part.args[1]
    assert part == sympy.Symbol("x0")
    assert Sentence.from_sympy(as_sympy) == chain
