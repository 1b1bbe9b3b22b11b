PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-postgres lint bench clean

$(BIN)/flywheel: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(BIN)/flywheel

setup: $(BIN)/flywheel

## The offline demo of the whole loop on bundled data (no keys needed).
demo: setup
	rm -rf .demo && mkdir -p .demo
	$(BIN)/flywheel demo --workdir .demo

## The whole suite. Database tests run on SQLite, and also on PostgreSQL when
## FLYWHEEL_TEST_POSTGRES_URL is set (.ci/run sets it to the local server).
test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

## Lint and types: ruff over the tree, mypy (strict on bot/services, bot/kb, bot/llm, storage).
lint: setup
	$(BIN)/ruff check bot handlers storage tests bench scripts
	$(BIN)/mypy bot handlers storage

## Every benchmark (a few minutes); rewrites bench/RESULTS.md. Not tests: nothing in `make test` is timed.
MTRAG ?= ../shared/data/mtrag/mtragun-human/generation_tasks/reference.jsonl

bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/flywheel eval --data $(MTRAG) --json > bench/eval.json
	@echo "Loop evaluation written to bench/eval.json"

clean:
	rm -rf $(VENV) .demo .pytest_cache
