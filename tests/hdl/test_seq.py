"""The sequential core's compiler (gateflow.hdl.seq), without simulation: the program
run as the RTL runs it against the golden model, the layout, the timing, the manifest,
the refusals, the block RAM estimate and the boards' default. (Verilator runs:
tests/verify/test_seq_sim.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from gateflow.errors import GateflowError
from gateflow.fpga.bitstream import BuildOptions
from gateflow.fpga.boards import load_board
from gateflow.fpga.estimate import FitError, estimate_luts, fit_check
from gateflow.fpga.families import FAMILIES
from gateflow.hdl import seq
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.golden import eval_bits
from gateflow.ir.lower import for_hardware
from gateflow.ir.netlist import validate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist, random_netlist

# a conv layer with padding and an OR pooling layer over a 6 x 6 x 2 image
CONV_POOL = [ConvSpec(4, (3, 3), (1, 1), (1, 1), 2), PoolSpec((2, 2), (2, 2))]


def _bits(net, n=300, seed=0):
    return np.random.default_rng(seed).integers(0, 2, (n, net.num_inputs)).astype(np.uint8)


@pytest.mark.parametrize(
    "inputs, widths, classes, skip, passes",
    [
        (16, [40, 30], 2, 0.0, False),
        (37, [50, 40, 30], 3, 0.3, True),
        (64, [200, 150, 100], 10, 0.5, True),
        (5, [7], 7, 0.0, False),  # one layer: every gate is evaluated where it is counted
        (100, [33, 17, 64], 4, 0.4, True),  # layers that do not fill their last word
    ],
)
def test_program_scores_every_sample_as_the_golden_model(inputs, widths, classes, skip, passes):
    net = random_netlist(inputs, widths, classes, seed=len(widths), skip_prob=skip)
    if passes:
        net, _ = run_passes(net)
    program = seq.compile_program(for_hardware(net))
    bits = _bits(net)
    assert np.array_equal(seq.run_program(program, bits), eval_bits(net, bits).scores)


def test_groups_of_any_signals():
    """Groups that read input bits, earlier layers, or one signal twice."""
    net = random_netlist(20, [30, 24], 3, seed=5, skip_prob=0.3)
    last = net.layer_offsets()[-2]
    net.head.groups = [
        np.array([0, 3, last + 1, last + 1, 25], dtype=np.int64),  # inputs, a repeat, layer 0
        np.array([last + 2], dtype=np.int64),
        np.arange(last, last + 24, dtype=np.int64),
    ]
    validate(net)
    program = seq.compile_program(net)
    bits = _bits(net)
    want = eval_bits(net, bits).scores
    assert np.array_equal(seq.run_program(program, bits), want)
    # counting a stored signal passes it through a gate; the last layer is never stored
    kinds = program.kind.tolist()
    assert kinds.count(seq.COUNT_END) == 3 and kinds[-1] == seq.COUNT_END
    assert kinds.count(seq.WRITE_END) == 1 and kinds.count(seq.NOP) == 1


def test_a_lowered_conv_netlist():
    net = random_conv_netlist((6, 6, 2), CONV_POOL, [40, 20], 4, seed=3)
    bits = _bits(net, 100)
    program = seq.compile_program(for_hardware(net))
    assert np.array_equal(seq.run_program(program, bits), eval_bits(net, bits).scores)


def test_layout_and_timing():
    net = random_netlist(37, [50, 40, 30], 3, seed=1)
    program = seq.compile_program(net)
    # 3 input words; layers of 50 and 40 gates take 4 and 3 words; 30 counted gates
    assert (program.in_words, program.words) == (3, 3 + 4 + 3)
    assert program.size == 50 + 1 + 40 + 1 + 30
    assert program.addr_width == 8 and program.width == 7 + 16
    assert seq.timing(program) == {"latency": program.size + 3, "interval": program.size + 6}
    assert seq.rom_depth(program) == 128  # padded to whole block RAMs


def test_manifest(tmp_path):
    net = random_netlist(37, [50, 40, 30], 3, seed=1)
    core = generate(net, tmp_path, CoreOptions(form="seq", scores=False))
    m = core.manifest
    program = seq.compile_program(for_hardware(net))
    assert m["form"] == "seq" and m["files"] == ["gf_gate_seq.sv", "gf_core_rom.sv", "gf_core.sv"]
    assert m["latency_cycles"] == program.size + 3
    assert m["cycles_per_sample"] == program.size + 6
    assert m["schedule"] == {
        "latency_cycles": [program.size + 3],
        "interval_cycles": [program.size + 6],
        "settle_cycles": 0,
    }
    assert m["seq"]["instructions"] == program.size and m["output"]["width"] == 2
    assert "pipeline_every" not in m and m["backpressure"] is True
    text = (tmp_path / "gf_core_rom.sv").read_text()
    assert "rom [128]" in text and f"rom[{program.size - 1}] = " in text


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        (CoreOptions(form="seq", groupsum="tree"), "sequential core counts the classes serially"),
        (CoreOptions(form="seq", popcount_every=1), "over several clocks"),
        (CoreOptions(form="seq", argmax_every=2), "over several clocks"),
        (CoreOptions(form="serial"), "form must be one of spatial, tm, seq"),
    ],
)
def test_refusals(opts, match):
    with pytest.raises(GateflowError, match=match):
        opts.check()


def test_threshold_layers_are_refused(tmp_path):
    net = random_netlist(20, [30, 12], 3, seed=2, kind="binary")
    with pytest.raises(seq.SeqError, match=r"layers\[0\] is a threshold layer.*two-input gates"):
        generate(net, tmp_path, CoreOptions(form="seq"))


def test_block_rams_of_the_family():
    ice, ecp5 = FAMILIES["ice40"], FAMILIES["ecp5"]
    assert ice.brams(2048, 27) == 14 and ice.brams(256, 16) == 1 and ice.brams(45, 16) == 1
    assert ecp5.brams(2048, 27) == 3 and ecp5.brams(16384, 1) == 1


def test_estimate_and_fit_check():
    small = random_netlist(128, [600, 1000], 10, seed=1)
    est = estimate_luts(small, load_board("icebreaker"), form="seq")
    # the LUTs are the sequential core's and the board's, whatever the gates
    assert set(est["parts"]) == {"seq", "board"} and est["core_luts"] == round(175 + 0.9 * 128)
    assert est["bram_parts"]["values"] == 2 and est["brams"] <= 30
    fit_check(small, load_board("icebreaker"), form="seq")
    big = random_netlist(128, [4000, 4000, 1000], 10, seed=1)
    with pytest.raises(FitError, match=r"block RAMs .* the iCE40UP5K-SG48 has 30.*ulx3s"):
        fit_check(big, load_board("icebreaker"), form="seq")


def test_boards_default_form():
    ice, ulx = load_board("icebreaker"), load_board("ulx3s")
    dense = random_netlist(20, [10, 4], 2)
    conv = random_conv_netlist((4, 4, 1), [ConvSpec(2, (3, 3), (1, 1), (1, 1), 1)], [8], 2, seed=1)
    assert ice.dense_form == "seq" and ulx.dense_form == "spatial"
    assert BuildOptions().for_board(ice, dense).form == "seq"
    assert BuildOptions().for_board(ice, conv).form == "tm"
    assert BuildOptions().for_board(ulx, dense).form == "spatial"
    assert BuildOptions(form="spatial").for_board(ice, dense).form == "spatial"
    assert BuildOptions(form="seq").for_board(ulx, dense).groupsum == "serial"
    # what the block RAMs cannot hold, or threshold neurons, the board builds spatially
    big = random_netlist(128, [4000, 4000, 1000], 10, seed=1)
    binary = random_netlist(20, [30, 12], 3, seed=2, kind="binary")
    assert BuildOptions().for_board(ice, big).form == "spatial"
    assert BuildOptions().for_board(ice, binary).form == "spatial"
    # options only the spatial form has keep its default there, and a clash is refused
    assert BuildOptions(groupsum="tree").for_board(ice, dense).form == "spatial"
    assert BuildOptions(groupsum="tree", popcount_every=1).for_board(ice, dense).form == "spatial"
    with pytest.raises(GateflowError, match="sequential core counts the classes serially"):
        BuildOptions(form="seq", groupsum="tree").for_board(ice, dense)


def test_position_layout_and_a_tail_program():
    """An engine's tail takes the last map position by position, each in whole words."""
    addr, words = seq.position_layout(3, 20)
    assert words == 6 and addr[:20].tolist() == list(range(20))
    assert addr[20] == 32 and addr[59] == 5 * 16 + 3
    addr, words = seq.position_layout(5, 3)
    assert words == 5 and addr.tolist()[:6] == [0, 1, 2, 16, 17, 18]
    from gateflow.hdl.engine import tail_netlist

    net = random_conv_netlist(
        (6, 6, 2), [ConvSpec(20, (3, 3), (2, 2), (1, 1), 2)], [40, 20], 4, seed=4
    )
    tail = tail_netlist(net)
    program = seq.compile_program(tail, seq.position_layout(9, 20))
    bits = _bits(tail)
    assert np.array_equal(seq.run_program(program, bits), eval_bits(tail, bits).scores)


