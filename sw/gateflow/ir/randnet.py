"""Random netlists of any shape, for tests, fuzzing and benchmarks."""

from __future__ import annotations

import numpy as np

from gateflow.data.encoding import ThermometerEncoder
from gateflow.gates import NUM_GATES
from gateflow.ir.netlist import GroupSum, LogicLayer, Netlist, ThresholdLayer, validate

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
    layers = []
    prev_lo, base = 0, num_inputs
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
    if widths:
        k = widths[-1] // num_classes
        groups = [np.arange(prev_lo + c * k, prev_lo + (c + 1) * k) for c in range(num_classes)]
    else:
        groups = [rng.integers(0, num_inputs, 3) for _ in range(num_classes)]
    return validate(Netlist(enc, layers, GroupSum(groups), {"origin": f"random seed {seed}"}))


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
