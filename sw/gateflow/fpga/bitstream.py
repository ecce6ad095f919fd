"""``gateflow bitstream``: an IR file -> a bitstream and report.json for a board.

The build writes a FuseSoC core for the board (derived from its YAML file) into
``build/<board>/cores``, whose generator ``gateflow_net`` turns the IR into the
network core and board design, and runs ``fusesoc run --build``. edalize's
flow (icestorm, trellis or apicula) calls Yosys and nextpnr through
:mod:`gateflow.fpga.launcher`, which runs the YoWASP builds from PyPI.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateflow import paths
from gateflow.errors import GateflowError
from gateflow.fpga.boards import Board
from gateflow.fpga.families import FAMILIES
from gateflow.fpga.report import core_resources, read_nextpnr_report
from gateflow.ir.netlist import Netlist, load
from gateflow.protocol import DEFAULT_BAUD, DEFAULT_WINDOW

log = logging.getLogger(__name__)

VENV_BIN = Path(sys.executable).parent


class BuildError(GateflowError):
    """A build that failed, does not fit or misses timing."""


@dataclass(frozen=True)
class BuildOptions:
    pipeline_every: int = 1
    popcount_every: int = 0
    argmax_every: int = 0
    scores: bool = True
    baud: int = DEFAULT_BAUD
    window: int = DEFAULT_WINDOW
    target_mhz: float | None = None  # default: the board clock
    seed: int = 1
    check_timing: bool = True
    core_luts: bool = True  # also synthesise the network core alone


def tool_env() -> dict[str, str]:
    """Environment for FuseSoC/edalize: the venv first on PATH, our launcher."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["EDALIZE_LAUNCHER"] = f"{sys.executable} -m gateflow.fpga.launcher"
    env.pop("VERILATOR_ROOT", None)
    return env


def _flow_options(board: Board, opts: BuildOptions) -> dict[str, Any]:
    if board.family == "ice40":
        return {"nextpnr_options": list(board.nextpnr)}
    if board.family == "ecp5":
        return {
            "nextpnr_options": list(board.nextpnr),
            "ecppack_options": ["--compress", *board.pack],
        }
    code = board.gowin_family[-1] if board.gowin_family.endswith("C") else ""
    return {"device": board.device, "device_family": code}


