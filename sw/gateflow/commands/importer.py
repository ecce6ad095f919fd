"""``gateflow import FORMAT MODEL --out ir.json``: another library's trained network as IR,
checked against the source model on the user's data (see docs/import.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from gateflow.argtypes import numbers as _numbers
from gateflow.errors import GateflowError


def _image(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 28x28: {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected a positive HxW: {text!r}")
    return h, w


def _check_samples(args: argparse.Namespace, num_features: int) -> tuple[str, np.ndarray]:
    """(what, raw features [n, F]) to check on: --check-data FILE or --dataset's test split."""
    if args.check_data:
        path = Path(args.check_data)
        if not path.is_file():
            raise GateflowError(f"{path}: no such file")
        try:
            if path.suffix.lower() == ".npy":
                X = np.load(path, allow_pickle=False)
            elif path.suffix.lower() == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    key = next((k for k in ("X_test", "X") if k in z.files), None)
                    if key is None:
                        raise GateflowError(f"{path}: no array X (it holds {', '.join(z.files)})")
                    X = z[key]
            else:
                raise GateflowError(f"{path}: --check-data takes a .npy or .npz file")
        except (OSError, ValueError, EOFError) as exc:
            raise GateflowError(f"{path}: not a readable numpy file ({exc})") from None
        X = X.reshape(len(X), -1) if X.ndim > 2 else X
        what = path.name
    else:
        from gateflow.data import get_dataset

        data = get_dataset(args.dataset, args.data_dir, download=args.download)
        X, what = data.X_test, f"{args.dataset} test"
    if X.ndim != 2 or X.shape[1] != num_features:
        raise GateflowError(
            f"{what}: {X.shape[-1] if X.ndim else 0} features per sample; the model takes "
            f"{num_features}"
        )
    if args.check_samples is not None:
        X = X[: args.check_samples]
    return what, X


def cmd_import(args: argparse.Namespace) -> int:
    from gateflow.importers import ImportOptions, read
    from gateflow.importers.common import check

    options = ImportOptions(
        thresholds=tuple(args.thresholds) if args.thresholds else None,
        num_inputs=args.inputs,
        num_classes=args.classes,
        image=args.image,
    )
    imported = read(args.format, args.model, options)
    net = imported.netlist
    if args.dataset:
        net.meta["dataset"] = args.dataset
    from gateflow.commands.options import gate_count

    print(
        f"{args.format} {Path(args.model).name}: {net.num_inputs} input bits, "
        f"{gate_count(net)}, {net.num_classes} classes"
    )
    for note in imported.notes:
        print(f"  {note}")
    if args.check_data or args.dataset:
        what, X = _check_samples(args, net.encoder.num_raw_features)
        result = check(imported, X)
        print(
            f"check on {what}: {result.agree}/{result.samples} samples agree on every "
            "class score (golden model vs the source model, discretized)"
        )
        if not result.ok:
            raise GateflowError(
                f"the imported netlist differs from the source model, first at sample "
                f"{result.first_mismatch}; nothing written"
            )
        net.meta.setdefault("imported", {})["check"] = {
            "data": what,
            "samples": result.samples,
            "agree": result.agree,
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net.save(out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateflow.importers import FORMATS

    p = sub.add_parser(
        "import",
        help="read a difflogic or torchlogix model into gateflow IR",
        description="Read a network trained with difflogic or torchlogix and write it as "
        "gateflow IR; with --check-data or --dataset, check the netlist's golden model "
        "against the source model's eval-mode class scores on every sample first.",
    )
    p.add_argument("format", choices=tuple(FORMATS), help="the library that trained the model")
    p.add_argument("model", help="the torch.save file (a whole model or a checkpoint dict)")
    p.add_argument("--out", required=True, help="the IR file to write")
    p.add_argument(
        "--thresholds",
        type=_numbers,
        metavar="T1,T2,...",
        help="the input encoding: every raw feature gives one bit per threshold, raw >= t, "
        "its bits next to each other (default: one bit, raw >= 1)",
    )
    p.add_argument("--inputs", type=int, help="input bits, when the checkpoint does not say")
    p.add_argument("--classes", type=int, help="classes, when the checkpoint has no GroupSum")
    p.add_argument(
        "--image", type=_image, metavar="HxW", help="a conv model's input size, if not saved"
    )
    g = p.add_argument_group("check (recommended)")
    g.add_argument("--check-data", metavar="FILE", help="raw features: .npy, or .npz with X")
    g.add_argument(
        "--dataset", choices=("digits", "mnist", "fashion-mnist"), help="check on its test split"
    )
    g.add_argument("--data-dir", help="folder of the MNIST/Fashion-MNIST IDX files")
    g.add_argument("--download", action="store_true", help="download missing IDX files")
    g.add_argument("--check-samples", type=int, metavar="N", help="check only the first N")
    p.set_defaults(func=cmd_import)
