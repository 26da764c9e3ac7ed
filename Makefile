# castoff — the two commands: `make demo` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.castoff-installed
BENCH_STAMP := $(VENV)/.castoff-bench-installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint format bench soak postgres clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/castoff demo

postgres:
	@scripts/ensure-postgres

test: $(STAMP) postgres
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not soak" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(BENCH_STAMP) postgres
	$(BIN)/python bench/run.py

# The soaks (docs/testing.md): minutes of real processes killed at random; -s shows progress.
soak: $(STAMP) postgres
	$(BIN)/python -m pytest -m soak -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
