"""Training of the binary-threshold families: ``arch`` binary, bitlevel or switcher.

The dataset is encoded once by the thermometer encoder (as for logic gate
networks), the :class:`~gateflow.nn.threshold_model.ThresholdModel` trains with
:func:`fit` (the switcher family alternates task and
switcher steps with :func:`train_switcher`), and the
accuracies are measured in eval mode, where the network computes exact integers.
A threshold network computes the same values in training and in eval mode, so
its "soft" and "hard" accuracies are the same figure.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gateflow.data import Dataset, get_dataset
from gateflow.nn.bitlevel import BitNet
from gateflow.nn.logic import ModelError
from gateflow.nn.switcher import SwitchedNet
from gateflow.nn.threshold import ThresholdNet
from gateflow.nn.threshold_model import ThresholdModel
from gateflow.train.config import TrainConfig, TrainError, TrainResult
from gateflow.train.logic import evaluate, make_encoder, resolve_device, seed_everything
from gateflow.train.monitor import Monitor, ValSplit, prepare_data

log = logging.getLogger(__name__)

Callback = Callable[[int, float], bool]  # (step from 1, task loss) -> stop here


def model_options(config: TrainConfig) -> dict[str, Any]:
    """The family's constructor arguments from ``config``."""
    common = {"tau": config.tau, "seed": config.seed}
    if config.arch == "binary":
        return {**common, "density": config.density}
    if config.arch == "bitlevel":
        return {
            **common,
            "bits": config.weight_bits,
            "trained_bits": config.trained_bits,
            "density": config.density,
        }
    if config.arch == "switcher":
        return {**common, "levels": config.levels, "hidden": config.switcher_hidden}
    raise TrainError(f"{config.arch!r} is not a threshold family")


def build_threshold_model(config: TrainConfig, data: Dataset) -> ThresholdModel:
    encoder = make_encoder(config, data)
    if config.widths[-1] % data.num_classes:
        raise TrainError(
            f"the last width ({config.widths[-1]}) must be a multiple of the "
            f"{data.num_classes} classes"
        )
    return ThresholdModel(
        encoder, config.arch, config.widths, data.num_classes, **model_options(config)
    )


