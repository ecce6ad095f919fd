"""The netlist IR: the contract between training, the golden model and the hardware.

An IR file is JSON (see docs/ir.md for the full specification). In memory a
:class:`Netlist` holds numpy arrays. Signals are numbered globally: input bits
first (``0 .. num_inputs-1``), then the gates of layer 0, layer 1, ... in order.
A gate may read any signal numbered below its own layer's first gate, so every
netlist is acyclic by construction. :func:`validate` checks all of it; a file
that loads is a file every later stage can rely on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.data.encoding import EncodingError, ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.gates import NUM_GATES

IR_FORMAT = "gateflow-ir"
IR_VERSION = 3  # the newest version; a netlist is written in the oldest that can hold it
IR_VERSIONS = (1, 2, 3)
MAX_SIGNALS = 50_000_000  # refuse absurd sizes before allocating anything
MAX_ENTRIES = 4 * MAX_SIGNALS  # integers in all lists of one IR together
MAX_FILE_BYTES = 2**31  # larger files are refused before they are read
MAX_THRESHOLD = 2**31 - 1
MAX_WEIGHT = 2**31  # threshold-layer weights lie in [-MAX_WEIGHT, MAX_WEIGHT)
MAX_NEURON_SUM = 2**40  # bound on a neuron's sum of |weights| and on |threshold|
MAX_CONV_DEPTH = 4  # a conv kernel is a complete binary tree of 1..MAX_CONV_DEPTH gate levels
MAX_UNROLLED = MAX_SIGNALS  # gate evaluations per sample (spatial layers unrolled), in all
SPATIAL_KINDS = ("conv", "orpool", "flatten")
_MAX_MESSAGE = 300


class IRError(GateflowError):
    """An IR file or object that breaks the specification (a one-line message)."""

    def __init__(self, message: str) -> None:
        line = " ".join(str(message).split())
        if len(line) > _MAX_MESSAGE:
            line = line[: _MAX_MESSAGE - 3] + "..."
        super().__init__(line)


def _show(value: Any) -> str:
    """A short, one-line rendering of a JSON value for an error message."""
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    if isinstance(value, list):
        return f"a list of {len(value)} entries"
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"an integer of {len(str(abs(value)))} digits"
    try:
        return json.dumps(value)[:40]
    except (TypeError, ValueError):
        return type(value).__name__


@dataclass
class LogicLayer:
    """One layer of two-input gates: gate j computes GATES[op[j]](s[a[j]], s[b[j]])."""

    a: np.ndarray  # int64 [n]
    b: np.ndarray  # int64 [n]
    op: np.ndarray  # int64 [n]
    kind: str = field(default="logic", init=False)

    @property
    def size(self) -> int:
        return int(self.op.shape[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "a": [int(v) for v in self.a],
            "b": [int(v) for v in self.b],
            "op": [int(v) for v in self.op],
        }


@dataclass
class ThresholdLayer:
    """One layer of threshold neurons over earlier signals, stored sparse (CSR).

    Neuron j outputs 1 iff ``sum(weight[k] * s[src[k]] for k in ptr[j]..ptr[j+1]-1)
    >= threshold[j]``: integer weights, binary signals, an integer threshold. With
    every weight 1 it is a popcount against a threshold.
    """

    ptr: np.ndarray  # int64 [n+1], ptr[0] = 0, non-decreasing
    src: np.ndarray  # int64 [nnz]
    weight: np.ndarray  # int64 [nnz]
    threshold: np.ndarray  # int64 [n]
    kind: str = field(default="threshold", init=False)

    @property
    def size(self) -> int:
        return int(self.threshold.shape[0])

    @property
    def num_connections(self) -> int:
        return int(self.src.shape[0])

    def neuron(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Neuron j's (sources, weights)."""
        lo, hi = int(self.ptr[j]), int(self.ptr[j + 1])
        return self.src[lo:hi], self.weight[lo:hi]

    def neurons(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """(sources, weights, threshold) of every neuron, in order."""
        for j in range(self.size):
            src, w = self.neuron(j)
            yield src, w, int(self.threshold[j])

    @classmethod
    def from_neurons(
        cls, neurons: Sequence[tuple[Sequence[int], Sequence[int]]], threshold: Sequence[int]
    ) -> ThresholdLayer:
        """From per-neuron (sources, weights) lists and the thresholds."""
        lengths = [len(src) for src, _ in neurons]
        ptr = np.zeros(len(neurons) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(lengths, dtype=np.int64)
        src = [np.asarray(s, dtype=np.int64).reshape(-1) for s, _ in neurons]
        w = [np.asarray(v, dtype=np.int64).reshape(-1) for _, v in neurons]
        return cls(
            ptr=ptr,
            src=np.concatenate(src) if src else np.zeros(0, dtype=np.int64),
            weight=np.concatenate(w) if w else np.zeros(0, dtype=np.int64),
            threshold=np.asarray(threshold, dtype=np.int64).reshape(-1),
        )

    @classmethod
    def from_dense(
        cls, weight: np.ndarray, threshold: np.ndarray, sources: np.ndarray
    ) -> ThresholdLayer:
        """From a dense integer matrix ``weight`` [out, in] over the signals ``sources``
        [in]; zero weights are not connections and are left out."""
        weight = np.asarray(weight, dtype=np.int64)
        rows, cols = np.nonzero(weight)  # row-major order: neuron by neuron
        ptr = np.zeros(weight.shape[0] + 1, dtype=np.int64)
        np.add.at(ptr, rows + 1, 1)
        return cls(
            ptr=np.cumsum(ptr),
            src=np.asarray(sources, dtype=np.int64)[cols],
            weight=weight[rows, cols],
            threshold=np.asarray(threshold, dtype=np.int64).reshape(-1),
        )

    def to_dict(self) -> dict[str, Any]:
        spans = list(zip(self.ptr[:-1].tolist(), self.ptr[1:].tolist()))
        src, w = self.src.tolist(), self.weight.tolist()
        return {
            "kind": self.kind,
            "src": [src[lo:hi] for lo, hi in spans],
            "weight": [w[lo:hi] for lo, hi in spans],
            "threshold": self.threshold.tolist(),
        }


def _pair(value: tuple[int, int] | Sequence[int]) -> tuple[int, int]:
    return (int(value[0]), int(value[1]))


def _window_out(size: int, pad: int, kernel: int, stride: int) -> int:
    """Output positions along one axis: (size + 2*pad - kernel) // stride + 1 (may be < 1)."""
    return (size + 2 * pad - kernel) // stride + 1


@dataclass
class ConvLayer:
    """K kernels, each a complete binary tree of ``depth`` levels of two-input gates, slid
    over an [H, W, C] bit map with zero padding: output map [H', W', K].

    Leaf l of kernel k reads row ``y*sy - py + leaf_y[k, l]``, column ``x*sx - px +
    leaf_x[k, l]``, channel ``leaf_c[k, l]`` (0 outside the map). ``op[k]`` lists the
    tree's gates level by level from the leaves; gate j of the first level reads leaves
    2j (a) and 2j+1 (b), gate j of each next level the previous level's outputs 2j and
    2j+1; the last gate is the root, the kernel's output. The outputs are not signals:
    only the next spatial layer reads them.
    """

    in_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    depth: int
    leaf_y: np.ndarray  # int64 [K, 2**depth]
    leaf_x: np.ndarray  # int64 [K, 2**depth]
    leaf_c: np.ndarray  # int64 [K, 2**depth]
    op: np.ndarray  # int64 [K, 2**depth - 1]
    kind: str = field(default="conv", init=False)

    @property
    def size(self) -> int:
        return 0

    @property
    def out_channels(self) -> int:
        return int(self.op.shape[0])

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, _ = self.in_shape
        return (
            _window_out(h, self.padding[0], self.kernel[0], self.stride[0]),
            _window_out(w, self.padding[1], self.kernel[1], self.stride[1]),
            self.out_channels,
        )

    @property
    def num_distinct_gates(self) -> int:
        """Gates stored: one tree per kernel."""
        return self.out_channels * (2**self.depth - 1)

    @property
    def num_unrolled_gates(self) -> int:
        """Gate evaluations per sample: every tree at every output position."""
        h, w, _ = self.out_shape
        return h * w * self.num_distinct_gates

    def level_slices(self) -> list[slice]:
        """The columns of ``op`` of each tree level, leaves' level first."""
        out, lo = [], 0
        for level in range(self.depth):
            n = 2 ** (self.depth - 1 - level)
            out.append(slice(lo, lo + n))
            lo += n
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in_shape": [int(v) for v in self.in_shape],
            "out_channels": self.out_channels,
            "kernel": [int(v) for v in self.kernel],
            "stride": [int(v) for v in self.stride],
            "padding": [int(v) for v in self.padding],
            "depth": int(self.depth),
            "leaf_y": self.leaf_y.tolist(),
            "leaf_x": self.leaf_x.tolist(),
            "leaf_c": self.leaf_c.tolist(),
            "op": self.op.tolist(),
        }


@dataclass
class OrPoolLayer:
    """OR pooling without padding: out (y, x, c) = OR of the [kh, kw] window at
    (y*sy, x*sx) of channel c. The outputs are not signals."""

    in_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    kind: str = field(default="orpool", init=False)

    @property
    def size(self) -> int:
        return 0

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return (
            _window_out(h, 0, self.kernel[0], self.stride[0]),
            _window_out(w, 0, self.kernel[1], self.stride[1]),
            c,
        )

    @property
    def num_unrolled_gates(self) -> int:
        """Two-input OR gates per sample: kh*kw - 1 per output bit."""
        h, w, c = self.out_shape
        return h * w * c * (self.kernel[0] * self.kernel[1] - 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in_shape": [int(v) for v in self.in_shape],
            "kernel": [int(v) for v in self.kernel],
            "stride": [int(v) for v in self.stride],
        }


@dataclass
class FlattenLayer:
    """The end of the spatial layers: the [H, W, C] map becomes H*W*C signals, bit
    (y, x, c) being signal ``first + (y*W + x)*C + c``."""

    in_shape: tuple[int, int, int]
    kind: str = field(default="flatten", init=False)

    @property
    def size(self) -> int:
        h, w, c = self.in_shape
        return h * w * c

    @property
    def out_shape(self) -> tuple[int]:
        return (self.size,)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_shape": [int(v) for v in self.in_shape]}


SpatialLayer = ConvLayer | OrPoolLayer | FlattenLayer
Layer = LogicLayer | ThresholdLayer | ConvLayer | OrPoolLayer | FlattenLayer


@dataclass
class GroupSum:
    """Class c's score is the number of ones among signals groups[c]."""

    groups: list[np.ndarray]  # each int64 [k_c]
    class_names: tuple[str, ...] | None = None  # what each class stands for (IR version 2)
    kind: str = field(default="groupsum", init=False)

    def class_name(self, c: int) -> str:
        """Class ``c``'s name, or its number when the classes have no names."""
        return self.class_names[c] if self.class_names is not None else str(c)

    @property
    def num_classes(self) -> int:
        return len(self.groups)

    @property
    def max_score(self) -> int:
        return max(int(g.shape[0]) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "groups": [[int(v) for v in g] for g in self.groups],
        }
        if self.class_names is not None:
            d["class_names"] = list(self.class_names)
        return d


@dataclass
class Netlist:
    encoder: ThermometerEncoder
    layers: list[Layer]
    head: GroupSum
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_inputs(self) -> int:
        return self.encoder.num_bits

    @property
    def num_gates(self) -> int:
        """Every signal that is not an input bit: gates, threshold neurons and the signals
        of a flatten layer."""
        return sum(layer.size for layer in self.layers)

    @property
    def spatial(self) -> list[SpatialLayer]:
        """The spatial layers (conv, orpool, flatten): a prefix of ``layers``, maybe empty."""
        return [layer for layer in self.layers if layer.kind in SPATIAL_KINDS]

    @property
    def has_spatial(self) -> bool:
        return any(layer.kind in SPATIAL_KINDS for layer in self.layers)

    @property
    def num_distinct_gates(self) -> int:
        """Gates stored: dense gates and threshold neurons, plus one tree per conv kernel."""
        total = 0
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                total += layer.num_distinct_gates
            elif layer.kind in ("logic", "threshold"):
                total += layer.size
        return total

    @property
    def num_unrolled_gates(self) -> int:
        """Gate evaluations per sample: dense gates and threshold neurons, every conv tree
        at every position and the two-input ORs of the pooling windows."""
        total = 0
        for layer in self.layers:
            if isinstance(layer, ConvLayer | OrPoolLayer):
                total += layer.num_unrolled_gates
            elif layer.kind in ("logic", "threshold"):
                total += layer.size
        return total

    @property
    def num_connections(self) -> int:
        """Nonzero-weight connections of the threshold layers."""
        return sum(layer.num_connections for layer in self.layers if layer.kind == "threshold")

    @property
    def num_signals(self) -> int:
        return self.num_inputs + self.num_gates

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def layer_offsets(self) -> list[int]:
        """Global signal number of each layer's first gate, plus the end."""
        offsets = [self.num_inputs]
        for layer in self.layers:
            offsets.append(offsets[-1] + layer.size)
        return offsets

    @property
    def version(self) -> int:
        """The IR version this netlist is written in: 3 when it has spatial layers, else 2
        when it uses real-valued encoder thresholds, feature names or class names, else 1
        (so older files keep their bytes)."""
        if self.has_spatial:
            return 3
        return 2 if self.encoder.extended or self.head.class_names is not None else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": IR_FORMAT,
            "version": self.version,
            "meta": self.meta,
            "encoder": self.encoder.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
            "head": self.head.to_dict(),
        }

    def to_json(self) -> str:
        """Canonical JSON text: the same netlist always gives the same bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"

    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    def validate(self) -> Netlist:
        validate(self)
        return self


# --------------------------------------------------------------------------- loading


class _Budget:
    """Counts the integers read from one IR so that a huge one is refused early."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, n: int, where: str) -> None:
        self.used += n
        if self.used > MAX_ENTRIES:
            raise IRError(f"{where}: the IR holds more than {MAX_ENTRIES} integers in all")


