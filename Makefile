# tooldojo — `make demo` installs and runs the whole pipeline offline on CPU; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
# The CPU wheel of torch (a plain `torch` would pull a multi-GB CUDA build on a CPU-only machine).
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
CORE := $(VENV)/.tooldojo-core
DEV := $(VENV)/.tooldojo-dev

.PHONY: install install-dev demo quick test lint bench clean

install: $(CORE)      ## tooldojo and its CPU dependencies
install-dev: $(DEV)   ## + pytest, ruff, ray (the test suite's extras)

$(CORE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e .
	touch $(CORE)

$(DEV): $(CORE)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(DEV)

demo: install  ## whole pipeline, embedded default: offline teacher, Gemma-3-270M base, CPU
	$(BIN)/tooldojo pipeline --preset demo --run-dir runs/demo

quick: install  ## the same with a tiny model and minimal budgets (about a minute)
	$(BIN)/tooldojo pipeline --quick --run-dir runs/quick

test: install-dev  ## the test suite (offline, CPU; GPU tests skip without CUDA)
	@$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing, a suite that runs nothing proves nothing" >&2; fi; \
	exit $$rc

lint: install-dev
	$(BIN)/ruff check tooldojo tests bench

bench: install-dev  ## CPU benchmarks -> docs/benchmarks.md
	$(BIN)/python -m bench.run_all

clean:
	rm -rf runs .pytest_cache .ruff_cache
