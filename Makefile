# Two entry points for a fresh machine: `make run` (the main job) and `make test` (everything CI
# checks: lint, types, the suite on CPython 3.11, 3.12 and 3.13, the C paths switched off, and
# the package as a user installs it).
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
PYTHONS  ?= 3.12 3.13#  more interpreters the suite runs on, besides $(PYTHON) (found by .ci/python)
ENV      ?= dev
DURATION ?= 5
C_SOURCES := $(wildcard src/hft/*.c src/hft/*.h)

.PHONY: run test lint typecheck pytest pytest-pure pytest-pythons pytest-installed bench clean

$(STAMP): pyproject.toml setup.py $(C_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# One venv per extra interpreter (.venv-3.12, ...): the editable install builds that
# interpreter's C extensions in place beside the others'.
.venv-%/.installed: pyproject.toml setup.py $(C_SOURCES)
	$$(.ci/python $*) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e '.[dev,bench]'
	touch $@

run: $(STAMP)
	$(BIN)/hft run --env $(ENV) --duration $(DURATION)

test: lint typecheck pytest pytest-pure pytest-pythons pytest-installed

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	@echo "-- the whole suite on $$($(BIN)/python -V) --"
	$(BIN)/pytest

pytest-pure: $(STAMP)
	@echo "-- the logging tests again on the pure-Python paths (HFT_PURE_PYTHON=1) --"
	HFT_PURE_PYTHON=1 $(BIN)/pytest -q tests/logging tests/test_callsite.py

pytest-pythons: $(foreach v,$(PYTHONS),.venv-$(v)/.installed)
	@set -e; for v in $(PYTHONS); do \
	  echo "-- the whole suite on $$(.venv-$$v/bin/python -V) --"; \
	  .venv-$$v/bin/pytest -q; \
	done

# The package as a user gets it: sdist and wheel built with `python -m build`; the wheel
# installed into a fresh venv outside the checkout and the suite run against it (hft from
# site-packages, never src/); the sdist installed too, which proves its C sources and settings.
pytest-installed: $(STAMP)
	rm -rf dist && $(BIN)/python -m build --outdir dist . >/dev/null
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/wheel" && "$$tmp/wheel/bin/pip" install --quiet "$$(ls dist/*.whl)[dev,bench]"; \
	echo "-- the whole suite against the installed wheel ($$("$$tmp/wheel/bin/python" -c 'import hft; print(hft.__file__)')) --"; \
	(cd "$$tmp" && HFT_EXPECT_INSTALLED=1 "$$tmp/wheel/bin/pytest" -q -p no:cacheprovider --rootdir "$(CURDIR)" -c "$(CURDIR)/pyproject.toml" "$(CURDIR)/tests"); \
	$(PYTHON) -m venv "$$tmp/sdist" && "$$tmp/sdist/bin/pip" install --quiet dist/*.tar.gz; \
	mkdir "$$tmp/empty" && cd "$$tmp/empty" && "$$tmp/sdist/bin/python" -c 'from hft.logging import native_paths as n; p = n(); assert all(p.values()), p; print("sdist: C paths", p)' \
	  && "$$tmp/sdist/bin/hft" config validate --env prod

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache logs
