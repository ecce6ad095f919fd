"""Training configuration: what a run depends on, the default digits network of each
family, and what a run reports. Plain data (no torch), so the command line can build its
parser and defaults without importing torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gateflow.errors import GateflowError

ENCODINGS = ("uniform", "quantile", "fixed")
SCHEDULES = ("constant", "cosine")
DEVICES = ("cpu", "cuda", "auto")
ARCHS = ("lgn", "binary", "bitlevel", "switcher")
MAX_VAL_FRACTION = 0.9


class TrainError(GateflowError):
    """An invalid training configuration."""


@dataclass
class TrainConfig:
    """Everything a training run depends on; round-trips through JSON (``to_dict``)."""

    arch: str = "lgn"  # lgn | binary | bitlevel | switcher
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    # a user's own data (gateflow.data.tabular): a CSV / .npz file instead of `dataset`
    data: str | None = None
    test_data: str | None = None  # a separate test file (else a stratified split of `data`)
    label_column: str | None = None  # CSV: the label column (default: the last one)
    test_fraction: float = 0.2  # the split's test share when there is no test file
    split_seed: int = 0  # the split's seed (apart from `seed`, so runs compare on one split)
    thresholds: list[float] | None = None  # encoding "fixed": the thresholds of every feature
    auto_widths: bool = False  # last width = (its default per class) x the data's classes
    # convolutional logic gate networks (arch lgn): stages before the dense `widths`,
    # e.g. "c32k3d3p1o2,c64k3d3o2" (gateflow.nn.conv.ConvSpec.parse)
    conv: str | None = None
    crop: int | None = None  # keep only the centred crop x crop pixels (image datasets)
    encoding: str = "uniform"  # "uniform" (over the value range), "quantile" or "fixed"
    bits_per_feature: int = 2
    widths: list[int] = field(default_factory=lambda: [1000, 1000])
    tau: float = 10.0
    mode: str = "gumbel"
    connections: str = "unique"
    residual_init: bool = False
    temperature: float = 1.0  # Gumbel-softmax temperature (gumbel mode)
    # lgn: learn each gate input among this many random candidates (0: fixed wiring,
    # -1: every input of the layer); the dense layers of a conv net too
    # (gateflow.nn.logic, learned connections)
    candidates: int = 0
    lr: float = 0.1  # Adam; Gumbel training liked 0.1 on digits and MNIST (0.01 was much slower)
    schedule: str = "constant"  # learning rate: "constant" or "cosine" (decays to 0 at the end)
    batch_size: int = 128
    steps: int | None = 2000  # optimiser steps; ignored when epochs is set
    epochs: int | None = None
    eval_every: int = 0  # evaluate every n steps (0: at the end; ~20 times with val_fraction)
    checkpoint_every: int = 0  # write the training state every n steps (0: never)
    seed: int = 0
    threads: int | None = None  # torch CPU threads (None: leave torch's default)
    device: str = "auto"
    # threshold families (arch binary / bitlevel / switcher)
    density: float = 0.5  # binary: initial probability of a weight being 1
    weight_bits: int = 4  # bitlevel: two's-complement bits of a weight
    trained_bits: int | None = None  # bitlevel: the most significant bits trained (None: all)
    levels: int = 1  # switcher: weights are integers in [-levels, levels]
    sparsity: float = 0.0  # weight of the sparsity penalty in the loss
    switcher_lr: float = 0.01  # switcher: Adam learning rate of the switcher network
    switcher_hidden: int = 16  # switcher: hidden units of the switcher network
    sparsity_ramp: float = 0.0  # raise the sparsity penalty from 0 over this fraction of steps
    augment: int = 0  # training images plus 1-pixel shifted copies: 0 none, 1 (x5), 2 (x9)
    # validation split and model selection (gateflow.train.monitor)
    val_fraction: float = 0.0  # hold out this stratified fraction of the training split
    early_stopping: int = 0  # stop after this many evaluations without improvement (0: off)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TrainError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        from gateflow.nn.logic import CONNECTIONS, MODES  # the modules' own lists (torch)

        if self.arch not in ARCHS:
            raise TrainError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch != "lgn":
            if self.checkpoint_every:
                raise TrainError(f"checkpoints are not supported for arch {self.arch!r} yet")
            if not 0 < self.density <= 1:
                raise TrainError(f"density must lie in (0, 1], got {self.density}")
            if not 2 <= self.weight_bits <= 16:
                raise TrainError(f"weight_bits must lie in 2..16, got {self.weight_bits}")
            if self.trained_bits is not None and not 1 <= self.trained_bits <= self.weight_bits:
                raise TrainError(f"trained_bits must lie in 1..weight_bits ({self.weight_bits})")
            if self.levels < 1 or self.switcher_hidden < 1:
                raise TrainError("levels and switcher_hidden must be >= 1")
            if self.sparsity < 0 or self.switcher_lr <= 0:
                raise TrainError("sparsity must be >= 0 and switcher_lr > 0")
            if not 0 <= self.sparsity_ramp <= 1:
                raise TrainError(f"sparsity_ramp must lie in [0, 1], got {self.sparsity_ramp}")
        if not 0 < self.test_fraction < 1:
            raise TrainError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")
        if self.encoding == "fixed" and not self.thresholds:
            raise TrainError("encoding 'fixed' needs thresholds (--thresholds 0.5,1,2)")
        if self.data is None and (self.test_data or self.label_column):
            raise TrainError("test_data and label_column go with a data file (--data)")
        if not 0.0 <= self.val_fraction <= MAX_VAL_FRACTION:
            raise TrainError(
                f"val_fraction must lie in [0, {MAX_VAL_FRACTION}], got {self.val_fraction}"
            )
        if self.early_stopping < 0 or self.eval_every < 0:
            raise TrainError("early_stopping and eval_every must be >= 0")
        if self.early_stopping and not self.val_fraction:
            raise TrainError("early stopping needs a validation split (val_fraction > 0)")
        if self.conv is not None:
            if self.arch != "lgn":
                raise TrainError(f"conv stages go with arch 'lgn', not {self.arch!r}")
            from gateflow.nn.conv import ConvSpec

            try:
                ConvSpec.parse(self.conv)
            except GateflowError as exc:
                raise TrainError(str(exc)) from None
        if self.augment not in (0, 1, 2):
            raise TrainError(f"augment must be 0, 1 or 2, got {self.augment}")
        if self.encoding not in ENCODINGS:
            raise TrainError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.mode not in MODES:
            raise TrainError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.connections not in CONNECTIONS:
            raise TrainError(f"connections must be one of {CONNECTIONS}, got {self.connections!r}")
        if self.candidates < -1 or self.candidates == 1:
            raise TrainError(
                "candidates must be 0 (fixed wiring), >= 2 or -1 (every input), "
                f"got {self.candidates}"
            )
        if self.candidates and self.arch != "lgn":
            raise TrainError(f"learned connections go with arch 'lgn', not {self.arch!r}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.device not in DEVICES:
            raise TrainError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.epochs is None and (self.steps is None or self.steps < 1):
            raise TrainError("set steps >= 1 or epochs >= 1")
        if self.checkpoint_every < 0:
            raise TrainError("checkpoint_every must be 0 (never) or a positive number of steps")
        if self.epochs is not None and self.epochs < 1:
            raise TrainError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1 or self.lr <= 0 or self.tau <= 0 or self.bits_per_feature < 1:
            raise TrainError("batch_size, lr, tau and bits_per_feature must be positive")
        if not self.widths or min(self.widths) < 1:
            raise TrainError(f"widths must be positive, got {self.widths}")


def load_data(config: TrainConfig):
    """The dataset ``config`` names: a user's file (``data``) or a built-in dataset."""
    if config.data is not None:
        from gateflow.data.tabular import load_data_file

        return load_data_file(
            config.data,
            config.test_data,
            label_column=config.label_column,
            test_fraction=config.test_fraction,
            seed=config.split_seed,
        )
    from gateflow.data import get_dataset

    return get_dataset(config.dataset, config.data_dir, download=config.download)


