"""``gateflow predict``: the class of every row of a user's file, by the golden model."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from gateflow.errors import GateflowError


def _model_ir(path: str) -> Path:
    """An IR file, or a training folder holding ir.json."""
    p = Path(path)
    if p.is_dir():
        p = p / "ir.json"
    if not p.is_file():
        raise GateflowError(f"{path}: no IR file (pass ir.json or the folder of a training run)")
    return p


def cmd_predict(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.data.tabular import read_features
    from gateflow.ir.golden import evaluate

    net = ir.load(_model_ir(args.model))
    enc = net.encoder
    X, labels, rows = read_features(args.data, enc.feature_names, enc.num_raw_features,
                                    args.label_column)  # fmt: skip
    if not enc.real:
        if not (X == X.round()).all():
            raise GateflowError(
                f"{args.data}: this model takes integer features, the file has fractions"
            )
        X = X.astype("int64")
    res = evaluate(net, X)
    names = [net.head.class_name(c) for c in range(net.num_classes)]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "prediction", *(f"score_{n}" for n in names)])
        for r, c, sc in zip(rows.tolist(), res.pred.tolist(), res.scores.tolist()):
            w.writerow([r, names[c], *sc])
    tmp.replace(out)
    line = f"wrote {out}: {len(rows)} predictions"
    if labels is not None:
        correct = sum(names[c] == v for c, v in zip(res.pred.tolist(), labels.tolist()))
        line += f", accuracy {100 * correct / len(rows):.2f}% against the file's labels"
    print(line, file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="the class of every row of a CSV/.npz file, written to a CSV",
        description="Classify every row of a file with a trained model (its IR, by the "
        "golden model: what the hardware computes, bit for bit). The file's columns are "
        "matched to the model's features by name; a label column, if there, is set aside "
        "and used to report the accuracy. Writes row, prediction and one score per class.",
    )
    p.add_argument("model", help="ir.json, or the folder of a training run")
    p.add_argument("--data", required=True, metavar="FILE", help="the rows to classify")
    p.add_argument("--label-column", metavar="NAME", help="the label column, if not the extra one")
    p.add_argument("--out", default="predictions.csv", help="output CSV (default: %(default)s)")
    p.set_defaults(func=cmd_predict)
