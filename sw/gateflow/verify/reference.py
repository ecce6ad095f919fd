"""The reference side of ``gateflow prove``: a Verilog netlist written from the IR alone,
independently of the code generator, and the miters that compare it with the generated
RTL (:mod:`gateflow.verify.prove` runs them through Yosys SAT).

A convolutional IR's reference is written from the conv, OR pooling and flatten
definitions directly (every tree at every position, leaf by leaf), not from
:mod:`gateflow.ir.lower`, which the generated core is built from."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gateflow.errors import GateflowError
from gateflow.gates import GATES
from gateflow.ir.netlist import (
    SPATIAL_KINDS,
    ConvLayer,
    FlattenLayer,
    Netlist,
    OrPoolLayer,
    ThresholdLayer,
    index_width,
    score_width,
)

REF_NET = "gf_ref_net"
REF_HEAD = "gf_ref_head"
REF_TOP = "gf_ref"
NET_MITER = "gf_miter_net"
CORE_MITER = "gf_miter_core"
CUT = "gf_cut"  # the free wire inside the network stub


class ProofError(GateflowError):
    """The proof could not be run (tool missing or failing, unexpected design structure)."""


def _balanced_sum(name: str, terms: list[str], kind: str) -> list[str]:
    """Wire ``name`` (declared ``wire <kind>``) = the sum of ``terms``.

    The terms are added pairwise, then the pair sums pairwise, and so on (an odd
    last term is carried up unchanged). Any grouping gives the same integer; a
    balanced one lets the SAT solver line up intermediate sums with those of an
    adder-tree implementation, where a linear chain leaves it to rediscover
    associativity (minutes instead of a second for 100 bits).
    """
    level = list(terms)
    lines: list[str] = []
    depth = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            t = f"{name}_{depth}_{i // 2}"
            lines.append(f"  wire {kind} {t} = {level[i]} + {level[i + 1]};")
            nxt.append(t)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    lines.append(f"  wire {kind} {name} = {level[0]};")
    return lines


def _sum_of_bits(name: str, bits: list[str], width: int) -> list[str]:
    """``name`` = the number of ones among ``bits``, in ``width``-bit additions."""
    return _balanced_sum(name, [f"({width}'d0 + {b})" for b in bits], f"[{width - 1}:0]")


def _reference_neuron(sig: int, src: np.ndarray, w: np.ndarray, t: int) -> list[str]:
    """``s[sig]`` = (signed sum of ``s[src[k]] ? w[k] : 0``) >= t, summed pairwise."""
    width = (int(np.abs(w).sum()) + abs(t)).bit_length() + 1  # signed, cannot overflow
    terms = [
        f"(s[{int(k)}] ? {'-' if v < 0 else ''}{width}'sd{abs(int(v))} : {width}'sd0)"
        for k, v in zip(src, w)
    ] or [f"{width}'sd0"]
    lines = _balanced_sum(f"acc{sig}", terms, f"signed [{width - 1}:0]")
    bound = f"{'-' if t < 0 else ''}{width}'sd{abs(t)}"
    lines.append(f"  assign s[{sig}] = acc{sig} >= {bound};")
    return lines


def _spatial_reference(net: Netlist) -> list[str]:
    """Wires of the spatial layers, written position by position from their definition
    (docs/ir.md), and the flatten signals ``s[...]`` they end in.

    A map is held as a nested list ``m[y][x][c]`` of Verilog operands: the input bits
    ``s[(y*W + x)*C + c]``, then each layer's wires. A conv leaf outside the map is
    ``1'b0``; each tree gate is one assignment from the gate table; an OR pooling output
    is the OR of its window."""
    lines: list[str] = []
    first = net.spatial[0].in_shape
    h, w, c = first
    m = [[[f"s[{(y * w + x) * c + ch}]" for ch in range(c)] for x in range(w)] for y in range(h)]
    base = net.num_inputs
    for li, layer in enumerate(net.layers):
        if isinstance(layer, FlattenLayer):
            h, w, c = layer.in_shape
            for y in range(h):
                for x in range(w):
                    for ch in range(c):
                        lines.append(f"  assign s[{base + (y * w + x) * c + ch}] = {m[y][x][ch]};")
            break
        h, w, c = layer.in_shape
        oh, ow, oc = layer.out_shape
        out = [[["" for _ in range(oc)] for _ in range(ow)] for _ in range(oh)]
        for y in range(oh):
            for x in range(ow):
                for k in range(oc):
                    name = f"l{li}_y{y}_x{x}_c{k}"
                    out[y][x][k] = name
                    if isinstance(layer, OrPoolLayer):
                        kh, kw = layer.kernel
                        sy, sx = layer.stride
                        terms = [m[y * sy + i][x * sx + j][k] for i in range(kh) for j in range(kw)]
                        lines.append(f"  wire {name} = {' | '.join(terms)};")
                        continue
                    assert isinstance(layer, ConvLayer)
                    values = []
                    for leaf in range(2**layer.depth):
                        r = y * layer.stride[0] - layer.padding[0] + int(layer.leaf_y[k, leaf])
                        q = x * layer.stride[1] - layer.padding[1] + int(layer.leaf_x[k, leaf])
                        inside = 0 <= r < h and 0 <= q < w
                        values.append(m[r][q][int(layer.leaf_c[k, leaf])] if inside else "1'b0")
                    g = 0
                    for _ in range(layer.depth):
                        nxt = []
                        for j in range(len(values) // 2):
                            gate = GATES[int(layer.op[k, g])]
                            wire = f"{name}_g{g}"
                            lines.append(
                                f"  wire {wire} = {gate.expr(values[2 * j], values[2 * j + 1])};"
                            )
                            nxt.append(wire)
                            g += 1
                        values = nxt
                    lines.append(f"  wire {name} = {values[0]};")
        m = out
    return lines


def reference_verilog(net: Netlist) -> str:
    """The reference netlist: modules gf_ref_net (x -> head bits y), gf_ref_head
    (y -> scores, cls) and gf_ref (both). Head bits are the class groups
    concatenated, group 0 lowest; class c's score is ``scores[c*SW +: SW]``."""
    n_in, n_sig = net.num_inputs, net.num_signals
    sw, iw = score_width(net), index_width(net)
    flat = [int(s) for g in net.head.groups for s in g]
    n_out, ncls = len(flat), net.num_classes
    out = [
        f"// Reference netlist of IR sha256 {net.sha256()},",
        "// written from the IR by gateflow.prove, independently of the code generator.",
        "",
        f"module {REF_NET} (input wire [{n_in - 1}:0] x, output wire [{n_out - 1}:0] y);",
        f"  wire [{n_sig - 1}:0] s;",
        f"  assign s[{n_in - 1}:0] = x;",
    ]
    offsets = net.layer_offsets()
    if net.has_spatial:
        out += _spatial_reference(net)
    for li, layer in enumerate(net.layers):
        if layer.kind in SPATIAL_KINDS:
            continue
        if isinstance(layer, ThresholdLayer):
            for j, (src, w, t) in enumerate(layer.neurons()):
                out += _reference_neuron(offsets[li] + j, src, w, t)
            continue
        for j in range(layer.size):
            expr = GATES[int(layer.op[j])].expr(f"s[{int(layer.a[j])}]", f"s[{int(layer.b[j])}]")
            out.append(f"  assign s[{offsets[li] + j}] = {expr};")
    out += [f"  assign y[{k}] = s[{s}];" for k, s in enumerate(flat)]
    out += ["endmodule", ""]
    out.append(
        f"module {REF_HEAD} (input wire [{n_out - 1}:0] y, "
        f"output wire [{ncls * sw - 1}:0] scores, output wire [{iw - 1}:0] cls);"
    )
    lsb = 0
    for c, group in enumerate(net.head.groups):
        out += _sum_of_bits(f"score{c}", [f"y[{lsb + k}]" for k in range(group.size)], sw)
        out.append(f"  assign scores[{c * sw + sw - 1}:{c * sw}] = score{c};")
        lsb += int(group.size)
    out.append(f"  wire [{sw - 1}:0] best0 = score0;")
    out.append(f"  wire [{iw - 1}:0] idx0 = {iw}'d0;")
    for c in range(1, ncls):  # strictly greater: ties keep the lower class
        out.append(f"  wire gt{c} = score{c} > best{c - 1};")
        out.append(f"  wire [{sw - 1}:0] best{c} = gt{c} ? score{c} : best{c - 1};")
        out.append(f"  wire [{iw - 1}:0] idx{c} = gt{c} ? {iw}'d{c} : idx{c - 1};")
    out += [f"  assign cls = idx{ncls - 1};", "endmodule", ""]
    out += [
        f"module {REF_TOP} (input wire [{n_in - 1}:0] x, output wire [{n_out - 1}:0] y,",
        f"    output wire [{ncls * sw - 1}:0] scores, output wire [{iw - 1}:0] cls);",
        f"  {REF_NET} u_net (.x(x), .y(y));",
        f"  {REF_HEAD} u_head (.y(y), .scores(scores), .cls(cls));",
        "endmodule",
    ]
    return "\n".join(out) + "\n"


