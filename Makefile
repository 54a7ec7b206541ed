# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
WORKDIR ?= workdirs/demo
PYTEST_ARGS ?=
# The cross-backend tests (tests/test_backends.py) need PyTorch: 2.13.0 is the CPU build in this machine's wheel
# cache (a plain `torch` from the index is the multi-GB CUDA build). Elsewhere, e.g. `make test TORCH_PACKAGES=torch`.
TORCH_PACKAGES ?= torch==2.13.0

.PHONY: demo test install install-dev clean benchmark

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): setup.py $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(STAMP_DEV): setup.py $(PY)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q $(TORCH_PACKAGES)
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(STAMP_DEV)

demo: $(STAMP)
	$(PY) examples/demo.py --workdir=$(WORKDIR)

test: $(STAMP_DEV)
	$(PY) -m pytest -q -n 2 --dist=loadfile $(PYTEST_ARGS) tests

benchmark: $(STAMP_DEV)
	$(PY) tools/benchmark.py

clean:
	rm -rf $(VENV) workdirs
