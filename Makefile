# bluegreen — developer commands. Everything runs in a local virtualenv (.venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv lab-system lint types unit test lab-up lab-down demo bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) tools/system_packages.py python3-venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make lab-system: install the lab's system packages when missing (Debian/Ubuntu), check Docker runs
lab-system:
	@$(PYTHON) tools/system_packages.py --lab --docker

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: venv
	$(VENV)/bin/mypy

## make test: lint, types, unit tests and the end-to-end lab tests
test: lab-system lint types
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest -m "not lab"

## make lab-up: start the offline lab (idempotent); the last line printed is JSON
lab-up: lab-system venv
	$(PY) -m tools.lab_command up

lab-down: venv
	$(PY) -m tools.lab_command down

## make demo: lab up, then deploy the demo app v1 then v2 through bluegreen
demo: lab-system venv
	$(PY) -m tools.lab_command demo

bench: lab-system venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
