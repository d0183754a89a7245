# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NPM_STAMP := node_modules/.installed-stamp

.PHONY: run test install gen check-gen lint lint-protos breaking bench soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(STAMP)

## make run: install, migrate and start rules, wallet and notify on SQLite (Ctrl-C stops them)
run: $(STAMP)
	$(BIN)/python scripts/dev_run.py

## make test: install, check generated code and protos, run the whole suite (SQLite + PostgreSQL)
test: $(STAMP) check-gen lint-protos breaking
	$(BIN)/python -m pytest -q -p no:cacheprovider

gen: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

check-gen: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

lint-protos: $(NPM_STAMP)
	node_modules/.bin/buf lint protos

# The contract may grow but never break: compare protos/ with the previous commit.
breaking: $(NPM_STAMP)
	@if git rev-parse -q --verify HEAD~1 >/dev/null; then \
	  node_modules/.bin/buf breaking protos --against '.git#ref=HEAD~1,subdir=protos' && echo "buf breaking: no breaking change against HEAD~1"; \
	else echo "buf breaking: no previous commit to compare with"; fi

lint: $(STAMP) lint-protos
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules var .pytest_cache

## make bench: baselines and targets in one table (about 11 minutes, most of it seeding 1M lots; see docs/performance.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run

## make soak: the reliability suites at full length, then a table of figures (docs/reliability.md)
soak: $(STAMP)
	$(BIN)/python scripts/soak.py
