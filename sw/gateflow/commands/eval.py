"""``gateflow eval``."""

from __future__ import annotations

import argparse

from gateflow.commands.options import add_data_args, load_dataset, pct


def cmd_eval(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.ir.golden import evaluate

    net = ir.load(args.ir)
    name, data = load_dataset(args, net)
    res = evaluate(net, data.X_test)
    acc = float((res.pred == data.y_test).mean())
    print(f"{name} test split: {len(data.y_test)} samples, golden-model accuracy {pct(acc)}")
    if args.checkpoint:
        from gateflow.train.flow import check_against_torch, load_model

        model = load_model(args.checkpoint)
        check_against_torch(net, model, data.X_test, "eval")
        print(f"torch-vs-golden: {len(data.y_test)}/{len(data.y_test)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="accuracy of an IR on a dataset's test split",
        description="Evaluate an IR with the golden model on a test split; "
        "with --checkpoint also check torch eval mode against it bit for bit.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--checkpoint", help="model.pt to compare with the golden model")
    add_data_args(p)
    p.set_defaults(func=cmd_eval)
