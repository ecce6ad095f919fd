"""``gateflow randnet``: a random netlist IR, for benchmarks and hardware sizing."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_randnet(args: argparse.Namespace) -> int:
    from gateflow.errors import GateflowError
    from gateflow.ir.passes import DEFAULT_PASSES, run_passes
    from gateflow.ir.randnet import parse_spatial, random_conv_netlist, random_netlist

    conv = args.image is not None or args.spatial
    if conv and args.inputs is not None:
        raise GateflowError("--inputs is for flat networks; a conv network's inputs are --image")
    if not conv and (args.inputs is None or args.widths is None):
        raise GateflowError("randnet needs --inputs and --widths (or --image for a conv network)")
    try:
        if conv:
            if args.image is None or len(args.image) != 3:
                raise ValueError("a conv network needs --image H,W,C")
            net = random_conv_netlist(
                tuple(args.image),
                [parse_spatial(spec) for spec in args.spatial],
                args.widths or [],
                args.classes,
                seed=args.seed,
                skip_prob=args.skip,
                kind=args.kind,
                fan_in=args.fan_in,
                weight_bits=args.weight_bits,
            )
        else:
            net = random_netlist(
                args.inputs,
                args.widths,
                args.classes,
                seed=args.seed,
                skip_prob=args.skip,
                kind=args.kind,
                fan_in=args.fan_in,
                weight_bits=args.weight_bits,
            )
    except ValueError as exc:
        raise GateflowError(str(exc)) from None
    if not args.no_passes:
        net, _ = run_passes(net, DEFAULT_PASSES)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net.save(out)
    if net.has_spatial:
        print(
            f"{out}: {net.num_inputs} inputs, {net.num_distinct_gates} distinct gates "
            f"({net.num_unrolled_gates} evaluated per sample) in {len(net.layers)} layers, "
            f"{net.num_classes} classes"
        )
    else:
        print(
            f"{out}: {net.num_inputs} inputs, {net.num_gates} gates in {len(net.layers)} layers, "
            f"{net.num_classes} classes"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateflow.argtypes import nonneg as _nonneg
    from gateflow.argtypes import positive as _positive
    from gateflow.argtypes import widths as _widths
    from gateflow.ir.randnet import KINDS

    p = sub.add_parser(
        "randnet",
        help="write a random netlist IR (for sizing and benchmarks)",
        description="Write a random network as an IR file: random gates or threshold "
        "neurons and wiring, the last layer split evenly into the classes' groups; the default "
        "passes (fold, dce) run unless --no-passes. With --image and --spatial, a "
        "convolutional network (IR version 3): random conv kernels and OR pooling over the "
        "image, a flatten, then the dense layers --widths.",
    )
    p.add_argument("--inputs", type=_positive, help="input bits (a flat network)")
    p.add_argument(
        "--widths",
        type=_widths,
        help="gates per dense layer, e.g. 2000,2000 (required for a flat network)",
    )
    p.add_argument(
        "--image",
        type=_widths,
        help="a conv network's input image H,W,C: C thermometer bits per pixel",
    )
    p.add_argument(
        "--spatial",
        action="append",
        default=[],
        metavar="SPEC",
        help="a spatial layer of a conv network, in order (repeat the option): "
        "conv:K[,k=KH[xKW]][,s=S][,p=P][,d=DEPTH] (K kernels; defaults k=3, s=1, p=0, d=2) "
        "or pool[:k=K][,s=S] (OR pooling; default 2x2, stride the kernel)",
    )
    p.add_argument("--classes", type=_positive, default=10, help="classes (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--skip", type=float, default=0.0, help="chance a gate reads an older layer")
    p.add_argument(
        "--kind",
        choices=KINDS,
        default="logic",
        help="layers: two-input gates, threshold neurons with weights 1 (binary) or signed "
        "integer weights, or the three in turn (default: logic)",
    )
    p.add_argument("--fan-in", type=_nonneg, default=6, help="most sources per threshold neuron")
    p.add_argument("--weight-bits", type=_positive, default=4, help="integer weight bits")
    p.add_argument("--no-passes", action="store_true", help="keep dead and foldable gates")
    p.add_argument("--out", required=True, help="IR file to write")
    p.set_defaults(func=cmd_randnet)
