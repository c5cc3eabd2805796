# Heracles developer commands. `make help` lists them; the quickstart is `make demo` + `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
SHARED ?= ../shared
VENV := .venv
BIN := $(VENV)/bin
HERACLES := $(BIN)/heracles
# The test stack's settings (own ports and state folder), for the test-* targets.
TEST_ENV := set -a && source tests/stack.env && set +a &&
BENCH_ENV := set -a && source benchmarks/stack.env && set +a &&
CHAOS_ENV := set -a && source tests/chaos.env && set +a &&

.PHONY: help prereqs install ui screenshots lock up down status demo smoke lint fmt test fuzz test-up test-down bench-ingest bench-backfill bench-detect bench-api bench-ui bench-robustness bench-replay bench-incremental bench-down chaos chaos-down schema compose-check clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

prereqs: ## Check system packages (Java 17, Maven, redis-server, ...); as root, install them
	@bash infra/prereqs.sh

# Every package comes pinned with its hashes from requirements.lock (`make lock` writes it from
# pyproject.toml); Heracles itself is installed on top, without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

LOCK_ARGS = pyproject.toml --generate-hashes --universal --python-version 3.11 -q
lock: ## Re-pin every dependency with hashes (requirements.lock; requirements-deploy.lock for the image)
	$(BIN)/pip install -q uv==0.13.9
	$(BIN)/uv pip compile $(LOCK_ARGS) --extra dev -o requirements.lock
	$(BIN)/uv pip compile $(LOCK_ARGS) --extra deploy -o requirements-deploy.lock

