"""Training throughput of convolutional logic gate networks, side by side.

The same conv architecture (:class:`~gateflow.nn.conv.ConvLogicNet`: thermometer ->
logic-tree convolutions and OR pooling -> dense logic layers -> GroupSum) trains in
up to four implementations, in one process, in alternating rounds so that machine
load affects them alike:

``native``
    gateflow's fast path (feature-major, one fused logic layer per tree level),
    C++/OpenMP kernels;
``torch``
    the same fast path with the torch-ops kernels;
``reference``
    gateflow's readable batch-major conv code (a gather and the gate polynomials,
    plain autograd);
``torchlogix``
    torchlogix's ``LogicConv2d`` / ``OrPooling2d`` / ``LogicDense`` / ``GroupSum``
    configured to the same architecture (tree depth, receptive field, kernels,
    stride, padding, OR pooling, dense widths, group sum, Gumbel straight-through
    sampling, random logit initialisation), when it can be loaded.

torchlogix is not a gateflow dependency. It is pure Python over torch and numpy;
its declared dependencies (torchvision, torch-geometric, rich, ...) are not used by
its layers, so it is installed without them into a folder of its own
(``make bench-deps``, or ``gateflow bench conv --install-torchlogix``):
``pip install --no-deps --target build/bench-deps/torchlogix torchlogix==0.2.2``,
and loaded from that folder only. Its package ``__init__`` imports its circuit
export module, which uses f-string syntax that needs Python 3.12; on older Pythons
the package is loaded without running that ``__init__`` (its layers do not import
the circuit module), and the JSON says so. Nothing of it is stubbed or patched.

Every implementation trains with Adam on the same batches (random images of MNIST
shape, or MNIST), in train mode with Gumbel straight-through gate sampling;
samples/s is the samples trained over the seconds spent in training steps.
"""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.metadata
import importlib.util
import logging
import math
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gateflow.bench import environment
from gateflow.bench.throughput import _Side, synthetic_dataset
from gateflow.data import Dataset, get_dataset
from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.nn.conv import ConvLogicNet, ConvSpec, LogicTreeConv2d, OrPool2d
from gateflow.nn.kernels import tune_allocator

log = logging.getLogger(__name__)

IMPLS = ("native", "torch", "reference", "torchlogix")
TORCHLOGIX_VERSION = "0.2.2"
TORCHLOGIX_DIR = "build/bench-deps/torchlogix"


@dataclass
class ConvBenchSpec:
    conv: str = "c16k3d3o2,c32k3d3o2"
    widths: tuple[int, ...] = (2000, 2000)
    bits_per_pixel: int = 2
    batch_size: int = 100
    steps: int = 20  # timed steps per implementation (over all rounds)
    rounds: int = 4
    threads: int = 2
    tau: float = 10.0
    lr: float = 0.01
    connections: str = "unique"
    seed: int = 0
    dataset: str = "synthetic"  # or "mnist" (from data_dir)
    data_dir: str | None = None
    image: tuple[int, int] = (28, 28)  # of the synthetic data
    impls: tuple[str, ...] = IMPLS
    torchlogix_dir: str = TORCHLOGIX_DIR


# ------------------------------------------------------------------ torchlogix
class TorchlogixUnavailable(GateflowError):
    """torchlogix could not be installed, loaded or configured."""


