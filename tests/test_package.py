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
    "deepmarkets.logic.quantified",
    "deepmarkets.logic.induction",
    "deepmarkets.logic.induction_features",
    "deepmarkets.logic.induction_scenarios",
    "deepmarkets.logic.induction_spec",
    "deepmarkets",
    "deepmarkets.demo",
    "deepmarkets.beliefs",
    "deepmarkets.beliefs.makers",
    "deepmarkets.beliefs.scoring",
    "deepmarkets.beliefs.market",
    "deepmarkets.beliefs.book",
    "deepmarkets.beliefs.replay",
    "deepmarkets.beliefs.io",
    "deepmarkets.beliefs.arbitrage",
    "deepmarkets.models.data",
    "deepmarkets.models.fit",
    "deepmarkets.models.em",
    "deepmarkets.models.simulate",
    "deepmarkets.models.metrics",
    "deepmarkets.models.infer",
    "deepmarkets.models.relabel",
    "deepmarkets.models.natural",
    "deepmarkets.models.gauge",
    "deepmarkets.models.checks",
]

#: Modules that ``deepmarkets --help`` must not import (it should start in well under a second).
HEAVY = ["z3", "scipy", "sympy", "pandas", "matplotlib", "pyarrow", "pymc", "arviz"]


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


def test_help_imports_no_heavy_module(tmp_path):
    code = (
        "import sys\n"
        "from deepmarkets.cli import main\n"
        "assert main(['--help']) == 0\n"
        "assert main(['replay', '--help']) == 0\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "replay" in proc.stdout and "--market" in proc.stdout


def test_beliefs_exports():
    import deepmarkets
    import deepmarkets.beliefs as beliefs
    arbitrage, book, makers, market, replay, scoring = (
        importlib.import_module(f"deepmarkets.beliefs.{m}")
        for m in ("arbitrage", "book", "makers", "market", "replay", "scoring")
    )
    homes = {"Market": market, "contract": market, "conditional": market, "index": market, "LMSR": makers,
             "LSLMSR": makers, "Quadratic": makers, "MarketMaker": makers, "LogScore": scoring, "Book": book,
             "replay": replay, "Replay": replay, "ArbitrageFreeMarket": arbitrage, "project": arbitrage}
    for name, module in homes.items():
        assert getattr(beliefs, name) is getattr(module, name), name
        assert name in beliefs.__all__, name
    assert len(set(beliefs.__all__)) == len(beliefs.__all__)
    for name in beliefs.__all__:
        assert getattr(beliefs, name).__module__.startswith("deepmarkets.beliefs."), name
    # the function, not the module of the same name, whatever was imported first
    assert callable(beliefs.replay) and beliefs.replay.__name__ == "replay"
    # the facade hands out the same objects
    for name in ("Market", "LMSR", "LSLMSR", "Quadratic", "MarketMaker", "Book", "replay", "ArbitrageFreeMarket"):
        assert name in deepmarkets.__all__ and getattr(deepmarkets, name) is getattr(beliefs, name), name


def test_beliefs_do_not_import_inference_libraries(tmp_path):
    code = (
        "import sys, deepmarkets.beliefs; "
        "bad = [m for m in ('pymc', 'arviz', 'matplotlib') if m in sys.modules]; assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
