"""Random netlists of any shape, for tests, fuzzing and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateflow.data.encoding import ThermometerEncoder
from gateflow.gates import GATES, NUM_GATES
from gateflow.ir.netlist import (
    MAX_CONV_DEPTH,
    ConvLayer,
    FlattenLayer,
    GroupSum,
    LogicLayer,
    Netlist,
    OrPoolLayer,
    ThresholdLayer,
    validate,
)

LAYER_KINDS = ("logic", "binary", "integer")
KINDS = (*LAYER_KINDS, "mixed")  # mixed: the layer kinds in turn


def random_netlist(
    num_inputs: int,
    widths: list[int],
    num_classes: int,
    seed: int = 0,
    skip_prob: float = 0.0,
    num_raw_features: int | None = None,
    kind: str = "logic",
    fan_in: int = 6,
    weight_bits: int = 4,
) -> Netlist:
    """A valid netlist with random wiring and gates.

    Gates read the previous layer; with probability ``skip_prob`` an operand
    reads any earlier signal instead (as folded netlists do). The head splits
    the last layer into ``num_classes`` contiguous groups (the last width must
    be divisible by it).

    ``kind`` picks the layers: ``logic`` (two-input gates), ``binary`` (threshold
    neurons with weights 1: a popcount of up to ``fan_in`` sources against a
    threshold), ``integer`` (nonzero signed weights of ``weight_bits`` bits) or
    ``mixed`` (the three in turn). Thresholds are drawn mostly inside each
    neuron's range, sometimes outside it (constant neurons).
    """
    if widths and widths[-1] % num_classes:
        raise ValueError("the last width must be divisible by num_classes")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if fan_in < 0 or not 1 <= weight_bits <= 31:
        raise ValueError("fan_in must be >= 0 and weight_bits in 1..31")
    rng = np.random.default_rng(seed)
    raw = num_raw_features or num_inputs
    # thermometer bits over 8-bit raw features: feature-major, thresholds ascending
    feature = np.sort(rng.integers(0, raw, num_inputs)).astype(np.int64)
    threshold = np.zeros(num_inputs, dtype=np.int64)
    for f in np.unique(feature):
        idx = np.flatnonzero(feature == f)
        if idx.size > 255:
            raise ValueError("more than 255 input bits on one 8-bit feature")
        threshold[idx] = np.sort(rng.choice(np.arange(1, 256), size=idx.size, replace=False))
    enc = ThermometerEncoder(num_raw_features=raw, feature=feature, threshold=threshold)
    layers, prev_lo, base = _dense_layers(
        rng, widths, 0, num_inputs, kind, skip_prob, fan_in, weight_bits
    )
    if widths:
        k = widths[-1] // num_classes
        groups = [np.arange(prev_lo + c * k, prev_lo + (c + 1) * k) for c in range(num_classes)]
    else:
        groups = [rng.integers(0, num_inputs, 3) for _ in range(num_classes)]
    return validate(Netlist(enc, layers, GroupSum(groups), {"origin": f"random seed {seed}"}))


def _dense_layers(
    rng: np.random.Generator,
    widths: Sequence[int],
    prev_lo: int,
    base: int,
    kind: str,
    skip_prob: float,
    fan_in: int,
    weight_bits: int,
) -> tuple[list[LogicLayer | ThresholdLayer], int, int]:
    """Random dense layers over the signals below ``base`` (the previous layer starting at
    ``prev_lo``): the layers, the last one's first signal and the next free signal."""
    layers: list[LogicLayer | ThresholdLayer] = []
    for li, w in enumerate(widths):
        layer_kind = LAYER_KINDS[li % 3] if kind == "mixed" else kind
        if layer_kind != "logic":
            layers.append(
                _threshold_layer(rng, layer_kind, w, prev_lo, base, skip_prob, fan_in, weight_bits)
            )
            prev_lo, base = base, base + w
            continue
        a = rng.integers(prev_lo, base, w)
        b = rng.integers(prev_lo, base, w)
        skip = rng.random((2, w)) < skip_prob
        a = np.where(skip[0], rng.integers(0, base, w), a)
        b = np.where(skip[1], rng.integers(0, base, w), b)
        op = rng.integers(0, NUM_GATES, w)
        layers.append(LogicLayer(a=a.astype(np.int64), b=b.astype(np.int64), op=op))
        prev_lo, base = base, base + w
    return layers, prev_lo, base


