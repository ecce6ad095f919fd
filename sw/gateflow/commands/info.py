"""``gateflow info``."""

from __future__ import annotations

import argparse
import json


def cmd_info(args: argparse.Namespace) -> int:
    from gateflow import ir

    net = ir.load(args.ir)
    print(
        json.dumps(
            {
                "inputs": net.num_inputs,
                "raw_features": net.encoder.num_raw_features,
                "layers": [layer.size for layer in net.layers],
                "layer_kinds": [layer.kind for layer in net.layers],
                "gates": net.num_gates,
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarise an IR file")
    p.add_argument("ir", help="IR file (JSON)")
    p.set_defaults(func=cmd_info)
