"""Sentences: structural identity, connectives, finite quantifiers, arithmetic atoms, bad input."""

from __future__ import annotations

import functools
import itertools
import operator
from fractions import Fraction

import pytest
import sympy
import z3

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import (
    Sentence,
    Verdict,
    at_most_one,
    atoms,
    check_coherence,
    exactly_one,
    exists,
    forall,
    iff,
    implies,
    ints,
    parse,
    predicate,
    reals,
    sentence,
)


def test_structural_equality_and_hashing():
    a, b = atoms("a b")
    a2, b2 = atoms("a b")
    assert (a & b) == (a2 & b2) and hash(a & b) == hash(a2 & b2)
    assert (a & b) != (b & a)
    assert len({a & b, a2 & b2, a | b}) == 2
    assert Sentence(z3.And(z3.Bool("a"), z3.Bool("b"))) == a & b
    with pytest.raises(AttributeError):
        a.x = 1
    with pytest.raises(TypeError):
        bool(a)


def test_connectives_semantics_by_truth_table():
    a, b, c = atoms("a b c")
    cases = {
        a.implies(b): lambda x, y, z: (not x) or y,
        iff(a, b): lambda x, y, z: x == y,
        implies(a, b & c): lambda x, y, z: (not x) or (y and z),
        a ^ b: lambda x, y, z: x != y,
        at_most_one(a, b, c): lambda x, y, z: x + y + z <= 1,
        exactly_one([a, b, c]): lambda x, y, z: x + y + z == 1,
        ~a | (b & ~c): lambda x, y, z: (not x) or (y and not z),
    }
    for s, truth in cases.items():
        for x, y, z in itertools.product([False, True], repeat=3):
            assert s.evaluate({"a": x, "b": y, "c": z}) == truth(x, y, z), (s, x, y, z)


def test_finite_quantifiers_and_predicates():
    wins = predicate("Wins")
    field = ["biden", "sanders", "warren"]
    some = exists(field, wins)
    none_twice = forall(field, lambda c: ~wins(c))
    assert str(wins("biden")) == "Wins(biden)"
    assert some.atom_names == {"Wins(biden)", "Wins(sanders)", "Wins(warren)"}
    world = {f"Wins({c})": c == "warren" for c in field}
    assert some.evaluate(world) and not none_twice.evaluate(world)
    digit = predicate("Digit")
    assert exactly_one(digit(0, d) for d in range(10)).evaluate({f"Digit(0, {d})": d == 7 for d in range(10)})
    with pytest.raises(DeclarationError):
        forall([], wins)
    with pytest.raises(DeclarationError):
        predicate("not a name")


def test_arithmetic_atoms():
    x, y = ints("x y")
    (r,) = reals("r")
    s = x + y <= 3
    assert str(s) == "x + y <= 3" and str(2 * y >= -1) == "2 * y >= -1"
    assert s.evaluate({"x": 1, "y": 2}) and not s.evaluate({"x": 2, "y": 2})
    assert (r * 2 > 1).evaluate({"r": 0.75})
    with pytest.raises(DeclarationError, match="linear"):
        x * y  # noqa: B018


def test_bad_input():
    with pytest.raises(DeclarationError):
        Sentence(3)
    with pytest.raises(DeclarationError):
        sentence(3.5)
    with pytest.raises(DeclarationError):
        atoms([""])
    with pytest.raises(DeclarationError, match="no value"):
        atoms("a")[0].evaluate({})


def test_text_and_sympy_coercion():
    import sympy

    a, b = atoms("a b")
    assert sentence("a & ~b") == a & ~b
    sa, sb = sympy.symbols("a b")
    assert _equivalent(sentence(sympy.And(sa, sympy.Not(sb))), a & ~b)
    assert str(atoms(["Biden wins"])[0]) == '"Biden wins"'


def _equivalent(s1: Sentence, s2: Sentence) -> bool:
    solver = z3.Solver()
    solver.add(z3.Not(s1.z3 == s2.z3))
    return solver.check() == z3.unsat


# ---------------------------------------------------------------------------
# size and depth: every walker (printing, parsing, sympy, the coherence check) works without recursion
# ---------------------------------------------------------------------------
BIG = 100_000
DEEP = 10_000


@pytest.fixture(scope="module")
def big_disjunction():
    """``x0 | x1 | ... | x99999`` as the API builds it: 10^5 nested binary disjunctions."""
    names = [f"x{i}" for i in range(BIG)]
    return names, functools.reduce(operator.or_, atoms(names))


@pytest.mark.slow
def test_disjunction_of_1e5_atoms_prints_and_parses(big_disjunction):
    names, s = big_disjunction
    text = " | ".join(names)
    assert str(s) == text
    assert parse(text) == s


@pytest.mark.slow
def test_disjunction_of_1e5_atoms_in_a_coherence_check(big_disjunction):
    names, s = big_disjunction
    (x0,) = atoms("x0")
    # x0 implies the disjunction, so P(disjunction) = 0.1 < P(x0) = 0.2 loses 0.1 whatever happens
    report = check_coherence({s: "0.1", x0: "0.2"})
    assert report.verdict is Verdict.INCOHERENT
    assert report.dutch_book.guaranteed_profit == Fraction(1, 10)
    sides = {p.bet.price: p.side for p in report.dutch_book.positions}
    assert sides == {Fraction(1, 10): "buy", Fraction(1, 5): "sell"}


def test_1e4_nested_negations():
    (a,) = atoms("a")
    s = a
    for _ in range(DEEP):
        s = ~s
    text = "~" * DEEP + "a"
    assert str(s) == text and parse(text) == s
    assert s.atom_names == {"a"} and s.evaluate({"a": True}) is True
    assert s.to_sympy() == sympy.Symbol("a")  # an even number of negations
    report = check_coherence({~s: "0.3", a: "0.8"})  # P(~a) + P(a) = 1.1
    assert report.verdict is Verdict.INCOHERENT and report.dutch_book.guaranteed_profit == Fraction(1, 10)


def test_deep_alternating_nesting_prints_with_the_parentheses_it_needs():
    # x0 & (x1 | x2 & (x3 | ...)): '&' binds tighter than '|', so only an '&' over an '|' needs them
    xs = atoms([f"x{i}" for i in range(DEEP)])
    s = xs[-1]
    for i in range(DEEP - 2, -1, -1):
        s = xs[i] & s if i % 2 == 0 else xs[i] | s
    expected = "".join(f"x{i} & (" if i % 2 == 0 else f"x{i} | " for i in range(DEEP - 2))
    expected += f"x{DEEP - 2} & x{DEEP - 1}" + ")" * (DEEP // 2 - 1)  # DEEP is even
    assert str(s) == expected
