"""README as a script: every code block runs verbatim, in order, from the repository root.

Python blocks run in one interpreter, one namespace, in order (as a reader pastes them into one
session); the site's pages run theirs as code cells when it is built (tests/test_docs.py), and
their shell blocks run here like the README's. Shell blocks run in bash with the environment
activated; each command must exit 0 or 1 (1 is a verdict, e.g. "incoherent"), never 2 (bad
input), 3 (undecided) or a crash. ``make`` lines are checked with ``make -n`` (the suite itself is
what ``make test`` runs). The blocks run in a scratch folder that mirrors the repository root, so
files they write never land in the checkout.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
# pages whose shell blocks are run: the README and the site pages with examples
PAGES = ["README.md", "docs/getting-started.md", "docs/guide/overview.md"]


def _blocks(language: str, page: str = "README.md") -> list[str]:
    return [body for lang, body in BLOCK.findall((ROOT / page).read_text(encoding="utf-8")) if lang == language]


def _commands(block: str) -> list[str]:
    """Shell commands of a block, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
def scratch(tmp_path_factory):
    if not (SHARED / "data" / "poLCA" / "carcinoma.csv").is_file():
        pytest.skip("the README's examples read ../shared/data, which is not beside this checkout")
    base = tmp_path_factory.mktemp("readme")
    root = base / "repo"
    root.mkdir()
    (root / "examples").symlink_to(ROOT / "examples")
    (root / ".venv").symlink_to(Path(sys.prefix))
    (base / "shared").symlink_to(SHARED)
    return root


def test_readme_has_examples_of_every_kind():
    assert len(_blocks("python")) >= 3 and len(_blocks("sh")) >= 5


def test_make_lines_name_real_targets():
    makes = [c for page in PAGES for block in _blocks("sh", page) for c in _commands(block) if c.startswith("make ")]
    assert makes, "README names no make command"
    for command in makes:
        target = shlex.split(command.split("#")[0])[1]
        proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, f"{command!r}: {proc.stderr}"


def test_python_blocks_run_in_order(scratch):
    script = "\n\n".join(_blocks("python"))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=scratch, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.parametrize("page", PAGES)
def test_shell_blocks_run_in_order(scratch, page):
    lines = ["set -u"]
    for block in _blocks("sh", page):
        for command in _commands(block):
            if command.startswith("make "):
                continue
            if command.startswith(". ") or command.startswith("source "):
                lines.append(command)
                continue
            quoted = shlex.quote(command)
            lines.append(f"{command}\nrc=$?; if [ $rc -gt 1 ]; then echo \"exit $rc from: \"{quoted} >&2; exit $rc; fi")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["MPLBACKEND"] = "Agg"
    if page != "README.md":  # the site's later pages assume the environment activated on its first
        env["PATH"] = f"{scratch / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], cwd=scratch, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
