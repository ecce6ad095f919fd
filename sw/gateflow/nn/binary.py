"""{0,1}-weight threshold layers and networks ("Learning Digital Circuits"): the
binary family of :mod:`gateflow.nn.threshold`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gateflow.nn.logic import ModelError
from gateflow.nn.threshold import (
    ThresholdLayer,
    ThresholdNet,
    _ste_binary,
)


class BinaryLinear(ThresholdLayer):
    """{0,1} weights: ``W = latent >= 0.5``, latent weights clipped to [0, 1].

    Eval: ``y[i] = popcount(x & mask[i]) >= T[i]``, ``mask = W == 1``,
    ``T = ceil(t)``. ``density``: initial probability of a weight being 1.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        density: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if not 0.0 < density <= 1.0:
            raise ModelError(f"density must lie in (0, 1], got {density}")
        u = torch.rand(out_features, in_features, generator=generator)
        self.weight = nn.Parameter((u + density - 0.5).clamp(0.0, 1.0))
        self.threshold.data.fill_(density * in_features / 4)
        self._check_exact()

    def train_weight(self) -> torch.Tensor:
        return _ste_binary(self.weight)

    @torch.no_grad()
    def int_weight(self) -> torch.Tensor:
        return (self.weight >= 0.5).to(torch.int64)

    @torch.no_grad()
    def mask(self) -> torch.Tensor:
        """Connections: bool [out, in]."""
        return self.weight >= 0.5

    def max_abs_weight(self) -> int:
        return 1

    def penalty(self) -> torch.Tensor:
        """L1 of the latent weights (they are >= 0), averaged: pulls weights to 0."""
        return self.weight.mean()

    @torch.no_grad()
    def constrain_(self) -> None:
        self.weight.clamp_(0.0, 1.0)


class BinaryNet(ThresholdNet):
    """:class:`BinaryLinear` layers of ``widths`` over ``in_features`` input bits."""

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        num_classes: int,
        tau: float = 4.0,
        density: float = 0.5,
        seed: int = 0,
    ) -> None:
        gen = torch.Generator().manual_seed(int(seed))
        dims = [int(in_features), *(int(w) for w in widths)]
        layers = [BinaryLinear(i, o, density, gen) for i, o in zip(dims[:-1], dims[1:])]
        super().__init__(layers, num_classes, tau)
