"""The time-multiplexed engine's generator, without simulation: what it refuses, the
dense tail it splits off (the same function as the netlist), its cycle schedule, the
manifest, the LUT estimate and the board options that choose it. (Verilator runs:
tests/verify/test_engine_sim.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gateflow import cli
from gateflow.errors import GateflowError
from gateflow.fpga.bitstream import BuildOptions
from gateflow.fpga.boards import load_board
from gateflow.fpga.estimate import estimate_luts
from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
from gateflow.hdl.engine import (
    EngineError,
    periodic,
    schedule,
    serial_groupsum,
    stages,
    tail_netlist,
)
from gateflow.hdl.groupsum import bits_per_cycle
from gateflow.ir.golden import eval_bits, eval_signals, pack_bits, unpack_bits
from gateflow.ir.randnet import parse_spatial, random_conv_netlist, random_netlist


def _net(spec="conv:4,k=3,p=1,d=2;pool", image=(8, 8, 2), widths=(40, 20), seed=0, **kw):
    layers = [parse_spatial(s) for s in spec.split(";")]
    return random_conv_netlist(image, layers, list(widths), 5, seed=seed, **kw)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["logic", "mixed"])
def test_tail_computes_the_head_from_the_flattened_map(seed, kind):
    net = _net("conv:3,k=3,s=2,d=3;conv:5,k=2,p=1,d=1;pool:k=2,s=1", (9, 7, 1), seed=seed,
               kind=kind)  # fmt: skip
    tail = tail_netlist(net)
    _, flatten, fi = stages(net)
    bits = np.random.default_rng(seed).integers(0, 2, (300, net.num_inputs), dtype=np.uint8)
    sig = eval_signals(net, pack_bits(bits))
    first = net.layer_offsets()[fi]
    feat = unpack_bits(sig[first : first + flatten.size], len(bits))
    assert tail.num_inputs == flatten.size
    got, want = eval_bits(tail, feat), eval_bits(net, bits)
    assert np.array_equal(got.scores, want.scores) and np.array_equal(got.pred, want.pred)


def test_refusals_are_one_line():
    with pytest.raises(EngineError, match="has none"):
        stages(random_netlist(20, [10, 4], 2))
    reads_inputs = _net(skip_prob=1.0, seed=3)
    with pytest.raises(EngineError, match="reads the input bits past the conv layers"):
        tail_netlist(reads_inputs)
    with pytest.raises(EngineError, match="has none"):
        generate(random_netlist(20, [10, 4], 2), "unused", CoreOptions(form="tm"))
    for opts in (CoreOptions(form="tm", popcount_every=1), CoreOptions(form="tm", argmax_every=2)):
        with pytest.raises(GateflowError, match="counts the classes over several clocks"):
            generate(_net(), "unused", opts)


def test_gen_command_refuses_a_dense_netlist_with_one_line(tmp_path, capsys):
    path = tmp_path / "dense.json"
    random_netlist(20, [10, 4], 2).save(path)
    rc = cli.main(["gen", str(path), "--form", "tm", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err
    assert "time-multiplexed form streams conv layers" in err and len(err.strip().splitlines()) == 1


def test_schedule_is_periodic_and_bounded_by_the_first_stage():
    net = _net()
    st, _, _ = stages(net)
    timing = schedule(st, 4, images=8)
    # the first stage walks 10 x 10 padded positions per sample: the steady interval
    assert timing["intervals"][-3:] == [100, 100, 100]
    assert timing["settle"] == 11  # the top padding row and the first padding column
    p = periodic(timing)
    assert p["interval_cycles"][-1] == 100 and len(p["latency_cycles"]) <= 3
    assert max(p["latency_cycles"]) == max(timing["latencies"])
    with pytest.raises(EngineError, match="did not settle"):
        periodic({"settle": 0, "latencies": [5, 6], "intervals": [1, 2]})


def test_manifest_states_form_schedule_and_stages(tmp_path):
    net = _net()
    core = generate(net, tmp_path, CoreOptions(form="tm", pipeline_every=0))
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m == core.manifest
    assert m["form"] == "tm" and m["cycles_per_sample"] == 100
    assert m["throughput_samples_per_cycle"] == pytest.approx(0.01)
    assert m["latency_cycles"] == max(m["schedule"]["latency_cycles"])
    assert m["input"]["width"] == net.num_inputs == 128
    assert m["input"]["encoder"] == net.encoder.to_dict()
    assert [s["kind"] for s in m["engine"]["stages"]] == ["conv", "orpool"]
    assert m["engine"]["features"] == 4 * 4 * 4
    assert m["files"][-1] == "gf_core.sv" and "gf_window.sv" in m["files"]
    assert "gf_serial_groupsum.sv" in m["files"] and "gf_popcount.sv" in m["files"]
    # the serial GroupSum counts each sample before the next one reaches it
    gs = m["engine"]["groupsum"]
    assert gs["group"] == max(len(g) for g in tail_netlist(net).head.groups)
    assert gs["cycles"] == -(-gs["group"] // gs["bits_per_cycle"])
    assert gs["cycles"] + 1 <= m["cycles_per_sample"]
    for name in m["files"]:
        assert (tmp_path / name).is_file()
    # the same IR and options give the same bytes
    again = generate(net, tmp_path / "again", CoreOptions(form="tm", pipeline_every=0))
    for a, b in zip(core.files, again.files):
        assert a.read_bytes() == b.read_bytes()


def test_board_design_needs_a_frame_longer_than_a_sample(tmp_path):
    net = _net()
    core = generate(net, tmp_path, CoreOptions(form="tm"))
    # 16 payload bytes take 160 bit periods: 100 cycles per sample fit at 4 clocks a bit
    generate_board(core, BoardOptions(clk_hz=4 * 115_200, baud=115_200))
    # a 2x2 map padded by 4: 100 positions, one payload byte of 40 clocks
    core = generate(_net(image=(2, 2, 1), spec="conv:2,k=3,p=4,d=1"), tmp_path / "big",
                    CoreOptions(form="tm"))  # fmt: skip
    with pytest.raises(Exception, match="cycles per sample"):
        generate_board(core, BoardOptions(clk_hz=4 * 115_200, baud=115_200))


def test_board_conv_form_and_build_options():
    ice, ulx = load_board("icebreaker"), load_board("ulx3s")
    conv, dense = _net(), random_netlist(20, [10, 4], 2)
    assert ice.conv_form == "tm" and ulx.conv_form == "spatial"
    assert BuildOptions().for_board(ice, conv).form == "tm"
    assert BuildOptions().for_board(ice, dense).form == "seq"  # dense_form (docs/seq.md)
    assert BuildOptions().for_board(ulx, conv).form == "spatial"
    assert BuildOptions(form="spatial").for_board(ice, conv).form == "spatial"


def test_estimate_of_the_engine_prices_trees_once():
    net = _net("conv:16,k=3,p=1,d=3;pool", (16, 16, 2), widths=(60, 30))
    spatial = estimate_luts(net, "ice40", 0)
    tm = estimate_luts(net, "ice40", 0, form="tm")
    assert "engine" in tm["parts"] and "engine" not in spatial["parts"]
    trees = 16 * 7  # distinct gates, an upper bound on the trees' priced gates
    assert tm["parts"]["gates"] <= trees + tail_netlist(net).num_gates
    assert tm["parts"]["gates"] < spatial["parts"]["gates"] / 4
    assert tm["core_luts"] == sum(v for k, v in tm["parts"].items() if k != "board")


@pytest.mark.parametrize(("group", "gap"), [(1, 1), (73, 100), (100, 100), (100, 20), (9, 2)])
def test_serial_groupsum_counts_a_group_within_the_gap(group, gap):
    k = bits_per_cycle(group, gap)
    steps = -(-group // k)
    assert steps + 1 <= max(gap, 2)  # counted and handed on before the next sample
    assert k == 1 or -(-group // (k - 1)) + 1 > gap  # and no more bits per clock than that


def test_estimate_of_the_engine_prices_a_serial_groupsum():
    net = _net("conv:16,k=3,p=1,d=3;pool", (16, 16, 2), widths=(60, 200))
    tail = tail_netlist(net)
    tm = estimate_luts(net, "ice40", 0, form="tm")
    dense = estimate_luts(tail, "ice40", 0)  # the same tail with popcount trees
    gs = serial_groupsum(tail, stages(net)[0])
    assert gs.bits_per_cycle == 1  # 324 cycles per sample for 40 bits per class
    # a tree of adders per class against a shift register, a count and one adder
    assert tm["parts"]["popcount"] < dense["parts"]["popcount"] * 0.8
    # the last layer's grouped gates share the shift register's LUT4s
    assert tm["parts"]["gates"] < dense["parts"]["gates"] + 16 * 7
