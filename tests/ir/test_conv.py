"""Convolutional netlists (IR version 3): the golden model against the lowering to logic
layers, the passes on spatial layers, the format's versions, and the commands that report
on them. (The golden model against the evaluator of docs/ir.md: tests/ir/test_golden.py.)"""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateflow import cli, ir
from gateflow.gates import BY_NAME
from gateflow.ir.golden import eval_bits, evaluate
from gateflow.ir.lower import for_hardware, unroll
from gateflow.ir.netlist import ConvLayer, FlattenLayer, GroupSum, LogicLayer, Netlist
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import (
    ConvSpec,
    PoolSpec,
    image_encoder,
    parse_spatial,
    random_conv_netlist,
    random_netlist,
)

PROPERTY = settings(max_examples=60, deadline=None, database=None)


@st.composite
def conv_nets(draw):
    """A random conv netlist: 1..3 spatial layers over shapes, strides, padding 0/1,
    kernels 1..5, depths 1..3, pooling 2x2 or 3x3 stride 1, 1..3 channels."""
    shape = (draw(st.integers(3, 9)), draw(st.integers(3, 9)), draw(st.integers(1, 3)))
    image, specs = shape, []
    for _ in range(draw(st.integers(1, 4))):
        if specs and draw(st.integers(0, 2)) < 2:
            k, s = draw(st.sampled_from([((2, 2), (2, 2)), ((3, 3), (1, 1)), ((2, 2), (1, 1))]))
            spec = PoolSpec(k, s)
            out = ((shape[0] - k[0]) // s[0] + 1, (shape[1] - k[1]) // s[1] + 1, shape[2])
        else:
            k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
            s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            p = draw(st.integers(0, 1))
            spec = ConvSpec(draw(st.integers(1, 5)), k, s, (p, p), draw(st.integers(1, 3)))
            out = (
                (shape[0] + 2 * p - k[0]) // s[0] + 1,
                (shape[1] + 2 * p - k[1]) // s[1] + 1,
                spec.channels,
            )
        if min(out) < 1:
            continue
        specs.append(spec)
        shape = out
    widths = draw(st.sampled_from([[], [12, 6], [20, 10, 6]]))
    kind = draw(st.sampled_from(["logic", "logic", "mixed"]))
    classes = 3 if not widths else 2 if widths[-1] % 3 else 3
    return random_conv_netlist(image, specs, widths, classes, seed=draw(st.integers(0, 999)),
                               skip_prob=0.3, kind=kind)  # fmt: skip


def _raw(net, n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, net.encoder.num_raw_features))


@PROPERTY
@given(conv_nets())
def test_golden_equals_unroll_and_the_lowered_hardware_netlist(net):
    bits = np.random.default_rng(1).integers(0, 2, (130, net.num_inputs), dtype=np.uint8)
    want = eval_bits(net, bits)
    flat = unroll(net)
    assert flat.version in (1, 2) and not flat.has_spatial
    assert all(layer.kind in ("logic", "threshold") for layer in flat.layers)
    assert [g.size for g in flat.head.groups] == [g.size for g in net.head.groups]
    got = eval_bits(flat, bits)
    assert np.array_equal(got.scores, want.scores) and np.array_equal(got.pred, want.pred)
    hw = for_hardware(net)
    assert hw.num_inputs == net.num_inputs
    assert np.array_equal(eval_bits(hw, bits).scores, want.scores)


@PROPERTY
@given(conv_nets())
def test_passes_keep_the_function(net):
    raw = _raw(net, 150)
    want = evaluate(net, raw).scores
    for names in (["const"], ["fold"], ["dce"], ["fold", "dce"]):
        out, stats = run_passes(net, names)
        assert out.version in (1, 2, 3)
        assert np.array_equal(evaluate(out, raw).scores, want), names
        assert stats[-1].gates_after == out.num_distinct_gates
        assert ir.from_json(out.to_json()).to_json() == out.to_json()


