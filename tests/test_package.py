"""The installed package: namespaced imports only, a lazy facade, and runnable docstring examples."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest


def _modules() -> list[str]:
    """Every module of the package (``__main__`` runs the command line, so it is left out)."""
    packages = ("deepmarkets", "deepmarkets.logic", "deepmarkets.beliefs", "deepmarkets.models")
    found = set(packages)
    # the subpackages live in folders of their own (see pyproject's package-dir): walk each
    for package in packages:
        path = importlib.import_module(package).__path__
        found.update(m.name for m in pkgutil.walk_packages(path, package + "."))
    return sorted(name for name in found if not name.endswith("__main__"))


#: Every module's docstring examples run as tests.
MODULES = _modules()

#: Modules that ``deepmarkets --help`` and importing the packages must not import (slow to import).
HEAVY = ["z3", "scipy", "sympy", "pandas", "matplotlib", "pyarrow", "pymc", "pytensor", "arviz", "xarray", "pysat",
         "highspy", "flint"]
#: Modules that EM inference does not use: symbolic, solver, sampler and plotting libraries.
NOT_FOR_EM = ["z3", "sympy", "matplotlib", "pymc", "pytensor", "arviz", "xarray", "pysat", "highspy", "flint"]
#: Modules that checking prices for coherence does not use (it needs z3 and the SAT/LP solvers only).
NOT_FOR_CHECK = ["scipy", "sympy", "pandas", "matplotlib", "pymc", "pytensor", "arviz", "xarray"]
BOOK = "question,trader,answer\nq1,a,yes\nq1,b,yes\nq1,c,no\nq2,a,no\nq2,b,yes\nq2,c,no\n"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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


def _loaded_after(code: str, modules: list[str], cwd: Path) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))\n"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_packages_load_their_modules_on_first_use(tmp_path):
    assert _loaded_after("import deepmarkets.logic, deepmarkets.beliefs, deepmarkets.models", HEAVY, tmp_path) == []
    code = "from deepmarkets.beliefs import Book\nfrom deepmarkets.models import Reports, adjusted_rand_index"
    assert _loaded_after(code, NOT_FOR_EM, tmp_path) == []


def test_em_inference_from_the_command_line_imports_only_what_it_uses(tmp_path):
    (tmp_path / "book.csv").write_text(BOOK)
    code = "from deepmarkets.cli import main\nassert main(['infer', '--method', 'em', 'book.csv']) == 0"
    assert _loaded_after(code, NOT_FOR_EM, tmp_path) == []


def test_checking_prices_imports_only_what_it_uses(tmp_path):
    prices, theory = str(EXAMPLES / "prices.csv"), str(EXAMPLES / "theory.txt")
    code = f"from deepmarkets.cli import main\nassert main(['check', {prices!r}, '--theory', {theory!r}]) == 1"
    assert _loaded_after(code, NOT_FOR_CHECK, tmp_path) == []


def test_a_submodule_imported_first_does_not_shadow_the_name_exported_by_its_package(tmp_path):
    code = ("import deepmarkets.logic.sentence, deepmarkets.logic.parse, deepmarkets.beliefs.replay, "
            "deepmarkets.models.infer\n"
            "import deepmarkets.logic as L, deepmarkets.beliefs as B, deepmarkets.models as M\n"
            "from deepmarkets.beliefs import replay\n"
            "assert replay is B.replay and replay.__name__ == 'replay'\n"
            "assert replay.__module__ == 'deepmarkets.beliefs.replay'\n"
            "for f, name in ((L.sentence, 'sentence'), (L.parse, 'parse'), (M.infer, 'infer')):\n"
            "    assert callable(f) and f.__name__ == name, f\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", ["logic", "beliefs", "models"])
def test_package_dir_and_all_list_every_export_once(name):
    package = importlib.import_module(f"deepmarkets.{name}")
    assert len(set(package.__all__)) == len(package.__all__)
    assert set(package.__all__) <= set(dir(package))
    for export in package.__all__:
        assert getattr(package, export) is not None, export
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        package.nonexistent  # noqa: B018


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
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_every_module_is_found_once():
    assert len(MODULES) == len(set(MODULES))
    for name in ("deepmarkets.logic.coherence", "deepmarkets.beliefs.makers", "deepmarkets.models.em",
                 "deepmarkets.helpers.rng", "deepmarkets.cli"):
        assert name in MODULES


def test_every_error_class_is_exported_from_the_facade():
    import inspect

    import deepmarkets
    import deepmarkets.errors

    classes = [name for name, value in vars(deepmarkets.errors).items()
               if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == "deepmarkets.errors"]
    assert len(classes) >= 7
    for name in classes:
        assert name in deepmarkets.__all__ and getattr(deepmarkets, name) is getattr(deepmarkets.errors, name)


def test_test_modules_have_unique_names():
    # the test folders are not packages, so two test modules with one file name collide in a single pytest run
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    for path in sorted(tests.rglob("test_*.py")):
        assert path.name not in seen, f"{path.relative_to(tests)} and {seen[path.name].relative_to(tests)} share a name"
        seen[path.name] = path
    assert len(seen) > 10
