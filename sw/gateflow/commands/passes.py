"""``gateflow passes``."""

from __future__ import annotations

import argparse


def cmd_passes(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.ir.passes import run_passes

    net = ir.load(args.ir)
    net, stats = run_passes(net, args.passes.split(","))
    for s in stats:
        print(f"pass {s.line()}")
    net.save(args.out)
    print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "passes",
        help="run netlist passes on an IR",
        description="Run named passes (const, fold, dce) on an IR file.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--passes", default="fold,dce", help="comma-separated (default: %(default)s)")
    p.add_argument("--out", required=True, help="output IR file")
    p.set_defaults(func=cmd_passes)
