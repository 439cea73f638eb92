# Every command a person runs twice. `make run` and `make test` set up what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck bench bench-sync clean setup

setup: $(STAMP)

# Reinstall only when the dependency list changed: the stamp is newer than pyproject.toml otherwise.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/backfill up

test: $(STAMP)
	@$(BIN)/python -m pytest

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports

format: $(STAMP)
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	@$(BIN)/mypy contracts services runtime sdk

bench: $(STAMP)
	@$(BIN)/python -m bench.ingress

bench-sync: $(STAMP)
	@$(BIN)/python -m bench.sync

clean:
	rm -rf $(VENV) .backfill .pytest_cache .ruff_cache .mypy_cache
