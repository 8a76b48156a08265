# Two commands for a fresh machine with Python 3.11+ and make:
#   make dev    install, then start the whole system with demo data
#   make test   install, then run the test suite
# And the benchmark (bench/README.md):
#   make bench        install with the bench extra, run every workload (~10-15 min on 2 cores)
#   make bench-quick  the same code paths with small counts (under a minute; CI runs it)
#   BENCH_ARGS='--workloads 1,2 --concurrency 20' make bench   passes arguments through
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: dev test install clean bench bench-quick chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(STAMP) $(BENCH_STAMP)

dev: install
	$(BIN)/itinera dev

# The browser tests drive the system's Chromium (tests/support/chromium.py): Playwright cannot
# download its own browser offline.  Debian's package is installed when missing and allowed
# (root with apt-get); elsewhere install Chromium yourself or set ITINERA_TEST_CHROMIUM.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -z "$$ITINERA_TEST_CHROMIUM" ] && [ ! -x "$(CHROMIUM)" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium for the browser tests (apt-get install chromium)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "could not install Chromium: the browser tests will fail"; \
	  else \
	    echo "no Chromium at $(CHROMIUM): the browser tests will fail (install chromium, or set ITINERA_TEST_CHROMIUM)"; \
	  fi; \
	fi

test: install chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
