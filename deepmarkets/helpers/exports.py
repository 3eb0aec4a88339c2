"""Lazily loaded package exports: importing a package costs nothing until a name is used."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable, Mapping

__all__ = ["export_lazily"]


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
