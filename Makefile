# rgp-bench: every target builds its own .venv, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: install run test test-fast lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[dev,launchers,export]"
	$(PY) -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

# RGP's C++ block-sparse kernels, built once per machine and torch version into torch's extension cache (one line
# of output, about a minute); again when their sources or the install change. Without a compiler this prints one
# warning line and succeeds: runs then use the other forms.
KERNEL_STAMP := $(VENV)/.kernel
$(KERNEL_STAMP): $(STAMP) $(wildcard src/rgp_bench/speedup/csrc/*)
	$(PY) -m rgp_bench.speedup.build_kernel
	touch $(KERNEL_STAMP)

install: $(STAMP) $(KERNEL_STAMP)

# The main example: RGP at ratio 0.9 on MNIST-1D's MLP (the discriminating track, README "The default track"),
# with its measured latency.
run: install
	$(PY) -m rgp_bench experiment=mnist1d_compare method=rgp ratio=0.9 measure.latency.enabled=true $(ARGS)

# One pytest worker per core (pytest-xdist); each test file stays on one worker, so a module's fixtures (the
# preset smoke runs, the joblib sweep) are built once. TEST_JOBS=0 runs everything in this process.
TEST_JOBS ?= auto
PYTEST    := $(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile

test: install
	$(PYTEST) $(ARGS)

# The edit loop: everything but the tests marked slow (subprocess sweeps, kill/resume, preset smoke runs).
test-fast: install
	$(PYTEST) -m "not slow" $(ARGS)

# ruff, the import contract of the package's floors (pyproject.toml [tool.importlinter]) and the type checker (mypy,
# pyproject.toml [tool.mypy]: src/rgp_bench and benchmarks).
lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# Every benchmark writes its own section of BENCHMARKS.md (between its markers); the rest of the file stays.
bench: install
	$(PY) -m benchmarks.graphs --output BENCHMARKS.md
	$(PY) -m benchmarks.speedup --output BENCHMARKS.md
	$(PY) -m benchmarks.collapse --output BENCHMARKS.md
	$(PY) -m benchmarks.gnnrl --output BENCHMARKS.md
	$(PY) -m benchmarks.latency_cost --output BENCHMARKS.md
	$(PY) -m benchmarks.memory --output BENCHMARKS.md
	$(PY) -m benchmarks.export_speed --output BENCHMARKS.md
	$(PY) -m benchmarks.thin_convs --output BENCHMARKS.md

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
