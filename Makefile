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

.PHONY: install run test bench loadtest db-upgrade clean stack stack-down

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

## The production shape on loopback: nginx :18600 -> two portal instances (2 workers each),
## PostgreSQL schema + Redis prefix of its own, Prometheus :18690; prints every address.
## make stack STACK_ARGS='--workers 3'; make stack-down stops exactly the pids it started.
STACK_ARGS ?=
stack: $(STAMP)
	$(BIN)/python -m loadtests.stack up $(STACK_ARGS)

stack-down: $(STAMP)
	$(BIN)/python -m loadtests.stack down $(STACK_ARGS)

db-upgrade: $(STAMP)
	$(BIN)/harness db upgrade

clean:
	rm -rf $(VENV) instance results .pytest_cache .coverage