def _delay(name: str, src: str, width: int, depth: int) -> list[str]:
    """Wire ``name`` = ``src`` delayed by ``depth`` clocks (plain registers, no reset)."""
    if depth == 0:
        return [f"  wire [{width - 1}:0] {name} = {src};"]
    regs = [f"{name}_{k}" for k in range(depth)]
    lines = [f"  reg [{width - 1}:0] {r};" for r in regs]
    lines.append("  always @(posedge clk) begin")
    lines.append(f"    {regs[0]} <= {src};")
    lines += [f"    {regs[k]} <= {regs[k - 1]};" for k in range(1, depth)]
    lines.append("  end")
    lines.append(f"  wire [{width - 1}:0] {name} = {regs[-1]};")
    return lines


def network_miter(net: Netlist, net_module: str, stages: int) -> str:
    """``net_module`` (ce high) against the reference head bits delayed by ``stages``."""
    n_in = net.num_inputs
    n_out = sum(int(g.size) for g in net.head.groups)
    lines = [
        f"module {NET_MITER} (input wire clk, input wire [{n_in - 1}:0] x,",
        f"    output wire [{n_out - 1}:0] rtl, output wire [{n_out - 1}:0] expect,",
        "    output wire trigger);",
        f"  {net_module} dut (.clk(clk), .ce(1'b1), .x(x), .y(rtl));",
        f"  wire [{n_out - 1}:0] y_ref;",
        f"  {REF_NET} ref (.x(x), .y(y_ref));",
        *_delay("y_later", "y_ref", n_out, stages),
        "  assign expect = y_later;",
        "  assign trigger = rtl != expect;",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def network_stub(net_module: str, n_in: int, n_out: int) -> str:
    """A stand-in for the network module whose outputs are free in every step."""
    return (
        f"module {net_module} (input wire clk, input wire ce, input wire [{n_in - 1}:0] x,\n"
        f"    output wire [{n_out - 1}:0] y);\n"
        f"  wire [{n_out - 1}:0] {CUT};  // no driver: any value in every step\n"
        f"  assign y = {CUT};\n"
        "endmodule\n"
    )


def core_miter(net: Netlist, manifest: dict[str, Any], head_stages: int, net_stages: int) -> str:
    """The streaming core (never stalled) with its network cut, against the reference head.

    ``y_cut`` and ``x_at_net`` are left undriven here and connected by the proof
    script to the network stub's free outputs and its input port.
    """
    top = str(manifest["top"])
    n_in = int(manifest["input"]["width"])
    out = manifest["output"]
    out_w = int(out["width"])
    latency = int(manifest["latency_cycles"])
    sw, iw = score_width(net), index_width(net)
    if (int(out["score_width"]), int(out["index_width"])) != (sw, iw):
        raise ProofError(
            f"manifest widths (score {out['score_width']}, index {out['index_width']}) differ "
            f"from the IR's ({sw}, {iw})"
        )
    if n_in != net.num_inputs:
        raise ProofError(f"manifest input width {n_in} differs from the IR's {net.num_inputs}")
    n_out = sum(int(g.size) for g in net.head.groups)
    lines = [
        f"module {CORE_MITER} (input wire clk, input wire rst, input wire [{n_in - 1}:0] x,",
        f"    output wire [{out_w - 1}:0] rtl, output wire [{out_w - 1}:0] expect,",
        f"    output wire rtl_valid, output wire trigger, output wire [{n_out - 1}:0] y_cut,",
        f"    output wire [{n_in - 1}:0] x_at_net);",
        "  wire s_ready;",
        f"  {top} dut (.clk(clk), .rst(rst), .s_axis_tvalid(1'b1), .s_axis_tready(s_ready),",
        "    .s_axis_tdata(x), .m_axis_tvalid(rtl_valid), .m_axis_tready(1'b1),",
        "    .m_axis_tdata(rtl));",
        f"  wire [{net.num_classes * sw - 1}:0] scores_ref;",
        f"  wire [{iw - 1}:0] cls_ref;",
        f"  {REF_HEAD} ref (.y(y_cut), .scores(scores_ref), .cls(cls_ref));",
        f"  wire [{out_w - 1}:0] packed_ref;",
    ]
    covered = np.zeros(out_w, dtype=bool)
    for fld in out["fields"]:
        name, lsb, width = str(fld["name"]), int(fld["lsb"]), int(fld["width"])
        if name == "class":
            src, src_w = "cls_ref", iw
        elif (m := re.fullmatch(r"score(\d+)", name)) and int(m.group(1)) < net.num_classes:
            c = int(m.group(1))
            src, src_w = f"scores_ref[{c * sw + sw - 1}:{c * sw}]", sw
        else:
            raise ProofError(f"manifest output field {name!r} is not known to the prover")
        if width != src_w or lsb < 0 or lsb + width > out_w or covered[lsb : lsb + width].any():
            raise ProofError(f"manifest output field {name!r} has an inconsistent position")
        covered[lsb : lsb + width] = True
        lines.append(f"  assign packed_ref[{lsb + width - 1}:{lsb}] = {src};")
    lines += [f"  assign packed_ref[{int(k)}] = 1'b0;" for k in np.flatnonzero(~covered)]
    lines += _delay("expect_later", "packed_ref", out_w, head_stages)
    lines += _delay("x_in_later", "x", n_in, latency)
    lines += _delay("x_net_later", "x_at_net", n_in, head_stages + net_stages)
    lines += [
        "  assign expect = expect_later;",
        "  reg stalled;  // s_axis_tready fell after the reset",
        "  always @(posedge clk) stalled <= rst ? 1'b0 : (stalled || !s_ready);",
        "  assign trigger = !rtl_valid || rtl != expect || x_net_later != x_in_later || stalled;",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"
