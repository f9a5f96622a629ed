# tend: `make demo` runs the operator on the simulated cluster; `make test` runs every check.
# `make help` lists every target.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KUBECTL := $(BIN)/kubectl
# The operator image: what deploy/manager's `images:` names; override to push elsewhere.
DEFAULT_IMG := ghcr.io/tend-dev/tend:0.1.0
IMG ?= $(DEFAULT_IMG)
CONTAINER_TOOL ?= docker
KIND ?= kind
KIND_CLUSTER ?= tend
# What `make deploy` installs: deploy/default, or an overlay (DEPLOY=deploy/overlays/ha).
DEPLOY ?= deploy/default
# Where DEPLOY runs the operator (shop for deploy/overlays/namespaced).
DEPLOY_NAMESPACE ?= tend-system

.PHONY: help demo test lint dockerlint typecheck layers unit integration reliability soak e2e \
	bench crd lock image push kind-up deploy undeploy kind-down clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 16

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) ## The real operator on the simulated cluster, with deploy/samples
	$(BIN)/tend demo

# One pytest run for every suite, so its closing line counts all of them (alone, the e2e
# suite ends "2 skipped" unless asked for, which reads as if no test had run); -rs prints
# every skip's reason.
test: lint dockerlint typecheck layers ## Every check (what .ci/run runs)
	$(BIN)/pytest -q -rs tests/unit tests/sim tests/integration tests/reliability tests/deploy \
		tests/e2e

lint: $(STAMP) ## ruff

	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

dockerlint: $(STAMP) ## hadolint on the Dockerfile
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

layers: $(STAMP) ## import-linter's layer contracts
	$(BIN)/lint-imports

unit: $(STAMP) ## Unit tests only
	$(BIN)/pytest -q -rs tests/unit tests/sim/unit

integration: $(STAMP) ## The operator on the simulated cluster
	$(BIN)/pytest -q -rs tests/integration tests/sim/integration

# Faults against the real operator (part of `make test`); `make soak` runs them longer.
reliability: $(STAMP) ## Faults against the real operator
	$(BIN)/pytest -q -rs tests/reliability

soak: $(STAMP) ## The reliability suite, longer
	TEND_SOAK=1 $(BIN)/pytest -q -rs tests/reliability

# Runs only with TEND_E2E=1 or the current kube context kind-tend (tests/e2e/conftest.py).
e2e: $(STAMP) ## The kind suite: deploy/default with IMG, then the samples (make kind-up first)
	TEND_E2E=1 TEND_E2E_IMAGE=$(IMG) $(BIN)/pytest -q -rs tests/e2e

bench: $(STAMP) ## Benchmarks (timing targets live there, not in tests)
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_sim.py

crd: $(STAMP) ## Regenerate crds/ from the models
	$(BIN)/tend crd > crds/managedservices.tend.dev.yaml

# The image's dependencies, hashed (tests/deploy/test_image.py checks them against pyproject).
lock: $(STAMP) ## Regenerate requirements.lock and requirements-build.lock
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.12 \
		--custom-compile-command "make lock" -q -o requirements.lock
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(BIN)/uv pip compile - --generate-hashes --universal --python-version 3.12 \
		--custom-compile-command "make lock" -q -o requirements-build.lock

image: ## Build the operator image (IMG=...)
	$(CONTAINER_TOOL) build -t $(IMG) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

push: ## Push the operator image (IMG=...)
	$(CONTAINER_TOOL) push $(IMG)

kind-up: image ## Create the kind cluster (kind-config.yaml), build the image and load it
	$(KIND) get clusters | grep -qx $(KIND_CLUSTER) || $(KIND) create cluster --config kind-config.yaml
	$(KIND) load docker-image $(IMG) --name $(KIND_CLUSTER)

# Server-side apply: the Grafana dashboard's ConfigMap is too large for client-side apply's
# last-applied annotation in overlays that include monitoring. On a fresh cluster the first
# apply creates the CRDs but cannot yet create the ClusterKopfPeering (its CRD is not served
# yet): wait for the CRDs, and apply again.
deploy: $(STAMP) ## Install DEPLOY (deploy/default) with IMG into the current kube context
	$(KUBECTL) kustomize $(DEPLOY) | sed 's|$(DEFAULT_IMG)|$(IMG)|g' > $(VENV)/deploy.yaml
	$(KUBECTL) apply --server-side --field-manager=tend-install -f $(VENV)/deploy.yaml \
		|| { $(KUBECTL) wait --for=condition=Established crd --all --timeout=60s \
		&& $(KUBECTL) apply --server-side --field-manager=tend-install -f $(VENV)/deploy.yaml; }
	$(KUBECTL) -n $(DEPLOY_NAMESPACE) rollout status deployment/tend --timeout=180s

undeploy: $(STAMP) ## Remove what `make deploy` installed (ManagedServices' workloads go with the CRD)
	$(KUBECTL) kustomize $(DEPLOY) | $(KUBECTL) delete --ignore-not-found --wait=false -f -

kind-down: ## Delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)

clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
