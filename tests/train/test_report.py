"""report.md and train.json of train_and_export: the figures it references, the confusion
matrix against the test accuracy, the split and the command line that reproduces a run."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from gateflow.data import load_digits
from gateflow.train.config import TrainConfig
from gateflow.train.flow import load_model, train_and_export
from gateflow.train.logic import evaluate
from gateflow.train.report import class_labels, confusion_matrix

PNG = b"\x89PNG\r\n\x1a\n"
CONFIG = TrainConfig(dataset="digits", widths=[300, 200], tau=3.0, lr=0.1, batch_size=64,
                     steps=60, threads=1, device="cpu", val_fraction=0.2, eval_every=5)  # fmt: skip


def _confusion_table(text: str) -> np.ndarray:
    """The Markdown table that follows the "true \\ predicted" header."""
    lines = text[text.index("| true \\ predicted") :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([int(v) for v in line.strip("|").split("|")[1:]])
    return np.array(rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    trained = train_and_export(CONFIG, out, progress=False)
    return out, trained


def test_report_figures_confusion_and_accuracies(run):
    out, trained = run
    r = trained.result
    text = (out / "report.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(figures) == ["accuracy.png", "alive.png", "confusion.png", "loss.png"]
    for name in figures:
        assert (out / name).read_bytes()[:8] == PNG, name
    matrix = _confusion_table(text)
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.trace(matrix) / matrix.sum() == pytest.approx(r.test_acc_hard)
    for figure in (r.train_acc_hard, r.val_acc_soft, r.val_acc_hard, r.test_acc_soft):
        assert f"{100 * figure:.2f}%" in text
    assert f"{trained.net.num_gates} after the passes" in text
    assert "Trained from Python" in text  # no command line to show
    assert f"step {r.best_step} of 60" in text


def test_train_json_records_the_split_and_the_exported_model_is_the_best(run):
    out, trained = run
    doc = json.loads((out / "train.json").read_text())
    split, result = doc["result"]["split"], doc["result"]
    assert split["val_fraction"] == 0.2 and split["seed"] == 0
    assert sum(split["val_per_class"]) == split["val_samples"] == len(split["val_indices"])
    assert split["train_samples"] + split["val_samples"] == 1437
    assert result["best_step"] == trained.result.best_step and result["stopped_early"] is False
    assert doc["command"] is None
    data = load_digits()
    idx = np.array(split["val_indices"])
    model = load_model(out / "model.pt")
    best = max(h["val_acc_hard"] for h in result["history"])
    assert evaluate(model, data.X_train[idx], data.y_train[idx]) == best


def test_report_off(tmp_path):
    train_and_export(CONFIG.replace(steps=5, val_fraction=0.0), tmp_path, progress=False,
                     report=False)  # fmt: skip
    assert (tmp_path / "train.json").exists() and not (tmp_path / "report.md").exists()


def test_confusion_matrix_and_labels():
    m = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 2, 1, 2]), 3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]

    class Named:
        num_classes = 2
        class_names = ("cat", "dog")

    assert class_labels(Named()) == ["cat", "dog"]
    assert class_labels(load_digits()) == [str(c) for c in range(10)]


def test_cli_report_has_the_command_line(tmp_path):
    out = tmp_path / "cli"
    argv = ["train", "--arch", "binary", "--widths", "60,30", "--steps", "40",
            "--val-fraction", "0.2", "--early-stopping", "2", "--eval-every", "5",
            "--no-progress", "--out", str(out)]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "gateflow.cli", *argv], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "validation: 287 of 1437 training samples held out" in proc.stdout
    text = (out / "report.md").read_text()
    command = "gateflow " + " ".join(argv)
    assert command in text
    assert json.loads((out / "train.json").read_text())["command"] == command
    assert (out / "confusion.png").read_bytes()[:8] == PNG
