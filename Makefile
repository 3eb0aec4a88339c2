# make demo | make test | make docs | make bench — each creates .venv (Python 3.12) on first use, with the exact
# versions in constraints.txt (the set the suite last passed with).
# make test-latest — the same suite in .venv-latest with the newest compatible releases, to see drift early.
# make lock — re-resolve the newest compatible releases into constraints.txt (then run make test).
PYTHON ?= $(shell command -v python3.12 || pyenv which python 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := constraints.txt
LATEST := .venv-latest
CHECK_PYTHON := $(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 12), "Python 3.12 is required (see .python-version)"'

.PHONY: demo test docs test-latest lock bench lint clean browser

$(STAMP): pyproject.toml $(LOCK)
	$(CHECK_PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deepmarkets demo --plot latent_market.png --report demo.html

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

# headless Chromium for the browser tests of the HTML reports (Debian's packages; needs root and apt-get)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "could not install chromium: the browser tests will be skipped"; \
	else echo "chromium and chromedriver are missing and cannot be installed here (not root, or no apt-get): the browser tests will be skipped"; fi

# the site in docs/_build/html (notebooks executed, warnings are errors), then the API reference's examples as doctests
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html -d docs/_build/doctrees docs docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -q -b doctest -d docs/_build/doctrees docs docs/_build/doctest

test-latest:
	$(CHECK_PYTHON)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/resolved.txt
	grep -v '^#' $(LOCK) | diff - $(LATEST)/resolved.txt || echo 'newer releases than $(LOCK) (above): make lock after this passes'
	$(LATEST)/bin/ruff check .
	$(LATEST)/bin/python -m pytest -n 2 -q

lock:
	$(CHECK_PYTHON)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet -e '.[dev]'
	( echo '# Exact versions make test and make demo install (pip -c). Written by make lock: do not edit by hand.'; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable ) > $(LOCK)

bench: $(STAMP)
	$(BIN)/python benchmarks/coherence.py
	$(BIN)/python benchmarks/boundary.py
	$(BIN)/python benchmarks/markets.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/gauge.py
	$(BIN)/python benchmarks/induction.py  # its logicalinduction baseline: pip install logicalinduction==0.1.6
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/worlds.py
	$(BIN)/python benchmarks/bria.py
	$(BIN)/python benchmarks/economies.py
	$(BIN)/python benchmarks/layered.py
	$(BIN)/python benchmarks/reports.py

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .ruff_cache docs/_build docs/api/generated
