"""Binary-threshold networks: integer weights, binary activations, integer thresholds.

Three families share one eval-mode semantics. A layer of ``out`` neurons over
``in`` binary inputs ``x`` (each exactly 0 or 1) is described by integer weights
``W`` (int64 [out, in]) and integer thresholds ``T`` (int64 [out])::

    y[n, i] = 1  iff  sum_j W[i, j] * x[n, j] >= T[i]      (else 0)

:meth:`ThresholdLayer.integer_description` returns ``(W, T)`` as a
:class:`ThresholdSpec`; its ``mask`` (``W != 0``) gives the connections. In
eval mode the forward computes exactly this: the products are integers, summed
in float64 (exact while ``in * max|W| < 2**53``, checked at construction) and
compared with the integer ``T``, so the result is the same for every input
float dtype, with no rounding ambiguity. Outputs are 0.0/1.0 in the input dtype.

Training uses the same forward *values* (hard binarized weights and hard
steps: ``pre >= t`` for a real threshold ``t`` equals ``pre >= ceil(t)`` for an
integer ``pre``, so the trained network is the eval network) with
straight-through gradients:

* weights/bits: latent reals in [0, 1], value ``latent >= 0.5``, gradient as
  if the value were the latent itself (clipped back to [0, 1] after each
  optimizer step by :meth:`ThresholdNet.constrain_`);
* steps: gradient of ``sigmoid((pre - t) / scale)``, ``scale`` a per-neuron
  buffer set by :meth:`ThresholdNet.calibrate` (pre-activation spread).

Families:

* :class:`BinaryLinear` ({0,1} weights, "Learning Digital Circuits"):
  ``W[i, j] = 1`` iff latent ``>= 0.5``; ``y = popcount(x & mask) >= T``.
* :class:`BitLinear` (bit-wise trained integer weights): ``bits``-bit two's
  complement, ``W = -2**(B-1) * b[B-1] + sum_{k<B-1} 2**k * b[k]``; only the
  ``trained_bits`` most significant bits are parameters, the lower ones are 0
  (so ``W`` is a multiple of ``2**(B - trained_bits)``).
* :class:`SwitchedLinear` (switcher masks, "Explore the knowledge contained in
  network weights"): ternary-style integer weights ``q = round(clamp(w, -1, 1)
  * levels)`` gated by on/off switches that a small shared :class:`Switcher`
  network computes from the weights: ``W = switch * q``.

A network (:class:`ThresholdNet`) is input bits -> threshold layers ->
:class:`~gateflow.nn.logic.GroupSum`: class ``c``'s score is the popcount of
output bits ``c*k .. c*k+k-1`` (an integer count in eval mode).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gateflow.nn.logic import GroupSum, ModelError

log = logging.getLogger(__name__)

EXACT_LIMIT = 2**53  # float64 sums of integers are exact below this magnitude


@dataclass(frozen=True)
class ThresholdSpec:
    """Eval-mode integer description of one layer: ``y = (x @ weight.T >= threshold)``.

    Attributes:
        weight: int64 [out, in] integer weights (0/1 for :class:`BinaryLinear`).
        threshold: int64 [out] integer thresholds.
    """

    weight: np.ndarray
    threshold: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Connections: bool [out, in], ``weight != 0``."""
        return self.weight != 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Pure integer reference: 0/1 ``x`` [batch, in] -> int64 0/1 [batch, out]."""
        pre = np.asarray(x, dtype=np.int64) @ self.weight.T
        return (pre >= self.threshold).astype(np.int64)


def _ste_binary(latent: torch.Tensor) -> torch.Tensor:
    """Value ``latent >= 0.5`` (0.0/1.0), straight-through (identity) gradient."""
    hard = (latent >= 0.5).to(latent.dtype)
    return hard + (latent - latent.detach())


# ------------------------------------------------------------------ layers
class ThresholdLayer(nn.Module):
    """Base of the binary-threshold layers (see the module docstring for the semantics).

    Subclasses define :meth:`train_weight` (integer-valued float weights with
    straight-through gradients), :meth:`int_weight` (the same values as int64,
    no gradient), :meth:`max_abs_weight`, :meth:`penalty` and :meth:`constrain_`.
    """

    scale: torch.Tensor

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ModelError(f"layer sizes must be >= 1, got {in_features} -> {out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.threshold = nn.Parameter(torch.zeros(out_features))
        self.register_buffer("scale", torch.full((out_features,), max(1.0, in_features**0.5 / 2)))

    def _check_exact(self) -> None:
        if self.in_features * self.max_abs_weight() >= EXACT_LIMIT:
            raise ModelError("fan-in times the largest weight must stay below 2**53")

    # -- subclass interface
    def train_weight(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def int_weight(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_abs_weight(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def penalty(self) -> torch.Tensor:
        """Sparsity regulariser (a mean over the layer's weights); 0 by default."""
        return self.threshold.new_zeros(())

    @torch.no_grad()
    def constrain_(self) -> None:
        """Project the latent parameters back to their domain after an optimizer step."""

    # -- shared
    @torch.no_grad()
    def int_thresholds(self) -> torch.Tensor:
        """Integer thresholds ``T = ceil(t)``: int64 [out]."""
        return torch.ceil(self.threshold.detach()).to(torch.int64)

    @torch.no_grad()
    def integer_description(self) -> ThresholdSpec:
        """The eval-mode layer as integers: ``y = (x @ W.T >= T)``."""
        return ThresholdSpec(
            weight=self.int_weight().cpu().numpy().astype(np.int64),
            threshold=self.int_thresholds().cpu().numpy().astype(np.int64),
        )

    @torch.no_grad()
    def sparsity(self) -> float:
        """Fraction of zero integer weights."""
        return float((self.int_weight() == 0).double().mean())

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """Training pre-activation ``x @ W.T`` (integer-valued, differentiable)."""
        return x @ self.train_weight().t()

    def forward(self, x: torch.Tensor, one: float = 1.0) -> torch.Tensor:
        """``x``: [batch, in] of 0/1 -> [batch, out] of 0.0/1.0.

        Training mode: hard step forward, sigmoid straight-through gradient.
        Eval mode: exact integer maths (see the module docstring). ``one``
        (eval only) is the value the "one" of the weights is scaled to, the
        weight-invariance experiment: weights ``one * W`` against thresholds
        ``one * (T - 1/2)``, which gives the same outputs as ``one = 1`` for any
        ``one > 0`` (the half-unit margin absorbs floating-point rounding).
        """
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ModelError(f"expected input [batch, {self.in_features}], got {list(x.shape)}")
        if self.training:
            pre = self.preactivation(x)
            t = self.threshold
            hard = (pre >= t).to(pre.dtype)
            soft = torch.sigmoid((pre - t) / self.scale)
            return hard + (soft - soft.detach())
        return self.eval_forward(x, one)

    @torch.no_grad()
    def eval_forward(self, x: torch.Tensor, one: float = 1.0) -> torch.Tensor:
        """Exact integer forward (see :meth:`forward`); input must be 0/1."""
        if not bool(((x == 0) | (x == 1)).all()):
            raise ModelError("eval-mode input must be exactly 0 or 1")
        if one <= 0:
            raise ModelError(f"one must be > 0, got {one}")
        w = self.int_weight().to(device=x.device, dtype=torch.float64)
        t = self.int_thresholds().to(device=x.device, dtype=torch.float64)
        if one == 1.0:
            pre = x.to(torch.float64) @ w.t()
            y = pre >= t
        else:
            y = x.to(torch.float64) @ (w * one).t() >= (t - 0.5) * one
        return y.to(x.dtype if x.is_floating_point() else torch.float32)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}"


