# The two commands:
#   make run    set up .venv if needed, then run zulipd on http://127.0.0.1:9991
#   make test   set up .venv with the test tools if needed, then ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
INSTALL_INPUTS := setup.cfg pyproject.toml constraints.txt build_backend/zulipd_build.py twisted/plugins/zulipd_plugin.py

.PHONY: run test clean

run: $(VENV)/.installed-run
	$(BIN)/twistd -n --pidfile= --logger zulipd.logs.text_lines zulipd $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

$(BIN)/python:
	sh tools/make-venv "$(PYTHON)" "$(VENV)"

$(VENV)/.installed-run: $(INSTALL_INPUTS) | $(BIN)/python
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(INSTALL_INPUTS) | $(BIN)/python
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find . -name dropin.cache -delete