def build_core_text(board: Board, ir_path: Path, opts: BuildOptions) -> str:
    """The FuseSoC core of one board build, derived from the board's data."""
    file_type = {"pcf": "PCF", "lpf": "LPF", "cst": "CST"}[board.constraint_suffix]
    core = {
        "name": f"gateflow:build:{board.build_name}:0",
        "description": f"gateflow board design for {board.title} ({board.device})",
        "filesets": {
            "deps": {"depend": ["gateflow:gateflow:rtl", "gateflow:gateflow:generators"]},
            "constraints": {"files": [board.constraint_file.name], "file_type": file_type},
        },
        "generate": {
            "network": {
                "generator": "gateflow_net",
                "parameters": {
                    "ir": str(ir_path),
                    "pipeline_every": opts.pipeline_every,
                    "popcount_every": opts.popcount_every,
                    "argmax_every": opts.argmax_every,
                    "scores": opts.scores,
                    # the board top's credits keep the core from ever being stalled,
                    # so the core needs no clock enable across its registers
                    "backpressure": False,
                    "clk_hz": board.clock_hz,
                    "baud": opts.baud,
                    "n_leds": len(board.led_pins),
                    "led_active_low": board.leds_active_low,
                    "window": opts.window,
                    # iCE40: block RAM saves scarce LUTs; ECP5/Gowin: LUT RAM is faster
                    "block_ram": board.family == "ice40",
                },
            }
        },
        "targets": {
            "default": {
                "filesets": ["deps", "constraints"],
                "generate": ["network"],
                "toplevel": "gf_board",
                "flow": board.flow,
                "flow_options": _flow_options(board, opts),
            },
            "lint": {
                "filesets": ["deps"],
                "generate": ["network"],
                "toplevel": "gf_board",
                "default_tool": "verilator",
                "tools": {"verilator": {"mode": "lint-only", "verilator_options": ["-Wall"]}},
            },
        },
    }
    return "CAPI=2:\n" + yaml.safe_dump(core, sort_keys=False)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> int:
    with open(log_path, "w") as fh:
        return subprocess.call(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def _failure_reason(work: Path, log_path: Path) -> str:
    """The first line that says why a build failed, from nextpnr's or Yosys's log."""
    for path in work.rglob("next.log"):
        for m in _UTILISATION.finditer(path.read_text(errors="replace")):
            used, avail = int(m.group(2)), int(m.group(3))
            if used > avail:
                return (
                    f"the design does not fit the device: {used} {m.group(1)} cells "
                    f"of {avail} ({100 * used // avail}%)"
                )
    for name in ("next.log", "yosys.log"):
        for path in work.rglob(name):
            for line in path.read_text(errors="replace").splitlines():
                low = line.lower()
                if "unable to place" in low or "failed to place" in low:
                    return f"the design does not fit the device ({line.strip()})"
                if line.startswith("ERROR:"):
                    return line.strip()
    tail = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    for line in reversed(tail):
        if "error" in line.lower():
            return line.strip()
    return tail[-1].strip() if tail else "no output"


def build(
    board: Board, ir: str | Path | Netlist, out_dir: str | Path, opts: BuildOptions | None = None
) -> dict[str, Any]:
    """Build the bitstream of ``ir`` for ``board`` into ``out_dir``; returns the report."""
    opts = opts or BuildOptions()
    out = Path(out_dir).resolve()
    if out.exists():
        shutil.rmtree(out)
    cores = out / "cores"
    cores.mkdir(parents=True)
    net = ir if isinstance(ir, Netlist) else load(ir)
    ir_path = out / "ir.json"
    net.save(ir_path)
    shutil.copyfile(board.constraint_file, cores / board.constraint_file.name)
    (cores / "gateflow_build.core").write_text(build_core_text(board, ir_path, opts))

    target_mhz = opts.target_mhz or board.clock_mhz
    report_json = "nextpnr-report.json"
    env = tool_env()
    env["GATEFLOW_NEXTPNR_ARGS"] = (
        f"--seed {opts.seed} --freq {target_mhz:g} --report {report_json}"
    )
    work = out / "fusesoc"
    cmd = [
        str(VENV_BIN / "fusesoc"),
        "--cores-root",
        str(paths.HW),
        "--cores-root",
        str(cores),
        "run",
        "--build",
        "--work-root",
        str(work),
        "--target",
        "default",
        f"gateflow:build:{board.build_name}",
    ]
    log.info("building %s: %s", board.build_name, " ".join(cmd))
    t0 = time.perf_counter()
    rc = _run(cmd, out, env, out / "build.log")
    seconds = time.perf_counter() - t0
    name = f"gateflow_build_{board.build_name.replace('-', '_')}_0"
    bitstream = work / f"{name}{FAMILIES[board.family].bitstream_suffix}"
    if rc != 0 or not bitstream.exists():
        raise BuildError(
            f"{board.name}: build failed: {_failure_reason(work, out / 'build.log')} "
            f"(log: {out / 'build.log'})"
        )
    final = out / f"{board.build_name}{FAMILIES[board.family].bitstream_suffix}"
    shutil.copyfile(bitstream, final)
    manifest_files = list(work.rglob("manifest.json"))
    manifest = json.loads(manifest_files[0].read_text()) if manifest_files else {}
    if manifest:
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    pnr = read_nextpnr_report(work / report_json, board, work / f"{name}.json", "gf_board")
    report: dict[str, Any] = {
        "board": board.name,
        "variant": board.variant or None,
        "title": board.title,
        "device": board.device,
        "family": board.family,
        "bitstream": str(final),
        **pnr,
        "target_mhz": target_mhz,
        "timing_met": pnr["fmax_mhz"] >= target_mhz,
        "latency_cycles": manifest.get("latency_cycles"),
        "num_gates": net.num_gates,
        "ir_sha256": net.sha256(),
        "pipeline_every": opts.pipeline_every,
        "popcount_every": opts.popcount_every,
        "argmax_every": opts.argmax_every,
        "scores": opts.scores,
        "baud": opts.baud,
        "seed": opts.seed,
        "build_seconds": round(seconds, 1),
    }
    if opts.core_luts:
        report.update(core_resources(board, work, out / "core_synth"))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    check_report(report, check_timing=opts.check_timing)
    return report


def check_report(report: dict[str, Any], check_timing: bool = True) -> None:
    """Raise BuildError when the design does not fit its device or misses timing."""
    board = report["board"]
    for kind in ("luts", "ffs", "brams"):
        if report[kind] > report[f"{kind}_available"]:
            raise BuildError(
                f"{board}: the design does not fit: {report[kind]} {kind} of "
                f"{report[f'{kind}_available']} (try a smaller network or a bigger device)"
            )
    if check_timing and report["fmax_mhz"] < report["target_mhz"]:
        raise BuildError(
            f"{board}: timing not met: Fmax {report['fmax_mhz']:.1f} MHz < target "
            f"{report['target_mhz']:g} MHz (try --pipeline-every 1 or --popcount-every 2)"
        )
