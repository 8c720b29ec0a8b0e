# The README's two commands: `make report` (the main job) and `make test` (the whole suite).
# Both create .venv and install what is missing, including graphviz and chromium when absent.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.archlens-installed
MODEL  ?= inception_v3
PYTEST_ARGS ?=

.PHONY: setup system report reports test bench clean

setup: $(STAMP) system

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,sweep]'
	touch $@

# System components: graphviz's `dot` (graph layout) and Chromium (static images, browser tests).
system:
	@missing=""; command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "archlens: optional system packages missing:$$missing; install them with: sudo apt-get install -y$$missing"; \
	  fi; \
	fi

report: setup
	$(BIN)/archlens report $(MODEL)

reports: setup
	$(BIN)/python -m archlens.render.examples

test: setup
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
