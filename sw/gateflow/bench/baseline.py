"""The reference library's CPU formulation of a logic gate network, for comparison.

This is difflogic's pure-PyTorch path (the one it uses without its CUDA kernel):
batch-major activations, each neuron's output the sum over the 16 gates of its
softmax weight times the gate's real-valued form, differentiated by plain
autograd. It is kept faithful on purpose (the gate expressions as that library
writes them, a running sum over the gates); benchmarks time it side by side
with gateflow's training path. Wiring and initial logits come from a
:class:`gateflow.nn.LogicNet`, so both sides train the same network.
"""

from __future__ import annotations

import torch
from torch import nn


def bin_op(a: torch.Tensor, b: torch.Tensor, i: int) -> torch.Tensor:
    """Real-valued form of gate ``i`` (difflogic's numbering, as gateflow's)."""
    if i == 0:
        return torch.zeros_like(a)
    if i == 1:
        return a * b
    if i == 2:
        return a - a * b
    if i == 3:
        return a
    if i == 4:
        return b - a * b
    if i == 5:
        return b
    if i == 6:
        return a + b - 2 * a * b
    if i == 7:
        return a + b - a * b
    if i == 8:
        return 1 - (a + b - a * b)
    if i == 9:
        return 1 - (a + b - 2 * a * b)
    if i == 10:
        return 1 - b
    if i == 11:
        return 1 - b + a * b
    if i == 12:
        return 1 - a
    if i == 13:
        return 1 - a + a * b
    if i == 14:
        return 1 - a * b
    if i == 15:
        return torch.ones_like(a)
    raise ValueError(f"no gate {i}")


def bin_op_s(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum_i w[..., i] * bin_op(a, b, i)``: the 16-gate mixture."""
    r = torch.zeros_like(a)
    for i in range(16):
        r = r + w[..., i] * bin_op(a, b, i)
    return r


class BaselineLayer(nn.Module):
    def __init__(self, a: torch.Tensor, b: torch.Tensor, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("idx_a", a.clone())
        self.register_buffer("idx_b", b.clone())
        self.weights = nn.Parameter(logits.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x[..., self.idx_a], x[..., self.idx_b]
        if self.training:
            return bin_op_s(a, b, torch.softmax(self.weights, dim=-1))
        w = torch.nn.functional.one_hot(self.weights.argmax(-1), 16).to(torch.float32)
        return bin_op_s(a, b, w)


class BaselineNet(nn.Module):
    """Encoder bits -> difflogic layers -> GroupSum / tau, built from a LogicNet."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.layers = nn.ModuleList(
            BaselineLayer(layer.a, layer.b, layer.logits) for layer in model.layers
        )
        self.num_classes = model.head.num_classes
        self.tau = model.head.tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        for layer in self.layers:
            h = layer(h)
        s = h.reshape(*h.shape[:-1], self.num_classes, -1).sum(-1)
        return s / self.tau
