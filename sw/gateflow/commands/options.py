"""Options and helpers shared by the subcommands: dataset, training and core-generation
arguments, and what they turn into (a training configuration, core options, a dataset)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateflow.argtypes import nonneg as _nonneg
from gateflow.argtypes import numbers as _numbers
from gateflow.argtypes import positive as _positive
from gateflow.argtypes import widths as _widths
from gateflow.errors import GateflowError


def add_data_args(p: argparse.ArgumentParser, training: bool = False) -> None:
    p.add_argument(
        "--dataset",
        choices=("digits", "mnist", "fashion-mnist"),
        help="dataset (default: digits, which is bundled and works offline)"
        if training
        else "dataset (default: the one the model was trained on)",
    )
    p.add_argument("--data-dir", help="folder of the MNIST/Fashion-MNIST IDX files")
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing IDX files into --data-dir (checksums verified)",
    )
    g = p.add_argument_group("your own data (instead of --dataset)")
    g.add_argument(
        "--data",
        metavar="FILE",
        help="a CSV file (header row; real-valued features and a label column) or a .npz "
        "file (arrays X, y, optionally X_test, y_test)",
    )
    g.add_argument("--test-data", metavar="FILE", help="a separate test file with the same columns")
    g.add_argument(
        "--label-column", metavar="NAME", help="CSV: the label column (default: the last one)"
    )
    if training:
        g.add_argument(
            "--test-fraction",
            type=float,
            default=0.2,
            help="without --test-data: the share of each class held out as the test split "
            "(stratified, seeded; default: %(default)s)",
        )
        g.add_argument(
            "--split-seed", type=int, default=0, help="the test split's seed (default: 0)"
        )
        g.add_argument(
            "--thresholds",
            type=_numbers,
            metavar="T1,T2,...",
            help="with --encoding fixed: the thermometer thresholds of every feature",
        )


def add_train_args(p: argparse.ArgumentParser) -> None:
    from gateflow.train.config import ARCHS

    # Every default comes from the --arch's default digits network (train.DEFAULTS),
    # so the options below default to None and train_config fills them in.
    g = p.add_argument_group("training (defaults: the small digits network of --arch)")
    g.add_argument(
        "--arch",
        choices=ARCHS,
        default="lgn",
        help="lgn: logic gate network; binary: {0,1} weights and threshold neurons; "
        "bitlevel: integer weights trained bit by bit; switcher: weights masked by a "
        "learned switcher network (default: %(default)s)",
    )
    g.add_argument("--widths", type=_widths, help="neurons per layer, comma-separated")
    g.add_argument(
        "--mode",
        choices=("gumbel", "softmax"),
        help="lgn: gumbel (hard forward + straight-through) or softmax (mixture of 16 gates)",
    )
    g.add_argument("--steps", type=_positive)
    g.add_argument("--batch-size", type=_positive)
    g.add_argument("--lr", type=float)
    g.add_argument("--tau", type=float, help="GroupSum temperature")
    g.add_argument("--bits-per-feature", type=_positive)
    g.add_argument("--encoding", choices=("uniform", "quantile"))
    g.add_argument("--connections", choices=("random", "unique"), help="lgn wiring")
    g.add_argument(
        "--residual-init", action="store_true", help="lgn: start every gate as pass-through"
    )
    g.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule")
    g.add_argument("--temperature", type=float, help="lgn: Gumbel-softmax temperature")
    g.add_argument("--crop", type=_positive, help="keep the centred CROP x CROP pixels")
    g.add_argument(
        "--density",
        type=float,
        help="binary/bitlevel: initial fraction of the weights (bits) that are 1",
    )
    g.add_argument("--weight-bits", type=_positive, help="bitlevel: bits of a weight")
    g.add_argument(
        "--trained-bits", type=_positive, help="bitlevel: train only the K most significant bits"
    )
    g.add_argument("--levels", type=_positive, help="switcher: weights in -LEVELS..LEVELS")
    g.add_argument("--sparsity", type=float, help="threshold families: sparsity penalty weight")
    g.add_argument("--switcher-lr", type=float, help="switcher: its network's learning rate")
    g.add_argument(
        "--sparsity-ramp",
        type=float,
        help="threshold families: raise the penalty from 0 over this fraction of the steps",
    )
    g.add_argument(
        "--augment",
        type=int,
        choices=(0, 1, 2),
        help="add training images shifted by one pixel: 1 = 4 shifts (x5 data), 2 = 8 shifts (x9)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=_nonneg,
        help="lgn: write the training state to OUT/train_state.pt every N steps (0: never)",
    )
    g.add_argument("--seed", type=int)
    g.add_argument("--threads", type=_positive, help="torch CPU threads (default: 1)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"))
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


TRAIN_OPTIONS = (
    "widths", "mode", "steps", "batch_size", "lr", "tau", "bits_per_feature", "encoding",
    "connections", "schedule", "temperature", "checkpoint_every", "crop", "seed", "threads",
    "device", "density", "weight_bits", "trained_bits", "levels", "sparsity", "switcher_lr",
    "sparsity_ramp", "augment",
)  # fmt: skip


def train_config(args: argparse.Namespace):
    from gateflow.train.config import DEFAULTS

    changes = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.residual_init:
        changes["residual_init"] = True
    config = DEFAULTS[args.arch].replace(
        dataset=args.dataset or "digits",
        data_dir=args.data_dir,
        download=args.download,
        **changes,
    )
    return config.replace(**data_options(args))


def add_core_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("core generation")
    g.add_argument(
        "--pipeline-every",
        type=_nonneg,
        default=1,
        help="a register stage after every N gate layers; 0 = none (default: 1)",
    )
    g.add_argument(
        "--popcount-every",
        type=_nonneg,
        default=0,
        help="a register stage after every N adder levels of the class popcounts; "
        "0 = none (default: 0)",
    )
    g.add_argument(
        "--argmax-every",
        type=_nonneg,
        default=0,
        help="a register stage after every N comparator levels of the argmax; "
        "0 = none (default: 0)",
    )
    g.add_argument(
        "--no-scores", action="store_true", help="output only the class index, not the class scores"
    )
    g.add_argument("--top", default="gf_core", help="top module name (default: %(default)s)")


def core_options(args: argparse.Namespace):
    from gateflow.hdl.codegen import CoreOptions

    return CoreOptions(
        top=args.top,
        pipeline_every=args.pipeline_every,
        popcount_every=args.popcount_every,
        argmax_every=args.argmax_every,
        scores=not args.no_scores,
    )


def data_options(args: argparse.Namespace) -> dict:
    """The TrainConfig fields of the data options (a user's file, its split, the
    tabular defaults: a quantile thermometer of 8 bits per feature unless asked)."""
    if not getattr(args, "data", None):
        for flag in ("test_data", "label_column"):
            if getattr(args, flag, None):
                raise GateflowError(f"--{flag.replace('_', '-')} goes with --data FILE")
        return {}
    if args.dataset:
        raise GateflowError("pass --dataset or --data, not both")
    out = {
        "data": args.data,
        "test_data": args.test_data,
        "label_column": args.label_column,
        "test_fraction": args.test_fraction,
        "split_seed": args.split_seed,
        "thresholds": args.thresholds,
        "auto_widths": args.widths is None,
        "dataset": Path(args.data).name,
    }
    if args.encoding is None:
        out["encoding"] = "fixed" if args.thresholds else "quantile"
    if args.bits_per_feature is None:
        out["bits_per_feature"] = TABULAR_BITS
    return out


TABULAR_BITS = 8  # thermometer bits per real-valued feature by default


def load_dataset(args: argparse.Namespace, net=None, need_labels: bool = True):
    """(name, Dataset) to evaluate on: ``--data FILE`` (matched to the model's features
    and classes, see gateflow.data.tabular.evaluation_set) or a built-in dataset."""
    if getattr(args, "data", None):
        if net is None:
            raise GateflowError("--data needs a model (--model) whose features it holds")
        from gateflow.data.tabular import evaluation_set

        if args.dataset:
            raise GateflowError("pass --dataset or --data, not both")
        path = args.test_data or args.data
        data = evaluation_set(
            path,
            net.encoder.feature_names,
            net.encoder.num_raw_features,
            net.head.class_names,
            trained_on=None if args.test_data else net.meta.get("data"),
            label_column=args.label_column,
            need_labels=need_labels,
        )
        return data.name, data
    from gateflow.data import get_dataset

    if net is not None and net.encoder.real:
        raise GateflowError(
            f"this model takes real-valued features ({net.meta.get('dataset', 'a file')}); "
            "pass them with --data FILE"
        )
    name = args.dataset or (net.meta.get("dataset") if net is not None else None) or "digits"
    data = get_dataset(name, args.data_dir, download=args.download)
    if net is not None and data.X_test.shape[1] != net.encoder.num_raw_features:
        raise GateflowError(
            f"the IR expects {net.encoder.num_raw_features} raw features but {name} has "
            f"{data.X_test.shape[1]}; pass the dataset it was trained on with --dataset"
        )
    return name, data


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"
