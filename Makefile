# Two commands: `make demo` (set up, stylize the bundled sample into out/) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
TORCH_VERSION := 2.13.0
CORE := $(VENV)/.stylo-core
FULL := $(VENV)/.stylo-full

.PHONY: demo test setup lint serve chromium clean

# torch first, pinned to the CPU build that lies on this machine's disk; then stylo itself.
$(CORE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) "torch==$(TORCH_VERSION)"
	$(PIP) -e .
	touch $(CORE)

# everything the tests need: dev tools, Ray, the studio's server, Playwright, PyAV and OpenCV for video.
$(FULL): $(CORE)
	$(PIP) -e ".[dev,cluster,web,video]"
	touch $(FULL)

setup: $(FULL)

demo: $(CORE)
	$(VENV)/bin/stylo run samples/tubingen.jpg samples/starry_night.jpg -o out/tubingen_starry_night.png
	@echo "open out/tubingen_starry_night.png"

# On a CPU with AVX-512, oneDNN picks other kernels than on the AVX2 CPUs most machines have: the exactness tests
# (tiled = untiled, resume = uninterrupted) run a second time as an AVX2 CPU computes, so one machine checks both.
# The tests run in one process per core (pytest-xdist), each computing on one thread: many tests wait on a
# subprocess, a browser or a server, and two of them side by side keep both cores busy.
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -q -n auto --dist worksteal
test: $(FULL) chromium lint
	$(PYTEST)
	@if grep -qw avx512f /proc/cpuinfo; then \
	  echo "this CPU has AVX-512: the exactness tests again with ONEDNN_MAX_CPU_ISA=AVX2"; \
	  ONEDNN_MAX_CPU_ISA=AVX2 $(PYTEST) -m exactness; fi

# The studio's browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will be skipped"

serve: $(FULL)
	$(VENV)/bin/stylo serve

lint: $(FULL)
	$(VENV)/bin/ruff check src tests benchmarks docs scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) out .pytest_cache
