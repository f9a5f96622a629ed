# tend: `make demo` runs the operator on the simulated cluster; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit integration reliability soak e2e bench crd clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tend demo

# One pytest run for every suite, so its closing line counts all of them (alone, the e2e
# suite ends "2 skipped" unless asked for, which reads as if no test had run); -rs prints
# every skip's reason.
test: lint typecheck layers
	$(BIN)/pytest -q -rs tests/unit tests/sim tests/integration tests/reliability tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q -rs tests/unit tests/sim/unit

integration: $(STAMP)
	$(BIN)/pytest -q -rs tests/integration tests/sim/integration

# Faults against the real operator (part of `make test`); `make soak` runs them longer.
reliability: $(STAMP)
	$(BIN)/pytest -q -rs tests/reliability

soak: $(STAMP)
	TEND_SOAK=1 $(BIN)/pytest -q -rs tests/reliability

# Runs only with TEND_E2E=1 or the current kube context kind-tend (tests/e2e/conftest.py).
e2e: $(STAMP)
	$(BIN)/pytest -q -rs tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_sim.py

crd: $(STAMP)
	$(BIN)/tend crd > crds/managedservices.tend.dev.yaml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
