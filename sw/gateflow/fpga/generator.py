"""The FuseSoC generator ``gateflow_net``: an IR file -> a network core.

FuseSoC runs ``hw/gateflow_gen.py <input.yml>`` in an empty folder; the YAML
holds the calling core's ``parameters``. This writes the generated
SystemVerilog (network, core, board design), manifest.json and a ``.core``
file naming them; the hand-written RTL comes from ``gateflow:gateflow:rtl``.

Parameters: ``ir`` (path to the IR file; relative paths are taken from the
calling core's folder), ``pipeline_every``, ``popcount_every``, ``argmax_every``,
``scores``, ``backpressure``, ``form`` (spatial, tm or seq), ``tail`` (the engine's:
spatial or seq), and for the board design
``clk_hz``, ``baud``, ``n_leds``, ``led_active_low``, ``window``, ``timeout_bits``, ``block_ram``.
Without ``clk_hz`` no board design is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from gateflow import protocol as P
from gateflow.errors import GateflowError
from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
from gateflow.hdl.library import (
    BOARD_RTL,
    ENGINE_RTL,
    RTL_LIBRARY,
    SEQ_RTL,
    SEQ_TAIL_RTL,
    SERIAL_RTL,
)
from gateflow.ir.netlist import load


def run(input_yaml: Path, out_dir: Path) -> Path:
    spec = yaml.safe_load(input_yaml.read_text())
    params = spec.get("parameters") or {}
    if "ir" not in params:
        raise GateflowError("generator gateflow_net needs the parameter 'ir'")
    ir_path = Path(str(params["ir"]))
    if not ir_path.is_absolute():
        ir_path = Path(spec["files_root"]) / ir_path
    net = load(ir_path)
    core = generate(
        net,
        out_dir,
        CoreOptions(
            top="gf_core",
            pipeline_every=int(params.get("pipeline_every", 1)),
            popcount_every=int(params.get("popcount_every", 0)),
            argmax_every=int(params.get("argmax_every", 0)),
            scores=bool(params.get("scores", True)),
            backpressure=bool(params.get("backpressure", True)),
            form=str(params.get("form", "spatial")),
            groupsum=params.get("groupsum"),
            tail=str(params.get("tail", "spatial")),
        ),
    )
    if "clk_hz" in params:
        generate_board(
            core,
            BoardOptions(
                clk_hz=int(params["clk_hz"]),
                baud=int(params.get("baud", P.DEFAULT_BAUD)),
                n_leds=int(params.get("n_leds", 1)),
                led_active_low=bool(params.get("led_active_low", False)),
                window=int(params.get("window", P.DEFAULT_WINDOW)),
                timeout_bits=int(params.get("timeout_bits", P.DEFAULT_TIMEOUT_BITS)),
                block_ram=bool(params.get("block_ram", True)),
            ),
        )
    library = (*RTL_LIBRARY, *ENGINE_RTL, *SERIAL_RTL, *SEQ_RTL, *SEQ_TAIL_RTL, *BOARD_RTL)
    generated = [f.name for f in core.files if f.name not in library]
    core_file = out_dir / "gateflow_net.core"
    core_file.write_text(
        "CAPI=2:\n"
        + yaml.safe_dump(
            {
                "name": spec["vlnv"],
                "description": f"network core generated from IR sha256 {net.sha256()}",
                "filesets": {
                    "rtl": {"files": generated, "file_type": "systemVerilogSource"},
                    "manifest": {"files": ["manifest.json"], "file_type": "user"},
                },
                "targets": {"default": {"filesets": ["rtl", "manifest"]}},
            },
            sort_keys=False,
        )
    )
    return core_file


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: gateflow_gen.py <generator input .yml>", file=sys.stderr)
        return 2
    try:
        run(Path(argv[0]), Path.cwd())
    except (GateflowError, OSError, KeyError, ValueError) as exc:
        print(f"gateflow_net generator: error: {exc}", file=sys.stderr)
        return 1
    return 0
