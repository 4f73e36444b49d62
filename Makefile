# Two entry points for a fresh machine: `make run` (the main job) and `make test` (everything CI
# checks: lint, types, the suite on CPython 3.11, 3.12 and 3.13, the C paths switched off, the
# package as a user installs it, and the docs site built strictly). `make docs` serves the site.
#
# Which tests run where in `make test`: every test once, in `pytest` (the whole suite on
# $(PYTHON), C paths built in place). Each later pass runs again what can differ there (on
# another interpreter, all of it):
#   pytest-pure       tests/logging, on the pure-Python twins of the C paths (HFT_PURE_PYTHON=1)
#   pytest-pythons    the whole suite again on each of $(PYTHONS) (the C extensions built for
#                     each; everything the interpreter meets, deprecations as errors)
#   pytest-installed  PACKAGE_TESTS against the wheel in a fresh venv: hft from site-packages, the
#                     C paths and settings it ships, the CLI, the docs' examples, the writer process
#   asan              ASAN_TESTS against a build under AddressSanitizer
#   sweep-focused     the crash sweep (tests/crash, marker sweep), deselected everywhere else
# The pytest passes spread the tests over $(WORKERS) processes (pytest-xdist), a file to each.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed#       the runtime dependencies only: what `make run` needs
TEST_STAMP := $(VENV)/.installed-test# the tools of `make test` and `make docs` on top of it
PYTHONS  ?= 3.12 3.13#  more interpreters the suite runs on, besides $(PYTHON) (found by .ci/python)
ENV      ?= dev
DURATION ?= 5
C_SOURCES := $(wildcard src/hft/logging/native/*.c src/hft/logging/native/*.h)
WORKERS  ?= auto#  pytest-xdist workers of the pytest passes (auto: one a CPU; 0: none)
XDIST    := -n $(WORKERS) --dist loadfile
# What proves the package as a user installs it (run against the wheel); the writer's stall
# tests prove nothing more there.
PACKAGE_TESTS := tests/test_package.py tests/test_cli.py tests/test_cli_audit.py \
	tests/test_docs.py tests/test_docs_settings.py tests/test_containers.py tests/config \
	tests/app tests/logging/native tests/logging/writer tests/logging/test_factory.py
NOT_AGAIN := tests/logging/writer/test_stalls.py

.PHONY: run test lint typecheck pytest pytest-pure pytest-pythons pytest-installed asan docs docs-build bench clean \
	sweep-focused sweep

$(STAMP): pyproject.toml setup.py $(C_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench,docs]'
	touch $(TEST_STAMP)

# One venv per extra interpreter (.venv-3.12, ...): the editable install builds that
# interpreter's C extensions in place beside the others'.
.venv-%/.installed: pyproject.toml setup.py $(C_SOURCES)
	$$(.ci/python $*) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e '.[dev,bench]'
	touch $@

run: $(STAMP)
	$(BIN)/hft run --env $(ENV) --duration $(DURATION)

test: lint typecheck pytest pytest-pure pytest-pythons pytest-installed asan sweep-focused docs-build

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

pytest: $(TEST_STAMP)
	@echo "-- the whole suite on $$($(BIN)/python -V) --"
	$(BIN)/pytest $(XDIST)

pytest-pure: $(TEST_STAMP)
	@echo "-- the logging tests again on the pure-Python paths (HFT_PURE_PYTHON=1) --"
	HFT_PURE_PYTHON=1 $(BIN)/pytest -q $(XDIST) tests/logging

pytest-pythons: $(foreach v,$(PYTHONS),.venv-$(v)/.installed)
	@set -e; for v in $(PYTHONS); do \
	  echo "-- the whole suite on $$(.venv-$$v/bin/python -V) --"; \
	  .venv-$$v/bin/pytest -q $(XDIST); \
	done

# The package as a user gets it: sdist and wheel built with `python -m build`; the wheel
# installed into a fresh venv outside the checkout and PACKAGE_TESTS run against it (hft from
# site-packages, never src/; TestInstalledWheel, which builds a wheel of its own to the same end,
# ran in `pytest`); the sdist installed too, which proves its C sources and settings.
pytest-installed: $(TEST_STAMP)
	rm -rf dist && $(BIN)/python -m build --outdir dist . >/dev/null
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/wheel" && "$$tmp/wheel/bin/pip" install --quiet "$$(ls dist/*.whl)[dev]"; \
	echo "-- PACKAGE_TESTS against the installed wheel ($$("$$tmp/wheel/bin/python" -c 'import hft; print(hft.__file__)')) --"; \
	(cd "$$tmp" && HFT_EXPECT_INSTALLED=1 "$$tmp/wheel/bin/pytest" -q -p no:cacheprovider $(XDIST) \
	  --rootdir "$(CURDIR)" -c "$(CURDIR)/pyproject.toml" $(addprefix --ignore=$(CURDIR)/,$(NOT_AGAIN)) \
	  --deselect tests/test_package.py::TestInstalledWheel $(addprefix $(CURDIR)/,$(PACKAGE_TESTS))); \
	$(PYTHON) -m venv "$$tmp/sdist" && "$$tmp/sdist/bin/pip" install --quiet dist/*.tar.gz; \
	mkdir "$$tmp/empty" && cd "$$tmp/empty" && "$$tmp/sdist/bin/python" -c 'from hft.logging import native_paths as n; p = n(); assert all(p.values()), p; print("sdist: C paths", p)' \
	  && "$$tmp/sdist/bin/hft" config validate --env prod

# AddressSanitizer: the package built with its C extensions under -fsanitize=address (gcc) into
# build/asan, never over the in-place .so files the other targets load. pip builds a copy of the
# sources (a fresh setuptools build dir: no unsanitized object is reused). The C-facing tests
# then run against it with libasan preloaded into the interpreter and PYTHONMALLOC=malloc (every
# Python object in ASAN's heap, redzones around it); leak detection is off for the interpreter's
# own exit-time allocations, and tests/leakcheck.py checks the C loops' memory instead (with a
# small quarantine, so that freed blocks ASAN holds back do not read as resident growth).
# pytest captures sys.stdout/err only: an ASAN report goes to the real stderr even on abort.
ASAN_BIN    ?= $(BIN)#  the interpreter whose build is checked: make asan ASAN_BIN=.venv-3.13/bin
ASAN_DIR    := build/asan
ASAN_CFLAGS := -fsanitize=address -fno-omit-frame-pointer -g -O1
ASAN_TESTS  := tests/logging/native/test_callsite.py tests/logging/native/test_lane.py tests/logging/native/test_render_lane.py tests/logging/pipeline/test_lanes.py \
               tests/logging/native/test_mover.py tests/logging/native/test_twins.py tests/logging/native/test_native.py \
               tests/logging/native/test_keep.py tests/logging/pipeline/test_backtrace.py \
               tests/logging/test_task_context.py tests/logging/pipeline/test_context_ids.py \
               tests/logging/pipeline/test_limits.py tests/logging/test_trace_context.py \
               tests/logging/test_trace_spans.py
ASAN_ENV     = PYTHONPATH=$(CURDIR)/$(ASAN_DIR) LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
               ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
               HFT_REQUIRE_SPEEDUPS=1
asan: $(TEST_STAMP)
	rm -rf $(ASAN_DIR) $(ASAN_DIR)-src && mkdir -p $(ASAN_DIR)-src
	cp -r setup.py pyproject.toml MANIFEST.in README.md settings src $(ASAN_DIR)-src/
	find $(ASAN_DIR)-src -name '*.so' -delete
	cd $(ASAN_DIR)-src && CC=gcc HFT_REQUIRE_SPEEDUPS=1 HFT_CFLAGS="$(ASAN_CFLAGS)" \
	  HFT_LDFLAGS="-fsanitize=address" $(abspath $(ASAN_BIN))/pip install --quiet --no-deps \
	  --target $(CURDIR)/$(ASAN_DIR) .
	@echo "-- the C-facing tests against the AddressSanitizer build --"
	$(ASAN_ENV) $(ASAN_BIN)/python -c 'import hft.logging.native._caller as c, hft.logging.native._writer as w; \
	  paths = [m.__file__ for m in (c, w)]; print("\n".join(paths)); \
	  assert all(p.startswith("$(CURDIR)/$(ASAN_DIR)/") for p in paths), paths; \
	  assert all(b"__asan_report" in open(p, "rb").read() for p in paths), "not instrumented"'
	$(ASAN_ENV) PYTHONMALLOC=malloc $(ASAN_BIN)/pytest -q -p no:cacheprovider --capture=sys $(ASAN_TESTS)
	@echo "-- leak check of the call-site, keep, limits, lane, context, trace, mover and render loops (ASAN build, 1e5 calls) --"
	$(ASAN_ENV) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=4 \
	  $(ASAN_BIN)/python -m tests.leakcheck 100000

# The crash sweep (tests/crash, issue 27): every persistence call that touches the audit trail,
# the syslog spool or the JSON file (numbered by an LD_PRELOAD shim that the tests build with
# gcc) is crashed, torn or failed in turn; the files are then checked from disk and with
# `hft audit verify`, the writer restarted, appended to and checked again. `sweep-focused` (part
# of `make test`, run once: ~2-3 min) takes the calls that matter most, `sweep` all of them;
# its figures go to build/sweep/last-run.txt, quoted in docs/resilience.md.
sweep-focused: $(TEST_STAMP)
	@echo "-- the focused crash sweep (start-up, rotation, checkpoint, close, steady points) --"
	$(BIN)/pytest -q -m sweep -k focused tests/crash

sweep: $(TEST_STAMP)
	@echo "-- the full crash sweep (every fault at every persistence call) --"
	$(BIN)/pytest -q -s -m sweep -k full tests/crash

# The docs site (mkdocs, Material theme): `make docs` serves it on http://127.0.0.1:8000 and
# rebuilds on every edit; `make docs-build` (part of `make test`) fails on any warning: a broken
# link, a page missing from the nav, an API name mkdocstrings cannot find. The examples in the
# pages are run by the suite (tests/test_docs.py), not here.
docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-build: $(TEST_STAMP)
	@echo "-- the docs site, built strictly (site/) --"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-* build dist site *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache logs
