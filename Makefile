# One command to run the service, one to run the whole test suite (README "Quick start").
# Everything the project needs is installed from here: Python packages into .venv, the FHIR
# test server into .venv-fhir, and the local PostgreSQL is started if it is not running.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench screenshots clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Runs the service with the demo profile on http://127.0.0.1:8080 (not a production setup) and,
# embedded by default, a local FHIR R4 server on http://127.0.0.1:8091/fhir holding the demo
# patients (scripts/demo-patients.py), so that the CDS Hooks sandbox shows cards (README "Try it
# in the CDS Hooks sandbox"). `make demo DEMO_ARGS=--no-fhir`: the service alone.
DEMO_ARGS ?=
demo: setup
	$(VENV)/bin/python scripts/demo-run.py $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	bash scripts/fhir-server-venv.sh
	bash scripts/start-postgres.sh
	bash scripts/install-browser.sh
	bash scripts/install-nginx.sh
	$(VENV)/bin/pytest

# The README's card screenshots (docs/screenshots/*.png), taken by Debian's headless Chromium from
# a page drawing the service's own responses (tests/cards/test_screenshots.py).
screenshots: setup
	bash scripts/install-browser.sh
	CARD_SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest tests/cards/test_screenshots.py -q

# The bench builds its requests with the test suite's FHIR builders (tests/support/fhir_builders.py).
bench: setup
	PYTHONPATH=tests $(VENV)/bin/python -m bench.distinct_run
	PYTHONPATH=tests $(VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .venv-fhir .pytest_cache .ruff_cache .hypothesis data
