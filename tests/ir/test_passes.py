import subprocess
import sys

import numpy as np
import pytest

from gateflow.data.encoding import ThermometerEncoder
from gateflow.gates import BY_NAME
from gateflow.ir.golden import evaluate
from gateflow.ir.netlist import (
    MAX_WEIGHT,
    GroupSum,
    LogicLayer,
    Netlist,
    ThresholdLayer,
    load,
    validate,
)
from gateflow.ir.passes import OP_NOT_A, run_passes
from gateflow.ir.randnet import random_netlist


def _biased(seed, **kw):
    """Random netlists rich in constants, buffers and inverters, as trained networks are."""
    net = random_netlist(40, [120, 100, 80, 60], 4, seed=seed, num_raw_features=12, **kw)
    rng = np.random.default_rng(seed + 100)
    special = [BY_NAME[n].id for n in ("A", "B", "NOT_A", "NOT_B", "FALSE", "TRUE")]
    for layer in net.layers:
        mask = rng.random(layer.size) < 0.4
        layer.op[mask] = rng.choice(special, mask.sum())
    return net


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("passes", [["const"], ["fold"], ["dce"], ["const", "fold", "dce"]])
def test_passes_preserve_the_function(seed, passes):
    net = _biased(seed, skip_prob=0.2)
    raw = np.random.default_rng(seed).integers(0, 256, (500, 12))
    before = evaluate(net, raw)
    after_net, stats = run_passes(net, passes)
    after = evaluate(after_net, raw)
    assert np.array_equal(before.scores, after.scores)
    assert [s.name for s in stats] == passes
    assert stats[-1].gates_after == after_net.num_gates


def test_fold_and_dce_shrink_the_netlist():
    net = _biased(0)
    out, stats = run_passes(net, ["fold", "dce"])
    assert out.num_gates < net.num_gates
    # after folding, no surviving gate outside the head is a buffer, inverter or constant
    head = set(np.concatenate(out.head.groups).tolist())
    offsets = out.layer_offsets()
    for li, layer in enumerate(out.layers):
        for j, op in enumerate(layer.op):
            if offsets[li] + j not in head:
                assert op not in (3, 5, 10, 12, 0, 15)


def test_dce_removes_unread_inputs():
    net = random_netlist(50, [10, 4], 2, seed=5)
    out, stats = run_passes(net, ["dce"])
    assert out.num_inputs < net.num_inputs
    assert stats[0].inputs_before == 50 and stats[0].inputs_after == out.num_inputs


def test_unknown_pass():
    from gateflow.errors import GateflowError

    with pytest.raises(GateflowError, match="unknown pass"):
        run_passes(random_netlist(4, [2], 2), ["nope"])


# ---------------------------------------------------------------- weights at the bounds

BIG = MAX_WEIGHT - 1  # the largest weight the validator accepts


def _check_equivalent(net, out, seed=0, n=500):
    """Same scores on random raw inputs (dce may drop input bits, so compare on raw rows)."""
    raw = np.random.default_rng(seed).integers(0, 256, (n, net.encoder.num_raw_features))
    assert np.array_equal(evaluate(net, raw).scores, evaluate(out, raw).scores)


def _net_over_bits(layers, groups, num_bits=4):
    """A netlist over ``num_bits`` input bits, one raw feature each (bit i = raw[i] >= 128)."""
    enc = ThermometerEncoder(num_bits, np.arange(num_bits), np.full(num_bits, 128))
    return validate(Netlist(enc, layers, GroupSum([np.asarray(g) for g in groups])))


PASS_LISTS = [["const"], ["fold"], ["dce"], ["const", "fold", "dce"], ["fold", "dce"]]


@pytest.mark.parametrize("passes", PASS_LISTS)
def test_repeated_sources_whose_weights_sum_past_the_bound_stay_unmerged(passes):
    # neuron 0: 2 * BIG * x0 - 3 * x1 >= 5, with x0 read twice: merged, 2**32 - 2 would not fit
    thr = ThresholdLayer.from_neurons([([0, 0, 1], [BIG, BIG, -3]), ([2, 2], [BIG, BIG])], [5, 7])
    net = _net_over_bits([thr], [[4], [5]])
    out, _ = run_passes(net, passes)
    validate(out)
    _check_equivalent(net, out)
    for layer in out.layers:
        if isinstance(layer, ThresholdLayer):
            assert layer.weight.max() < MAX_WEIGHT and layer.weight.min() >= -MAX_WEIGHT


