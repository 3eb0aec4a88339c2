"""Sphinx configuration: the PyData theme, the notebooks executed by MyST-NB, numpydoc API pages.

The API pages (``api/generated/``) are written at build start from each public package's
``__all__``, so the reference lists exactly what the packages export. Every object has one page,
under the deepest public package that exports it and holds its source module; other packages
that re-export it link there. The notebooks are read from ``notebooks/`` through the
``guide/notebooks`` link, so they run from their own folder as they do in Jupyter.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import deepmarkets

DOCS = Path(__file__).resolve().parent

project = "deepmarkets"
author = "deepmarkets contributors"
copyright = "deepmarkets contributors"  # noqa: A001 (Sphinx's name)
release = version = deepmarkets.__version__

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx_click",
]

html_theme = "pydata_sphinx_theme"
html_title = "deepmarkets"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "github_url": None,
}
html_static_path: list[str] = []
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "**.ipynb_checkpoints", "jupyter_execute"]

# notebooks and code cells run at build time; an error in any cell fails the build
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = False
os.environ.setdefault("MPLBACKEND", "Agg")  # the kernels inherit it: no display needed
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# API reference: numpydoc docstrings; members on the class page; no network for intersphinx
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# doctests: every page of the API reference runs its examples in one namespace, in order
doctest_global_setup = """
import numpy as np
import pandas as pd
"""
doctest_test_doctest_blocks = "default"

# the public packages, in the order the reference lists them; each gets a page
API_PACKAGES = [
    "deepmarkets", "deepmarkets.errors", "deepmarkets.protocols",
    "deepmarkets.logic", "deepmarkets.logic.induction", "deepmarkets.logic.quantified",
    "deepmarkets.beliefs",
    "deepmarkets.models", "deepmarkets.models.gauge", "deepmarkets.models.economies", "deepmarkets.models.bria",
    "deepmarkets.models.layered", "deepmarkets.models.partitioned",
    "deepmarkets.sweeps", "deepmarkets.reports",
]


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    return list(names)


def _home(package: str, name: str, obj, exporters: dict[int, list[tuple[str, str]]]) -> tuple[str, str]:
    """The (package, name) whose page documents ``obj``: the deepest exporter, preferring its source module's."""
    if isinstance(obj, (bool, int, float, str, bytes)):  # equal values are not the same constant
        return package, name
    source = getattr(obj, "__module__", None) or ""
    exporting = exporters[id(obj)]
    holding = [(p, n) for p, n in exporting if source == p or source.startswith(p + ".")]
    return max(holding or exporting, key=lambda pn: pn[0].count("."))


def write_api_pages(out: Path) -> None:
    """Write one page per public package into ``out`` (its docstring and its names); remove stale pages."""
    modules = {p: importlib.import_module(p) for p in API_PACKAGES}
    names = {p: _public_names(m) for p, m in modules.items()}
    exporters: dict[int, list[tuple[str, str]]] = {}
    for p, ns in names.items():
        for n in ns:
            exporters.setdefault(id(getattr(modules[p], n)), []).append((p, n))
    out.mkdir(parents=True, exist_ok=True)
    pages = set(names)
    for p, ns in names.items():
        own, linked = [], []
        for n in ns:
            home = _home(p, n, getattr(modules[p], n), exporters)
            (own if home == (p, n) else linked).append(home)
        pages.update(f"{p}.{n}" for _, n in own)
        lines = [p, "=" * len(p), "", ".. testsetup:: *", "", f"   from {p} import *", "",
                 f".. automodule:: {p}", "   :no-members:", ""]
        if own:
            lines += [".. autosummary::", "   :toctree: .", "", *(f"   {n}" for _, n in sorted(own)), ""]
        if linked:
            lines += ["Documented with their package:", "", ".. autosummary::", "",
                      *(f"   ~{h.removeprefix(p + '.')}.{n}" if h.startswith(p + ".") else f"   {h}.{n}"
                        for h, n in sorted(set(linked))), ""]
        text = "\n".join(lines)
        page = out / f"{p}.rst"
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
    for stale in out.glob("*.rst"):  # a name no longer exported, or now documented elsewhere
        if stale.stem not in pages:
            stale.unlink()


write_api_pages(DOCS / "api" / "generated")
