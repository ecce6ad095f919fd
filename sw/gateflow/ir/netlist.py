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
IR_VERSION = 2  # the newest version; a netlist is written in the oldest that can hold it
IR_VERSIONS = (1, 2)
MAX_SIGNALS = 50_000_000  # refuse absurd sizes before allocating anything
MAX_ENTRIES = 4 * MAX_SIGNALS  # integers in all lists of one IR together
MAX_FILE_BYTES = 2**31  # larger files are refused before they are read
MAX_THRESHOLD = 2**31 - 1
MAX_WEIGHT = 2**31  # threshold-layer weights lie in [-MAX_WEIGHT, MAX_WEIGHT)
MAX_NEURON_SUM = 2**40  # bound on a neuron's sum of |weights| and on |threshold|
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


Layer = LogicLayer | ThresholdLayer


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
        """Gates and threshold neurons: every signal that is not an input bit."""
        return sum(layer.size for layer in self.layers)

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
        """The IR version this netlist is written in: 2 when it uses real-valued encoder
        thresholds, feature names or class names, else 1 (so older files keep their bytes)."""
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
    for li, lay in enumerate(data["layers"]):
        where = f"layers[{li}]"
        if not isinstance(lay, dict):
            raise IRError(f"{where}: expected an object, got {_show(lay)}")
        kind = lay.get("kind")
        if kind == "threshold":
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
            raise IRError(
                f"{where}: kind {_show(kind)} is not supported (expected 'logic' or 'threshold')"
            )
        _check_layer(layer, li, base)
        base += layer.size
        if base > MAX_SIGNALS:
            raise IRError(f"IR: more than {MAX_SIGNALS} signals")
        layers.append(layer)

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


def _is_int_vector(arr: Any) -> bool:
    return isinstance(arr, np.ndarray) and arr.ndim == 1 and arr.dtype.kind in "iu"


def _check_layer(layer: Any, li: int, base: int) -> None:
    """One layer's rules: integer vectors of one length >= 1, gate numbers 0..15, and
    operands naming signals below ``base`` (the layer's first gate)."""
    if isinstance(layer, ThresholdLayer):
        _check_threshold_layer(layer, li, base)
        return
    if not isinstance(layer, LogicLayer):
        raise IRError(
            f"layers[{li}]: expected a LogicLayer or ThresholdLayer, got {type(layer).__name__}"
        )
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
    for li, layer in enumerate(net.layers):
        _check_layer(layer, li, base)
        base += layer.size
        if base > MAX_SIGNALS:
            raise IRError(f"IR: more than {MAX_SIGNALS} signals")
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
