# Two commands do all the set-up on a fresh machine: `make figures` (main job) and `make test`.
# Both create .venv when missing and install the project into it (CPU torch first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FIGURE_FLAGS ?=

.PHONY: install test lint figures bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,experiments]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest
	$(PY) -m proofs_check

figures: $(STAMP)
	@mkdir -p figures/out
	@set -e; for f in figures/fig_*.py; do echo "== $$f"; $(PY) $$f --out figures/out $(FIGURE_FLAGS); done

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf figures/out .pytest_cache .hypothesis
