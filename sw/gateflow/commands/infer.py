"""``gateflow infer``: run a dataset's test split on a board or the simulated board."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateflow.argtypes import positive as _positive
from gateflow.errors import GateflowError
from gateflow.protocol import DEFAULT_BAUD, DEFAULT_WINDOW

DEFAULT_SIM_BUILD = Path("build/infer-sim")


def _build_folder(args: argparse.Namespace) -> Path:
    """The build the board runs: --build, or for the simulated board a sim build of
    --model (default: the default digits network) generated into --out."""
    if args.build:
        if args.model:
            raise GateflowError("pass --build or --model, not both")
        return Path(args.build)
    if args.port != "sim":
        raise GateflowError(
            "a real board needs --build: the folder of the bitstream build it runs "
            "(e.g. build/icebreaker)"
        )
    from gateflow.commands.options import model_path
    from gateflow.host import prepare_sim_build

    ir_path = model_path(args.model)
    return prepare_sim_build(
        ir_path,
        args.out,
        baud=args.baud or DEFAULT_BAUD,
        window=args.window or DEFAULT_WINDOW,
        pipeline_every=args.pipeline_every,
        scores=not args.no_scores,
        form=args.form,
        groupsum=args.groupsum,
        tail=args.tail,
    )


def cmd_infer(args: argparse.Namespace) -> int:
    from gateflow import ir
    from gateflow.commands.options import load_dataset
    from gateflow.host import Board, SimOptions
    from gateflow.host.bench import measure
    from gateflow.ir.golden import evaluate

    build = _build_folder(args)
    net = ir.load(build / "ir.json") if (build / "ir.json").is_file() else None
    if net is None:
        raise GateflowError(f"no ir.json in {build}: the golden model needs the build's IR")
    name, data = load_dataset(args, net)
    x, y = data.X_test, data.y_test
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    golden = evaluate(net, x)
    sim_options = SimOptions(baud=args.baud, realtime=args.realtime) if args.port == "sim" else None
    with Board.open(
        args.port,
        build=build,
        baud=args.baud,
        window=args.window,
        timeout=args.timeout,
        retries=args.retries,
        sim_options=sim_options,
    ) as board:
        where = "simulated board" if board.sim is not None else args.port
        print(
            f"{where}: model {board.info.model_id.hex()}, {board.in_bits} input bits, "
            f"{board.layout.num_classes} classes{' with scores' if board.layout.scores else ''}, "
            f"window {board.window}, {board.baud} baud"
        )
        print(f"running {len(y)} {name} test samples ...")
        m = measure(board, x)
    res = m.result
    matched = res.pred == golden.pred
    if res.scores is not None:
        matched &= (res.scores == golden.scores).all(axis=1)
    n_ok = int(matched.sum())
    acc = float((res.pred == y).mean())
    gold_acc = float((golden.pred == y).mean())
    print(f"accuracy: {100 * acc:.2f}% (board), {100 * gold_acc:.2f}% (golden model)")
    print(f"agreement: {n_ok}/{len(y)}")
    print(
        f"throughput: {m.samples_per_s:.1f} samples/s "
        f"(link limit {m.link_limit:.1f} samples/s at {m.baud} baud)"
    )
    if m.sim_samples_per_s is not None:
        print(
            f"simulated link: {m.sim_samples_per_s:.1f} samples per simulated second, "
            f"{100 * m.sim_samples_per_s / m.link_limit:.1f}% of the limit; the simulation ran "
            f"at {m.realtime_factor:.2f}x real time"
        )
    st = m.stats
    if st.retransmits or st.bad_frames or st.errors:
        print(
            f"link: {st.retransmits} retransmits, {st.timeouts} timeouts, "
            f"{st.bad_frames} bad frames, errors {st.errors or 'none'}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(m.as_dict(), indent=1) + "\n")
    if n_ok != len(y):
        print(f"gateflow: {len(y) - n_ok} results differ from the golden model", file=sys.stderr)
        return 1
    return 0


def cmd_infer_bench(args: argparse.Namespace) -> int:
    from gateflow.host.bench import run_benchmark

    build = _build_folder(args)
    result = run_benchmark(
        build,
        port=args.port,
        samples=args.limit or 1000,
        baud=args.baud,
        window=args.window,
        realtime=args.realtime,
    )
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateflow.argtypes import nonneg as _nonneg
    from gateflow.commands.options import add_data_args, add_form_arg, add_groupsum_arg

    p = sub.add_parser(
        "infer",
        help="run a test split on a board (or the simulated board) through the UART",
        description="Send a dataset's test split to a board over its serial port, or to the "
        "simulated board (--port sim: the board top under Verilator behind a pseudo "
        "terminal), and print the accuracy, the agreement with the golden model and the "
        "throughput against the link's limit.",
    )
    p.add_argument(
        "--port", required=True, help="serial port of the board (/dev/ttyUSB1, COM3), or 'sim'"
    )
    p.add_argument("--build", help="the board build folder (manifest.json, ir.json)")
    p.add_argument(
        "--model",
        help="with --port sim: an IR file to simulate (default: the default digits network)",
    )
    p.add_argument(
        "--out",
        default=str(DEFAULT_SIM_BUILD),
        help="with --port sim and no --build: where the sim build goes (default: %(default)s)",
    )
    p.add_argument("--limit", type=_positive, help="only the first N test samples")
    p.add_argument("--baud", type=_positive, help="link rate (default: the build's)")
    p.add_argument("--window", type=_positive, help="INFER frames in flight (default: the board's)")
    p.add_argument("--timeout", type=float, help="seconds before a frame is sent again")
    p.add_argument("--retries", type=_nonneg, default=8, help="resends per sample (default: 8)")
    p.add_argument(
        "--realtime",
        action="store_true",
        help="with --port sim: pace the simulation to the wall clock (the link then runs "
        "at its baud rate when the machine is fast enough)",
    )
    p.add_argument(
        "--pipeline-every",
        type=_nonneg,
        default=1,
        help="with --model: a register stage after every N gate layers (default: 1)",
    )
    p.add_argument("--no-scores", action="store_true", help="with --model: class index only")
    add_form_arg(p, "spatial")
    add_groupsum_arg(p, board=False)
    p.add_argument(
        "--bench",
        action="store_true",
        help="print a JSON benchmark (samples/s and the UART limit side by side) instead",
    )
    p.add_argument("--json", help="also write the measurements as JSON to this file")
    add_data_args(p)
    p.set_defaults(func=lambda a: cmd_infer_bench(a) if a.bench else cmd_infer(a))
