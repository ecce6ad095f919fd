"""The `gateflow` command line: train, gen, sim, eval, passes.

Every failure the user can cause (bad arguments, a bad IR file, a missing
dataset) ends in a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from gateflow import __version__
from gateflow.argtypes import nonneg as _nonneg
from gateflow.argtypes import positive as _positive
from gateflow.argtypes import widths as _widths
from gateflow.errors import GateflowError

log = logging.getLogger("gateflow")


def _add_data_args(p: argparse.ArgumentParser, default: str | None = "digits") -> None:
    p.add_argument(
        "--dataset",
        choices=("digits", "mnist", "fashion-mnist"),
        default=default,
        help="dataset (default: %(default)s; digits is bundled and works offline)",
    )
    p.add_argument("--data-dir", help="folder of the MNIST/Fashion-MNIST IDX files")
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing IDX files into --data-dir (checksums verified)",
    )


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from gateflow.train.logic import ARCHS

    # Every default comes from the --arch's default digits network (train.DEFAULTS),
    # so the options below default to None and _train_config fills them in.
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


_TRAIN_OPTIONS = (
    "widths", "mode", "steps", "batch_size", "lr", "tau", "bits_per_feature", "encoding",
    "connections", "schedule", "temperature", "checkpoint_every", "crop", "seed", "threads",
    "device", "density", "weight_bits", "trained_bits", "levels", "sparsity", "switcher_lr",
    "sparsity_ramp", "augment",
)  # fmt: skip


def _train_config(args: argparse.Namespace):
    from gateflow.train.logic import DEFAULTS

    changes = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.residual_init:
        changes["residual_init"] = True
    return DEFAULTS[args.arch].replace(
        dataset=args.dataset or "digits",
        data_dir=args.data_dir,
        download=args.download,
        **changes,
    )


def _add_core_args(p: argparse.ArgumentParser) -> None:
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


def _core_options(args: argparse.Namespace):
    from gateflow.hdl.codegen import CoreOptions

    return CoreOptions(
        top=args.top,
        pipeline_every=args.pipeline_every,
        popcount_every=args.popcount_every,
        argmax_every=args.argmax_every,
        scores=not args.no_scores,
    )


def _load_dataset(args: argparse.Namespace, net=None):
    from gateflow.data import get_dataset

    name = args.dataset or (net.meta.get("dataset") if net is not None else None) or "digits"
    data = get_dataset(name, args.data_dir, download=args.download)
    if net is not None and data.X_test.shape[1] != net.encoder.num_raw_features:
        raise GateflowError(
            f"the IR expects {net.encoder.num_raw_features} raw features but {name} has "
            f"{data.X_test.shape[1]}; pass the dataset it was trained on with --dataset"
        )
    return name, data


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


# ------------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    from gateflow.train.flow import train_and_export

    config = _train_config(args)
    trained = train_and_export(config, args.out, progress=not args.no_progress, resume=args.resume)
    r = trained.result
    for s in trained.stats:
        print(f"pass {s.line()}")
    if config.arch == "lgn":
        print(
            f"trained {config.dataset} in {r.seconds:.1f} s: test accuracy "
            f"{_pct(r.test_acc_hard)} discretized, {_pct(r.test_acc_soft)} soft"
        )
        print(f"wrote {Path(args.out) / 'ir.json'} ({trained.net.num_gates} gates) and model.pt")
        return 0
    bits = f", {_pct(r.bit_sparsity)} of weight bits zero" if r.bit_sparsity is not None else ""
    print(
        f"trained {config.arch} network on {config.dataset} in {r.seconds:.1f} s: test "
        f"accuracy {_pct(r.test_acc_hard)}, {_pct(r.sparsity)} of weights zero{bits}"
    )
    print(
        f"wrote {Path(args.out) / 'ir.json'} ({trained.net.num_gates} neurons, "
        f"{trained.net.num_connections} connections) and model.pt"
    )
    return 0


def cmd_gen(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.hdl.codegen import generate
    from gateflow.ir.passes import run_passes

    net = ir.load(args.ir)
    if args.passes:
        net, stats = run_passes(net)
        for s in stats:
            print(f"pass {s.line()}")
    core = generate(net, args.out, _core_options(args))
    m = core.manifest
    print(
        f"generated {core.top} in {core.out_dir}: {m['num_gates']} gates, "
        f"{m['input']['width']} input bits, latency {m['latency_cycles']} cycles"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.ir.golden import evaluate

    net = ir.load(args.ir)
    name, data = _load_dataset(args, net)
    res = evaluate(net, data.X_test)
    acc = float((res.pred == data.y_test).mean())
    print(f"{name} test split: {len(data.y_test)} samples, golden-model accuracy {_pct(acc)}")
    if args.checkpoint:
        from gateflow.train.flow import check_against_torch, load_model

        model = load_model(args.checkpoint)
        check_against_torch(net, model, data.X_test, "eval")
        print(f"torch-vs-golden: {len(data.y_test)}/{len(data.y_test)}")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.hdl.codegen import generate
    from gateflow.verify.simulate import simulate

    out = Path(args.out)
    if args.model:
        if args.arch != "lgn":
            raise GateflowError("--arch chooses the network to train; it cannot go with --model")
        net = ir.load(args.model)
        print(f"loaded {args.model}: {net.num_gates} gates in {len(net.layers)} layers")
        name, data = _load_dataset(args, net)
    else:
        from gateflow.train.flow import train_and_export

        config = _train_config(args)
        trained = train_and_export(config, out / "model", progress=not args.no_progress)
        net = trained.net
        for s in trained.stats:
            print(f"pass {s.line()}")
        what = "gates" if config.arch == "lgn" else f"{config.arch} neurons"
        print(
            f"trained {config.dataset}: {net.num_gates} {what} after passes, "
            f"torch eval test accuracy {_pct(trained.result.test_acc_hard)}"
        )
        name, data = _load_dataset(args, net)
    x, y = data.X_test, data.y_test
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    core = generate(net, out / "core", _core_options(args))
    print(
        f"generated {core.top} in {core.out_dir} (latency {core.manifest['latency_cycles']} "
        f"cycles, {core.manifest['input']['width']} input bits)"
    )
    print(f"simulating {len(y)} {name} test samples under Verilator ...")
    report = simulate(core, net, net.encoder.encode(x), out / "sim", seed=args.seed)
    sw_acc = float((report.golden.pred == y).mean())
    print(f"software accuracy: {_pct(sw_acc)} (golden model)")
    if len(report.hw_pred) == len(y):
        print(f"hardware accuracy: {_pct(float((report.hw_pred == y).mean()))} (Verilator)")
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


def cmd_passes(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.ir.passes import run_passes

    net = ir.load(args.ir)
    net, stats = run_passes(net, args.passes.split(","))
    for s in stats:
        print(f"pass {s.line()}")
    net.save(args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from gateflow import ir

    net = ir.load(args.ir)
    print(
        json.dumps(
            {
                "inputs": net.num_inputs,
                "raw_features": net.encoder.num_raw_features,
                "layers": [layer.size for layer in net.layers],
                "layer_kinds": [layer.kind for layer in net.layers],
                "gates": net.num_gates,
                "connections": net.num_connections,
                "classes": net.num_classes,
                "group_sizes": [int(g.size) for g in net.head.groups],
                "meta": net.meta,
            },
            indent=1,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateflow",
        description="Train logic gate networks and put them on FPGAs with open tools.",
    )
    parser.add_argument("--version", action="version", version=f"gateflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train a network, export and simplify its IR",
        description="Train a logic gate network (or, with --arch, a {0,1}-weight, "
        "bit-level integer or switcher-masked threshold network); write model.pt, "
        "ir.json (after the passes) and train.json to --out.",
    )
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--out", default="build/model", help="output folder (default: %(default)s)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/train_state.pt (same options)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "gen",
        help="generate the SystemVerilog core of an IR",
        description="Generate the SystemVerilog core, RTL library and manifest.json of an IR file.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--out", default="build/core", help="output folder (default: %(default)s)")
    p.add_argument("--passes", action="store_true", help="run the default passes first")
    _add_core_args(p)
    p.set_defaults(func=cmd_gen)

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
    _add_data_args(p, default=None)
    _add_train_args(p)
    _add_core_args(p)
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser(
        "eval",
        help="accuracy of an IR on a dataset's test split",
        description="Evaluate an IR with the golden model on a test split; "
        "with --checkpoint also check torch eval mode against it bit for bit.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--checkpoint", help="model.pt to compare with the golden model")
    _add_data_args(p, default=None)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "passes",
        help="run netlist passes on an IR",
        description="Run named passes (const, fold, dce) on an IR file.",
    )
    p.add_argument("ir", help="IR file (JSON)")
    p.add_argument("--passes", default="fold,dce", help="comma-separated (default: %(default)s)")
    p.add_argument("--out", required=True, help="output IR file")
    p.set_defaults(func=cmd_passes)

    p = sub.add_parser("info", help="summarise an IR file")
    p.add_argument("ir", help="IR file (JSON)")
    p.set_defaults(func=cmd_info)

    from gateflow.commands import register_all

    register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from gateflow.verify.runner import SimulationError, ToolNotFoundError

    try:
        return args.func(args)
    except (GateflowError, SimulationError, ToolNotFoundError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gateflow: error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gateflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