def install_torchlogix(target: str | Path = TORCHLOGIX_DIR) -> dict[str, Any]:
    """``pip install --no-deps --target <target> torchlogix==0.2.2`` with this Python."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
           "--target", str(target), f"torchlogix=={TORCHLOGIX_VERSION}"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise TorchlogixUnavailable(
            f"pip install --no-deps --target {target} torchlogix=={TORCHLOGIX_VERSION} "
            f"failed ({proc.returncode}): " + " | ".join(tail)
        )
    return {"installed": True, "command": " ".join(["python", *cmd[1:]])}


def load_torchlogix(folder: str | Path = TORCHLOGIX_DIR) -> tuple[types.ModuleType, dict]:
    """``torchlogix.layers`` from ``folder`` (a ``pip install --target`` folder) and how it
    was loaded; :class:`TorchlogixUnavailable` with the reason when it cannot be."""
    root = Path(folder) / "torchlogix"
    info: dict[str, Any] = {"folder": str(folder)}
    if not (root / "__init__.py").is_file():
        raise TorchlogixUnavailable(
            f"torchlogix is not installed in {folder} (make bench-deps, or "
            "gateflow bench conv --install-torchlogix)"
        )
    dists = [d for d in importlib.metadata.distributions(path=[str(folder)])
             if (d.metadata["Name"] or "").lower() == "torchlogix"]  # fmt: skip
    info["version"] = dists[0].version if dists else None
    loaded = sys.modules.get("torchlogix")
    if loaded is not None:
        if [Path(p).resolve() for p in getattr(loaded, "__path__", [])] != [root.resolve()]:
            raise TorchlogixUnavailable("another torchlogix is already imported in this process")
        info["import"] = getattr(loaded, "_gateflow_bench_import", "package")
        return importlib.import_module("torchlogix.layers"), info
    spec = importlib.util.spec_from_file_location(
        "torchlogix", root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["torchlogix"] = pkg
    try:
        spec.loader.exec_module(pkg)
        info["import"] = "package"
    except SyntaxError as exc:
        # its package __init__ imports torchlogix.circuit (export to C), whose
        # f-strings need Python >= 3.12; the layers do not import it
        for name in [m for m in sys.modules if m == "torchlogix" or m.startswith("torchlogix.")]:
            del sys.modules[name]
        where = f"{Path(exc.filename or '?').name}:{exc.lineno}"
        info["import"] = "layers only"
        info["package_init_error"] = (
            f"import torchlogix fails on Python {sys.version.split()[0]}: SyntaxError in "
            f"{where} ({exc.msg}); torchlogix.layers was loaded without the package "
            "__init__ (the circuit-export module it imports is not used by the layers)"
        )
        bare = importlib.machinery.ModuleSpec("torchlogix", None, is_package=True)
        bare.submodule_search_locations = [str(root)]
        pkg = importlib.util.module_from_spec(bare)
        sys.modules["torchlogix"] = pkg
    except Exception as exc:
        del sys.modules["torchlogix"]
        raise TorchlogixUnavailable(
            f"import torchlogix failed: {type(exc).__name__}: {exc}"
        ) from None
    pkg._gateflow_bench_import = info["import"]  # type: ignore[attr-defined]
    try:
        layers = importlib.import_module("torchlogix.layers")
    except Exception as exc:
        raise TorchlogixUnavailable(
            f"import torchlogix.layers failed: {type(exc).__name__}: {exc}"
        ) from None
    return layers, info


class TorchlogixConvNet(nn.Module):
    """gateflow's thermometer encoding (same thresholds) as a channel-first image
    [batch, C, H, W], then torchlogix's layers."""

    def __init__(self, model: ConvLogicNet, layers: types.ModuleType, seed: int) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(model.encoder)
        self.image_shape = model.image_shape
        cfg = model.config
        # gateflow's Gumbel mode: one-hot forward, softmax gradients; its logits start
        # standard normal (the benchmark's model has no residual initialisation)
        sampling = {"forward_sampling": "gumbel_hard", "temperature": cfg["temperature"],
                    "weight_init": "random"}  # fmt: skip
        conv_init = "random-unique" if cfg["connections"] == "unique" else "random"
        torch.manual_seed(seed)  # torchlogix draws wiring and logits from the global RNG
        mods: list[nn.Module] = []
        for stage in model.stages:
            if isinstance(stage, LogicTreeConv2d):
                (H, W, C), (kh, kw) = stage.in_shape, stage.kernel
                if kh != kw or len(set(stage.stride)) > 1 or len(set(stage.padding)) > 1:
                    raise TorchlogixUnavailable("torchlogix takes square kernels, one stride")
                mods.append(layers.LogicConv2d(
                    in_dim=(H, W), channels=C, num_kernels=stage.out_channels,
                    tree_depth=stage.depth, receptive_field_size=kh,
                    stride=stage.stride[0], padding=stage.padding[0],
                    parametrization="raw", parametrization_kwargs=dict(sampling),
                    connections="fixed", connections_kwargs={"init_method": conv_init},
                ))  # fmt: skip
            elif isinstance(stage, OrPool2d):
                mods.append(layers.OrPooling2d(kernel_size=stage.kernel, stride=stage.stride))
        mods.append(nn.Flatten())
        for layer in model.layers:
            mods.append(layers.LogicDense(
                in_dim=layer.in_dim, out_dim=layer.out_dim, parametrization="raw",
                parametrization_kwargs=dict(sampling), connections="fixed",
                connections_kwargs={"init_method": "random"},
            ))  # fmt: skip
        mods.append(layers.GroupSum(k=model.num_classes, tau=cfg["tau"]))
        self.net = nn.Sequential(*mods)

    @property
    def num_gates(self) -> int:
        """Distinct gates: one per tree node per kernel, one per dense neuron."""
        n = 0
        for m in self.net:
            if hasattr(m, "tree_weights"):
                n += sum(int(w.shape[0] * w.shape[1]) for w in m.tree_weights)
            elif hasattr(m, "out_dim"):
                n += int(m.out_dim)
        return n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x).view(x.shape[0], *self.image_shape).permute(0, 3, 1, 2)
        return self.net(h)


