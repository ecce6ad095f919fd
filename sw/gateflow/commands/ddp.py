"""``gateflow train-ddp``: ``gateflow train`` data-parallel over the processes torchrun starts.

Launch it with torchrun, e.g. ``torchrun --nproc_per_node 2 --no-python gateflow
train-ddp ...`` (the options are those of ``gateflow train``; ``--batch-size`` is
the global batch, split between the processes). Every process trains; rank 0
exports, checks and writes the outputs and prints the summary. Run without
torchrun it is ``gateflow train``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_train_ddp(args: argparse.Namespace) -> int:
    from gateflow.commands.options import pct, train_config
    from gateflow.train import dist
    from gateflow.train.flow import train_and_export
    from gateflow.train.logic import train

    config = train_config(args)
    me = dist.init_from_env(config.device)
    try:
        if not me.is_main:
            from gateflow.train.config import fit_to_data, load_data

            data = load_data(config)  # the same data and split on every process
            train(fit_to_data(config, data.num_classes), progress=False, data=data)
            return 0
        from gateflow.commands.options import command_line

        trained = train_and_export(
            config, args.out, progress=not args.no_progress, command=command_line(args)
        )
    finally:
        dist.shutdown()
    r = trained.result
    for s in trained.stats:
        print(f"pass {s.line()}")
    print(
        f"trained {config.dataset} on {me.world_size} process(es) in {r.seconds:.1f} s: "
        f"test accuracy {pct(r.test_acc_hard)} discretized, {pct(r.test_acc_soft)} soft "
        f"(gap {100 * (r.test_acc_soft - r.test_acc_hard):.2f} points)"
    )
    from gateflow.commands.options import gate_count

    print(f"wrote {Path(args.out) / 'ir.json'} ({gate_count(trained.net)}) and model.pt")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateflow.commands.options import add_data_args, add_train_args

    p = sub.add_parser(
        "train-ddp",
        help="gateflow train, data-parallel under torchrun (DDP)",
        description="Train as `gateflow train` does, data-parallel over the processes "
        "torchrun starts (gloo on CPU, NCCL on CUDA). --batch-size is the global batch. "
        "Example: torchrun --nproc_per_node 2 --no-python gateflow train-ddp --out build/ddp",
    )
    add_data_args(p, training=True)
    add_train_args(p)
    p.add_argument("--out", default="build/model", help="output folder (default: %(default)s)")
    p.set_defaults(func=cmd_train_ddp)
