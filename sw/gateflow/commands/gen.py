"""``gateflow gen``."""

from __future__ import annotations

import argparse

from gateflow.commands.options import add_core_args, core_options


def cmd_gen(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.hdl.codegen import generate
    from gateflow.ir.passes import run_passes

    net = ir.load(args.ir)
    if args.passes:
        net, stats = run_passes(net)
        for s in stats:
            print(f"pass {s.line()}")
    core = generate(net, args.out, core_options(args))
    m = core.manifest
    conv = (
        f" (lowered from {m['num_distinct_gates']} distinct conv-network gates)"
        if "num_distinct_gates" in m
        else ""
    )
    print(
        f"generated {core.top} in {core.out_dir}: {m['num_gates']} gates{conv}, "
        f"{m['input']['width']} input bits, latency {m['latency_cycles']} cycles"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gen",
        help="generate the SystemVerilog core of an IR",
        description="Generate the SystemVerilog core, RTL library and manifest.json of an IR file.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--out", default="build/core", help="output folder (default: %(default)s)")
    p.add_argument("--passes", action="store_true", help="run the default passes first")
    add_core_args(p)
    p.set_defaults(func=cmd_gen)
