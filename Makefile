# Two commands do everything on a fresh machine with Python 3.11+, pip and make:
#   make run    the service on http://127.0.0.1:8000 (embedded PostgreSQL, seeded)
#   make test   lint, type checks and the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
PACKAGES := agent api evals knowledge prompts scheduler tools

.PHONY: run test lint format bench clean chromium dovecot axe eval reader

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the project's wheels several times faster than pip; pip only installs uv.
$(BIN)/uv: | $(BIN)/python
	$(PIP) install uv

$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(UV) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/uv
	$(UV) -e ".[dev]"
	touch $@ $(VENV)/.installed

# Bytecode for everything installed, made once per install. uv installs without it, and where
# Python may not write its caches (PYTHONDONTWRITEBYTECODE, a read-only venv) every process
# compiles its dependencies again at start: some 20 s for each service, worker and CLI
# command the tests start, and for `hibachi serve` itself.
$(VENV)/.compiled: $(VENV)/.installed
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

# The reader's trained model, rebuilt whenever the labelled corpus changes (a few seconds; a
# process that finds it missing or stale trains it too).
READER_MODEL := agent/understanding/model/reader-en.joblib
$(READER_MODEL): $(wildcard agent/understanding/data/en/*) | $(VENV)/.installed
	$(BIN)/hibachi reader train

reader: $(READER_MODEL)

run: $(VENV)/.installed $(VENV)/.compiled $(READER_MODEL)
	$(BIN)/hibachi migrate --seed
	$(BIN)/hibachi serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Browser tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		echo "warning: could not install chromium; the browser tests will be skipped"

# The email tests read a real IMAP mailbox: Debian's dovecot, run as a private instance.
dovecot:
	@command -v dovecot >/dev/null 2>&1 || test -x /usr/sbin/dovecot || \
		(apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null) || \
		echo "warning: could not install dovecot; the email tests will be skipped"

# The browser tests check accessibility with npm's axe-core (a pinned version, injected into
# the page under test; nothing of it is served to customers).
AXE := var/axe/node_modules/axe-core/axe.min.js
$(AXE):
	@command -v npm >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq npm >/dev/null) || true
	@mkdir -p var/axe && npm install --prefix var/axe --no-audit --no-fund --silent \
		axe-core@4.14.1 >/dev/null 2>&1 || \
		echo "warning: could not install axe-core; the accessibility checks will be skipped"

axe: $(AXE)

# Last, on an otherwise idle machine: two minutes of mixed traffic at 50 messages/s against
# `hibachi serve --workers 2`; fails on any error, lost reply, memory growth or a rate not
# carried (docs/reliability.md).
test: lint chromium dovecot axe $(VENV)/.compiled $(READER_MODEL)
	$(BIN)/python -m compileall -q -j 0 $(PACKAGES) tests
	$(BIN)/pytest
	$(BIN)/hibachi eval evals/scenarios
	$(BIN)/python bench/soak.py --minutes 2 --rate 50 --check

# Replay every evaluation scenario (rules mode); fails if any scenario fails.
eval: $(VENV)/.installed
	$(BIN)/hibachi eval evals/scenarios

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/knowledge.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
