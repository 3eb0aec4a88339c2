"""Theories: axioms held true, and the z3 oracle that answers questions about their worlds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import to_fraction
from deepmarkets.helpers.validate import whole_number
from deepmarkets.logic.sentence import Sentence, sentence
from deepmarkets.logic.worlds import WorldOracle, minimum_world

__all__ = ["Theory", "WorldOptimum", "DEFAULT_RLIMIT"]

#: z3's deterministic resource limit per oracle call (about a minute of work on this hardware).
DEFAULT_RLIMIT = 200_000_000


@dataclass(frozen=True)
class WorldOptimum:
    """The best value of a weighted sum of sentence indicators, and a world attaining it."""

    value: Fraction
    world: tuple[bool, ...]

    def to_dict(self) -> dict:
        return {"value": float(self.value), "value_exact": str(self.value), "world": list(self.world)}


class Theory:
    """Axioms held true; z3 answers which worlds are possible.

    Parameters
    ----------
    axioms : iterable of sentence-like
        Sentences, text, z3 or sympy Booleans held true in every possible world.
    rlimit : int
        z3's deterministic resource limit for each query; a query that exceeds it
        raises :class:`~deepmarkets.errors.SolverUnknownError` (never a guess).
    source : str, optional
        Where the axioms came from (a file name), quoted in error messages.

    Examples
    --------
    >>> from deepmarkets.logic import atoms, Theory
    >>> a, b = atoms("a b")
    >>> t = Theory([a.implies(b)])
    >>> sorted(t.worlds([a, b]))
    [(False, False), (False, True), (True, True)]
    >>> t.maximize([a, b], [1, -2]).value
    Fraction(0, 1)
    """

    def __init__(self, axioms: Iterable[Any] = (), *, rlimit: int = DEFAULT_RLIMIT, source: str | None = None):
        if isinstance(axioms, (str, Sentence)):
            axioms = [axioms]
        self.axioms: tuple[Sentence, ...] = tuple(sentence(a) for a in axioms)
        self.rlimit = whole_number(rlimit, "rlimit", 1, hint="rlimit is z3's resource limit per question")
        self.source = source

    @classmethod
    def from_text(cls, text: str, *, source: str | None = None, rlimit: int = DEFAULT_RLIMIT) -> Theory:
        """A theory from text with one sentence per line (see :func:`parse_theory`)."""
        from deepmarkets.logic.parse import parse_theory

        return cls(parse_theory(text, source=source), rlimit=rlimit, source=source)

    def with_axioms(self, *axioms: Any) -> Theory:
        """A new theory with more axioms."""
        return Theory([*self.axioms, *axioms], rlimit=self.rlimit, source=self.source)

    def __len__(self) -> int:
        return len(self.axioms)

    def __repr__(self) -> str:
        shown = "; ".join(str(a) for a in self.axioms[:5])
        more = f"; ... ({len(self.axioms)} axioms)" if len(self.axioms) > 5 else ""
        return f"Theory([{shown}{more}])"

    # z3 plumbing -----------------------------------------------------------
    def solver(self, *extra: Sentence) -> z3.Solver:
        """A fresh z3 solver holding the axioms (and ``extra``) with the resource limit set."""
        s = z3.Solver()
        s.set("rlimit", self.rlimit)
        s.add(*(a.z3 for a in self.axioms), *(e.z3 for e in extra))
        return s

    # questions (asked through a WorldOracle) -------------------------------
    def is_consistent(self) -> bool:
        """Whether the axioms have at least one world."""
        return WorldOracle(self).possible()

    def entails(self, s: Any) -> bool:
        """Whether ``s`` holds in every world of the theory."""
        return WorldOracle(self).entails(sentence(s))

    def is_possible(self, s: Any) -> bool:
        """Whether ``s`` holds in at least one world of the theory."""
        return WorldOracle(self).possible(sentence(s))

    def worlds(self, sentences: Sequence[Any], *, limit: int | None = None) -> Iterator[tuple[bool, ...]]:
        """The possible truth-vectors of ``sentences``, lazily (z3 with blocking clauses).

        Each distinct vector is produced once; ``limit`` caps how many.
        """
        return WorldOracle(self).worlds([sentence(s) for s in sentences], limit=limit)

    def maximize(
        self, sentences: Sequence[Any], weights: Sequence[Any], *, within: Any | None = None
    ) -> WorldOptimum:
        """Exact maximum of ``sum(w_i * [s_i])`` over possible worlds (weighted MaxSAT in z3).

        Weights are converted to exact fractions (floats by their shortest decimal form).
        ``within`` restricts the worlds to those where that sentence holds.

        Raises
        ------
        DeclarationError
            If no world is possible.
        SolverUnknownError
            If z3 hits the resource limit.
        """
        sents = [sentence(s) for s in sentences]
        ws = [to_fraction(w, "weight") for w in weights]
        if len(ws) != len(sents):
            raise DeclarationError(f"{len(sents)} sentences but {len(ws)} weights")
        return self._maximum(sents, ws, within)

    def minimize(
        self, sentences: Sequence[Any], weights: Sequence[Any], *, within: Any | None = None
    ) -> WorldOptimum:
        """Exact minimum of ``sum(w_i * [s_i])`` over possible worlds."""
        opt = self.maximize(sentences, [-to_fraction(w, "weight") for w in weights], within=within)
        return WorldOptimum(-opt.value, opt.world)

    def _maximum(self, sents: list[Sentence], ws: list[Fraction], within: Any) -> WorldOptimum:
        """The maximum as the minimum of the negated sum (:func:`~deepmarkets.logic.worlds.minimum_world`)."""
        hard = [a.z3 for a in self.axioms] + ([sentence(within).z3] if within is not None else [])
        found = minimum_world(hard, sents, {k: -w for k, w in enumerate(ws)}, rlimit=self.rlimit,
                              unknown=f"z3 could not decide a weighted sum of sentences over the possible worlds "
                                      f"within rlimit={self.rlimit}")
        if found is None:
            where = f" where {within} holds" if within is not None else ""
            raise DeclarationError(f"the theory has no possible world{where}; check its axioms")
        low, world = found
        return WorldOptimum(-low, world)


