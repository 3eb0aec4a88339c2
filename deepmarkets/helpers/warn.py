"""Warnings that point at the user's line, however deep in the package they are raised."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["warn"]


def _package_dirs() -> tuple[str, ...]:
    """The folders of the package's code: ``deepmarkets/`` and, in a source checkout, the subpackages'
    own folders beside it (``logic/``, ``beliefs/``, ``models/``; see pyproject's package-dir)."""
    here = Path(__file__).resolve().parents[1]
    root = here.parent
    dirs = [here]
    if (root / "pyproject.toml").is_file():
        dirs += [root / name for name in ("logic", "beliefs", "models") if (root / name / "__init__.py").is_file()]
    return tuple(str(d) + os.sep for d in dirs)


_PACKAGE_DIRS = _package_dirs()


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside the package (no hand-counted stack level).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("three chains would be better")
    >>> str(caught[0].message)
    'three chains would be better'
    """
    warnings.warn(message, category, skip_file_prefixes=_PACKAGE_DIRS)
