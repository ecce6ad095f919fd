"""Where gateflow's non-Python parts live: the RTL library, templates, board files,
constraints and testbenches.

In a checkout (``pip install -e .``, what the Makefile sets up) they are the
repository's own ``hw/``, ``sim/`` and ``constraints/``. A wheel carries copies of
the three folders as package data under ``gateflow/_share`` (see setup.py), which
then take precedence.
"""

from __future__ import annotations

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
