"""The time-multiplexed engine under Verilator: every output bit of every sample equals
the golden model's, with the manifest's schedule (intervals and latencies) exact when
never stalled and nothing lost, duplicated or reordered under random input gaps and
output backpressure; random conv nets over shapes, strides, padding, tree depths and
pooling, and the simulated board with the host driver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.host import Board, prepare_sim_build
from gateflow.ir.golden import evaluate
from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist
from gateflow.verify.simulate import simulate

pytestmark = pytest.mark.sim


@st.composite
def conv_nets(draw):
    """1..3 spatial layers: kernels 1..4, strides 1..2, padding 0..2, depths 1..4, OR
    pooling 2x2/2, 3x3/1 or 2x1/1; then 0..2 dense layers."""
    shape = (draw(st.integers(2, 9)), draw(st.integers(2, 9)), draw(st.integers(1, 3)))
    image, specs = shape, []
    for _ in range(draw(st.integers(1, 3))):
        if specs and draw(st.booleans()):
            k, s = draw(st.sampled_from([((2, 2), (2, 2)), ((3, 3), (1, 1)), ((2, 1), (1, 1))]))
            spec = PoolSpec(k, s)
            out = ((shape[0] - k[0]) // s[0] + 1, (shape[1] - k[1]) // s[1] + 1, shape[2])
        else:
            k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
            s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
            spec = ConvSpec(draw(st.integers(1, 6)), k, s, p, draw(st.integers(1, 4)))
            out = (
                (shape[0] + 2 * p[0] - k[0]) // s[0] + 1,
                (shape[1] + 2 * p[1] - k[1]) // s[1] + 1,
                spec.channels,
            )
        if min(out) < 1:
            continue
        specs.append(spec)
        shape = out
    if not specs:
        specs, shape = [ConvSpec(2, (1, 1), (1, 1), (0, 0), 1)], (*shape[:2], 2)
    widths = draw(st.sampled_from([[], [12], [20, 9]]))
    kind = draw(st.sampled_from(["logic", "logic", "mixed"]))
    classes = 3
    return random_conv_netlist(image, specs, widths, classes, seed=draw(st.integers(0, 999)),
                               kind=kind)  # fmt: skip


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    net=conv_nets(),
    every=st.integers(0, 2),
    scores=st.booleans(),
    backpressure=st.booleans(),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_engine_equals_golden(tmp_path_factory, net, every, scores, backpressure, n, seed):
    work = tmp_path_factory.mktemp("engine")
    opts = CoreOptions(form="tm", pipeline_every=every, scores=scores, backpressure=backpressure)
    core = generate(net, work / "core", opts)
    bits = np.random.default_rng(seed).integers(0, 2, (n, net.num_inputs), dtype=np.uint8)
    report = simulate(core, net, bits, work / "sim", seed=seed % 1000 + 1)
    assert report.errors == []
    assert report.matched == {"full": n, "stalls": n}
    assert np.array_equal(report.hw_pred, report.golden.pred)
    if scores:
        assert np.array_equal(report.hw_scores, report.golden.scores)
    assert report.latency_measured == core.manifest["schedule"]["latency_cycles"][0]


def test_simulated_board_with_the_host_driver(tmp_path):
    """The engine behind the board's UART and framing: the host driver's results are the
    golden model's for every sample."""
    spec = [ConvSpec(8, (3, 3), (1, 1), (1, 1), 2), PoolSpec((2, 2), (2, 2))]
    net = random_conv_netlist((8, 8, 2), spec, [60, 30], 10, seed=7)
    net.save(tmp_path / "ir.json")
    build = prepare_sim_build(tmp_path / "ir.json", tmp_path / "board", form="tm")
    x = np.random.default_rng(2).integers(0, 17, (120, net.encoder.num_raw_features))
    with Board.open("sim", build=build) as board:
        assert board.manifest["form"] == "tm"
        res = board.infer(x)
    want = evaluate(net, x)
    assert np.array_equal(res.pred, want.pred) and np.array_equal(res.scores, want.scores)
