"""Importers: other libraries' trained logic gate networks as gateflow IR.

``read(fmt, path, options)`` returns an :class:`~gateflow.importers.common.Imported`
(the netlist and the source model's own discretized forward, for the check). Each
format lives in a module of its own with a ``read(path, options)`` function; see
docs/import.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateflow.importers.common import Imported

#: format name -> module under gateflow.importers
FORMATS = {"difflogic": "difflogic", "torchlogix": "torchlogix"}


@dataclass(frozen=True)
class ImportOptions:
    """What a checkpoint may not say itself."""

    thresholds: tuple[float, ...] | None = None  # per-feature thermometer (default: raw >= 1)
    num_inputs: int | None = None  # input bits of the first layer, when the file lacks it
    num_classes: int | None = None  # GroupSum's k, when the file lacks it
    image: tuple[int, int] | None = None  # H, W of a conv model's input, when the file lacks it


def read(fmt: str, path: str | Path, options: ImportOptions | None = None) -> Imported:
    """Import the model in ``path`` written by library ``fmt`` (see FORMATS)."""
    from gateflow.importers.common import ModelImportError

    if fmt not in FORMATS:
        raise ModelImportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"{__name__}.{FORMATS[fmt]}")
    return module.read(Path(path), options or ImportOptions())
