"""Random netlists of any shape, for tests, fuzzing and benchmarks."""

from __future__ import annotations

import numpy as np

from .encoding import ThermometerEncoder
from .gates import NUM_GATES
from .ir import GroupSum, LogicLayer, Netlist, validate


def random_netlist(
    num_inputs: int,
    widths: list[int],
    num_classes: int,
    seed: int = 0,
    skip_prob: float = 0.0,
    num_raw_features: int | None = None,
) -> Netlist:
    """A valid netlist with random wiring and gates.

    Gates read the previous layer; with probability ``skip_prob`` an operand
    reads any earlier signal instead (as folded netlists do). The head splits
    the last layer into ``num_classes`` contiguous groups (the last width must
    be divisible by it).
    """
    if widths and widths[-1] % num_classes:
        raise ValueError("the last width must be divisible by num_classes")
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
    for w in widths:
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
