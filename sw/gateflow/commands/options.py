"""Options and helpers shared by the subcommands: dataset, training and core-generation
arguments, and what they turn into (a training configuration, core options, a dataset)."""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
import sys
from pathlib import Path

from gateflow.argtypes import candidates as _candidates
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


THRESHOLD_ARCHS = ("binary", "bitlevel", "switcher")


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def arch_default(name: str, archs: tuple[str, ...] | None = None) -> str:
    """ "(default: ...)" for config field ``name``, read from train.DEFAULTS: one value when
    the families ``archs`` (default: all) agree, else the value of each family."""
    from gateflow.train.config import ARCHS, DEFAULTS

    groups: dict[str, list[str]] = {}
    for arch in archs or ARCHS:
        groups.setdefault(_show(getattr(DEFAULTS[arch], name)), []).append(arch)
    if len(groups) == 1:
        return f"(default: {next(iter(groups))})"
    return "(default: " + "; ".join(f"{v} for {', '.join(a)}" for v, a in groups.items()) + ")"


def add_train_args(p: argparse.ArgumentParser) -> None:
    from gateflow.train.config import ARCHS, DEVICES, MAX_VAL_FRACTION
    from gateflow.train.recipes import RECIPES

    # Every default comes from the --arch's default digits network (train.DEFAULTS),
    # so the options below default to None and train_config fills them in; the help
    # shows those defaults (arch_default).
    g = p.add_argument_group("training (defaults: the small digits network of --arch)")

    def opt(flag: str, help: str = "", archs: tuple[str, ...] | None = None, **kw) -> None:
        name = flag[2:].replace("-", "_")
        g.add_argument(flag, help=f"{help} {arch_default(name, archs)}".strip(), **kw)

    lgn, threshold = ("lgn",), THRESHOLD_ARCHS
    g.add_argument(
        "--arch",
        choices=ARCHS,
        default="lgn",
        help="lgn: logic gate network; binary: {0,1} weights and threshold neurons; "
        "bitlevel: integer weights trained bit by bit; switcher: weights masked by a "
        "learned switcher network (default: %(default)s)",
    )
    opt("--widths", "neurons per layer, comma-separated", type=_widths)
    opt(
        "--mode",
        "lgn: gumbel (hard forward + straight-through) or softmax (mixture of 16 gates)",
        lgn,
        choices=("gumbel", "softmax"),
    )
    opt("--steps", "optimiser steps", type=_positive)
    opt("--batch-size", "samples per optimiser step", type=_positive)
    opt("--lr", "Adam learning rate", type=float)
    opt("--tau", "GroupSum temperature", type=float)
    opt("--bits-per-feature", "thermometer bits per input feature", type=_positive)
    opt("--encoding", "thermometer thresholds", choices=("uniform", "quantile"))
    opt("--connections", "lgn wiring", lgn, choices=("random", "unique"))
    opt(
        "--candidates",
        "lgn: learn each gate input among K random candidates, or 'all' of the layer's "
        "inputs (0: fixed wiring)",
        lgn,
        type=_candidates,
    )
    g.add_argument(
        "--residual-init",
        action="store_true",
        help="lgn: start every gate as pass-through (default: off)",
    )
    opt("--schedule", "learning-rate schedule", choices=("constant", "cosine"))
    opt("--temperature", "lgn: Gumbel-softmax temperature", lgn, type=float)
    opt("--crop", "keep only the centred CROP x CROP pixels (none: all)", type=_positive)
    opt(
        "--conv",
        "lgn: logic-tree convolution stages before the dense layers, e.g. c32k3d3p1o2,c64k3d3o2 "
        "(c<kernels> k<kernel size> d<tree depth> [s<stride>] [p<padding>] [o<OR pool>])",
        lgn,
        metavar="SPEC",
    )
    g.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        help="a named, documented configuration (docs/conv.md); options given as well "
        "override it: " + "; ".join(f"{k}: {v.summary}" for k, v in sorted(RECIPES.items())),
    )
    opt(
        "--density",
        "binary/bitlevel: initial fraction of the weights (bits) that are 1",
        ("binary", "bitlevel"),
        type=float,
    )
    opt("--weight-bits", "bitlevel: bits of a weight", ("bitlevel",), type=_positive)
    opt(
        "--trained-bits",
        "bitlevel: train only the K most significant bits",
        ("bitlevel",),
        type=_positive,
    )
    opt("--levels", "switcher: weights in -LEVELS..LEVELS", ("switcher",), type=_positive)
    opt("--sparsity", "threshold families: sparsity penalty weight", threshold, type=float)
    opt("--switcher-lr", "switcher: its network's learning rate", ("switcher",), type=float)
    opt(
        "--sparsity-ramp",
        "threshold families: raise the penalty from 0 over this fraction of the steps",
        threshold,
        type=float,
    )
    opt(
        "--augment",
        "add training images shifted by one pixel: 1 = 4 shifts (x5 data), 2 = 8 shifts (x9)",
        type=int,
        choices=(0, 1, 2),
    )
    opt(
        "--checkpoint-every",
        "lgn: write the training state to OUT/train_state.pt every N steps (0: never)",
        lgn,
        type=_nonneg,
    )
    opt(
        "--val-fraction",
        f"hold out this stratified, seeded fraction (0 to {MAX_VAL_FRACTION}) of the training "
        "split as a validation split (never the test split); the model kept is the best one "
        "by discretized validation accuracy (ties: the earlier); 0: no split, the last model",
        type=float,
    )
    opt(
        "--early-stopping",
        "stop after N evaluations without a better discretized validation accuracy "
        "(needs --val-fraction; 0: off)",
        type=_nonneg,
    )
    opt(
        "--eval-every",
        "evaluate (history, report curves, model selection) every N steps; 0: at the end "
        "only, or about 20 times with --val-fraction",
        type=_nonneg,
    )
    opt("--seed", "seed of the initialisation, batches and validation split", type=int)
    opt("--threads", "torch CPU threads", type=_positive)
    opt("--device", "torch device (auto: cuda when torch sees one)", choices=DEVICES)
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


