"""Plots of benchmark results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"softmax": "tab:blue", "gumbel": "tab:orange", "baseline": "tab:gray"}


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_throughput(result: dict[str, Any], path: Path) -> Path:
    """Bars: training samples/s, reference formulation vs gateflow."""
    names, values = ["gateflow"], [result["samples_per_s"]]
    if "baseline" in result:
        names.insert(0, "reference\n(16-gate mixture)")
        values.insert(0, result["baseline"]["samples_per_s"])
    fig, ax = plt.subplots(figsize=(5, 4))
    bars = ax.bar(names, values, color=["tab:gray", "tab:green"][-len(values) :])
    ax.bar_label(bars, fmt="%.0f")
    title = f"{result['layers']} x {result['width']} gates, batch {result['batch_size']}, "
    title += f"{result['threads']} threads"
    if "speedup" in result:
        title += f"\nspeedup {result['speedup']:.1f}x"
    ax.set_title(title)
    ax.set_ylabel("training samples / s")
    return _save(fig, path)


def plot_accuracy(result: dict[str, Any], path: Path) -> Path:
    """Test accuracy (hard solid, soft dashed) vs training steps for each mode."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, run in result["runs"].items():
        steps = [h["step"] for h in run["history"]]
        color = COLORS.get(mode)
        ax.plot(steps, [100 * h["test_acc_hard"] for h in run["history"]], "-o", ms=3,
                color=color, label=f"{mode} (discretized)")  # fmt: skip
        ax.plot(steps, [100 * h["test_acc_soft"] for h in run["history"]], "--", color=color,
                label=f"{mode} (soft)")  # fmt: skip
    ax.set_xlabel("training steps")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{result['dataset']}: {result['train_samples']} training samples")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_gap(result: dict[str, Any], path: Path) -> Path:
    """Discretization gap (soft minus hard test accuracy, points) vs steps."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, run in result["runs"].items():
        steps = [h["step"] for h in run["history"]]
        ax.plot(steps, [h["gap_points"] for h in run["history"]], "-o", ms=3,
                color=COLORS.get(mode), label=mode)  # fmt: skip
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("training steps")
    ax.set_ylabel("soft - discretized accuracy (points)")
    ax.set_title("discretization gap")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_inference(golden: dict[str, Any] | None, sim: dict[str, Any] | None, path: Path) -> Path:
    """Golden-model gate evaluations/s and Verilator samples/s, side by side."""
    panels = [p for p in (golden, sim) if p is not None]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4 * max(len(panels), 1), 4))
    axes = [axes] if not hasattr(axes, "__len__") else list(axes)
    for ax, res in zip(axes, panels, strict=False):
        if res["benchmark"] == "golden":
            bars = ax.bar(["golden model"], [res["gate_evals_per_s"]], color="tab:purple")
            ax.set_ylabel("gate evaluations / s")
            ax.set_title(f"bit-packed numpy, {res['gates']} gates")
            ax.bar_label(bars, fmt="%.3g")
        else:
            bars = ax.bar(["Verilator"], [res["samples_per_s"]], color="tab:red")
            ax.set_ylabel("samples / s")
            ax.set_title(f"cocotb + Verilator, {res['gates']} gates")
            ax.bar_label(bars, fmt="%.0f")
    return _save(fig, path)
