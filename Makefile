# One command to set up and run the service, one to run the tests (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test bench clean help chromium

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel "setuptools<81"
	@echo "installing dependencies (the first time dlib compiles: about 8 minutes)"
	$(BIN)/pip install -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)  ## create .venv and install the service with its test tools

run: $(STAMP)  ## set up and run the service on embedded SQLite with the committed model
	$(BIN)/happiness serve

test: $(STAMP)  ## run the test suite (PostgreSQL tests skip when no server answers)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks (see BENCHMARKS.md): pipeline vs seed, ingestion, queries; BENCH_ARGS=--quick for a smoke run
	$(BIN)/happiness bench pipeline $(BENCH_ARGS)
	$(BIN)/happiness bench ingest $(BENCH_ARGS)
	$(BIN)/happiness bench query $(BENCH_ARGS)

chromium:  ## install Debian's chromium for the dashboard's browser tests, when missing (needs root)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

clean:  ## remove the virtual environment and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache
