"""Export: a trained torch model -> netlist IR.

The exported netlist computes exactly what the model computes in eval mode;
tests check it sample by sample against the golden model. A LogicNet gives
logic layers (one gate per neuron, the argmax of its logits); a
ThresholdModel gives threshold layers (each neuron's nonzero integer weights
and its integer threshold). GroupSum becomes the head, without the temperature.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gateflow.ir.netlist import GroupSum, LogicLayer, Netlist, ThresholdLayer, validate


def export(
    model: Any,
    meta: dict[str, Any] | None = None,
    class_names: tuple[str, ...] | None = None,
) -> Netlist:
    """The netlist of ``model`` (a gateflow.nn.LogicNet or ThresholdModel), with
    ``meta`` recorded in the IR and the classes named ``class_names`` (if given)."""
    from gateflow.nn.threshold_model import ThresholdModel

    if isinstance(model, ThresholdModel):
        return _export_threshold(model, meta, class_names)
    from gateflow.nn.conv import ConvLogicNet

    if isinstance(model, ConvLogicNet):
        return _export_conv(model, meta, class_names)
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
    info = {"arch": "lgn", "config": dict(getattr(model, "config", {}))}
    info.update(meta or {})
    head = _head(prev, base - prev, model.num_classes, class_names)
    return validate(Netlist(encoder, layers, head, info))


def _head(prev: int, width: int, num_classes: int, class_names: tuple[str, ...] | None) -> GroupSum:
    """GroupSum over the last layer [prev, prev + width): class c reads its c-th k bits."""
    k = width // num_classes
    return GroupSum(
        [np.arange(prev + c * k, prev + (c + 1) * k, dtype=np.int64) for c in range(num_classes)],
        class_names,
    )


def _export_threshold(
    model: Any, meta: dict[str, Any] | None, class_names: tuple[str, ...] | None
) -> Netlist:
    encoder = model.encoder.to_encoder()
    base, prev = encoder.num_bits, 0
    layers = []
    for spec in model.net.integer_description():
        sources = np.arange(prev, prev + spec.weight.shape[1], dtype=np.int64)
        layers.append(ThresholdLayer.from_dense(spec.weight, spec.threshold, sources))
        prev = base
        base += spec.weight.shape[0]
    info = {"arch": model.arch, "config": dict(model.config)}
    info.update(meta or {})
    head = _head(prev, base - prev, model.num_classes, class_names)
    return validate(Netlist(encoder, layers, head, info))


def _export_conv(
    model: Any, meta: dict[str, Any] | None, class_names: tuple[str, ...] | None
) -> Netlist:
    """A ConvLogicNet as IR spatial layers (docs/ir.md): each conv kernel's tree stored
    once with its leaves' receptive-field wiring, OR pooling, flatten, then the dense
    logic layers over the flattened map."""
    from gateflow.ir.netlist import from_dict
    from gateflow.nn.conv import LogicTreeConv2d

    encoder = model.encoder.to_encoder()
    layers: list[dict[str, Any]] = []
    for stage in model.stages:
        if isinstance(stage, LogicTreeConv2d):
            layers.append({
                "kind": "conv",
                "in_shape": list(stage.in_shape),
                "out_channels": stage.out_channels,
                "kernel": list(stage.kernel),
                "stride": list(stage.stride),
                "padding": list(stage.padding),
                "depth": stage.depth,
                "leaf_y": stage.leaf_y.cpu().tolist(),
                "leaf_x": stage.leaf_x.cpu().tolist(),
                "leaf_c": stage.leaf_c.cpu().tolist(),
                "op": stage.ops().cpu().tolist(),
            })  # fmt: skip
        else:
            layers.append({
                "kind": "orpool",
                "in_shape": list(stage.in_shape),
                "kernel": [stage.kernel, stage.kernel],
                "stride": [stage.stride, stage.stride],
            })  # fmt: skip
    layers.append({"kind": "flatten", "in_shape": list(model.flat_shape)})
    prev = encoder.num_bits  # the flatten layer's signals follow the input bits
    base = prev + int(np.prod(model.flat_shape))
    for layer in model.layers:
        op = layer.ops().detach().cpu().numpy().astype(np.int64)
        a = layer.a.detach().cpu().numpy().astype(np.int64) + prev
        b = layer.b.detach().cpu().numpy().astype(np.int64) + prev
        layers.append({"kind": "logic", "a": a.tolist(), "b": b.tolist(), "op": op.tolist()})
        prev = base
        base += op.shape[0]
    head = _head(prev, base - prev, model.num_classes, class_names)
    info = {"arch": "lgn-conv", "config": dict(model.config)}
    info.update(meta or {})
    doc = {
        "format": "gateflow-ir",
        "version": 3,
        "meta": info,
        "encoder": encoder.to_dict(),
        "layers": layers,
        "head": head.to_dict(),
    }
    return from_dict(doc)
