"""Where gateflow's non-Python parts live: the RTL library, templates, board files,
constraints and testbenches.

In a checkout (``pip install -e .``, what the Makefile sets up) they are the
repository's own ``hw/``, ``sim/`` and ``constraints/``. A wheel carries copies of
the three folders as package data under ``gateflow/_share`` (see setup.py), which
then take precedence.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SHARE = PACKAGE / "_share"
REPO = PACKAGE.parents[1]  # the checkout's root (meaningless in an installed wheel)
INSTALLED = (SHARE / "hw").is_dir()
ROOT = SHARE if INSTALLED else REPO  # the folder holding hw/, sim/ and constraints/

HW = ROOT / "hw"
RTL = HW / "rtl"
TEMPLATES = HW / "templates"
BOARDS = HW / "boards"
CONSTRAINTS = ROOT / "constraints"
SIM = ROOT / "sim"


def default_build() -> Path:
    """Where builds go by default: the checkout's ``build/``, or ``build/`` in the current
    folder when gateflow runs from an installed wheel."""
    return Path("build").resolve() if INSTALLED else REPO / "build"


def cache_dir() -> Path:
    """The one folder of gateflow's caches (built training kernels, the compiled Verilator
    runtime, simulated-board builds): ``$GATEFLOW_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/gateflow``, else ``~/.cache/gateflow``."""
    if explicit := os.environ.get("GATEFLOW_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gateflow"
