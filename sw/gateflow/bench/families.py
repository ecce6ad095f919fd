"""The network families side by side on one dataset: accuracy, sparsity, hardware size.

For each family (``binary``, ``bitlevel``, ``switcher``, optionally ``lgn``)
the benchmark trains its recipe (:data:`RECIPES`), exports the IR and runs the
default passes (torch eval == golden model is checked after each), then:

* the test accuracy of the golden model, which is what the hardware computes;
* the fraction of zero weights (and of zero weight bits for ``bitlevel``);
* the neurons' function classes (:mod:`gateflow.hdl.neurons`: AND/OR/NOR-like,
  k-of-n, weighted thresholds) and their fan-in;
* LUTs and flip-flops of the generated core synthesised alone by Yosys for one
  FPGA family (ECP5 by default);
* for ``binary``, the weight-invariance experiment: test accuracy with the
  "one" of the weights scaled to each of :data:`ONE_VALUES`;
* for ``bitlevel``, optionally, accuracy and sparsity by the number of trained
  most significant bits (``trained_bits_sweep``; these rows are not synthesised).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gateflow import __version__
from gateflow.data import get_dataset
from gateflow.fpga.families import FAMILIES as FPGA_FAMILIES
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.hdl.neurons import census
from gateflow.ir.golden import evaluate
from gateflow.ir.netlist import Netlist, ThresholdLayer
from gateflow.train.config import DEFAULTS, TrainConfig
from gateflow.train.flow import train_and_export

log = logging.getLogger(__name__)

FAMILIES = ("binary", "bitlevel", "switcher", "lgn")
ONE_VALUES = (0.25, 0.5, 1.0, 2.0, 7.5)

# MNIST recipes (train5k, tested on t10k): 1 bit per pixel (pixel >= 128, 784 input
# bits), the training images plus copies shifted by one pixel, Adam with a cosine
# learning rate and a sparsity penalty ramped up over the first 30% of the steps.
_COMMON = {
    "bits_per_feature": 1,
    "crop": None,
    "lr": 0.01,
    "schedule": "cosine",
    "sparsity_ramp": 0.3,
    "batch_size": 128,
}
RECIPES: dict[str, dict[str, Any]] = {
    "binary": {**_COMMON, "widths": [2000, 1000], "tau": 10.0, "density": 0.01,
               "sparsity": 10.0, "steps": 4000, "augment": 2},
    "bitlevel": {**_COMMON, "widths": [2000, 1000], "tau": 10.0, "density": 0.01,
                 "weight_bits": 4, "trained_bits": 2, "sparsity": 10.0, "steps": 3000,
                 "augment": 1},
    "switcher": {**_COMMON, "widths": [300, 100], "tau": 8.0, "levels": 1,
                 "switcher_hidden": 8, "sparsity": 0.3, "steps": 1200, "augment": 1},
    "lgn": {"widths": [8000, 8000], "steps": 1500, "lr": 0.1, "tau": 10.0,
            "bits_per_feature": 1, "crop": 20, "residual_init": True, "schedule": "cosine",
            "temperature": 8.0, "batch_size": 100},
}  # fmt: skip


@dataclass
class FamiliesSpec:
    families: tuple[str, ...] = ("binary", "bitlevel", "switcher")
    dataset: str = "mnist"
    data_dir: str | None = None
    family: str = "ecp5"  # FPGA family of the LUT count
    steps: int | None = None  # overrides every recipe's steps (quick runs)
    trained_bits_sweep: tuple[int, ...] = ()  # bitlevel: also train with these trained_bits
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 1
    seed: int = 0


def config_for(arch: str, spec: FamiliesSpec, **changes: Any) -> TrainConfig:
    """The family's recipe: :data:`RECIPES` for MNIST-sized images, the default digits
    network (``train.DEFAULTS``) for digits."""
    base = RECIPES[arch] if spec.dataset != "digits" else {}
    recipe = {**base, **spec.overrides.get(arch, {}), **changes}
    if spec.steps is not None:
        recipe["steps"] = spec.steps
    return DEFAULTS[arch].replace(
        dataset=spec.dataset, data_dir=spec.data_dir, threads=spec.threads, seed=spec.seed,
        device="cpu", **recipe,
    )  # fmt: skip


def fan_in(net: Netlist) -> list[dict[str, float]]:
    """Per threshold layer: mean and largest number of connections per neuron."""
    out = []
    for layer in net.layers:
        if isinstance(layer, ThresholdLayer):
            k = np.diff(layer.ptr)
            out.append({"neurons": layer.size, "mean": round(float(k.mean()), 2),
                        "max": int(k.max())})  # fmt: skip
    return out


def core_size(net: Netlist, family: str, work: Path) -> dict[str, Any]:
    """LUTs/FFs of the generated core (board-build options: no backpressure)."""
    from gateflow.fpga.report import synth_core

    core = generate(net, work / "core", CoreOptions(backpressure=False))
    start = time.perf_counter()
    size = synth_core(family, FPGA_FAMILIES[family].synth_command, core.out_dir, work / "synth")
    return {**size, "latency_cycles": core.manifest["latency_cycles"],
            "synth_seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def weight_invariance(model: Any, data: Any) -> dict[str, float]:
    """Test accuracy with the weights' "one" scaled (binary: unchanged for any one > 0)."""
    x = model.encode(torch.as_tensor(data.X_test))
    y = torch.as_tensor(data.y_test)
    model.eval()
    out = {}
    with torch.no_grad():
        for one in ONE_VALUES:
            pred = model.net(x, one=one).argmax(dim=-1)
            out[str(one)] = float((pred == y).double().mean())
    return out