def _int_array(
    value: Any, where: str, lo: int, hi: int, budget: _Budget | None = None
) -> np.ndarray:
    """A JSON list of integers in [lo, hi) as int64, or an IRError naming ``where``."""
    if not isinstance(value, list):
        raise IRError(f"{where}: expected a list of integers, got {_show(value)}")
    if len(value) > MAX_SIGNALS:
        raise IRError(f"{where}: {len(value)} entries is more than the limit of {MAX_SIGNALS}")
    if budget is not None:
        budget.take(len(value), where)
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise IRError(f"{where}[{i}]: expected an integer, got {_show(v)}")
        if not lo <= v < hi:
            raise IRError(f"{where}[{i}] = {_show(v)} is out of range [{lo}, {hi})")
    return np.array(value, dtype=np.int64) if value else np.zeros(0, dtype=np.int64)


def _exact_int(value: Any, where: str, lo: int, hi: int) -> int:
    """An integer field in [lo, hi] (booleans and floats are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise IRError(f"{where} must be an integer, got {_show(value)}")
    if not lo <= value <= hi:
        raise IRError(f"{where} = {_show(value)} is out of range [{lo}, {hi}]")
    return value


def _expect_keys(obj: Any, where: str, required: set[str], optional: set[str] = frozenset()):
    if not isinstance(obj, dict):
        raise IRError(f"{where}: expected an object, got {_show(obj)}")
    missing = required - obj.keys()
    if missing:
        raise IRError(f"{where}: missing field {sorted(missing)[0]!r}")
    extra = obj.keys() - required - optional
    if extra:
        raise IRError(f"{where}: unknown field {sorted(extra)[0]!r}")


def from_dict(data: Any) -> Netlist:
    """Build and validate a Netlist from parsed JSON."""
    if not isinstance(data, dict):
        raise IRError(f"IR: expected a JSON object, got {_show(data)}")
    if "format" not in data:
        raise IRError("IR: missing field 'format'")
    if data["format"] != IR_FORMAT:
        raise IRError(f"IR: format is {_show(data['format'])}, expected {IR_FORMAT!r}")
    if "version" not in data:
        raise IRError("IR: missing field 'version'")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise IRError(f"IR: version must be an integer, got {_show(version)}")
    if version not in IR_VERSIONS:
        raise IRError(
            f"IR: version {version} is not supported (this gateflow reads versions "
            f"{', '.join(map(str, IR_VERSIONS))})"
        )
    _expect_keys(data, "IR", {"format", "version", "encoder", "layers", "head"}, {"meta"})
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise IRError(f"IR: meta must be an object, got {_show(meta)}")
    budget = _Budget()
    v2 = {"values", "feature_names"} if version >= 2 else set()

    enc = data["encoder"]
    _expect_keys(enc, "encoder", {"kind", "num_raw_features", "feature", "threshold"}, v2)
    if enc["kind"] != "thermometer":
        raise IRError(
            f"encoder: kind {_show(enc['kind'])} is not supported (expected 'thermometer')"
        )
    nraw = _exact_int(enc["num_raw_features"], "encoder.num_raw_features", 1, MAX_SIGNALS)
    feature = _int_array(enc["feature"], "encoder.feature", 0, nraw, budget)
    values = enc.get("values", "integer")
    if values == "real":
        threshold = _real_array(enc["threshold"], "encoder.threshold", budget)
    elif values == "integer":
        threshold = _int_array(
            enc["threshold"], "encoder.threshold", -MAX_THRESHOLD, MAX_THRESHOLD + 1, budget
        )
    else:
        raise IRError(f"encoder.values must be 'integer' or 'real', got {_show(values)}")
    if feature.size != threshold.size:
        raise IRError(
            f"encoder: feature and threshold differ in length ({feature.size} vs {threshold.size})"
        )
    names = enc.get("feature_names")
    if names is not None:
        names = _names(names, "encoder.feature_names", nraw)
    try:
        encoder = ThermometerEncoder(
            num_raw_features=nraw,
            feature=feature,
            threshold=threshold,
            values=values,
            feature_names=names,
        )
    except EncodingError as exc:
        raise IRError(f"encoder: {exc}") from None

    if not isinstance(data["layers"], list):
        raise IRError(f"IR: layers must be a list, got {_show(data['layers'])}")
    layers = []
    base = encoder.num_bits  # signals defined before the layer being read
    order = _Order(encoder.num_bits)
    kinds = (
        "'logic', 'threshold', 'conv', 'orpool' or 'flatten'"
        if version >= 3
        else ("'logic' or 'threshold'")
    )
    for li, lay in enumerate(data["layers"]):
        where = f"layers[{li}]"
        if not isinstance(lay, dict):
            raise IRError(f"{where}: expected an object, got {_show(lay)}")
        kind = lay.get("kind")
        if kind in SPATIAL_KINDS and version >= 3:
            layer = _spatial_from_dict(lay, where, budget)
        elif kind == "threshold":
            layer = _threshold_from_dict(lay, where, budget)
        elif kind == "logic":
            _expect_keys(lay, where, {"kind", "a", "b", "op"})
            # a and b must name an earlier signal; validate() says which rule a bad one breaks
            layer = LogicLayer(
                a=_int_array(lay["a"], f"{where}.a", 0, MAX_SIGNALS, budget),
                b=_int_array(lay["b"], f"{where}.b", 0, MAX_SIGNALS, budget),
                op=_int_array(lay["op"], f"{where}.op", 0, NUM_GATES, budget),
            )
        else:
            raise IRError(f"{where}: kind {_show(kind)} is not supported (expected {kinds})")
        order.check(layer, li)
        _check_layer(layer, li, base)
        base += layer.size
        if base > MAX_SIGNALS:
            raise IRError(f"IR: more than {MAX_SIGNALS} signals")
        layers.append(layer)
    order.end()

    head = data["head"]
    _expect_keys(head, "head", {"kind", "num_classes", "groups"}, {"class_names"} if v2 else set())
    if head["kind"] != "groupsum":
        raise IRError(f"head: kind {_show(head['kind'])} is not supported (expected 'groupsum')")
    if not isinstance(head["groups"], list):
        raise IRError(f"head.groups must be a list of lists, got {_show(head['groups'])}")
    num_classes = _exact_int(head["num_classes"], "head.num_classes", 1, MAX_SIGNALS)
    if num_classes != len(head["groups"]):
        raise IRError(
            f"head: num_classes is {num_classes} but there are {len(head['groups'])} groups"
        )
    groups = [
        _int_array(g, f"head.groups[{c}]", 0, MAX_SIGNALS, budget)
        for c, g in enumerate(head["groups"])
    ]
    class_names = head.get("class_names")
    if class_names is not None:
        class_names = _names(class_names, "head.class_names", num_classes)
    return validate(
        Netlist(encoder=encoder, layers=layers, head=GroupSum(groups, class_names), meta=meta)
    )


def _real_array(value: Any, where: str, budget: _Budget) -> np.ndarray:
    """A JSON list of numbers as float64 (each the nearest binary64 value)."""
    if not isinstance(value, list):
        raise IRError(f"{where}: expected a list of numbers, got {_show(value)}")
    if len(value) > MAX_SIGNALS:
        raise IRError(f"{where}: {len(value)} entries is more than the limit of {MAX_SIGNALS}")
    budget.take(len(value), where)
    out = np.zeros(len(value), dtype=np.float64)
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise IRError(f"{where}[{i}]: expected a number, got {_show(v)}")
        try:
            out[i] = float(v)
        except OverflowError:
            raise IRError(f"{where}[{i}]: {_show(v)} is beyond the binary64 range") from None
        if not math.isfinite(out[i]):
            raise IRError(f"{where}[{i}]: {_show(v)} is beyond the binary64 range")
    return out


def _names(value: Any, where: str, count: int) -> tuple[str, ...]:
    """A JSON list of ``count`` distinct, non-empty strings."""
    if not isinstance(value, list) or len(value) != count:
        raise IRError(f"{where}: expected a list of {count} strings, got {_show(value)}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v or len(v) > 200:
            raise IRError(f"{where}[{i}]: expected a non-empty string of at most 200 characters")
    if len(set(value)) != count:
        raise IRError(f"{where}: the names must be distinct")
    return tuple(value)


def _threshold_from_dict(lay: dict[str, Any], where: str, budget: _Budget) -> ThresholdLayer:
    """A threshold layer from JSON: per-neuron lists ``src`` and ``weight``, and ``threshold``."""
    _expect_keys(lay, where, {"kind", "src", "weight", "threshold"})
    threshold = _int_array(
        lay["threshold"], f"{where}.threshold", -MAX_NEURON_SUM, MAX_NEURON_SUM + 1, budget
    )
    n = threshold.size
    for name in ("src", "weight"):
        if not isinstance(lay[name], list):
            raise IRError(f"{where}.{name}: expected a list of lists, got {_show(lay[name])}")
        if len(lay[name]) != n:
            raise IRError(f"{where}: {name} has {len(lay[name])} neurons but threshold has {n}")
    neurons = []
    for j, (src, w) in enumerate(zip(lay["src"], lay["weight"])):
        s = _int_array(src, f"{where}.src[{j}]", 0, MAX_SIGNALS, budget)
        v = _int_array(w, f"{where}.weight[{j}]", -MAX_WEIGHT, MAX_WEIGHT, budget)
        if s.size != v.size:
            raise IRError(f"{where}: neuron {j} has {s.size} sources but {v.size} weights")
        neurons.append((s, v))
    return ThresholdLayer.from_neurons(neurons, threshold)


def _int_list(value: Any, where: str, n: int, lo: int, hi: int) -> tuple[int, ...]:
    """A JSON list of exactly ``n`` integers in [lo, hi]."""
    if not isinstance(value, list) or len(value) != n:
        raise IRError(f"{where}: expected a list of {n} integers, got {_show(value)}")
    return tuple(_exact_int(v, f"{where}[{i}]", lo, hi) for i, v in enumerate(value))


def _int_matrix(
    value: Any, where: str, rows: int, cols: int, lo: int, hi: int, budget: _Budget
) -> np.ndarray:
    """A JSON list of ``rows`` lists of ``cols`` integers in [lo, hi), as int64 [rows, cols]."""
    if not isinstance(value, list) or len(value) != rows:
        raise IRError(f"{where}: expected a list of {rows} lists, got {_show(value)}")
    budget.take(rows * cols, where)
    out = np.zeros((rows, cols), dtype=np.int64)
    for k, row in enumerate(value):
        if not isinstance(row, list) or len(row) != cols:
            raise IRError(f"{where}[{k}]: expected a list of {cols} integers, got {_show(row)}")
        out[k] = _int_array(row, f"{where}[{k}]", lo, hi)
    return out


def _spatial_from_dict(lay: dict[str, Any], where: str, budget: _Budget) -> SpatialLayer:
    """A conv, orpool or flatten layer from JSON (version 3)."""
    kind = lay["kind"]
    if kind == "flatten":
        _expect_keys(lay, where, {"kind", "in_shape"})
        return FlattenLayer(in_shape=_int_list(lay["in_shape"], f"{where}.in_shape", 3, 1,
                                                MAX_SIGNALS))  # fmt: skip
    if kind == "orpool":
        _expect_keys(lay, where, {"kind", "in_shape", "kernel", "stride"})
        return OrPoolLayer(
            in_shape=_int_list(lay["in_shape"], f"{where}.in_shape", 3, 1, MAX_SIGNALS),
            kernel=_int_list(lay["kernel"], f"{where}.kernel", 2, 1, MAX_SIGNALS),
            stride=_int_list(lay["stride"], f"{where}.stride", 2, 1, MAX_SIGNALS),
        )
    fields = {"kind", "in_shape", "out_channels", "kernel", "stride", "padding", "depth",
              "leaf_y", "leaf_x", "leaf_c", "op"}  # fmt: skip
    _expect_keys(lay, where, fields)
    in_shape = _int_list(lay["in_shape"], f"{where}.in_shape", 3, 1, MAX_SIGNALS)
    kernel = _int_list(lay["kernel"], f"{where}.kernel", 2, 1, MAX_SIGNALS)
    k = _exact_int(lay["out_channels"], f"{where}.out_channels", 1, MAX_SIGNALS)
    depth = _exact_int(lay["depth"], f"{where}.depth", 1, MAX_CONV_DEPTH)
    leaves = 2**depth
    leaf = {}
    for name, top in (("leaf_y", kernel[0]), ("leaf_x", kernel[1]), ("leaf_c", in_shape[2])):
        leaf[name] = _int_matrix(lay[name], f"{where}.{name}", k, leaves, 0, top, budget)
    return ConvLayer(
        in_shape=in_shape,
        kernel=kernel,
        stride=_int_list(lay["stride"], f"{where}.stride", 2, 1, MAX_SIGNALS),
        padding=_int_list(lay["padding"], f"{where}.padding", 2, 0, MAX_SIGNALS),
        depth=depth,
        op=_int_matrix(lay["op"], f"{where}.op", k, leaves - 1, 0, NUM_GATES, budget),
        **leaf,
    )


class _Order:
    """The rules on the order and shapes of spatial layers, checked layer by layer: conv
    and orpool layers, then one flatten, as a prefix of the layers; the first reads the
    input bits as its image, each next one the previous one's output map."""

    def __init__(self, num_inputs: int) -> None:
        self.num_inputs = num_inputs
        self.shape: tuple[int, int, int] | None = None  # the map the next spatial layer reads
        self.open = False  # inside the spatial prefix (a flatten must follow)
        self.closed = False  # a flatten or a dense layer was seen
        self.unrolled = 0

    def check(self, layer: Any, li: int) -> None:
        where = f"layers[{li}]"
        kind = getattr(layer, "kind", None)
        if kind not in SPATIAL_KINDS:
            if self.open:
                raise IRError(f"{where}: a {kind} layer cannot read a map; flatten it first")
            self.closed = True
            self.unrolled += int(getattr(layer, "size", 0))
            self._bound(where)
            return
        if self.closed:
            raise IRError(
                f"{where}: a {kind} layer must come before the flatten layer and every logic "
                "or threshold layer"
            )
        _check_spatial_layer(layer, where)
        if self.shape is None:
            h, w, c = layer.in_shape
            if h * w * c != self.num_inputs:
                raise IRError(
                    f"{where}.in_shape {list(layer.in_shape)} holds {h * w * c} bits but the "
                    f"encoder has {self.num_inputs} input bits"
                )
        elif tuple(layer.in_shape) != self.shape:
            raise IRError(
                f"{where}.in_shape {list(layer.in_shape)} differs from the previous layer's "
                f"output shape {list(self.shape)}"
            )
        if isinstance(layer, FlattenLayer):
            self.open, self.closed = False, True
            return
        self.open = True
        self.shape = tuple(int(v) for v in layer.out_shape)  # type: ignore[assignment]
        self.unrolled += layer.num_unrolled_gates
        self._bound(where)

    def _bound(self, where: str) -> None:
        if self.unrolled > MAX_UNROLLED:
            raise IRError(f"{where}: more than {MAX_UNROLLED} gate evaluations per sample")

    def end(self) -> None:
        if self.open:
            raise IRError("layers: the spatial layers must end with a flatten layer")


