"""Sentences: structural identity, connectives, finite quantifiers, arithmetic atoms, bad input."""

from __future__ import annotations

import itertools

import pytest
import z3

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import (
    Sentence,
    at_most_one,
    atoms,
    exactly_one,
    exists,
    forall,
    iff,
    implies,
    ints,
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
