"""Structural read-back: the generated network module, parsed with pyverilog, is the IR."""

from __future__ import annotations

import re

import pytest

from gateflow.gates import BY_NAME, GATES
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.verify.readback import compare, ir_key, read_network


@pytest.fixture(scope="module")
def net():
    net, _ = run_passes(random_netlist(32, [60, 50, 40, 30], 3, seed=2, skip_prob=0.3))
    return net


@pytest.mark.parametrize("every", [0, 1, 3])
def test_read_back_equals_the_ir(tmp_path, net, every):
    generate(net, tmp_path, CoreOptions(pipeline_every=every))
    graph = read_network(tmp_path / "gf_core_net.sv")
    assert compare(net, graph) == []
    assert len(graph.gates) == net.num_gates
    assert graph.outputs == [int(s) for g in net.head.groups for s in g]
    assert (graph.registers == 0) == (every == 0)


def test_unpruned_random_netlist_reads_back(tmp_path):
    raw = random_netlist(20, [40, 30, 20], 2, seed=9, skip_prob=0.5)  # dead gates, all 16 ops
    assert {int(o) for layer in raw.layers for o in layer.op} == set(range(16))
    generate(raw, tmp_path, CoreOptions(pipeline_every=2))
    assert compare(raw, read_network(tmp_path / "gf_core_net.sv")) == []


def _lines(text):
    return list(re.finditer(r"^  assign n(\d+) = (.+);  // (\w+)$", text, re.M))


def test_planted_differences_are_reported(tmp_path, net):
    generate(net, tmp_path, CoreOptions(pipeline_every=1))
    path = tmp_path / "gf_core_net.sv"
    text = path.read_text()
    gates = _lines(text)

    # 1. one gate's operation changed
    m = next(g for g in gates if g.group(3) == "AND" or g.group(3) == "OR")
    ops = re.findall(r"x\[\d+\]|p\d+_[xn]\d+|n\d+", m.group(2))
    other = BY_NAME["XOR"]
    path.write_text(text.replace(m.group(0), f"  assign n{m.group(1)} = {other.expr(*ops)};", 1))
    problems = compare(net, read_network(path))
    assert len(problems) == 1 and problems[0].startswith(f"gate n{m.group(1)}:")

    # 2. the operands of an asymmetric gate swapped
    m = next(g for g in gates if g.group(3) in ("A_AND_NOT_B", "NOT_A_AND_B", "A_OR_NOT_B"))
    a, b = re.findall(r"x\[\d+\]|p\d+_[xn]\d+|n\d+", m.group(2))
    swapped = BY_NAME[m.group(3)].expr(b, a)
    path.write_text(text.replace(m.group(0), f"  assign n{m.group(1)} = {swapped};", 1))
    problems = compare(net, read_network(path))
    assert len(problems) == 1 and f"n{m.group(1)}" in problems[0]

    # 3. an output rewired
    out = re.search(r"^  assign y\[1\] = (\S+);$", text, re.M)
    path.write_text(text.replace(out.group(0), "  assign y[1] = x[0];", 1))
    assert any(p.startswith("outputs differ") for p in compare(net, read_network(path)))

    # 4. a gate that is not one of the 16
    m = gates[0]
    path.write_text(text.replace(m.group(0), f"  assign n{m.group(1)} = 1'b0 ^ 1'b1;", 1))
    problems = compare(net, read_network(path))
    assert problems == [f"gate n{m.group(1)}: the RTL expression is none of the 16 gates"]


@pytest.mark.parametrize("kind", ["binary", "integer", "mixed"])
@pytest.mark.parametrize("passes", [(), ("fold", "dce")])
def test_threshold_neurons_read_back(tmp_path, kind, passes):
    raw = random_netlist(24, [60, 40, 30], 3, seed=4, skip_prob=0.3, kind=kind, fan_in=14)
    net, _ = run_passes(raw, passes)
    generate(net, tmp_path, CoreOptions(pipeline_every=1))
    assert compare(net, read_network(tmp_path / "gf_core_net.sv")) == []


def test_planted_threshold_differences_are_reported(tmp_path):
    net, _ = run_passes(
        random_netlist(24, [60, 40, 30], 3, seed=4, skip_prob=0.3, kind="integer", fan_in=14)
    )
    generate(net, tmp_path, CoreOptions(pipeline_every=1))
    path = tmp_path / "gf_core_net.sv"
    text = path.read_text()
    # 1. a threshold one higher
    m = re.search(r"^  assign n(\d+) = (.*\+ (\d+)'d(\d+)\));", text, re.M)
    assert m is not None
    width, t = m.group(3), int(m.group(4))
    wrong = m.group(0).replace(f"+ {width}'d{t})", f"+ {width}'d{t + 1})")
    path.write_text(text.replace(m.group(0), wrong, 1))
    problems = compare(net, read_network(path))
    assert len(problems) == 1 and problems[0].startswith(f"neuron n{m.group(1)}: RTL gives")
    # 2. a neuron reading a signal it is not connected to
    m = re.search(r"^  assign n(\d+) = \(\{(\d+)'b0, (x\[\d+\]|n\d+|p\d+_[xn]\d+)\}", text, re.M)
    assert m is not None
    wrong = m.group(0).replace(m.group(3), "x[23]" if m.group(3) != "x[23]" else "x[22]", 1)
    path.write_text(text.replace(m.group(0), wrong, 1))
    problems = compare(net, read_network(path))
    assert len(problems) == 1 and f"neuron n{m.group(1)}" in problems[0]


def test_ir_key_ignores_unused_operands():
    assert ir_key(BY_NAME["A"].id, 4, 9) == (3, 4, None)
    assert ir_key(BY_NAME["NOT_B"].id, 4, 9) == (10, None, 9)
    assert ir_key(BY_NAME["TRUE"].id, 4, 9) == (15, None, None)
    assert all(ir_key(g.id, 1, 2)[0] == g.id for g in GATES)


def test_a_conv_netlist_reads_back_as_its_lowered_netlist(tmp_path):
    from gateflow.ir.lower import for_hardware
    from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist

    spatial = [ConvSpec(3, (3, 3), (1, 1), (1, 1), 2), PoolSpec()]
    net, _ = run_passes(random_conv_netlist((6, 6, 1), spatial, [18, 9], 3, seed=2))
    generate(net, tmp_path, CoreOptions(pipeline_every=1))
    graph = read_network(tmp_path / "gf_core_net.sv")
    assert compare(net, graph) == []
    assert len(graph.gates) == for_hardware(net).num_gates