def _check_spatial_layer(layer: Any, where: str) -> None:
    """One conv, orpool or flatten layer's own rules (types, ranges, lengths, sizes)."""

    def shape(value: Any, name: str, n: int, lo: int) -> tuple[int, ...]:
        if not isinstance(value, tuple | list) or len(value) != n:
            raise IRError(f"{where}.{name}: expected {n} integers")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise IRError(f"{where}.{name}: expected {n} integers")
            if not lo <= int(v) <= MAX_SIGNALS:
                raise IRError(f"{where}.{name} = {list(value)} is out of range [{lo}, "
                              f"{MAX_SIGNALS}]")  # fmt: skip
        return tuple(int(v) for v in value)

    h, w, c = shape(layer.in_shape, "in_shape", 3, 1)
    if h * w * c > MAX_SIGNALS:
        raise IRError(f"{where}.in_shape {[h, w, c]} holds more than {MAX_SIGNALS} bits")
    if isinstance(layer, FlattenLayer):
        return
    kh, kw = shape(layer.kernel, "kernel", 2, 1)
    shape(layer.stride, "stride", 2, 1)
    if isinstance(layer, ConvLayer):
        shape(layer.padding, "padding", 2, 0)
        d = layer.depth
        if isinstance(d, bool) or not isinstance(d, int | np.integer):
            raise IRError(f"{where}.depth must be an integer")
        if not 1 <= d <= MAX_CONV_DEPTH:
            raise IRError(f"{where}.depth = {d} is out of range [1, {MAX_CONV_DEPTH}]")
        for name in ("leaf_y", "leaf_x", "leaf_c", "op"):
            arr = getattr(layer, name)
            if not (isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.dtype.kind in "iu"):
                raise IRError(f"{where}.{name}: expected a 2-D integer array")
        k = layer.op.shape[0]
        if k < 1:
            raise IRError(f"{where}: a conv layer needs at least one kernel")
        for name, cols in (("leaf_y", 2**d), ("leaf_x", 2**d), ("leaf_c", 2**d),
                           ("op", 2**d - 1)):  # fmt: skip
            if getattr(layer, name).shape != (k, cols):
                raise IRError(
                    f"{where}.{name}: expected {k} kernels of {cols} entries for depth {d}, "
                    f"got shape {list(getattr(layer, name).shape)}"
                )
        for name, top in (("leaf_y", kh), ("leaf_x", kw), ("leaf_c", c), ("op", NUM_GATES)):
            arr = getattr(layer, name)
            bad = np.argwhere((arr < 0) | (arr >= top))
            if bad.size:
                i, j = (int(v) for v in bad[0])
                raise IRError(
                    f"{where}.{name}[{i}][{j}] = {int(arr[i, j])} is out of range [0, {top})"
                )
    oh, ow, oc = layer.out_shape
    if oh < 1 or ow < 1:
        raise IRError(
            f"{where}: the {kh}x{kw} window does not fit the {h}x{w} map "
            f"(output {oh}x{ow}); every output dimension must be at least 1"
        )
    if oh * ow * oc > MAX_SIGNALS:
        raise IRError(f"{where}: the output map holds more than {MAX_SIGNALS} bits")


