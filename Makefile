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
	$(BIN)/python -m compileall -q metrics jobs   # the project's bytecode, as pip writes the libraries'
	touch $(STAMP)

# the daemon creates the missing tables and migrates the state database itself, before any job
# (one process: a separate `metrics store init` would import the data stack a second time)
run: venv
	$(BIN)/metrics daemon

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q

test: lint typecheck unit

# each script prints its table, then one line per target: "target X: measured Y (ratio Z) PASS/MISS";
# the summary at the end gathers those lines
BENCH_LOG := $(or $(TMPDIR),/tmp)/metrics-bench.log

bench: venv
	@: > $(BENCH_LOG)
	$(BIN)/python benchmarks/store.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/evaluate.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/extraction.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/backtest.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/rules.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/output.py | tee -a $(BENCH_LOG)
	$(BIN)/python benchmarks/startup.py | tee -a $(BENCH_LOG)
	@echo; echo "summary:"; grep '^target ' $(BENCH_LOG) || true

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
