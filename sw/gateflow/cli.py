"""The `gateflow` command line: the parser and ``main``; every subcommand lives in
:mod:`gateflow.commands`.

Every failure the user can cause (bad arguments, a bad IR file, a missing
dataset) ends in a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gateflow import __version__
from gateflow.errors import GateflowError

log = logging.getLogger("gateflow")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateflow",
        description="Train logic gate networks and put them on FPGAs with open tools.",
    )
    parser.add_argument("--version", action="version", version=f"gateflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    try:
        return args.func(args)
    except GateflowError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gateflow: error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gateflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`gateflow info ... | head`)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
