"""Build and run the cocotb testbenches in sim/ for the hand-written RTL in hw/rtl,
over a few parameter sets each, and lint every module with ``verilator -Wall``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import gateflow.verify.runner as runner
from gateflow.verify import (
    SimulationError,
    ToolNotFoundError,
    repo_root,
    rtl_source,
    run_cocotb,
    verilator_lint,
)

pytestmark = pytest.mark.sim

SIM_DIR = repo_root() / "sim"
BUILD_ROOT = repo_root() / "build" / "sim_tests"

# module -> parameter sets simulated (and linted).
SIM_PARAMS: dict[str, list[dict[str, int]]] = {
    "gf_skid_buffer": [{"WIDTH": 1}, {"WIDTH": 33}],
    "gf_popcount": [
        {"WIDTH": 1},
        {"WIDTH": 7},
        {"WIDTH": 64},
        {"WIDTH": 257},
        {"WIDTH": 5, "OUT_WIDTH": 8},
        {"WIDTH": 100, "STAGES": 3},
        {"WIDTH": 7, "STAGES": 5},
        {"WIDTH": 1, "STAGES": 2},
        {"WIDTH": 300, "STAGES": 8},
    ],
    "gf_argmax": [
        {"N": 1, "W": 4},
        {"N": 2, "W": 1},
        {"N": 3, "W": 4},
        {"N": 7, "W": 1},
        {"N": 10, "W": 9},
        {"N": 4, "W": 2, "IW": 5},
        {"N": 10, "W": 7, "STAGES": 1},
        {"N": 10, "W": 7, "STAGES": 3},
        {"N": 3, "W": 4, "STAGES": 4},
        {"N": 1, "W": 3, "STAGES": 2},
    ],
    "gf_serial_groupsum": [
        {"N": 1, "G": 1, "K": 1},
        {"N": 3, "G": 7, "K": 1},
        {"N": 10, "G": 20, "K": 3},
        {"N": 4, "G": 9, "K": 9},
        {"N": 2, "G": 5, "K": 2, "W": 6},
    ],
}

# The library modules a module instantiates.
DEPENDS: dict[str, list[str]] = {"gf_serial_groupsum": ["gf_popcount"]}

# Extra parameter sets that are only linted (too big or too odd to be worth simulating).
LINT_ONLY_PARAMS: dict[str, list[dict[str, int]]] = {
    "gf_skid_buffer": [{}],
    "gf_popcount": [
        {},
        {"WIDTH": 2},
        {"WIDTH": 2000},
        {"WIDTH": 2048},
        {"WIDTH": 2000, "STAGES": 10},
        {"WIDTH": 2048, "STAGES": 4},
    ],
    "gf_argmax": [
        {},
        {"N": 1, "W": 1},
        {"N": 1000, "W": 3},
        {"N": 1024, "W": 1},
        {"N": 1000, "W": 3, "STAGES": 9},
        {"N": 100, "W": 8, "STAGES": 12},
    ],
    "gf_serial_groupsum": [{}, {"N": 10, "G": 800, "K": 1}, {"N": 10, "G": 100, "K": 16}],
}


def _sources(module: str) -> list[Path]:
    return [rtl_source(m) for m in DEPENDS.get(module, [])] + [rtl_source(module)]


def _tag(params: dict[str, int]) -> str:
    return "_".join(f"{k}{v}" for k, v in params.items()) or "default"


def _sim_cases() -> list:
    return [
        pytest.param(module, params, id=f"{module}-{_tag(params)}")
        for module, sets in SIM_PARAMS.items()
        for params in sets
    ]


def _lint_cases() -> list:
    return [
        pytest.param(module, params, id=f"{module}-{_tag(params)}")
        for module in SIM_PARAMS
        for params in SIM_PARAMS[module] + LINT_ONLY_PARAMS[module]
    ]


@pytest.mark.parametrize(("module", "params"), _sim_cases())
def test_rtl_module(module: str, params: dict[str, int]) -> None:
    run_cocotb(
        toplevel=module,
        sources=_sources(module),
        test_module=f"test_{module}",
        build_dir=BUILD_ROOT / module / _tag(params),
        test_dir=SIM_DIR,
        parameters=params,
    )


@pytest.mark.parametrize(("module", "params"), _lint_cases())
def test_rtl_lint_clean(module: str, params: dict[str, int]) -> None:
    report = verilator_lint(_sources(module), toplevel=module, parameters=params)
    assert report == ""


def test_public_signals_only(tmp_path: Path) -> None:
    """The bench still passes when only the ports and parameters it uses are visible."""
    run_cocotb(
        toplevel="gf_popcount",
        sources=[rtl_source("gf_popcount")],
        test_module="test_gf_popcount",
        build_dir=tmp_path / "build",
        test_dir=SIM_DIR,
        parameters={"WIDTH": 33},
        public_signals=["clk", "ce", "in", "count", "WIDTH", "OUT_WIDTH", "STAGES"],
    )
    vlt = (tmp_path / "build" / "gateflow_public.vlt").read_text()
    assert '-var "count"' in vlt


def test_lint_reports_warnings(tmp_path: Path) -> None:
    src = tmp_path / "unused.sv"
    src.write_text(
        "module unused (input wire logic a, output logic b);\n  assign b = 1'b0;\nendmodule\n"
    )
    assert "UNUSED" in verilator_lint([src], toplevel="unused")


FAILING_BENCH = """
import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def passes(dut):
    await Timer(1, unit="ns")


@cocotb.test()
async def fails(dut):
    dut["in"].value = 3
    await Timer(1, unit="ns")
    assert int(dut.count.value) == 3, "deliberately wrong expectation"
"""

EMPTY_BENCH = """
import cocotb  # no tests in this module
"""


def _run_bench(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    return run_cocotb(
        toplevel="gf_popcount",
        sources=[rtl_source("gf_popcount")],
        test_module=name,
        build_dir=tmp_path / "build",
        test_dir=tmp_path,
        parameters={"WIDTH": 4},
    )


def test_runner_raises_on_failing_test(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"1 of 2 cocotb tests failed(?s:.*)fails"):
        _run_bench(tmp_path, "gf_failing_bench", FAILING_BENCH)


def test_runner_raises_when_no_test_ran(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="no cocotb test ran"):
        _run_bench(tmp_path, "gf_empty_bench", EMPTY_BENCH)


def test_runner_raises_on_build_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sv"
    bad.write_text("module bad (input wire logic a);\n  assign b = ;\nendmodule\n")
    with pytest.raises(SimulationError, match="build of bad failed"):
        run_cocotb(
            toplevel="bad",
            sources=[bad],
            test_module="unused",
            build_dir=tmp_path / "build",
            test_dir=tmp_path,
        )


def test_missing_verilator_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "_tool_path", lambda: str(tmp_path))
    with pytest.raises(ToolNotFoundError, match="verilator not found"):
        run_cocotb(
            toplevel="gf_popcount",
            sources=[rtl_source("gf_popcount")],
            test_module="test_gf_popcount",
            build_dir=tmp_path / "build",
            test_dir=SIM_DIR,
        )
