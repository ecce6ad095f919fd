"""Accuracy against LUTs on the boards (``gateflow bench qor``).

Each run trains one network (the default digits network or a named recipe), builds it
for one board with that board's defaults, and records the test accuracy beside the
build's LUTs, logic cells and timing: a point of the accuracy-per-LUT frontier. The
plot draws them with the published points of other systems that state a LUT count,
each labelled with its device and toolchain (docs/results.md). A Xilinx LUT is a LUT6,
ours are LUT4: the plot says which.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateflow.errors import GateflowError

# (network, board): "default" is the default digits network, anything else a recipe
DEFAULT_RUNS = (
    ("default", "icebreaker"),
    ("digits-icebreaker", "icebreaker"),
    ("mnist-dense-icebreaker", "icebreaker"),
    ("digits-conv", "icebreaker"),
)

# Published points with a LUT count, from the systems' own papers and READMEs
ANCHORS = (
    {
        "system": "vicharak-in/difflogic",
        "dataset": "mnist",
        "accuracy": 84.0,
        "luts": 1096,
        "lut": "LUT4",
        "device": "Efinix",
        "tools": "Efinity",
        "note": "about 84%, 28 x 28 pixels",
    },
)


def parse_runs(text: str) -> tuple[tuple[str, str], ...]:
    """``NETWORK@BOARD,...`` (NETWORK: ``default`` or a recipe name)."""
    from gateflow.fpga.boards import board_names
    from gateflow.train.recipes import RECIPES

    runs = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, board = item.partition("@")
        if not sep or not name or not board:
            raise GateflowError(f"--runs: {item!r} is not NETWORK@BOARD")
        if name != "default" and name not in RECIPES:
            raise GateflowError(f"--runs: unknown network {name!r} (default or a recipe name)")
        if board not in board_names():
            raise GateflowError(f"--runs: unknown board {board!r}")
        runs.append((name, board))
    if not runs:
        raise GateflowError("--runs: no runs given")
    return tuple(runs)


def _config(name: str, data_dir: str | None, steps: int | None):
    from gateflow.train.config import DEFAULT_DIGITS
    from gateflow.train.recipes import RECIPES

    config = DEFAULT_DIGITS if name == "default" else RECIPES[name].config
    if config.dataset != "digits":
        if not data_dir:
            raise GateflowError(f"{name} trains on {config.dataset}: give --data-dir")
        config = config.replace(data_dir=data_dir)
    return config.replace(steps=steps) if steps else config


def run_qor(
    runs: tuple[tuple[str, str], ...],
    work: str | Path,
    data_dir: str | None = None,
    steps: int | None = None,
    progress=None,
) -> dict[str, Any]:
    """Train and build every run into ``work``; the points and the anchors."""
    from gateflow.fpga.bitstream import BuildOptions, build
    from gateflow.fpga.boards import load_board
    from gateflow.train.flow import train_and_export

    work = Path(work)
    configs = [(name, board, _config(name, data_dir, steps)) for name, board in runs]
    points = []
    for name, board_name, config in configs:
        if progress:
            progress(f"{name} on {board_name}: training")
        start = time.perf_counter()
        trained = train_and_export(config, work / name, progress=False, report=False)
        train_s = time.perf_counter() - start
        if progress:
            progress(f"{name} on {board_name}: building")
        board = load_board(board_name)
        start = time.perf_counter()
        report = build(board, work / name / "ir.json", work / f"{name}-{board.build_name}",
                       BuildOptions())  # fmt: skip
        cells = report.get("utilization", {}).get("ICESTORM_LC", {}).get("used")
        points.append(
            {
                "network": name,
                "board": board.build_name,
                "device": report["device"],
                "dataset": config.dataset,
                "accuracy": round(100 * trained.result.test_acc_hard, 2),
                "gates": trained.net.num_distinct_gates,
                "ir_sha256": trained.net.sha256(),
                "luts": report["luts"],
                "logic_cells": cells,
                "core_luts": report["core_luts"],
                "groupsum": report.get("groupsum"),
                "form": report.get("form"),
                "brams": report.get("brams"),
                "fmax_mhz": report["fmax_mhz"],
                "timing_met": report["timing_met"],
                "train_seconds": round(train_s, 1),
                "build_seconds": round(time.perf_counter() - start, 1),
            }
        )
    return {"bench": "qor", "points": points, "anchors": list(ANCHORS)}


def plot_qor(result: dict[str, Any], path: Path) -> Path:
    """Test accuracy against LUTs, one panel per dataset: our points labelled with
    network and board, the anchors with system, device and toolchain."""
    from gateflow.bench.plots import _save, plt

    datasets = sorted({p["dataset"] for p in result["points"]})
    if not datasets:
        raise GateflowError("no points to plot")
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        ours = [p for p in result["points"] if p["dataset"] == ds]
        ax.scatter([p["luts"] for p in ours], [p["accuracy"] for p in ours],
                   color="tab:green", label="gateflow (LUT4, open tools)", zorder=3)  # fmt: skip
        for p in ours:
            ax.annotate(f"{p['network']}\n{p['board']}", (p["luts"], p["accuracy"]),
                        textcoords="offset points", xytext=(5, 4), fontsize=7)  # fmt: skip
        others = [a for a in result["anchors"] if a["dataset"] == ds]
        if others:
            ax.scatter([a["luts"] for a in others], [a["accuracy"] for a in others],
                       color="tab:gray", marker="s", label="published", zorder=3)  # fmt: skip
            for a in others:
                label = f"{a['system']}\n{a['device']}, {a['tools']} ({a['lut']})"
                ax.annotate(label, (a["luts"], a["accuracy"]), textcoords="offset points",
                            xytext=(5, -14), fontsize=7)  # fmt: skip
        xs = [p["luts"] for p in ours] + [a["luts"] for a in others]
        ys = [p["accuracy"] for p in ours] + [a["accuracy"] for a in others]
        ax.set_xlim(0, max(xs) * 1.45)
        pad = max(1.0, (max(ys) - min(ys)) * 0.25)
        ax.set_ylim(min(ys) - pad, min(100.0, max(ys) + pad))
        ax.set_xlabel("LUTs of the whole design")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(ds)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
