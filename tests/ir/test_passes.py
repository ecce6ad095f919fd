import numpy as np
import pytest

from gateflow.gates import BY_NAME
from gateflow.ir.golden import evaluate
from gateflow.ir.passes import run_passes
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
