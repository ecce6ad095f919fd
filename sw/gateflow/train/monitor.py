"""Watching a training run: the validation split, the evaluation points of the history,
the best model by validation accuracy and early stopping. Both training loops (logic gate
networks in :mod:`gateflow.train.logic`, the threshold families in
:mod:`gateflow.train.threshold`) use :class:`Monitor`.

* :func:`split_validation` holds out a stratified, seeded fraction of the training split
  (never the test split) before any augmentation, so no shifted copy of a held-out image
  is trained on.
* Every ``interval`` steps and at the last one, :meth:`Monitor.record` appends a point to
  the history: the step, the batch loss, the accuracy soft and discretized ("hard") on the
  test split, on a fixed subsample of the training data and on the validation split, and
  the alive count (:func:`alive`).
* With a validation split the parameters of the best point by discretized validation
  accuracy are kept (ties: the earlier point, so a later point must be strictly better),
  and :meth:`Monitor.finish` puts them back into the model. ``early_stopping = N`` ends
  training after N evaluations in a row without a strict improvement.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gateflow.data import Dataset
from gateflow.data.datasets import largest_remainder
from gateflow.gates import GATES
from gateflow.train.config import TrainConfig, TrainError

log = logging.getLogger(__name__)

EVALUATIONS = 20  # evaluation points of a run with a validation split and no eval_every
TRAIN_SUBSAMPLE = 2000  # training samples the history's train accuracies are measured on
SPLIT_METHOD = (
    "stratified: class c with n_c training samples holds out round(val_fraction * n) "
    "samples in all, shared by largest remainder of val_fraction * n_c (ties to the lower "
    "class); within each class numpy.random.default_rng(seed).permutation (one generator, "
    "classes in order) picks them; indices are into the dataset's training split"
)


@dataclass
class ValSplit:
    """The held-out part of the training split, and how it was chosen."""

    X: np.ndarray
    y: np.ndarray
    record: dict[str, Any]  # what train.json keeps: fraction, seed, counts, indices


def split_validation(y: np.ndarray, fraction: float, seed: int, num_classes: int):
    """(training indices, validation indices), both sorted: a stratified, seeded split.

    ``round(fraction * n)`` samples in all, each class's share ``fraction * n_c`` rounded
    by largest remainder; a class must keep at least one training sample."""
    y = np.asarray(y)
    n = y.size
    total = int(round(fraction * n))
    if total < 1:
        raise TrainError(f"val_fraction {fraction} holds out no sample of the {n} training samples")
    counts = np.bincount(y, minlength=num_classes)
    quota = largest_remainder(fraction * counts, total)
    for c in np.flatnonzero(counts > 0):
        if counts[c] - quota[c] < 1:
            raise TrainError(
                f"val_fraction {fraction} leaves class {c} with no training samples "
                f"({counts[c]} in all)"
            )
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in range(counts.size):
        idx = np.flatnonzero(y == c)
        held.append(idx[rng.permutation(idx.size)[: quota[c]]])
    val = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def prepare_data(config: TrainConfig, data: Dataset) -> tuple[Dataset, ValSplit | None]:
    """The data a run trains on (validation split held out, then augmented) and the split."""
    val = None
    if config.val_fraction > 0:
        train_idx, val_idx = split_validation(
            data.y_train, config.val_fraction, config.seed, data.num_classes
        )
        record = {
            "val_fraction": config.val_fraction,
            "seed": config.seed,
            "method": SPLIT_METHOD,
            "train_samples": int(train_idx.size),
            "val_samples": int(val_idx.size),
            "train_per_class": np.bincount(data.y_train[train_idx], minlength=data.num_classes)
            .astype(int)
            .tolist(),
            "val_per_class": np.bincount(data.y_train[val_idx], minlength=data.num_classes)
            .astype(int)
            .tolist(),
            "val_indices": val_idx.astype(int).tolist(),
        }
        val = ValSplit(data.X_train[val_idx], data.y_train[val_idx], record)
        data = dataclasses.replace(data, X_train=data.X_train[train_idx],
                                   y_train=data.y_train[train_idx])  # fmt: skip
    if config.augment:
        from gateflow.data import shift_augment

        data = shift_augment(data, config.augment)
    return data, val


def eval_interval(config: TrainConfig, steps: int) -> int:
    """Steps between evaluation points: ``eval_every``; when it is 0, about
    :data:`EVALUATIONS` points with a validation split and none (the end only) without."""
    if config.eval_every:
        return config.eval_every
    if config.val_fraction > 0:
        return max(1, math.ceil(steps / EVALUATIONS))
    return 0


# ----------------------------------------------------------------- alive counts
_USES_A = torch.tensor([g.uses_a() for g in GATES])
_USES_B = torch.tensor([g.uses_b() for g in GATES])


@torch.no_grad()
def alive_gates(model: Any) -> int:
    """Gates of a LogicNet that the class outputs depend on with the discretized gates:
    walking back from every output of the last layer, a gate counts when it is reached
    and its gate function reads at least one input (constant gates do not count; pass-
    throughs and NOTs do), and only the inputs that function reads are followed."""
    need: torch.Tensor | None = None
    count = 0
    for layer in reversed(list(model.layers)):
        ops = layer.ops().cpu()
        if need is None:
            need = torch.ones(layer.out_dim, dtype=torch.bool)
        use_a, use_b = need & _USES_A[ops], need & _USES_B[ops]
        count += int((use_a | use_b).sum())
        prev = torch.zeros(layer.in_dim, dtype=torch.bool)
        prev[layer.a.cpu()[use_a]] = True
        prev[layer.b.cpu()[use_b]] = True
        need = prev
    return count


@torch.no_grad()
def alive_neurons(model: Any) -> int:
    """Neurons of a threshold network that the class outputs depend on: walking back from
    every output of the last layer, a neuron counts when it is reached and has at least one
    nonzero integer weight (one without is a constant), and only the inputs of its nonzero
    weights are followed."""
    need: torch.Tensor | None = None
    count = 0
    for layer in reversed(list(model.layers)):
        w = layer.int_weight().cpu() != 0  # [out, in]
        if need is None:
            need = torch.ones(layer.out_features, dtype=torch.bool)
        live = need & w.any(dim=1)
        count += int(live.sum())
        need = w[live].any(dim=0)
    return count


def alive(model: Any) -> int:
    """:func:`alive_neurons` of a threshold model, :func:`alive_gates` of a LogicNet."""
    from gateflow.nn.threshold_model import ThresholdModel

    return alive_neurons(model) if isinstance(model, ThresholdModel) else alive_gates(model)


# --------------------------------------------------------------------- monitor
Evaluate = Callable[[Any, np.ndarray, np.ndarray, str], float]


class Monitor:
    """Evaluation points, the best model by validation accuracy, early stopping.

    ``soft_is_hard``: the model computes the same values soft and discretized (the
    threshold families), so each accuracy is measured once."""

    def __init__(
        self,
        config: TrainConfig,
        model: torch.nn.Module,
        data: Dataset,
        val: ValSplit | None,
        steps: int,
        evaluate: Evaluate,
        soft_is_hard: bool = False,
    ) -> None:
        self.config, self.model, self.data, self.val = config, model, data, val
        self.steps, self.evaluate, self.soft_is_hard = steps, evaluate, soft_is_hard
        self.interval = eval_interval(config, steps)
        n = len(data.y_train)
        if n > TRAIN_SUBSAMPLE:
            pick = np.random.default_rng(config.seed).choice(n, TRAIN_SUBSAMPLE, replace=False)
            self.train_subsample = np.sort(pick)
        else:
            self.train_subsample = np.arange(n)
        self.history: list[dict[str, float]] = []
        self.best_acc = -1.0
        self.best_step: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale = 0  # evaluations since the last improvement
        self.stopped_early = False

    def due(self, step: int) -> bool:
        return step == self.steps or bool(self.interval and step % self.interval == 0)

    def _accuracies(self, name: str, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        hard = self.evaluate(self.model, X, y, "hard")
        soft = hard if self.soft_is_hard else self.evaluate(self.model, X, y, "soft")
        return {f"{name}_acc_hard": hard, f"{name}_acc_soft": soft}

    def record(self, step: int, loss: float) -> bool:
        """Evaluate at ``step``; True when early stopping ends training here."""
        sub = self.train_subsample
        point: dict[str, float] = {"step": step, "loss": loss}
        point.update(self._accuracies("test", self.data.X_test, self.data.y_test))
        point.update(self._accuracies("train", self.data.X_train[sub], self.data.y_train[sub]))
        if self.val is not None:
            point.update(self._accuracies("val", self.val.X, self.val.y))
        point["alive"] = alive(self.model)
        self.history.append(point)
        log.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in point.items()
                                                 if k != "step"))  # fmt: skip
        if self.val is None:
            return False
        if point["val_acc_hard"] > self.best_acc:
            self.best_acc, self.best_step, self.stale = point["val_acc_hard"], step, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        self.stale += 1
        patience = self.config.early_stopping
        if patience and self.stale >= patience and step != self.steps:
            self.stopped_early = True
            log.info("early stopping at step %d: no better validation accuracy for %d "
                     "evaluations (best %.4f at step %d)", step, self.stale, self.best_acc,
                     self.best_step)  # fmt: skip
            return True
        return False

    def finish(self) -> None:
        """Put the best parameters back (with a validation split)."""
        if (
            self.best_state is not None
            and self.history
            and self.best_step != self.history[-1]["step"]
        ):
            self.model.load_state_dict(self.best_state)

    def result_fields(self, last_step: int) -> dict[str, Any]:
        """TrainResult's monitoring fields (call after :meth:`finish`)."""
        fields: dict[str, Any] = {
            "history": self.history,
            "best_step": self.best_step if self.val is not None else last_step,
            "stopped_early": self.stopped_early,
            "alive": alive(self.model),
        }
        if self.val is not None:
            fields.update(self._accuracies("val", self.val.X, self.val.y))
            fields["split"] = self.val.record
        return fields

    # checkpoints (logic gate networks)
    def state_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "best_acc": self.best_acc,
            "best_step": self.best_step,
            "best_state": self.best_state,
            "stale": self.stale,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))
        self.best_acc = float(state.get("best_acc", -1.0))
        self.best_step = state.get("best_step")
        self.best_state = state.get("best_state")
        self.stale = int(state.get("stale", 0))
