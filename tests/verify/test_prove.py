"""Formal equivalence (gateflow.prove, Yosys SAT): proofs that pass, and planted bugs caught."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from gateflow import cli
from gateflow.gates import BY_NAME, GATES
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.golden import eval_bits
from gateflow.ir.netlist import LogicLayer, Netlist
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.verify.prove import ProveOptions, prove, prove_core, reference_verilog


@pytest.fixture(scope="module")
def small():
    net, _ = run_passes(random_netlist(24, [60, 40, 30], 3, seed=4, skip_prob=0.3))
    return net


def test_random_5000_gate_netlist_is_proven():
    net = random_netlist(128, [2000, 1600, 1200, 200], 10, seed=5, skip_prob=0.2)
    assert net.num_gates == 5000
    start = time.perf_counter()
    result = prove(net, ProveOptions(pipeline_every=1))
    assert result.proven, result.summary()
    assert [c.name for c in result.checks] == ["network", "core", "latency"]
    assert result.network_stages == 4
    assert time.perf_counter() - start < 120


@pytest.mark.parametrize(
    "every, scores, classes",
    [(0, False, 3), (2, True, 3), (1, True, 1)],
)
def test_core_options_are_proven(every, scores, classes):
    net, _ = run_passes(random_netlist(16, [30, 20, 12], classes, seed=every, skip_prob=0.4))
    result = prove(net, ProveOptions(pipeline_every=every, scores=scores))
    assert result.proven, result.summary()
    assert result.network_stages == (len(net.layers) // every if every else 0)


@pytest.mark.parametrize("kind", ["binary", "integer", "mixed"])
def test_threshold_networks_are_proven(kind):
    raw = random_netlist(24, [60, 40, 30], 3, seed=4, skip_prob=0.3, kind=kind, fan_in=9)
    net, _ = run_passes(raw)
    assert any(layer.kind == "threshold" for layer in net.layers)
    result = prove(net, ProveOptions(pipeline_every=1))
    assert result.proven, result.summary()


def test_a_mutated_threshold_is_caught(tmp_path):
    net, _ = run_passes(
        random_netlist(24, [60, 40, 30], 3, seed=4, skip_prob=0.3, kind="integer", fan_in=9)
    )
    core = generate(net, tmp_path / "core", CoreOptions(pipeline_every=1))
    path = tmp_path / "core" / "gf_core_net.sv"
    text = path.read_text()
    head = {int(s) for g in net.head.groups for s in g}
    for m in re.finditer(r"^  assign n(\d+) = .*\+ (\d+)'d(\d+)\);", text, re.M):
        if int(m.group(1)) in head:
            break
    else:
        raise AssertionError("no shift-and-add neuron with a threshold feeds the head")
    w, t = m.group(2), int(m.group(3))
    path.write_text(text.replace(m.group(0), m.group(0).replace(f"{w}'d{t})", f"{w}'d{t + 1})")))
    result = prove_core(net, core.out_dir, tmp_path / "proof")
    assert not result.proven
    cex = result.counterexample
    assert cex is not None and cex.check == "network"
    assert cex.rtl["head bits differing"] != []


def _head_gate_line(text: str, net: Netlist) -> tuple[str, int]:
    """A line of the network module computing a gate the head reads, with two operands."""
    head = {int(s) for g in net.head.groups for s in g}
    for m in re.finditer(r"^  assign n(\d+) = (.+);  // (\w+)$", text, re.M):
        sig, op = int(m.group(1)), BY_NAME[m.group(3)]
        if sig in head and op.uses_a() and op.uses_b():
            return m.group(0), sig
    raise AssertionError("no two-operand gate feeds the head")


def _mutated_ir(net: Netlist, sig: int, new_op: int) -> Netlist:
    layers, offsets = [], net.layer_offsets()
    for li, layer in enumerate(net.layers):
        op = layer.op.copy()
        if offsets[li] <= sig < offsets[li + 1]:
            op[sig - offsets[li]] = new_op
        layers.append(LogicLayer(a=layer.a, b=layer.b, op=op))
    return Netlist(net.encoder, layers, net.head, net.meta)


def test_a_mutated_gate_in_the_generated_sv_is_caught(tmp_path, small):
    core = generate(small, tmp_path / "core", CoreOptions(pipeline_every=1))
    path = tmp_path / "core" / "gf_core_net.sv"
    text = path.read_text()
    line, sig = _head_gate_line(text, small)
    m = re.fullmatch(r"  assign n\d+ = (.+);  // (\w+)", line)
    assert m is not None
    old = BY_NAME[m.group(2)]
    operands = re.findall(r"x\[\d+\]|p\d+_[xn]\d+|n\d+", m.group(1))
    assert len(operands) == 2
    new = GATES[old.id ^ 0b0110 if old.id not in (6, 9) else old.id ^ 0b1111]  # another op
    assert new.id != old.id
    mutated = line.replace(m.group(1), new.expr(*operands)).replace(old.name, new.name)
    path.write_text(text.replace(line, mutated, 1))

    result = prove_core(small, core.out_dir, tmp_path / "proof")
    assert not result.proven
    assert result.summary().startswith("counterexample: the network check failed")
    cex = result.counterexample
    assert cex is not None and cex.check == "network" and cex.input_kind == "input bits"
    # replay: the golden model of the IR disagrees with what the RTL computed ...
    golden = eval_bits(small, cex.input_bits[None, :])
    assert cex.golden["scores"] == golden.scores[0].tolist()
    assert cex.golden["class"] == int(golden.pred[0])
    assert cex.rtl["head bits differing"] != []
    assert cex.rtl["scores"] != cex.golden["scores"]
    # ... and agrees with the golden model of the IR with the same gate changed
    wrong = eval_bits(_mutated_ir(small, sig, new.id), cex.input_bits[None, :])
    assert cex.rtl["scores"] == wrong.scores[0].tolist()
    assert any("expected" in line for line in cex.lines())


def test_a_mutated_argmax_is_caught(tmp_path, small):
    core = generate(small, tmp_path / "core", CoreOptions(pipeline_every=2))
    path = tmp_path / "core" / "gf_argmax.sv"
    text = path.read_text()
    assert "hi_best > lo_best" in text
    path.write_text(text.replace("hi_best > lo_best", "hi_best >= lo_best"))  # ties go high
    result = prove_core(small, core.out_dir, tmp_path / "proof")
    assert not result.proven
    cex = result.counterexample
    assert cex is not None and cex.check == "core" and cex.input_kind == "head bits"
    assert cex.rtl["class"] != cex.golden["class"]
    scores = [cex.golden[f"score{c}"] for c in range(small.num_classes)]
    assert scores.count(max(scores)) > 1  # only a tie can tell the two apart
    assert cex.rtl["valid"] == 1


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_wrong_manifest_latency_is_caught(tmp_path, small, delta):
    core = generate(small, tmp_path / "core", CoreOptions(pipeline_every=1))
    manifest = json.loads(core.manifest_path.read_text())
    manifest["latency_cycles"] += delta
    core.manifest_path.write_text(json.dumps(manifest))
    result = prove_core(small, core.out_dir, tmp_path / "proof", checks=("core", "latency"))
    assert not result.proven


def test_reference_is_independent_of_codegen(small):
    text = reference_verilog(small)
    assert "gf_popcount" not in text and "gf_argmax" not in text and "always" not in text
    assert f"assign s[{small.num_inputs - 1}:0] = x;" in text
    gate_lines = [ln for ln in text.splitlines() if re.match(r"  assign s\[\d+\] = ", ln)]
    assert len(gate_lines) == small.num_gates


def test_cli_prove(tmp_path, capsys, small):
    path = tmp_path / "ir.json"
    small.save(path)
    assert cli.main(["prove", str(path), "--pipeline-every", "2", "--no-scores"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proven: ") and out.count("\n") == 1


def test_golden_replay_matches_reference_semantics(small):
    """The reference's score rule (sums, argmax to the lowest) is the golden model's."""
    bits = np.random.default_rng(0).integers(0, 2, (200, small.num_inputs), dtype=np.uint8)
    res = eval_bits(small, bits)
    assert np.array_equal(res.pred, np.argmax(res.scores, axis=1))


@pytest.fixture(scope="module")
def conv():
    from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist

    spatial = [ConvSpec(3, (3, 3), (1, 1), (1, 1), 2), PoolSpec(), ConvSpec(3, (2, 2), depth=3)]
    net, _ = run_passes(random_conv_netlist((6, 6, 2), spatial, [18, 9], 3, seed=3,
                                            skip_prob=0.2))  # fmt: skip
    return net


def test_cli_prove_on_a_conv_netlist(tmp_path, capsys, conv):
    """The lowered core against a reference written from the conv definitions."""
    assert conv.has_spatial and conv.num_unrolled_gates > 3 * conv.num_distinct_gates
    path = tmp_path / "conv.json"
    conv.save(path)
    assert cli.main(["prove", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proven: ") and out.count("\n") == 1
    text = reference_verilog(conv)
    # every conv tree gate at every position, leaf by leaf: padding reads a constant 0
    assert "1'b0" in text and text.count("_g") >= conv.layers[0].num_unrolled_gates


def test_a_mutated_conv_core_is_caught(tmp_path, conv):
    core = generate(conv, tmp_path / "core", CoreOptions(pipeline_every=1))
    path = tmp_path / "core" / "gf_core_net.sv"
    text = path.read_text()
    # flip the first two-input gate of the network into its complement
    m = re.search(r"^  assign (n\d+) = (\S+) & (\S+);  // AND$", text, re.M)
    assert m is not None
    path.write_text(text.replace(m.group(0), f"  assign {m.group(1)} = ~({m.group(2)} & "
                                             f"{m.group(3)});", 1))  # fmt: skip
    result = prove_core(conv, core.out_dir, tmp_path / "proof", checks=("network",))
    assert not result.proven
    cex = result.counterexample
    assert cex is not None and cex.check == "network"
    # the counterexample replays through the golden model of the conv IR
    assert cex.golden["scores"] == eval_bits(conv, cex.input_bits[None, :]).scores[0].tolist()
    assert cex.rtl["head bits differing"] != []
