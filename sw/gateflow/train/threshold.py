"""Training of the binary-threshold families: ``arch`` binary, bitlevel or switcher.

The dataset is encoded once by the thermometer encoder (as for logic gate
networks), the :class:`~gateflow.nn.threshold_model.ThresholdModel` trains with
:func:`gateflow.nn.binary.fit` (the switcher family alternates task and
switcher steps with :func:`gateflow.nn.binary.train_switcher`), and the
accuracies are measured in eval mode, where the network computes exact integers.
A threshold network computes the same values in training and in eval mode, so
its "soft" and "hard" accuracies are the same figure.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch

from gateflow.data import Dataset, get_dataset
from gateflow.nn.binary import BitNet, fit, train_switcher
from gateflow.nn.threshold_model import ThresholdModel
from gateflow.train.config import TrainConfig, TrainError, TrainResult
from gateflow.train.logic import evaluate, make_encoder, resolve_device, seed_everything

log = logging.getLogger(__name__)


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
    config: TrainConfig, progress: bool = True, data: Dataset | None = None
) -> tuple[ThresholdModel, TrainResult]:
    """Train the threshold network ``config`` describes; returns it in eval mode."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    if data is None:
        data = get_dataset(config.dataset, config.data_dir, download=config.download)
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
    start = time.perf_counter()
    if config.arch == "switcher":
        losses = train_switcher(model.net, x, y, switcher_lr=config.switcher_lr, **kwargs)
    else:
        losses = fit(model.net, x, y, **kwargs)
    seconds = time.perf_counter() - start
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        raise TrainError(
            f"training diverged: the loss is {losses[bad]} at step {bad + 1} "
            f"(try a lower --lr than {config.lr:g})"
        )
    model.eval()
    train_acc = evaluate(model, data.X_train, data.y_train)
    test_acc = evaluate(model, data.X_test, data.y_test)
    net = model.net
    result = TrainResult(
        train_acc_soft=train_acc,
        train_acc_hard=train_acc,
        test_acc_soft=test_acc,
        test_acc_hard=test_acc,
        steps=steps,
        seconds=seconds,
        num_gates=model.num_gates,
        num_input_bits=model.encoder.num_bits,
        final_loss=losses[-1] if losses else float("nan"),
        history=[
            {
                "step": steps,
                "loss": losses[-1] if losses else float("nan"),
                "test_acc_hard": test_acc,
                "test_acc_soft": test_acc,
            }
        ],  # fmt: skip
        sparsity=net.sparsity(),
        bit_sparsity=net.bit_sparsity() if isinstance(net, BitNet) else None,
    )
    log.info(
        "trained %d steps in %.1f s: test accuracy %.4f, %.2f%% zero weights",
        steps, seconds, test_acc, 100 * result.sparsity,
    )  # fmt: skip
    return model, result
