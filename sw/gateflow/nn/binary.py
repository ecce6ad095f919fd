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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
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


class BitLinear(ThresholdLayer):
    """Integer weights trained bit by bit, ``bits``-bit two's complement.

    ``W = -2**(B-1) * b[B-1] + sum_{k=0}^{B-2} 2**k * b[k]`` with bits ``b`` in
    {0, 1}; the ``trained_bits`` most significant bits are parameters (latent
    reals in [0, 1], bit = latent >= 0.5, straight-through), the others are 0.
    Eval: ``y[i] = sum_j W[i, j] x[j] >= T[i]``, ``T = ceil(t)``. ``density``:
    initial probability of each trained bit being 1 (default: latents uniform
    in [0, 1], i.e. 1/2).
    """

    place: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bits: int = 4,
        trained_bits: int | None = None,
        generator: torch.Generator | None = None,
        density: float | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        trained_bits = bits if trained_bits is None else int(trained_bits)
        if bits < 2 or bits > 32 or not 1 <= trained_bits <= bits:
            raise ModelError(f"need 2 <= bits <= 32 and 1 <= trained_bits <= bits, got {bits}")
        if density is not None and not 0.0 < density <= 1.0:
            raise ModelError(f"density must lie in (0, 1], got {density}")
        self.bits, self.trained_bits = int(bits), trained_bits
        # place value of each trained bit, most significant (the sign) first
        places = [-(2 ** (bits - 1))] + [2**k for k in range(bits - 2, -1, -1)]
        self.register_buffer("place", torch.tensor(places[:trained_bits], dtype=torch.float64))
        u = torch.rand(trained_bits, out_features, in_features, generator=generator)
        if density is not None:  # each trained bit is 1 with probability ``density``
            u = (u + density - 0.5).clamp(0.0, 1.0)
        self.latent = nn.Parameter(u)
        self._check_exact()

    def train_weight(self) -> torch.Tensor:
        b = _ste_binary(self.latent)
        return torch.einsum("k,koi->oi", self.place.to(b.dtype), b)

    @torch.no_grad()
    def int_bits(self) -> torch.Tensor:
        """All ``bits`` bits, int64 [bits, out, in], index ``k`` = place ``2**k``."""
        out = torch.zeros(self.bits, self.out_features, self.in_features, dtype=torch.int64)
        trained = (self.latent >= 0.5).to(torch.int64).cpu()
        for r in range(self.trained_bits):  # trained bit r has place 2**(bits-1-r)
            out[self.bits - 1 - r] = trained[r]
        return out

    @torch.no_grad()
    def int_weight(self) -> torch.Tensor:
        b = (self.latent >= 0.5).to(torch.int64)
        place = self.place.to(torch.int64).to(b.device)
        return (place[:, None, None] * b).sum(dim=0)

    def max_abs_weight(self) -> int:
        return 2 ** (self.bits - 1)

    @torch.no_grad()
    def bit_sparsity(self) -> float:
        """Fraction of zero bits among all ``bits`` bits of every weight (fixed ones included)."""
        ones = float((self.latent >= 0.5).double().sum())
        return 1.0 - ones / (self.bits * self.out_features * self.in_features)

    def penalty(self) -> torch.Tensor:
        """Mean latent bit value: pulls bits (hence weights) to 0."""
        return self.latent.mean()

    @torch.no_grad()
    def constrain_(self) -> None:
        self.latent.clamp_(0.0, 1.0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bits={self.bits}, trained_bits={self.trained_bits}"


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


# ------------------------------------------------------------------ networks
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


class BitNet(ThresholdNet):
    """:class:`BitLinear` layers of ``widths`` over ``in_features`` input bits."""

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        num_classes: int,
        bits: int = 4,
        trained_bits: int | None = None,
        tau: float = 4.0,
        seed: int = 0,
        density: float | None = None,
    ) -> None:
        gen = torch.Generator().manual_seed(int(seed))
        dims = [int(in_features), *(int(w) for w in widths)]
        layers = [
            BitLinear(i, o, bits, trained_bits, gen, density) for i, o in zip(dims[:-1], dims[1:])
        ]
        super().__init__(layers, num_classes, tau)

    @torch.no_grad()
    def bit_sparsity(self) -> float:
        """Fraction of zero bits over all layers (all ``bits`` bits of every weight)."""
        layers = [layer for layer in self.layers if isinstance(layer, BitLinear)]
        total = sum(layer.bits * layer.in_features * layer.out_features for layer in layers)
        zeros = sum(
            layer.bit_sparsity() * layer.bits * layer.in_features * layer.out_features
            for layer in layers
        )
        return zeros / total


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


# ------------------------------------------------------------------ training
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
    learning rate (default ``lr``).
    """
    gen = _start(net, x, batch_size, seed, calibrate)
    thresholds = {id(layer.threshold) for layer in net.layers}
    opt = torch.optim.Adam(_param_groups(list(net.parameters()), thresholds, lr, threshold_lr))
    losses = _optimise(net, x, y, [opt], lambda step: opt, gen, steps, batch_size,
                       sparsity_weight, sparsity_ramp, lr_schedule, final_lr)  # fmt: skip
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
) -> list[float]:
    """The training loop of :func:`fit` and :func:`train_switcher`: cross-entropy plus
    the ramped penalty; ``stepping(step)`` is the optimizer that steps (the schedule
    scales every one). Returns the per-step task losses; leaves ``net`` in eval mode."""
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
) -> list[float]:
    """Alternating optimisation of one objective, cross-entropy + ``sparsity_weight`` *
    mean switch probability: even steps update the task layers (weights and
    thresholds) with the switcher fixed, odd steps update the switcher with the
    task layers fixed. Returns the per-step task losses; leaves ``net`` in eval mode.
    ``sparsity_ramp``, ``lr_schedule``, ``final_lr`` and ``threshold_lr`` are as in
    :func:`fit` (the schedule scales both learning rates).
    """
    gen = _start(net, x, batch_size, seed, calibrate)
    thresholds = {id(layer.threshold) for layer in net.layers}
    task_opt = torch.optim.Adam(_param_groups(net.task_parameters(), thresholds, lr, threshold_lr))
    switch_opt = torch.optim.Adam(
        [{"params": list(net.switcher.parameters()), "lr": switcher_lr, "base_lr": switcher_lr}]
    )
    losses = _optimise(
        net, x, y, [task_opt, switch_opt], lambda step: switch_opt if step % 2 else task_opt,
        gen, steps, batch_size, sparsity_weight, sparsity_ramp, lr_schedule, final_lr,
    )  # fmt: skip
    log.debug(
        "train_switcher: %d steps, final loss %.4f, sparsity %.4f",
        steps,
        losses[-1],
        net.sparsity(),
    )
    return losses


def integer_forward(specs: Sequence[ThresholdSpec], x: np.ndarray, num_classes: int) -> np.ndarray:
    """Numpy integer reference of a whole :class:`ThresholdNet` in eval mode:
    0/1 bits [batch, in] -> int64 class scores [batch, num_classes]."""
    h = np.asarray(x, dtype=np.int64)
    for spec in specs:
        h = spec(h)
    return h.reshape(h.shape[0], num_classes, -1).sum(axis=-1)


__all__ = [
    "BinaryLinear",
    "BinaryNet",
    "BitLinear",
    "BitNet",
    "SwitchedLinear",
    "SwitchedNet",
    "Switcher",
    "ThresholdLayer",
    "ThresholdNet",
    "ThresholdSpec",
    "fit",
    "integer_forward",
    "train_switcher",
]
