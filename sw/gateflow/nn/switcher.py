"""Switcher masks ("Explore the knowledge contained in network weights"): a small network
reads the task weights and switches connections on and off; the switcher family of
:mod:`gateflow.nn.threshold`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gateflow.nn.logic import ModelError
from gateflow.nn.threshold import (
    ThresholdLayer,
    ThresholdNet,
)


class Switcher(nn.Module):
    """Small per-weight MLP: a weight's features -> logit of its on/off switch.

    Features of weight ``w[i, j]`` (all read detached: the switcher treats the
    task weights as data): ``w / std(w)``, ``|w|`` over its row's mean ``|w|``
    and over its column's mean ``|w|``. Switch = ``logit >= 0``, straight-through
    gradient of ``sigmoid(logit)``.
    """

    NUM_FEATURES = 3

    def __init__(self, hidden: int = 16, init_on: float = 2.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(self.NUM_FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )
        with torch.no_grad():
            self.net[2].bias.fill_(init_on)  # start with (nearly) every switch on

    @staticmethod
    def features(w: torch.Tensor) -> torch.Tensor:
        w = w.detach()
        a = w.abs()
        eps = 1e-8
        f = (
            w / (w.std() + eps),
            a / (a.mean(dim=1, keepdim=True) + eps),
            a / (a.mean(dim=0, keepdim=True) + eps),
        )
        return torch.stack(f, dim=-1)

    def logits(self, w: torch.Tensor) -> torch.Tensor:
        """Switch logits [out, in] for weights ``w`` [out, in]."""
        return self.net(self.features(w)).squeeze(-1)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """Switches 0.0/1.0 [out, in] with straight-through gradients."""
        z = self.logits(w)
        soft = torch.sigmoid(z)
        return (z >= 0).to(z.dtype) + (soft - soft.detach())


class SwitchedLinear(ThresholdLayer):
    """Integer weights ``q = round(clamp(w, -1, 1) * levels)`` gated by a :class:`Switcher`.

    Eval: ``W = switch * q`` (switch = switcher logit >= 0), ``y[i] = sum_j
    W[i, j] x[j] >= T[i]``, ``T = ceil(t)``. The switcher is shared, not owned:
    it is passed in and kept outside this module's parameters.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        switcher: Switcher,
        levels: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if levels < 1:
            raise ModelError(f"levels must be >= 1, got {levels}")
        self.levels = int(levels)
        self._switcher = [switcher]  # a list: not registered as a submodule
        w = torch.rand(out_features, in_features, generator=generator) * 2 - 1
        self.weight = nn.Parameter(w)
        self._check_exact()

    @property
    def switcher(self) -> Switcher:
        return self._switcher[0]

    def quantized(self) -> torch.Tensor:
        """``round(clamp(w, -1, 1) * levels)`` with a straight-through gradient."""
        v = self.weight.clamp(-1.0, 1.0) * self.levels
        return v + (torch.round(v) - v).detach()

    def train_weight(self) -> torch.Tensor:
        return self.switcher(self.weight) * self.quantized()

    @torch.no_grad()
    def switches(self) -> torch.Tensor:
        """bool [out, in]: the switcher's on/off decisions."""
        return self.switcher.logits(self.weight) >= 0

    @torch.no_grad()
    def int_weight(self) -> torch.Tensor:
        q = torch.round(self.weight.clamp(-1.0, 1.0) * self.levels).to(torch.int64)
        return q * self.switches().to(torch.int64)

    def max_abs_weight(self) -> int:
        return self.levels

    def penalty(self) -> torch.Tensor:
        """Mean switch probability ``sigmoid(logit)``: pulls switches off."""
        return torch.sigmoid(self.switcher.logits(self.weight)).mean()

    @torch.no_grad()
    def constrain_(self) -> None:
        self.weight.clamp_(-1.0, 1.0)


class SwitchedNet(ThresholdNet):
    """:class:`SwitchedLinear` layers sharing one :class:`Switcher` (``self.switcher``)."""

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        num_classes: int,
        levels: int = 1,
        hidden: int = 16,
        tau: float = 4.0,
        seed: int = 0,
    ) -> None:
        gen = torch.Generator().manual_seed(int(seed))
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(seed))
        try:
            switcher = Switcher(hidden)
        finally:
            torch.random.set_rng_state(torch_state)
        dims = [int(in_features), *(int(w) for w in widths)]
        layers = [SwitchedLinear(i, o, switcher, levels, gen) for i, o in zip(dims[:-1], dims[1:])]
        super().__init__(layers, num_classes, tau)
        self.switcher = switcher

    def task_parameters(self) -> list[nn.Parameter]:
        """The task layers' weights and thresholds (not the switcher's)."""
        return [p for layer in self.layers for p in layer.parameters()]