def _threshold_layer(
    rng: np.random.Generator,
    kind: str,
    width: int,
    prev_lo: int,
    base: int,
    skip_prob: float,
    fan_in: int,
    weight_bits: int,
) -> ThresholdLayer:
    neurons, thresholds = [], []
    top = 2 ** (weight_bits - 1)
    for _ in range(width):
        k = int(rng.integers(0, fan_in + 1))
        src = rng.integers(prev_lo, base, k)
        src = np.where(rng.random(k) < skip_prob, rng.integers(0, base, k), src)
        if kind == "binary":
            w = np.ones(k, dtype=np.int64)
        else:
            w = rng.integers(-top, top, k) if weight_bits > 1 else rng.choice([-1, 1], k)
            w = np.where(w == 0, 1, w)
        lo, hi = int(w[w < 0].sum()), int(w[w > 0].sum())
        if rng.random() < 0.1:  # outside the range: a constant neuron
            t = int(rng.choice([lo - 1, hi + 1]))
        else:
            t = int(rng.integers(lo + 1, hi + 1)) if hi > lo else 1
        neurons.append((src, w))
        thresholds.append(t)
    return ThresholdLayer.from_neurons(neurons, thresholds)


@dataclass(frozen=True)
class ConvSpec:
    """One random conv layer: ``channels`` kernels of ``depth`` gate levels."""

    channels: int
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    depth: int = 2


@dataclass(frozen=True)
class PoolSpec:
    """One OR pooling layer."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)


_TWO_INPUT = np.array([g.id for g in GATES if g.uses_a() and g.uses_b()], dtype=np.int64)


def _tree_gates(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Tree gates: one in four any of the 16, the rest gates that read both operands (so
    that most trees depend on most of their leaves, and some are constant or cut)."""
    anyg = rng.integers(0, NUM_GATES, shape)
    both = _TWO_INPUT[rng.integers(0, _TWO_INPUT.size, shape)]
    return np.where(rng.random(shape) < 0.25, anyg, both).astype(np.int64)


def image_encoder(shape: tuple[int, int, int], rng: np.random.Generator) -> ThermometerEncoder:
    """A thermometer encoder of an [H, W, C] image of 8-bit pixels: C bits per pixel,
    pixel-major (input bit (y*W + x)*C + c), as the first spatial layer reads them."""
    h, w, c = shape
    if not 1 <= c <= 255:
        raise ValueError("an image needs 1..255 bits per pixel")
    feature = np.repeat(np.arange(h * w, dtype=np.int64), c)
    threshold = np.concatenate(
        [np.sort(rng.choice(np.arange(1, 256), size=c, replace=False)) for _ in range(h * w)]
    ).astype(np.int64)
    return ThermometerEncoder(num_raw_features=h * w, feature=feature, threshold=threshold)


