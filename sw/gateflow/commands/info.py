"""``gateflow info``."""

from __future__ import annotations

import argparse
import json


def cmd_info(args: argparse.Namespace) -> int:
    from gateflow import ir

    net = ir.load(args.ir)
    spatial = {}
    if net.has_spatial:
        spatial = {
            "distinct_gates": net.num_distinct_gates,
            "unrolled_gates": net.num_unrolled_gates,
            "spatial_layers": [_spatial(layer) for layer in net.spatial],
        }
    print(
        json.dumps(
            {
                "inputs": net.num_inputs,
                "raw_features": net.encoder.num_raw_features,
                "layers": [layer.size for layer in net.layers],
                "layer_kinds": [layer.kind for layer in net.layers],
                "gates": net.num_gates,
                **spatial,
                "connections": net.num_connections,
                "classes": net.num_classes,
                "class_names": list(net.head.class_names) if net.head.class_names else None,
                "feature_values": net.encoder.values,
                "ir_version": net.version,
                "group_sizes": [int(g.size) for g in net.head.groups],
                "meta": net.meta,
            },
            indent=1,
        )
    )
    return 0


def _spatial(layer) -> dict:
    """One spatial layer's kind, shapes and, for a conv, its kernels and gate counts."""
    out = {"kind": layer.kind, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape)}
    if layer.kind == "conv":
        out.update(
            kernel=list(layer.kernel),
            stride=list(layer.stride),
            padding=list(layer.padding),
            depth=layer.depth,
            distinct_gates=layer.num_distinct_gates,
            unrolled_gates=layer.num_unrolled_gates,
        )
    elif layer.kind == "orpool":
        out.update(
            kernel=list(layer.kernel),
            stride=list(layer.stride),
            unrolled_gates=layer.num_unrolled_gates,
        )
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="summarise an IR file",
        description="Summarise an IR file as JSON: inputs, layer sizes and kinds, gates, "
        "classes. For a convolutional netlist also the distinct gates (one tree per kernel "
        "and the dense gates), the gate evaluations per sample (every tree at every "
        "position, the pooling ORs, the dense gates) and each spatial layer's shapes; "
        "'gates' counts every signal after the input bits (the flatten signals too).",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.set_defaults(func=cmd_info)
