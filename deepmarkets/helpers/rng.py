"""Random generators: one rule for what a ``rng=`` argument may be."""

from __future__ import annotations

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["as_rng"]


def as_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed (an int, a sequence of ints, a ``SeedSequence``), a Generator or
    ``None`` (fresh entropy).

    Examples
    --------
    >>> rng = as_rng(0)
    >>> as_rng(rng) is rng
    True
    >>> float(as_rng(0).random()) == float(as_rng(0).random())
    True
    >>> as_rng(1.5)
    Traceback (most recent call last):
    ...
    deepmarkets.errors.DeclarationError: rng must be an int seed, a numpy Generator or None, got float 1.5
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if not isinstance(rng, bool):
        try:
            return np.random.default_rng(rng)
        except (TypeError, ValueError):
            pass
    raise DeclarationError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__} {rng!r}")
