"""Accuracy of the training modes: softmax mixture vs Gumbel straight-through.

Trains the same network (same gates, steps, batches and seed) once per mode,
evaluating the test split every ``eval_every`` steps both discretized ("hard",
one gate per neuron: what the hardware computes) and as the softmax mixture
("soft"). Reports the discretization gap (soft minus hard, in points) and the
fraction of gates the netlist passes remove as unused (dead, constant or
pass-through), per mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gateflow.bench import environment
from gateflow.data import Dataset, get_dataset
from gateflow.errors import GateflowError
from gateflow.ir.passes import run_passes
from gateflow.train.config import GUMBEL_MNIST, TrainConfig
from gateflow.train.export import export
from gateflow.train.logic import train

log = logging.getLogger(__name__)

# Each mode trains with its own recipe (the TrainConfig fields below); the
# network, data, batches, steps and seed are shared. softmax: the reference
# library's recipe (Adam 0.01, random initial logits, constant rate). gumbel:
# gateflow's: residual initialisation (every gate starts as a pass-through, which
# keeps a deep hard-forward network trainable from the first step), Adam 0.3 with
# a cosine decay, GroupSum tau 30 and Gumbel-softmax temperature 8 for the
# straight-through gradients (see docs/training.md for the MNIST figures).
RECIPE_KEYS = ("lr", "tau", "residual_init", "schedule", "temperature", "connections")
DEFAULT_RECIPES: dict[str, dict[str, Any]] = {
    "softmax": {
        "lr": 0.01,
        "tau": 10.0,
        "residual_init": False,
        "schedule": "constant",
        "connections": "random",
    },
    "gumbel": dict(GUMBEL_MNIST),
}


def parse_recipe(text: str) -> tuple[str, dict[str, Any]]:
    """``"gumbel:lr=0.3,tau=30"`` -> ("gumbel", {"lr": 0.3, "tau": 30.0})."""
    mode, _, body = text.partition(":")
    if mode not in DEFAULT_RECIPES or not body:
        raise GateflowError(
            f"expected MODE:key=value,... with MODE in softmax/gumbel, got {text!r}"
        )
    out: dict[str, Any] = {}
    for item in body.split(","):
        key, _, value = item.partition("=")
        if key not in RECIPE_KEYS or not value:
            raise GateflowError(f"recipe keys are {', '.join(RECIPE_KEYS)}; got {item!r}")
        if key == "residual_init":
            out[key] = value.lower() in ("1", "true", "yes")
        elif key in ("schedule", "connections"):
            out[key] = value
        else:
            try:
                out[key] = float(value)
            except ValueError:
                raise GateflowError(f"{key} must be a number, got {value!r}") from None
    return mode, out


@dataclass
class AccuracySpec:
    modes: tuple[str, ...] = ("softmax", "gumbel")
    layers: int = 6
    width: int = 8000
    batch_size: int = 100
    steps: int = 1500
    eval_every: int = 100
    threads: int | None = 1
    dataset: str = "mnist"
    data_dir: str | None = None
    crop: int | None = 20
    bits_per_feature: int = 1
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # overrides per mode
    seed: int = 0
    device: str = "auto"

    def recipe(self, mode: str) -> dict[str, Any]:
        return {**DEFAULT_RECIPES[mode], **self.recipes.get(mode, {})}

    def config(self, mode: str) -> TrainConfig:
        config = TrainConfig(
            dataset=self.dataset,
            data_dir=self.data_dir,
            crop=self.crop,
            encoding="uniform",
            bits_per_feature=self.bits_per_feature,
            widths=[self.width] * self.layers,
            mode=mode,
            batch_size=self.batch_size,
            steps=self.steps,
            eval_every=self.eval_every,
            seed=self.seed,
            threads=self.threads,
            device=self.device,
            **self.recipe(mode),
        )
        config.validate()
        return config


def gate_usage(model: Any) -> dict[str, Any]:
    """Gates of the trained model before and after the passes (dce alone, fold + dce)."""
    raw = export(model)
    dead, _ = run_passes(raw, ("dce",))
    folded, _ = run_passes(raw, ("fold", "dce"))
    n = raw.num_gates
    return {
        "gates": n,
        "gates_after_dce": dead.num_gates,
        "gates_after_passes": folded.num_gates,
        "dead_fraction": 1 - dead.num_gates / n,
        "unused_fraction": 1 - folded.num_gates / n,
    }


def run_accuracy(
    spec: AccuracySpec, data: Dataset | None = None, progress: bool = False
) -> dict[str, Any]:
    """Train once per mode; histories, final accuracies, gaps and gate usage."""
    if data is None:
        data = get_dataset(spec.dataset, spec.data_dir)
    runs: dict[str, Any] = {}
    for mode in spec.modes:
        config = spec.config(mode)
        model, result = train(config, progress=progress, data=data)
        usage = gate_usage(model)
        gap = 100 * (result.test_acc_soft - result.test_acc_hard)
        runs[mode] = {
            "config": config.to_dict(),
            "test_acc_hard": result.test_acc_hard,
            "test_acc_soft": result.test_acc_soft,
            "train_acc_hard": result.train_acc_hard,
            "gap_points": gap,
            "seconds": result.seconds,
            "steps": result.steps,
            "history": [
                {**h, "gap_points": 100 * (h["test_acc_soft"] - h["test_acc_hard"])}
                for h in result.history
            ],
            **usage,
        }
        log.info(
            "%s: test %.4f hard, %.4f soft (gap %.2f points), %.1f%% of gates unused",
            mode, result.test_acc_hard, result.test_acc_soft, gap, 100 * usage["unused_fraction"],
        )  # fmt: skip
    return {
        "benchmark": "accuracy",
        "dataset": data.name,
        "train_samples": len(data.y_train),
        "test_samples": len(data.y_test),
        "runs": runs,
        "environment": environment(),
    }
