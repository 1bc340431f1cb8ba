# Two commands: `make demo` (run the app) and `make test` (lint, the docs site, the whole test suite).
# Both create .venv on first use and install the project editable into it (`pip install -e .`, so the app, the
# benches and the tests import the package, and `vaegan` is a command); the stamp files re-install only when
# pyproject.toml or a requirements file changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: demo test lint docs bench clean

$(BIN)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vaegan needs Python 3.11+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -e ".[app,hub]"
	touch $@

$(BIN)/.dev-installed: requirements-dev.txt pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install -q -r requirements-dev.txt -e ".[app,hub,dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/streamlit run demo/Home.py --server.port $(PORT) --server.headless true

test: $(BIN)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest

lint: $(BIN)/.dev-installed
	$(BIN)/ruff check .

# The docs site into site/ (git-ignored); a broken link or anchor fails it. `$(BIN)/mkdocs serve` serves it live.
docs: $(BIN)/.dev-installed
	$(BIN)/mkdocs build --strict

bench: $(BIN)/.dev-installed
	$(BIN)/python bench/vae.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache vaegan.egg-info site
