# roadmap-tutor: `make run` serves the app, `make test` runs the whole suite.
# Both set everything up first; every step is skipped when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1
# llama-cpp-python is built from source for the CPU it runs on (-march=native: AVX-512 where there is one, about
# 1.8x the prompt speed of a portable AVX2 build), with the AMX kernels off: they crash where the OS or VM does
# not grant AMX to the process. `make model` smoke-tests the build on the embedded model once (`tutor model
# check`) and rebuilds for portable AVX2 if it fails; `make llama-portable` does that rebuild by hand.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_PORTABLE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_CHECKED := $(VENV)/.llama-checked

.PHONY: help setup system-deps browser-deps model llama-portable index run test lint typecheck check evals bench bench-quick clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

system-deps:  # a C/C++ compiler and cmake build llama-cpp-python; apt installs them if missing
	@if ! command -v c++ >/dev/null || ! command -v cmake >/dev/null; then \
	  echo "installing build tools (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq build-essential cmake; \
	fi

browser-deps:  # the browser tests drive Debian's chromium (Playwright is a pip package; no browser download)
	@if ! command -v chromium >/dev/null; then \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-liberation; \
	fi

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python 3.11+ is required (set PYTHON=python3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# torch first and pinned: pip takes the local CPU wheel instead of a multi-GB CUDA build
	$(BIN)/python -m pip install -q -c requirements.lock torch==2.13.0
	# no wheel cache here: a cached wheel may be a native build from another setup
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q --no-cache-dir -c requirements.lock llama-cpp-python
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

setup: system-deps $(STAMP)  ## create .venv and install pinned dependencies

model: setup  ## download, assemble and verify the embedded chat model (first time only)
	@$(BIN)/tutor model prepare
	@$(MAKE) -s $(LLAMA_CHECKED)

$(LLAMA_CHECKED): $(STAMP)
	@$(BIN)/tutor model check || $(MAKE) -s llama-portable
	@touch $@

llama-portable: setup  ## rebuild llama-cpp-python for portable AVX2 (when the native build fails its check)
	@echo "building llama-cpp-python for portable AVX2 (a few minutes)"
	CMAKE_ARGS="$(LLAMA_PORTABLE_ARGS)" $(BIN)/python -m pip install -q --no-cache-dir --force-reinstall --no-deps \
	  -c requirements.lock llama-cpp-python
	@$(BIN)/tutor model check

index: model  ## ingest knowledge/ (a no-op when nothing changed)
	@$(BIN)/tutor ingest

run: index  ## serve the study app on http://127.0.0.1:8501
	@$(BIN)/tutor serve --port 8501

test: model browser-deps  ## run the whole test suite (CI runs this)
	@# the real-server test runs llama-cpp-python's server on the small model (fast)
	@LOCAL_MODEL=qwen2.5-coder-0.5b $(BIN)/tutor model prepare
	$(BIN)/python -m pytest

lint: setup  ## ruff format check and lint
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

typecheck: setup  ## mypy
	$(BIN)/mypy assistant ingest evals ui

check: lint typecheck test  ## everything CI checks, plus lint and types

# Before a release: re-record answers and judge calls on the real model, write the report (deltas vs the
# committed baseline), then replay it as CI will and check the thresholds. UPDATE_BASELINE=1 makes a
# passing run the new baseline; EVALS_ARGS passes options to `tutor evals record` (default: LLM-judge a
# stratified sample of 10 items with 3 judge calls each, about 45 min on 2 cores; EVALS_ARGS= judges every
# answered item).
EVALS_ARGS ?= --judge-sample 10
evals: model  ## re-record the eval suite on the real model, score, report, compare to the baseline
	$(BIN)/tutor evals record $(EVALS_ARGS)
	$(BIN)/tutor evals report
	$(BIN)/tutor evals replay
	$(if $(UPDATE_BASELINE),$(BIN)/tutor evals report --update-baseline)

bench: index  ## run the benchmarks under bench/ (ingest, retrieval at 10k/100k chunks, answer latency vs raw llama.cpp, answers vs llama-index's default query engine; ~55 min)
	$(BIN)/python -m bench.run

bench-quick: index  ## a short benchmark run (one ingest, 10k-chunk retrieval, 8 golden questions; under 5 min)
	$(BIN)/python -m bench.run --quick

clean:  ## remove the virtual environment (data/ and the model cache stay)
	rm -rf $(VENV)
