# govsim: every target does its own set-up on a fresh machine.
PYTHON ?= python3
PYTHON_NEW ?= $(shell .ci/find-python 3.12)
VENV ?= .venv
VENV_NEW ?= .venv312
PY := $(VENV)/bin/python
PY_NEW := $(VENV_NEW)/bin/python
STEPS ?=

.PHONY: figures figures-quick demo test test-slow test-new bench venv venv-new clean docs-params scenarios docs

# Python 3.11 + Mesa 3.3 line (the oldest supported pairing).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,dask]'
	touch $@

# Newest Python + newest Mesa 3.x line.
$(VENV_NEW)/.installed: pyproject.toml
	$(PYTHON_NEW) -m venv $(VENV_NEW)
	$(PY_NEW) -m pip install --quiet --upgrade pip
	$(PY_NEW) -m pip install --quiet --upgrade -e '.[dev,dask]' 'mesa>=3.3,<4'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m govsim run baseline --out results/baseline --seed 42

# Every study of experiments/reproduce.py (scenarios with their arms and seeds, the Sobol analysis).
figures: $(VENV)/.installed
	$(PY) experiments/reproduce.py

figures-quick: $(VENV)/.installed
	$(PY) experiments/reproduce.py --quick

test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider
	@if [ -n "$(PYTHON_NEW)" ]; then \
		$(MAKE) --no-print-directory test-new; \
	else \
		echo "make test: no working python3.12 found; skipping the newest-Mesa suite"; \
	fi

test-new: $(VENV_NEW)/.installed
	$(PY_NEW) -m pytest -q -p no:cacheprovider

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -m slow

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_model.py
	$(PY) benchmarks/bench_vs_mesa.py

# govsim ships copies of scenarios/*.toml so that load_scenario("name") works
# from an installed package; tests/test_config.py checks the copies are current.
scenarios:
	rm -f govsim/scenarios/*.toml
	cp scenarios/*.toml govsim/scenarios/

# Regenerate docs/odd.md from docs/odd_template.md and the code (tests/test_docs.py checks it).
docs: $(VENV)/.installed
	$(PY) docs/build_odd.py

clean:
	rm -rf $(VENV) $(VENV_NEW) results build *.egg-info
