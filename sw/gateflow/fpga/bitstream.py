"""``gateflow bitstream``: an IR file -> a bitstream and report.json for a board.

The build writes a FuseSoC core for the board (derived from its YAML file) into
``build/<board>/cores``, whose generator ``gateflow_net`` turns the IR into the
network core and board design, and runs ``fusesoc run --build``. edalize's
flow (icestorm, trellis or apicula) calls Yosys and nextpnr through
:mod:`gateflow.fpga.launcher`, which runs the YoWASP builds from PyPI.

Before that, the network's LUT estimate is checked against the device
(:mod:`gateflow.fpga.estimate`). The build runs in a temporary folder beside
``build/<board>`` and replaces it only when it succeeds; a failed build is kept in
``build/<board>.failed`` and leaves the previous build as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateflow import paths
from gateflow.errors import GateflowError
from gateflow.fpga.boards import Board
from gateflow.fpga.estimate import estimate_luts, fit_check
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
    pipeline_every: int | None = None  # None: the board's default (Board.pipeline_every)
    popcount_every: int = 0
    argmax_every: int = 0
    scores: bool = True
    baud: int = DEFAULT_BAUD
    window: int = DEFAULT_WINDOW
    target_mhz: float | None = None  # default: the board clock
    seed: int = 1
    check_timing: bool = True
    core_luts: bool = True  # also synthesise the network core alone
    force: bool = False  # build even when the LUT estimate is far above the capacity
    # "spatial", "tm" (gateflow.hdl.engine) or "seq" (gateflow.hdl.seq); None: the
    # board's conv_form for a conv netlist, else its dense_form
    form: str | None = None
    # "tree" or "serial" (gateflow.hdl.groupsum); None: the board's groupsum for the
    # spatial form (the engine's GroupSum is always serial)
    groupsum: str | None = None
    # the engine's dense tail, "spatial" or "seq"; None: seq when the board's dense_form
    # is seq and the tail's program fits its block RAMs (see seq_fits), else spatial
    tail: str | None = None

    def for_board(self, board: Board, net: Netlist | None = None) -> BuildOptions:
        """These options with the board's defaults filled in: ``pipeline_every``,
        ``form`` for the netlist ``net`` (spatial when no netlist is given; a board whose
        dense_form is seq builds a dense netlist as the sequential core when it can, see
        :func:`seq_fits`) and ``groupsum``."""
        from gateflow.hdl.codegen import CoreOptions

        every = board.pipeline_every if self.pipeline_every is None else self.pipeline_every
        # a popcount tree, or registers inside the popcounts or the argmax, ask for the
        # gates to be built
        spatial_only = self.groupsum == "tree" or self.popcount_every or self.argmax_every
        form = self.form
        if form is None:
            if net is None:
                form = "spatial"
            elif net.has_spatial:
                form = board.conv_form
            else:
                form = "seq" if not spatial_only and seq_fits(net, board) else "spatial"
        groupsum = self.groupsum
        if groupsum is None:
            groupsum = board.groupsum if form == "spatial" else "serial"
        tail = self.tail
        if tail is None:
            tail = (
                "seq"
                if form == "tm" and net is not None and seq_fits(net, board, True)
                else "spatial"
            )
        resolved = dataclasses.replace(
            self, pipeline_every=every, form=form, groupsum=groupsum, tail=tail
        )
        # refuse a combination the generator would refuse, before anything is built
        CoreOptions(
            pipeline_every=every,
            popcount_every=self.popcount_every,
            argmax_every=self.argmax_every,
            form=form,
            groupsum=groupsum,
            tail=tail,
        ).check()
        return resolved


def seq_fits(net: Netlist, board: Board, tail: bool = False) -> bool:
    """Whether ``board`` would build ``net`` as the sequential core by default (with
    ``tail``: the time-multiplexed engine of the conv netlist ``net`` with a sequential
    tail): its dense_form is seq, the (tail) netlist has only two-input gates, and the
    estimate's block RAMs fit the device. Otherwise the default is spatial."""
    from gateflow.hdl.seq import SeqError

    if board.dense_form != "seq":
        return False
    try:  # the estimate compiles the program, which refuses threshold layers
        if tail:
            est = estimate_luts(net, board, form="tm", tail="seq")
        else:
            est = estimate_luts(net, board, form="seq")
    except SeqError:
        return False
    return est["brams"] <= est["brams_capacity"]


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
    opts = opts.for_board(board)
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
                    **({"form": opts.form} if opts.form != "spatial" else {}),
                    **({"tail": "seq"} if opts.form == "tm" and opts.tail == "seq" else {}),
                    **(
                        {"groupsum": "serial"}
                        if opts.form == "spatial" and opts.groupsum == "serial"
                        else {}
                    ),
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