TRAIN_OPTIONS = (
    "widths", "mode", "steps", "batch_size", "lr", "tau", "bits_per_feature", "encoding",
    "connections", "schedule", "temperature", "checkpoint_every", "crop", "seed", "threads",
    "device", "density", "weight_bits", "trained_bits", "levels", "sparsity", "switcher_lr",
    "sparsity_ramp", "augment", "val_fraction", "early_stopping", "eval_every", "conv",
    "candidates",
)  # fmt: skip


def train_config(args: argparse.Namespace):
    from gateflow.train.config import DEFAULTS

    changes = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.residual_init:
        changes["residual_init"] = True
    recipe = getattr(args, "recipe", None)
    if recipe:
        from gateflow.train.recipes import RECIPES

        if args.arch != "lgn":
            raise GateflowError("--recipe names the whole network; it cannot go with --arch")
        base = RECIPES[recipe].config
    else:
        base = DEFAULTS[args.arch]
    config = base.replace(
        dataset=args.dataset or base.dataset,
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
    add_form_arg(g, "spatial")
    add_groupsum_arg(g, board=False)


def model_path(model: str | None) -> Path:
    """The IR file ``--model`` names, or the default digits network (trained once,
    gateflow.train.flow.default_model) when it names none."""
    if not model:
        from gateflow.train.flow import default_model

        return default_model()
    path = Path(model)
    if not path.is_file():
        raise GateflowError(f"IR file not found: {path}")
    return path


def add_groupsum_arg(g, board: bool) -> None:
    shown = "the board's groupsum (gateflow boards)" if board else "tree"
    g.add_argument(
        "--groupsum",
        choices=("tree", "serial"),
        default=None,
        help="tree: a popcount tree per class, one sample per clock; serial: one bit of "
        "every class per clock (gf_serial_groupsum), about half the GroupSum's LUTs, a "
        "sample every group size + 1 clocks; the engine (--form tm) is always serial "
        f"(default: {shown})",
    )


def add_form_arg(g, default: str | None) -> None:
    from gateflow.hdl.engine import DENSE_FORMS, FORMS

    shown = default or "the board's conv_form for a conv netlist (gateflow boards), else spatial"
    g.add_argument(
        "--form",
        choices=FORMS,
        default=default,
        help="spatial: every gate built, every conv position unrolled, one sample per "
        "clock; tm: the time-multiplexed engine of a conv netlist, each kernel tree once "
        "and reused over the image (docs/engine.md); seq: one gate per clock from a "
        "program in block RAM, a few hundred LUTs for any network (docs/seq.md) "
        f"(default: {shown})",
    )
    tail_default = None if default is None else "spatial"
    shown_tail = (
        "the board's dense_form where its block RAMs hold the tail, else spatial"
        if default is None
        else "spatial"
    )
    g.add_argument(
        "--tail",
        choices=DENSE_FORMS,
        default=tail_default,
        help="with --form tm, the engine's dense tail: spatial (every gate built, a serial "
        "GroupSum) or seq (the sequential core, fed the flattened map word by word; "
        f"docs/seq.md) (default: {shown_tail})",
    )


def core_options(args: argparse.Namespace):
    from gateflow.hdl.codegen import CoreOptions

    return CoreOptions(
        top=args.top,
        pipeline_every=args.pipeline_every,
        popcount_every=args.popcount_every,
        argmax_every=args.argmax_every,
        scores=not args.no_scores,
        form=args.form,
        groupsum=args.groupsum,
        tail=args.tail,
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


def gate_count(net) -> str:
    """ "N gates", or for a conv net its distinct gates and gate evaluations per image."""
    if net.has_spatial:
        return (
            f"{net.num_distinct_gates} distinct gates, "
            f"{net.num_unrolled_gates} gate evaluations per sample unrolled"
        )
    return f"{net.num_gates} gates"


def command_line(args: argparse.Namespace) -> str | None:
    """``gateflow ...`` as typed, when this process's command line is what gave ``args``
    (not when ``gateflow.cli.main`` was called from Python with other arguments)."""
    from gateflow.cli import build_parser

    argv = sys.argv[1:]
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            again = build_parser().parse_args(argv)
    except SystemExit:
        return None
    return "gateflow " + shlex.join(argv) if vars(again) == vars(args) else None
