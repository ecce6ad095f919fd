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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encoding import EncodingError, ThermometerEncoder
from .errors import GateflowError
from .gates import NUM_GATES

IR_FORMAT = "gateflow-ir"
IR_VERSION = 1
MAX_SIGNALS = 50_000_000  # refuse absurd sizes before allocating anything
MAX_THRESHOLD = 2**31 - 1


class IRError(GateflowError):
    """An IR file or object that breaks the specification."""


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
class GroupSum:
    """Class c's score is the number of ones among signals groups[c]."""

    groups: list[np.ndarray]  # each int64 [k_c]
    kind: str = field(default="groupsum", init=False)

    @property
    def num_classes(self) -> int:
        return len(self.groups)

    @property
    def max_score(self) -> int:
        return max(int(g.shape[0]) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "groups": [[int(v) for v in g] for g in self.groups],
        }


@dataclass
class Netlist:
    encoder: ThermometerEncoder
    layers: list[LogicLayer]
    head: GroupSum
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_inputs(self) -> int:
        return self.encoder.num_bits

    @property
    def num_gates(self) -> int:
        return sum(layer.size for layer in self.layers)

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": IR_FORMAT,
            "version": IR_VERSION,
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


def _int_array(value: Any, where: str, lo: int, hi: int) -> np.ndarray:
    """A JSON list of integers in [lo, hi) as int64, or an IRError naming ``where``."""
    if not isinstance(value, list):
        raise IRError(f"{where}: expected a list of integers, got {type(value).__name__}")
    if len(value) > MAX_SIGNALS:
        raise IRError(f"{where}: {len(value)} entries is more than the limit of {MAX_SIGNALS}")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise IRError(f"{where}[{i}]: expected an integer, got {json.dumps(v)[:40]}")
    arr = np.array(value, dtype=np.int64) if value else np.zeros(0, dtype=np.int64)
    if arr.size:
        bad = np.flatnonzero((arr < lo) | (arr >= hi))
        if bad.size:
            i = int(bad[0])
            raise IRError(f"{where}[{i}] = {int(arr[i])} is out of range [{lo}, {hi})")
    return arr


def _expect_keys(obj: Any, where: str, required: set[str], optional: set[str] = frozenset()):
    if not isinstance(obj, dict):
        raise IRError(f"{where}: expected an object, got {type(obj).__name__}")
    missing = required - obj.keys()
    if missing:
        raise IRError(f"{where}: missing field {sorted(missing)[0]!r}")
    extra = obj.keys() - required - optional
    if extra:
        raise IRError(f"{where}: unknown field {sorted(extra)[0]!r}")


def from_dict(data: Any) -> Netlist:
    """Build and validate a Netlist from parsed JSON."""
    if not isinstance(data, dict):
        raise IRError(f"IR: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != IR_FORMAT:
        raise IRError(f"IR: format is {data.get('format')!r}, expected {IR_FORMAT!r}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise IRError(f"IR: version must be an integer, got {json.dumps(version)[:40]}")
    if version != IR_VERSION:
        raise IRError(f"IR: version {version} is not supported (this gateflow reads {IR_VERSION})")
    _expect_keys(data, "IR", {"format", "version", "encoder", "layers", "head"}, {"meta"})
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise IRError("IR: meta must be an object")

    enc = data["encoder"]
    _expect_keys(enc, "encoder", {"kind", "num_raw_features", "feature", "threshold"})
    if enc["kind"] != "thermometer":
        raise IRError(f"encoder: kind {enc['kind']!r} is not supported (expected 'thermometer')")
    nraw = enc["num_raw_features"]
    if isinstance(nraw, bool) or not isinstance(nraw, int) or not 1 <= nraw <= MAX_SIGNALS:
        raise IRError(f"encoder: num_raw_features must be a positive integer, got {nraw!r}")
    try:
        encoder = ThermometerEncoder(
            num_raw_features=nraw,
            feature=_int_array(enc["feature"], "encoder.feature", 0, nraw),
            threshold=_int_array(
                enc["threshold"], "encoder.threshold", -MAX_THRESHOLD, MAX_THRESHOLD + 1
            ),
        )
    except EncodingError as exc:
        raise IRError(f"encoder: {exc}") from None

    if not isinstance(data["layers"], list):
        raise IRError("IR: layers must be a list")
    layers = []
    for li, lay in enumerate(data["layers"]):
        where = f"layers[{li}]"
        _expect_keys(lay, where, {"kind", "a", "b", "op"})
        if lay["kind"] != "logic":
            raise IRError(f"{where}: kind {lay['kind']!r} is not supported (expected 'logic')")
        # ranges against earlier signals are checked by validate(); here only the types
        layers.append(
            LogicLayer(
                a=_int_array(lay["a"], f"{where}.a", 0, MAX_SIGNALS),
                b=_int_array(lay["b"], f"{where}.b", 0, MAX_SIGNALS),
                op=_int_array(lay["op"], f"{where}.op", 0, NUM_GATES),
            )
        )

    head = data["head"]
    _expect_keys(head, "head", {"kind", "num_classes", "groups"})
    if head["kind"] != "groupsum":
        raise IRError(f"head: kind {head['kind']!r} is not supported (expected 'groupsum')")
    if not isinstance(head["groups"], list):
        raise IRError("head.groups must be a list of lists")
    groups = [
        _int_array(g, f"head.groups[{c}]", 0, MAX_SIGNALS) for c, g in enumerate(head["groups"])
    ]
    if head["num_classes"] != len(groups):
        raise IRError(
            f"head: num_classes is {head['num_classes']!r} but there are {len(groups)} groups"
        )
    return validate(Netlist(encoder=encoder, layers=layers, head=GroupSum(groups), meta=meta))


def validate(net: Netlist) -> Netlist:
    """Check every structural rule of the specification; raise IRError on the first break."""
    # the encoder validates itself on construction (ThermometerEncoder)
    base = net.num_inputs
    for li, layer in enumerate(net.layers):
        n = layer.op.shape[0]
        if not (layer.a.shape == layer.b.shape == layer.op.shape) or layer.op.ndim != 1:
            raise IRError(
                f"layers[{li}]: a, b and op must have the same length "
                f"(got {layer.a.size}, {layer.b.size}, {layer.op.size})"
            )
        if n == 0:
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
        base += n
        if base > MAX_SIGNALS:
            raise IRError(f"IR: more than {MAX_SIGNALS} signals")
    if net.head.num_classes < 1:
        raise IRError("head: needs at least one class")
    for c, g in enumerate(net.head.groups):
        if g.ndim != 1 or g.size == 0:
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
        text = path.read_text()
    except FileNotFoundError:
        raise IRError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IRError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IRError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise IRError(f"{path}: JSON nested too deeply") from None
    try:
        return from_dict(data)
    except IRError as exc:
        raise IRError(f"{path}: {exc}") from None


def score_width(net: Netlist) -> int:
    """Bits of an unsigned class score: enough for the largest group."""
    return max(1, math.ceil(math.log2(net.head.max_score + 1)))


def index_width(net: Netlist) -> int:
    """Bits of the class index output."""
    return max(1, math.ceil(math.log2(net.num_classes)))