def _tiny(op, leaf_y, leaf_x, leaf_c, padding=(0, 0), kernel=(2, 2), in_shape=(2, 2, 1)):
    """One conv layer over an image, flattened, every flatten signal a class of its own."""
    enc = image_encoder(in_shape, np.random.default_rng(0))
    conv = ConvLayer(
        in_shape=in_shape,
        kernel=kernel,
        stride=(1, 1),
        padding=padding,
        depth=int(np.log2(np.asarray(leaf_y).shape[1])),
        leaf_y=np.asarray(leaf_y),
        leaf_x=np.asarray(leaf_x),
        leaf_c=np.asarray(leaf_c),
        op=np.asarray(op),
    )
    flat = FlattenLayer(in_shape=conv.out_shape)
    n = enc.num_bits
    groups = [np.array([n + j]) for j in range(flat.size)]
    return Netlist(enc, [conv, flat], GroupSum(groups)).validate()


def test_a_hand_computed_conv():
    # a 2x2 image, one kernel of depth 1 over a 2x2 window with padding 1: a 3x3 output map;
    # leaf 0 reads the window's top-left, leaf 1 its bottom-right; the gate is AND
    net = _tiny([[BY_NAME["AND"].id]], [[0, 1]], [[0, 1]], [[0, 0]], padding=(1, 1))
    assert net.layers[0].out_shape == (3, 3, 1)
    img = np.array([[1, 1], [1, 1]], dtype=np.uint8).reshape(1, 4)
    # out(y, x) = in(y-1, x-1) & in(y, x): 1 only at (1, 1), where both lie inside
    assert eval_bits(net, img).scores[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    img = np.array([[1, 0], [0, 1]], dtype=np.uint8).reshape(1, 4)
    assert eval_bits(net, img).scores[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    img = np.array([[1, 1], [0, 1]], dtype=np.uint8).reshape(1, 4)
    # (1,1): in(0,0)&in(1,1) = 1; (1,2): in(0,1)&in(1,2 outside) = 0; (2,2): in(1,1)&0 = 0
    assert eval_bits(net, img).scores[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    # NOR gives 1 exactly where both leaves fall in the padding: (0, 2) and (2, 0)
    nor = _tiny([[BY_NAME["NOR"].id]], [[0, 1]], [[0, 1]], [[0, 0]], padding=(1, 1))
    assert eval_bits(nor, np.ones((1, 4), dtype=np.uint8)).scores[0].tolist() == [
        0, 0, 1, 0, 0, 0, 1, 0, 0
    ]  # fmt: skip


def test_tree_order_is_level_by_level():
    # depth 2: gates 0, 1 read leaf pairs (0, 1), (2, 3); gate 2 (the root) reads them (a, b)
    a_and_not_b = BY_NAME["A_AND_NOT_B"].id
    op = [[BY_NAME["A"].id, BY_NAME["B"].id, a_and_not_b]]
    # leaves: (0,0), (0,1), (1,0), (1,1) of a 2x2 window = the four pixels
    net = _tiny(op, [[0, 0, 1, 1]], [[0, 1, 0, 1]], [[0, 0, 0, 0]])
    for pixels in np.ndindex(2, 2, 2, 2):
        bits = np.array(pixels, dtype=np.uint8)[None]
        # root = A(p0, p1) & ~B(p2, p3) = p0 & ~p3
        assert eval_bits(net, bits).scores[0, 0] == (pixels[0] & (1 - pixels[3]))


def test_versions_and_sizes():
    flat = random_netlist(8, [6, 4], 2, seed=1)
    assert flat.version == 1 and not flat.has_spatial
    assert flat.num_distinct_gates == flat.num_unrolled_gates == flat.num_gates == 10
    spatial = [ConvSpec(4, (3, 3), (1, 1), (1, 1), 3), PoolSpec((2, 2), (2, 2))]
    net = random_conv_netlist((6, 6, 2), spatial, [12, 6], 2, seed=3)
    assert net.version == 3
    assert net.num_distinct_gates == 4 * 7 + 18
    assert net.num_unrolled_gates == 6 * 6 * 4 * 7 + 3 * 3 * 4 * 3 + 18
    assert net.num_gates == 3 * 3 * 4 + 18  # the flatten signals and the dense gates
    assert [layer.size for layer in net.layers] == [0, 0, 36, 12, 6]
    assert unroll(net).num_gates == net.num_unrolled_gates + 1  # and one FALSE gate
    doc = json.loads(net.to_json())
    doc["version"] = 2
    with pytest.raises(ir.IRError, match="kind 'conv' is not supported"):
        ir.from_dict(doc)


def test_dead_kernels_are_removed_and_readers_renumbered():
    enc = image_encoder((5, 5, 1), np.random.default_rng(0))
    rng = np.random.default_rng(2)
    and_, xor = BY_NAME["AND"].id, BY_NAME["XOR"].id
    c1 = ConvLayer((5, 5, 1), (2, 2), (1, 1), (0, 0), 1, rng.integers(0, 2, (3, 2)),
                   rng.integers(0, 2, (3, 2)), np.zeros((3, 2), dtype=np.int64),
                   np.array([[xor], [and_], [xor]]))  # fmt: skip
    # the second conv reads channels 0 and 2 only; channel 1 (kernel 1 of c1) is dead
    c2 = ConvLayer((4, 4, 3), (2, 2), (1, 1), (0, 0), 1, np.array([[0, 1], [1, 0]]),
                   np.array([[0, 1], [0, 0]]), np.array([[2, 0], [0, 2]]),
                   np.array([[xor], [BY_NAME["OR"].id]]))  # fmt: skip
    flat = FlattenLayer((3, 3, 2))
    n = enc.num_bits
    # the head reads only channel 1 of c2 (odd flatten signals) and one input bit
    groups = [np.array([n + 1, n + 3, 7]), np.array([n + 5, n + 17])]
    net = Netlist(enc, [c1, c2, flat], GroupSum(groups)).validate()
    out, _ = run_passes(net, ["dce"])
    k1, k2 = out.layers[0], out.layers[1]
    assert k1.out_channels == 2 and k2.out_channels == 1  # kernel 1 of c1 and 0 of c2 went
    assert k2.in_shape == (4, 4, 2) and out.layers[2].in_shape == (3, 3, 1)
    assert k2.leaf_c.tolist() == [[0, 1]]  # c1's kernels 0, 2 are now channels 0, 1
    assert out.num_inputs == net.num_inputs  # the one input channel is read
    raw = _raw(net, 200)
    assert np.array_equal(evaluate(out, raw).scores, evaluate(net, raw).scores)


def test_constant_trees_fold_away():
    enc = image_encoder((4, 4, 2), np.random.default_rng(0))
    true, and_ = BY_NAME["TRUE"].id, BY_NAME["AND"].id
    # kernel 0 has a TRUE root; kernel 1 is x AND NOT x... as independent leaves it is not
    # constant; kernel 2 is AND of two leaves
    conv = ConvLayer((4, 4, 2), (2, 2), (2, 2), (0, 0), 2,
                     np.zeros((3, 4), dtype=np.int64), np.array([[0, 1, 0, 1]] * 3),
                     np.array([[0, 1, 1, 0]] * 3),
                     np.array([[and_, and_, true], [and_, and_, BY_NAME["XOR"].id],
                               [and_, BY_NAME["FALSE"].id, and_]]))  # fmt: skip
    flat = FlattenLayer((2, 2, 3))
    n = enc.num_bits
    # a dense layer ANDs each kernel-0 output (always 1) with a kernel-1 output
    dense = LogicLayer(a=n + np.array([0, 3, 6, 9]), b=n + np.array([1, 4, 7, 10]),
                       op=np.full(4, and_))  # fmt: skip
    groups = [n + 12 + np.arange(4), n + np.array([2, 5, 8, 11])]
    net = Netlist(enc, [conv, flat, dense], GroupSum(groups)).validate()
    out, _ = run_passes(net, ["fold", "dce"])
    # kernel 0 is constant 1 and kernel 2 constant 0 (its root reads a FALSE gate): the
    # dense ANDs read kernel 1 alone and kernel 0 is gone; kernel 2 stays for the head
    k = out.layers[0]
    assert k.out_channels == 2
    assert k.op[1].tolist() == [0, 0, 0]  # kernel 2 made an explicit constant-0 tree
    raw = _raw(net, 300)
    assert np.array_equal(evaluate(out, raw).scores, evaluate(net, raw).scores)
    assert evaluate(out, raw).scores[:, 1].max() == 0


def test_unused_input_channels_are_dropped():
    # conv leaves read channel 1 only: channel 0 of the image goes, the encoder shrinks
    net = random_conv_netlist((5, 5, 2), [ConvSpec(3, (3, 3), depth=2)], [9, 3], 3, seed=4)
    conv = net.layers[0]
    conv.leaf_c[:] = 1
    out, _ = run_passes(net, ["dce"])
    assert out.layers[0].in_shape == (5, 5, 1) and out.num_inputs == 25
    assert out.layers[0].leaf_c.max() == 0
    raw = _raw(net, 200)
    assert np.array_equal(evaluate(out, raw).scores, evaluate(net, raw).scores)


def test_golden_is_fast_on_an_mnist_sized_conv():
    net = random_conv_netlist((28, 28, 2), [ConvSpec(64, (3, 3), (1, 1), (1, 1), 3)], [], 10,
                              seed=1)  # fmt: skip
    bits = np.random.default_rng(0).integers(0, 2, (10_000, net.num_inputs), dtype=np.uint8)
    tracemalloc.start()
    start = time.perf_counter()
    res = eval_bits(net, bits)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert res.scores.shape == (10_000, 10)
    assert seconds < 20, seconds
    assert peak < 1 << 30, peak


def test_parse_spatial():
    assert parse_spatial("conv:8,k=3x2,s=2,p=1,d=3") == ConvSpec(8, (3, 2), (2, 2), (1, 1), 3)
    assert parse_spatial("pool") == PoolSpec((2, 2), (2, 2))
    assert parse_spatial("pool:k=3,s=1") == PoolSpec((3, 3), (1, 1))
    for bad in ("conv", "conv:k=3", "pool:p=1", "dense:3", "conv:3,k=a"):
        with pytest.raises(ValueError):
            parse_spatial(bad)


def test_randnet_info_and_check_commands(tmp_path, capsys):
    path = tmp_path / "conv.json"
    assert cli.main(["randnet", "--image", "6,6,2", "--spatial", "conv:4,k=3,p=1,d=2",
                     "--spatial", "pool", "--widths", "12,6", "--classes", "2", "--seed", "3",
                     "--no-passes", "--out", str(path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "distinct gates" in out
    net = ir.load(path)
    assert net.version == 3 and [lay.kind for lay in net.layers][:3] == ["conv", "orpool",
                                                                         "flatten"]  # fmt: skip
    assert cli.main(["info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ir_version"] == 3
    assert info["distinct_gates"] == 4 * 3 + 18
    assert info["unrolled_gates"] == 36 * 4 * 3 + 9 * 4 * 3 + 18
    assert [s["kind"] for s in info["spatial_layers"]] == ["conv", "orpool", "flatten"]
    assert info["spatial_layers"][0]["out_shape"] == [6, 6, 4]
    assert info["spatial_layers"][1]["out_shape"] == [3, 3, 4]
    assert cli.main(["check", str(path)]) == 0
    assert "IR version 3" in capsys.readouterr().out
    for bad in (["--image", "6,6"], ["--image", "6,6,1", "--spatial", "conv:2,k=7"],
                ["--image", "6,6,1", "--inputs", "36"]):  # fmt: skip
        assert cli.main(["randnet", *bad, "--out", str(tmp_path / "x.json")]) != 0
        assert capsys.readouterr().err.count("\n") == 1