class _Progress:
    """One line on stderr per stage event: ``[  12.3s] place & route (nextpnr)``."""

    def __init__(self, board: Board, emit: Callable[[str], None] | None) -> None:
        self.board = board.build_name
        self.emit = emit
        self.t0 = time.perf_counter()
        self.stage = ""
        self.utilisation_done = False

    def __call__(self, text: str) -> None:
        if self.emit is not None:
            elapsed = time.perf_counter() - self.t0
            self.emit(f"gateflow bitstream {self.board}: [{elapsed:6.1f}s] {text}")

    def enter(self, stage: str) -> None:
        if stage != self.stage:
            self.stage = stage
            self(stage)

    def tool_line(self, line: str, lut_bel: str) -> None:
        """Follow FuseSoC's and the tools' output: the stage, and nextpnr's utilisation."""
        if line.startswith("INFO: Generating"):
            self.enter("codegen (network core and board design)")
        elif "gateflow.fpga.launcher" in line:
            tool = line.split("gateflow.fpga.launcher", 1)[1].split()[0]
            if tool == "yosys":
                self.enter("synthesis (Yosys)")
            elif tool.startswith("nextpnr"):
                self.enter("place & route (nextpnr)")
            elif tool in ("icepack", "ecppack", "gowin_pack"):
                self.enter(f"bitstream ({tool})")
        elif not self.utilisation_done:
            m = _UTILISATION.match(line)
            if m and m.group(1) == lut_bel:
                used, avail = int(m.group(2)), int(m.group(3))
                self.utilisation_done = True
                self(f"utilisation: {used}/{avail} {lut_bel} ({100 * used // max(avail, 1)}%)")


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path, on_line: Callable[[str], None]
) -> int:
    """Run ``cmd`` with its output streamed into ``log_path`` and, line by line, to
    ``on_line``. The tools run in their own process group: on an interrupt the whole
    group is stopped before the exception goes on."""
    with open(log_path, "w") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                fh.write(line)
                on_line(line)
            return proc.wait()
        except BaseException:
            _stop(proc)
            raise


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


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


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a build, raised like Ctrl-C so that the build cleans up."""


@contextmanager
def _sigterm_raises():
    """Turn SIGTERM into an exception while a build runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _swap(new: Path, out: Path) -> None:
    """Put the finished build ``new`` at ``out`` by renames; the previous build is removed
    only once the new one is in place (and put back if the second rename fails)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.time_ns()}")
        os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _relocate(folder: Path, src: Path, dst: Path) -> None:
    """Rewrite the absolute path ``src`` as ``dst`` in the text files under ``folder``
    (FuseSoC's and edalize's files, logs), so that none points into a temporary folder."""
    old, new = str(src).encode(), str(dst).encode()
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 64 << 20:
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data[:8192]:
            path.write_bytes(data.replace(old, new))


def failed_dir(out: Path) -> Path:
    """Where the last failed build of ``out`` is kept for its logs: ``<out>.failed``."""
    return out.with_name(f"{out.name}.failed")


def build(
    board: Board,
    ir: str | Path | Netlist,
    out_dir: str | Path,
    opts: BuildOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the bitstream of ``ir`` for ``board`` into ``out_dir``; returns the report.

    The build runs in a temporary folder beside ``out_dir`` and replaces it only when it
    succeeds (fits, meets timing unless ``opts.check_timing`` is off). A refused, failed
    or interrupted build leaves the previous ``out_dir`` as it was; a failed one is kept
    in ``<out_dir>.failed`` for its logs. ``progress`` receives one line per stage.
    Without ``opts.force``, a network whose LUT estimate is clearly above the device's
    capacity is refused first (gateflow.fpga.estimate.fit_check).
    """
    out = Path(out_dir).resolve()
    net = ir if isinstance(ir, Netlist) else load(ir)
    opts = (opts or BuildOptions()).for_board(board, net)
    show = _Progress(board, progress)
    if opts.force:
        estimate = estimate_luts(
            net, board, opts.pipeline_every, opts.scores, opts.form, opts.groupsum, opts.tail
        )
    else:
        estimate = fit_check(
            net, board, opts.pipeline_every, opts.scores, opts.form, opts.groupsum, opts.tail
        )
    unit = "logic cells" if board.family == "ice40" else "LUTs"
    rams = (
        f", {estimate['brams']} of {estimate['brams_capacity']} block RAMs"
        if "brams" in estimate
        else ""
    )
    show(
        f"estimate: about {estimate['cells']} {unit} of {estimate['capacity']}{rams} "
        f"({100 * estimate['ratio']:.0f}%)" + (" - it may not fit" if estimate["ratio"] > 1 else "")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_raises():
        # mkdir, not mkdtemp: the folder keeps the umask's permissions after the swap
        tmp = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            report = _build_in(board, net, tmp, out, opts, estimate, show)
            check_report(report, check_timing=opts.check_timing)
        except GateflowError as exc:
            kept = failed_dir(out)
            shutil.rmtree(kept, ignore_errors=True)
            _relocate(tmp, tmp, kept)
            os.rename(tmp, kept)
            previous = f"the previous build in {out} is unchanged; " if out.exists() else ""
            raise BuildError(f"{exc} ({previous}logs: {kept})") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            _relocate(tmp, tmp, out)
            _swap(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    show(f"done: {report['bitstream']}")
    return report


def _build_in(
    board: Board,
    net: Netlist,
    out: Path,
    final: Path,
    opts: BuildOptions,
    estimate: dict[str, Any],
    show: _Progress,
) -> dict[str, Any]:
    """The build itself, in the folder ``out`` that will become ``final``. Every path the
    build writes is relative to ``out`` or names ``final``."""
    cores = out / "cores"
    cores.mkdir(parents=True)
    net.save(out / "ir.json")
    shutil.copyfile(board.constraint_file, cores / board.constraint_file.name)
    # relative to the core's folder, so that the core stays valid after the swap
    (cores / "gateflow_build.core").write_text(build_core_text(board, Path("..") / "ir.json", opts))

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
        "cores",
        "run",
        "--build",
        "--work-root",
        "fusesoc",
        "--target",
        "default",
        f"gateflow:build:{board.build_name}",
    ]
    log.info("building %s: %s", board.build_name, " ".join(cmd))
    t0 = time.perf_counter()
    fam = FAMILIES[board.family]
    rc = _run(cmd, out, env, out / "build.log", lambda line: show.tool_line(line, fam.lut_bel))
    seconds = time.perf_counter() - t0
    name = f"gateflow_build_{board.build_name.replace('-', '_')}_0"
    bitstream = work / f"{name}{fam.bitstream_suffix}"
    if rc != 0 or not bitstream.exists():
        raise BuildError(f"{board.name}: build failed: {_failure_reason(work, out / 'build.log')}")
    bitstream_name = f"{board.build_name}{fam.bitstream_suffix}"
    shutil.copyfile(bitstream, out / bitstream_name)
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
        "bitstream": str(final / bitstream_name),
        **pnr,
        "luts_estimate": estimate["luts"],
        "target_mhz": target_mhz,
        "timing_met": pnr["fmax_mhz"] >= target_mhz,
        "latency_cycles": manifest.get("latency_cycles"),
        "num_gates": manifest.get("num_gates", net.num_gates),
        **(
            {
                "num_distinct_gates": net.num_distinct_gates,
                "num_unrolled_gates": net.num_unrolled_gates,
            }
            if net.has_spatial
            else {}
        ),
        "ir_sha256": net.sha256(),
        "form": opts.form,
        **({"tail": opts.tail} if opts.form == "tm" else {}),
        "groupsum": "serial" if "cycles_per_sample" in manifest else "tree",
        **(
            {"cycles_per_sample": manifest["cycles_per_sample"]}
            if "cycles_per_sample" in manifest
            else {}
        ),
        "pipeline_every": opts.pipeline_every,
        "popcount_every": opts.popcount_every,
        "argmax_every": opts.argmax_every,
        "scores": opts.scores,
        "baud": opts.baud,
        "seed": opts.seed,
        "build_seconds": round(seconds, 1),
    }
    if board.family == "ice40":
        report["logic_cells_estimate"] = estimate["cells"]
    if "brams" in estimate:
        report["brams_estimate"] = estimate["brams"]
    if opts.core_luts:
        show.enter("synthesis of the network core alone (core_luts)")
        report.update(core_resources(board, work, out / "core_synth"))
        report["core_luts_estimate"] = estimate["core_luts"]
        parts = report.pop("core_parts", None)
        if parts is not None:
            # the core by part (a hierarchical synthesis), and the board design around it
            board_part = {"luts": max(report["luts"] - report["core_luts"], 0)}
            report["breakdown"] = {**parts, "board": board_part}
    report["estimate"] = estimate["parts"]
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    show(
        f"{report['luts']}/{report['luts_available']} LUTs, Fmax {report['fmax_mhz']:.1f} MHz "
        f"(target {target_mhz:g})"
    )
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
