"""Import difflogic (Petersen et al., NeurIPS 2022; PyPI ``difflogic`` 0.1.0) networks.

A difflogic network is a ``torch.nn.Sequential`` of an optional ``Flatten``, ``LogicLayer``
modules and a final ``GroupSum(k, tau)``. A ``LogicLayer`` holds ``weights`` [out, 16]
(one logit per gate; eval mode takes the argmax) and ``indices`` = (a, b), the input of
each neuron's first and second operand. In difflogic 0.1.0 ``indices`` is a plain
attribute, so a ``state_dict`` does not hold the wiring: the importer reads

- a whole model, ``torch.save(model, path)`` (read with the weights-only unpickler; no
  difflogic needed), or
- a dict ``{"state_dict": model.state_dict(), "indices": [layer.indices, ...]}`` with
  the LogicLayers' indices in order, optionally ``"k"`` (classes) and ``"tau"``.

difflogic numbers its gates by the truth table over (A, B) = 00, 01, 10, 11 (its
``functional.py``). :data:`DIFFLOGIC_TRUTH` is that table as difflogic documents it; the
importer maps each entry to the gateflow gate with the same truth table (tests check the
mapping against difflogic's own gate formulas, :func:`difflogic_op`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.gates import GATES
from gateflow.importers import ImportOptions
from gateflow.importers.common import (
    Imported,
    ModelImportError,
    class_name,
    finish,
    group_head,
    input_encoder,
    integer_scores,
    load_torch_file,
    modules_of,
)
from gateflow.ir.netlist import LogicLayer, Netlist

LOGIC_LAYER = "difflogic.difflogic.LogicLayer"
GROUP_SUM = "difflogic.difflogic.GroupSum"

#: difflogic's gate id -> (f(0,0), f(0,1), f(1,0), f(1,1)) over (A, B), from its docs.
DIFFLOGIC_TRUTH: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0),  # 0  0
    (0, 0, 0, 1),  # 1  A and B
    (0, 0, 1, 0),  # 2  not(A implies B)
    (0, 0, 1, 1),  # 3  A
    (0, 1, 0, 0),  # 4  not(B implies A)
    (0, 1, 0, 1),  # 5  B
    (0, 1, 1, 0),  # 6  A xor B
    (0, 1, 1, 1),  # 7  A or B
    (1, 0, 0, 0),  # 8  not(A or B)
    (1, 0, 0, 1),  # 9  not(A xor B)
    (1, 0, 1, 0),  # 10 not(B)
    (1, 0, 1, 1),  # 11 B implies A
    (1, 1, 0, 0),  # 12 not(A)
    (1, 1, 0, 1),  # 13 A implies B
    (1, 1, 1, 0),  # 14 not(A and B)
    (1, 1, 1, 1),  # 15 1
)


def gate_map() -> np.ndarray:
    """int64 [16]: difflogic gate id -> gateflow gate id (same truth table)."""
    by_truth = {g.truth: g.id for g in GATES}
    return np.array([by_truth[t] for t in DIFFLOGIC_TRUTH], dtype=np.int64)


def difflogic_op(a: Any, b: Any, i: int) -> Any:
    """difflogic's real-valued gate ``i`` (its ``functional.bin_op``), on tensors."""
    ab = a * b
    return (
        a * 0,
        ab,
        a - ab,
        a,
        b - ab,
        b,
        a + b - 2 * ab,
        a + b - ab,
        1 - (a + b - ab),
        1 - (a + b - 2 * ab),
        1 - b,
        1 - b + ab,
        1 - a,
        1 - a + ab,
        1 - ab,
        a * 0 + 1,
    )[i]


class _Layer:
    """One LogicLayer as tensors: indices a, b [out] and weights [out, 16]."""

    def __init__(self, name: str, weights: Any, a: Any, b: Any, in_dim: int | None) -> None:
        import torch

        self.name = name
        w = torch.as_tensor(weights).detach().to("cpu")
        if w.ndim != 2 or w.shape[1] != 16:
            raise ModelImportError(
                f"layer {name}: weights of shape {tuple(w.shape)}, expected [neurons, 16]"
            )
        self.weights = w
        self.a = torch.as_tensor(a).detach().to("cpu").long().reshape(-1)
        self.b = torch.as_tensor(b).detach().to("cpu").long().reshape(-1)
        out = w.shape[0]
        if self.a.numel() != out or self.b.numel() != out:
            raise ModelImportError(
                f"layer {name}: {out} neurons but {self.a.numel()} and {self.b.numel()} indices"
            )
        lo = min(int(self.a.min()), int(self.b.min()))
        hi = max(int(self.a.max()), int(self.b.max()))
        if lo < 0:
            raise ModelImportError(f"layer {name}: a negative input index ({lo})")
        self.in_dim = int(in_dim) if in_dim is not None else hi + 1
        if hi >= self.in_dim:
            raise ModelImportError(
                f"layer {name}: input index {hi} is outside its {self.in_dim} inputs"
            )

    @property
    def out_dim(self) -> int:
        return int(self.weights.shape[0])

    def ops(self) -> np.ndarray:
        """difflogic's gate ids: the argmax of each neuron's logits (eval mode)."""
        return self.weights.argmax(-1).numpy().astype(np.int64)


