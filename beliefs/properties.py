"""Reports on the properties of market makers and scoring rules: each property proven, checked or failing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepmarkets.errors import DeclarationError

__all__ = ["STATUSES", "PropertyCheck", "MakerReport"]

#: The three statuses of a :class:`PropertyCheck`.
STATUSES = ("proven", "checked", "fails")


@dataclass(frozen=True)
class PropertyCheck:
    """The verdict on one property of a market maker or scoring rule.

    Attributes
    ----------
    name : str
        The property, e.g. ``"prices_sum_to_one"``.
    status : {"proven", "checked", "fails"}
        ``proven``: shown symbolically with sympy; ``checked``: held on ``points``
        random points (numerical evidence, not a proof); ``fails``: a counterexample
        was found (in ``counterexample``).
    detail : str
        How the verdict was reached.
    points : int, optional
        Number of numerical points behind a ``checked`` verdict.
    counterexample : dict, optional
        The point where the property fails.
    value : object, optional
        A value the check established (e.g. the worst-case loss as a sympy expression).

    Examples
    --------
    >>> PropertyCheck("convexity", "checked", "on 10 random pairs", points=10)
    PropertyCheck(convexity: checked on 10 points)
    """

    name: str
    status: str
    detail: str
    points: int | None = None
    counterexample: dict | None = None
    value: Any = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise DeclarationError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @property
    def holds(self) -> bool:
        """Whether no counterexample was found (proven or checked)."""
        return self.status != "fails"

    def to_dict(self) -> dict:
        value = self.value
        if value is not None and not isinstance(value, (int, float, str, bool)):
            value = str(value)
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "points": self.points,
            "counterexample": self.counterexample,
            "value": value,
        }

    def __repr__(self) -> str:
        how = f" on {self.points} points" if self.status == "checked" and self.points else ""
        return f"PropertyCheck({self.name}: {self.status}{how})"


@dataclass(frozen=True)
class MakerReport:
    """The properties of a market maker, each proven, checked or failing.

    Index it by property name (``report["convexity"]``); :attr:`proven`,
    :attr:`checked` and :attr:`fails` are the sets of names with that status.
    """

    maker: str
    checks: tuple[PropertyCheck, ...]

    def __getitem__(self, name: str) -> PropertyCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no property {name!r}; the report has {', '.join(c.name for c in self.checks)}")

    def _with(self, status: str) -> frozenset[str]:
        return frozenset(c.name for c in self.checks if c.status == status)

    @property
    def proven(self) -> frozenset[str]:
        """Names of the properties proven symbolically."""
        return self._with("proven")

    @property
    def checked(self) -> frozenset[str]:
        """Names of the properties that held on random points (not proven)."""
        return self._with("checked")

    @property
    def fails(self) -> frozenset[str]:
        """Names of the properties with a counterexample."""
        return self._with("fails")

    def to_dict(self) -> dict:
        return {"maker": self.maker, "checks": [c.to_dict() for c in self.checks]}

    def summary(self) -> str:
        """A text table: property, status, detail."""
        width = max(len(c.name) for c in self.checks)
        lines = [f"properties of {self.maker}", f"{'property':<{width}}  {'status':<8}  detail"]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.status:<8}  {c.detail}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        rows = [f"**properties of {self.maker}**", "", "| property | status | detail |", "|---|---|---|"]
        for c in self.checks:
            rows.append(f"| {c.name} | {c.status} | {c.detail.replace('|', '\\|')} |")
        return "\n".join(rows)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.name}: {c.status}" for c in self.checks)
        return f"MakerReport({self.maker}; {parts})"
