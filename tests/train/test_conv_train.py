"""Convolutional logic gate networks through the flow: --conv and --recipe, the exported
spatial IR (torch eval == golden model on every score), errors, and the core under
Verilator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gateflow import cli, ir
from gateflow.data import load_digits
from gateflow.ir.golden import evaluate
from gateflow.train.recipes import RECIPES


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv")
    rc = cli.main(["train", "--recipe", "digits-conv", "--steps", "60", "--out", str(out),
                   "--no-progress", "--no-report"])  # fmt: skip
    assert rc == 0
    return out


def test_recipe_trains_a_spatial_ir(conv_model):
    doc = json.loads((conv_model / "ir.json").read_text())
    assert doc["version"] == 3
    kinds = [layer["kind"] for layer in doc["layers"]]
    assert kinds[:3] == ["conv", "orpool", "flatten"] and kinds[3:] == ["logic", "logic"]
    conv = doc["layers"][0]
    assert conv["in_shape"] == [8, 8, 2] and conv["depth"] == 2 and conv["padding"] == [1, 1]
    record = json.loads((conv_model / "train.json").read_text())
    assert record["config"]["conv"] == RECIPES["digits-conv"].config.conv
    # train_and_export checked torch eval == golden; check the golden accuracy too
    net = ir.load(conv_model / "ir.json")
    data = load_digits()
    acc = float((evaluate(net, data.X_test).pred == data.y_test).mean())
    assert abs(acc - record["result"]["test_acc_hard"]) < 1e-12


def test_eval_and_checkpoint_agree(conv_model, capsys):
    rc = cli.main(["eval", str(conv_model / "ir.json"), "--checkpoint",
                   str(conv_model / "model.pt")])  # fmt: skip
    assert rc == 0 and "torch-vs-golden: 360/360" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--conv", "c8x3"], "expected c<channels>k<kernel>d<depth>"),
        (["--conv", "c8k3d2", "--encoding", "quantile"], "--encoding uniform"),
        (["--conv", "c8k3d2", "--arch", "binary"], "conv stages go with arch 'lgn'"),
        (["--recipe", "digits-conv", "--arch", "binary"], "cannot go with --arch"),
        (["--conv", "c8k9d2"], "does not fit"),
    ],
)
def test_conv_errors_are_one_line(tmp_path, capsys, args, needle):
    rc = cli.main(["train", *args, "--steps", "2", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_recipes_are_documented():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    doc = "".join((docs / name).read_text() for name in ("conv.md", "boards.md", "training.md"))
    for name in RECIPES:
        assert f"--recipe {name}" in doc


@pytest.mark.sim
def test_conv_core_is_bit_exact(conv_model, tmp_path, capsys):
    rc = cli.main(["sim", "--model", str(conv_model / "ir.json"), "--out", str(tmp_path),
                   "--limit", "100"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "bit-exact: 100/100" in out


@pytest.mark.parametrize(
    "image,spec,bits",
    [((8, 8), "c5k3d1", 1), ((8, 8), "c4k3d2p1o2,c3k2d3s2", 2), ((9, 7), "c6k5d3s2p2o2", 3),
     ((6, 6), "c3k1d2,c4k3d2p1o3", 2), ((8, 8), "c7k2d3o2,c5k2d1p1", 1)],
)  # fmt: skip
def test_random_conv_nets_export_bit_exact(image, spec, bits):
    """Untrained (random) conv nets of many shapes: torch eval == golden model of the
    exported IR == golden model of its lowering, on every score of every sample."""
    import torch

    from gateflow.data.encoding import ThermometerEncoder
    from gateflow.ir.lower import unroll
    from gateflow.nn.conv import ConvLogicNet
    from gateflow.train.export import export
    from gateflow.train.flow import check_against_torch

    h, w = image
    enc = ThermometerEncoder.uniform(h * w, bits, 0, 255)
    for seed in range(2):
        model = ConvLogicNet(enc, image, spec, [30, 20], 4, seed=seed).eval()
        x = np.random.default_rng(seed).integers(0, 256, (150, h * w), dtype=np.uint8)
        net = export(model, {})
        golden = check_against_torch(net, model, x, "export")
        flat = evaluate(unroll(net), x)
        assert np.array_equal(flat.scores, golden.scores)
        with torch.no_grad():
            model.set_impl("reference")
            ref = model(torch.as_tensor(x.astype(np.int64)))
        assert np.array_equal(ref.numpy(), golden.scores)


@pytest.mark.parametrize("candidates", [3, -1])
def test_conv_nets_with_learned_connections_export_bit_exact(candidates):
    """Learned connections in a conv net's dense layers: torch eval (fast and reference
    paths) == golden model of the exported IR on every score."""
    import torch

    from gateflow.data.encoding import ThermometerEncoder
    from gateflow.nn.conv import ConvLogicNet
    from gateflow.train.export import export
    from gateflow.train.flow import check_against_torch

    enc = ThermometerEncoder.uniform(36, 2, 0, 255)
    model = ConvLogicNet(enc, (6, 6), "c4k3d2p1o2", [30, 20], 4, candidates=candidates)
    with torch.no_grad():
        for layer in model.layers:
            layer.conn.normal_(generator=torch.Generator().manual_seed(1))
    model.eval()
    x = np.random.default_rng(0).integers(0, 256, (150, 36), dtype=np.uint8)
    golden = check_against_torch(export(model, {}), model, x, "export")
    with torch.no_grad():
        ref = model.set_impl("reference")(torch.as_tensor(x.astype(np.int64)))
    assert np.array_equal(ref.numpy(), golden.scores)
    assert ConvLogicNet(**model.config).config["candidates"] == candidates
