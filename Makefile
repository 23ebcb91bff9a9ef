# One command to set up and run the service, one to run the tests (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# one stamp per role and pyproject.toml: `make run` installs what serving needs, `make test` the
# training, benchmark and test tools too (a superset: it stamps serving as installed as well)
PYPROJECT := $(shell cksum pyproject.toml | cut -d' ' -f1)
SERVE_STAMP := $(VENV)/.installed-serve-$(PYPROJECT)
TEST_STAMP := $(VENV)/.installed-test-$(PYPROJECT)

.PHONY: install run test bench image-test clean help chromium rtsp-camera

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	@echo "installing what serving needs (prebuilt wheels only: no compiler needed)"
	$(BIN)/pip install -e .
	rm -f $(VENV)/.installed-serve-* && touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	@echo "installing the service with its training, benchmark and test tools"
	$(BIN)/pip install -e ".[test]"
	@# the seed's face_recognition without its `dlib` requirement (dlib-bin provides the module)
	$(BIN)/pip install --no-deps "face_recognition==1.3.0"
	rm -f $(VENV)/.installed-* && touch $@ $(SERVE_STAMP)

install: $(TEST_STAMP)  ## create .venv and install the service with its training, benchmark and test tools

run: $(SERVE_STAMP)  ## set up and run the service on embedded SQLite with the committed model (serving install only)
	$(BIN)/happiness serve

test: $(TEST_STAMP)  ## check the import contract (pyproject.toml), then run the test suite (PostgreSQL tests skip when no server answers)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

image-test: $(TEST_STAMP)  ## build docker/Dockerfile with podman and check the image against the local PostgreSQL (needs root)
	PYTHON=$(BIN)/python docker/image-test.sh

bench: $(TEST_STAMP)  ## benchmarks (see BENCHMARKS.md): pipeline vs seed, ingestion, queries; BENCH_ARGS=--quick for a smoke run
	$(BIN)/happiness bench pipeline $(BENCH_ARGS)
	$(BIN)/happiness bench ingest $(BENCH_ARGS)
	$(BIN)/happiness bench query $(BENCH_ARGS)

chromium:  ## install Debian's chromium for the dashboard's browser tests, when missing (needs root)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

rtsp-camera:  ## install GStreamer's RTSP server for the agent's RTSP test, when missing (needs root)
	@/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null || { \
	  echo "installing GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 \
	    gstreamer1.0-plugins-base gstreamer1.0-plugins-good; }

clean:  ## remove the virtual environment and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache
