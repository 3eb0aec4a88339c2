"""The installed package: namespaced imports only, a lazy facade, and runnable docstring examples."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "deepmarkets.logic.sentence",
    "deepmarkets.logic.theory",
    "deepmarkets.logic.coherence",
    "deepmarkets.logic.parse",
    "deepmarkets.logic.sympy_bridge",
]


@pytest.mark.parametrize("name", ["logic", "beliefs", "models"])
def test_no_bare_top_level_names(name, tmp_path):
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is not None)"
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0


def test_facade_is_lazy_and_complete(tmp_path):
    code = (
        "import sys, deepmarkets; assert 'z3' not in sys.modules and 'scipy' not in sys.modules; "
        "from deepmarkets import check_coherence, Theory, parse, atoms, DeepMarketsError; "
        "assert check_coherence.__module__ == 'deepmarkets.logic.coherence'"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0
    import deepmarkets

    for name in deepmarkets.__all__:
        assert getattr(deepmarkets, name) is not None


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
