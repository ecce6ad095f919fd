"""Threshold layers in the IR: validation, golden model, passes and neuron classes."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from gateflow import ir
from gateflow.data.encoding import ThermometerEncoder
from gateflow.hdl.neurons import KINDS, census, classify, describe, rtl_expr
from gateflow.ir import golden
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist

THRESHOLD_KINDS = ("binary", "integer", "mixed")


def _reference(net: ir.Netlist, bits: np.ndarray) -> np.ndarray:
    """Class scores by plain integer arithmetic, one layer at a time."""
    s = np.asarray(bits, dtype=np.int64)
    for layer in net.layers:
        if isinstance(layer, ir.ThresholdLayer):
            out = [(s[:, src] @ w >= t).astype(np.int64) for src, w, t in layer.neurons()]
        else:
            from gateflow.gates import GATES

            out = [
                np.array([GATES[int(op)].out(x, y) for x, y in zip(s[:, a], s[:, b])])
                for a, b, op in zip(layer.a, layer.b, layer.op)
            ]
        s = np.concatenate([s, np.stack(out, axis=1)], axis=1)
    return np.stack([s[:, g].sum(axis=1) for g in net.head.groups], axis=1)


def _small() -> dict:
    enc = ThermometerEncoder(3, np.array([0, 1, 2]), np.array([1, 1, 1]))
    layer = ir.ThresholdLayer.from_neurons([([0, 1, 2], [1, 1, 1]), ([0, 2], [4, -3]), ((), ())],
                                           [2, 1, 0])  # fmt: skip
    net = ir.Netlist(enc, [layer], ir.GroupSum([np.array([3, 4]), np.array([5])]))
    return json.loads(net.to_json())


def test_json_round_trip_and_semantics():
    doc = _small()
    assert doc["layers"][0] == {
        "kind": "threshold",
        "src": [[0, 1, 2], [0, 2], []],
        "weight": [[1, 1, 1], [4, -3], []],
        "threshold": [2, 1, 0],
    }
    net = ir.from_dict(doc)
    assert net.to_json() == json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    raw = np.array([[0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 1]])
    res = golden.evaluate(net, raw)
    # majority of 3, 4*x0 - 3*x2 >= 1, constant 1
    maj = (raw.sum(1) >= 2).astype(int)
    second = (4 * raw[:, 0] - 3 * raw[:, 2] >= 1).astype(int)
    assert res.scores[:, 0].tolist() == (maj + second).tolist()
    assert res.scores[:, 1].tolist() == [1] * 5


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["layers"][0]["src"].pop(), "src has 2 neurons but threshold has 3"),
        (lambda d: d["layers"][0]["weight"][1].pop(), "neuron 1 has 2 sources but 1 weights"),
        (lambda d: d["layers"][0]["src"][0].__setitem__(1, 3), "src[0][1] = 3 does not name"),
        (lambda d: d["layers"][0]["src"][0].__setitem__(0, -1), "out of range"),
        (lambda d: d["layers"][0]["weight"][0].__setitem__(0, 2**31), "out of range"),
        (lambda d: d["layers"][0]["weight"][0].__setitem__(0, 1.5), "expected an integer"),
        (lambda d: d["layers"][0]["threshold"].__setitem__(0, 2**41), "out of range"),
        (lambda d: d["layers"][0].__setitem__("threshold", []), "src has 3 neurons"),
        (lambda d: d["layers"][0].pop("weight"), "missing field 'weight'"),
        (lambda d: d["layers"][0].__setitem__("a", [1]), "unknown field 'a'"),
        (lambda d: d["layers"][0].__setitem__("kind", "conv"), "kind 'conv' is not supported"),
        (lambda d: d["layers"][0].__setitem__("src", {}), "expected a list of lists"),
    ],
)
def test_malformed_threshold_layers_are_refused(mutate, message):
    doc = _small()
    mutate(doc)
    with pytest.raises(ir.IRError, match=None) as err:
        ir.from_dict(doc)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_neuron_whose_weights_sum_past_2_40_is_refused():
    doc = _small()
    doc["layers"][0]["src"][0] = [0] * 600
    doc["layers"][0]["weight"][0] = [2**31 - 1] * 600
    with pytest.raises(ir.IRError, match="sum to more than 2\\*\\*40"):
        ir.from_dict(doc)


@pytest.mark.parametrize("kind", THRESHOLD_KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_golden_equals_integer_reference(kind, seed):
    net = random_netlist(20, [30, 25, 20], 4, seed=seed, skip_prob=0.3, kind=kind, fan_in=9)
    bits = np.random.default_rng(seed).integers(0, 2, (300, 20)).astype(np.uint8)
    assert np.array_equal(golden.eval_bits(net, bits).scores, _reference(net, bits))


def test_dense_and_sparse_paths_agree():
    net = random_netlist(40, [200, 60], 3, seed=3, skip_prob=0.5, kind="integer", fan_in=30,
                         weight_bits=12)  # fmt: skip
    bits = np.random.default_rng(1).integers(0, 2, (1000, 40)).astype(np.uint8)
    sig = golden.eval_signals(net, golden.pack_bits(bits))
    for layer in net.layers:
        dense = golden.threshold_sums(layer, sig, dense=True)
        sparse = golden.threshold_sums(layer, sig, dense=False)
        assert np.array_equal(dense, sparse)


def test_large_weights_stay_exact():
    """Weights near 2**31 give exact sums in both paths."""
    big = 2**31 - 1
    enc = ThermometerEncoder(4, np.arange(4), np.ones(4, dtype=np.int64))
    # thresholds one apart: only exact arithmetic tells them apart
    layer = ir.ThresholdLayer.from_neurons(
        [([0, 1, 2, 3], [big, big, -big, 1])] * 2, [big + 1, big + 2]
    )
    net = ir.validate(ir.Netlist(enc, [layer], ir.GroupSum([np.array([4]), np.array([5])])))
    bits = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 0, 1]], dtype=np.uint8)
    sig = golden.eval_signals(net, golden.pack_bits(bits))
    for dense in (True, False):
        sums = golden.threshold_sums(layer, sig, dense=dense)[:, :3]
        assert sums[0].tolist() == [big + 1, big, big + 1]
    res = golden.eval_bits(net, bits)
    assert res.scores.tolist() == [[1, 0], [0, 0], [1, 0]]


@pytest.mark.parametrize("kind", THRESHOLD_KINDS)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("passes", [["const"], ["fold"], ["dce"], ["const", "fold", "dce"]])
def test_passes_preserve_the_function(kind, seed, passes):
    net = random_netlist(16, [40, 30, 20], 4, seed=seed, skip_prob=0.4, kind=kind, fan_in=7)
    bits = np.random.default_rng(seed).integers(0, 2, (400, 16)).astype(np.uint8)
    before = golden.eval_bits(net, bits)
    after, _ = run_passes(net, passes)
    # dce may drop input bits: feed the kept ones
    keep = [
        int(np.flatnonzero((net.encoder.feature == f) & (net.encoder.threshold == t))[0])
        for f, t in zip(after.encoder.feature, after.encoder.threshold)
    ]
    assert np.array_equal(golden.eval_bits(after, bits[:, keep]).scores, before.scores)


def test_fold_absorbs_constants_and_inverters():
    """A NOT gate feeding a neuron flips that weight; a constant gate moves into T."""
    enc = ThermometerEncoder(2, np.array([0, 1]), np.array([1, 1]))
    gates = ir.LogicLayer(a=np.array([0, 0]), b=np.array([0, 0]), op=np.array([12, 15]))  # ~x0, 1
    neuron = ir.ThresholdLayer.from_neurons([([2, 3, 1], [2, 5, 1])], [6])
    net = ir.Netlist(enc, [gates, neuron], ir.GroupSum([np.array([4])]))
    folded, _ = run_passes(net, ["fold", "dce"])
    (layer,) = folded.layers
    src, w = layer.neuron(0)
    # 2*(1-x0) + 5 + x1 >= 6  <=>  -2*x0 + x1 >= -1
    assert sorted(zip(src.tolist(), w.tolist())) == [(0, -2), (1, 1)]
    assert layer.threshold.tolist() == [-1]


def test_weights_of_one_source_merge_and_zeros_go():
    enc = ThermometerEncoder(3, np.arange(3), np.ones(3, dtype=np.int64))
    neuron = ir.ThresholdLayer.from_neurons([([0, 0, 1, 2], [2, -2, 3, 0])], [1])
    net = ir.Netlist(enc, [neuron], ir.GroupSum([np.array([3])]))
    out, _ = run_passes(net, ["const"])
    assert out.layers[0].neuron(0)[0].tolist() == [1]  # x0 cancelled, x2 had weight 0


@pytest.mark.parametrize(
    "weights, threshold, kind",
    [
        ([1, 1, 1], 0, "TRUE"),
        ([1, 1, 1], 4, "FALSE"),
        ([3], 2, "WIRE"),
        ([-3], -1, "NOT"),
        ([1, 1, 1], 3, "AND"),
        ([-1, -1, -1], 0, "NOR"),
        ([2, -1, 3], 5, "AND-like"),
        ([1, 1, 1], 1, "OR"),
        ([-1, -1, -2], -3, "NAND"),
        ([1, -1, 1], 0, "OR-like"),
        ([1, 1, 1, 1, 1], 3, "k-of-n"),
        ([2, 1, 1, 1], 3, "weighted"),
        ([1, 0, 1], 2, "AND"),  # zero weights are no connection
    ],
)
def test_classify(weights, threshold, kind):
    assert classify(weights, threshold) == kind


def test_every_class_matches_its_truth_table():
    """Each class's definition, checked against the neuron's function on all inputs."""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(3000):
        k = int(rng.integers(1, 6))
        w = rng.choice([-3, -2, -1, 1, 2, 3], k) if rng.random() < 0.5 else np.ones(k, int)
        lo, hi = int(w[w < 0].sum()), int(w[w > 0].sum())
        t = int(rng.integers(lo - 1, hi + 2))
        kind = classify(w, t)
        seen.add(kind)
        xs = np.array([[(i >> b) & 1 for b in range(k)] for i in range(2**k)])
        f = (xs @ w >= t).astype(int)
        lit = np.where(w > 0, xs, 1 - xs)  # each input's literal: x or NOT x
        expect = {
            "TRUE": np.ones_like(f),
            "FALSE": np.zeros_like(f),
            "WIRE": xs[:, 0] if k == 1 else None,
            "NOT": 1 - xs[:, 0] if k == 1 else None,
            "AND": lit.all(1),
            "NOR": lit.all(1),
            "AND-like": lit.all(1),
            "OR": lit.any(1),
            "NAND": lit.any(1),
            "OR-like": lit.any(1),
        }.get(kind)
        if expect is not None:
            assert np.array_equal(f, np.asarray(expect).astype(int)), (w, t, kind)
        elif kind == "k-of-n":
            m = int(np.abs(w).min())
            need = -(-(t - lo) // m)
            assert np.array_equal(f, (lit.sum(1) >= need).astype(int)), (w, t)
    assert seen == set(KINDS)


def test_census_and_descriptions():
    counts = census([([1, 1], 2), ([1, 1, 1], 2), ([-1, -1], 0), ([1, 1, 1], 2)])
    assert counts == {"AND": 1, "NOR": 1, "k-of-n": 2}
    assert describe([1, 1, 1, 1, 1], 3) == "3-of-5"
    assert describe([2, 1, 1], 2) == "weighted threshold, 3 inputs"
    assert rtl_expr(["a", "b"], [1, 1], 2) == "a & b"  # two inputs: the gate table's AND
    assert rtl_expr(["a", "b", "c"], [-1, -1, -1], 0) == "~|{a, b, c}"
    assert rtl_expr(["a", "b", "c"], [1, 1, 1], 5) == "1'b0"
    assert rtl_expr(["a", "b", "c", "d"], [5, 1, -2, 1], 2) == (
        "({a, 1'b0, a} + {2'b0, b} + {2'b0, d}) >= ({1'b0, c, 1'b0} + 3'd2)"
    )


def test_random_threshold_nets_are_valid_and_reproducible():
    for kind in THRESHOLD_KINDS:
        a = random_netlist(10, [12, 6], 3, seed=5, kind=kind)
        b = random_netlist(10, [12, 6], 3, seed=5, kind=kind)
        assert a.to_json() == b.to_json()
        assert any(isinstance(layer, ir.ThresholdLayer) for layer in a.layers)
        ir.from_json(a.to_json())
    with pytest.raises(ValueError, match="kind must be one of"):
        random_netlist(4, [2], 2, kind="conv")


def test_netlist_mutation_does_not_leak_into_the_copy():
    net = random_netlist(10, [12, 6], 3, seed=5, kind="integer")
    clone = copy.deepcopy(net)
    run_passes(net, ["fold", "dce"])
    assert clone.to_json() == net.to_json()
