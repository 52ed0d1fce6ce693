# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Tests run on every core (pytest-xdist; ports and directories are per test) and print the slowest 15,
# so the suite's cost stays visible.
test: $(STAMP)
	$(BIN)/ruff check agent_cli tests benchmarks
	@echo "mypy agent_cli (type check; cached in .mypy_cache)"
	$(BIN)/mypy agent_cli
	$(BIN)/python -m pytest -q -n auto --dist worksteal --durations=15

demo: $(STAMP)
	$(BIN)/agent demo

bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
