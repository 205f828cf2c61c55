# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
IOCD := $(VENV)/bin/iocd

.PHONY: run test lint typecheck contracts unit bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.run-installed

## Start iocd on http://127.0.0.1:8000 (SQLite in the data directory).
run: $(VENV)/.run-installed
	$(IOCD) db upgrade
	$(IOCD) serve

## Lint, type-check, check layer contracts, then run the whole test suite.
test: lint typecheck contracts unit

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check iocd tests benchmarks
	$(VENV)/bin/ruff format --check iocd tests benchmarks

typecheck: $(VENV)/.test-installed
	$(VENV)/bin/mypy

contracts: $(VENV)/.test-installed
	$(VENV)/bin/lint-imports

unit: $(VENV)/.test-installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(PY) benchmarks/import_csv.py
	$(PY) benchmarks/lookup.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
