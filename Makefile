# Everything a fresh machine needs goes through these targets (README "Quick start").
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast migrate demo worker beat lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

## Run the service on SQLite with in-process tasks and the demo scenario.
run: demo
	$(PY) manage.py run $(HOST):$(PORT)

## All set-up, then lint and types, the suite on SQLite and on PostgreSQL, then the integration suite.
test: install
	bash scripts/test.sh

## Only the SQLite suite (quick feedback while developing).
test-fast: install
	$(PY) -m pytest tests --ignore=tests/integration --ignore=tests/reliability -q

worker: install
	$(VENV)/bin/celery -A aiops worker -Q ingest,detect,notify,training,default -l info

beat: install
	$(VENV)/bin/celery -A aiops beat -l info

## ruff and mypy, as the first steps of `make test` run them (configured in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var
