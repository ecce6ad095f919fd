"""Bit-level integer weights ("Bit-wise training of neural network weights"): every bit
of a weight is a parameter; the bitlevel family of :mod:`gateflow.nn.threshold`."""

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
