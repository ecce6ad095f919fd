"""`gateflow prove`: formal equivalence of the generated core with its IR (Yosys SAT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateflow.argtypes import nonneg as _nonneg


def cmd_prove(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.verify.prove import CHECKS, ProveOptions, prove

    net = ir.load(args.ir)
    options = ProveOptions(
        top=args.top,
        pipeline_every=args.pipeline_every,
        scores=not args.no_scores,
        checks=tuple(args.checks.split(",")) if args.checks else CHECKS,
        timeout_s=args.timeout,
        work_dir=Path(args.work_dir) if args.work_dir else None,
    )
    result = prove(net, options)
    print(result.summary())
    if result.counterexample is not None:
        for line in result.counterexample.lines():
            print(line)
        return 1
    return 0 if result.proven else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prove",
        help="prove the generated core equivalent to its IR (Yosys SAT)",
        description="Generate the core of an IR and prove with Yosys that it computes the "
        "IR's function on every input: the network module against a reference netlist "
        "written from the IR, then the whole core (popcount, argmax, output buffer) and its "
        "latency. Prints 'proven' or a counterexample replayed through the golden model.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument(
        "--pipeline-every",
        type=_nonneg,
        default=1,
        help="a register stage after every N gate layers; 0 = none (default: 1)",
    )
    p.add_argument("--no-scores", action="store_true", help="a core that outputs only the class")
    p.add_argument("--top", default="gf_core", help="top module name (default: %(default)s)")
    p.add_argument("--checks", help="comma-separated subset of network,core,latency")
    p.add_argument("--timeout", type=_nonneg, default=1800, help="seconds per Yosys run")
    p.add_argument("--work-dir", help="keep the generated core and proof files here")
    p.set_defaults(func=cmd_prove)