def _is_int_vector(arr: Any) -> bool:
    return isinstance(arr, np.ndarray) and arr.ndim == 1 and arr.dtype.kind in "iu"


def _check_layer(layer: Any, li: int, base: int) -> None:
    """One layer's rules: integer vectors of one length >= 1, gate numbers 0..15, and
    operands naming signals below ``base`` (the layer's first gate)."""
    if isinstance(layer, ThresholdLayer):
        _check_threshold_layer(layer, li, base)
        return
    if isinstance(layer, ConvLayer | OrPoolLayer | FlattenLayer):
        return  # checked by _Order, which knows the map the layer reads
    if not isinstance(layer, LogicLayer):
        raise IRError(f"layers[{li}]: expected a LogicLayer, ThresholdLayer, ConvLayer, "
                      f"OrPoolLayer or FlattenLayer, got {type(layer).__name__}")  # fmt: skip
    for name in ("a", "b", "op"):
        if not _is_int_vector(getattr(layer, name)):
            raise IRError(f"layers[{li}].{name}: expected a 1-D integer array")
    if not (layer.a.shape == layer.b.shape == layer.op.shape):
        raise IRError(
            f"layers[{li}]: a, b and op must have the same length "
            f"(got {layer.a.size}, {layer.b.size}, {layer.op.size})"
        )
    if layer.op.shape[0] == 0:
        raise IRError(f"layers[{li}]: a layer needs at least one gate")
    for name, arr in (("a", layer.a), ("b", layer.b)):
        bad = np.flatnonzero((arr < 0) | (arr >= base))
        if bad.size:
            j = int(bad[0])
            raise IRError(
                f"layers[{li}].{name}[{j}] = {int(arr[j])} does not name an earlier signal "
                f"(must be in [0, {base}))"
            )
    if layer.op.min() < 0 or layer.op.max() >= NUM_GATES:
        raise IRError(f"layers[{li}]: op must be a gate number 0..{NUM_GATES - 1}")


