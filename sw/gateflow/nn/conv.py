"""Convolutional logic gate networks: logic-tree convolutions and OR pooling.

A :class:`LogicTreeConv2d` has ``K`` kernels; each is a complete binary tree of depth
``d`` of learned two-input gates whose ``2**d`` leaves are wired to fixed positions and
channels inside a ``kh x kw`` receptive field. The tree is slid over the image with a
stride and zero padding, so each kernel's ``2**d - 1`` gates are stored once and
evaluated at every output position. :class:`OrPool2d` ORs each window (relaxed as the
maximum, which is exactly OR on 0/1 values). :class:`ConvLogicNet` chains the
thermometer encoder, the convolutions and poolings, a flatten, dense
:class:`~gateflow.nn.logic.LogicLayer` s and GroupSum.

Feature maps are channel-last, ``[batch, H, W, C]``, and flatten in ``(y, x, c)`` order:
the IR's layout (docs/ir.md, spatial layers), so that the exported netlist computes
exactly what eval mode computes.

Two implementations compute the same function. ``forward`` is the readable reference
(batch-major, plain autograd through a gather and the gate polynomials). The fast path,
``forward_fm``, keeps maps feature-major (``[H*W*C, batch]``, rows in flatten order) and
evaluates each tree level as one logic layer over all positions, through the fused
kernels of :mod:`gateflow.nn.kernels` (C++/OpenMP on CPU, torch ops elsewhere): a level's
gates at every position share their kernel's coefficients, so their gradients add up
into the kernel's logits. Tests check the two against each other.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gateflow import gates
from gateflow.data.encoding import ThermometerEncoder
from gateflow.nn.encoding import Thermometer
from gateflow.nn.kernels import logic_layer_fm
from gateflow.nn.logic import (
    CONNECTIONS,
    MODES,
    RESIDUAL_LOGIT,
    GroupSum,
    How,
    LogicLayer,
    ModelError,
    gate_weights,
    read_checkpoint,
    save_checkpoint,
)

CHECKPOINT_FORMAT = "gateflow.convlogicnet"
CHECKPOINT_VERSION = 1
MAX_DEPTH = 4


@dataclass(frozen=True)
class ConvSpec:
    """One convolution stage: ``channels`` kernels of ``kernel x kernel`` receptive
    field, trees of ``depth``, ``stride``, zero ``padding``, then OR pooling of
    ``pool x pool`` with stride ``pool`` (0 or 1: none)."""

    channels: int
    kernel: int = 3
    depth: int = 3
    stride: int = 1
    padding: int = 0
    pool: int = 0

    _RE = re.compile(r"c(\d+)k(\d+)d(\d+)(?:s(\d+))?(?:p(\d+))?(?:o(\d+))?")

    @classmethod
    def parse(cls, text: str) -> list[ConvSpec]:
        """``c16k3d3p1o2,c32k3d3o2``: per stage c<channels> k<kernel> d<depth>, optionally
        s<stride> p<padding> o<OR pool>."""
        out = []
        for part in text.split(","):
            m = cls._RE.fullmatch(part.strip())
            if not m:
                raise ModelError(
                    f"conv stage {part!r}: expected c<channels>k<kernel>d<depth>[s<stride>]"
                    "[p<padding>][o<pool>], e.g. c16k3d3p1o2"
                )
            c, k, d, s, p, o = m.groups()
            out.append(cls(int(c), int(k), int(d), int(s or 1), int(p or 0), int(o or 0)))
        return out

    def text(self) -> str:
        s = f"c{self.channels}k{self.kernel}d{self.depth}"
        s += f"s{self.stride}" if self.stride != 1 else ""
        s += f"p{self.padding}" if self.padding else ""
        return s + (f"o{self.pool}" if self.pool > 1 else "")


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def tree_wiring(
    kernel: tuple[int, int],
    in_channels: int,
    out_channels: int,
    depth: int,
    connections: str,
    generator: torch.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(leaf_y, leaf_x, leaf_c), each int64 [K, 2**depth]: ``random`` draws every leaf
    from the receptive field independently; ``unique`` gives the leaves of one tree
    distinct (y, x, c) places (when the field has enough of them)."""
    kh, kw = kernel
    field = kh * kw * in_channels
    leaves = 2**depth
    if connections == "unique" and field >= leaves:
        scores = torch.rand(out_channels, field, generator=generator)
        pick = scores.argsort(dim=1)[:, :leaves].numpy()
    else:
        pick = torch.randint(field, (out_channels, leaves), generator=generator).numpy()
    pick = pick.astype(np.int64)
    return pick // (kw * in_channels), (pick // in_channels) % kw, pick % in_channels


