# Two commands do all the set-up on a fresh machine: `make figures` (main job) and `make test`.
# Both create .venv when missing and install the project into it (CPU torch first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FIGURE_FLAGS ?=
# Where the figure scripts' grids of runs go (figures/_common.py: run_grid): local = a dask LocalCluster
# with one worker per core; serial; local:N; or a scheduler, e.g. make figures SWEEP=tcp://HOST:8786.
# Every run has its own seed, so the figures are the same wherever they run.
SWEEP ?= local
# Tests and figures train small torch models: one thread each is as fast as two on an idle
# 2-core machine and many times faster when the other core is busy (measured: a flow training
# step took 0.04 s with 1 thread, 1.1 s with 2 under contention). Results do not depend on it.
# Benchmarks keep the library's defaults.
SMALL_THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# torch, pinned here and only here: pyproject.toml asks for any torch >= 2.1, which pip would
# satisfy with the newest CUDA build (several GB of nvidia-* wheels). Installing this exact
# version first, from an index that serves the CPU wheel (the machine's pip configuration, or
# `--index-url https://download.pytorch.org/whl/cpu`), makes the project install add nothing
# more. 2.13.0 is the version the tests and figures were run with.
TORCH ?= torch==2.13.0

.PHONY: install test test-fast lint figures bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test,experiments,distributed]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# everything (CI): every test including those marked slow, then the proof checks
test: lint
	$(SMALL_THREADS) $(PY) -m pytest
	$(SMALL_THREADS) $(PY) -m proofs_check

# the quick tier while editing: skips the tests marked slow (under a minute on 2 cores)
test-fast: $(STAMP)
	$(SMALL_THREADS) $(PY) -m pytest -q -m "not slow"

figures: $(STAMP)
	@mkdir -p figures/out
	@set -e; for f in figures/fig_*.py; do echo "== $$f"; $(SMALL_THREADS) $(PY) $$f --out figures/out --sweep $(SWEEP) $(FIGURE_FLAGS); done

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf figures/out .pytest_cache .hypothesis
