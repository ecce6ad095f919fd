"""RTL simulation of a generated core against the golden model (cocotb + Verilator)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gateflow.hdl.codegen import GeneratedCore
from gateflow.hdl.manifest import pack_inputs, pack_outputs, unpack_outputs
from gateflow.ir.golden import GoldenResult, eval_bits
from gateflow.ir.netlist import Netlist
from gateflow.paths import SIM
from gateflow.verify.runner import SimulationError, run_cocotb

log = logging.getLogger(__name__)
MODES = ("full", "stalls")
# The testbench touches only the core's ports; keeping everything else private
# lets Verilator optimise the netlist and keeps large builds fast.
CORE_PORTS = (
    "clk",
    "rst",
    "s_axis_tvalid",
    "s_axis_tready",
    "s_axis_tdata",
    "m_axis_tvalid",
    "m_axis_tready",
    "m_axis_tdata",
)


@dataclass
class SimReport:
    total: int
    golden: GoldenResult
    hw_pred: np.ndarray  # class index per sample from the full-throughput run
    hw_scores: np.ndarray
    matched: dict[str, int] = field(default_factory=dict)  # per mode
    errors: list[str] = field(default_factory=list)
    latency_measured: int | None = None

    @property
    def bit_exact(self) -> int:
        """Samples whose every output bit matched, in every mode that ran."""
        return min(self.matched.values()) if self.matched else 0

    @property
    def ok(self) -> bool:
        return not self.errors and all(m == self.total for m in self.matched.values())


def _timing(manifest: dict) -> dict[str, list[int]]:
    """What the full-throughput run checks: per-sample latency and handshake intervals
    (a time-multiplexed core states its first samples' apart, manifest ``schedule``)."""
    sched = manifest.get("schedule")
    if sched:
        return {
            "latencies": sched["latency_cycles"],
            "intervals": sched["interval_cycles"],
            "settle": sched["settle_cycles"],
        }
    return {"latencies": [manifest["latency_cycles"]], "intervals": [1]}


def simulate(
    core: GeneratedCore,
    net: Netlist,
    bits: np.ndarray,
    work_dir: str | Path,
    *,
    seed: int = 1,
    in_gap: float = 0.3,
    out_stall: float = 0.3,
) -> SimReport:
    """Stream encoded samples ``bits`` [n, num_inputs] through the core in both modes.

    Never raises for a mismatch: the report says what matched. Raises
    SimulationError only when the simulation itself could not run. A core built
    without backpressure gets input gaps but never a stalled output.
    """
    if not core.manifest.get("backpressure", True):
        out_stall = 0.0
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    golden = eval_bits(net, bits)
    expected = pack_outputs(core.manifest, golden.pred, golden.scores)
    vectors = work_dir / "vectors.json"
    vectors.write_text(
        json.dumps(
            {
                "inputs": [hex(v) for v in pack_inputs(bits)],
                "expected": [hex(v) for v in expected],
                "latency": core.manifest["latency_cycles"],
                **_timing(core.manifest),
                "seed": seed,
                "in_gap": in_gap,
                "out_stall": out_stall,
            }
        )
    )
    results = work_dir / "results"
    for mode in MODES:
        Path(f"{results}.{mode}.json").unlink(missing_ok=True)
    sim_error = None
    try:
        run_cocotb(
            toplevel=core.top,
            sources=core.files,
            test_module="test_core",
            build_dir=work_dir / "sim_build",
            test_dir=SIM,
            extra_env={"GATEFLOW_VECTORS": str(vectors), "GATEFLOW_RESULTS": str(results)},
            seed=seed,
            public_signals=CORE_PORTS,
        )
    except SimulationError as exc:
        sim_error = exc
    report = SimReport(
        total=len(bits),
        golden=golden,
        hw_pred=np.zeros(0, dtype=np.int64),
        hw_scores=np.zeros((0, net.num_classes), dtype=np.int64),
    )
    for mode in MODES:
        path = Path(f"{results}.{mode}.json")
        if not path.exists():
            report.errors.append(f"{mode}: no result ({sim_error})")
            report.matched[mode] = 0
            continue
        summary = json.loads(path.read_text())
        report.matched[mode] = summary["matched"]
        report.errors += [f"{mode}: {e}" for e in summary["errors"]]
        report.errors += [
            f"{mode}: sample {m['sample']} got {m['got']} expected {m['expected']}"
            for m in summary["mismatches"][:5]
        ]
        if summary["received"] != summary["total"]:
            report.errors.append(f"{mode}: received {summary['received']}/{summary['total']}")
        if mode == "full":
            words = [int(v, 16) for v in summary["outputs"]]
            report.hw_pred, report.hw_scores = unpack_outputs(core.manifest, words)
            report.latency_measured = summary["latency_measured"]
    if sim_error is not None and not report.errors:
        report.errors.append(str(sim_error).splitlines()[0])
    return report
