"""`gateflow check`: strict validation of an IR file, one line of output either way."""

from __future__ import annotations

import argparse
import sys


def cmd_check(args: argparse.Namespace) -> int:
    import numpy as np

    from gateflow import ir
    from gateflow.ir.golden import eval_bits

    try:
        net = ir.load(args.ir)
        bits = np.random.default_rng(0).integers(0, 2, (64, net.num_inputs), dtype=np.uint8)
        eval_bits(net, bits)  # the golden model runs on it
    except ir.IRError as exc:
        print(f"gateflow: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a check must answer in one line, whatever happens
        print(f"gateflow: error: {args.ir}: {type(exc).__name__}: {exc}".splitlines()[0],
              file=sys.stderr)  # fmt: skip
        return 2
    gates = (
        f"{net.num_distinct_gates} distinct gates ({net.num_unrolled_gates} per sample)"
        if net.has_spatial
        else f"{net.num_gates} gates"
    )
    print(
        f"OK {args.ir}: IR version {net.version}, {net.num_inputs} input bits, "
        f"{len(net.layers)} layers, {gates}, {net.num_classes} classes, "
        f"sha256 {net.sha256()[:16]}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate an IR file strictly",
        description="Validate an IR file against docs/ir.md and run the golden model on it; "
        "print one line (OK with a summary, or the first problem found) and exit non-zero "
        "on any problem.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.set_defaults(func=cmd_check)
