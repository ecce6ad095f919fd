"""Where gateflow's non-Python parts live: the RTL library, templates and testbenches.

gateflow runs from a checkout of its repository (``pip install -e .``), so
these are found relative to the package.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HW = REPO / "hw"
RTL = HW / "rtl"
TEMPLATES = HW / "templates"
SIM = REPO / "sim"
DEFAULT_BUILD = REPO / "build"