def test_word_model_timing():
    """SeqModel: a word per clock while loading, then N + 2 clocks, then one out."""
    program = seq.compile_program(random_netlist(37, [50, 30], 3, seed=1))
    model = seq.SeqModel(program)
    events = [model.clock(True) for _ in range(2 * (program.in_words + program.size + 3))]
    took = [i for i, (t, _) in enumerate(events) if t]
    done = [i for i, (_, d) in enumerate(events) if d]
    assert took[: program.in_words] == list(range(program.in_words))
    last = program.in_words - 1
    assert done[0] == last + program.size + 3  # the manifest's latency after the last word
    assert took[program.in_words] == done[0] + 1


def test_tail_option_and_board_default(tmp_path):
    with pytest.raises(GateflowError, match="goes with --form tm"):
        CoreOptions(tail="seq").check()
    with pytest.raises(GateflowError, match="goes with --form tm"):
        BuildOptions(tail="seq", form="spatial").for_board(load_board("ulx3s"))
    ice, ulx = load_board("icebreaker"), load_board("ulx3s")
    conv = random_conv_netlist((6, 6, 2), [ConvSpec(4, (3, 3), (1, 1), (1, 1), 2)], [40, 20], 4)
    assert BuildOptions().for_board(ice, conv).tail == "seq"
    assert BuildOptions().for_board(ulx, conv).tail == "spatial"
    assert BuildOptions(tail="spatial").for_board(ice, conv).tail == "spatial"
    est = estimate_luts(conv, ice, form="tm", tail="seq")
    assert {"program", "values", "board", "line buffers"} == set(est["bram_parts"])
    assert est["parts"]["seq"] == 175  # words in: no sample multiplexer
    core = generate(conv, tmp_path, CoreOptions(form="tm", tail="seq"))
    m = core.manifest
    assert m["engine"]["tail"] == "seq" and "seq" in m["engine"]
    assert {"gf_gate_seq.sv", "gf_pos_words.sv", "gf_core_tail_rom.sv"} <= set(m["files"])
