# One entry point per chore; CI calls the same targets (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# make loadtest LOADTEST_ARGS='--users 20 --spawn-rate 5 --run-time 2m [--host URL] [--tags routed] ...'
# (python -m loadtests.run --help; docs/loadtests.md)
LOADTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install run test bench loadtest db-upgrade clean

# Re-install when the packages change shape too (an editable install maps packages as found).
$(STAMP): pyproject.toml app/__init__.py flags/__init__.py shadow/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the portal with gunicorn on the embedded default (SQLite, local instance folder).
run: $(STAMP)
	$(BIN)/harness serve

## The whole test suite with line coverage of app/ (fails under 90%).
test: $(STAMP)
	$(BIN)/python -m pytest --cov=app --cov-report=term $(PYTEST_ARGS)

## Every benchmark side by side (figures printed and written to results/);
## make bench BENCH_ARGS='--quick' or BENCH_ARGS='--only ingest,shadow'.
bench: $(STAMP)
	$(BIN)/python -m loadtests.bench $(BENCH_ARGS)

## Headless Locust load test: starts the portal unless --host is given; CSV, HTML and
## summary.json in results/loadtest/, a table printed; fails on any unexpected failure.
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

db-upgrade: $(STAMP)
	$(BIN)/harness db upgrade

clean:
	rm -rf $(VENV) instance results .pytest_cache .coverage
