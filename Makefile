# Two commands: `make demo` (set up, stylize the bundled sample into out/) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.stylo-installed

.PHONY: demo test setup lint bench clean chromium serve

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check "torch==$(TORCH_VERSION)"
	$(PIP) install -q --disable-pip-version-check -e ".[dev,cluster,web]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/stylo run samples/tubingen.jpg samples/starry_night.jpg -o out/tubingen_starry_night.png
	@echo "open out/tubingen_starry_night.png"

test: $(STAMP) chromium
	$(PY) -m pytest -q

# The studio's browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will be skipped"

serve: $(STAMP)
	$(VENV)/bin/stylo serve

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) out .pytest_cache