TORCHLOGIX_DIFFERENCES = [
    "input: both read gateflow's thermometer bits (same thresholds); torchlogix takes them "
    "channel-first [batch, bits, H, W] (bits per pixel = input channels), gateflow "
    "channel-last; torchlogix's own binarization layers are not used",
    "flatten order: torchlogix (channel, y, x), gateflow (y, x, channel); both dense "
    "wirings are random, so this changes no cost",
    "conv wiring: gateflow 'unique' gives the 2**depth leaves of a tree distinct (y, x, c) "
    "places; torchlogix 'random-unique' draws distinct leaf pairs (a != b within a pair) but "
    "a place may recur in another pair ('random': both draw leaves independently)",
    "dense wiring: torchlogix 'random' (randperm(2*out) % in, a == b allowed); gateflow "
    "'unique' is the same draw with a != b repaired",
    "parametrisation: torchlogix 'raw' (16 logits per gate, gumbel_hard = torch's "
    "gumbel_softmax(hard=True)); gateflow 16 logits per gate, its own Gumbel "
    "straight-through sampler; same initial distribution (standard normal logits), "
    "different draws",
    "GroupSum: both divide by tau in training; in eval mode gateflow reports raw counts, "
    "torchlogix counts / tau",
]


# ------------------------------------------------------------------ benchmark
def _data(spec: ConvBenchSpec, data: Dataset | None) -> Dataset:
    if data is not None:
        return data
    if spec.dataset == "synthetic":
        H, W = spec.image
        return synthetic_dataset(H * W, n=max(1000, 4 * spec.batch_size), seed=spec.seed)
    return get_dataset(spec.dataset, spec.data_dir)


def build_model(spec: ConvBenchSpec, data: Dataset) -> ConvLogicNet:
    if data.shape is None:
        raise GateflowError(f"{data.name} has no image shape")
    lo, hi = int(data.X_train.min()), int(data.X_train.max())
    encoder = ThermometerEncoder.uniform(data.num_features, spec.bits_per_pixel, lo, hi)
    return ConvLogicNet(encoder, data.shape, spec.conv, list(spec.widths), data.num_classes,
                        tau=spec.tau, connections=spec.connections, mode="gumbel",
                        seed=spec.seed)  # fmt: skip


def _check(model: nn.Module, x: torch.Tensor, num_classes: int, group: int,
           eval_scale: float) -> dict[str, Any]:  # fmt: skip
    """Forward once in train mode and once in eval mode: shapes, finiteness, and that the
    eval scores times ``eval_scale`` are gate counts (integers in 0..group)."""
    out: dict[str, Any] = {}
    was = model.training
    try:
        with torch.no_grad():
            for mode in ("train", "eval"):
                model.train(mode == "train")
                y = model(x)
                out[mode] = {"shape": list(y.shape), "finite": bool(torch.isfinite(y).all())}
                if mode == "eval":
                    counts = y.double() * eval_scale
                    out[mode]["counts"] = bool(
                        torch.allclose(counts, counts.round(), atol=1e-3)
                        and counts.min() >= -1e-3
                        and counts.max() <= group + 1e-3
                    )
    finally:
        model.train(was)
    out["ok"] = all(
        out[m]["shape"] == [x.shape[0], num_classes] and out[m]["finite"] for m in ("train", "eval")
    ) and bool(out["eval"]["counts"])
    return out


def run_conv_bench(spec: ConvBenchSpec, data: Dataset | None = None) -> dict[str, Any]:
    """Time training of ``spec``'s architecture in each of ``spec.impls``."""
    unknown = sorted(set(spec.impls) - set(IMPLS))
    if unknown or not spec.impls:
        raise GateflowError(f"unknown implementation(s) {unknown}; choose from {IMPLS}")
    if spec.rounds < 1 or spec.steps < spec.rounds:
        raise GateflowError("need rounds >= 1 and steps >= rounds")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        return _run(spec, _data(spec, data))
    finally:
        torch.set_num_threads(threads_before)


