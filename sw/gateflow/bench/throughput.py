"""Training throughput: gateflow's training path against the reference formulation.

Both sides train the same network (same wiring, same initial logits, same
batches of the same data) with Adam, in one process, in alternating rounds, so
that machine load affects both alike; samples/s is the samples trained over the
seconds spent in training steps (data indexing included, evaluation excluded).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gateflow.bench import environment
from gateflow.bench.baseline import BaselineNet
from gateflow.data import Dataset, get_dataset
from gateflow.errors import GateflowError
from gateflow.nn import LogicNet
from gateflow.nn.kernels import resolve_backend, tune_allocator
from gateflow.train.config import TrainConfig
from gateflow.train.logic import build_model, make_encoder, make_optimizer

log = logging.getLogger(__name__)


@dataclass
class ThroughputSpec:
    layers: int = 6
    width: int = 8000
    batch_size: int = 100
    steps: int = 100  # timed gateflow steps (over all rounds)
    baseline_steps: int = 10  # timed baseline steps (over all rounds)
    rounds: int = 5
    threads: int = 2
    mode: str = "softmax"
    dataset: str = "mnist"
    data_dir: str | None = None
    crop: int | None = 20
    bits_per_feature: int = 1
    tau: float = 10.0
    lr: float = 0.01
    seed: int = 0
    device: str = "cpu"
    backend: str | None = None  # kernel backend of the fast path (None: auto)


def synthetic_dataset(num_features: int = 784, n: int = 1000, seed: int = 0) -> Dataset:
    """Random 28x28 uint8 images with random labels: throughput does not need real data."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, num_features), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    side = int(round(num_features**0.5))
    shape = (side, side) if side * side == num_features else None
    return Dataset("synthetic", X, y, X[:10], y[:10], shape, 10)


def _model(spec: ThroughputSpec, data: Dataset) -> LogicNet:
    config = TrainConfig(
        dataset=spec.dataset,
        crop=spec.crop,
        bits_per_feature=spec.bits_per_feature,
        widths=[spec.width] * spec.layers,
        tau=spec.tau,
        mode=spec.mode,
        connections="random",
        seed=spec.seed,
    )
    return build_model(config, make_encoder(config, data), data.num_classes)


class _Side:
    """One training loop whose steps can be timed in slices."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        seed: int,
    ) -> None:
        self.model, self.optimizer = model.train(), optimizer
        self.X, self.y, self.batch_size = X, y, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.seconds: list[float] = []  # per timed step
        self.loss = float("nan")

    def step(self) -> None:
        idx = torch.randint(len(self.y), (self.batch_size,), generator=self.gen)
        idx = idx.to(self.X.device)
        loss = F.cross_entropy(self.model(self.X[idx]), self.y[idx])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.loss = float(loss.detach())

    def run(self, steps: int, timed: bool = True) -> None:
        for _ in range(steps):
            sync = _sync(self.X.device)
            start = time.perf_counter()
            self.step()
            sync()
            if timed:
                self.seconds.append(time.perf_counter() - start)

    def summary(self) -> dict[str, Any]:
        total = sum(self.seconds)
        steps = len(self.seconds)
        return {
            "samples_per_s": steps * self.batch_size / total if total else float("nan"),
            "steps": steps,
            "seconds": total,
            "ms_per_step_median": 1e3 * statistics.median(self.seconds) if steps else None,
            "final_loss": self.loss,
        }


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def run_throughput(
    spec: ThroughputSpec, baseline: bool = True, data: Dataset | None = None
) -> dict[str, Any]:
    """Time gateflow's training (and, with ``baseline``, the reference) as ``spec`` says."""
    if spec.rounds < 1 or spec.steps < spec.rounds:
        raise GateflowError("need rounds >= 1 and steps >= rounds")
    if baseline and spec.baseline_steps < spec.rounds:
        raise GateflowError("need baseline_steps >= rounds")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        return _run(spec, baseline, data)
    finally:
        torch.set_num_threads(threads_before)


def _run(spec: ThroughputSpec, baseline: bool, data: Dataset | None) -> dict[str, Any]:
    torch.manual_seed(spec.seed)
    device = torch.device(spec.device)
    tuned = tune_allocator() if device.type == "cpu" else False
    if data is None:
        if spec.dataset == "synthetic":
            data = synthetic_dataset()
        else:
            data = get_dataset(spec.dataset, spec.data_dir)
    model = _model(spec, data).to(device).set_impl("fast", spec.backend)
    X = torch.as_tensor(data.X_train, device=device)
    y = torch.as_tensor(data.y_train, device=device)
    sides = {
        "gateflow": _Side(
            model, make_optimizer(model, spec.lr), X, y, spec.batch_size, spec.seed + 1
        )
    }
    if baseline:
        ref = BaselineNet(model).to(device)  # same wiring and initial logits
        sides["baseline"] = _Side(
            ref,
            torch.optim.Adam(ref.parameters(), lr=spec.lr),
            X,
            y,
            spec.batch_size,
            spec.seed + 1,
        )
    plan = {"gateflow": spec.steps, "baseline": spec.baseline_steps}
    for name, side in sides.items():  # warm-up: allocations, kernel build, caches
        side.run(2, timed=False)
        log.info("warmed up %s", name)
    for r in range(spec.rounds):
        for name, side in sides.items():
            side.run(plan[name] // spec.rounds + (r < plan[name] % spec.rounds))
            log.info("round %d %s: %.1f ms/step", r, name, 1e3 * side.seconds[-1])
    fast = sides["gateflow"].summary()
    example = torch.zeros(1, spec.batch_size, device=device)
    result: dict[str, Any] = {
        "benchmark": "train_throughput",
        **fast,
        "gates": model.num_gates,
        "layers": spec.layers,
        "width": spec.width,
        "input_bits": model.layers[0].in_dim,
        "batch_size": spec.batch_size,
        "threads": spec.threads,
        "mode": spec.mode,
        "dataset": data.name,
        "crop": spec.crop,
        "device": str(device),
        "backend": resolve_backend(example, spec.backend),
        "rounds": spec.rounds,
        "allocator_tuned": tuned,
        "environment": environment(),
    }
    if baseline:
        base = sides["baseline"].summary()
        result["baseline"] = base
        result["speedup"] = fast["samples_per_s"] / base["samples_per_s"]
        # per-step medians: less sensitive to load spikes on a shared machine
        result["speedup_median"] = base["ms_per_step_median"] / fast["ms_per_step_median"]
    return result
