"""The documentation site builds without a warning, runs every notebook, and its API examples pass.

The HTML build executes every notebook of ``notebooks/`` and every code cell of the site's pages;
an error in any cell fails it (``nb_execution_raise_on_error``). The doctest build then runs the
examples of every API page, reusing the HTML build's environment so nothing is executed twice.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _sphinx(builder: str, out: Path, doctrees: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
                           "-d", str(doctrees), str(DOCS), str(out)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)


def test_every_notebook_is_a_guide_page():
    assert NOTEBOOKS, "no notebooks in notebooks/"
    assert (DOCS / "guide" / "notebooks").resolve() == (ROOT / "notebooks").resolve()
    guide = (DOCS / "guide" / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", guide, re.S).group(1)
    entries = [line.strip() for line in toctree.splitlines() if line.strip() and not line.startswith(":")]
    # the listed notebooks come in reading order, and the glob adds any notebook not listed
    assert entries[-1] == "notebooks/*" and ":glob:" in toctree
    listed = [e.removeprefix("notebooks/") for e in entries[:-1] if e.startswith("notebooks/")]
    assert len(set(listed)) == len(listed) and set(listed) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.slow
def test_site_builds_and_api_examples_pass(tmp_path):
    doctrees = tmp_path / "doctrees"
    html = _sphinx("html", tmp_path / "html", doctrees)
    assert html.returncode == 0, html.stderr[-6000:]      # -W: any Sphinx warning fails the build
    for notebook in NOTEBOOKS:
        executed = json.loads((tmp_path / "jupyter_execute" / "guide" / "notebooks" / notebook.name).read_text())
        code = [cell for cell in executed["cells"] if cell["cell_type"] == "code"]
        assert code and all(cell["execution_count"] for cell in code), f"{notebook.name} was not executed"
        assert (tmp_path / "html" / "guide" / "notebooks" / f"{notebook.stem}.html").is_file()

    doctest = _sphinx("doctest", tmp_path / "doctest", doctrees)
    report = (tmp_path / "doctest" / "output.txt").read_text(encoding="utf-8")
    assert doctest.returncode == 0, report[-6000:] + doctest.stderr[-2000:]
    tests = int(re.search(r"^\s*(\d+) tests\s*$", report, re.M).group(1))
    failures = int(re.search(r"^\s*(\d+) failures in tests\s*$", report, re.M).group(1))
    assert failures == 0 and tests >= 500, report[-3000:]