def fit_to_data(config: TrainConfig, num_classes: int) -> TrainConfig:
    """``config`` with ``auto_widths`` resolved for a dataset of ``num_classes`` classes:
    the last layer keeps its default number of outputs per class (the defaults are made
    for the ten digit classes), so any number of classes works; a last width given by
    hand must split into the classes."""
    widths = list(config.widths)
    if config.auto_widths:
        per_class = max(1, widths[-1] // DIGITS_CLASSES)
        widths[-1] = per_class * num_classes
    elif widths[-1] % num_classes:
        k = widths[-1] // num_classes
        raise TrainError(
            f"the last width ({widths[-1]}) must be a multiple of the {num_classes} classes "
            f"(e.g. {max(k, 1) * num_classes} or {(k + 1) * num_classes})"
        )
    return config.replace(widths=widths, auto_widths=False)


DIGITS_CLASSES = 10

# The default small network for digits (what `make sim` trains): 2-bit uniform
# thermometer (thresholds 6 and 11 on 0..16: 128 input bits), two layers of
# 1,000 gates (2,000 in all; 100 output bits per class), Gumbel training.
# One torch thread: these tensors are too small to gain from intra-op threads,
# and on a busy 2-core machine a second thread made each step ~100x slower.
DEFAULT_DIGITS = TrainConfig(
    dataset="digits",
    encoding="uniform",
    bits_per_feature=2,
    widths=[1000, 1000],
    tau=4.0,
    mode="gumbel",
    connections="unique",
    lr=0.1,
    batch_size=128,
    steps=3000,
    seed=0,
    threads=1,
)


# gateflow's Gumbel straight-through settings for deep MNIST networks (docs/training.md):
# residual initialisation (every gate starts as a pass-through), Adam 0.3 with a cosine
# decay, GroupSum tau 30, Gumbel-softmax temperature 8, random wiring. The accuracy
# benchmark's "gumbel" recipe and the MNIST board recipes start from it.
GUMBEL_MNIST: dict = {
    "lr": 0.3,
    "tau": 30.0,
    "residual_init": True,
    "schedule": "cosine",
    "temperature": 8.0,
    "connections": "random",
}


# The default digits networks of the threshold families (`make sim ARCH=...`):
# 3-bit thermometer (192 input bits), a hidden layer, then 100 output bits (10 per
# class); Adam with a cosine learning rate and a sparsity penalty raised over the
# first 30% of the steps. Chosen small and sparse so that they also build for a board.
_THRESHOLD_DIGITS = DEFAULT_DIGITS.replace(
    bits_per_feature=3, tau=3.0, lr=0.02, schedule="cosine", sparsity_ramp=0.3
)
DEFAULTS = {
    "lgn": DEFAULT_DIGITS,
    "binary": _THRESHOLD_DIGITS.replace(
        arch="binary", widths=[300, 100], density=0.05, sparsity=3.0, steps=1000
    ),
    "bitlevel": _THRESHOLD_DIGITS.replace(
        arch="bitlevel",
        widths=[200, 100],
        density=0.05,
        sparsity=10.0,
        steps=1500,
        weight_bits=4,
        trained_bits=2,
    ),  # fmt: skip
    "switcher": _THRESHOLD_DIGITS.replace(
        arch="switcher", widths=[100, 100], levels=2, sparsity=0.7, switcher_lr=0.03, steps=600
    ),
}


@dataclass
class TrainResult:
    """Accuracies after training: ``soft`` = softmax mixture (no noise), ``hard`` =
    discretized (eval mode, one gate per neuron: what the hardware computes)."""

    train_acc_soft: float
    train_acc_hard: float
    test_acc_soft: float
    test_acc_hard: float
    steps: int
    seconds: float
    num_gates: int
    num_input_bits: int
    final_loss: float
    history: list[dict[str, float]] = field(default_factory=list)
    sparsity: float | None = None  # threshold families: fraction of zero weights
    bit_sparsity: float | None = None  # bitlevel: fraction of zero weight bits
    # validation split and model selection (None / 0 without a split)
    val_acc_soft: float | None = None
    val_acc_hard: float | None = None
    best_step: int | None = None  # the step of the returned model (the best by val_acc_hard)
    stopped_early: bool = False
    alive: int | None = None  # gateflow.train.monitor.alive of the returned model
    split: dict[str, Any] | None = None  # gateflow.train.monitor.split_validation's record

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
