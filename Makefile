# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates .venv and installs the project into it (torch pinned to the CPU build).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TYPECHECK := build/typecheck

# bash with pipefail: lint pipes mypy through sed and must keep mypy's exit status.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: demo test lint install bench clean help

help:
	@echo "make demo   - ingest a small generated photo set into the embedded store and search it"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff and mypy over the code"
	@echo "make bench  - run the benchmark scripts (slow)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# mypy cannot see through the editable install's import hook, and the folders config/, retrieval/
# and ingest/ are not where their names photoseek.config/.retrieval/.ingest say. So mypy checks
# $(TYPECHECK)/photoseek/: links to photoseek/'s own entries plus the three library folders,
# rebuilt each run so that new files are seen; sed maps the paths it reports back to the real files.
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/photoseek
	for entry in photoseek/*; do \
	  case "$$entry" in */__pycache__) ;; *) ln -s "../../../$$entry" $(TYPECHECK)/photoseek/ ;; esac; \
	done
	for root in config retrieval ingest; do ln -s "../../../$$root" $(TYPECHECK)/photoseek/$$root; done
	$(BIN)/python -m mypy $(TYPECHECK)/photoseek 2>&1 | sed -E \
	  -e 's#^$(TYPECHECK)/photoseek/(config|retrieval|ingest)/#\1/#' -e 's#^$(TYPECHECK)/photoseek/#photoseek/#'

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache data/demo