def train_threshold(
    config: TrainConfig,
    progress: bool = True,
    data: Dataset | None = None,
    val: ValSplit | None = None,
) -> tuple[ThresholdModel, TrainResult]:
    """Train the threshold network ``config`` describes; returns it in eval mode.

    ``data`` is what it trains on; ``val`` the held-out validation split
    (:func:`gateflow.train.monitor.prepare_data`; :func:`gateflow.train.logic.train`
    makes both). The history, model selection and early stopping are those of
    :class:`~gateflow.train.monitor.Monitor`."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    if data is None:
        data = get_dataset(config.dataset, config.data_dir, download=config.download)
    if val is None and config.val_fraction:
        data, val = prepare_data(config, data)
    model = build_threshold_model(config, data).to(device)
    log.info(
        "training %s network on %s: %d input bits, widths %s, device %s",
        config.arch, data.name, model.encoder.num_bits, config.widths, device,
    )  # fmt: skip
    with torch.no_grad():
        x = model.encode(torch.as_tensor(data.X_train, device=device))
    y = torch.as_tensor(data.y_train, device=device)
    n = len(y)
    batch_size = min(config.batch_size, n)
    steps = (
        config.epochs * math.ceil(n / batch_size)
        if config.epochs is not None
        else int(config.steps or 0)
    )
    kwargs = {
        "steps": steps,
        "lr": config.lr,
        "batch_size": batch_size,
        "sparsity_weight": config.sparsity,
        "sparsity_ramp": config.sparsity_ramp,
        "lr_schedule": config.schedule,
        "seed": config.seed,
    }
    monitor = Monitor(config, model, data, val, steps, evaluate, soft_is_hard=True)

    def watch(step: int, loss: float) -> bool:
        return monitor.due(step) and monitor.record(step, loss)

    start = time.perf_counter()
    if config.arch == "switcher":
        losses = train_switcher(
            model.net, x, y, switcher_lr=config.switcher_lr, callback=watch, **kwargs
        )
    else:
        losses = fit(model.net, x, y, callback=watch, **kwargs)
    seconds = time.perf_counter() - start
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        raise TrainError(
            f"training diverged: the loss is {losses[bad]} at step {bad + 1} "
            f"(try a lower --lr than {config.lr:g})"
        )
    monitor.finish()
    model.eval()
    train_acc = evaluate(model, data.X_train, data.y_train)
    test_acc = evaluate(model, data.X_test, data.y_test)
    net = model.net
    result = TrainResult(
        train_acc_soft=train_acc,
        train_acc_hard=train_acc,
        test_acc_soft=test_acc,
        test_acc_hard=test_acc,
        steps=len(losses),
        seconds=seconds,
        num_gates=model.num_gates,
        num_input_bits=model.encoder.num_bits,
        final_loss=losses[-1] if losses else float("nan"),
        **monitor.result_fields(len(losses)),
        sparsity=net.sparsity(),
        bit_sparsity=net.bit_sparsity() if isinstance(net, BitNet) else None,
    )
    log.info(
        "trained %d steps in %.1f s: test accuracy %.4f, %.2f%% zero weights",
        steps, seconds, test_acc, 100 * result.sparsity,
    )  # fmt: skip
    return model, result


# ------------------------------------------------------------------ the loop
def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    while len(out) < steps:
        perm = torch.randperm(n, generator=generator)
        out.extend(perm[i : i + batch_size] for i in range(0, n, batch_size))
    return out[:steps]


def _schedule(kind: str, step: int, steps: int, final: float) -> float:
    """Learning-rate factor at ``step`` of ``steps``: ``"constant"`` (1), ``"cosine"``
    (1 down to ``final``) or ``"linear"`` (1 down to ``final``)."""
    if kind == "constant" or steps <= 1:
        return 1.0
    frac = step / (steps - 1)
    if kind == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + float(np.cos(np.pi * frac)))
    if kind == "linear":
        return 1.0 + (final - 1.0) * frac
    raise ModelError(f"unknown lr_schedule {kind!r} (constant, cosine or linear)")


def _ramp(step: int, steps: int, ramp: float) -> float:
    """Penalty factor: linear from 0 to 1 over the first ``ramp`` fraction of the steps."""
    if not 0.0 <= ramp <= 1.0:
        raise ModelError(f"sparsity_ramp must lie in [0, 1], got {ramp}")
    if ramp == 0.0:
        return 1.0
    return min(1.0, (step + 1) / (ramp * steps))


def _param_groups(
    params: Sequence[nn.Parameter], thresholds: set[int], lr: float, threshold_lr: float | None
) -> list[dict]:
    """Adam groups: the thresholds at ``threshold_lr`` (default ``lr``), the rest at ``lr``."""
    rest = [p for p in params if id(p) not in thresholds]
    ths = [p for p in params if id(p) in thresholds]
    groups = [{"params": rest, "lr": lr, "base_lr": lr}]
    if ths:
        t_lr = lr if threshold_lr is None else float(threshold_lr)
        groups.append({"params": ths, "lr": t_lr, "base_lr": t_lr})
    return groups


def _set_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    for group in opt.param_groups:
        group["lr"] = group["base_lr"] * factor


def fit(
    net: ThresholdNet,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 300,
    lr: float = 0.01,
    batch_size: int = 128,
    sparsity_weight: float = 0.0,
    seed: int = 0,
    calibrate: bool = True,
    sparsity_ramp: float = 0.0,
    lr_schedule: str = "constant",
    final_lr: float = 0.0,
    threshold_lr: float | None = None,
    callback: Callback | None = None,
) -> list[float]:
    """Adam on cross-entropy(scores / tau) + ``sparsity_weight * net.penalty()``.

    ``x``: input bits [n, in] (float 0/1), ``y``: labels [n]. Latent parameters
    are projected back after every step. Returns the per-step task losses; the
    network is left in eval mode.

    Schedules (the defaults reproduce plain constant-rate training):
    ``sparsity_ramp`` (fraction of the steps, in [0, 1]) ramps the penalty
    weight linearly from 0 up to ``sparsity_weight``; ``lr_schedule``
    (``"constant"``, ``"cosine"`` or ``"linear"``) decays the learning rates to
    ``final_lr`` times their start; ``threshold_lr`` is the thresholds' own
    learning rate (default ``lr``). ``callback(step, loss)`` runs after every step
    (``step`` counts from 1); when it returns True training stops there.
    """
    gen = _start(net, x, batch_size, seed, calibrate)
    thresholds = {id(layer.threshold) for layer in net.layers}
    opt = torch.optim.Adam(_param_groups(list(net.parameters()), thresholds, lr, threshold_lr))
    losses = _optimise(net, x, y, [opt], lambda step: opt, gen, steps, batch_size,
                       sparsity_weight, sparsity_ramp, lr_schedule, final_lr,
                       callback)  # fmt: skip
    log.debug("fit: %d steps, final loss %.4f, sparsity %.4f", steps, losses[-1], net.sparsity())
    return losses


def _start(
    net: ThresholdNet, x: torch.Tensor, batch_size: int, seed: int, calibrate: bool
) -> torch.Generator:
    """The batch generator of a run, after the data-dependent threshold init."""
    gen = torch.Generator().manual_seed(int(seed))
    if calibrate:
        net.calibrate(x[torch.randperm(len(x), generator=gen)[: 4 * batch_size]])
    return gen


def _optimise(
    net: ThresholdNet,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizers: Sequence[torch.optim.Optimizer],
    stepping: Callable[[int], torch.optim.Optimizer],
    gen: torch.Generator,
    steps: int,
    batch_size: int,
    sparsity_weight: float,
    sparsity_ramp: float,
    lr_schedule: str,
    final_lr: float,
    callback: Callback | None = None,
) -> list[float]:
    """The training loop of :func:`fit` and :func:`train_switcher`: cross-entropy plus
    the ramped penalty; ``stepping(step)`` is the optimizer that steps (the schedule
    scales every one); ``callback(step + 1, loss)`` after each step, True ends the loop.
    Returns the per-step task losses; leaves ``net`` in eval mode."""
    net.train()
    losses: list[float] = []
    for step, idx in enumerate(_batches(len(x), batch_size, steps, gen)):
        factor = _schedule(lr_schedule, step, steps, final_lr)
        for opt in optimizers:
            _set_lr(opt, factor)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        weight = sparsity_weight * _ramp(step, steps, sparsity_ramp)
        total = loss + weight * net.penalty() if weight else loss
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        total.backward()
        stepping(step).step()
        net.constrain_()
        losses.append(float(loss.detach()))
        if callback is not None and callback(step + 1, losses[-1]):
            break
    net.eval()
    return losses


def train_switcher(
    net: SwitchedNet,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 300,
    lr: float = 0.01,
    switcher_lr: float = 0.01,
    batch_size: int = 128,
    sparsity_weight: float = 0.1,
    seed: int = 0,
    calibrate: bool = True,
    sparsity_ramp: float = 0.0,
    lr_schedule: str = "constant",
    final_lr: float = 0.0,
    threshold_lr: float | None = None,
    callback: Callback | None = None,
) -> list[float]:
    """Alternating optimisation of one objective, cross-entropy + ``sparsity_weight`` *
    mean switch probability: even steps update the task layers (weights and
    thresholds) with the switcher fixed, odd steps update the switcher with the
    task layers fixed. Returns the per-step task losses; leaves ``net`` in eval mode.
    ``sparsity_ramp``, ``lr_schedule``, ``final_lr`` and ``threshold_lr`` are as in
    :func:`fit` (the schedule scales both learning rates), and so is ``callback``.
    """
    gen = _start(net, x, batch_size, seed, calibrate)
    thresholds = {id(layer.threshold) for layer in net.layers}
    task_opt = torch.optim.Adam(_param_groups(net.task_parameters(), thresholds, lr, threshold_lr))
    switch_opt = torch.optim.Adam(
        [{"params": list(net.switcher.parameters()), "lr": switcher_lr, "base_lr": switcher_lr}]
    )
    losses = _optimise(
        net, x, y, [task_opt, switch_opt], lambda step: switch_opt if step % 2 else task_opt,
        gen, steps, batch_size, sparsity_weight, sparsity_ramp, lr_schedule, final_lr, callback,
    )  # fmt: skip
    log.debug(
        "train_switcher: %d steps, final loss %.4f, sparsity %.4f",
        steps,
        losses[-1],
        net.sparsity(),
    )
    return losses
