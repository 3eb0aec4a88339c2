# make demo | make test | make bench — each creates .venv (Python 3.12) on first use.
PYTHON ?= $(shell command -v python3.12 || pyenv which python 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 12), "Python 3.12 is required (see .python-version)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deepmarkets demo --plot latent_market.png

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/coherence.py
	$(BIN)/python benchmarks/markets.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/gauge.py
	$(BIN)/python benchmarks/induction.py  # its logicalinduction baseline: pip install logicalinduction==0.1.6

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
