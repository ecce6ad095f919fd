"""The benchmark suite: every benchmark, its JSON and its plot under one folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gateflow.bench import plots
from gateflow.bench.accuracy import AccuracySpec, run_accuracy
from gateflow.bench.inference import run_golden, run_verilator
from gateflow.bench.throughput import ThroughputSpec, run_throughput

log = logging.getLogger(__name__)
PARTS = ("throughput", "accuracy", "golden", "verilator")


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def run_suite(
    out: str | Path,
    data_dir: str | None,
    parts: tuple[str, ...] = PARTS,
    throughput: ThroughputSpec | None = None,
    accuracy: AccuracySpec | None = None,
    progress: bool = False,
) -> dict[str, Path]:
    """Run ``parts``; write ``<out>/<part>.json`` and the plots; return the files written."""
    out = Path(out)
    written: dict[str, Path] = {}
    golden = sim = None
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"unknown benchmark {part!r}; choose from {PARTS}")
    if "throughput" in parts:
        spec = throughput or ThroughputSpec(data_dir=data_dir)
        res = run_throughput(spec, baseline=True)
        written["throughput"] = write_json(res, out / "throughput.json")
        written["throughput.png"] = plots.plot_throughput(res, out / "throughput.png")
        log.info("throughput: %.0f samples/s, %.1fx", res["samples_per_s"], res["speedup"])
    if "accuracy" in parts:
        spec_a = accuracy or AccuracySpec(data_dir=data_dir)
        res = run_accuracy(spec_a, progress=progress)
        written["accuracy"] = write_json(res, out / "accuracy.json")
        written["accuracy.png"] = plots.plot_accuracy(res, out / "accuracy.png")
        written["gap.png"] = plots.plot_gap(res, out / "gap.png")
    if "golden" in parts:
        golden = run_golden()
        written["golden"] = write_json(golden, out / "golden.json")
    if "verilator" in parts:
        sim = run_verilator()
        written["verilator"] = write_json(sim, out / "verilator.json")
    if golden is not None or sim is not None:
        written["inference.png"] = plots.plot_inference(golden, sim, out / "inference.png")
    return written
