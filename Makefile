# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run migrate test lint compose-check format lock bench bench-profile bench-events bench-instructions clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## Install the locked dependencies and the service into .venv

run: install ## Migrate the database and serve on http://127.0.0.1:8000
	$(BIN)/taskservice migrate
	$(BIN)/taskservice serve

migrate: install ## Upgrade the configured database to the latest schema
	$(BIN)/taskservice migrate

test: install ## Run the whole test suite
	$(BIN)/pytest

lint: install ## Lint, format check, strict types, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

compose-check: install ## Validate docker-compose.yml with Docker Compose v2 (no Docker engine needed)
	bash .ci/compose-check

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Load benchmark against bench/reference.py (PostgreSQL on 127.0.0.1; wrk, installed if missing)
	$(BIN)/python -m bench $(BENCH_ARGS)

SCENARIO ?= list_first
bench-profile: install ## py-spy profile of one scenario, e.g. make bench-profile SCENARIO=create
	$(BIN)/python -m bench --profile $(SCENARIO) $(BENCH_ARGS)

bench-events: install ## Live events: 1,000 open streams on one process, latency across two (PostgreSQL on 127.0.0.1)
	$(BIN)/python -m bench.events $(BENCH_ARGS)

bench-instructions: install ## Instructions per request, service against reference, under callgrind (needs valgrind)
	$(BIN)/python -m bench.instructions $(BENCH_ARGS)

lock: ## Re-resolve requirements.lock, and the image's requirements.runtime.lock, from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --extra bench --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -c requirements.lock \
	  --custom-compile-command "make lock" -o requirements.runtime.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