def _check_threshold_layer(layer: ThresholdLayer, li: int, base: int) -> None:
    where = f"layers[{li}]"
    for name in ("ptr", "src", "weight", "threshold"):
        if not _is_int_vector(getattr(layer, name)):
            raise IRError(f"{where}.{name}: expected a 1-D integer array")
    n, nnz = layer.threshold.size, layer.src.size
    if n == 0:
        raise IRError(f"{where}: a layer needs at least one neuron")
    if layer.weight.size != nnz or layer.ptr.size != n + 1:
        raise IRError(f"{where}: ptr, src and weight do not describe {n} neurons")
    steps = np.diff(layer.ptr)
    if int(layer.ptr[0]) != 0 or int(layer.ptr[-1]) != nnz or (steps < 0).any():
        raise IRError(f"{where}: ptr must rise from 0 to the number of connections")
    bad = np.flatnonzero((layer.src < 0) | (layer.src >= base))
    if bad.size:
        k = int(bad[0])
        j = int(np.searchsorted(layer.ptr, k, side="right")) - 1
        raise IRError(
            f"{where}.src[{j}][{k - int(layer.ptr[j])}] = {int(layer.src[k])} does not name "
            f"an earlier signal (must be in [0, {base}))"
        )
    if nnz and (layer.weight.min() < -MAX_WEIGHT or layer.weight.max() >= MAX_WEIGHT):
        raise IRError(f"{where}: weights must lie in [-2**31, 2**31)")
    if np.abs(layer.threshold).max() > MAX_NEURON_SUM:
        raise IRError(f"{where}: thresholds must lie in [-2**40, 2**40]")
    if nnz:
        load = np.add.reduceat(np.abs(layer.weight), layer.ptr[:-1][steps > 0])
        if load.max() > MAX_NEURON_SUM:
            raise IRError(f"{where}: a neuron's absolute weights sum to more than 2**40")


