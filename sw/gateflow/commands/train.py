"""``gateflow train``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateflow.commands.options import (
    add_data_args,
    add_train_args,
    command_line,
    gate_count,
    pct,
    train_config,
)


def _print_selection(args: argparse.Namespace, r) -> None:
    """The validation split and the model kept; where the report went."""
    if r.split is not None:
        total = r.split["train_samples"] + r.split["val_samples"]
        stop = ", stopped early" if r.stopped_early else ""
        print(
            f"validation: {r.split['val_samples']} of {total} training samples held out; "
            f"kept the model of step {r.best_step} of {r.steps}{stop}: validation accuracy "
            f"{pct(r.val_acc_hard)} discretized, {pct(r.val_acc_soft)} soft"
        )
    if not args.no_report:
        print(f"wrote {Path(args.out) / 'report.md'} and its figures")


def cmd_train(args: argparse.Namespace) -> int:
    from gateflow.train.flow import train_and_export

    config = train_config(args)
    trained = train_and_export(
        config,
        args.out,
        progress=not args.no_progress,
        resume=args.resume,
        report=not args.no_report,
        command=command_line(args),
    )
    r = trained.result
    for s in trained.stats:
        print(f"pass {s.line()}")
    if config.arch == "lgn":
        print(
            f"trained {config.dataset} in {r.seconds:.1f} s: test accuracy "
            f"{pct(r.test_acc_hard)} discretized, {pct(r.test_acc_soft)} soft"
        )
        print(f"wrote {Path(args.out) / 'ir.json'} ({gate_count(trained.net)}) and model.pt")
        _print_selection(args, r)
        return 0
    bits = f", {pct(r.bit_sparsity)} of weight bits zero" if r.bit_sparsity is not None else ""
    print(
        f"trained {config.arch} network on {config.dataset} in {r.seconds:.1f} s: test "
        f"accuracy {pct(r.test_acc_hard)}, {pct(r.sparsity)} of weights zero{bits}"
    )
    print(
        f"wrote {Path(args.out) / 'ir.json'} ({trained.net.num_gates} neurons, "
        f"{trained.net.num_connections} connections) and model.pt"
    )
    _print_selection(args, r)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a network, export and simplify its IR",
        description="Train a logic gate network (or, with --arch, a {0,1}-weight, "
        "bit-level integer or switcher-masked threshold network); write model.pt, "
        "ir.json (after the passes), train.json and report.md (learning curves, "
        "confusion matrix, sizes, the command line) to --out.",
    )
    add_data_args(p, training=True)
    add_train_args(p)
    p.add_argument("--out", default="build/model", help="output folder (default: %(default)s)")
    p.add_argument("--no-report", action="store_true", help="write no report.md and no figures")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/train_state.pt (same options)",
    )
    p.set_defaults(func=cmd_train)
