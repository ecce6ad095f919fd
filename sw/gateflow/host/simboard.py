"""The simulated board: the board top under Verilator behind a pseudo terminal.

``sim/board/gf_board_sim.cpp`` wraps ``gf_board_top`` (the same RTL a bitstream
is built from, around the build's generated core) and bridges its UART pins
bit by bit to a pseudo terminal. The host driver opens that terminal with
pyserial exactly as it opens a USB serial port, so every byte passes through
the board's real UART receiver, framing, CRC check, core, result FIFO and UART
transmitter.

The simulator binary is built once per set of inputs (RTL sources, board
parameters, harness source, tool versions) and kept in gateflow's cache folder
(``$GATEFLOW_CACHE_DIR``, else ``~/.cache/gateflow``) under ``board-sim/``.
The Verilator runtime objects are cached beside it, so a new model only
compiles its own C++.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateflow import protocol as P
from gateflow.errors import GateflowError
from gateflow.hdl.library import BOARD_RTL
from gateflow.host.transport import LinkError
from gateflow.paths import RTL, SIM
from gateflow.verify.runner import (
    cache_dir,
    cached_runtime,
    compiler_id,
    find_verilator,
    store_runtime,
    tool_env,
    verilator_version,
)

log = logging.getLogger(__name__)

HARNESS = SIM / "board" / "gf_board_sim.cpp"
BINARY = "gf_board_sim"
DEFAULT_CLKS_PER_BIT = 8
#: Verilator flags of the simulator build; the design's C++ keeps Verilator's -Os.
VERILATOR_ARGS = ("-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast")
START_TIMEOUT_S = 30.0


class SimBuildError(GateflowError):
    """The simulated board could not be built or started."""


@dataclass(frozen=True)
class SimOptions:
    """How the simulated board runs.

    ``baud`` is the simulated link's rate (the board's BAUD parameter; None: the
    build's). The board clock is ``baud * clks_per_bit``. ``realtime`` paces the
    simulation to the wall clock so that the link runs at ``baud`` as a real one
    would (when the simulation is fast enough); otherwise it runs as fast as it
    can. ``quiet_bits``: bit periods without line activity after which the clock
    stops until the host sends again.
    """

    baud: int | None = None
    clks_per_bit: int = DEFAULT_CLKS_PER_BIT
    realtime: bool = False
    quiet_bits: int = 200

    def clk_hz(self, baud: int) -> int:
        return baud * self.clks_per_bit


def load_manifest(build: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """manifest.json of a build folder (or the file itself) -> (manifest, its folder)."""
    path = Path(build)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise GateflowError(f"no manifest.json at {path}: pass a board build folder")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GateflowError(f"cannot read {path}: {exc}") from None
    for key in ("ir_sha256", "input", "output", "num_classes", "files"):
        if key not in manifest:
            raise GateflowError(f"{path} is not a gateflow manifest (no {key!r})")
    return manifest, path.parent


def _design_files(manifest: Mapping[str, Any]) -> list[str]:
    """The manifest's sources that the simulator compiles: all but the board module
    (the simulator instantiates gf_board_top itself, to reach ext_rst)."""
    board_top = manifest.get("board", {}).get("top")
    return [f for f in manifest["files"] if f != f"{board_top}.sv"]


def _has_sha(path: Path, sha: str) -> bool:
    try:
        with open(path, errors="replace") as fh:
            return sha in fh.read(2000)
    except OSError:
        return False


def find_sources(manifest: Mapping[str, Any], folder: Path) -> list[Path]:
    """The build's RTL, in compile order, as the bitstream was built from it.

    Looks beside manifest.json first, then below it (a bitstream build keeps the
    generated files in FuseSoC's work tree); the generated core must carry the
    manifest's IR hash. Board RTL missing from the build comes from ``hw/rtl``.
    Raises when the generated core cannot be found.
    """
    names = _design_files(manifest)
    sha = manifest["ir_sha256"]
    core_file = f"{manifest['top']}.sv"
    folder = folder.resolve()
    below = sorted(
        {p.parent for p in folder.rglob(core_file)} - {folder},
        key=lambda d: (-sum((d / f).is_file() for f in manifest["files"]), str(d)),
    )
    candidates = [folder, *below]
    for cand in candidates:
        if not _has_sha(cand / core_file, sha):
            continue
        out = []
        for name in names:
            if (cand / name).is_file():
                out.append(cand / name)
            elif name in BOARD_RTL or (RTL / name).is_file():
                out.append(RTL / name)
            else:
                break
        else:
            board = [RTL / f for f in BOARD_RTL if f not in names]
            return [*out, *board]
    raise GateflowError(
        f"the generated core of IR {sha[:16]} ({core_file} and the files manifest.json "
        f"lists) is not in {folder}; regenerate the build"
    )


def _declared_parameters(sources: Sequence[Path]) -> set[str] | None:
    """Names of gf_board_top's parameters in the given sources (None: not found)."""
    for src in sources:
        if src.name == f"{P.BOARD_TOP}.sv":
            text = src.read_text(errors="replace")
            return set(re.findall(r"\bparameter\b[^=;]*?\b(\w+)\s*=", text))
    return None


def board_params(
    manifest: Mapping[str, Any],
    baud: int,
    clks_per_bit: int,
    sources: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """gf_board_top's parameters for the simulated board of a build; with ``sources``,
    only those their gf_board_top declares (a build keeps the RTL it was made from)."""
    board = manifest.get("board", {})
    params = P.board_parameters(
        manifest,
        clk_hz=baud * clks_per_bit,
        baud=baud,
        window=int(board.get("window", P.DEFAULT_WINDOW)),
        timeout_bits=int(board.get("timeout_bits", P.DEFAULT_TIMEOUT_BITS)),
        n_leds=int(board.get("leds", 1)),
    )
    declared = _declared_parameters(sources or [])
    if declared is not None:
        params = {k: v for k, v in params.items() if k in declared}
    return params


# --- building -------------------------------------------------------------------------


def _runtime_cache(env: Mapping[str, str], verilator: str) -> Path:
    key = json.dumps([verilator, compiler_id(env.get("CXX", "c++")), env.get("CXXFLAGS", "")])
    return cache_dir() / "board-sim" / "runtime" / hashlib.sha256(key.encode()).hexdigest()[:20]


def build_simulator(sources: Sequence[Path], params: Mapping[str, Any]) -> Path:
    """The simulator binary of gf_board_top over ``sources`` with ``params``; built on
    first use and cached by the hash of everything that goes into it."""
    verilator = find_verilator()
    version = verilator_version(verilator)
    env = tool_env({})
    digest = hashlib.sha256()
    for src in [*sources, HARNESS]:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    digest.update(
        json.dumps(
            [
                {k: str(v) for k, v in sorted(params.items())},
                VERILATOR_ARGS,
                version,
                compiler_id(env.get("CXX", "c++")),
                env.get("CXXFLAGS", ""),
            ]
        ).encode()
    )
    key = digest.hexdigest()[:24]
    root = cache_dir() / "board-sim"
    final = root / key
    binary = final / BINARY
    if binary.is_file():
        return binary

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
    prefix = "Vgf_board_top"
    rt_dir = _runtime_cache(env, version)
    runtime = cached_runtime(rt_dir)
    cmd = [
        str(verilator),
        "--cc",
        "--exe",
        "--build",
        "-j",
        str(min(4, os.cpu_count() or 1)),
        *VERILATOR_ARGS,
        "--top-module",
        P.BOARD_TOP,
        "--prefix",
        prefix,
        "--Mdir",
        str(work / "obj"),
        "-o",
        str(work / BINARY),
        *(f"-G{k}={v}" for k, v in params.items()),
        *(str(s) for s in sources),
        str(HARNESS),
    ]
    make_env = dict(env)
    if runtime:
        make_env["MAKEFLAGS"] = (
            env.get("MAKEFLAGS", "") + " -- VM_GLOBAL_FAST= VM_GLOBAL_SLOW="
        ).strip()
        make_env["LIBS"] = " ".join(shlex.quote(str(o)) for o in runtime)
    log.info("building the simulated board in %s", work)
    t0 = time.perf_counter()
    build_log = work / "build.log"
    with open(build_log, "w") as fh:
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=make_env, cwd=work)
        if rc != 0 and runtime:
            log.warning("build with the cached Verilator runtime failed; trying without it")
            shutil.rmtree(work / "obj", ignore_errors=True)
            rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=work)
            runtime = []
    if rc != 0 or not (work / BINARY).is_file():
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-30:])
        raise SimBuildError(
            f"Verilator build of the simulated board failed (log {build_log}):\n{tail}"
        )
    if not runtime:
        store_runtime(work / "obj", rt_dir, prefix)
    shutil.rmtree(work / "obj", ignore_errors=True)
    try:
        work.rename(final)
    except OSError:  # built by another process meanwhile
        shutil.rmtree(work, ignore_errors=True)
    log.info("built the simulated board in %.1f s", time.perf_counter() - t0)
    return binary


