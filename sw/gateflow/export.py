"""Export: a trained torch LogicNet -> netlist IR.

The exported netlist computes exactly what the model computes in eval mode
(one gate per neuron, the argmax of its logits; GroupSum without the
temperature); tests check it sample by sample against the golden model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import GroupSum, LogicLayer, Netlist, validate


def export(model: Any, meta: dict[str, Any] | None = None) -> Netlist:
    """The netlist of ``model`` (a gateflow.nn.LogicNet), with ``meta`` recorded in the IR."""
    encoder = model.encoder.to_encoder()
    base = encoder.num_bits  # global number of the previous layer's first signal
    prev = 0
    layers = []
    for layer in model.layers:
        a = layer.a.detach().cpu().numpy().astype(np.int64) + prev
        b = layer.b.detach().cpu().numpy().astype(np.int64) + prev
        op = layer.ops().detach().cpu().numpy().astype(np.int64)
        layers.append(LogicLayer(a=a, b=b, op=op))
        prev = base
        base += op.shape[0]
    width = base - prev
    k = width // model.num_classes
    groups = [
        np.arange(prev + c * k, prev + (c + 1) * k, dtype=np.int64)
        for c in range(model.num_classes)
    ]
    info = {"arch": "lgn", "config": dict(getattr(model, "config", {}))}
    info.update(meta or {})
    return validate(Netlist(encoder, layers, GroupSum(groups), info))