def validate(net: Netlist) -> Netlist:
    """Check every structural rule of the specification; raise IRError on the first break."""
    # the encoder validates itself on construction (ThermometerEncoder)
    if not isinstance(net.encoder, ThermometerEncoder):
        raise IRError(f"encoder: expected a ThermometerEncoder, got {type(net.encoder).__name__}")
    if not isinstance(net.layers, list) or not isinstance(net.head, GroupSum):
        raise IRError("IR: layers must be a list of layers and head a GroupSum")
    if not isinstance(net.meta, dict):
        raise IRError("IR: meta must be a dict")
    base = net.num_inputs
    order = _Order(net.num_inputs)
    for li, layer in enumerate(net.layers):
        order.check(layer, li)
        _check_layer(layer, li, base)
        base += layer.size
        if base > MAX_SIGNALS:
            raise IRError(f"IR: more than {MAX_SIGNALS} signals")
    order.end()
    if not isinstance(net.head.groups, list) or net.head.num_classes < 1:
        raise IRError("head: needs at least one class")
    names = net.head.class_names
    if names is not None and (
        len(names) != net.head.num_classes
        or len(set(names)) != len(names)
        or not all(isinstance(n, str) and 0 < len(n) <= 200 for n in names)
    ):
        raise IRError(f"head.class_names: expected {net.head.num_classes} distinct names")
    for c, g in enumerate(net.head.groups):
        if not _is_int_vector(g) or g.size == 0:
            raise IRError(f"head.groups[{c}]: a class needs at least one signal")
        bad = np.flatnonzero((g < 0) | (g >= base))
        if bad.size:
            j = int(bad[0])
            raise IRError(f"head.groups[{c}][{j}] = {int(g[j])} is not a signal (must be < {base})")
    return net


def load(path: str | Path) -> Netlist:
    """Read and validate an IR file; any problem is an IRError with a one-line message."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IRError(f"{path}: {size} bytes is more than the limit of {MAX_FILE_BYTES}")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise IRError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IRError(f"{path}: cannot read: {exc}") from None
    try:
        return from_json(text)
    except IRError as exc:
        raise IRError(f"{path}: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise IRError(f"JSON object has the field {_show(dup)} twice")
    return obj


def _no_constant(name: str) -> Any:
    raise IRError(f"{name} is not a JSON number")


def from_json(text: str) -> Netlist:
    """Parse and validate IR text (strict JSON: no NaN/Infinity, no repeated fields)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise IRError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise IRError("JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise IRError(f"not valid JSON ({exc})") from None
    try:
        return from_dict(data)
    except RecursionError:
        raise IRError("IR nested too deeply") from None


def score_width(net: Netlist) -> int:
    """Bits of an unsigned class score: enough for the largest group."""
    return max(1, math.ceil(math.log2(net.head.max_score + 1)))


def index_width(net: Netlist) -> int:
    """Bits of the class index output."""
    return max(1, math.ceil(math.log2(net.num_classes)))
