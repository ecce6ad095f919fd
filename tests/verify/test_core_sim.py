"""Generated cores under Verilator, bit-exact against the golden model.

Each case streams its samples twice: never stalled (one sample per clock at the
manifest's latency) and with random input gaps and output backpressure.
"""

import numpy as np
import pytest

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.verify.simulate import simulate

pytestmark = pytest.mark.sim


def _check(report, n):
    assert report.errors == []
    assert report.matched == {"full": n, "stalls": n}
    assert np.array_equal(report.hw_pred, report.golden.pred)
    assert report.bit_exact == n


@pytest.mark.parametrize(
    "inputs, widths, classes, every, pop, scores, skip, bp",
    [
        (16, [40, 30], 2, 0, 0, True, 0.0, True),
        (64, [200, 150, 100], 10, 1, 1, True, 0.3, True),
        (33, [90, 90, 90, 90, 60], 3, 2, 2, False, 0.5, True),
        (8, [24, 12], 1, 1, 3, True, 0.0, True),
        (64, [200, 150, 100], 10, 1, 1, True, 0.3, False),
    ],
)
def test_random_netlists(tmp_path, inputs, widths, classes, every, pop, scores, skip, bp):
    net, _ = run_passes(random_netlist(inputs, widths, classes, seed=len(widths), skip_prob=skip))
    opts = CoreOptions(
        pipeline_every=every, popcount_every=pop, argmax_every=pop, scores=scores, backpressure=bp
    )
    core = generate(net, tmp_path / "core", opts)
    bits = np.random.default_rng(every).integers(0, 2, (400, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=every + 1)
    _check(report, len(bits))
    assert report.latency_measured == core.manifest["latency_cycles"]


@pytest.mark.parametrize(
    "kind, every, bp", [("binary", 1, True), ("integer", 2, False), ("mixed", 0, True)]
)
def test_random_threshold_netlists(tmp_path, kind, every, bp):
    raw = random_netlist(48, [120, 80, 60], 6, seed=7, skip_prob=0.3, kind=kind, fan_in=16,
                         weight_bits=6)  # fmt: skip
    net, _ = run_passes(raw)
    opts = CoreOptions(pipeline_every=every, popcount_every=1, backpressure=bp)
    core = generate(net, tmp_path / "core", opts)
    bits = np.random.default_rng(every).integers(0, 2, (400, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=every + 1)
    _check(report, len(bits))
    assert report.latency_measured == core.manifest["latency_cycles"]


def test_a_wrong_expectation_is_caught(tmp_path, monkeypatch):
    """The bench must fail when the RTL and the model disagree: corrupt one expected word."""
    import gateflow.verify.simulate as simulate_mod

    net, _ = run_passes(random_netlist(16, [40, 20], 2, seed=1))
    core = generate(net, tmp_path / "core", CoreOptions())
    real = simulate_mod.pack_outputs

    def corrupted(*args):
        words = real(*args)
        words[5] ^= 1
        return words

    monkeypatch.setattr(simulate_mod, "pack_outputs", corrupted)
    bits = np.random.default_rng(0).integers(0, 2, (50, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim")
    assert not report.ok
    assert report.matched == {"full": 49, "stalls": 49}


@pytest.mark.slow
@pytest.mark.parametrize("seed, every, pop", [(11, 1, 0), (12, 2, 2), (13, 0, 1)])
def test_large_random_netlists(tmp_path, seed, every, pop):
    net, _ = run_passes(random_netlist(256, [6000, 5000, 4000, 3000], 10, seed=seed))
    assert net.num_gates >= 5000
    opts = CoreOptions(pipeline_every=every, popcount_every=pop, argmax_every=pop)
    core = generate(net, tmp_path / "core", opts)
    bits = np.random.default_rng(seed).integers(0, 2, (300, net.num_inputs)).astype(np.uint8)
    _check(simulate(core, net, bits, tmp_path / "sim", seed=seed), len(bits))


@pytest.mark.parametrize("every, bp", [(1, True), (2, False)])
def test_random_conv_netlists(tmp_path, every, bp):
    from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist

    spatial = [ConvSpec(4, (3, 3), (1, 1), (1, 1), 3), PoolSpec(), ConvSpec(4, (2, 2), depth=2)]
    net, _ = run_passes(random_conv_netlist((8, 8, 2), spatial, [40, 20], 4, seed=every,
                                            skip_prob=0.2))  # fmt: skip
    assert net.has_spatial
    core = generate(net, tmp_path / "core", CoreOptions(pipeline_every=every, backpressure=bp))
    bits = np.random.default_rng(every).integers(0, 2, (300, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=every + 1)
    _check(report, len(bits))
    assert report.latency_measured == core.manifest["latency_cycles"]


@pytest.mark.parametrize(
    "every, sizes, scores, bp",
    [(0, (7, 1, 12), True, True), (2, (5, 9, 9, 2), False, False), (1, (16,), True, True)],
)
def test_serial_groupsum_with_uneven_groups(tmp_path, every, sizes, scores, bp):
    """A dense core counting one bit of every class per clock: groups of different sizes
    (zero-padded in the RTL), registered and unregistered networks, the manifest's
    schedule exact (the network's stages fill while the GroupSum counts)."""
    from gateflow.ir.netlist import validate

    net = random_netlist(24, [60, 36], len(sizes), seed=every, skip_prob=0.3)
    last = net.layer_offsets()[-2]
    rng = np.random.default_rng(every)
    net.head.groups = [last + rng.choice(36, k, replace=False) for k in sizes]
    validate(net)
    opts = CoreOptions(pipeline_every=every, scores=scores, backpressure=bp, groupsum="serial")
    core = generate(net, tmp_path / "core", opts)
    assert core.manifest["groupsum"] == {
        "form": "serial", "bits_per_cycle": 1, "cycles": max(sizes), "group": max(sizes),
    }  # fmt: skip
    assert core.manifest["cycles_per_sample"] == max(sizes) + 1
    bits = rng.integers(0, 2, (120, net.num_inputs)).astype(np.uint8)
    report = simulate(core, net, bits, tmp_path / "sim", seed=every + 3)
    _check(report, len(bits))
    assert np.array_equal(report.hw_scores, report.golden.scores) or not scores
    assert report.latency_measured == core.manifest["schedule"]["latency_cycles"][0]