def run_one(
    arch: str, spec: FamiliesSpec, work: Path, synth: bool = True, **changes: Any
) -> dict[str, Any]:
    config = config_for(arch, spec, **changes)
    trained = train_and_export(config, work / "model", progress=False)
    net, r = trained.net, trained.result
    data = get_dataset(config.dataset, config.data_dir)
    acc = float((evaluate(net, data.X_test).pred == data.y_test).mean())
    row: dict[str, Any] = {
        "arch": arch,
        "config": {
            k: v
            for k, v in config.to_dict().items()
            if k in RECIPES[arch] or k in changes or k == "arch"
        },
        "test_accuracy": acc,
        "train_seconds": round(r.seconds, 1),
        "input_bits": net.num_inputs,
        "neurons": net.num_gates,
    }
    if arch != "lgn":
        model = trained.model
        total = sum(layer.in_features * layer.out_features for layer in model.net.layers)
        row.update(
            weights=total,
            nonzero_weights=total - round(r.sparsity * total),
            zero_weight_fraction=r.sparsity,
            connections_after_passes=net.num_connections,
            fan_in=fan_in(net),
            neuron_classes=census((w, t) for layer in net.layers for _, w, t in layer.neurons()),
        )
        if r.bit_sparsity is not None:
            row["zero_bit_fraction"] = r.bit_sparsity
        if arch == "binary":
            row["weight_invariance"] = weight_invariance(model, data)
    if synth:
        row.update(core_size(net, spec.family, work))
    log.info("%s: %s", arch, row)
    return row


def run_families(spec: FamiliesSpec, work: Path | None = None) -> dict[str, Any]:
    """The benchmark's JSON: one row per family (and per swept trained_bits)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="gateflow-families-") as tmp:
        base = Path(work) if work else Path(tmp)
        for arch in spec.families:
            rows.append(run_one(arch, spec, base / arch))
        sweep = []
        for k in spec.trained_bits_sweep:
            sweep.append(
                run_one("bitlevel", spec, base / f"bitlevel-k{k}", synth=False, trained_bits=k)
            )
    return {
        "benchmark": "families",
        "gateflow": __version__,
        "dataset": spec.dataset,
        "fpga_family": spec.family,
        "threads": spec.threads,
        "rows": rows,
        "bitlevel_by_trained_bits": sweep,
    }
