# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
#
# Installs come only from the hashed locks in requirements/ (exported from uv.lock by
# `make lock`): `make run` gets the services, cashbackctl and the embedded PostgreSQL
# (requirements/run.txt); `make test` and the tools add the dev extras (requirements/dev.txt).
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_VERSION := 0.13.9
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
NPM_STAMP := node_modules/.installed-stamp
# The locks' exports: services alone (the image), + ctl and embedded PostgreSQL (make run), + dev.
EXPORT := $(UV) export --frozen --no-emit-project -q
RUN_EXTRAS := --extra ctl --extra console --extra embedded
# The three exports into directory $(1): `make lock` writes them, `make check-lock` compares.
EXPORT_ALL = $(EXPORT) -o $(1)/services.txt && $(EXPORT) $(RUN_EXTRAS) -o $(1)/run.txt && \
  $(EXPORT) --all-extras -o $(1)/dev.txt

.PHONY: run test install lock check-lock gen check-gen lint mypy lint-imports lint-protos breaking bench soak clean

# uv itself comes from a hashed pin too; it then installs everything else.
$(UV): requirements/uv.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
	touch $(UV)

# `uv pip sync` makes the venv exactly the lock (removing what is not in it), then the
# project goes in editable with no dependencies of its own. dev.txt contains run.txt,
# so a dev install also satisfies `make run`, and a run-only sync invalidates dev.
$(RUN_STAMP): $(UV) requirements/run.txt pyproject.toml
	$(UV) pip sync -q --python $(BIN)/python --require-hashes requirements/run.txt
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	rm -f $(DEV_STAMP)
	touch $(RUN_STAMP)

$(DEV_STAMP): $(UV) requirements/dev.txt pyproject.toml
	$(UV) pip sync -q --python $(BIN)/python --require-hashes requirements/dev.txt
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $(DEV_STAMP) $(RUN_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(DEV_STAMP)

## make run: install (services + cashbackctl + embedded PostgreSQL, no dev tools), migrate and start rules, wallet and notify (Ctrl-C stops them)
run: $(RUN_STAMP)
	$(BIN)/python scripts/dev_run.py

## make test: install, check generated code, docs, lock and protos, lint (ruff, mypy, import contracts), run the whole suite
## (three pytest workers, a test file each at a time: most of the suite waits on processes and PostgreSQL, not the CPU;
## TEST_WORKERS=0 runs it in one process)
TEST_WORKERS ?= 3
test: $(DEV_STAMP) check-gen check-lock lint breaking
	sh scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

## make lock: re-resolve uv.lock from pyproject.toml and export the hashed requirements/*.txt
lock: $(UV)
	$(UV) lock -q
	$(call EXPORT_ALL,requirements)
	echo "uv==$(UV_VERSION)" | $(UV) pip compile -q - --universal --generate-hashes \
	  --custom-compile-command "make lock" -o requirements/uv.txt

# Fails when pyproject.toml changed without `make lock`, or an export differs from uv.lock.
check-lock: $(UV)
	$(UV) lock --check -q || { echo "uv.lock is out of date: run make lock"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(call EXPORT_ALL,$$tmp) && \
	for f in services run dev; do \
	  sed 1,2d $$tmp/$$f.txt | cmp -s - <(sed 1,2d requirements/$$f.txt) || \
	  { echo "requirements/$$f.txt is out of date: run make lock"; exit 1; }; \
	done && echo "lock and requirements/ are in sync"

## make gen: regenerate gen/ from protos/ and docs/api.md from protos/ and the code
gen: $(DEV_STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/gen_api_docs.py

check-gen: $(DEV_STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	$(BIN)/python scripts/gen_api_docs.py --check

lint-protos: $(NPM_STAMP)
	node_modules/.bin/buf lint protos

# The contract may grow but never break: compare protos/ with the previous commit.
breaking: $(NPM_STAMP)
	@if git rev-parse -q --verify HEAD~1 >/dev/null; then \
	  node_modules/.bin/buf breaking protos --against '.git#ref=HEAD~1,subdir=protos' && echo "buf breaking: no breaking change against HEAD~1"; \
	else echo "buf breaking: no previous commit to compare with"; fi

lint: $(DEV_STAMP) lint-protos mypy lint-imports
	$(BIN)/ruff check .

mypy: $(DEV_STAMP)
	$(BIN)/mypy

# The architecture's import rules ([tool.importlinter] in pyproject.toml).
lint-imports: $(DEV_STAMP)
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache

## make bench: baselines and targets in one table (about 11 minutes, most of it seeding 1M lots; see docs/performance.md)
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run

## make soak: the reliability suites at full length, then a table of figures (docs/reliability.md)
soak: $(DEV_STAMP)
	$(BIN)/python scripts/soak.py
