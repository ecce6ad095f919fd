"""Inference speed: the bit-packed golden model and the Verilator simulation.

* golden model: gate evaluations per second = gates x samples / seconds of
  :func:`gateflow.ir.golden.eval_bits` (64 samples per uint64 word, numpy).
* Verilator: samples per second through the generated core under cocotb, both
  testbench modes (full throughput, random stalls), build excluded (the second
  of two runs on a cached build; the first run's seconds are reported too).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.bench import environment
from gateflow.ir.golden import eval_bits
from gateflow.ir.netlist import Netlist
from gateflow.ir.randnet import random_netlist

log = logging.getLogger(__name__)


def _random_bits(net: Netlist, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(samples, net.num_inputs), dtype=np.uint8)


def run_golden(
    inputs: int = 400,
    widths: tuple[int, ...] = (8000,) * 6,
    classes: int = 10,
    samples: int = 16384,
    repeats: int = 3,
    seed: int = 0,
    net: Netlist | None = None,
) -> dict[str, Any]:
    """Best-of-``repeats`` golden-model speed on a random netlist (or ``net``)."""
    net = net or random_netlist(inputs, list(widths), classes, seed=seed)
    bits = _random_bits(net, samples, seed)
    eval_bits(net, bits[:64])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        eval_bits(net, bits)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "benchmark": "golden",
        "gates": net.num_gates,
        "layers": len(net.layers),
        "inputs": net.num_inputs,
        "samples": samples,
        "seconds": best,
        "samples_per_s": samples / best,
        "gate_evals_per_s": net.num_gates * samples / best,
        "environment": environment(),
    }


def run_verilator(
    inputs: int = 400,
    widths: tuple[int, ...] = (1000, 1000),
    classes: int = 10,
    samples: int = 2000,
    seed: int = 0,
    work_dir: str | Path | None = None,
    net: Netlist | None = None,
) -> dict[str, Any]:
    """Samples/s of the generated core under Verilator + cocotb (both testbench modes)."""
    from gateflow.hdl.codegen import generate
    from gateflow.verify.simulate import MODES, simulate

    net = net or random_netlist(inputs, list(widths), classes, seed=seed)
    bits = _random_bits(net, samples, seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        core = generate(net, root / "core")
        times = []
        for _ in range(2):  # the first run builds, the second reuses the build
            start = time.perf_counter()
            report = simulate(core, net, bits, root / "sim", seed=seed)
            times.append(time.perf_counter() - start)
            if not report.ok:
                raise RuntimeError(f"simulation failed: {report.errors[:3]}")
    streamed = samples * len(MODES)
    return {
        "benchmark": "verilator",
        "gates": net.num_gates,
        "layers": len(net.layers),
        "inputs": net.num_inputs,
        "samples": samples,
        "modes": list(MODES),
        "bit_exact": report.bit_exact,
        "first_run_seconds": times[0],
        "seconds": times[1],
        "samples_per_s": streamed / times[1],
        "environment": environment(),
    }
