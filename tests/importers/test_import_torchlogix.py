"""``gateflow import torchlogix``: the LUT table against gateflow's gates, dense and conv
checkpoints built here with torchlogix's tensor layout (no torchlogix needed), and, when
torchlogix is installed (``make bench-deps``), its own models in eval and export mode:
the golden model's class scores equal torchlogix's outputs * tau on every sample."""

from __future__ import annotations

import copy
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from gateflow import cli, ir
from gateflow.bench.conv import TorchlogixUnavailable, load_torchlogix
from gateflow.gates import GATES
from gateflow.importers import ImportOptions, read
from gateflow.importers.common import ModelImportError, check
from gateflow.importers.torchlogix import (
    EXPORT_OPS,
    TORCHLOGIX_TRUTH,
    gate_map,
    lut_eval,
    lut_ids,
)
from gateflow.ir.golden import eval_bits
from gateflow.ir.lower import for_hardware, unroll
from gateflow.ir.passes import run_passes

TORCHLOGIX = Path(__file__).resolve().parents[2] / "build" / "bench-deps" / "torchlogix"
AB = (torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]))


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ the LUT table
def test_lut_ids_map_to_the_gate_with_the_same_truth_table():
    a, b = (t.bool() for t in AB)
    g = gate_map()
    for i, truth in enumerate(TORCHLOGIX_TRUTH):
        # the id is the truth table f00 f01 f10 f11 read as a 4-bit number
        assert sum(bit << (3 - j) for j, bit in enumerate(truth)) == i
        assert tuple(EXPORT_OPS[i](a, b).int().tolist()) == truth
        assert GATES[g[i]].truth == truth
        # every parametrization's eval rule and LUT id agree with the table
        f = torch.tensor(truth, dtype=torch.float32)
        raw = torch.full((1, 16), -1.0)
        raw[0, i] = 1.0
        light = (2 * f - 1).unsqueeze(0)
        h = torch.tensor([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
        warp = ((1 - 2 * f) @ h.float() / 4).unsqueeze(0)  # sum of the basis = 1 - 2f
        for kind, w in (("raw", raw), ("light", light), ("warp", warp)):
            assert int(lut_ids(kind, w)[0]) == i, kind
            out = lut_eval(kind, w, AB[0].float().unsqueeze(-1), AB[1].float().unsqueeze(-1))
            assert out.reshape(-1).tolist() == list(f.tolist()), kind


# ------------------------------------------------------------------ no torchlogix needed
def _truth_eval(ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    table = np.array(TORCHLOGIX_TRUTH, dtype=np.uint8)  # [16, 4]
    return table[ids, 2 * a + b]


def _dense_state_dict(rng: np.random.Generator) -> tuple[dict, list]:
    """A two-layer state_dict in torchlogix's layout (fixed, then learnable connections)
    and, per layer, (ids, a, b) computed independently of the importer."""
    sd = {
        "1.weight": torch.randn(48, 16),
        "1.connections.indices": torch.as_tensor(rng.integers(0, 20, (2, 48))),
        "2.weight": torch.randn(30, 16),
        "2.connections.weights": torch.rand(3, 2, 30),
        "2.connections.indices": torch.as_tensor(rng.integers(0, 48, (3, 2, 30))),
    }
    pick = sd["2.connections.weights"].argmax(0).numpy()
    idx2 = np.take_along_axis(sd["2.connections.indices"].numpy(), pick[None], 0)[0]
    layers = [
        (sd["1.weight"].argmax(1).numpy(), *sd["1.connections.indices"].numpy()),
        (sd["2.weight"].argmax(1).numpy(), *idx2),
    ]
    return sd, layers


def test_dense_state_dict_imports_and_checks(tmp_path, capsys):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    sd, layers = _dense_state_dict(rng)
    torch.save(sd, tmp_path / "sd.pt")
    X = rng.integers(0, 2, (300, 20))
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "ir.json"
    rc = cli.main(["import", "torchlogix", str(tmp_path / "sd.pt"), "--out", str(out),
                   "--classes", "3", "--check-data", str(tmp_path / "X.npy")])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "300/300 samples agree on every class score" in text
    net = ir.load(out)
    assert net.meta["imported"]["format"] == "torchlogix"
    assert net.meta["imported"]["check"] == {"data": "X.npy", "samples": 300, "agree": 300}
    # the scores from the truth table directly
    h = X.astype(np.int64)
    for ids, a, b in layers:
        h = _truth_eval(ids, h[:, a], h[:, b]).astype(np.int64)
    want = h.reshape(len(X), 3, 10).sum(-1)
    assert np.array_equal(eval_bits(net, X.astype(np.uint8)).scores, want)


def test_state_dict_needs_classes_and_refuses_conv(tmp_path):
    sd, _ = _dense_state_dict(np.random.default_rng(1))
    torch.save(sd, tmp_path / "sd.pt")
    with pytest.raises(ModelImportError, match="pass --classes K"):
        read("torchlogix", tmp_path / "sd.pt")
    torch.save({"0.tree_weights.0": torch.zeros(2, 3, 16)}, tmp_path / "conv.pt")
    with pytest.raises(ModelImportError, match="save the whole model"):
        read("torchlogix", tmp_path / "conv.pt", ImportOptions(num_classes=2))
    torch.save({"0.weight": torch.zeros(4, 4), "0.connections.indices": torch.zeros(2, 4)},
               tmp_path / "warp.pt")  # fmt: skip
    with pytest.raises(ModelImportError, match="warp or light"):
        read("torchlogix", tmp_path / "warp.pt", ImportOptions(num_classes=2))


# stand-ins with torchlogix's qualified names and attribute layout, to save whole models
# without torchlogix (the importer never runs a class's code, only reads its tensors)
def _fake_torchlogix(monkeypatch) -> types.SimpleNamespace:
    names = {
        "torchlogix.layers.conv": ["LogicConv2d"],
        "torchlogix.layers.pool": ["OrPooling2d"],
        "torchlogix.layers.dense": ["LogicDense"],
        "torchlogix.layers.groupsum": ["GroupSum"],
        "torchlogix.parametrization": ["RawLUTParametrization"],
        "torchlogix.connections": ["FixedConvConnections", "FixedDenseConnections"],
    }
    out = {}
    for pkg in ("torchlogix", "torchlogix.layers"):
        monkeypatch.setitem(sys.modules, pkg, types.ModuleType(pkg))
    for mod_name, classes in names.items():
        mod = types.ModuleType(mod_name)
        for cls in classes:
            c = type(cls, (torch.nn.Module,), {"__module__": mod_name, "__qualname__": cls})
            setattr(mod, cls, c)
            out[cls] = c
        monkeypatch.setitem(sys.modules, mod_name, mod)
    return types.SimpleNamespace(**out)


def _module(cls, **attrs):
    m = cls()
    for key, value in attrs.items():
        if isinstance(value, torch.Tensor):
            m.register_buffer(key, value)
        else:
            setattr(m, key, value)
    return m


def _fake_conv(fake, rng, in_dim, channels, kernels, depth, rf, stride, padding):
    """A LogicConv2d's attributes and buffers as torchlogix lays them out."""
    H, W = in_dim
    ho, wo = (H + 2 * padding - rf) // stride + 1, (W + 2 * padding - rf) // stride + 1
    S = 2 ** (depth - 1)
    base = np.stack([rng.integers(0, rf, (2, kernels, S)), rng.integers(0, rf, (2, kernels, S)),
                     rng.integers(0, channels, (2, kernels, S))], -1)  # fmt: skip
    oy, ox = np.meshgrid(np.arange(ho) * stride, np.arange(wo) * stride, indexing="ij")
    shift = np.stack([oy.ravel(), ox.ravel(), np.zeros(ho * wo, dtype=np.int64)], -1)
    conn = _module(fake.FixedConvConnections)
    conn.register_buffer(
        "_indices_L0", torch.as_tensor(base[:, :, None] + shift[None, None, :, None])
    )
    for level in range(1, depth):
        pairs = torch.arange(2 ** (depth - level)).view(-1, 2).T.contiguous()
        conn.register_buffer(f"_indices_L{level}", pairs)
    conv = _module(fake.LogicConv2d, in_dim=(H, W), channels=channels, num_kernels=kernels,
                   tree_depth=depth, receptive_field_size=(rf, rf), stride=stride,
                   padding=padding, lut_rank=2, conv_dimension=2, export_mode=False)  # fmt: skip
    conv.parametrization = _module(fake.RawLUTParametrization, lut_rank=2)
    conv.connections = conn
    conv.tree_weights = torch.nn.ParameterList(
        [torch.nn.Parameter(torch.randn(2 ** (depth - 1 - lv), kernels, 16)) for lv in range(depth)]
    )
    return conv, (kernels, ho, wo)


def _fake_dense(fake, rng, in_dim, out_dim):
    dense = _module(fake.LogicDense, in_dim=in_dim, out_dim=out_dim, lut_rank=2,
                    export_mode=False)  # fmt: skip
    dense.parametrization = _module(fake.RawLUTParametrization, lut_rank=2)
    dense.connections = _module(
        fake.FixedDenseConnections, indices=torch.as_tensor(rng.integers(0, in_dim, (2, out_dim)))
    )
    dense.weight = torch.nn.Parameter(torch.randn(out_dim, 16))
    return dense


def test_conv_checkpoint_in_torchlogix_layout(tmp_path, monkeypatch):
    """Conv (stride, padding), padded OR pooling, flatten, dense: golden model ==
    the reference (torchlogix's gathers on [n, C, H, W]) on every sample, and after
    lowering and the passes."""
    fake = _fake_torchlogix(monkeypatch)
    rng = np.random.default_rng(2)
    torch.manual_seed(2)
    conv1, (k1, h1, w1) = _fake_conv(fake, rng, (9, 8), 2, 4, 3, 3, 2, 1)
    conv2, (k2, h2, w2) = _fake_conv(fake, rng, (h1, w1), k1, 3, 2, 2, 1, 0)
    pool = _module(fake.OrPooling2d, kernel_size=2, stride=2, padding=1, export_mode=False)
    flat = k2 * ((h2 + 2 - 2) // 2 + 1) * ((w2 + 2 - 2) // 2 + 1)
    model = torch.nn.Sequential(conv1, conv2, pool, torch.nn.Flatten(),
                                _fake_dense(fake, rng, flat, 40), _fake_dense(fake, rng, 40, 20),
                                _module(fake.GroupSum, k=4, tau=2.0, beta=0.0))  # fmt: skip
    torch.save(model, tmp_path / "conv.pt")
    monkeypatch.undo()  # reading needs none of it
    imported = read("torchlogix", tmp_path / "conv.pt", ImportOptions(thresholds=(64, 192)))
    net = imported.netlist
    assert [layer.kind for layer in net.layers] == [
        "conv", "conv", "conv", "orpool", "flatten", "logic", "logic"
    ]  # fmt: skip
    assert net.layers[2].kernel == (1, 1) and net.layers[2].padding == (1, 1)
    assert any("pass-through" in note for note in imported.notes)
    X = rng.integers(0, 256, (200, 72))
    assert check(imported, X).ok
    bits = net.encoder.encode(X)
    scores = eval_bits(net, bits).scores
    assert scores.max() > 0
    assert np.array_equal(eval_bits(unroll(net), bits).scores, scores)
    assert np.array_equal(eval_bits(for_hardware(net), bits).scores, scores)
    passed, _ = run_passes(net)
    assert np.array_equal(eval_bits(passed, net.encoder.encode(X)).scores, scores)


def test_unknown_class_and_wrong_shapes_are_one_line_errors(tmp_path, monkeypatch, capsys):
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), tmp_path / "linear.pt")
    rc = cli.main(["import", "torchlogix", str(tmp_path / "linear.pt"), "--out",
                   str(tmp_path / "ir.json")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "torch.nn.modules.linear.Linear" in err and "not part of a torchlogix" in err
    fake = _fake_torchlogix(monkeypatch)
    rng = np.random.default_rng(3)
    dense = _fake_dense(fake, rng, 10, 20)
    dense.weight = torch.nn.Parameter(torch.randn(20, 7))
    torch.save(torch.nn.Sequential(dense), tmp_path / "shape.pt")
    second = _fake_dense(fake, rng, 12, 10)  # reads 12 inputs, gets 20
    torch.save(torch.nn.Sequential(_fake_dense(fake, rng, 10, 20), second,
                                   _module(fake.GroupSum, k=2, tau=1.0)),
               tmp_path / "dims.pt")  # fmt: skip
    monkeypatch.undo()
    for name, message in (("shape.pt", "expected [neurons, 16]"), ("dims.pt", "takes 12 inputs")):
        rc = cli.main(["import", "torchlogix", str(tmp_path / name), "--out",
                       str(tmp_path / "ir.json"), "--classes", "2"])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert rc == 1 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "ir.json").exists()


# ------------------------------------------------------------------ with torchlogix
@pytest.fixture(scope="module")
def tlx():
    try:
        layers, _ = load_torchlogix(TORCHLOGIX)
    except TorchlogixUnavailable as exc:
        pytest.skip(f"torchlogix 0.2.2 not available: {exc}")
    return layers


def _torchlogix_counts(model, bits: np.ndarray, image=None, export=False) -> np.ndarray:
    """torchlogix's own forward on gateflow's input bits, times tau, as integers."""
    x = torch.as_tensor(bits, dtype=torch.float32)
    if image is not None:
        c, h, w = image
        x = x.reshape(-1, h, w, c).permute(0, 3, 1, 2)
    with torch.no_grad():
        out = model(x.bool() if export else x).double()
    tau = next(m.tau for m in model.modules() if type(m).__name__ == "GroupSum")
    counts = out.numpy() * tau
    assert np.abs(counts - np.round(counts)).max() < 1e-3
    return np.round(counts).astype(np.int64)


def _modes(model):
    """The model in eval mode and in export mode."""
    model.eval()
    export = copy.deepcopy(model)
    for m in export.modules():
        if hasattr(m, "set_export_mode"):
            m.set_export_mode(True)
    return (("eval", model), ("export", export))


def _import_and_compare(tmp_path, model, thresholds, X, image=None, **kw):
    for mode, m in _modes(model):
        path = tmp_path / f"{mode}.pt"
        torch.save(m, path)
        np.save(tmp_path / "X.npy", X)
        out = tmp_path / f"{mode}.json"
        args = ["import", "torchlogix", str(path), "--out", str(out),
                "--thresholds", ",".join(str(t) for t in thresholds),
                "--check-data", str(tmp_path / "X.npy")]  # fmt: skip
        assert cli.main(args) == 0
        net = ir.load(out)
        assert net.meta["imported"]["mode"] == [mode]
        bits = net.encoder.encode(X)
        want = _torchlogix_counts(m, bits, image, export=mode == "export")
        assert np.array_equal(eval_bits(net, bits).scores, want), mode
    return net


def test_torchlogix_dense_model(tlx, tmp_path):
    torch.manual_seed(4)
    rnd = {"weight_init": "random"}
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        tlx.LogicDense(in_dim=60, out_dim=80, parametrization_kwargs=rnd),
        tlx.LogicDense(in_dim=80, out_dim=60, parametrization_kwargs=rnd,
                       connections="learnable", connections_kwargs={"num_candidates": 4}),
        tlx.LogicDense(in_dim=60, out_dim=40),  # the default (residual) initialisation
        tlx.GroupSum(k=4, tau=3.0),
    )  # fmt: skip
    X = np.random.default_rng(4).integers(0, 256, (400, 30))
    net = _import_and_compare(tmp_path, model, (100, 180), X)
    assert net.num_inputs == 60 and net.num_classes == 4


def test_torchlogix_model_class_and_its_state_dict(tlx, tmp_path):
    """One of torchlogix's own model classes (a container around a Sequential), whole and
    as a state_dict (whose keys name the same buffers)."""
    import importlib

    models = importlib.import_module("torchlogix.models.nn")
    torch.manual_seed(7)
    model = models.RandomlyConnectedNN(in_dim=24, k=30, layers=2, class_count=3, tau=1.0)
    model.eval()
    torch.save(model, tmp_path / "model.pt")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    X = np.random.default_rng(7).integers(0, 2, (200, 24))
    want = _torchlogix_counts(model, X)
    for name, options in (("model.pt", ImportOptions()), ("sd.pt", ImportOptions(num_classes=3))):
        imported = read("torchlogix", tmp_path / name, options)
        assert check(imported, X).ok
        assert np.array_equal(eval_bits(imported.netlist, X.astype(np.uint8)).scores, want)


def test_torchlogix_conv_model(tlx, tmp_path):
    torch.manual_seed(5)
    rnd = {"weight_init": "random"}
    model = torch.nn.Sequential(
        tlx.LogicConv2d(in_dim=(10, 9), channels=2, num_kernels=6, tree_depth=3,
                        receptive_field_size=3, padding=1, parametrization_kwargs=rnd),
        tlx.OrPooling2d(kernel_size=2, stride=2, padding=1),
        tlx.LogicConv2d(in_dim=(6, 5), channels=6, num_kernels=4, tree_depth=2,
                        receptive_field_size=(2, 3), stride=2, parametrization_kwargs=rnd,
                        connections_kwargs={"init_method": "random-unique"}),
        tlx.OrPooling2d(kernel_size=2, stride=1),
        torch.nn.Flatten(),
        tlx.LogicDense(in_dim=4 * 2 * 1, out_dim=50, parametrization_kwargs=rnd),
        tlx.LogicDense(in_dim=50, out_dim=30, parametrization_kwargs=rnd),
        tlx.GroupSum(k=3, tau=2.0),
    )  # fmt: skip
    X = np.random.default_rng(5).integers(0, 256, (300, 90))
    net = _import_and_compare(tmp_path, model, (80, 160), X, image=(2, 10, 9))
    assert [layer.kind for layer in net.layers][:5] == ["conv", "conv", "orpool", "conv", "orpool"]
    bits = net.encoder.encode(X)
    assert np.array_equal(eval_bits(unroll(net), bits).scores, eval_bits(net, bits).scores)


@pytest.mark.parametrize("param", ["warp", "light"])
def test_torchlogix_other_parametrizations(tlx, tmp_path, param):
    torch.manual_seed(6)
    kw = {"parametrization": param, "parametrization_kwargs": {"weight_init": "random"}}
    model = torch.nn.Sequential(
        tlx.LogicConv2d(in_dim=6, channels=1, num_kernels=3, tree_depth=2,
                        receptive_field_size=3, **kw),
        torch.nn.Flatten(),
        tlx.LogicDense(in_dim=3 * 4 * 4, out_dim=40, **kw),
        tlx.GroupSum(k=2, tau=1.0),
    )  # fmt: skip
    with torch.no_grad():  # light's random init is all positive: every LUT would be TRUE
        for p in model.parameters():
            p.normal_()
    X = np.random.default_rng(6).integers(0, 256, (300, 36))
    net = _import_and_compare(tmp_path, model, (128,), X, image=(1, 6, 6))
    assert net.meta["imported"]["parametrization"] == [param]
    assert len(set(net.layers[0].op.ravel()) | set(net.layers[2].op)) > 8


def test_torchlogix_unsupported_layers(tlx, tmp_path):
    model = torch.nn.Sequential(
        tlx.LogicConv3d(in_dim=4, channels=1, num_kernels=2, tree_depth=2,
                        receptive_field_size=2),
    )  # fmt: skip
    torch.save(model, tmp_path / "c3.pt")
    with pytest.raises(ModelImportError, match="3-D convolutions"):
        read("torchlogix", tmp_path / "c3.pt")
    model = torch.nn.Sequential(
        tlx.FixedBinarization(thresholds=torch.tensor([0.5])),
        tlx.LogicDense(in_dim=8, out_dim=8),
        tlx.GroupSum(k=2),
    )
    torch.save(model, tmp_path / "bin.pt")
    with pytest.raises(ModelImportError, match="--thresholds"):
        read("torchlogix", tmp_path / "bin.pt")
