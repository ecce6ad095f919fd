import json

import numpy as np
import pytest

from gateflow.ir.golden import eval_bits, evaluate, pack_bits, unpack_bits
from gateflow.ir.netlist import GroupSum, LogicLayer, Netlist
from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist, random_netlist


def _gate(g, a, b):
    return (g >> (3 - 2 * a - b)) & 1


def _spec_conv(layer, m):
    H, W, C = layer["in_shape"]
    (kh, kw), (sy, sx), (py, px) = layer["kernel"], layer["stride"], layer["padding"]

    def at(r, q, c):
        return m[r][q][c] if 0 <= r < H and 0 <= q < W else 0

    def tree(k, y, x):
        v = [
            at(y * sy - py + ly, x * sx - px + lx, c)
            for ly, lx, c in zip(layer["leaf_y"][k], layer["leaf_x"][k], layer["leaf_c"][k])
        ]
        ops = iter(layer["op"][k])
        while len(v) > 1:
            v = [_gate(next(ops), v[2 * j], v[2 * j + 1]) for j in range(len(v) // 2)]
        return v[0]

    return [
        [[tree(k, y, x) for k in range(layer["out_channels"])]
         for x in range((W + 2 * px - kw) // sx + 1)]
        for y in range((H + 2 * py - kh) // sy + 1)
    ]  # fmt: skip


def _spec_orpool(layer, m):
    H, W, C = layer["in_shape"]
    (kh, kw), (sy, sx) = layer["kernel"], layer["stride"]
    return [
        [[max(m[y * sy + i][x * sx + j][c] for i in range(kh) for j in range(kw))
          for c in range(C)]
         for x in range((W - kw) // sx + 1)]
        for y in range((H - kh) // sy + 1)
    ]  # fmt: skip


def spec_evaluate(ir, raw):
    """The minimal evaluator of docs/ir.md, written from the document alone."""
    enc = ir["encoder"]
    s = [int(raw[f] >= t) for f, t in zip(enc["feature"], enc["threshold"])]
    m = None
    for layer in ir["layers"]:
        kind = layer["kind"]
        if kind in ("conv", "orpool", "flatten") and m is None:
            H, W, C = layer["in_shape"]
            m = [[[s[(y * W + x) * C + c] for c in range(C)] for x in range(W)] for y in range(H)]
        if kind == "conv":
            m = _spec_conv(layer, m)
        elif kind == "orpool":
            m = _spec_orpool(layer, m)
        elif kind == "flatten":
            s += [bit for row in m for pixel in row for bit in pixel]
        elif kind == "logic":
            s += [_gate(g, s[a], s[b]) for a, b, g in zip(layer["a"], layer["b"], layer["op"])]
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


@pytest.mark.parametrize("seed", range(6))
def test_golden_equals_the_documented_evaluator_on_conv_netlists(seed):
    specs = [
        [ConvSpec(3, (3, 3), (1, 1), (1, 1), 2), PoolSpec((2, 2), (2, 2))],
        [ConvSpec(2, (2, 3), (2, 1), (0, 1), 3), ConvSpec(3, (2, 2), (1, 1), (1, 1), 1)],
        [PoolSpec((3, 3), (1, 1)), ConvSpec(4, (1, 1), depth=1)],
    ][seed % 3]
    widths = [[8, 4], [], [10, 6, 4]][seed % 3]
    net = random_conv_netlist((6, 5, 2), specs, widths, 2, seed=seed, skip_prob=0.4,
                              kind=["logic", "mixed"][seed % 2])  # fmt: skip
    doc = json.loads(net.to_json())
    raw = np.random.default_rng(seed).integers(0, 256, (40, net.encoder.num_raw_features))
    res = evaluate(net, raw)
    for k in range(len(raw)):
        scores, cls = spec_evaluate(doc, raw[k].tolist())
        assert scores == res.scores[k].tolist()
        assert cls == res.pred[k]
