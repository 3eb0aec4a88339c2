"""The one error hierarchy of deepmarkets.

Every error says what was given, what was expected, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DeepMarketsError",
    "DeclarationError",
    "ParseError",
    "BookError",
    "SolverUnknownError",
    "InferenceError",
    "MissingExtraError",
    "InductionError",
    "EconomyError",
    "SweepError",
    "PlotError",
]


class DeepMarketsError(Exception):
    """Base class of every error raised on purpose by deepmarkets."""


class DeclarationError(DeepMarketsError, ValueError):
    """A sentence, theory, price or market was declared with invalid values."""


class ParseError(DeclarationError):
    """Text could not be parsed; carries the line and column of the problem.

    Parameters
    ----------
    message : str
        What was wrong and how to fix it.
    line, column : int
        1-based position of the problem in ``text``.
    text : str
        The text being parsed (used to show the offending line).
    source : str, optional
        A file name to show in the message.
    """

    def __init__(self, message: str, line: int, column: int, text: str = "", source: str | None = None):
        self.reason = message
        self.line = line
        self.column = column
        self.source = source
        where = f"{source}:" if source else ""
        lines = text.splitlines()
        shown = ""
        if 1 <= line <= len(lines):
            shown = f"\n    {lines[line - 1]}\n    {' ' * (column - 1)}^"
        super().__init__(f"{where}line {line}, column {column}: {message}{shown}")


class BookError(DeclarationError):
    """A book or price table has a missing column, a bad value or no rows."""


class SolverUnknownError(DeepMarketsError):
    """z3 answered ``unknown`` (resource limit, timeout, incompleteness).

    The ``reason`` attribute holds z3's ``reason_unknown()``.
    """

    def __init__(self, message: str, reason: str = ""):
        self.reason = reason
        super().__init__(f"{message} (z3: {reason})" if reason else message)


class InferenceError(DeepMarketsError):
    """Bayesian inference could not be run or did not produce a usable result."""


class MissingExtraError(InferenceError, ImportError):
    """An optional sampler was asked for but its package is not installed; the message names the extra."""


class EconomyError(DeepMarketsError):
    """An agent economy's money diverged (prices, wealth or the bank's balance no longer finite)."""


class SweepError(DeepMarketsError, ValueError):
    """A sweep was given a bad task, grid, seed or scheduler, or its scheduler could not be reached."""


class PlotError(DeepMarketsError, ValueError):
    """A plot was given axes it cannot draw on: not matplotlib Axes, or the wrong number of them."""


class InductionError(DeepMarketsError):
    """A logical inductor's market maker found no prices passing the exact check, or a daily
    invariant failed."""
