"""Helpers shared by every layer: random generators, lazily loaded package exports, progress lines.

This module imports nothing from the project but :mod:`deepmarkets.errors`, and nothing
heavy, so any module may use it without slowing down start-up.
"""

from __future__ import annotations

import importlib
import sys
import time
import types
from collections.abc import Iterable, Mapping

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["as_rng", "export_lazily", "StatusLine"]


def as_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, a Generator or ``None`` (fresh entropy).

    Examples
    --------
    >>> rng = as_rng(0)
    >>> as_rng(rng) is rng
    True
    >>> float(as_rng(0).random()) == float(as_rng(0).random())
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise DeclarationError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__} {rng!r}")


class _LazyPackage(types.ModuleType):
    """A package whose public names load their home module on first use.

    Importing a submodule binds it as an attribute of its package; where a submodule and a
    public name share a name (``deepmarkets.beliefs.replay`` the module and ``replay`` the
    function), that binding is skipped so the public name stays the function.
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_exports", ()):
            return
        super().__setattr__(name, value)


def export_lazily(package: str, homes: Mapping[str, Iterable[str]],
                  renamed: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """Make the public names of ``package`` import their home module on first use (PEP 562).

    ``from package import name``, ``package.name``, ``dir(package)`` and ``__all__`` behave as
    with eager imports, but importing the package itself costs nothing.

    Parameters
    ----------
    package : str
        The package's ``__name__``; call this from its ``__init__``.
    homes : mapping of str to iterable of str
        Submodule (relative to ``package``) -> the names it exports under their own names.
    renamed : mapping of str to (str, str), optional
        Public name -> (submodule, attribute) for names exported under another name.

    Returns
    -------
    list of str
        The public names, for ``__all__``.
    """
    where = {name: (home, name) for home, names in homes.items() for name in names}
    where.update(renamed or {})
    module = sys.modules[package]

    def __getattr__(name: str):
        try:
            home, attribute = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{home}"), attribute)
        module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*module.__dict__, *where})

    module.__dict__.update(_exports=frozenset(where), __getattr__=__getattr__, __dir__=__dir__)
    module.__class__ = _LazyPackage
    return list(where)


class StatusLine:
    """Progress of long work on standard error, as a context manager with :meth:`update`.

    On a terminal, a rich status line that each update rewrites; elsewhere (CI logs, notebooks,
    a redirected stream) one plain line every ``every`` seconds, the first after ``every``
    seconds, so that short work prints nothing; nothing at all when ``enabled`` is False.

    Examples
    --------
    >>> with StatusLine("counting", enabled=False) as status:
    ...     status.update("3 of 10")
    """

    def __init__(self, what: str, *, enabled: bool = True, every: float = 5.0):
        self.what, self.enabled, self.every = what, enabled, every
        self._status = None
        self._stream = None

    def __enter__(self) -> StatusLine:
        self._started = self._last = time.monotonic()
        if self.enabled:
            self._stream = sys.stderr
            if self._stream.isatty():
                from rich.console import Console

                self._status = Console(stderr=True).status(self.what)
                self._status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)
            self._status = None
        self._stream = None

    def update(self, message: str) -> None:
        """Show ``message`` (now on a terminal; elsewhere when ``every`` seconds have passed since the last line)."""
        if self._status is not None:
            self._status.update(f"{self.what}: {message}")
        elif self._stream is not None:
            now = time.monotonic()
            if now - self._last >= self.every:
                self._last = now
                print(f"{self.what}: {message} ({now - self._started:.0f} s)", file=self._stream, flush=True)
