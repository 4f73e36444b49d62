# Two entry points for a fresh machine: `make run` (the main job) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ENV    ?= dev
DURATION ?= 5

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml setup.py $(wildcard src/hft/*.c src/hft/*.h)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hft run --env $(ENV) --duration $(DURATION)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest
	@echo "-- the logging tests again on the pure-Python paths (HFT_PURE_PYTHON=1) --"
	HFT_PURE_PYTHON=1 $(BIN)/pytest -q tests/logging tests/test_callsite.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache logs
