# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: venv
	$(BIN)/metrics store init
	$(BIN)/metrics daemon

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q

test: lint typecheck unit

bench: venv
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/evaluate.py
	$(BIN)/python benchmarks/extraction.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/rules.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
