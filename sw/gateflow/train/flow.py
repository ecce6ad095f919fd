"""The flow's steps chained together: train -> export -> passes -> codegen -> simulate.

The CLI and the tests call these; each step checks the contract it relies on
(torch eval == golden model after export and after the passes).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.errors import GateflowError
from gateflow.ir.golden import GoldenResult, evaluate
from gateflow.ir.netlist import Netlist
from gateflow.ir.passes import DEFAULT_PASSES, PassStat, run_passes
from gateflow.train.export import export

log = logging.getLogger(__name__)


class ContractError(GateflowError):
    """Two implementations that must agree bit for bit did not."""


@dataclass
class TrainedModel:
    net: Netlist  # after the passes
    raw: Netlist  # as exported
    stats: list[PassStat]
    result: Any  # gateflow.train.config.TrainResult
    model: Any  # gateflow.nn.LogicNet


def torch_eval(model: Any, x_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class scores (integers) and predictions of the model in eval mode."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    x = x_raw.astype(np.float64 if x_raw.dtype.kind == "f" else np.int64, copy=False)
    with torch.no_grad():
        scores = model(torch.as_tensor(x, device=device))
    scores_np = scores.detach().cpu().numpy()
    as_int = np.rint(scores_np).astype(np.int64)
    if not np.array_equal(as_int, scores_np):
        raise ContractError("torch eval-mode scores are not integers")
    return as_int, as_int.argmax(axis=1)


def check_against_torch(net: Netlist, model: Any, x_raw: np.ndarray, what: str) -> GoldenResult:
    """Golden model == torch eval on every score of every sample, or ContractError."""
    golden = evaluate(net, x_raw)
    scores, pred = torch_eval(model, x_raw)
    bad = np.flatnonzero((golden.scores != scores).any(axis=1) | (golden.pred != pred))
    if bad.size:
        raise ContractError(
            f"{what}: golden model and torch eval differ on {bad.size}/{len(x_raw)} samples "
            f"(first: sample {bad[0]})"
        )
    log.info("%s: golden model == torch eval on %d samples", what, len(x_raw))
    return golden


def load_model(path: str | Path) -> Any:
    """A saved LogicNet or ThresholdModel (model.pt), whichever the file holds."""
    from gateflow.nn import LogicNet
    from gateflow.nn.logic import torch_load
    from gateflow.nn.threshold_model import MODEL_FORMAT, ThresholdModel

    blob = torch_load(path)
    if isinstance(blob, dict) and blob.get("format") == MODEL_FORMAT:
        return ThresholdModel.load(path)
    from gateflow.nn.conv import CHECKPOINT_FORMAT as CONV_FORMAT
    from gateflow.nn.conv import ConvLogicNet

    if isinstance(blob, dict) and blob.get("format") == CONV_FORMAT:
        return ConvLogicNet.load(path)
    return LogicNet.load(path)


def train_and_export(
    config: Any,
    out_dir: str | Path,
    passes: tuple[str, ...] = DEFAULT_PASSES,
    progress: bool = True,
    resume: bool = False,
    report: bool = True,
    command: str | None = None,
) -> TrainedModel:
    """Train, export, run the passes; write model.pt, ir.json and train.json to out_dir,
    and with ``report`` report.md and its figures (:mod:`gateflow.train.report`).

    With ``config.checkpoint_every`` the training state goes to out_dir/train_state.pt;
    ``resume`` continues an interrupted run from it. ``command`` is the command line that
    reproduces the run (``gateflow train ...``), when there is one."""
    from gateflow.train.config import fit_to_data, load_data
    from gateflow.train.logic import train

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_data(config)
    config = fit_to_data(config, data.num_classes)
    model, result = train(
        config,
        progress=progress,
        data=data,
        state_path=out_dir / "train_state.pt",
        resume=resume,
    )
    model.save(out_dir / "model.pt")
    meta: dict[str, Any] = {"dataset": data.name, "test_accuracy": result.test_acc_hard}
    if data.source is not None:
        meta["data"] = {k: v for k, v in data.source.items() if k != "split"}
        if "split" in data.source:  # enough to make the split again (stratified_split)
            split = data.source["split"]
            meta["data"]["split"] = {"test_fraction": split["test_fraction"], "seed": split["seed"]}
    if result.sparsity is not None:
        meta["weight_sparsity"] = result.sparsity
    raw = export(model, meta, class_names=data.class_names)
    check_against_torch(raw, model, data.X_test, "export")
    net, stats = run_passes(raw, passes)
    golden = check_against_torch(net, model, data.X_test, "passes")
    net.save(out_dir / "ir.json")
    (out_dir / "train.json").write_text(
        json.dumps(
            {
                "config": config.to_dict(),
                "data": data.source,
                "command": command,
                "result": result.to_dict(),
                "passes": [s.__dict__ for s in stats],
            },
            indent=1,
        )
        + "\n"
    )
    trained = TrainedModel(net, raw, stats, result, model)
    if report:
        from gateflow.train.report import write_report

        write_report(out_dir, config, trained, data, golden.pred, command)
    return trained


def default_model() -> Path:
    """The default digits network, trained once into ``default-model/`` of
    :func:`gateflow.paths.default_build` and shared by every board build and the simulated
    board, so that their reports describe the same model; its IR file."""
    from gateflow.paths import default_build
    from gateflow.train.config import DEFAULT_DIGITS

    folder = default_build() / "default-model"
    ir_path = folder / "ir.json"
    if not ir_path.exists():
        log.warning("training the default digits network into %s ...", folder)
        train_and_export(DEFAULT_DIGITS, folder)
    return ir_path
