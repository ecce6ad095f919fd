"""The manifest: what a generated core expects and returns, written by codegen beside the
SystemVerilog and read by the simulator harness, the prover and the host driver.

:class:`Manifest` is the one reader of its I/O packing: ``input.width`` encoded bits
(``s_axis_tdata[i]`` = input bit ``i``) and the ``output.fields`` of ``m_axis_tdata``
(``class`` and, with scores, ``score0 .. score{C-1}``, each at its own ``lsb`` and
``width``). Packing and unpacking follow those fields, never a layout assumed here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.errors import GateflowError

MANIFEST_VERSION = 1
_SCORE = re.compile(r"score(\d+)")


class ManifestError(GateflowError):
    """A manifest.json that is missing, unreadable or inconsistent."""


class Manifest:
    """A validated manifest; ``data`` is the JSON object as written by codegen."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.validate()

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ManifestError(f"{path}: no such manifest") from None
        except (OSError, ValueError) as exc:
            raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: a manifest is a JSON object")
        return cls(data)

    # ------------------------------------------------------------------ the fields
    @property
    def num_classes(self) -> int:
        return int(self.data["num_classes"])

    @property
    def input_width(self) -> int:
        return int(self.data["input"]["width"])

    @property
    def output_width(self) -> int:
        return int(self.data["output"]["width"])

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list(self.data["output"]["fields"])

    def validate(self) -> None:
        """Every output field lies inside the output, none overlaps another, ``class`` is
        present and the score fields name classes that exist."""
        try:
            width, n_cls = self.output_width, self.num_classes
            fields = [(str(f["name"]), int(f["lsb"]), int(f["width"])) for f in self.fields]
            self.input_width  # noqa: B018 - must be present
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest lacks or mistypes {exc}") from None
        covered = np.zeros(width, dtype=bool)
        names = set()
        for name, lsb, w in fields:
            if name in names:
                raise ManifestError(f"manifest output field {name!r} appears twice")
            names.add(name)
            if name != "class":
                m = _SCORE.fullmatch(name)
                if not m or int(m.group(1)) >= n_cls:
                    raise ManifestError(f"manifest output field {name!r} is not known")
            if w < 1 or lsb < 0 or lsb + w > width or covered[lsb : lsb + w].any():
                raise ManifestError(f"manifest output field {name!r} has an inconsistent position")
            covered[lsb : lsb + w] = True
        if "class" not in names:
            raise ManifestError("manifest output has no 'class' field")

    # ------------------------------------------------------------------ packing
    def _columns(self, pred: np.ndarray, scores: np.ndarray) -> list[tuple[int, int, Any]]:
        cols = []
        for f in self.fields:
            name, lsb, w = f["name"], int(f["lsb"]), int(f["width"])
            col = pred if name == "class" else scores[:, int(_SCORE.fullmatch(name).group(1))]
            cols.append((lsb, w, col))
        return cols

    def pack_outputs(self, pred: np.ndarray, scores: np.ndarray) -> list[int]:
        """The m_axis_tdata integer the core must emit for each sample."""
        pred = np.asarray(pred)
        scores = np.asarray(scores).reshape(len(pred), -1)
        words = [0] * len(pred)
        for lsb, w, col in self._columns(pred, scores):
            mask = (1 << w) - 1
            for k in range(len(pred)):
                words[k] |= (int(col[k]) & mask) << lsb
        return words

    def unpack_outputs(self, words: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """m_axis_tdata integers -> (pred [n], scores [n, C]; zeros where a class has no
        score field)."""
        pred = np.zeros(len(words), dtype=np.int64)
        scores = np.zeros((len(words), self.num_classes), dtype=np.int64)
        for f in self.fields:
            name, lsb, w = f["name"], int(f["lsb"]), int(f["width"])
            mask = (1 << w) - 1
            values = np.array([(int(x) >> lsb) & mask for x in words], dtype=np.int64)
            if name == "class":
                pred = values
            else:
                scores[:, int(_SCORE.fullmatch(name).group(1))] = values
        return pred, scores


def pack_inputs(bits: np.ndarray) -> list[int]:
    """Encoded input bits uint8 [n, width] -> s_axis_tdata integers (bit i = input bit i)."""
    bits = np.asarray(bits, dtype=np.uint8)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def pack_outputs(manifest: dict[str, Any] | Manifest, pred, scores) -> list[int]:
    return _manifest(manifest).pack_outputs(pred, scores)


def unpack_outputs(manifest: dict[str, Any] | Manifest, words: list[int]):
    return _manifest(manifest).unpack_outputs(words)


def _manifest(manifest: dict[str, Any] | Manifest) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else Manifest(manifest)
