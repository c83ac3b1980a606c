# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run doctor test lint bench bench-faults clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "imagebot needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# At a terminal, `set -m` runs imagebot as its own foreground job, so Ctrl-C reaches only imagebot
# (which ends cleanly) and not make too, which would report "*** Interrupt" whatever the exit.
run: $(STAMP)
	@if [ -t 0 ]; then set -m; fi; $(BIN)/imagebot run

doctor: $(STAMP)
	@$(BIN)/imagebot doctor

# Four workers, not one per core: most tests wait on child processes and sockets, not the CPU.
# Bytecode is cached even where the environment says PYTHONDONTWRITEBYTECODE: the suite starts
# about sixty imagebot processes and four workers, and compiling the sources again in each one
# was a fifth of the suite's CPU time. (An empty value counts as unset; __pycache__ is ignored.)
test: export PYTHONDONTWRITEBYTECODE =
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 4 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-faults: $(STAMP)
	$(BIN)/python -c 'from bench.run import faults; faults()'

clean:
	rm -rf $(VENV) .pytest_cache
