import json

import numpy as np
import pytest
import torch

from gateflow.data.encoding import EncodingError, ThermometerEncoder, center_crop_features
from gateflow.errors import GateflowError
from gateflow.nn import Thermometer


def _raw(n=500, f=10, hi=255, seed=0):
    return np.random.default_rng(seed).integers(0, hi + 1, size=(n, f)).astype(np.uint8)


def test_encode_rule_and_order():
    enc = ThermometerEncoder(3, feature=[2, 2, 0], threshold=[1, 5, 3])
    X = np.array([[3, 9, 0], [2, 9, 5], [0, 0, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(
        enc.encode(X), np.array([[0, 0, 1], [1, 1, 0], [1, 0, 0]], dtype=np.uint8)
    )
    assert enc.encode(X).dtype == np.uint8 and enc.num_bits == 3


def test_uniform_thresholds():
    digits = ThermometerEncoder.uniform(64, 2, 0, 16)
    assert digits.num_bits == 128
    np.testing.assert_array_equal(digits.threshold[:4], [6, 11, 6, 11])
    np.testing.assert_array_equal(digits.feature[:4], [0, 0, 1, 1])  # feature-major
    assert ThermometerEncoder.uniform(784, 1, 0, 255).threshold[0] == 128
    # thresholds lie in (lo, hi] and more bits than values are deduplicated
    many = ThermometerEncoder.uniform(1, 40, 0, 16)
    np.testing.assert_array_equal(many.threshold, np.arange(1, 17))


def test_uniform_subset_is_a_crop():
    feats = center_crop_features((28, 28), 20)
    assert len(feats) == 400 and feats[0] == 4 * 28 + 4 and feats[-1] == 23 * 28 + 23
    enc = ThermometerEncoder.uniform(784, 2, 0, 255, features=feats)
    assert enc.num_bits == 800 and enc.num_raw_features == 784
    assert sorted(set(enc.feature.tolist())) == sorted(feats)
    with pytest.raises(EncodingError):
        center_crop_features((8, 8), 9)


def test_quantile_thresholds():
    X = _raw(1000, 5)
    X[:, 1] = 7  # constant: no bits
    X[:, 2] = (np.arange(1000) % 10 == 0) * 200  # 90% zeros: one bit, x >= 1
    enc = ThermometerEncoder.quantile(X, 3)
    assert 1 not in enc.feature.tolist()
    np.testing.assert_array_equal(enc.threshold[enc.feature == 2], [1])
    bits = enc.encode(X)
    assert bits.min(axis=0).max() == 0 and bits.max(axis=0).min() == 1  # no constant bits
    t0 = enc.threshold[enc.feature == 0]
    assert t0.size == 3 and np.all(np.diff(t0) > 0)
    # roughly a quarter of the samples above each successive threshold step
    frac = bits[:, enc.feature == 0].mean(axis=0)
    np.testing.assert_allclose(frac, [0.75, 0.5, 0.25], atol=0.05)


def test_dict_round_trip_is_json():
    enc = ThermometerEncoder.quantile(_raw(), 4, features=[0, 3, 7])
    d = json.loads(json.dumps(enc.to_dict()))
    assert d["kind"] == "thermometer" and d["num_raw_features"] == 10
    back = ThermometerEncoder.from_dict(d)
    assert back == enc
    np.testing.assert_array_equal(back.encode(_raw(seed=1)), enc.encode(_raw(seed=1)))


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "onehot", "num_raw_features": 2, "feature": [0], "threshold": [1]},
        {"kind": "thermometer", "num_raw_features": 2, "feature": [2], "threshold": [1]},
        {"kind": "thermometer", "num_raw_features": 2, "feature": [0, 0], "threshold": [3, 1]},
        {"kind": "thermometer", "num_raw_features": 2, "feature": [0, 1, 0], "threshold": [1] * 3},
        {"kind": "thermometer", "num_raw_features": 2, "feature": [0]},
    ],
)
def test_invalid_encoders_raise(bad):
    with pytest.raises(GateflowError):
        ThermometerEncoder.from_dict(bad)


def test_encode_checks_shape():
    with pytest.raises(EncodingError):
        ThermometerEncoder.uniform(4, 1, 0, 255).encode(_raw(f=5))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.float32])
def test_torch_matches_numpy_bit_for_bit(dtype):
    X = _raw(2000, 12)
    X[:5] = 0
    X[5:10] = 255
    enc = ThermometerEncoder.quantile(X, 5)
    enc_uniform = ThermometerEncoder.uniform(12, 7, 0, 255, features=[11, 0, 5])
    for e in (enc, enc_uniform):
        module = Thermometer(e)
        got = module(torch.from_numpy(X).to(dtype))
        assert got.dtype == torch.float32
        np.testing.assert_array_equal(got.numpy().astype(np.uint8), e.encode(X))
        assert module.to_encoder() == e
