# Entry points on a fresh machine: `make demo`, `make test` and `make docs`.
# Each creates .venv when missing and installs what the project needs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXAMPLES_STAMP := $(VENV)/.installed-examples
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test test-fast docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(EXAMPLES_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[examples]'
	touch $(EXAMPLES_STAMP)

# The quickstart of the gallery (examples/): prints the ROC-AUC table and saves
# its bar chart to quickstart.png in the repository root (make runs from here).
demo: $(EXAMPLES_STAMP)
	$(PY) examples/plot_quickstart.py

# One pytest process per core (pytest-xdist); a plain `.venv/bin/pytest`
# call runs in one process, as for debugging.
test: $(STAMP)
	$(PY) -m pytest -n auto

test-fast: $(STAMP)
	$(PY) -m pytest -n auto -m "not slow"

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

# HTML into docs/_build/html; any warning (broken docstring, failing gallery
# example, dead cross-reference) fails the build. Nothing is downloaded.
docs: $(DOCS_STAMP)
	rm -rf docs/_build/html docs/generated docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/generated docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
