"""What every importer shares: safe checkpoint reading, the input encoding, the head,
and the check of an imported netlist against the source model's own outputs.

An importer reads another library's trained network as tensors and writes gateflow IR.
It never runs the other library's code to build the netlist: checkpoints are read with
torch's weights-only unpickler, the other library's classes replaced by plain stand-ins
(so neither the library nor arbitrary pickled code is needed). What the importer then
checks is the netlist's golden model against the source model's discretized forward,
computed from the same tensors by the library's own eval-mode rules (or by the library
itself when it is installed), on every class score of every sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.data.encoding import EncodingError, ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.ir.netlist import GroupSum, IRError, Netlist, validate


class ModelImportError(GateflowError):
    """A checkpoint that cannot be imported (one line: what is wrong and what to do)."""


def stand_in(qualified: str) -> type:
    """A plain class that an unpickled object of class ``qualified`` (e.g.
    ``"difflogic.difflogic.LogicLayer"``) becomes: its attributes and nothing else."""
    module, _, name = qualified.rpartition(".")
    cls = type(name, (), {"__module__": module, "__qualname__": name})
    cls.__repr__ = lambda self: f"<{qualified} (read as tensors)>"  # type: ignore[method-assign]
    return cls


def load_torch_file(path: str | Path, classes: Sequence[str], what: str) -> Any:
    """Read a ``torch.save`` file with the weights-only unpickler.

    ``classes`` are the qualified names of the source library's classes that may occur in
    the file (read as :func:`stand_in` objects); torch's containers and layers that such
    models use (Sequential, Flatten, ModuleList, Identity) are allowed too. Anything else
    in the pickle is refused with the name of the class, never executed."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    allowed: list[Any] = [(stand_in(q), q) for q in classes]
    allowed += [torch.nn.Sequential, torch.nn.Flatten, torch.nn.ModuleList, torch.nn.Identity]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every reading failure becomes one line
        text = " ".join(str(exc).split())
        marker = "Unsupported global: GLOBAL "
        if marker in text:
            name = text.split(marker, 1)[1].split()[0]
            raise ModelImportError(
                f"{path}: holds an object of class {name}, which is not part of a {what} "
                "model; save the model itself (or its state_dict)"
            ) from None
        raise ModelImportError(f"{path}: not a readable torch checkpoint ({text[:160]})") from None


def modules_of(obj: Any) -> list[tuple[str, Any]]:
    """(name, module) of every leaf module of an unpickled model, in order; a stand-in or
    torch module with children is walked depth first."""
    children = getattr(obj, "_modules", None) if not isinstance(obj, dict) else None
    if not children:
        return [("", obj)]
    out = []
    for name, child in children.items():
        if child is None:
            continue
        for sub, leaf in modules_of(child):
            out.append((f"{name}.{sub}" if sub else name, leaf))
    return out


def class_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def input_encoder(num_inputs: int, thresholds: Sequence[float] | None = None) -> ThermometerEncoder:
    """The encoding of the raw features into the model's input bits: every feature gets
    the same ascending ``thresholds`` (bit = raw >= t), its bits next to each other
    (feature-major, gateflow's order). The default is one bit per feature, raw >= 1,
    which is a 0/1 feature passed through. Integer thresholds give an integer encoder
    (IR version 1), others a real one."""
    th = np.asarray([1.0] if thresholds is None else list(thresholds), dtype=np.float64)
    if th.size == 0 or not np.all(np.isfinite(th)) or np.any(np.diff(th) <= 0):
        raise ModelImportError("--thresholds must be finite and strictly ascending")
    if num_inputs % th.size:
        raise ModelImportError(
            f"the model takes {num_inputs} input bits, which is not a whole number of "
            f"features at {th.size} thresholds each"
        )
    integral = bool(np.all(th == np.round(th)) and np.all(np.abs(th) < 2**31))
    try:
        return ThermometerEncoder.fixed(
            num_inputs // th.size,
            th.astype(np.int64) if integral else th,
            values="integer" if integral else "real",
        )
    except EncodingError as exc:
        raise ModelImportError(str(exc)) from None


def group_head(first: int, width: int, num_classes: int) -> GroupSum:
    """GroupSum over signals [first, first + width): class c counts the c-th
    ``width / num_classes`` of them (difflogic's and torchlogix's reshape order)."""
    if num_classes < 2 or width % num_classes:
        raise ModelImportError(
            f"the last layer's {width} outputs do not split into {num_classes} classes"
        )
    k = width // num_classes
    return GroupSum(
        [np.arange(first + c * k, first + (c + 1) * k, dtype=np.int64) for c in range(num_classes)]
    )


def finish(net: Netlist) -> Netlist:
    """Validate an imported netlist; a failure names the importer, not the user."""
    try:
        return validate(net)
    except IRError as exc:
        raise ModelImportError(f"the imported network is not a valid netlist: {exc}") from None


@dataclass
class Imported:
    """An importer's result: the netlist and the source model's own discretized forward
    (input bits uint8 [n, num_inputs] -> integer class scores int64 [n, classes])."""

    netlist: Netlist
    reference: Callable[[np.ndarray], np.ndarray]
    notes: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    samples: int
    agree: int  # samples whose every class score agrees
    first_mismatch: int | None  # sample index

    @property
    def ok(self) -> bool:
        return self.agree == self.samples


def check(imported: Imported, X_raw: np.ndarray, batch: int = 1024) -> CheckResult:
    """Golden model vs the source model on raw features ``X_raw`` [n, F]: every class
    score of every sample."""
    from gateflow.ir.golden import eval_bits

    net = imported.netlist
    X_raw = np.asarray(X_raw)
    if X_raw.ndim != 2 or X_raw.shape[1] != net.encoder.num_raw_features:
        raise ModelImportError(
            f"the check data has {X_raw.shape[-1] if X_raw.ndim else 0} features per sample; "
            f"the model takes {net.encoder.num_raw_features}"
        )
    agree, first = 0, None
    for lo in range(0, len(X_raw), batch):
        bits = net.encoder.encode(X_raw[lo : lo + batch])
        golden = eval_bits(net, bits).scores
        ref = np.asarray(imported.reference(bits))
        if ref.shape != golden.shape:
            raise ModelImportError(
                f"the source model gives scores of shape {ref.shape}, the netlist {golden.shape}"
            )
        same = np.all(ref == golden, axis=1)
        agree += int(same.sum())
        if first is None and not same.all():
            first = lo + int(np.flatnonzero(~same)[0])
    return CheckResult(samples=len(X_raw), agree=agree, first_mismatch=first)


def integer_scores(sums: Any, tau: float, where: str) -> np.ndarray:
    """GroupSum outputs (counts / tau) back to the integer counts, refusing any output
    that is not a count (which would mean the source model is not discretized)."""
    import torch

    counts = (torch.as_tensor(sums, dtype=torch.float64) * float(tau)).numpy()
    rounded = np.round(counts)
    if np.any(np.abs(counts - rounded) > 1e-3 * max(1.0, float(tau))):
        raise ModelImportError(f"{where}: the model's outputs are not whole counts / tau")
    return rounded.astype(np.int64)