def random_conv_netlist(
    image: tuple[int, int, int],
    spatial: Sequence[ConvSpec | PoolSpec],
    widths: Sequence[int],
    num_classes: int,
    seed: int = 0,
    skip_prob: float = 0.0,
    kind: str = "logic",
    fan_in: int = 6,
    weight_bits: int = 4,
) -> Netlist:
    """A valid convolutional netlist (IR version 3) with random kernels, leaves and gates.

    The encoder reads an [H, W, C] image (C thermometer bits per pixel); the spatial
    layers follow ``spatial`` in order (tree gates mostly ones that read both operands),
    then a flatten and the dense layers ``widths`` (as :func:`random_netlist` builds them,
    reading the flattened map, and with ``skip_prob`` any earlier signal, input bits
    included). The head splits the last dense layer into ``num_classes`` groups, or with
    no dense layers draws groups of flatten signals.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if widths and widths[-1] % num_classes:
        raise ValueError("the last width must be divisible by num_classes")
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in image)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError("the image shape must be three positive integers H, W, C")
    enc = image_encoder(shape, rng)  # type: ignore[arg-type]
    layers: list = []
    for spec in spatial:
        if isinstance(spec, PoolSpec):
            layer = OrPoolLayer(in_shape=shape, kernel=spec.kernel, stride=spec.stride)
        else:
            if not 1 <= spec.depth <= MAX_CONV_DEPTH or spec.channels < 1:
                raise ValueError(f"a conv needs channels >= 1 and depth 1..{MAX_CONV_DEPTH}")
            n_leaf, k = 2**spec.depth, spec.channels
            layer = ConvLayer(
                in_shape=shape,
                kernel=spec.kernel,
                stride=spec.stride,
                padding=spec.padding,
                depth=spec.depth,
                leaf_y=rng.integers(0, spec.kernel[0], (k, n_leaf)),
                leaf_x=rng.integers(0, spec.kernel[1], (k, n_leaf)),
                leaf_c=rng.integers(0, shape[2], (k, n_leaf)),
                op=_tree_gates(rng, (k, n_leaf - 1)),
            )
        oh, ow, oc = layer.out_shape
        if oh < 1 or ow < 1:
            raise ValueError(f"a {layer.kind} layer's window does not fit the map {list(shape)}")
        layers.append(layer)
        shape = (oh, ow, oc)
    flat = FlattenLayer(in_shape=shape)  # type: ignore[arg-type]
    layers.append(flat)
    base = enc.num_bits + flat.size
    dense, prev_lo, base = _dense_layers(
        rng, widths, enc.num_bits, base, kind, skip_prob, fan_in, weight_bits
    )
    layers += dense
    if widths:
        k = widths[-1] // num_classes
        groups = [np.arange(prev_lo + c * k, prev_lo + (c + 1) * k) for c in range(num_classes)]
    else:
        groups = [rng.integers(prev_lo, base, 3) for _ in range(num_classes)]
    meta = {"origin": f"random conv seed {seed}"}
    return validate(Netlist(enc, layers, GroupSum(groups), meta))


def parse_spatial(text: str) -> ConvSpec | PoolSpec:
    """A spatial layer from text: ``conv:CHANNELS[,k=K][,s=S][,p=P][,d=D]`` or
    ``pool[:k=K][,s=S]``; K, S and P are ``N`` or ``NxM`` (rows x columns)."""
    name, _, rest = text.partition(":")
    items = [v.strip() for v in rest.split(",") if v.strip()]

    def pair(v: str) -> tuple[int, int]:
        parts = v.lower().split("x")
        if len(parts) == 1:
            parts *= 2
        if len(parts) != 2:
            raise ValueError(f"{v!r} is not N or NxM")
        return (int(parts[0]), int(parts[1]))

    opts: dict[str, str] = {}
    if name == "conv":
        if not items or "=" in items[0]:
            raise ValueError("conv needs its channel count first, e.g. conv:8,k=3,p=1,d=2")
        channels = int(items.pop(0))
    elif name != "pool":
        raise ValueError(f"a spatial layer is conv:... or pool:..., got {text!r}")
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in ("k", "s", "p", "d") or (name == "pool" and key in "pd"):
            raise ValueError(f"unknown {name} option {item!r}")
        opts[key] = value
    try:
        if name == "pool":
            k = pair(opts.get("k", "2"))
            return PoolSpec(kernel=k, stride=pair(opts.get("s", f"{k[0]}x{k[1]}")))
        return ConvSpec(
            channels=channels,
            kernel=pair(opts.get("k", "3")),
            stride=pair(opts.get("s", "1")),
            padding=pair(opts.get("p", "0")),
            depth=int(opts.get("d", "2")),
        )
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