@pytest.mark.parametrize("passes", PASS_LISTS)
def test_an_inverter_whose_flipped_weight_would_not_fit_is_read_not_absorbed(passes):
    # signal 4 = NOT x0, signal 5 = NOT x1; neuron: -2**31 * s4 + 5 * x2 + 3 * s5 >= -2**31 + 4
    logic = LogicLayer(a=np.array([0, 1]), b=np.array([0, 1]), op=np.array([OP_NOT_A] * 2))
    thr = ThresholdLayer.from_neurons(
        [([4, 2, 5], [-MAX_WEIGHT, 5, 3]), ([4, 3], [-MAX_WEIGHT, 1])], [-MAX_WEIGHT + 4, 0]
    )
    net = _net_over_bits([logic, thr], [[6], [7]])
    out, _ = run_passes(net, passes)
    validate(out)
    _check_equivalent(net, out)
    if "fold" in passes:
        # the NOT of x1 (weight 3) is still absorbed, that of x0 (weight -2**31) is not
        thr_out = [layer for layer in out.layers if isinstance(layer, ThresholdLayer)][0]
        src, w = thr_out.neuron(0)
        assert -MAX_WEIGHT in w.tolist() and -3 in w.tolist()


def test_an_inverter_and_its_source_whose_weights_would_not_fit_merged():
    # x0 and NOT x0 with -2**31 each: absorbed and merged, 2**31 - 2**31 = 0 fits and drops
    # x1 read directly twice and through a NOT: BIG + BIG - (-2**31) would not fit
    logic = LogicLayer(a=np.array([0, 1]), b=np.array([0, 1]), op=np.array([OP_NOT_A] * 2))
    thr = ThresholdLayer.from_neurons(
        [([0, 4, 1, 1, 5, 2], [-MAX_WEIGHT, -MAX_WEIGHT, BIG, BIG, -MAX_WEIGHT, 7])], [3]
    )
    net = _net_over_bits([logic, thr], [[6]])
    for passes in PASS_LISTS:
        out, _ = run_passes(net, passes)
        validate(out)
        _check_equivalent(net, out)


@pytest.mark.parametrize("kind", ["integer", "mixed"])
@pytest.mark.parametrize("seed", range(8))
def test_passes_keep_wide_weights_valid_and_equivalent(kind, seed):
    net = random_netlist(
        12, [30, 30, 24], 4, seed=seed, kind=kind, weight_bits=31, fan_in=40, skip_prob=0.3
    )
    raw = np.random.default_rng(seed).integers(0, 256, (400, net.encoder.num_raw_features))
    before = evaluate(net, raw).scores
    for passes in (["const"], ["fold"], ["const", "fold", "dce"]):
        out, _ = run_passes(net, passes)
        validate(out)
        assert np.array_equal(evaluate(out, raw).scores, before)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gateflow.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_randnet_with_wide_weights_then_passes_then_check(tmp_path):
    raw_ir, out_ir, folded_ir = tmp_path / "raw.json", tmp_path / "out.json", tmp_path / "f.json"
    shape = ["--inputs", "16", "--widths", "30,30,30,20", "--classes", "4", "--kind", "mixed"]
    wide = ["--weight-bits", "31", "--fan-in", "40"]
    for seed in range(3):
        common = ["randnet", *shape, *wide, "--seed", str(seed)]
        r = _cli(*common, "--no-passes", "--out", str(raw_ir))
        assert r.returncode == 0, r.stderr
        r = _cli("passes", str(raw_ir), "--passes", "const,fold,dce", "--out", str(out_ir))
        assert r.returncode == 0, r.stderr
        r = _cli("check", str(out_ir))
        assert r.returncode == 0, r.stderr
        _check_equivalent(load(raw_ir), load(out_ir), seed)
        r = _cli(*common, "--out", str(folded_ir))  # randnet runs fold,dce itself
        assert r.returncode == 0, r.stderr
        assert _cli("check", str(folded_ir)).returncode == 0