def _run(spec: ConvBenchSpec, data: Dataset) -> dict[str, Any]:
    tuned = tune_allocator()
    torch.manual_seed(spec.seed)
    model = build_model(spec, data)
    X = torch.as_tensor(data.X_train)
    y = torch.as_tensor(data.y_train)
    probe = X[: spec.batch_size]
    sides: dict[str, _Side] = {}
    results: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    tlx: dict[str, Any] = {"version_wanted": TORCHLOGIX_VERSION}

    group = spec.widths[-1] // data.num_classes

    def add(name: str, net: nn.Module, eval_scale: float = 1.0) -> None:
        opt = torch.optim.Adam(net.parameters(), lr=spec.lr)
        side = _Side(net, opt, X, y, spec.batch_size, spec.seed + 1)
        try:
            checks[name] = _check(net, probe, data.num_classes, group, eval_scale)
            side.run(2, timed=False)  # warm-up: kernel build, allocations, index caches
        except Exception as exc:  # report, and time the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            log.warning("%s: %s", name, results[name]["error"])
            return
        sides[name] = side

    for impl in ("native", "torch", "reference"):
        if impl in spec.impls:
            net = copy.deepcopy(model)  # same wiring, same initial logits
            add(impl, net.set_impl(*(("reference",) if impl == "reference" else ("fast", impl))))
    if "torchlogix" in spec.impls:
        try:
            layers, info = load_torchlogix(spec.torchlogix_dir)
            tlx.update(info, available=True)
            try:
                net = TorchlogixConvNet(model, layers, spec.seed)
            except TorchlogixUnavailable:
                raise
            except Exception as exc:
                raise TorchlogixUnavailable(
                    f"building the torchlogix network failed: {type(exc).__name__}: {exc}"
                ) from None
            tlx["gates"] = net.num_gates
            tlx["parameters"] = sum(p.numel() for p in net.parameters())
            tlx["config"] = {
                "layers": [type(m).__name__ for m in net.net],
                "parametrization": "raw",
                "forward_sampling": "gumbel_hard",
                "weight_init": "random",
                "conv_connections": "random-unique" if spec.connections == "unique" else "random",
                "dense_connections": "random",
            }
            tlx["differences"] = TORCHLOGIX_DIFFERENCES
            add("torchlogix", net, eval_scale=spec.tau)  # its eval scores are counts / tau
        except TorchlogixUnavailable as exc:
            tlx.setdefault("available", False)
            tlx["error"] = str(exc)
            results["torchlogix"] = {"error": str(exc)}
            log.warning("torchlogix: %s", exc)

    for r in range(spec.rounds):
        for name, side in sides.items():
            side.run(spec.steps // spec.rounds + (r < spec.steps % spec.rounds))
            log.info("round %d %s: %.1f ms/step", r, name, 1e3 * side.seconds[-1])
    for name, side in sides.items():
        results[name] = side.summary()
    if "torchlogix" in spec.impls:
        tlx["ran"] = "torchlogix" in sides

    def ratio(key: str, other: str, invert: bool = False) -> float | None:
        a, b = results.get("native", {}).get(key), results.get(other, {}).get(key)
        if not a or not b or not (math.isfinite(a) and math.isfinite(b)):
            return None
        return b / a if invert else a / b

    others = [n for n in IMPLS if n != "native" and n in sides]
    result: dict[str, Any] = {
        "benchmark": "conv_train_throughput",
        "samples_per_s": {n: results[n]["samples_per_s"] for n in IMPLS if n in sides},
        "speedup_native_over": {n: ratio("samples_per_s", n) for n in others},
        # per-step medians: less sensitive to load spikes on a shared machine
        "speedup_native_over_median": {
            n: ratio("ms_per_step_median", n, invert=True) for n in others
        },
        "results": results,
        "architecture": {
            "conv": ",".join(s.text() for s in ConvSpec.parse(spec.conv)),
            "image": list(model.image_shape[:2]),
            "bits_per_pixel": model.image_shape[2],
            "input_bits": model.encoder.num_bits,
            "stages": [
                {"kind": type(s).__name__, "in": list(s.in_shape), "out": list(s.out_shape)}
                for s in model.stages
            ],
            "flat_features": int(np.prod(model.flat_shape)),
            "widths": list(spec.widths),
            "num_classes": data.num_classes,
            "tau": spec.tau,
            "mode": "gumbel",
            "connections": spec.connections,
        },
        "gates": {"distinct": model.num_gates, "unrolled": model.num_unrolled_gates},
        "batch_size": spec.batch_size,
        "steps": spec.steps,
        "rounds": spec.rounds,
        "lr": spec.lr,
        "threads": spec.threads,
        "dataset": data.name,
        "torch": torch.__version__,
        "allocator_tuned": tuned,
        "output_check": checks,
        "torchlogix": tlx,
        "environment": environment(),
    }
    if "torchlogix" in checks and checks["torchlogix"]["ok"]:
        same = [n for n in checks if n != "torchlogix" and checks[n]["ok"]]
        tlx["same_kind_as_gateflow"] = bool(same) and all(
            checks[n]["train"]["shape"] == checks["torchlogix"]["train"]["shape"] for n in same
        )
        tlx["same_gate_count"] = tlx.get("gates") == model.num_gates
    return result


__all__ = [
    "IMPLS",
    "TORCHLOGIX_DIR",
    "TORCHLOGIX_VERSION",
    "ConvBenchSpec",
    "TorchlogixUnavailable",
    "install_torchlogix",
    "load_torchlogix",
    "run_conv_bench",
]
