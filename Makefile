# bluegreen — developer commands. Everything runs in a local virtualenv (.venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv lint types unit test lab-up lab-down demo bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: venv
	$(VENV)/bin/mypy

## make test: lint, types, unit tests and the end-to-end lab tests
test: lint types
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest -m "not lab"

## make lab-up: start the offline lab (idempotent); the last line printed is JSON
lab-up: venv
	$(PY) -m lab up

lab-down: venv
	$(PY) -m lab down

## make demo: lab up, then deploy the demo app v1 then v2 through bluegreen
demo: venv
	$(PY) -m lab demo

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
