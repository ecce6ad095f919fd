"""Training: dataset -> encoder -> LogicNet (or a threshold network) -> Adam.

``config.arch`` picks the family: ``lgn`` (logic gate networks, below) or one
of the binary-threshold families ``binary``, ``bitlevel`` and ``switcher``
(:mod:`gateflow.train_threshold`).

``train(config)`` is reproducible: the same config (seed included) on the same
machine, torch version and thread count gives identical logits.

The model trains through its fast path (feature-major fused kernels, see
:mod:`gateflow.nn.kernels`). Inside an initialised process group of more than
one process (``torchrun``, see :mod:`gateflow.dist`) training is data-parallel:
every process takes its share of each global batch of ``batch_size`` samples
and DistributedDataParallel averages the gradients, scaled so that the update
is the one a single process computes on the whole batch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gateflow.train import dist
from gateflow.data import Dataset, get_dataset
from gateflow.data.encoding import ThermometerEncoder, center_crop_features
from gateflow.errors import GateflowError
from gateflow.nn import LogicNet
from gateflow.nn.kernels import tune_allocator
from gateflow.nn.logic import CONNECTIONS, MODES, How, atomic_torch_save

log = logging.getLogger(__name__)

ENCODINGS = ("uniform", "quantile")
SCHEDULES = ("constant", "cosine")
DEVICES = ("cpu", "cuda", "auto")
ARCHS = ("lgn", "binary", "bitlevel", "switcher")


class TrainError(GateflowError):
    """An invalid training configuration."""


@dataclass
class TrainConfig:
    """Everything a training run depends on; round-trips through JSON (``to_dict``)."""

    arch: str = "lgn"  # lgn | binary | bitlevel | switcher
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    crop: int | None = None  # keep only the centred crop x crop pixels (image datasets)
    encoding: str = "uniform"  # "uniform" (over the data's value range) or "quantile"
    bits_per_feature: int = 2
    widths: list[int] = field(default_factory=lambda: [1000, 1000])
    tau: float = 10.0
    mode: str = "gumbel"
    connections: str = "unique"
    residual_init: bool = False
    temperature: float = 1.0  # Gumbel-softmax temperature (gumbel mode)
    lr: float = 0.1  # Adam; Gumbel training liked 0.1 on digits and MNIST (0.01 was much slower)
    schedule: str = "constant"  # learning rate: "constant" or "cosine" (decays to 0 at the end)
    batch_size: int = 128
    steps: int | None = 2000  # optimiser steps; ignored when epochs is set
    epochs: int | None = None
    eval_every: int = 0  # evaluate the test split every n steps (0: only at the end)
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
        if self.augment not in (0, 1, 2):
            raise TrainError(f"augment must be 0, 1 or 2, got {self.augment}")
        if self.encoding not in ENCODINGS:
            raise TrainError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.mode not in MODES:
            raise TrainError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.connections not in CONNECTIONS:
            raise TrainError(f"connections must be one of {CONNECTIONS}, got {self.connections!r}")
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


def make_encoder(config: TrainConfig, data: Dataset) -> ThermometerEncoder:
    """The thermometer encoder ``config`` asks for, fitted to the training split."""
    features = None
    if config.crop is not None:
        if data.shape is None:
            raise TrainError(f"crop needs an image dataset; {data.name} has no image shape")
        features = center_crop_features(data.shape, config.crop)
    if config.encoding == "quantile":
        return ThermometerEncoder.quantile(data.X_train, config.bits_per_feature, features)
    lo, hi = int(data.X_train.min()), int(data.X_train.max())
    return ThermometerEncoder.uniform(data.num_features, config.bits_per_feature, lo, hi, features)


def build_model(config: TrainConfig, encoder: ThermometerEncoder, num_classes: int) -> LogicNet:
    return LogicNet(
        encoder,
        config.widths,
        num_classes,
        tau=config.tau,
        connections=config.connections,
        mode=config.mode,
        residual_init=config.residual_init,
        seed=config.seed,
        temperature=config.temperature,
    )


def _global_loss(loss: torch.Tensor, world_size: int) -> float:
    """The batch loss: the processes' scaled shares averaged (the loss itself when alone)."""
    if world_size > 1:
        loss = loss.clone()
        torch.distributed.all_reduce(loss)
        loss /= world_size
    return float(loss)


@torch.no_grad()
def evaluate(
    model: LogicNet,
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    how: How = "hard",
    batch_size: int = 1024,
) -> float:
    """Accuracy of ``model`` on raw ``X``; ``how`` = "hard" (discretized) or "soft"."""
    device = next(model.parameters()).device
    X = torch.as_tensor(X, device=device)
    y = torch.as_tensor(y, device=device)
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for i in range(0, len(y), batch_size):
            pred = model(X[i : i + batch_size], how=how).argmax(dim=-1)
            correct += int((pred == y[i : i + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / max(len(y), 1)


TRAIN_STATE_FORMAT = "gateflow.train_state"
TRAIN_STATE_VERSION = 1


def train(
    config: TrainConfig,
    progress: bool = True,
    data: Dataset | None = None,
    state_path: str | Path | None = None,
    resume: bool = False,
) -> tuple[LogicNet, TrainResult]:
    """Train a LogicNet as ``config`` says; returns the model (in eval mode) and results.

    ``data`` overrides loading ``config.dataset`` (e.g. to reuse a loaded dataset).
    With ``state_path`` and ``config.checkpoint_every`` the whole training state
    (parameters, optimiser, schedule, every random generator, the step) is written
    there atomically every that many steps; ``resume=True`` continues from it, and
    the run then ends exactly as the uninterrupted one would. A loss that is NaN or
    infinite stops training with a :class:`TrainError`.
    """
    config.validate()
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        if config.augment:
            from gateflow.data import shift_augment

            if data is None:
                data = get_dataset(config.dataset, config.data_dir, download=config.download)
            data = shift_augment(data, config.augment)
        if config.arch != "lgn":
            from gateflow.train.threshold import train_threshold

            if resume:
                raise TrainError(f"resume is not supported for arch {config.arch!r} yet")
            if dist.info().world_size > 1:
                raise TrainError(
                    f"data-parallel training supports arch 'lgn' only, not {config.arch!r}"
                )
            return train_threshold(config, progress, data)  # type: ignore[return-value]
        return _train(config, progress, data, Path(state_path) if state_path else None, resume)
    finally:
        torch.set_num_threads(threads_before)


def _save_state(path: Path, config: TrainConfig, step: int, model, optimizer, scheduler,
                batch_gen: torch.Generator, perm: torch.Tensor) -> None:  # fmt: skip
    state = {
        "format": TRAIN_STATE_FORMAT,
        "version": TRAIN_STATE_VERSION,
        "config": config.to_dict(),
        "step": step,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "batch_rng": batch_gen.get_state(),
        "perm": perm.cpu(),
    }
    atomic_torch_save(state, path)


def _load_state(path: Path, config: TrainConfig) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainError(f"cannot resume: no training state at {path}") from None
    except Exception as exc:  # a truncated or foreign file
        raise TrainError(f"cannot resume from {path}: not a readable training state "
                         f"({type(exc).__name__})") from None  # fmt: skip
    if not isinstance(state, dict) or state.get("format") != TRAIN_STATE_FORMAT:
        raise TrainError(f"cannot resume from {path}: not a gateflow training state")
    if state.get("version") != TRAIN_STATE_VERSION:
        raise TrainError(f"cannot resume from {path}: version {state.get('version')}")
    saved = dict(state["config"])
    now = config.to_dict()
    # the thread count and checkpoint interval may change between runs; nothing else
    for key in ("threads", "checkpoint_every"):
        saved.pop(key, None)
        now.pop(key, None)
    if saved != now:
        diff = sorted(k for k in now if saved.get(k) != now[k])
        raise TrainError(
            f"cannot resume from {path}: it was written with other options ({', '.join(diff)})"
        )
    return state


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused implementation where this torch has it for the parameters' device."""
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _train(
    config: TrainConfig,
    progress: bool,
    data: Dataset | None,
    state_path: Path | None,
    resume: bool,
) -> tuple[LogicNet, TrainResult]:
    seed_everything(config.seed)
    me = dist.info()
    device = dist.device(config.device) if me.world_size > 1 else resolve_device(config.device)
    if device.type == "cpu":
        tune_allocator()
    if data is None:
        data = get_dataset(config.dataset, config.data_dir, download=config.download)
    encoder = make_encoder(config, data)
    model = build_model(config, encoder, data.num_classes).to(device)
    log.info(
        "training %s on %s: %d input bits, widths %s (%d gates), %s mode, device %s",
        type(model).__name__, data.name, encoder.num_bits, config.widths, model.num_gates,
        config.mode, device,
    )  # fmt: skip
    net: torch.nn.Module = model
    if me.world_size > 1:
        if config.batch_size < me.world_size:
            raise TrainError(
                f"batch_size {config.batch_size} is smaller than the {me.world_size} processes"
            )
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,  # the wiring buffers never change
        )
        log.info("data-parallel over %d processes (rank %d)", me.world_size, me.rank)

    X_train = torch.as_tensor(data.X_train, device=device)
    y_train = torch.as_tensor(data.y_train, device=device)
    n = len(y_train)
    batch_size = min(config.batch_size, n)
    per_epoch = math.ceil(n / batch_size)
    steps = config.epochs * per_epoch if config.epochs is not None else int(config.steps or 0)

    optimizer = make_optimizer(model, config.lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        if config.schedule == "cosine"
        else None
    )
    batch_gen = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    loss_value = float("nan")
    perm = torch.empty(0, dtype=torch.int64)
    first = 1
    if resume:
        if state_path is None:
            raise TrainError("resume needs the path of a training state")
        state = _load_state(state_path, config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        batch_gen.set_state(state["batch_rng"])
        perm = state["perm"].to(device)
        first = int(state["step"]) + 1
        log.info("resuming from %s after step %d", state_path, first - 1)
    start = time.perf_counter()
    show = progress and me.is_main
    bar = tqdm(total=steps, initial=first - 1, desc="train", unit="step",
               disable=None if show else True)  # fmt: skip
    model.train()
    for step in range(first, steps + 1):
        pos = ((step - 1) % per_epoch) * batch_size
        if pos == 0:
            perm = torch.randperm(n, generator=batch_gen).to(device)
        idx = perm[pos : pos + batch_size]
        if me.world_size == 1:
            loss = F.cross_entropy(net(X_train[idx]), y_train[idx])
        else:  # this process's share; DDP's gradient mean then equals the global batch's
            mine = idx.tensor_split(me.world_size)[me.rank]
            loss = F.cross_entropy(net(X_train[mine]), y_train[mine], reduction="sum")
            loss = loss * (me.world_size / len(idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_value = _global_loss(loss.detach(), me.world_size)
        if not math.isfinite(loss_value):
            bar.close()
            raise TrainError(
                f"training diverged: the loss is {loss_value} at step {step} "
                f"(try a lower --lr than {config.lr:g})"
            )
        if (
            state_path is not None
            and config.checkpoint_every
            and me.is_main
            and (step % config.checkpoint_every == 0 or step == steps)
        ):
            _save_state(state_path, config, step, model, optimizer, scheduler, batch_gen, perm)
        bar.update(1)
        if step % 50 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss_value:.3f}")
        if config.eval_every and step % config.eval_every == 0 and step != steps:
            acc = evaluate(model, data.X_test, data.y_test, "hard")
            soft = evaluate(model, data.X_test, data.y_test, "soft")
            history.append(
                {"step": step, "loss": loss_value, "test_acc_hard": acc, "test_acc_soft": soft}
            )
            log.info(
                "step %d: loss %.4f, test accuracy %.4f hard, %.4f soft",
                step, loss_value, acc, soft,
            )  # fmt: skip
    bar.close()
    seconds = time.perf_counter() - start

    model.eval()
    accs = {
        f"{split}_acc_{how}": evaluate(model, X, y, how)  # type: ignore[arg-type]
        for split, X, y in (
            ("train", data.X_train, data.y_train),
            ("test", data.X_test, data.y_test),
        )
        for how in ("soft", "hard")
    }
    history.append(
        {
            "step": steps,
            "loss": loss_value,
            "test_acc_hard": accs["test_acc_hard"],
            "test_acc_soft": accs["test_acc_soft"],
        }
    )
    result = TrainResult(
        **accs,
        steps=steps,
        seconds=seconds,
        num_gates=model.num_gates,
        num_input_bits=encoder.num_bits,
        final_loss=loss_value,
        history=history,
    )
    log.info(
        "trained %d steps in %.1f s: test accuracy %.4f hard, %.4f soft; train %.4f hard",
        steps, seconds, result.test_acc_hard, result.test_acc_soft, result.train_acc_hard,
    )  # fmt: skip
    return model, result
