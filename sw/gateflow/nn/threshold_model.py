"""A threshold network with its input encoder: raw features in, class scores out.

:class:`ThresholdModel` is to the binary-threshold families what
:class:`~gateflow.nn.logic.LogicNet` is to logic gate networks: the thermometer
encoder (:class:`~gateflow.nn.encoding.Thermometer`) in front of a
:class:`~gateflow.nn.threshold.ThresholdNet`, so ``model(x_raw)`` gives the class
scores, ``save``/``load`` round-trip it, and :func:`gateflow.train.export.export`
turns it into IR threshold layers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gateflow.data.encoding import EncodingError, ThermometerEncoder
from gateflow.nn.binary import BinaryNet
from gateflow.nn.bitlevel import BitNet
from gateflow.nn.encoding import Thermometer
from gateflow.nn.logic import ModelError, atomic_torch_save, read_checkpoint
from gateflow.nn.switcher import SwitchedNet
from gateflow.nn.threshold import ThresholdNet

ARCHS = ("binary", "bitlevel", "switcher")
MODEL_FORMAT = "gateflow.threshold_model"
MODEL_VERSION = 1


def build_net(
    arch: str, in_features: int, widths: Sequence[int], num_classes: int, **options: Any
) -> ThresholdNet:
    """The :class:`ThresholdNet` of family ``arch`` ("binary", "bitlevel", "switcher").

    ``options`` are the family's constructor arguments (``tau``, ``seed`` and
    ``density`` / ``bits`` and ``trained_bits`` / ``levels`` and ``hidden``)."""
    classes = {"binary": BinaryNet, "bitlevel": BitNet, "switcher": SwitchedNet}
    if arch not in classes:
        raise ModelError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    try:
        return classes[arch](in_features, list(widths), num_classes, **options)
    except TypeError as exc:  # an option the family does not take
        raise ModelError(f"{arch}: {exc}") from None


class ThresholdModel(nn.Module):
    """Thermometer encoder -> threshold layers -> GroupSum.

    ``forward(x_raw)`` takes raw integer features [batch, F]; in eval mode the
    scores are exact integers (the hardware's popcounts). ``config`` holds what
    :meth:`load` needs to rebuild the network.
    """

    def __init__(
        self,
        encoder: ThermometerEncoder,
        arch: str,
        widths: Sequence[int],
        num_classes: int,
        **options: Any,
    ) -> None:
        super().__init__()
        self.encoder = Thermometer(encoder)
        self.arch = arch
        self.net = build_net(arch, encoder.num_bits, widths, num_classes, **options)
        self.config = {
            "arch": arch,
            "widths": [int(w) for w in widths],
            "num_classes": int(num_classes),
            **options,
        }

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    @property
    def num_gates(self) -> int:
        """Neurons (the IR's signals beyond the input bits)."""
        return sum(layer.out_features for layer in self.net.layers)

    @property
    def layers(self) -> nn.ModuleList:
        return self.net.layers

    def encode(self, x_raw: torch.Tensor) -> torch.Tensor:
        return self.encoder(x_raw)

    def forward(self, x_raw: torch.Tensor, how: str | None = None) -> torch.Tensor:
        """Class scores; ``how`` is accepted for LogicNet's interface and ignored: a
        threshold network computes the same values in training and in eval mode."""
        return self.net(self.encoder(x_raw))

    @torch.no_grad()
    def sparsity(self) -> float:
        return self.net.sparsity()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write encoder, config and state_dict atomically (temp file + ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "encoder": self.encoder.to_encoder().to_dict(),
            "config": self.config,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        atomic_torch_save(ckpt, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], map_location: str = "cpu") -> ThresholdModel:
        """Rebuild a model saved by :meth:`save`; returned in eval mode."""
        ckpt = read_checkpoint(path, MODEL_FORMAT, MODEL_VERSION, "threshold-network",
                               map_location)  # fmt: skip
        config = dict(ckpt["config"])
        try:
            encoder = ThermometerEncoder.from_dict(ckpt["encoder"])
            model = cls(encoder, config.pop("arch"), config.pop("widths"),
                        config.pop("num_classes"), **config)  # fmt: skip
            model.load_state_dict(ckpt["state_dict"])
        except (KeyError, TypeError, RuntimeError, EncodingError) as exc:
            raise ModelError(f"{path}: invalid threshold-network checkpoint: {exc}") from None
        return model.eval()
