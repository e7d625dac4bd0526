# tickstream: `make run` starts the product, `make test` runs every test.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run run-split test test-fast lint format bench bench-pipeline bench-fanout bench-frontend \
	bench-portfolio bench-trading bench-strategy bench-strategy-paper screenshots lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PY=...)")'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	TICKSTREAM_DEVELOPMENT=true $(BIN)/python -m tickstream run

# One feed process and web processes on WEB_PORTS (default "8001 8002"), on Redis and
# PostgreSQL (REDIS_URL, DATABASE_URL; the local ones and database `tickstream` by default).
run-split: install
	TICKSTREAM_DEVELOPMENT=true $(BIN)/python -m tickstream split

TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# Tests whose queries could behave differently on PostgreSQL run there too.
DB_TESTS := tests/market/test_api.py tests/market/test_writer.py tests/market/test_upserts.py \
	tests/market/test_runtime.py tests/market/test_edge_properties.py tests/market/test_backfill.py \
	tests/portfolio/test_api.py tests/portfolio/test_authz.py \
	tests/trading/test_api.py tests/trading/test_venue.py tests/trading/test_race.py \
	tests/stream/test_events.py tests/test_exact_decimals.py tests/test_text_edge.py \
	tests/alerts/test_caps.py

test: install lint
	@if $(BIN)/python -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' \
			2>/dev/null; then \
		echo "== database tests on PostgreSQL ($(TEST_POSTGRES_URL))"; \
		TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest -q -p no:cacheprovider \
			$(DB_TESTS) && \
		echo "== every test on SQLite (real Redis and PostgreSQL where a test is about them)" && \
		$(BIN)/python -m pytest -m "not postgres"; \
	else \
		echo "== SKIPPED the PostgreSQL pass: nothing listens on 127.0.0.1:5432"; \
		$(BIN)/python -m pytest; \
	fi

# Every page at desktop and phone width in both themes, for a person to look at.
screenshots: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/web/screenshots.py

test-fast: install
	$(BIN)/python -m pytest -x -q

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	@# Ticks and bars are read-only by type (Final fields, not frozen: see Tick). The cores
	@# are typed strictly above; here the whole package is checked for that one rule.
	@out=$$($(BIN)/mypy --no-incremental tickstream 2>&1); \
		echo "$$out" | grep -qE '^(Found [0-9]+ errors? in|Success)' || { echo "$$out" | tail -5; exit 1; }; \
		! echo "$$out" | grep 'Cannot assign to final'
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-pipeline bench-fanout bench-frontend bench-portfolio bench-trading bench-strategy \
	bench-strategy-paper

bench-pipeline: install
	$(BIN)/python bench/pipeline.py

bench-fanout: install
	$(BIN)/python bench/fanout.py

bench-frontend: install
	$(BIN)/python bench/frontend.py

bench-portfolio: install
	$(BIN)/python bench/portfolio.py
	$(BIN)/python bench/valuation.py
	$(BIN)/python bench/history.py

bench-trading: install
	$(BIN)/python bench/trading.py
	$(BIN)/python bench/request_path.py
	$(BIN)/python bench/placement_history.py

bench-strategy: install
	$(BIN)/python bench/strategy.py

bench-strategy-paper: install
	$(BIN)/python bench/strategy_paper.py --postgres

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var test-artifacts
