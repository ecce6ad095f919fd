"""The sequential core (--form seq) under Verilator, bit-exact against the golden model:
never stalled (a sample every cycles_per_sample clocks, the manifest's latency) and
with random input gaps and output backpressure; its generated sources lint clean; and
behind the simulated board, through the host driver."""

from pathlib import Path

import numpy as np
import pytest

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.netlist import validate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist, random_netlist
from gateflow.verify.runner import verilator_lint
from gateflow.verify.simulate import simulate

pytestmark = pytest.mark.sim

# a conv layer with padding and an OR pooling layer over a 6 x 6 x 2 image
CONV_POOL = [ConvSpec(4, (3, 3), (1, 1), (1, 1), 2), PoolSpec((2, 2), (2, 2))]


def _check(report, core, n):
    assert report.errors == []
    assert report.matched == {"full": n, "stalls": n}
    assert np.array_equal(report.hw_pred, report.golden.pred)
    assert (
        np.array_equal(report.hw_scores, report.golden.scores)
        or not core.manifest["output"]["scores"]
    )
    assert report.latency_measured == core.manifest["latency_cycles"]


@pytest.mark.parametrize(
    "inputs, widths, classes, skip, scores",
    [
        (64, [200, 150, 100], 10, 0.3, True),  # the input fills whole words
        (37, [50, 41, 30], 3, 0.5, False),  # partial words everywhere
        (5, [14], 7, 0.0, True),  # one layer, one input word
    ],
)
def test_random_netlists(tmp_path, inputs, widths, classes, skip, scores):
    net, _ = run_passes(random_netlist(inputs, widths, classes, seed=inputs, skip_prob=skip))
    core = generate(net, tmp_path / "core", CoreOptions(form="seq", scores=scores))
    assert verilator_lint(core.files, toplevel=core.top) == ""
    bits = np.random.default_rng(inputs).integers(0, 2, (150, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=3)
    _check(report, core, len(bits))


def test_groups_of_any_signals_and_a_conv_netlist(tmp_path):
    """Groups over input bits, earlier layers and repeated signals; then a conv netlist,
    which the sequential core runs as its lowered gates."""
    net = random_netlist(20, [30, 24], 3, seed=5, skip_prob=0.3)
    last = net.layer_offsets()[-2]
    net.head.groups = [
        np.array([0, 3, last + 1, last + 1, 25], dtype=np.int64),
        np.array([last + 2], dtype=np.int64),
        np.arange(last, last + 24, dtype=np.int64),
    ]
    validate(net)
    conv = random_conv_netlist((6, 6, 2), CONV_POOL, [40, 20], 4, seed=3)
    for name, n in (("groups", net), ("conv", conv)):
        core = generate(n, tmp_path / name, CoreOptions(form="seq"))
        bits = np.random.default_rng(1).integers(0, 2, (80, n.num_inputs)).astype(np.uint8)
        report = simulate(core, n, bits, tmp_path / f"sim-{name}", seed=5)
        _check(report, core, len(bits))


def test_host_driver_with_a_sequential_core(tmp_path: Path) -> None:
    """The sequential core behind the simulated board: the host driver's classes and
    scores are the golden model's for every sample."""
    from gateflow.host import Board, prepare_sim_build
    from gateflow.ir.golden import evaluate

    net, _ = run_passes(random_netlist(30, [80, 50], 5, seed=9))
    net.save(tmp_path / "ir.json")
    build = prepare_sim_build(tmp_path / "ir.json", tmp_path / "board", form="seq")
    x = np.random.default_rng(3).integers(0, 2, (150, net.encoder.num_raw_features))
    with Board.open("sim", build=build) as board:
        assert board.manifest["form"] == "seq"
        res = board.infer(x)
    want = evaluate(net, x)
    assert np.array_equal(res.pred, want.pred) and np.array_equal(res.scores, want.scores)


@pytest.mark.parametrize(
    "image, spatial, widths, classes",
    [
        ((6, 6, 2), CONV_POOL, [40, 20], 4),
        ((8, 8, 2), [ConvSpec(8, (3, 3), (2, 2), (1, 1), 3), ConvSpec(36, (2, 2), depth=1)],
         [50], 5),
    ],
)  # fmt: skip
def test_engine_with_a_sequential_tail(tmp_path, image, spatial, widths, classes):
    """The time-multiplexed engine feeding its last map word by word into the sequential
    tail (one word per position, or three for 36 channels): bit-exact, the manifest's
    schedule exact clock for clock, and under stalls."""
    net = random_conv_netlist(image, spatial, widths, classes, seed=len(spatial))
    core = generate(net, tmp_path / "core", CoreOptions(form="tm", tail="seq"))
    bits = np.random.default_rng(2).integers(0, 2, (60, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=4)
    assert report.errors == []
    assert report.matched == {"full": len(bits), "stalls": len(bits)}
    assert np.array_equal(report.hw_scores, report.golden.scores)
    assert report.latency_measured == core.manifest["schedule"]["latency_cycles"][0]
