"""Subcommands that live in modules of their own.

Each module here defines ``register(sub)``, which adds its parser(s) to the
``gateflow`` subparsers and sets ``func`` on them; ``gateflow.cli`` finds the
modules by listing this package, so adding a command touches no other file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(sub: argparse._SubParsersAction) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
