"""Subcommands that live in modules of their own.

Each module here defines ``register(sub)``, which adds its parser(s) to the
``gateflow`` subparsers and sets ``func`` on them; ``gateflow.cli`` finds the
modules by listing this package, so adding a command touches no other file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

#: The flow's main steps come first in ``gateflow --help``; the rest follow by name.
FIRST = ("train", "gen", "sim", "eval", "predict", "passes", "info")


def register_all(sub: argparse._SubParsersAction) -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__)]
    order = [n for n in FIRST if n in names] + sorted(n for n in names if n not in FIRST)
    for name in order:
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "register"):  # helper modules (options) register nothing
            module.register(sub)
