# The README's two commands: `make report` (the main job) and `make test` (the whole suite).
# Both create .venv and install what is missing, including graphviz and chromium when absent.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.archlens-installed
MODEL  ?= inception_v3
PYTEST_ARGS ?=
# PyTorch's CPU wheel index. Empty (the default): torch comes from the normal index, which on a
# machine that already has the pinned CPU wheel (or a local mirror) is what you want. On a stock
# machine set it, or the torch pin resolves to the CUDA build plus ~18 nvidia-*/cuda-* packages:
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip install --progress-bar on
# Test-only third-party model definitions for tests/conformance and benchmarks/conformance.py
# (never runtime dependencies of archlens): installed without their dependency trees, so
# torch stays the pinned CPU build; timm's pure-Python needs are installed beside them.
MODEL_DEFS := torchvision==0.28.0 timm==1.0.31
MODEL_DEFS_DEPS := pyyaml huggingface_hub safetensors

.PHONY: setup system report reports test bench conformance clean

setup: $(STAMP) system

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_INDEX)" ]; then \
	  echo "== installing torch (CPU build) from $(TORCH_INDEX)"; \
	  $(PIP) -c constraints.txt --index-url "$(TORCH_INDEX)" torch || exit 1; \
	else \
	  echo "== torch from the default index (set TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build on a machine without it)"; \
	fi
	@echo "== installing archlens and its Python dependencies (pyproject.toml [dev,sweep], pinned by constraints.txt)"
	$(PIP) -c constraints.txt -e '.[dev,sweep]'
	$(PIP) --no-deps $(MODEL_DEFS)
	$(PIP) -c constraints.txt $(MODEL_DEFS_DEPS)
	touch $@

# System components: graphviz's `dot` (graph layout) and Chromium (static images, browser tests).
system:
	@missing=""; command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing$$missing with apt-get (--no-install-recommends --no-upgrade: only what they need, installed packages are not upgraded)"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade $$missing || exit 1; \
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

# The whole conformance set (torchvision, timm, segmentation, video, Conv1d): docs/conformance.md
conformance: setup
	$(BIN)/python benchmarks/conformance.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
