"""Property-based bit-exactness on random netlists: golden model == Verilator (every
output bit, both streaming modes) and golden model == torch eval."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.golden import evaluate
from gateflow.ir.randnet import random_netlist
from gateflow.nn import LogicNet
from gateflow.train.flow import torch_eval
from gateflow.verify.simulate import simulate


@st.composite
def netlists(draw, skip=True, kinds=("logic", "binary", "integer", "mixed")):
    classes = draw(st.integers(1, 5))
    depth = draw(st.integers(1, 4))
    widths = [draw(st.integers(4, 60)) for _ in range(depth - 1)]
    widths.append(classes * draw(st.integers(1, 12)))
    skip_prob = draw(st.sampled_from([0.0, 0.3, 0.8])) if skip else 0.0
    inputs = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**16))
    kind = draw(st.sampled_from(kinds))
    fan_in = draw(st.integers(0, 12))
    bits = draw(st.integers(1, 8))
    return random_netlist(
        inputs, widths, classes, seed=seed, skip_prob=skip_prob, kind=kind, fan_in=fan_in,
        weight_bits=bits,
    )  # fmt: skip


@pytest.mark.sim
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    net=netlists(),
    every=st.integers(0, 3),
    scores=st.booleans(),
    groupsum=st.sampled_from(["tree", "serial"]),
    n=st.integers(1, 150),
    seed=st.integers(0, 2**16),
)
def test_golden_equals_verilator(tmp_path_factory, net, every, scores, groupsum, n, seed):
    work = tmp_path_factory.mktemp("prop")
    opts = CoreOptions(pipeline_every=every, scores=scores, groupsum=groupsum)
    core = generate(net, work / "core", opts)
    bits = np.random.default_rng(seed).integers(0, 2, (n, net.num_inputs), dtype=np.uint8)
    report = simulate(core, net, bits, work / "sim", seed=seed % 1000 + 1)
    assert report.errors == []
    assert report.matched == {"full": n, "stalls": n}
    assert np.array_equal(report.hw_pred, report.golden.pred)
    if scores:
        assert np.array_equal(report.hw_scores, report.golden.scores)
    # the first sample's latency (a serial GroupSum's later ones may be longer: its
    # network fills while it counts, manifest "schedule")
    first = core.manifest.get("schedule", {}).get(
        "latency_cycles", [core.manifest["latency_cycles"]]
    )
    assert report.latency_measured == first[0]


def logicnet_of(net) -> LogicNet:
    """A torch LogicNet computing ``net`` (layers reading only the previous layer, the head
    splitting the last layer evenly): wiring copied, each gate's logit one-hot."""
    widths = [layer.size for layer in net.layers]
    model = LogicNet(net.encoder, widths, net.num_classes, seed=0)
    prev = 0
    offsets = net.layer_offsets()
    with torch.no_grad():
        for li, (layer, tl) in enumerate(zip(net.layers, model.layers)):
            assert layer.a.min() >= prev and layer.b.min() >= prev, "reads beyond the last layer"
            tl.a.copy_(torch.as_tensor(layer.a - prev))
            tl.b.copy_(torch.as_tensor(layer.b - prev))
            logits = torch.zeros_like(tl.logits)
            logits[torch.arange(layer.size), torch.as_tensor(layer.op)] = 1.0
            tl.logits.copy_(logits)
            prev = offsets[li]
    return model.eval()


@settings(max_examples=25, deadline=None, database=None)
@given(
    net=netlists(skip=False, kinds=("logic",)), n=st.integers(1, 300), seed=st.integers(0, 2**16)
)
def test_golden_equals_torch_eval(net, n, seed):
    model = logicnet_of(net)
    raw = np.random.default_rng(seed).integers(0, 256, (n, net.encoder.num_raw_features))
    golden = evaluate(net, raw)
    scores, pred = torch_eval(model, raw)
    assert np.array_equal(scores, golden.scores)
    assert np.array_equal(pred, golden.pred)
    # and the model's own gates are the IR's
    for layer, tl in zip(net.layers, model.layers):
        assert np.array_equal(tl.ops().numpy(), layer.op)