class ThresholdNet(nn.Module):
    """Input bits -> threshold layers -> :class:`GroupSum` class scores.

    Eval mode: each layer is exact integer maths and the class scores are the
    integer popcounts of each class's group of final output bits.
    """

    def __init__(self, layers: Sequence[ThresholdLayer], num_classes: int, tau: float) -> None:
        super().__init__()
        if not layers:
            raise ModelError("a network needs at least one layer")
        for prev, nxt in zip(layers[:-1], layers[1:]):
            if prev.out_features != nxt.in_features:
                raise ModelError(f"layer widths do not chain: {prev} then {nxt}")
        if layers[-1].out_features % num_classes:
            raise ModelError(
                f"the last width ({layers[-1].out_features}) must be divisible by "
                f"num_classes ({num_classes})"
            )
        self.layers = nn.ModuleList(layers)
        self.head = GroupSum(num_classes, tau)

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, x: torch.Tensor, one: float = 1.0) -> torch.Tensor:
        """Input bits [batch, in] -> class scores [batch, num_classes]."""
        for layer in self.layers:
            x = layer(x, one)
        return self.head(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode class predictions (argmax ties to the lowest class); mode is restored."""
        was = self.training
        self.eval()
        try:
            return self(x).argmax(dim=-1)
        finally:
            self.train(was)

    def integer_description(self) -> list[ThresholdSpec]:
        """One :class:`ThresholdSpec` per layer, input to output."""
        return [layer.integer_description() for layer in self.layers]

    @torch.no_grad()
    def sparsity(self) -> float:
        """Fraction of zero integer weights over all layers."""
        zeros = sum(int((layer.int_weight() == 0).sum()) for layer in self.layers)
        total = sum(layer.in_features * layer.out_features for layer in self.layers)
        return zeros / total

    def penalty(self) -> torch.Tensor:
        """Mean of the layers' sparsity regularisers."""
        return torch.stack([layer.penalty() for layer in self.layers]).mean()

    @torch.no_grad()
    def constrain_(self) -> None:
        for layer in self.layers:
            layer.constrain_()

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor) -> None:
        """Data-dependent init: per neuron, threshold = median pre-activation on ``x``
        (about half the neurons' outputs are 1) and surrogate scale = its spread."""
        for layer in self.layers:
            pre = layer.preactivation(x)
            layer.threshold.copy_(pre.median(dim=0).values + 0.5)
            layer.scale.copy_(pre.std(dim=0).clamp(min=1.0))
            x = (pre >= layer.threshold).to(x.dtype)


def integer_forward(specs: Sequence[ThresholdSpec], x: np.ndarray, num_classes: int) -> np.ndarray:
    """Numpy integer reference of a whole :class:`ThresholdNet` in eval mode:
    0/1 bits [batch, in] -> int64 class scores [batch, num_classes]."""
    h = np.asarray(x, dtype=np.int64)
    for spec in specs:
        h = spec(h)
    return h.reshape(h.shape[0], num_classes, -1).sum(axis=-1)
