# Afterglow: the developer interface. `make` alone lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The loopback address unless told otherwise on the command line (`make run HOST=0.0.0.0`):
# a HOST in the environment (some shells and images set one) is not taken.
HOST := 127.0.0.1
PORT ?= 8000
URL := http://$(HOST):$(PORT)

# The demo's clinic after-hours line (`make run` only, unless CLINIC_AFTER_HOURS_NUMBER is
# set, empty included): a number from Ofcom's range kept for drama, which reaches nobody.
DEMO_CLINIC_NUMBER := +44 20 7946 0018
DEMO_CLINIC_NAME := Demo clinic after-hours line (fictional number)

# The entry commands of the three processes; docker-compose.yml runs the same ones.
WEB_CMD := gunicorn backend.wsgi:application -c backend/gunicorn_conf.py
WORKER_CMD := celery -A worker worker --loglevel=INFO --concurrency=2
BEAT_CMD := celery -A worker beat --loglevel=INFO

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

$(VENV)/.installed-load: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,load]'
	@touch $@ $(VENV)/.installed-dev $(VENV)/.installed-run

# The OpenAPI linter that the suite runs over the schema (tests/openapi/, Node's npm).
OPENAPI_TOOLS := tests/openapi/node_modules/.installed

$(OPENAPI_TOOLS): tests/openapi/package.json tests/openapi/package-lock.json
	npm ci --prefix tests/openapi --no-audit --no-fund --silent
	@touch $@

.PHONY: install
install: $(VENV)/.installed-dev $(OPENAPI_TOOLS) ## Create .venv and install the project with its dev tools

.PHONY: run
run: $(VENV)/.installed-run ## Run API + worker + beat on SQLite and a file broker, with demo data
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py collectstatic --no-input --verbosity 0
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo_care --url $(URL)
	DEBUG=$${DEBUG:-true} BIND=$(HOST):$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" \
		CLINIC_AFTER_HOURS_NUMBER="$${CLINIC_AFTER_HOURS_NUMBER-$(DEMO_CLINIC_NUMBER)}" \
		CLINIC_AFTER_HOURS_NAME="$${CLINIC_AFTER_HOURS_NAME-$(DEMO_CLINIC_NAME)}" \
		DASHBOARD_PUBLIC_URL=$${DASHBOARD_PUBLIC_URL:-$(URL)/dashboard/} \
		$(PY) -m backend.devserver --url $(URL) \
		web="$(WEB_CMD)" worker="$(WORKER_CMD)" beat="$(BEAT_CMD)"

.PHONY: web
web: $(VENV)/.installed-run ## Run the API alone (gunicorn)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WEB_CMD)

.PHONY: worker
worker: $(VENV)/.installed-run ## Run a Celery worker alone
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WORKER_CMD)

.PHONY: beat
beat: $(VENV)/.installed-run ## Run Celery beat alone
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BEAT_CMD)

.PHONY: services
services: ## Make sure PostgreSQL and Redis answer on 127.0.0.1 (start them when down)
	@bash .ci/services

# The suite's processes (pytest-xdist): `make test TEST_WORKERS=4` on a bigger machine, 0 for one.
TEST_WORKERS ?= 2

.PHONY: test
test: $(VENV)/.installed-dev $(OPENAPI_TOOLS) services ## Run the whole suite on PostgreSQL and Redis
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

.PHONY: lint
lint: $(VENV)/.installed-dev ## Lint and check formatting (ruff)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(VENV)/.installed-dev ## Format the code and fix what ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: types
types: $(VENV)/.installed-load ## Type-check (mypy, strict for the apps; with the load extra, for tests/load)
	$(BIN)/mypy backend journal integration worker tests

.PHONY: check
check: lint types test ## lint + types + tests

.PHONY: schema
schema: $(VENV)/.installed-run ## Write the OpenAPI schema to openapi.yaml (not committed)
	DEBUG=$${DEBUG:-true} $(PY) manage.py spectacular --validate --fail-on-warn --file openapi.yaml

.PHONY: fuzz
fuzz: $(VENV)/.installed-dev services ## Long Schemathesis run against the running service, as patient and therapist
	$(PY) -m tests.fuzz.run_fuzz

.PHONY: leakscan
leakscan: $(VENV)/.installed-dev services ## Write canaries through every flow; fail if one turns up in the DB, SQL, Redis, broker, logs, pushes or admin
	$(PY) -m tests.leakscan.leakscan

.PHONY: chaos
chaos: $(VENV)/.installed-dev services ## Kill a worker, restart Redis, restart PostgreSQL (10 times each); fail if a prompt or a write is lost or doubled
	$(PY) -m tests.chaos.chaos

.PHONY: clean
clean: ## Remove .venv, .local and caches
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/openapi/node_modules

.PHONY: bench
bench: $(VENV)/.installed-dev services ## Benchmarks against twins measured in the same run
	$(PY) -m tests.bench.journal_bench
	$(PY) -m tests.bench.dispatch_bench
	$(PY) -m tests.bench.push_bench

.PHONY: load
load: $(VENV)/.installed-load services ## Load test: the production processes under locust, ours vs a stock twin, then capacity
	$(PY) -m tests.load.run_load
	$(PY) -m tests.load.capacity