# --- running --------------------------------------------------------------------------


@dataclass(frozen=True)
class SimStats:
    """Counters of the simulator since it started."""

    cycles: int
    to_board: int
    from_board: int
    framing: int
    resets: int
    freezes: int


class SimBoard:
    """A running simulated board. ``port`` is the pseudo terminal to open.

    Use as a context manager, or call :meth:`close`. :meth:`reset` pulses the
    board's reset (as a power glitch or the reset button would), :meth:`kill`
    ends the process abruptly (a board unplugged).
    """

    def __init__(
        self,
        manifest: Mapping[str, Any],
        sources: Sequence[Path],
        options: SimOptions | None = None,
    ) -> None:
        self.options = options or SimOptions()
        board = manifest.get("board", {})
        self.baud = int(self.options.baud or board.get("baud", P.DEFAULT_BAUD))
        self.clks_per_bit = self.options.clks_per_bit
        self.clk_hz = self.options.clk_hz(self.baud)
        self.params = board_params(manifest, self.baud, self.clks_per_bit, sources)
        if P.clks_per_bit(self.clk_hz, self.baud) != self.clks_per_bit:
            raise SimBuildError("clocks per bit do not survive the RTL's rounding")
        self.binary = build_simulator(sources, self.params)
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr = tempfile.TemporaryFile(mode="w+")
        cmd = [
            str(self.binary),
            "--clks-per-bit",
            str(self.clks_per_bit),
            "--clk-hz",
            str(self.clk_hz if self.options.realtime else 0),
            "--quiet-bits",
            str(self.options.quiet_bits),
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,  # a Ctrl-C reaches the driver, which closes the board
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        try:
            line = self._lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            line = ""
        if not line.startswith("pty "):
            self.close()
            self._stderr.seek(0)
            raise SimBuildError(
                f"the simulated board did not start: {self._stderr.read().strip() or line}"
            )
        self.port = line.split(maxsplit=1)[1].strip()
        log.info("simulated board on %s (pid %d)", self.port, self._proc.pid)

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _signal(self, sig: int) -> None:
        if not self.alive:
            raise LinkError("the simulated board is not running")
        os.kill(self._proc.pid, sig)

    def reset(self) -> None:
        """Pulse ext_rst: the board drops every queued sample and reply."""
        self._signal(signal.SIGUSR1)

    def stats(self, timeout: float = 5.0) -> SimStats:
        """The simulator's counters (cycles simulated, bytes each way, ...)."""
        self._signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LinkError("the simulated board did not report its counters") from None
            if line.startswith("stats "):
                fields = dict(kv.split("=") for kv in line.split()[1:])
                return SimStats(**{k: int(v) for k, v in fields.items()})

    def kill(self) -> None:
        """End the simulator at once (the board disappears)."""
        if self.alive:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()

    def __enter__(self) -> SimBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_sim(build: str | os.PathLike[str], options: SimOptions | None = None) -> SimBoard:
    """Start the simulated board of a build folder (or manifest.json path)."""
    manifest, folder = load_manifest(build)
    return SimBoard(manifest, find_sources(manifest, folder), options)


def prepare_sim_build(
    ir_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    baud: int = P.DEFAULT_BAUD,
    window: int = P.DEFAULT_WINDOW,
    pipeline_every: int = 1,
    scores: bool = True,
    form: str = "spatial",
    groupsum: str | None = None,
    tail: str = "spatial",
) -> Path:
    """Generate the core and board design of an IR into ``out_dir`` (as ``gateflow
    bitstream`` does, without synthesis), for the simulated board; returns out_dir."""
    from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
    from gateflow.ir.netlist import load

    net = load(ir_path)
    out = Path(out_dir)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
            same = (
                old.get("ir_sha256") == net.sha256()
                and old.get("pipeline_every") == pipeline_every
                and old.get("output", {}).get("scores") == scores
                and old.get("form", "spatial") == form
                and old.get("engine", {}).get("tail", "spatial") == tail
                and old.get("groupsum", {}).get("form", "tree") == (groupsum or "tree")
                and old.get("board", {}).get("baud") == baud
                and old.get("board", {}).get("window") == window
            )
            if same:
                find_sources(old, out)
                return out
        except (ValueError, GateflowError):
            pass
    out.mkdir(parents=True, exist_ok=True)
    net.save(out / "ir.json")
    opts = CoreOptions(
        pipeline_every=pipeline_every, scores=scores, form=form, groupsum=groupsum, tail=tail
    )
    core = generate(net, out, opts)
    generate_board(core, BoardOptions(clk_hz=baud * DEFAULT_CLKS_PER_BIT, baud=baud, window=window))
    return out