def _from_model(obj: Any) -> tuple[list[_Layer], int | None, float]:
    layers: list[_Layer] = []
    k, tau = None, 1.0
    for i, (name, mod) in enumerate(modules_of(obj)):
        cls = class_name(mod)
        if cls == LOGIC_LAYER:
            if k is not None:
                raise ModelImportError(f"module {name}: a LogicLayer after the GroupSum")
            d = vars(mod)
            params = d.get("_parameters", {})
            if "weights" not in params or "indices" not in d:
                raise ModelImportError(f"module {name}: a LogicLayer without weights or indices")
            a, b = d["indices"]
            layers.append(_Layer(name, params["weights"], a, b, d.get("in_dim")))
        elif cls == GROUP_SUM:
            d = vars(mod)
            k, tau = int(d["k"]), float(d.get("tau", 1.0))
        elif cls == "torch.nn.modules.flatten.Flatten" and not layers:
            continue
        elif cls == "torch.nn.modules.linear.Identity":
            continue
        else:
            raise ModelImportError(
                f"module {name or i}: {cls} is not part of a difflogic network "
                "(Flatten, LogicLayer ..., GroupSum)"
            )
    return layers, k, tau


def _from_dict(d: dict[str, Any]) -> tuple[list[_Layer], int | None, float]:
    sd = d.get("state_dict", d.get("model"))
    weights = [(key[: -len(".weights")], v) for key, v in sd.items() if key.endswith("weights")]
    indices = d["indices"]
    if isinstance(indices, dict):
        indices = [indices[name] for name, _ in weights]
    if len(indices) != len(weights):
        raise ModelImportError(
            f"{len(weights)} LogicLayer weights but {len(indices)} index pairs in 'indices'"
        )
    layers = [
        _Layer(name, w, pair[0], pair[1], None)
        for (name, w), pair in zip(weights, indices, strict=True)
    ]
    k = d.get("k", d.get("num_classes"))
    return layers, None if k is None else int(k), float(d.get("tau", 1.0))


def read_layers(path: Path) -> tuple[list[_Layer], int | None, float]:
    """The LogicLayers, GroupSum's k (None when the file lacks it) and tau of a file."""
    obj = load_torch_file(path, (LOGIC_LAYER, GROUP_SUM), "difflogic")
    if isinstance(obj, dict) and "indices" in obj and ("state_dict" in obj or "model" in obj):
        layers, k, tau = _from_dict(obj)
    elif isinstance(obj, dict):
        if any(str(key).endswith("weights") for key in obj):
            raise ModelImportError(
                f"{path}: a state_dict holds difflogic's gate weights but not its wiring "
                "(LogicLayer.indices is no buffer); save the whole model with "
                "torch.save(model, path), or torch.save({'state_dict': model.state_dict(), "
                "'indices': [layer.indices for each LogicLayer]}, path)"
            )
        raise ModelImportError(f"{path}: no difflogic LogicLayer in this checkpoint")
    else:
        layers, k, tau = _from_model(obj)
    if not layers:
        raise ModelImportError(f"{path}: no difflogic LogicLayer in this checkpoint")
    for prev, layer in zip(layers, layers[1:]):
        if layer.in_dim > prev.out_dim:
            raise ModelImportError(
                f"layer {layer.name} reads {layer.in_dim} inputs but layer {prev.name} "
                f"gives {prev.out_dim}"
            )
    return layers, k, tau


def to_netlist(
    layers: Sequence[_Layer], num_classes: int, options: ImportOptions, meta: dict[str, Any]
) -> Netlist:
    num_inputs = options.num_inputs or layers[0].in_dim
    if num_inputs < layers[0].in_dim:
        raise ModelImportError(
            f"--inputs {num_inputs}, but the first layer reads input {layers[0].in_dim - 1}"
        )
    encoder = input_encoder(num_inputs, options.thresholds)
    to_gateflow = gate_map()
    ir_layers, prev, base = [], 0, num_inputs
    for layer in layers:
        ir_layers.append(
            LogicLayer(
                a=layer.a.numpy() + prev, b=layer.b.numpy() + prev, op=to_gateflow[layer.ops()]
            )
        )
        prev, base = base, base + layer.out_dim
    head = group_head(prev, layers[-1].out_dim, num_classes)
    return finish(Netlist(encoder, ir_layers, head, meta))


def reference(layers: Sequence[_Layer], num_classes: int, tau: float):
    """difflogic's eval-mode forward from the tensors (``forward_python``: one-hot of the
    argmax, its real-valued gate formulas; ``GroupSum``: sum of each class's slice / tau),
    as integer class scores."""
    import torch

    def forward(bits: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(bits), dtype=torch.float32)
        with torch.no_grad():
            for layer in layers:
                a, b = x[..., layer.a], x[..., layer.b]
                w = torch.nn.functional.one_hot(layer.weights.argmax(-1), 16).to(torch.float32)
                x = sum(w[..., i] * difflogic_op(a, b, i) for i in range(16))
            sums = x.reshape(*x.shape[:-1], num_classes, x.shape[-1] // num_classes).sum(-1)
            return integer_scores(sums, 1.0, "difflogic GroupSum")

    return forward


def read(path: Path, options: ImportOptions) -> Imported:
    layers, k, tau = read_layers(path)
    if options.num_classes is not None:
        if k is not None and k != options.num_classes:
            raise ModelImportError(
                f"--classes {options.num_classes}, but the model's GroupSum has k={k}"
            )
        k = options.num_classes
    if k is None:
        raise ModelImportError(f"{path}: no GroupSum in the checkpoint; pass --classes K")
    meta = {
        "arch": "lgn",
        "imported": {
            "format": "difflogic",
            "file": path.name,
            "layers": [layer.out_dim for layer in layers],
            "tau": tau,
        },
    }
    net = to_netlist(layers, k, options, meta)
    return Imported(net, reference(layers, k, tau))
