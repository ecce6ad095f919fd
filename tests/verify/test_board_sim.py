"""The board top (UART, wire protocol v1) around generated cores, under Verilator.

The cocotb bench (sim/test_board_top.py) talks to gf_board_top over real UART
bit streams and checks every reply against the golden model and
docs/protocol.md. Two builds: one with scores, a long RESULT frame and a small
WINDOW (so that a burst provokes BUSY), and one without scores, with other
clock, window, timeout and LED settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateflow import protocol as P
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.hdl.library import BOARD_RTL
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.verify import SimulationError, repo_root, rtl_source, run_cocotb

pytestmark = pytest.mark.sim

SIM_DIR = repo_root() / "sim"
BUILD_ROOT = repo_root() / "build" / "sim_tests" / "board"
PORTS = ("clk", "ext_rst", "uart_rx", "uart_tx", "led")

CASES = {
    # 12 inputs (2-byte INFER payload with padding), 10 classes with scores (18-byte RESULT)
    "scores": dict(
        net=(12, [60, 40], 10, 3),
        scores=True,
        board=dict(clk_hz=800_000, baud=100_000, window=4, n_leds=4),
        expect_busy=True,
    ),
    # the same with a serial GroupSum: a sample every 5 clocks (4 bits per class), the
    # frame receiver holding the next one meanwhile
    "serial": dict(
        net=(12, [60, 40], 10, 3),
        scores=True,
        groupsum="serial",
        board=dict(clk_hz=800_000, baud=100_000, window=4, n_leds=4),
        expect_busy=True,
    ),
    # no scores, 7 clocks per bit, WINDOW 3, active-low LEDs, a shorter timeout
    "noscores": dict(
        net=(20, [48, 30], 3, 4),
        scores=False,
        board=dict(
            clk_hz=700_000, baud=100_000, window=3, n_leds=3, led_active_low=True, timeout_bits=24
        ),
        expect_busy=False,
    ),
}


def board_sources(core_files: list[Path]) -> list[Path]:
    return [rtl_source(Path(f).stem) for f in BOARD_RTL] + list(core_files)


def _setup(name: str, work: Path) -> tuple[list[Path], dict, Path]:
    case = CASES[name]
    inputs, widths, classes, seed = case["net"]
    net, _ = run_passes(random_netlist(inputs, widths, classes, seed=seed))
    ir_path = work / "ir.json"
    net.save(ir_path)
    opts = CoreOptions(scores=case["scores"], groupsum=case.get("groupsum"))
    core = generate(net, work / "core", opts)
    params = P.board_parameters(core.manifest, **case["board"])
    cfg = {
        "ir": str(ir_path),
        "manifest": str(core.manifest_path),
        "params": params,
        "seed": seed,
        "expect_busy": case["expect_busy"],
    }
    cfg_path = work / "board_config.json"
    cfg_path.write_text(json.dumps(cfg, indent=1))
    return board_sources(core.files), params, cfg_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_board_top(name: str) -> None:
    work = BUILD_ROOT / name
    work.mkdir(parents=True, exist_ok=True)
    sources, params, cfg_path = _setup(name, work)
    run_cocotb(
        toplevel=P.BOARD_TOP,
        sources=sources,
        test_module="test_board_top",
        build_dir=work / "sim_build",
        test_dir=SIM_DIR,
        parameters=params,
        extra_env={"GATEFLOW_BOARD_CONFIG": str(cfg_path)},
        public_signals=PORTS,
        seed=1,
    )


def test_bench_catches_a_wrong_model(tmp_path: Path) -> None:
    """The bench must fail when the board and the golden model disagree: give it a
    different network than the one in the core."""
    sources, params, cfg_path = _setup("noscores", tmp_path)
    other = random_netlist(params["IN_BITS"], [48, 30], 3, seed=99)
    other.save(tmp_path / "other_ir.json")
    cfg = json.loads(cfg_path.read_text())
    cfg["ir"] = str(tmp_path / "other_ir.json")
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(SimulationError, match="window_stream"):
        run_cocotb(
            toplevel=P.BOARD_TOP,
            sources=sources,
            test_module="test_board_top",
            build_dir=BUILD_ROOT / "noscores" / "sim_build",
            test_dir=SIM_DIR,
            parameters=params,
            extra_env={"GATEFLOW_BOARD_CONFIG": str(cfg_path)},
            public_signals=PORTS,
            seed=1,
        )


def test_host_driver_with_a_serial_groupsum(tmp_path: Path) -> None:
    """A dense core counting one bit per class per clock behind the simulated board: the
    host driver's classes and scores are the golden model's for every sample."""
    import numpy as np

    from gateflow.host import Board, prepare_sim_build
    from gateflow.ir.golden import evaluate

    net, _ = run_passes(random_netlist(30, [80, 50], 5, seed=9))
    net.save(tmp_path / "ir.json")
    build = prepare_sim_build(tmp_path / "ir.json", tmp_path / "board", groupsum="serial")
    x = np.random.default_rng(3).integers(0, 2, (150, net.encoder.num_raw_features))
    with Board.open("sim", build=build) as board:
        assert board.manifest["groupsum"]["form"] == "serial"
        res = board.infer(x)
    want = evaluate(net, x)
    assert np.array_equal(res.pred, want.pred) and np.array_equal(res.scores, want.scores)
