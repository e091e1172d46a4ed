# One command to run the service, one to run the whole test suite (README "Quick start").
# Everything the project needs is installed from here: Python packages into .venv, the FHIR
# test server into .venv-fhir, and the local PostgreSQL is started if it is not running.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Runs the service with the demo profile on http://127.0.0.1:8080 (not a production setup).
demo: setup
	CDS_CONFIG=service/profiles/demo.toml $(VENV)/bin/cementoplasty-cds serve --host 127.0.0.1 --port 8080

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	bash scripts/fhir-server-venv.sh
	bash scripts/start-postgres.sh
	bash scripts/install-browser.sh
	$(VENV)/bin/pytest

bench: setup
	$(VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .venv-fhir .pytest_cache .ruff_cache .hypothesis data