# The console: npm packages exactly as ui/package-lock.json pins them, then a bundle in ui/dist
# that the API serves at /ui (rebuilt when its sources or the named operations change).
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json $(wildcard graphql/operations/*.graphql)
ui/node_modules/.installed: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ui/dist/index.html: ui/node_modules/.installed $(UI_SOURCES)
	cd ui && npm run --silent build
	touch $@

ui: ui/dist/index.html ## Build the investigation console (ui/dist, served at /ui)

install: prereqs $(VENV)/.installed ui/dist/index.html ## Create .venv with Heracles and its dev tools; build the console

up: install ## Start Neo4j, Redis, Celery worker + beat and the API (dev stack)
	$(HERACLES) up

down: ## Stop what `make up` started
	@if [ -x $(HERACLES) ]; then $(HERACLES) down; fi

status: install ## Health of each component of the dev stack
	$(HERACLES) status

DEMO_SEED := .local/seed/small

demo: install ## The main job: stack up, seed a population, backfill its history, ingest a delta, detect, score
	$(HERACLES) up
	$(HERACLES) smoke
	$(HERACLES) seed --preset small --out $(DEMO_SEED)
	$(BIN)/python -m seed.split $(DEMO_SEED) --delta 0.05
	@# The history through the offline importer (exit 3: the graph already holds data, e.g. a
	@# second `make demo`; then ingest it, which applies only what is new).
	@$(HERACLES) backfill $(DEMO_SEED)/history.jsonl.gz; rc=$$?; \
		if [ $$rc -eq 3 ]; then $(HERACLES) ingest $(DEMO_SEED)/history.jsonl.gz --wait; \
		elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@if [ -f $(SHARED)/spec/examples.jsonl ]; then \
		$(HERACLES) ingest $(SHARED)/spec/examples.jsonl --wait --no-progress; \
	else echo "no $(SHARED)/spec/examples.jsonl: skipping the contract examples"; fi
	$(HERACLES) ingest $(DEMO_SEED)/delta.jsonl.gz --wait
	$(HERACLES) refresh --wait
	$(HERACLES) db stats
	$(HERACLES) eval --labels $(DEMO_SEED)/labels.jsonl --json $(DEMO_SEED)/eval.json
	@echo "--- the analyst's view over GraphQL: the riskiest networks (graphql/operations/) ---"
	@TOKEN=$$($(HERACLES) token create --name demo-$$(date +%s) --role analyst | tail -1) && \
		$(HERACLES) gql TopClusters --token "$$TOKEN" --var first=3 --var minRisk=0.5 && \
		echo "--- the investigation console: $$($(BIN)/python -c "from backend.core.config import get_settings; print(get_settings().api_url)")/ui (sign in with this analyst token) ---" && \
		echo "$$TOKEN"

smoke: install ## Round trip: a Celery task writes a node to Neo4j and reads it back
	$(HERACLES) smoke

lint: install ## ruff (lint + format check), mypy, the layer contracts and the console's TypeScript check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	cd ui && npm run --silent typecheck

fmt: install ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint ## Lint, the console's unit tests, then all tests against a test stack they start and stop themselves
	cd ui && npm test --silent
	$(BIN)/python -m pytest

fuzz: install ## The ingest fuzz suite at 200,000 examples per property (make test runs 10,000)
	HERACLES_FUZZ_EXAMPLES=200000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/ingest/test_fuzz_ingest.py

screenshots: install ## Rerun the console's browser tests, writing docs/ui/*.png
	HERACLES_UI_SCREENSHOTS=docs/ui $(BIN)/python -m pytest -q tests/integration/api/test_console.py

test-up: install ## Keep a test stack running between test runs (faster iteration)
	$(TEST_ENV) $(HERACLES) up

test-down: ## Stop the test stack started by `make test-up`
	@if [ -x $(HERACLES) ]; then $(TEST_ENV) $(HERACLES) down; fi

bench-ingest: install ## Ingest benchmark on its own stack (.local/bench); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_ingest $(BENCH_ARGS)

bench-backfill: install ## Bulk backfill of a seed preset (BENCH_ARGS="--preset full"); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_backfill $(BENCH_ARGS)

bench-detect: install ## Detection refresh benchmark (BENCH_ARGS="--preset full"); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_detect $(BENCH_ARGS)

bench-api: install ## GraphQL latency under load on the medium seed (BENCH_ARGS="--skip-ingest"); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_api $(BENCH_ARGS)

bench-ui: install ## The console in Chromium on the bench stack's loaded graph (queue, 1.5k and largest cluster); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_ui $(BENCH_ARGS)

chaos: install ## Ingest >= 100k events while killing workers, Redis, Neo4j, the API and the CLI; compare with a clean load (CHAOS_HEAP=1g for the small-heap run); see docs/reliability.md
	$(CHAOS_ENV) $(if $(CHAOS_HEAP),HERACLES_NEO4J_HEAP=$(CHAOS_HEAP)) $(BIN)/python -m tests.chaos $(CHAOS_ARGS)

chaos-down: ## Stop the chaos stack
	@if [ -x $(HERACLES) ]; then $(CHAOS_ENV) $(HERACLES) down; fi

bench-down: ## Stop the benchmark stack
	@if [ -x $(HERACLES) ]; then $(BENCH_ENV) $(HERACLES) down; fi

schema: install ## Re-export graphql/schema.graphql from the code
	$(HERACLES) schema graphql

compose-check: ## Validate docker-compose.yml without a Docker engine
	@if docker compose version >/dev/null 2>&1; then docker compose config -q; else docker-compose config -q; fi

clean: down test-down bench-down chaos-down ## Stop both stacks and delete .local (data, logs, Neo4j jars) and .venv
	rm -rf .local $(VENV) ui/node_modules ui/dist

bench-incremental: install ## Incremental refresh after a 1% change on the bench graph, against a full one (load it first); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_incremental $(BENCH_ARGS)

bench-robustness: install ## Detection on >= 10 randomly drawn populations, worst draw (BENCH_ARGS="--draws 10"); see docs/benchmarks.md
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_robustness $(BENCH_ARGS)

bench-replay: install ## Early detection: drawn populations fed in event-time order, a refresh every 6 simulated hours
	$(BENCH_ENV) $(BIN)/python -m benchmarks.bench_replay $(BENCH_ARGS)