class LogicTreeConv2d(nn.Module):
    """``K`` logic-tree kernels slid over a channel-last map [batch, H, W, C]."""

    leaf_y: torch.Tensor
    leaf_x: torch.Tensor
    leaf_c: torch.Tensor
    poly: torch.Tensor

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        out_channels: int,
        kernel: int | tuple[int, int] = 3,
        depth: int = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        connections: str = "unique",
        mode: str = "gumbel",
        residual_init: bool = False,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        pair = lambda v: (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))  # noqa: E731
        self.in_shape = tuple(int(v) for v in in_shape)
        self.kernel, self.stride, self.padding = pair(kernel), pair(stride), pair(padding)
        self.out_channels, self.depth = int(out_channels), int(depth)
        self.mode, self.temperature = mode, float(temperature)
        H, W, C = self.in_shape
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ModelError(f"tree depth must lie in 1..{MAX_DEPTH}, got {depth}")
        if self.out_channels < 1 or min(self.kernel) < 1 or min(self.stride) < 1:
            raise ModelError("channels, kernel and stride must be >= 1")
        if mode not in MODES or connections not in CONNECTIONS:
            raise ModelError(f"mode must be one of {MODES} and connections one of {CONNECTIONS}")
        self.out_shape = (
            conv_out(H, self.kernel[0], self.stride[0], self.padding[0]),
            conv_out(W, self.kernel[1], self.stride[1], self.padding[1]),
            self.out_channels,
        )
        if min(self.out_shape) < 1:
            raise ModelError(f"a {self.kernel} kernel does not fit the {H}x{W} map")
        gen = generator or torch.Generator().manual_seed(0)
        ly, lx, lc = tree_wiring(self.kernel, C, self.out_channels, self.depth, connections, gen)
        self.register_buffer("leaf_y", torch.from_numpy(ly))
        self.register_buffer("leaf_x", torch.from_numpy(lx))
        self.register_buffer("leaf_c", torch.from_numpy(lc))
        nodes = 2**self.depth - 1
        if residual_init:
            logits = torch.zeros(self.out_channels, nodes, gates.NUM_GATES)
            logits[..., gates.PASS_A] = RESIDUAL_LOGIT
        else:
            logits = torch.randn(self.out_channels, nodes, gates.NUM_GATES, generator=gen)
        self.logits = nn.Parameter(logits)
        self.register_buffer("poly", torch.from_numpy(gates.poly_matrix().copy()), persistent=False)
        self._index: torch.Tensor | None = None

    @property
    def num_gates(self) -> int:
        """Distinct gates (stored once per kernel)."""
        return self.out_channels * (2**self.depth - 1)

    @property
    def num_unrolled(self) -> int:
        """Gate evaluations per image."""
        return self.out_shape[0] * self.out_shape[1] * self.num_gates

    def ops(self) -> torch.Tensor:
        """Gate of every tree node after discretization: [K, 2**depth - 1]."""
        return self.logits.detach().argmax(dim=-1)

    def gather_index(self, device: torch.device) -> torch.Tensor:
        """Flat indices [H', W', K, 2**d] into the zero-padded map [Hp * Wp * C]."""
        if self._index is None or self._index.device != device:
            H, W, C = self.in_shape
            Wp = W + 2 * self.padding[1]
            Ho, Wo, _ = self.out_shape
            y = torch.arange(Ho, device=device).view(Ho, 1, 1, 1) * self.stride[0]
            x = torch.arange(Wo, device=device).view(1, Wo, 1, 1) * self.stride[1]
            rows = y + self.leaf_y.to(device).view(1, 1, *self.leaf_y.shape)
            cols = x + self.leaf_x.to(device).view(1, 1, *self.leaf_x.shape)
            self._index = (rows * Wp + cols) * C + self.leaf_c.to(device).view(
                1, 1, *self.leaf_c.shape
            )
        return self._index

    def forward(self, x: torch.Tensor, how: How | None = None) -> torch.Tensor:
        """``x``: [batch, H, W, C] in [0, 1] -> [batch, H', W', K]."""
        if how is None:
            how = "train" if self.training else "hard"
        py, px = self.padding
        if py or px:
            x = F.pad(x, (0, 0, px, px, py, py))
        idx = self.gather_index(x.device)
        h = x.reshape(x.shape[0], -1)[:, idx]  # [B, H', W', K, 2**d]
        w = gate_weights(self.logits, how, self.mode, self.temperature)
        c = w @ self.poly.to(w.dtype)  # [K, nodes, 4]
        lo = 0
        for level in range(self.depth):
            n = 2 ** (self.depth - level - 1)
            cl = c[:, lo : lo + n]  # [K, n, 4]
            a, b = h[..., 0::2], h[..., 1::2]
            h = cl[..., 0] + a * (cl[..., 1] + cl[..., 3] * b) + cl[..., 2] * b
            lo += n
        return h.squeeze(-1)

    def fm_plan(self, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
        """Per tree level, (a, b, coefficient index) of its gates at every position, in
        feature-major row order (position, kernel, node). Leaves outside the map read
        row H*W*C, a zero row appended to the input."""
        plan = getattr(self, "_plan", None)
        if plan is not None and plan[0][0].device == device:
            return plan
        H, W, C = self.in_shape
        Ho, Wo, K = self.out_shape
        (sy, sx), (py, px) = self.stride, self.padding
        y = (torch.arange(Ho) * sy - py).view(Ho, 1, 1, 1)
        x = (torch.arange(Wo) * sx - px).view(1, Wo, 1, 1)
        r = y + self.leaf_y.cpu().view(1, 1, *self.leaf_y.shape)
        c = x + self.leaf_x.cpu().view(1, 1, *self.leaf_x.shape)
        inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
        rows = torch.where(inside, (r * W + c) * C + self.leaf_c.cpu().view(1, 1, K, -1), H * W * C)
        rows = rows.reshape(Ho * Wo, K, -1)  # [P, K, 2**d]
        P, nodes = Ho * Wo, 2**self.depth - 1
        kernel = torch.arange(K).view(1, K, 1)
        plan, lo = [], 0
        for level in range(self.depth):
            n = 2 ** (self.depth - level - 1)
            if level == 0:
                a, b = rows[..., 0::2], rows[..., 1::2]
            else:
                base = (torch.arange(P).view(P, 1, 1) * K + kernel) * (2 * n)
                j = torch.arange(n).view(1, 1, n)
                a, b = base + 2 * j, base + 2 * j + 1
            cidx = (kernel * nodes + lo + torch.arange(n).view(1, 1, n)).expand(P, K, n)
            plan.append(tuple(t.reshape(-1).to(device) for t in (a, b, cidx)))
            lo += n
        self._plan = plan
        return plan

    def forward_fm(
        self, x: torch.Tensor, how: How | None = None, backend: str | None = None
    ) -> torch.Tensor:
        """Feature-major: ``x`` [H*W*C, batch] -> [H'*W'*K, batch] (rows in flatten order)."""
        if how is None:
            how = "train" if self.training else "hard"
        if any(self.padding):
            x = torch.cat([x, x.new_zeros(1, x.shape[1])])
        w = gate_weights(self.logits, how, self.mode, self.temperature)
        c = (w @ self.poly.to(w.dtype)).reshape(-1, 4)
        for a, b, cidx in self.fm_plan(x.device):
            x = logic_layer_fm(x, c.index_select(0, cidx), a, b, backend)
        return x

    def extra_repr(self) -> str:
        return (
            f"{self.in_shape} -> {self.out_shape}, kernel={self.kernel}, depth={self.depth}, "
            f"stride={self.stride}, padding={self.padding}, mode={self.mode}"
        )


class OrPool2d(nn.Module):
    """OR over ``kernel`` windows with ``stride`` of a channel-last map (max relaxation)."""

    def __init__(self, in_shape: tuple[int, int, int], kernel: int = 2, stride: int | None = None):
        super().__init__()
        self.in_shape = tuple(int(v) for v in in_shape)
        self.kernel, self.stride = int(kernel), int(stride or kernel)
        H, W, C = self.in_shape
        self.out_shape = (
            conv_out(H, self.kernel, self.stride, 0),
            conv_out(W, self.kernel, self.stride, 0),
            C,
        )
        if min(self.out_shape) < 1:
            raise ModelError(f"a {self.kernel}x{self.kernel} pool does not fit {H}x{W}")

    @property
    def num_unrolled(self) -> int:
        """Two-input OR gates per image."""
        return self.out_shape[0] * self.out_shape[1] * self.out_shape[2] * (self.kernel**2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, H, W, C] -> [batch, H', W', C]: the window maximum (``amax``: tied
        maxima share the gradient, as in :meth:`forward_fm`)."""
        k, s = self.kernel, self.stride
        return x.unfold(1, k, s).unfold(2, k, s).amax(dim=(-2, -1))

    def forward_fm(self, x: torch.Tensor) -> torch.Tensor:
        """Feature-major: [H*W*C, batch] -> [H'*W'*C, batch]."""
        idx = getattr(self, "_index", None)
        if idx is None or idx.device != x.device:
            H, W, C = self.in_shape
            Ho, Wo, _ = self.out_shape
            y = (torch.arange(Ho) * self.stride).view(Ho, 1, 1, 1, 1)
            xx = (torch.arange(Wo) * self.stride).view(1, Wo, 1, 1, 1)
            i = torch.arange(self.kernel).view(1, 1, 1, -1, 1)
            j = torch.arange(self.kernel).view(1, 1, 1, 1, -1)
            c = torch.arange(C).view(1, 1, C, 1, 1)
            idx = (((y + i) * W + xx + j) * C + c).reshape(Ho * Wo * C, -1).to(x.device)
            self._index = idx
        return x[idx].amax(dim=1)

    def extra_repr(self) -> str:
        return f"{self.in_shape} -> {self.out_shape}, kernel={self.kernel}, stride={self.stride}"


class ConvLogicNet(nn.Module):
    """Thermometer -> [logic-tree conv, OR pool]* -> flatten -> logic layers -> GroupSum.

    The encoder's bits form the input map: ``image`` = (H, W) and every pixel must have
    the same number of bits C (a uniform thermometer), bit (y*W + x)*C + c.
    """

    def __init__(
        self,
        encoder: ThermometerEncoder | dict[str, Any],
        image: tuple[int, int] | list[int],
        convs: list[ConvSpec] | list[dict[str, Any]] | str,
        widths: list[int],
        num_classes: int,
        tau: float = 1.0,
        connections: str = "unique",
        mode: str = "gumbel",
        residual_init: bool = False,
        seed: int = 0,
        temperature: float = 1.0,
        candidates: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(encoder, dict):
            encoder = ThermometerEncoder.from_dict(encoder)
        if isinstance(convs, str):
            convs = ConvSpec.parse(convs)
        specs = [c if isinstance(c, ConvSpec) else ConvSpec(**c) for c in convs]
        H, W = (int(v) for v in image)
        if encoder.num_bits % (H * W):
            raise ModelError(
                f"{encoder.num_bits} input bits do not form a {H}x{W} image of equal pixels "
                "(a convolutional network needs the same thresholds for every pixel: "
                "--encoding uniform)"
            )
        C = encoder.num_bits // (H * W)
        counts = np.bincount(encoder.feature, minlength=encoder.num_raw_features)
        if set(counts[np.unique(encoder.feature)].tolist()) != {C}:
            raise ModelError(
                "every pixel needs the same number of thermometer bits (--encoding uniform)"
            )
        if not widths or widths[-1] % num_classes:
            raise ModelError(
                f"the last width must be a multiple of num_classes ({num_classes}), got {widths}"
            )
        self.config: dict[str, Any] = {
            "encoder": encoder.to_dict(),
            "image": [H, W],
            "convs": [asdict(s) for s in specs],
            "widths": [int(w) for w in widths],
            "num_classes": int(num_classes),
            "tau": float(tau),
            "connections": connections,
            "mode": mode,
            "residual_init": bool(residual_init),
            "seed": int(seed),
            "temperature": float(temperature),
        }
        if candidates:  # learned connections of the dense layers (LogicLayer)
            self.config["candidates"] = int(candidates)
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = Thermometer(encoder)
        self.image_shape = (H, W, C)
        stages: list[nn.Module] = []
        shape = self.image_shape
        for s in specs:
            conv = LogicTreeConv2d(shape, s.channels, s.kernel, s.depth, s.stride, s.padding,
                                   connections, mode, residual_init, gen, temperature)  # fmt: skip
            stages.append(conv)
            shape = conv.out_shape
            if s.pool > 1:
                pool = OrPool2d(shape, s.pool)
                stages.append(pool)
                shape = pool.out_shape
        self.stages = nn.ModuleList(stages)
        self.flat_shape = shape
        dims = [int(np.prod(shape)), *widths]
        self.layers = nn.ModuleList(
            LogicLayer(i, o, connections, mode, residual_init, gen, temperature, candidates)
            for i, o in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = GroupSum(num_classes, tau)
        self.impl: str = "fast"
        self.backend: str | None = None

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    @property
    def num_gates(self) -> int:
        """Distinct gates: every kernel tree once, plus the dense gates."""
        convs = sum(m.num_gates for m in self.stages if isinstance(m, LogicTreeConv2d))
        return convs + sum(layer.out_dim for layer in self.layers)

    @property
    def num_unrolled_gates(self) -> int:
        """Two-input gate evaluations per image (conv trees at every position, the OR
        gates of pooling, the dense gates)."""
        return sum(m.num_unrolled for m in self.stages) + sum(
            layer.out_dim for layer in self.layers
        )

    def features(self, x: torch.Tensor, how: How | None = None) -> torch.Tensor:
        """Raw rows [batch, F] -> the flattened last map [batch, H*W*C]."""
        h = self.encoder(x).view(x.shape[0], *self.image_shape)
        for stage in self.stages:
            h = stage(h, how) if isinstance(stage, LogicTreeConv2d) else stage(h)
        return h.reshape(h.shape[0], -1)

    def forward(self, x: torch.Tensor, how: How | None = None) -> torch.Tensor:
        if self.impl == "reference":
            h = self.features(x, how).t().contiguous()
        else:
            h = self.encoder(x).t().contiguous()  # feature-major all the way
            for stage in self.stages:
                if isinstance(stage, LogicTreeConv2d):
                    h = stage.forward_fm(h, how, self.backend)
                else:
                    h = stage.forward_fm(h)
        for layer in self.layers:
            h = layer.forward_fm(h, how, self.backend)
        return self.head.forward_fm(h)

    def set_impl(self, impl: str = "fast", backend: str | None = None) -> ConvLogicNet:
        """ "fast" (feature-major fused kernels) or "reference" (the readable batch-major
        conv code), and the kernel backend; both compute the same model."""
        if impl not in ("fast", "reference"):
            raise ModelError(f"impl must be 'fast' or 'reference', got {impl!r}")
        self.impl, self.backend = impl, backend
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x, how="hard").argmax(dim=-1)

    # ------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write config + state_dict atomically (as LogicNet.save)."""
        save_checkpoint(self, path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)

    @classmethod
    def load(cls, path: str | os.PathLike[str], map_location: str = "cpu") -> ConvLogicNet:
        ckpt = read_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "ConvLogicNet",
                               map_location)  # fmt: skip
        try:
            model = cls(**ckpt["config"])
            model.load_state_dict(ckpt["state_dict"])
        except (TypeError, RuntimeError) as exc:
            raise ModelError(f"{path}: invalid ConvLogicNet checkpoint: {exc}") from None
        return model.eval()
