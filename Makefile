# part3d: `make run` sets everything up and runs the main job; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
MODELS := $(SHARED)/data/models
OUT ?= out

.PHONY: run test setup lint format bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

setup: $(VENV)/.installed

run: setup
	@mkdir -p $(OUT)
	$(VENV)/bin/part3d split $(MODELS)/mar_rifle.fbx -o $(OUT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(VENV)/bin/pytest -n 2 -q

bench: setup
	$(PY) bench/formats.py
	$(PY) bench/psb.py
	$(PY) bench/split.py

clean:
	rm -rf $(OUT) bench/out .pytest_cache
