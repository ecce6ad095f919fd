"""``gateflow bitstream``, ``gateflow boards`` and ``gateflow program``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from gateflow.argtypes import nonneg as _nonneg
from gateflow.commands.options import add_form_arg, add_groupsum_arg, model_path
from gateflow.errors import GateflowError
from gateflow.protocol import DEFAULT_BAUD


def cmd_bitstream(args: argparse.Namespace) -> int:
    from gateflow.fpga.bitstream import BuildOptions, build
    from gateflow.fpga.boards import load_board

    board = load_board(args.board, args.variant)
    ir_path = model_path(args.model)
    opts = BuildOptions(
        pipeline_every=args.pipeline_every,
        popcount_every=args.popcount_every,
        argmax_every=args.argmax_every,
        scores=not args.no_scores,
        baud=args.baud,
        window=args.window,
        target_mhz=args.target_mhz,
        seed=args.seed,
        force=args.force,
        form=args.form,
        groupsum=args.groupsum,
        tail=args.tail,
    )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    out = Path(args.out or f"build/{board.build_name}")
    report = build(board, ir_path, out, opts, progress=None if args.quiet else progress)
    report.pop("utilization", None)
    print(json.dumps(report, indent=2))
    print(
        f"{board.title}: {report['luts']}/{report['luts_available']} LUTs, "
        f"{report['ffs']} FFs, {report['brams']} BRAMs, Fmax {report['fmax_mhz']:.1f} MHz "
        f"(target {report['target_mhz']:g}), latency {report['latency_cycles']} cycles, "
        f"core {report['core_luts']} LUTs -> {report['bitstream']}",
        file=sys.stderr,
    )
    return 0


def cmd_boards(args: argparse.Namespace) -> int:
    from gateflow.fpga.boards import board_names, load_board, sync_constraints

    if args.sync:
        for path in sync_constraints():
            print(f"wrote {path}")
        return 0
    for name in board_names():
        b = load_board(name)
        variants = f" (variants: {', '.join(b.variants)})" if b.variants else ""
        print(
            f"{name:12s} {b.title:24s} {b.device:22s} {b.clock_mhz:g} MHz, "
            f"{b.resources['luts']} LUTs{variants}"
        )
    return 0


def cmd_program(args: argparse.Namespace) -> int:
    from gateflow.fpga.boards import load_board
    from gateflow.fpga.launcher import resolve

    board = load_board(args.board, args.variant)
    out = Path(args.out or f"build/{board.build_name}")
    report_path = out / "report.json"
    if not report_path.exists():
        raise GateflowError(f"no build in {out}; run `make bitstream BOARD={args.board}` first")
    bitstream = Path(json.loads(report_path.read_text())["bitstream"])
    cmd = [resolve("openFPGALoader"), "-b", board.programmer_board]
    if args.flash:
        cmd.append("-f")
    cmd.append(str(bitstream))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        low = text.lower()
        if any(k in low for k in ("no cable", "unable to open", "not found", "no device")):
            raise GateflowError(
                f"no {board.title} found: connect the board over USB "
                f"(openFPGALoader: {text.splitlines()[-1] if text else 'no output'})"
            )
        last = text.splitlines()[-1] if text else f"exit status {proc.returncode}"
        raise GateflowError(f"openFPGALoader failed: {last}")
    print(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bitstream",
        help="build a board's bitstream and report.json",
        description="Generate the network core and board design, and build the bitstream "
        "with FuseSoC, Yosys and nextpnr into build/<board>/ (report.json beside it). "
        "Without --model the default digits network is trained first. A network whose LUT "
        "estimate is far above the device's capacity is refused before synthesis (--force "
        "builds it anyway); a build runs in a temporary folder and replaces build/<board>/ "
        "only when it succeeds, so a failed one keeps the last good build "
        "(its logs go to build/<board>.failed/).",
    )
    p.add_argument("--board", required=True, help="board name (`gateflow boards` lists them)")
    p.add_argument("--variant", help="device variant, e.g. 45f for the ULX3S")
    p.add_argument("--model", help="IR file; default: train the default digits network")
    p.add_argument("--out", help="output folder (default: build/<board>)")
    p.add_argument(
        "--pipeline-every",
        type=_nonneg,
        help="a register stage after every N gate layers; 0 = none (default: the board's, "
        "see gateflow boards: 0 on the iCEBreaker, 1 elsewhere)",
    )
    p.add_argument(
        "--popcount-every",
        type=_nonneg,
        default=0,
        help="a register stage after every N popcount adder levels; 0 = none (default: 0)",
    )
    p.add_argument(
        "--argmax-every",
        type=_nonneg,
        default=0,
        help="a register stage after every N argmax comparator levels; 0 = none (default: 0)",
    )
    p.add_argument("--no-scores", action="store_true", help="reply with the class only")
    add_form_arg(p, None)
    add_groupsum_arg(p, board=True)
    p.add_argument(
        "--baud", type=int, default=DEFAULT_BAUD, help="UART baud rate (default: %(default)s)"
    )
    p.add_argument("--window", type=int, default=8, help="frames in flight (default: 8)")
    p.add_argument("--target-mhz", type=float, help="timing target (default: the board clock)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr seed (default: 1)")
    p.add_argument(
        "--force",
        action="store_true",
        help="build even when the LUT estimate is far above the device's capacity",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr while it builds"
    )
    p.set_defaults(func=cmd_bitstream)

    p = sub.add_parser("boards", help="list the supported boards")
    p.add_argument(
        "--sync",
        action="store_true",
        help="rewrite constraints/ from the board files in hw/boards/",
    )
    p.set_defaults(func=cmd_boards)

    p = sub.add_parser("program", help="load a built bitstream onto a board (openFPGALoader)")
    p.add_argument("--board", required=True)
    p.add_argument("--variant")
    p.add_argument("--out", help="build folder (default: build/<board>)")
    p.add_argument("--flash", action="store_true", help="write the SPI flash, not the SRAM")
    p.set_defaults(func=cmd_program)
