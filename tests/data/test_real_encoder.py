"""The real-valued thermometer encoder: fitting, the binary64 comparison of the IR spec,
and agreement of numpy, torch and an evaluator written from docs/ir.md alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gateflow import ir
from gateflow.data.encoding import EncodingError, ThermometerEncoder
from gateflow.ir.randnet import random_netlist


def _spec_encode(doc: dict, rows: list[list[float]]) -> list[list[int]]:
    """docs/ir.md, encoder with "values": "real": bit i = raw[feature[i]] >= threshold[i],
    both binary64 (Python floats)."""
    enc = doc["encoder"]
    return [
        [int(float(r[f]) >= float(t)) for f, t in zip(enc["feature"], enc["threshold"])]
        for r in rows
    ]


def test_quantile_on_floats_puts_thresholds_between_training_values():
    X = np.array([[0.1], [0.2], [0.2], [0.7], [1.5], [3.0]])
    enc = ThermometerEncoder.quantile(X, 3)
    assert enc.real and enc.threshold.dtype == np.float64
    distinct = np.unique(X)
    for t in enc.threshold:
        k = np.searchsorted(distinct, t)
        assert 0 < k < distinct.size and t == distinct[k - 1] / 2 + distinct[k] / 2
    assert np.all(np.diff(enc.threshold) > 0)


def test_out_of_range_values_clamp_and_nan_is_refused():
    enc = ThermometerEncoder.fixed(2, [-1.0, 0.0, 2.5])
    bits = enc.encode(np.array([[-1e300, 1e300], [-np.inf, np.inf], [0.0, 2.5]]))
    assert bits.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 1, 1]]
    with pytest.raises(EncodingError, match="row 1, feature 0: NaN"):
        enc.encode(np.array([[0.0, 0.0], [np.nan, 1.0]]))


def test_uniform_real_uses_each_features_range():
    X = np.array([[0.0, 10.0], [1.0, 20.0], [0.5, 10.0]])
    enc = ThermometerEncoder.uniform_real(X, 1)
    assert enc.threshold.tolist() == [0.5, 15.0]


def test_real_ir_round_trips_exactly_and_agrees_with_the_spec(tmp_path):
    base = random_netlist(6, [10, 6], 3, seed=4)
    rng = np.random.default_rng(0)
    th = np.sort(rng.normal(size=base.num_inputs) * 1e3) / 7  # many digits
    enc = ThermometerEncoder(
        6, np.sort(base.encoder.feature), th, values="real", feature_names=tuple("abcdef")
    )
    # thresholds of one feature must ascend: sort within features
    order = np.lexsort((enc.threshold, enc.feature))
    enc = enc.subset(order)
    net = ir.Netlist(enc, base.layers, base.head, {})
    path = tmp_path / "real.json"
    net.save(path)
    back = ir.load(path)
    assert back.version == 2 and back.encoder == net.encoder
    assert np.array_equal(back.encoder.threshold, net.encoder.threshold)  # bit for bit
    # rows exactly at, just below and just above every threshold
    t = np.repeat(net.encoder.threshold, 3)
    t[1::3] = np.nextafter(t[1::3], -np.inf)
    t[2::3] = np.nextafter(t[2::3], np.inf)
    X = rng.normal(size=(t.size, 6)) * 300
    X[np.arange(t.size), np.repeat(net.encoder.feature, 3)] = t
    doc = json.loads(path.read_text())
    assert net.encoder.encode(X).tolist() == _spec_encode(doc, X.tolist())


def test_torch_thermometer_equals_numpy_on_float32_and_float64():
    torch = pytest.importorskip("torch")
    from gateflow.nn.encoding import Thermometer

    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    enc = ThermometerEncoder.quantile(X, 7).with_names(["p", "q", "r", "s"])
    module = Thermometer(enc)
    assert module.to_encoder() == enc
    X2 = np.concatenate([X, np.tile(enc.threshold[:4], (2, 1))])  # values exactly at some
    for x in (X2, X2.astype(np.float32)):
        want = enc.encode(x)
        got = module(torch.from_numpy(x)).numpy().astype(np.uint8)
        assert np.array_equal(got, want)


def test_integer_netlists_stay_version_1():
    net = random_netlist(6, [6], 2, seed=1)
    assert json.loads(net.to_json())["version"] == 1
