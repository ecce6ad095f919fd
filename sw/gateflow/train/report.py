"""report.md of a training run: learning curves, the confusion matrix of the discretized
model on the test split, the sizes after the IR passes, the accuracies, the training time
and the command that reproduces the run.

:func:`gateflow.train.flow.train_and_export` writes it next to model.pt, ir.json and
train.json, with its figures (PNG, matplotlib's Agg backend) beside it: ``loss.png``,
``accuracy.png``, ``alive.png`` and ``confusion.png``. matplotlib is imported only when a
report is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FIGURES = ("loss.png", "accuracy.png", "alive.png", "confusion.png")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [true class, predicted class] (int64)."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def class_labels(data: Any) -> list[str]:
    """The dataset's class names where it has them, else 0 .. C-1."""
    names = getattr(data, "class_names", None)
    if names is not None and len(names) == data.num_classes:
        return [str(n) for n in names]
    return [str(c) for c in range(data.num_classes)]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---" for _ in header) + " |")
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


# ------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    plt = _plt()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name


def _mark_best(ax: Any, best: int | None) -> None:
    if best is not None:
        ax.axvline(best, color="tab:green", lw=0.8, ls=":", label=f"kept model (step {best})")


def plot_curves(history: list[dict[str, float]], out_dir: Path, alive_what: str,
                best: int | None) -> list[str]:  # fmt: skip
    """loss.png, accuracy.png and alive.png from the history; their file names."""
    plt = _plt()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [h["loss"] for h in history], "-o", ms=3, color="tab:blue")
    _mark_best(ax, best)
    ax.set_xlabel("training steps")
    ax.set_ylabel("batch loss (cross-entropy)")
    ax.set_title("training loss at the evaluation points")
    ax.grid(alpha=0.3)
    names = [_save(fig, out_dir / "loss.png")]

    fig, ax = plt.subplots(figsize=(6, 4))
    for split, color in (("train", "tab:blue"), ("val", "tab:orange"), ("test", "tab:gray")):
        if f"{split}_acc_hard" not in history[0]:
            continue
        label = {"train": "train", "val": "validation", "test": "test"}[split]
        ax.plot(steps, [100 * h[f"{split}_acc_hard"] for h in history], "-o", ms=3,
                color=color, label=f"{label} (discretized)")  # fmt: skip
        ax.plot(steps, [100 * h[f"{split}_acc_soft"] for h in history], "--", color=color,
                label=f"{label} (soft)")  # fmt: skip
    _mark_best(ax, best)
    ax.set_xlabel("training steps")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy, discretized (solid) and soft (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    names.append(_save(fig, out_dir / "accuracy.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [h["alive"] for h in history], "-o", ms=3, color="tab:purple")
    _mark_best(ax, best)
    ax.set_xlabel("training steps")
    ax.set_ylabel(alive_what)
    ax.set_title(f"{alive_what} (the class outputs depend on them)")
    ax.grid(alpha=0.3)
    names.append(_save(fig, out_dir / "alive.png"))
    return names


def plot_confusion(matrix: np.ndarray, labels: list[str], path: Path) -> str:
    plt = _plt()
    n = len(labels)
    size = min(12.0, max(4.0, 0.5 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels, rotation=45 if max(map(len, labels)) > 2 else 0, ha="right"
                  if max(map(len, labels)) > 2 else "center")  # fmt: skip
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"test split, discretized model: {int(np.trace(matrix))}/{int(matrix.sum())}")
    if n <= 20:
        top = matrix.max() if matrix.size else 0
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    color = "white" if matrix[i, j] > top / 2 else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color=color)  # fmt: skip
    return _save(fig, path)


# -------------------------------------------------------------------- report
def _sizes(trained: Any) -> list[str]:
    from gateflow.ir.netlist import ThresholdLayer

    net, raw = trained.net, trained.raw
    rows = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, ThresholdLayer):
            rows.append([i, "threshold", f"{layer.size} neurons", layer.num_connections])
        else:
            rows.append([i, "logic", f"{layer.size} gates", 2 * layer.size])
    unit = "neurons" if any(isinstance(la, ThresholdLayer) for la in raw.layers) else "gates"
    lines = [
        f"Input bits: {raw.num_inputs} exported, {net.num_inputs} after the passes. "
        f"{unit.capitalize()}: {raw.num_gates} exported "
        f"({', '.join(str(la.size) for la in raw.layers)} per layer), "
        f"{net.num_gates} after the passes; {net.num_classes} classes.",
        "",
        "After the passes (`ir.json`):",
        "",
        *_table(["layer", "kind", "size", "connections"], rows),
        "",
        "Passes:",
        "",
        "```",
        *[s.line() for s in trained.stats],
        "```",
    ]
    return lines


def write_report(
    out_dir: str | Path,
    config: Any,
    trained: Any,
    data: Any,
    test_pred: np.ndarray,
    command: str | None = None,
) -> Path:
    """Write report.md and its figures to ``out_dir``; its path.

    ``trained``: the :class:`~gateflow.train.flow.TrainedModel`; ``data``: the dataset as
    loaded (before the validation split); ``test_pred``: the discretized model's
    predictions on the test split (the golden model's)."""
    out_dir = Path(out_dir)
    r = trained.result
    threshold = config.arch != "lgn"
    alive_what = "alive neurons" if threshold else "alive gates"
    labels = class_labels(data)
    matrix = confusion_matrix(data.y_test, test_pred, data.num_classes)
    split = r.split
    n_train = split["train_samples"] if split else len(data.y_train)
    kept = r.best_step if r.best_step is not None else r.steps

    lines = [f"# Training report: {config.arch} on {config.dataset}", ""]
    if command:
        lines += ["Reproduce this run with:", "", "```sh", command, "```", ""]
    else:
        lines += [
            "Trained from Python (`gateflow.train.flow.train_and_export`), not from the "
            "command line; the configuration is at the end of this report "
            "(`TrainConfig.from_dict` rebuilds it).",
            "",
        ]
    lines += ["## Results", ""]
    rows = [["train", n_train, _pct(r.train_acc_soft), _pct(r.train_acc_hard)]]
    if split:
        rows.append(["validation", split["val_samples"], _pct(r.val_acc_soft),
                     _pct(r.val_acc_hard)])  # fmt: skip
    rows.append(["test", len(data.y_test), _pct(r.test_acc_soft), _pct(r.test_acc_hard)])
    lines += _table(["split", "samples", "soft", "discretized"], rows)
    lines.append("")
    if threshold:
        lines += ["A threshold network computes the same values in training and in eval "
                  "mode: its soft and discretized accuracies are one figure.", ""]  # fmt: skip
    if config.augment:
        lines += [f"The training figures are on the augmented training data "
                  f"(`augment={config.augment}`).", ""]  # fmt: skip
    if split:
        per_class = ", ".join(
            f"{labels[c]}: {t}/{v}"
            for c, (t, v) in enumerate(zip(split["train_per_class"], split["val_per_class"]))
        )  # fmt: skip
        lines += [
            f"Validation split: {100 * split['val_fraction']:g}% of the training split, "
            f"stratified, seed {split['seed']}: {split['train_samples']} samples trained on, "
            f"{split['val_samples']} held out (per class, trained/held out: {per_class}); "
            "the held-out indices are in train.json (`result.split.val_indices`).",
            "",
            f"Model kept: the best discretized validation accuracy, {_pct(r.val_acc_hard)} "
            f"at step {kept} of {r.steps} (ties go to the earlier step). Early stopping: "
            + (
                f"triggered after {config.early_stopping} evaluations without improvement, "
                f"at step {r.steps} of {config.steps or r.steps}."
                if r.stopped_early
                else ("on, not triggered." if config.early_stopping else "off.")
            ),
            "",
        ]
    else:
        lines += [f"No validation split: the model kept is the last one (step {r.steps}).", ""]
    lines += [
        f"Training time: {r.seconds:.1f} s for {r.steps} steps, including "
        f"{len(r.history)} evaluation point(s). Final batch loss {r.final_loss:.4f}.",
        "",
        "## Sizes",
        "",
        *_sizes(trained),
        "",
        f"{alive_what.capitalize()} of the kept model: {r.alive} "
        + (
            "(neurons the class outputs depend on through nonzero weights)."
            if threshold
            else "(gates the class outputs depend on through the inputs their discretized "
            "gate reads; constant gates not counted, pass-throughs counted)."
        ),
        "",
        "## Learning curves",
        "",
    ]
    if len(r.history) < 2:
        lines += ["One evaluation point only (the end): pass `--eval-every N` or "
                  "`--val-fraction F` for curves.", ""]  # fmt: skip
    best = r.best_step if split else None
    for name in plot_curves(r.history, out_dir, alive_what, best):
        lines += [f"![{name[:-4]}]({name})", ""]
    lines += [
        "## Confusion matrix",
        "",
        f"Discretized model on the test split ({int(matrix.sum())} samples, "
        f"{int(np.trace(matrix))} correct: {_pct(np.trace(matrix) / max(matrix.sum(), 1))}); "
        "rows: true class, columns: predicted class.",
        "",
        f"![confusion]({plot_confusion(matrix, labels, out_dir / 'confusion.png')})",
        "",
        *_table(
            ["true \\ predicted", *labels],
            [[labels[i], *matrix[i].tolist()] for i in range(len(labels))],
        ),  # fmt: skip
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=1),
        "```",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
