"""``gateflow sim``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gateflow.argtypes import positive as _positive
from gateflow.commands.options import (
    add_core_args,
    add_data_args,
    add_train_args,
    core_options,
    load_dataset,
    pct,
    train_config,
)
from gateflow.errors import GateflowError

log = logging.getLogger("gateflow")


def cmd_sim(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.hdl.codegen import generate
    from gateflow.verify.simulate import simulate

    out = Path(args.out)
    if args.model:
        if args.arch != "lgn":
            raise GateflowError("--arch chooses the network to train; it cannot go with --model")
        net = ir.load(args.model)
        from gateflow.commands.options import gate_count

        print(f"loaded {args.model}: {gate_count(net)} in {len(net.layers)} layers")
        name, data = load_dataset(args, net)
    else:
        from gateflow.train.flow import train_and_export

        config = train_config(args)
        from gateflow.commands.options import command_line

        trained = train_and_export(
            config, out / "model", progress=not args.no_progress, command=command_line(args)
        )
        net = trained.net
        for s in trained.stats:
            print(f"pass {s.line()}")
        from gateflow.commands.options import gate_count

        what = gate_count(net) if config.arch == "lgn" else f"{net.num_gates} {config.arch} neurons"
        print(
            f"trained {config.dataset}: {what} after passes, "
            f"torch eval test accuracy {pct(trained.result.test_acc_hard)}"
        )
        name, data = load_dataset(args, net)
    x, y = data.X_test, data.y_test
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    core = generate(net, out / "core", core_options(args))
    print(
        f"generated {core.top} in {core.out_dir} (latency {core.manifest['latency_cycles']} "
        f"cycles, {core.manifest['input']['width']} input bits)"
    )
    print(f"simulating {len(y)} {name} test samples under Verilator ...")
    report = simulate(core, net, net.encoder.encode(x), out / "sim", seed=args.seed)
    sw_acc = float((report.golden.pred == y).mean())
    print(f"software accuracy: {pct(sw_acc)} (golden model)")
    if len(report.hw_pred) == len(y):
        print(f"hardware accuracy: {pct(float((report.hw_pred == y).mean()))} (Verilator)")
    else:
        print(f"hardware accuracy: n/a ({len(report.hw_pred)}/{len(y)} results received)")
    for mode, matched in report.matched.items():
        log.info("%s mode: %d/%d bit-exact", mode, matched, report.total)
    print(f"bit-exact: {report.bit_exact}/{report.total}")
    if not report.ok:
        for err in report.errors[:10]:
            print(f"  {err}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="simulate a core under Verilator against the golden model",
        description="Train the default network (or load --model), generate its "
        "core and simulate every test sample under Verilator, checking every "
        "output bit against the golden model.",
    )
    p.add_argument("--model", help="an existing IR file; without it the default is trained")
    p.add_argument("--out", default="build/sim", help="output folder (default: %(default)s)")
    p.add_argument("--limit", type=_positive, help="simulate only the first N test samples")
    add_data_args(p, training=True)
    add_train_args(p)
    add_core_args(p)
    p.set_defaults(func=cmd_sim)
