import json

import numpy as np
import pytest

from gateflow.ir.golden import eval_bits, evaluate, pack_bits, unpack_bits
from gateflow.ir.netlist import GroupSum, LogicLayer, Netlist
from gateflow.ir.randnet import random_netlist


def spec_evaluate(ir, raw):
    """The minimal evaluator of docs/ir.md, written from the document alone."""
    enc = ir["encoder"]
    s = [int(raw[f] >= t) for f, t in zip(enc["feature"], enc["threshold"])]
    for layer in ir["layers"]:
        if layer["kind"] == "logic":
            s += [
                (g >> (3 - 2 * s[a] - s[b])) & 1
                for a, b, g in zip(layer["a"], layer["b"], layer["op"])
            ]
        else:  # threshold
            s += [
                int(sum(w * s[k] for k, w in zip(src, ws)) >= t)
                for src, ws, t in zip(layer["src"], layer["weight"], layer["threshold"])
            ]
    scores = [sum(s[k] for k in group) for group in ir["head"]["groups"]]
    return scores, scores.index(max(scores))


def test_pack_unpack_round_trip():
    rng = np.random.default_rng(0)
    for n in (1, 63, 64, 65, 300):
        bits = rng.integers(0, 2, (n, 7)).astype(np.uint8)
        packed = pack_bits(bits)
        assert packed.shape == (7, (n + 63) // 64)
        assert np.array_equal(unpack_bits(packed, n), bits)
        # sample s is bit s%64 of word s//64
        s = n - 1
        assert (int(packed[3, s // 64]) >> (s % 64)) & 1 == bits[s, 3]


@pytest.mark.parametrize("kind", ["logic", "binary", "integer", "mixed"])
@pytest.mark.parametrize("seed", range(4))
def test_golden_equals_the_documented_evaluator(seed, kind):
    net = random_netlist(
        24, [40, 30, 20], 4, seed=seed, skip_prob=0.3, num_raw_features=10, kind=kind
    )
    ir = json.loads(net.to_json())
    raw = np.random.default_rng(seed).integers(0, 256, (150, 10))
    res = evaluate(net, raw)
    for k in range(len(raw)):
        scores, cls = spec_evaluate(ir, raw[k].tolist())
        assert res.scores[k].tolist() == scores
        assert res.pred[k] == cls


def test_argmax_ties_go_to_the_lowest_class():
    from gateflow.data.encoding import ThermometerEncoder

    enc = ThermometerEncoder(1, np.array([0]), np.array([1]))
    # signal 1 = NOT x, signal 2 = x ; class scores: [x, x, NOT x]
    layer = LogicLayer(a=np.array([0, 0]), b=np.array([0, 0]), op=np.array([12, 3]))
    net = Netlist(enc, [layer], GroupSum([np.array([2]), np.array([2]), np.array([1])]))
    res = eval_bits(net, np.array([[1], [0]], dtype=np.uint8))
    assert res.scores.tolist() == [[1, 1, 0], [0, 0, 1]]
    assert res.pred.tolist() == [0, 2]


def test_chunking_does_not_change_results(monkeypatch):
    import gateflow.ir.golden as golden

    net = random_netlist(30, [50, 20], 2, seed=9)
    bits = np.random.default_rng(1).integers(0, 2, (1000, 30)).astype(np.uint8)
    whole = eval_bits(net, bits)
    monkeypatch.setattr(golden, "CHUNK_WORDS", 1)
    chunked = eval_bits(net, bits)
    assert np.array_equal(whole.scores, chunked.scores)


@pytest.mark.parametrize("seed", range(3))
def test_golden_equals_the_documented_evaluator_on_real_features(seed):
    from gateflow.data.encoding import ThermometerEncoder

    base = random_netlist(24, [40, 20], 4, seed=seed, num_raw_features=10, kind="mixed")
    rng = np.random.default_rng(seed)
    feature = np.sort(rng.integers(0, 10, base.num_inputs))
    step = rng.exponential(3.0, base.num_inputs)  # ascending within each feature
    start = np.r_[True, feature[1:] != feature[:-1]]
    threshold = np.cumsum(step) - 40.0
    offset = np.maximum.accumulate(np.where(start, np.arange(feature.size), 0))
    threshold -= threshold[offset] - rng.normal(size=feature.size)[offset] * 10
    enc = ThermometerEncoder(10, feature, threshold, values="real")
    net = Netlist(enc, base.layers, base.head, {})
    doc = json.loads(net.to_json())
    assert doc["version"] == 2
    raw = rng.normal(size=(150, 10)) * 12
    res = evaluate(net, raw)
    for k in range(len(raw)):
        scores, cls = spec_evaluate(doc, raw[k].tolist())
        assert res.scores[k].tolist() == scores
        assert res.pred[k] == cls
