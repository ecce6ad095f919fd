"""Threshold networks through the flow: torch eval == exported IR == golden model,
checkpoints, and `gateflow train --arch`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gateflow import cli, ir
from gateflow.data import get_dataset
from gateflow.ir.golden import evaluate
from gateflow.ir.passes import run_passes
from gateflow.nn import LogicNet, ModelError
from gateflow.nn.threshold_model import ThresholdModel
from gateflow.train.config import DEFAULTS, TrainError
from gateflow.train.export import export
from gateflow.train.flow import check_against_torch, load_model, torch_eval
from gateflow.train.threshold import build_threshold_model, fit, train_switcher

ARCHS = ("binary", "bitlevel", "switcher")


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    """A small trained model per family (a few seconds in all)."""
    models = {}
    for arch in ARCHS:
        config = DEFAULTS[arch].replace(widths=[60, 30], steps=80)
        model = build_threshold_model(config, digits)
        x = model.encode(torch.as_tensor(digits.X_train))
        y = torch.as_tensor(digits.y_train)
        train = train_switcher if arch == "switcher" else fit
        train(model.net, x, y, steps=80, lr=0.02, sparsity_weight=0.05)
        models[arch] = model.eval()
    return models


@pytest.mark.parametrize("arch", ARCHS)
def test_export_is_bit_exact_with_torch_eval(arch, trained, digits):
    model = trained[arch]
    net = ir.from_json(export(model, {"dataset": "digits"}).to_json())
    assert all(layer.kind == "threshold" for layer in net.layers)
    assert net.meta["arch"] == arch
    golden = check_against_torch(net, model, digits.X_test, "export")
    assert (golden.pred == digits.y_test).mean() > 0.3  # it learned something
    folded, _ = run_passes(net)
    check_against_torch(folded, model, digits.X_test, "passes")
    # nonzero weights only, each listed once
    spec = model.net.integer_description()[0]
    assert net.layers[0].num_connections == int((spec.weight != 0).sum())


@pytest.mark.parametrize("arch", ARCHS)
def test_random_raw_inputs_agree(arch, trained):
    model = trained[arch]
    net = export(model)
    raw = np.random.default_rng(1).integers(0, 17, (500, 64))
    scores, pred = torch_eval(model, raw)
    res = evaluate(net, raw)
    assert np.array_equal(scores, res.scores) and np.array_equal(pred, res.pred)


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoint_round_trip(tmp_path, arch, trained, digits):
    model = trained[arch]
    model.save(tmp_path / "model.pt")
    again = load_model(tmp_path / "model.pt")
    assert isinstance(again, ThresholdModel) and again.arch == arch
    a, _ = torch_eval(model, digits.X_test)
    b, _ = torch_eval(again, digits.X_test)
    assert np.array_equal(a, b)
    assert export(again).to_json() == export(model).to_json()


def test_bad_checkpoints_are_refused(tmp_path, trained):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        ThresholdModel.load(bad)
    with pytest.raises(ModelError, match="no checkpoint"):
        ThresholdModel.load(tmp_path / "missing.pt")
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ModelError, match="not a gateflow threshold-network checkpoint"):
        ThresholdModel.load(bad)
    trained["binary"].save(tmp_path / "bin.pt")
    with pytest.raises(ModelError, match="not a gateflow LogicNet checkpoint"):
        LogicNet.load(tmp_path / "bin.pt")


def test_config_errors_are_one_line():
    with pytest.raises(TrainError, match="arch must be one of"):
        DEFAULTS["lgn"].replace(arch="conv").validate()
    with pytest.raises(TrainError, match="trained_bits"):
        DEFAULTS["bitlevel"].replace(trained_bits=9).validate()
    with pytest.raises(TrainError, match="checkpoints are not supported"):
        DEFAULTS["binary"].replace(checkpoint_every=5).validate()


@pytest.mark.parametrize("arch", ARCHS)
def test_cli_train_arch(tmp_path, capsys, arch):
    out = tmp_path / arch
    args = ["train", "--arch", arch, "--steps", "60", "--widths", "50,20", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert f"trained {arch} network on digits" in text and "of weights zero" in text
    net = ir.load(out / "ir.json")
    assert all(layer.kind == "threshold" for layer in net.layers)
    info = json.loads((out / "train.json").read_text())
    assert info["config"]["arch"] == arch and 0 <= info["result"]["sparsity"] <= 1
    assert cli.main(["eval", str(out / "ir.json"), "--checkpoint", str(out / "model.pt")]) == 0
    assert "torch-vs-golden: 360/360" in capsys.readouterr().out


def test_cli_rejects_a_last_width_that_does_not_split(tmp_path, capsys):
    assert cli.main(["train", "--arch", "binary", "--widths", "50,25", "--steps", "5",
                     "--out", str(tmp_path), "--no-progress"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "multiple of the 10 classes" in err and err.count("\n") == 1


def test_cli_sim_refuses_arch_with_model(tmp_path, capsys):
    assert cli.main(["sim", "--arch", "binary", "--model", str(tmp_path / "ir.json")]) == 1
    assert "cannot go with --model" in capsys.readouterr().err
