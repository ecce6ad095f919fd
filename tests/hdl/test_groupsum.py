"""The serial GroupSum of dense cores (gateflow.hdl.groupsum), without simulation: its
schedule, the manifest, the refusals, the board design's frame check, the estimate and
the boards' default. (Verilator runs: tests/verify/test_core_sim.py and
test_property_sim.py; the RTL alone: tests/verify/test_rtl_library.py.)"""

from __future__ import annotations

import pytest

from gateflow import cli
from gateflow.errors import GateflowError
from gateflow.fpga.bitstream import BuildOptions
from gateflow.fpga.boards import load_board
from gateflow.fpga.estimate import estimate_luts
from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
from gateflow.hdl.groupsum import SerialTail, serial_schedule
from gateflow.ir.randnet import random_netlist


def test_schedule_of_an_unregistered_network_is_one_sample_per_count():
    t = serial_schedule(SerialTail(net_stages=0, group=30, bits_per_cycle=1))
    assert t == {"settle_cycles": 0, "latency_cycles": [31], "interval_cycles": [31]}
    t = serial_schedule(SerialTail(net_stages=0, group=30, bits_per_cycle=4))
    assert t["interval_cycles"] == [9] and t["latency_cycles"] == [9]  # ceil(30/4) + 1


def test_schedule_fills_the_network_while_the_groupsum_counts():
    t = serial_schedule(SerialTail(net_stages=3, group=10, bits_per_cycle=1), images=10)
    # the first samples enter one per clock until the network holds three and the
    # GroupSum one; from then on one every 11 clocks
    assert t["interval_cycles"][0] == 1 and t["interval_cycles"][-1] == 11
    assert t["latency_cycles"][0] == 3 + 10 + 1
    assert max(t["latency_cycles"]) == t["latency_cycles"][-1] > t["latency_cycles"][0]


def test_manifest_of_a_serial_core(tmp_path):
    net = random_netlist(20, [40, 30], 3, seed=1)
    core = generate(net, tmp_path, CoreOptions(pipeline_every=0, groupsum="serial"))
    m = core.manifest
    assert m["groupsum"] == {"form": "serial", "bits_per_cycle": 1, "cycles": 10, "group": 10}
    assert m["cycles_per_sample"] == 11 and m["latency_cycles"] == 11
    assert m["throughput_samples_per_cycle"] == pytest.approx(1 / 11)
    assert m["schedule"]["interval_cycles"] == [11]
    assert "gf_serial_groupsum.sv" in m["files"] and "form" not in m
    tree = generate(net, tmp_path / "tree", CoreOptions(pipeline_every=0))
    assert "groupsum" not in tree.manifest and "gf_serial_groupsum.sv" not in tree.manifest["files"]


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        (CoreOptions(groupsum="serial", popcount_every=1), "over several clocks"),
        (CoreOptions(groupsum="serial", argmax_every=1), "over several clocks"),
        (CoreOptions(groupsum="serial", form="tm", argmax_every=1), "over several clocks"),
        (CoreOptions(groupsum="tree", form="tm"), "goes with the spatial form"),
        (CoreOptions(groupsum="fast"), "must be one of tree, serial"),
    ],
)
def test_refusals(opts, match):
    with pytest.raises(GateflowError, match=match):
        opts.check()


def test_gen_refuses_bad_combinations_in_one_line(tmp_path, capsys):
    path = tmp_path / "ir.json"
    random_netlist(20, [10, 4], 2).save(path)
    rc = cli.main(["gen", str(path), "--groupsum", "serial", "--popcount-every", "1",
                   "--out", str(tmp_path / "c")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0 and "several clocks" in err and len(err.strip().splitlines()) == 1


def test_board_design_needs_a_frame_longer_than_a_sample(tmp_path):
    # 3 input bits: one payload byte, 10 bit periods of 4 clocks; a group of 60 bits
    # needs 61 clocks per sample
    net = random_netlist(3, [20, 120], 2, seed=3)
    core = generate(net, tmp_path, CoreOptions(groupsum="serial"))
    with pytest.raises(GateflowError, match=r"needs 61 cycles per sample.*--groupsum tree"):
        generate_board(core, BoardOptions(clk_hz=4 * 115_200, baud=115_200))
    generate_board(core, BoardOptions(clk_hz=8 * 115_200, baud=115_200))  # 80 clocks


def test_estimate_prices_the_serial_groupsum_below_the_trees():
    net = random_netlist(64, [400, 300], 3, seed=2)
    tree = estimate_luts(net, "ice40", 0)
    serial = estimate_luts(net, "ice40", 0, groupsum="serial")
    assert serial["parts"]["popcount"] < 0.7 * tree["parts"]["popcount"]
    assert serial["parts"]["gates"] < tree["parts"]["gates"]  # the last layer shares LUT4s
    assert serial["parts"]["argmax"] == tree["parts"]["argmax"]


def test_boards_default_groupsum():
    ice, ulx = load_board("icebreaker"), load_board("ulx3s")
    dense = random_netlist(20, [10, 4], 2)
    assert BuildOptions().for_board(ice, dense).groupsum == ice.groupsum == "serial"
    assert BuildOptions().for_board(ulx, dense).groupsum == ulx.groupsum == "tree"
    assert BuildOptions(groupsum="tree").for_board(ice, dense).groupsum == "tree"
    assert BuildOptions(form="tm").for_board(ulx, dense).groupsum == "serial"
