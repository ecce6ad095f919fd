"""``gateflow bench``: training throughput, accuracy, golden-model and Verilator benchmarks.

Every subcommand prints one JSON object on stdout (``all`` prints the files it
wrote); ``--out`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateflow.argtypes import positive as _positive
from gateflow.argtypes import widths as _widths
from gateflow.errors import GateflowError
from gateflow.fpga.families import FAMILIES as FPGA_FAMILIES

DATASETS = ("mnist", "fashion-mnist", "digits", "synthetic")


def _print(result: dict[str, Any], out: str | None) -> int:
    text = json.dumps(result, indent=1)
    if out:
        from gateflow.bench.suite import write_json

        write_json(result, Path(out))
    print(text)
    return 0


def _throughput_spec(args: argparse.Namespace):
    from gateflow.bench.throughput import ThroughputSpec

    baseline_steps = args.baseline_steps or max(1, args.steps // 10)
    return ThroughputSpec(
        layers=args.layers,
        width=args.width,
        batch_size=args.batch_size,
        steps=args.steps,
        baseline_steps=baseline_steps,
        rounds=min(args.rounds, args.steps, baseline_steps),
        threads=args.threads,
        mode=args.mode,
        dataset=args.dataset,
        data_dir=args.data_dir,
        crop=args.crop,
        seed=args.seed,
        device=args.device,
        backend=args.backend,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from gateflow.bench.throughput import run_throughput

    return _print(run_throughput(_throughput_spec(args), baseline=args.baseline), args.out)


def _conv_spec(args: argparse.Namespace):
    from gateflow.bench.conv import IMPLS, ConvBenchSpec

    impls = tuple(i for i in args.impls.split(",") if i)
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown or not impls:
        raise GateflowError(f"unknown implementation(s) {', '.join(unknown)}; choose from {IMPLS}")
    dataset = args.dataset or ("mnist" if args.data_dir else "synthetic")
    return ConvBenchSpec(
        conv=args.conv,
        widths=tuple(args.widths),
        bits_per_pixel=args.bits,
        batch_size=args.batch_size,
        steps=args.steps,
        rounds=min(args.rounds, args.steps),
        threads=args.threads,
        tau=args.tau,
        lr=args.lr,
        connections=args.connections,
        seed=args.seed,
        dataset=dataset,
        data_dir=args.data_dir,
        impls=impls,
        torchlogix_dir=args.torchlogix_dir,
    )


def cmd_conv(args: argparse.Namespace) -> int:
    from gateflow.bench.conv import TorchlogixUnavailable, install_torchlogix, run_conv_bench

    spec = _conv_spec(args)
    installed: dict[str, Any] | None = None
    if args.install_torchlogix:
        try:
            installed = install_torchlogix(spec.torchlogix_dir)
        except TorchlogixUnavailable as exc:
            installed = {"installed": False, "error": str(exc)}
    result = run_conv_bench(spec)
    if installed is not None:
        result["torchlogix"]["install"] = installed
    return _print(result, args.out)


def _accuracy_spec(args: argparse.Namespace):
    from gateflow.bench.accuracy import AccuracySpec, parse_recipe

    recipes: dict[str, dict[str, Any]] = {}
    for text in args.recipe or []:
        mode, values = parse_recipe(text)
        recipes.setdefault(mode, {}).update(values)
    return AccuracySpec(
        modes=tuple(args.modes.split(",")),
        layers=args.layers,
        width=args.width,
        batch_size=args.batch_size,
        steps=args.steps,
        eval_every=args.eval_every,
        threads=args.threads,
        dataset=args.dataset,
        data_dir=args.data_dir,
        crop=args.crop,
        recipes=recipes,
        seed=args.seed,
        device=args.device,
    )


def cmd_accuracy(args: argparse.Namespace) -> int:
    from gateflow.bench import plots
    from gateflow.bench.accuracy import run_accuracy

    result = run_accuracy(_accuracy_spec(args), progress=not args.no_progress)
    if args.plot_dir:
        plots.plot_accuracy(result, Path(args.plot_dir) / "accuracy.png")
        plots.plot_gap(result, Path(args.plot_dir) / "gap.png")
    return _print(result, args.out)


def cmd_golden(args: argparse.Namespace) -> int:
    from gateflow.bench.inference import run_golden

    result = run_golden(
        inputs=args.inputs,
        widths=(args.width,) * args.layers,
        samples=args.samples,
        seed=args.seed,
    )
    return _print(result, args.out)


def cmd_verilator(args: argparse.Namespace) -> int:
    from gateflow.bench.inference import run_verilator

    result = run_verilator(
        inputs=args.inputs,
        widths=(args.width,) * args.layers,
        samples=args.samples,
        seed=args.seed,
    )
    return _print(result, args.out)


def cmd_families(args: argparse.Namespace) -> int:
    from gateflow.bench.families import FAMILIES, FamiliesSpec, run_families

    families = tuple(f for f in args.families.split(",") if f)
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise GateflowError(f"unknown famil(ies) {', '.join(unknown)}; choose from {FAMILIES}")
    sweep = (
        tuple(int(k) for k in args.trained_bits_sweep.split(",")) if args.trained_bits_sweep else ()
    )
    spec = FamiliesSpec(
        families=families,
        dataset=args.dataset,
        data_dir=args.data_dir,
        family=args.fpga,
        steps=args.steps,
        trained_bits_sweep=sweep,
        threads=args.threads,
        seed=args.seed,
    )
    return _print(run_families(spec, Path(args.work) if args.work else None), args.out)


def cmd_import(args: argparse.Namespace) -> int:
    from gateflow.bench.imports import ImportBenchSpec, install_difflogic, run_import_bench

    if args.install:
        if args.library == "difflogic":
            install_difflogic(args.library_dir or "build/bench-deps/difflogic")
        else:
            from gateflow.bench.conv import install_torchlogix

            install_torchlogix(args.library_dir or "build/bench-deps/torchlogix")
    spec = ImportBenchSpec(
        library=args.library,
        arch=args.arch,
        dataset=args.dataset,
        data_dir=args.data_dir,
        threshold=args.threshold,
        layers=args.layers,
        width=args.width,
        kernels=args.kernels,
        tau=args.tau,
        lr=args.lr,
        batch_size=args.batch_size,
        steps=args.steps,
        seed=args.seed,
        threads=args.threads,
        out=args.out_dir or f"build/{args.library}-{args.dataset}",
        folder=args.library_dir,
    )
    return _print(run_import_bench(spec), args.out)


def cmd_encoder(args: argparse.Namespace) -> int:
    from gateflow.bench.encoder import run_encoder_bench
    from gateflow.commands.options import model_path

    ir_path = model_path(args.model)
    work = args.work or "build/bench-encoder"
    return _print(run_encoder_bench(ir_path, args.fpga, work, rows=args.rows), args.out)


def cmd_qor(args: argparse.Namespace) -> int:
    import sys

    from gateflow.bench.qor import DEFAULT_RUNS, parse_runs, plot_qor, run_qor

    runs = parse_runs(args.runs) if args.runs else DEFAULT_RUNS
    work = Path(args.work or "build/qor")

    def progress(line: str) -> None:
        print(f"gateflow bench qor: {line}", file=sys.stderr, flush=True)

    result = run_qor(runs, work, data_dir=args.data_dir, steps=args.steps, progress=progress)
    plot = Path(args.plot) if args.plot else work / "qor.png"
    result["plot"] = str(plot_qor(result, plot))
    return _print(result, args.out)


def cmd_all(args: argparse.Namespace) -> int:
    from gateflow.bench.suite import PARTS, run_suite

    parts = tuple(args.only.split(",")) if args.only else PARTS
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise GateflowError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {PARTS}")
    written = run_suite(args.out, args.data_dir, parts, progress=not args.no_progress)
    print(json.dumps({k: str(v) for k, v in written.items()}, indent=1))
    return 0


def _common(p: argparse.ArgumentParser, layers: int, width: int) -> None:
    p.add_argument("--layers", type=_positive, default=layers, help="default: %(default)s")
    p.add_argument("--width", type=_positive, default=width, help="gates per layer (%(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the JSON to this file")


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="default: %(default)s")
    p.add_argument("--data-dir", help="folder of the MNIST IDX files")
    p.add_argument("--crop", type=_positive, default=20, help="centred crop (default: 20)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: training throughput, accuracy, inference speed",
        description="Benchmarks; each prints one JSON object.",
    )
    bench = p.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")

    q = bench.add_parser(
        "train",
        help="training samples/s (optionally side by side with the reference formulation)",
        description="Time training steps of an L x W logic gate network (MNIST binarized, "
        "cropped); with --baseline also the reference 16-gate mixture with plain "
        "autograd, in alternating rounds in the same process.",
    )
    _common(q, 6, 8000)
    _data(q)
    q.add_argument("--batch-size", type=_positive, default=100)
    q.add_argument("--steps", type=_positive, default=100, help="timed steps (%(default)s)")
    q.add_argument("--threads", type=_positive, default=2, help="torch threads (%(default)s)")
    q.add_argument("--baseline", action="store_true", help="time the reference as well")
    q.add_argument("--baseline-steps", type=_positive, help="timed baseline steps (steps / 10)")
    q.add_argument("--rounds", type=_positive, default=5, help="alternations (%(default)s)")
    q.add_argument("--mode", choices=("softmax", "gumbel"), default="softmax")
    q.add_argument("--backend", choices=("auto", "native", "torch"), help="fast-path kernels")
    q.set_defaults(func=cmd_train)

    q = bench.add_parser(
        "conv",
        help="conv logic gate networks: training samples/s, fast path vs reference vs torchlogix",
        description="Time Adam training steps (train mode, Gumbel, batch B) of one conv "
        "architecture in gateflow's fast path (native and torch kernels), gateflow's "
        "reference conv code, and torchlogix 0.2.2's layers on the same architecture when "
        "it is installed (make bench-deps, or --install-torchlogix), side by side in "
        "alternating rounds. Random images of MNIST shape, or MNIST with --data-dir.",
    )
    q.add_argument(
        "--conv",
        default="c16k3d3o2,c32k3d3o2",
        metavar="SPEC",
        help="conv stages, c<channels>k<kernel>d<depth>[s<stride>][p<padding>]"
        "[o<pool>],... (default: %(default)s)",
    )
    q.add_argument(
        "--widths",
        type=_widths,
        default=[2000, 2000],
        help="dense gates per layer, comma-separated (default: 2000,2000)",
    )
    q.add_argument("--bits", type=_positive, default=2, help="thermometer bits per pixel (2)")
    q.add_argument("--batch-size", type=_positive, default=100)
    q.add_argument(
        "--steps", type=_positive, default=20, help="timed steps per implementation (%(default)s)"
    )
    q.add_argument("--rounds", type=_positive, default=4, help="alternations (%(default)s)")
    q.add_argument("--threads", type=_positive, default=2, help="torch threads (%(default)s)")
    q.add_argument("--tau", type=float, default=10.0, help="GroupSum tau (%(default)s)")
    q.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (%(default)s)")
    q.add_argument("--connections", choices=("unique", "random"), default="unique")
    q.add_argument(
        "--impls",
        default="native,torch,reference,torchlogix",
        help="comma-separated subset of native,torch,reference,torchlogix",
    )
    q.add_argument(
        "--dataset",
        choices=("synthetic", "mnist", "fashion-mnist"),
        help="default: mnist with --data-dir, else synthetic (random 28x28)",
    )
    q.add_argument("--data-dir", help="folder of the MNIST IDX files")
    q.add_argument(
        "--torchlogix-dir",
        default="build/bench-deps/torchlogix",
        help="folder torchlogix is installed in (pip --target; %(default)s)",
    )
    q.add_argument(
        "--install-torchlogix",
        action="store_true",
        help="first pip install --no-deps torchlogix==0.2.2 into --torchlogix-dir",
    )
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="also write the JSON to this file")
    q.set_defaults(func=cmd_conv)

    q = bench.add_parser(
        "import",
        help="train with difflogic's or torchlogix's own code (CPU), import it, check it",
        description="Train a network with the library's own modules (difflogic 0.1.0's Python "
        "implementation, or torchlogix 0.2.2), save it with torch.save, import it (gateflow "
        "import) and compare every class score of every test image with the library's "
        "model.eval().",
    )
    q.add_argument("library", choices=("difflogic", "torchlogix"))
    q.add_argument(
        "--arch",
        choices=("dense", "conv"),
        default="dense",
        help="conv: torchlogix LogicConv2d + OrPooling2d before the dense layers",
    )
    _common(q, 4, 2000)
    q.add_argument("--kernels", type=_positive, default=8, help="conv kernels (%(default)s)")
    q.add_argument("--dataset", choices=("mnist", "fashion-mnist", "digits"), default="mnist")
    q.add_argument("--data-dir", help="folder of the MNIST IDX files")
    q.add_argument("--threshold", type=int, default=128, help="pixel >= T is 1 (%(default)s)")
    q.add_argument("--tau", type=float, default=20.0, help="GroupSum tau (%(default)s)")
    q.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (%(default)s)")
    q.add_argument("--batch-size", type=_positive, default=128)
    q.add_argument("--steps", type=_positive, default=3000, help="training steps (%(default)s)")
    q.add_argument("--threads", type=_positive, default=1, help="torch threads (%(default)s)")
    q.add_argument("--out-dir", help="model.pt, ir.json, bench.json (build/LIBRARY-DATASET)")
    q.add_argument("--library-dir", help="where the library is (build/bench-deps/LIBRARY)")
    q.add_argument("--install", action="store_true", help="first install the library there")
    q.set_defaults(func=cmd_import)

    q = bench.add_parser(
        "accuracy",
        help="softmax vs Gumbel training: test accuracy vs steps, gap, unused gates",
        description="Train the same network once per mode, evaluating the test split "
        "(discretized and soft) every --eval-every steps.",
    )
    _common(q, 6, 8000)
    _data(q)
    q.set_defaults(device="auto")
    q.add_argument("--modes", default="softmax,gumbel")
    q.add_argument("--batch-size", type=_positive, default=100)
    q.add_argument("--steps", type=_positive, default=1500)
    q.add_argument("--eval-every", type=_positive, default=100)
    q.add_argument("--threads", type=_positive, default=1, help="torch threads (%(default)s)")
    q.add_argument(
        "--recipe",
        action="append",
        metavar="MODE:KEY=VALUE,...",
        help="override a mode's recipe (keys: lr, tau, residual_init, schedule, temperature, "
        "connections), "
        "e.g. gumbel:lr=0.1,tau=10; repeatable",
    )
    q.add_argument("--plot-dir", help="write accuracy.png and gap.png here")
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=cmd_accuracy)

    q = bench.add_parser("golden", help="bit-packed golden model: gate evaluations/s")
    _common(q, 6, 8000)
    q.add_argument("--inputs", type=_positive, default=400)
    q.add_argument("--samples", type=_positive, default=16384)
    q.set_defaults(func=cmd_golden)

    q = bench.add_parser("verilator", help="generated core under Verilator: samples/s")
    _common(q, 2, 1000)
    q.add_argument("--inputs", type=_positive, default=400)
    q.add_argument("--samples", type=_positive, default=2000)
    q.set_defaults(func=cmd_verilator)

    q = bench.add_parser(
        "families",
        help="binary / bitlevel / switcher (/ lgn) on MNIST: accuracy, zero weights, core LUTs",
        description="Train each family's MNIST recipe (train5k, tested on t10k), export and "
        "simplify its IR, and report the golden model's test accuracy, the fraction of zero "
        "weights (and weight bits), the neurons' function classes, the weight-invariance "
        "experiment (binary) and the LUTs of the generated core synthesised by Yosys.",
    )
    q.add_argument("--families", default="binary,bitlevel,switcher", help="default: %(default)s")
    q.add_argument("--dataset", choices=DATASETS[:3], default="mnist", help="default: %(default)s")
    q.add_argument("--data-dir", help="folder of the MNIST IDX files")
    q.add_argument("--fpga", choices=tuple(FPGA_FAMILIES), default="ecp5",
                   help="FPGA family of the LUT count (default: %(default)s)")  # fmt: skip
    q.add_argument("--steps", type=_positive, help="override every recipe's steps")
    q.add_argument("--trained-bits-sweep", metavar="K,K,...",
                   help="bitlevel: also train with each of these trained_bits")  # fmt: skip
    q.add_argument("--threads", type=_positive, default=1, help="torch threads (%(default)s)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--work", help="keep models and cores in this folder")
    q.add_argument("--out", help="also write the JSON to this file")
    q.set_defaults(func=cmd_families)

    q = bench.add_parser(
        "encoder",
        help="the thermometer encoder as FPGA logic: LUTs and payload bytes against the host",
        description="Build a model's thermometer encoder as hardware (a byte per raw feature "
        "in, its input bits out), check it bit for bit against the IR's encoder under "
        "Verilator, synthesise it alone with Yosys and print its LUTs beside the INFER "
        "payload with the encoder in the host (today) and in the FPGA.",
    )
    q.add_argument("--model", help="IR file (default: the default digits network)")
    q.add_argument("--fpga", choices=tuple(FPGA_FAMILIES), default="ice40",
                   help="FPGA family of the LUT count (default: %(default)s)")  # fmt: skip
    q.add_argument("--rows", type=_positive, default=500, help="random raw rows checked")
    q.add_argument("--work", help="folder for the RTL and tool files (build/bench-encoder)")
    q.add_argument("--out", help="also write the JSON to this file")
    q.set_defaults(func=cmd_encoder)

    q = bench.add_parser(
        "qor",
        help="accuracy against LUTs: train, build and measure networks on their boards",
        description="Train each network (the default digits network or a recipe), build it "
        "for its board with the board's defaults, and print its test accuracy beside the "
        "build's LUTs, logic cells and timing; plot accuracy against LUTs with the "
        "published points that state a LUT count (docs/results.md).",
    )
    q.add_argument("--runs", metavar="NETWORK@BOARD,...",
                   help="default: default@icebreaker,digits-icebreaker@icebreaker,"
                   "mnist-dense-icebreaker@icebreaker")  # fmt: skip
    q.add_argument("--data-dir", help="MNIST / Fashion-MNIST folder, for the recipes on them")
    q.add_argument("--steps", type=_positive, help="override every network's training steps")
    q.add_argument("--work", help="models and builds (default: build/qor)")
    q.add_argument("--plot", help="the plot's PNG (default: WORK/qor.png)")
    q.add_argument("--out", help="also write the JSON to this file")
    q.set_defaults(func=cmd_qor)

    q = bench.add_parser(
        "all",
        help="the whole suite: JSON and plots into --out",
        description="Run every benchmark at its default size (throughput 6 x 8000 on 2 "
        "threads against the reference, softmax vs Gumbel accuracy over 1,500 steps, "
        "golden model, Verilator); write <out>/*.json and <out>/*.png.",
    )
    q.add_argument("--out", default="build/bench", help="default: %(default)s")
    q.add_argument("--data-dir", help="folder of the MNIST IDX files")
    q.add_argument("--only", help="comma-separated subset of: throughput,accuracy,golden,verilator")
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=cmd_all)
