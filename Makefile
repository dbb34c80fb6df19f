# Two commands from a fresh clone: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# GraphiQL's browser assets, from the npm registry into the venv (served by loanbook; never committed).
GRAPHIQL_PACKAGES := graphiql@3.8.3 react@18.2.0 react-dom@18.2.0
GRAPHIQL_DIR := $(VENV)/share/graphiql
PYTEST_ARGS ?=

.PHONY: install migrate serve test bench reliability sdl clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	if command -v npm >/dev/null; then \
	  npm install --silent --prefix $(GRAPHIQL_DIR) --no-save --no-package-lock --no-audit --no-fund $(GRAPHIQL_PACKAGES); \
	else echo "npm not found: GraphiQL's assets are not installed (the API works without them)"; fi
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/loanbook migrate

serve: install
	$(BIN)/loanbook serve

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_schedules.py
	$(BIN)/python benchmarks/bench_cob.py
	$(BIN)/python benchmarks/bench_api.py
	$(BIN)/python benchmarks/bench_reconciliation.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_demo.py

# Keyed repayments under faults on a private PostgreSQL cluster (a few minutes); `make test` runs it small.
reliability: install
	$(BIN)/python -m reliability

sdl: install
	$(BIN)/python -m graphql_api.print_schema > graphql_api/schema.graphql

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm
