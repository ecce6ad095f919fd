"""Training: dataset -> encoder -> LogicNet (or a threshold network) -> Adam.

``config.arch`` picks the family: ``lgn`` (logic gate networks, below) or one
of the binary-threshold families ``binary``, ``bitlevel`` and ``switcher``
(:mod:`gateflow.train.threshold`).

``train(config)`` is reproducible: the same config (seed included) on the same
machine, torch version and thread count gives identical logits.

The model trains through its fast path (feature-major fused kernels, see
:mod:`gateflow.nn.kernels`). Inside an initialised process group of more than
one process (``torchrun``, see :mod:`gateflow.train.dist`) training is data-parallel:
every process takes its share of each global batch of ``batch_size`` samples
and DistributedDataParallel averages the gradients, scaled so that the update
is the one a single process computes on the whole batch.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gateflow.data import Dataset, get_dataset
from gateflow.data.encoding import ThermometerEncoder, center_crop_features
from gateflow.nn import LogicNet
from gateflow.nn.kernels import tune_allocator
from gateflow.nn.logic import How, atomic_torch_save
from gateflow.train import dist
from gateflow.train.config import TrainConfig, TrainError, TrainResult
from gateflow.train.monitor import Monitor, ValSplit

log = logging.getLogger(__name__)


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
    if config.encoding == "fixed":
        encoder = ThermometerEncoder.fixed(
            data.num_features,
            config.thresholds or [],
            features,
            values="real" if data.real else "integer",
        )
    elif config.encoding == "quantile":
        encoder = ThermometerEncoder.quantile(data.X_train, config.bits_per_feature, features)
    elif data.real:
        encoder = ThermometerEncoder.uniform_real(data.X_train, config.bits_per_feature, features)
    else:
        lo, hi = int(data.X_train.min()), int(data.X_train.max())
        encoder = ThermometerEncoder.uniform(
            data.num_features, config.bits_per_feature, lo, hi, features
        )
    return encoder.with_names(data.feature_names)


def build_model(
    config: TrainConfig,
    encoder: ThermometerEncoder,
    num_classes: int,
    image: tuple[int, int] | None = None,
) -> LogicNet:
    """The LogicNet of ``config``, or with ``config.conv`` a ConvLogicNet over the
    ``image`` (the dataset's image shape, or the crop)."""
    if config.conv:
        from gateflow.nn.conv import ConvLogicNet

        if image is None:
            raise TrainError("a convolutional network needs an image dataset")
        return ConvLogicNet(  # type: ignore[return-value]
            encoder,
            image,
            config.conv,
            config.widths,
            num_classes,
            tau=config.tau,
            connections=config.connections,
            mode=config.mode,
            residual_init=config.residual_init,
            seed=config.seed,
            temperature=config.temperature,
            candidates=config.candidates,
        )
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
        candidates=config.candidates,
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

    With ``config.val_fraction`` a stratified part of the training split is held out
    (:mod:`gateflow.train.monitor`); the model returned is the best one by discretized
    validation accuracy, and ``config.early_stopping`` can end the run early. The
    history has a point every ``eval_every`` steps (or about 20 with a validation split)
    and at the end.
    """
    config.validate()
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        val = None
        if config.augment or config.val_fraction:
            from gateflow.train.monitor import prepare_data

            if data is None:
                data = get_dataset(config.dataset, config.data_dir, download=config.download)
            data, val = prepare_data(config, data)
        if config.arch != "lgn":
            from gateflow.train.threshold import train_threshold

            if resume:
                raise TrainError(f"resume is not supported for arch {config.arch!r} yet")
            if dist.info().world_size > 1:
                raise TrainError(
                    f"data-parallel training supports arch 'lgn' only, not {config.arch!r}"
                )
            return train_threshold(config, progress, data, val)  # type: ignore[return-value]
        state = Path(state_path) if state_path else None
        return _train(config, progress, data, state, resume, val)
    finally:
        torch.set_num_threads(threads_before)


def _save_state(path: Path, config: TrainConfig, step: int, model, optimizer, scheduler,
                batch_gen: torch.Generator, perm: torch.Tensor,
                monitor: dict[str, Any]) -> None:  # fmt: skip
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
        "monitor": monitor,
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
    val: ValSplit | None = None,
) -> tuple[LogicNet, TrainResult]:
    seed_everything(config.seed)
    me = dist.info()
    device = dist.device(config.device) if me.world_size > 1 else resolve_device(config.device)
    if device.type == "cpu":
        tune_allocator()
    if data is None:
        data = get_dataset(config.dataset, config.data_dir, download=config.download)
    encoder = make_encoder(config, data)
    image = (config.crop, config.crop) if config.crop else data.shape
    model = build_model(config, encoder, data.num_classes, image).to(device)
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
    monitor = Monitor(config, model, data, val, steps, evaluate)
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
        monitor.load_state_dict(state.get("monitor") or {})
        log.info("resuming from %s after step %d", state_path, first - 1)
    start = time.perf_counter()
    show = progress and me.is_main
    bar = tqdm(total=steps, initial=first - 1, desc="train", unit="step",
               disable=None if show else True)  # fmt: skip
    model.train()
    last = first - 1
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
        last = step
        stop = monitor.due(step) and monitor.record(step, loss_value)
        if (
            state_path is not None
            and config.checkpoint_every
            and me.is_main
            and (step % config.checkpoint_every == 0 or step == steps or stop)
        ):
            _save_state(state_path, config, step, model, optimizer, scheduler, batch_gen, perm,
                        monitor.state_dict())  # fmt: skip
        bar.update(1)
        if step % 50 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss_value:.3f}")
        if stop:
            break
    bar.close()
    seconds = time.perf_counter() - start

    monitor.finish()
    model.eval()
    accs = {
        f"{split}_acc_{how}": evaluate(model, X, y, how)  # type: ignore[arg-type]
        for split, X, y in (
            ("train", data.X_train, data.y_train),
            ("test", data.X_test, data.y_test),
        )
        for how in ("soft", "hard")
    }
    result = TrainResult(
        **accs,
        steps=last,
        seconds=seconds,
        num_gates=model.num_gates,
        num_input_bits=encoder.num_bits,
        final_loss=loss_value,
        **monitor.result_fields(last),
    )
    log.info(
        "trained %d steps in %.1f s: test accuracy %.4f hard, %.4f soft; train %.4f hard",
        steps, seconds, result.test_acc_hard, result.test_acc_soft, result.train_acc_hard,
    )  # fmt: skip
    return model, result
