"""Netlist passes: an ordered list of named steps, each IR -> IR.

- ``const``: constant propagation. A gate whose output does not depend on its
  inputs becomes a constant; readers of a constant are rewritten to a function
  of their other input.
- ``fold``: constant propagation plus folding of pass-through gates (A, B and
  anything reducing to one input) and of inverters: readers read the source
  directly and absorb the inversion into their own gate number.
- ``dce``: removes gates and input bits that nothing reads (liveness from the
  head), then empty layers.

Threshold neurons take part in all three: a constant input moves into the
threshold, an inverted one flips its weight (``w*(1-t) = w - w*t``), repeated
sources merge, zero weights go, and a neuron whose sum cannot cross its
threshold becomes a constant (one whose output follows a single input, a
pass-through).

Every pass preserves the function of the head exactly (tests check it against
the golden model on random inputs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateflow.errors import GateflowError
from gateflow.gates import BY_NAME, GATES, gate_from_truth
from gateflow.ir.netlist import (
    MAX_NEURON_SUM,
    MAX_WEIGHT,
    SPATIAL_KINDS,
    ConvLayer,
    FlattenLayer,
    GroupSum,
    Layer,
    LogicLayer,
    Netlist,
    OrPoolLayer,
    ThresholdLayer,
    validate,
)

log = logging.getLogger(__name__)

CONST = -1  # rep_sig value of a constant signal; rep_inv then holds the constant
OP_A = BY_NAME["A"].id
OP_NOT_A = BY_NAME["NOT_A"].id
OP_FALSE = BY_NAME["FALSE"].id
OP_TRUE = BY_NAME["TRUE"].id

DEFAULT_PASSES = ("fold", "dce")


@dataclass
class PassStat:
    name: str
    gates_before: int
    gates_after: int
    inputs_before: int
    inputs_after: int
    layers_before: int
    layers_after: int

    def line(self) -> str:
        return (
            f"{self.name:6s} gates {self.gates_before} -> {self.gates_after}, "
            f"inputs {self.inputs_before} -> {self.inputs_after}, "
            f"layers {self.layers_before} -> {self.layers_after}"
        )


def _tree_tables(depth: int) -> tuple[list[int], int]:
    """Truth tables of the 2**depth leaves as integers of 2**(2**depth) bits, and the mask."""
    n = 2**depth
    rows = np.arange(2**n, dtype=np.int64)
    tables = []
    for leaf in range(n):
        bits = ((rows >> leaf) & 1).astype(np.uint8)
        tables.append(int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little"))
    return tables, (1 << 2**n) - 1


def _table_gate(op: int, a: int, b: int, mask: int) -> int:
    """Gate ``op`` applied to two truth tables."""
    gate = GATES[op]
    out = 0
    for x in (0, 1):
        for y in (0, 1):
            if gate.out(x, y):
                out |= (a if x else ~a & mask) & (b if y else ~b & mask)
    return out


def _constant_trees(layer: ConvLayer, in_const: np.ndarray) -> tuple[ConvLayer, np.ndarray]:
    """Kernels whose root is constant, for all inputs, become explicit constant trees (every
    gate FALSE, the root FALSE or TRUE): then they read nothing. A leaf reads a constant
    when its channel is constant everywhere and padding cannot differ from it (the value
    is 0, or the layer has no padding). Returns the layer and each output channel's
    constant (-1: not constant)."""
    tables, mask = _tree_tables(layer.depth)
    padded = any(layer.padding)
    op = layer.op.copy()
    out_const = np.full(layer.out_channels, -1, dtype=np.int64)
    for k in range(layer.out_channels):
        vals = []
        for leaf, c in enumerate(layer.leaf_c[k]):
            v = int(in_const[c])
            known = v >= 0 and (v == 0 or not padded)
            vals.append((mask if v else 0) if known else tables[leaf])
        for level in layer.level_slices():
            ops = layer.op[k, level]
            vals = [_table_gate(int(g), vals[2 * j], vals[2 * j + 1], mask) for j, g in
                    enumerate(ops)]  # fmt: skip
        if vals[0] in (0, mask):
            value = int(vals[0] == mask)
            out_const[k] = value
            op[k] = OP_FALSE
            op[k, -1] = OP_TRUE if value else OP_FALSE
    new = ConvLayer(
        in_shape=layer.in_shape,
        kernel=layer.kernel,
        stride=layer.stride,
        padding=layer.padding,
        depth=layer.depth,
        leaf_y=layer.leaf_y.copy(),
        leaf_x=layer.leaf_x.copy(),
        leaf_c=layer.leaf_c.copy(),
        op=op,
    )
    return new, out_const


def _simplify_spatial(net: Netlist) -> tuple[list[Layer], np.ndarray]:
    """The spatial layers with constant trees made explicit, and the constant (or -1) of
    each channel of the map that flatten reads."""
    layers: list[Layer] = []
    const = None
    for layer in net.spatial:
        if const is None:
            const = np.full(layer.in_shape[2], -1, dtype=np.int64)  # input bits vary
        if isinstance(layer, ConvLayer):
            layer, const = _constant_trees(layer, const)
        layers.append(layer)  # OR pooling keeps a channel's constant; flatten ends the prefix
    return layers, const if const is not None else np.zeros(0, dtype=np.int64)


def _simplify(net: Netlist, passthrough: bool) -> Netlist:
    n_in = net.num_inputs
    rep_sig = np.empty(net.num_signals, dtype=np.int64)
    rep_inv = np.zeros(net.num_signals, dtype=np.int64)
    rep_sig[:n_in] = np.arange(n_in)
    offsets = net.layer_offsets()
    new_layers: list[Layer] = []
    fixed = n_in  # signals below this keep their number in the head (inputs, flatten)
    if net.has_spatial:
        new_layers, flat_const = _simplify_spatial(net)
        lo, hi = offsets[len(new_layers) - 1], offsets[len(new_layers)]
        fixed = hi
        per_signal = np.tile(flat_const, (hi - lo) // max(1, flat_const.size))
        rep_sig[lo:hi] = np.where(per_signal >= 0, CONST, np.arange(lo, hi))
        rep_inv[lo:hi] = np.maximum(per_signal, 0)
    for li, layer in enumerate(net.layers):
        if layer.kind in SPATIAL_KINDS:
            continue
        if isinstance(layer, ThresholdLayer):
            new_layers.append(
                _simplify_threshold(layer, offsets[li], rep_sig, rep_inv, passthrough)
            )
            continue
        a_out = layer.a.copy()
        b_out = layer.b.copy()
        op_out = layer.op.copy()
        base = offsets[li]
        for j in range(layer.size):
            s = base + j
            gate = GATES[int(layer.op[j])]
            sa, ia = int(rep_sig[layer.a[j]]), int(rep_inv[layer.a[j]])
            sb, ib = int(rep_sig[layer.b[j]]), int(rep_inv[layer.b[j]])
            if not gate.uses_a():
                sa, ia = CONST, 0
            if not gate.uses_b():
                sb, ib = CONST, 0
            # table[x][y]: output as a function of the underlying signals x (of sa) and y (of sb)
            same = sa == sb and sa != CONST
            table = [[0, 0], [0, 0]]
            for x in (0, 1):
                for y in (0, 1):
                    va = ia if sa == CONST else x ^ ia
                    vb = ib if sb == CONST else ((x if same else y) ^ ib)
                    table[x][y] = gate.out(va, vb)
            dep_x = sa != CONST and (table[0][0] != table[1][0] or table[0][1] != table[1][1])
            dep_y = (
                sb != CONST
                and not same
                and (table[0][0] != table[0][1] or table[1][0] != table[1][1])
            )
            if not dep_x and not dep_y:
                rep_sig[s], rep_inv[s] = CONST, table[0][0]
                op_out[j] = OP_TRUE if table[0][0] else OP_FALSE
                a_out[j] = b_out[j] = 0
            elif dep_x and dep_y:
                rep_sig[s], rep_inv[s] = s, 0
                a_out[j], b_out[j] = sa, sb
                op_out[j] = gate_from_truth((table[0][0], table[0][1], table[1][0], table[1][1]))
            else:
                src = sa if dep_x else sb
                inv = table[0][0]  # one input matters: h = src ^ h(0)
                if passthrough:
                    rep_sig[s], rep_inv[s] = src, inv
                else:
                    rep_sig[s], rep_inv[s] = s, 0
                a_out[j] = b_out[j] = src
                op_out[j] = OP_NOT_A if inv else OP_A
        new_layers.append(LogicLayer(a=a_out, b=b_out, op=op_out))

    # The head needs real signals: a head bit that resolved to a constant or an
    # inverted signal keeps its own gate, rewritten to the constant or the NOT.
    groups = []
    for g in net.head.groups:
        out = g.copy()
        for k, h in enumerate(g):
            rs, ri = int(rep_sig[h]), int(rep_inv[h])
            if rs != CONST and ri == 0:
                out[k] = rs
            elif h < fixed:
                out[k] = h  # an input bit (or a flatten signal) is its own signal
            else:
                li = int(np.searchsorted(offsets, h, side="right")) - 1
                j = int(h) - offsets[li]
                lay = new_layers[li]
                if isinstance(lay, ThresholdLayer):
                    new_layers[li] = _set_neuron(lay, j, rs, ri)
                elif rs == CONST:
                    lay.op[j] = OP_TRUE if ri else OP_FALSE
                    lay.a[j] = lay.b[j] = 0
                else:
                    lay.op[j] = OP_NOT_A
                    lay.a[j] = lay.b[j] = rs
        groups.append(out)
    return Netlist(net.encoder, new_layers, GroupSum(groups, net.head.class_names), dict(net.meta))


def _simplify_threshold(
    layer: ThresholdLayer, base: int, rep_sig: np.ndarray, rep_inv: np.ndarray, passthrough: bool
) -> ThresholdLayer:
    """Rewrite each neuron over the representatives of its sources; record its own."""
    neurons, thresholds = [], []
    for j, (src, w, t) in enumerate(layer.neurons()):
        s = base + j
        rs, ri = rep_sig[src], rep_inv[src]
        const = rs == CONST
        t_full = t - int((w * ri)[const | (ri == 1)].sum())  # constants and the w of w*(1-x)
        w_full = np.where(ri == 1, -w, w)[~const]
        keys, inv = np.unique(rs[~const], return_inverse=True)
        merged = np.zeros(keys.size, dtype=np.int64)
        np.add.at(merged, inv, w_full)
        keep = merged != 0
        keys, merged = keys[keep], merged[keep]
        lo, hi = int(merged[merged < 0].sum()), int(merged[merged > 0].sum())
        if t_full <= lo or t_full > hi:  # the sum cannot cross the threshold: a constant
            value = int(t_full <= lo)
            rep_sig[s], rep_inv[s] = CONST, value
            neurons.append(((), ()))
            thresholds.append(0 if value else 1)
            continue
        if keys.size == 1:  # follows one input: w > 0 gives the input, w < 0 its NOT
            inv_out = int(merged[0] < 0)
            if passthrough:
                rep_sig[s], rep_inv[s] = int(keys[0]), inv_out
            else:
                rep_sig[s], rep_inv[s] = s, 0
            neurons.append(((int(keys[0]),), (-1 if inv_out else 1,)))
            thresholds.append(0 if inv_out else 1)
            continue
        rep_sig[s], rep_inv[s] = s, 0
        if not _fits(merged, t_full):
            keys, merged, t_full = _within_bounds(src, w, t, rs, ri, keys, merged)
        neurons.append((keys, merged))
        thresholds.append(t_full)
    return ThresholdLayer.from_neurons(neurons, thresholds)


def _fits(weight: np.ndarray, threshold: int) -> bool:
    """Whether a neuron's weights and threshold lie within what :func:`validate` accepts."""
    if weight.size and (weight.min() < -MAX_WEIGHT or weight.max() >= MAX_WEIGHT):
        return False
    return abs(threshold) <= MAX_NEURON_SUM and int(np.abs(weight).sum()) <= MAX_NEURON_SUM


def _within_bounds(
    src: np.ndarray,
    w: np.ndarray,
    t: int,
    rs: np.ndarray,
    ri: np.ndarray,
    keys: np.ndarray,
    merged: np.ndarray,
) -> tuple[list[int], list[int], int]:
    """A neuron whose merged weights would leave the validator's bounds, rewritten
    connection by connection instead: the same function, every weight in range.

    Constant sources still go into the threshold and representatives whose merged
    weight fits still merge. The connections of a representative whose merged
    weight does not fit stay unmerged, and an inverted one whose flipped weight
    would not fit (``-(-2**31)``) keeps reading its inverter (its original source,
    which the pass leaves an equivalent signal) instead of absorbing the NOT.
    The original neuron lies within the bounds, so the result does too: merging
    and dropping constants never raise the sum of absolute weights, and a
    threshold strictly inside its neuron's range is at most that sum.
    """
    total = dict(zip(keys.tolist(), merged.tolist()))  # representatives merging to 0 are absent
    over = {r for r, v in total.items() if not -MAX_WEIGHT <= v < MAX_WEIGHT}
    out_src: list[int] = []
    out_w: list[int] = []
    for k in range(src.size):
        r, inv, wk = int(rs[k]), int(ri[k]), int(w[k])
        if r not in over:  # a constant, or a representative that merges as before
            if r in total:  # written once, at its first connection
                out_src.append(r)
                out_w.append(total.pop(r))
            t -= wk * inv
        elif wk == 0:
            continue
        elif not inv:
            out_src.append(r)
            out_w.append(wk)
        elif -wk < MAX_WEIGHT:  # absorb the NOT: w*(1-x) = w - w*x
            out_src.append(r)
            out_w.append(-wk)
            t -= wk
        else:  # keep reading the inverter
            out_src.append(int(src[k]))
            out_w.append(wk)
    return out_src, out_w, t


def _set_neuron(layer: ThresholdLayer, j: int, rs: int, ri: int) -> ThresholdLayer:
    """Neuron j made a constant ``ri`` (rs == CONST) or the NOT of signal rs."""
    neurons = [(src, w) for src, w, _ in layer.neurons()]
    thresholds = layer.threshold.copy()
    if rs == CONST:
        neurons[j], thresholds[j] = ((), ()), 0 if ri else 1
    else:
        neurons[j], thresholds[j] = ((rs,), (-1,)), 0
    return ThresholdLayer.from_neurons(neurons, thresholds)


def propagate_constants(net: Netlist) -> Netlist:
    return _simplify(net, passthrough=False)


def fold(net: Netlist) -> Netlist:
    return _simplify(net, passthrough=True)


def _used_leaves(layer: ConvLayer) -> np.ndarray:
    """bool [K, 2**depth]: the leaves each tree's root depends on through gates that use
    the operand (a gate that ignores an operand cuts the subtree below it)."""
    uses = np.array([[g.uses_a(), g.uses_b()] for g in GATES])
    levels = layer.level_slices()
    used = np.ones((layer.out_channels, 1), dtype=bool)  # the root is used
    for level in reversed(levels):
        ops = layer.op[:, level]  # [K, n]
        used = (used[:, :, None] & uses[ops]).reshape(layer.out_channels, -1)
    return used


def _remove_dead_kernels(
    net: Netlist, live_flat: np.ndarray, live_inputs: np.ndarray
) -> tuple[list[Layer], np.ndarray, np.ndarray]:
    """The spatial layers without kernels (and input channels) that no live flatten
    signal depends on, through later convs and pools. Returns the new spatial layers, the
    new number of each kept input bit (-1: removed) and of each flatten signal."""
    spatial = net.spatial
    maps = [spatial[0].in_shape] + [lay.out_shape for lay in spatial[:-1]]
    h, w, c = maps[-1]
    live_ch = live_flat.reshape(h, w, c).any(axis=(0, 1))
    keep_k: list[np.ndarray | None] = [None] * len(spatial)
    const_kernel: list[bool] = [False] * len(spatial)
    for i in range(len(spatial) - 2, -1, -1):
        layer = spatial[i]
        if isinstance(layer, ConvLayer):
            keep = np.flatnonzero(live_ch)
            if keep.size == 0:  # a layer keeps one kernel: a constant tree, reading nothing
                keep, const_kernel[i] = np.array([0]), True
            keep_k[i] = keep
            used = _used_leaves(layer)[keep] & (not const_kernel[i])
            live_ch = np.zeros(layer.in_shape[2], dtype=bool)
            live_ch[layer.leaf_c[keep][used]] = True
    h0, w0, c0 = maps[0]
    live_ch = live_ch | live_inputs.reshape(h0, w0, c0).any(axis=(0, 1))
    if not live_ch.any():
        live_ch[0] = True  # the core keeps at least one input channel
    chan = np.full(live_ch.size, -1, dtype=np.int64)
    chan[live_ch] = np.arange(int(live_ch.sum()))
    bits = np.arange(h0 * w0 * c0).reshape(h0, w0, c0)
    input_index = np.full(h0 * w0 * c0, -1, dtype=np.int64)
    input_index[bits[:, :, live_ch].reshape(-1)] = np.arange(h0 * w0 * int(live_ch.sum()))
    layers: list[Layer] = []
    shape = (h0, w0, int(live_ch.sum()))
    for i, layer in enumerate(spatial):
        if isinstance(layer, ConvLayer):
            keep = keep_k[i]
            leaf_c = chan[layer.leaf_c[keep]]
            op = layer.op[keep].copy()
            if const_kernel[i]:
                op[:] = OP_FALSE
            leaf_c = np.where(leaf_c >= 0, leaf_c, 0)  # unused leaves of removed channels
            layer = ConvLayer(
                in_shape=shape,
                kernel=layer.kernel,
                stride=layer.stride,
                padding=layer.padding,
                depth=layer.depth,
                leaf_y=layer.leaf_y[keep].copy(),
                leaf_x=layer.leaf_x[keep].copy(),
                leaf_c=leaf_c,
                op=op,
            )
            chan = np.arange(keep.size)
            chan_full = np.full(spatial[i].out_channels, -1, dtype=np.int64)
            chan_full[keep] = chan
            chan = chan_full
        elif isinstance(layer, OrPoolLayer):
            layer = OrPoolLayer(in_shape=shape, kernel=layer.kernel, stride=layer.stride)
        else:
            layer = FlattenLayer(in_shape=shape)
        layers.append(layer)
        shape = tuple(int(v) for v in layer.out_shape) if layer.kind != "flatten" else shape
    hf, wf, cf = shape
    pos = np.arange(hf * wf)[:, None]
    kept = chan >= 0
    flat_index = np.full((hf * wf, chan.size), -1, dtype=np.int64)
    flat_index[:, kept] = pos * cf + chan[kept][None]
    return layers, input_index, flat_index.reshape(-1)


def remove_dead(net: Netlist, keep_inputs: bool = False) -> Netlist:
    """Drop gates and input bits that the head does not depend on, then empty layers.

    In a convolutional netlist, conv kernels that no live signal depends on go too, and
    input bits only channel by channel (the image keeps its shape). ``keep_inputs``
    keeps every input bit (the encoder unchanged)."""
    n_sig = net.num_signals
    n_in = net.num_inputs
    live = np.zeros(n_sig, dtype=bool)
    for g in net.head.groups:
        live[g] = True
    offsets = net.layer_offsets()
    uses_a = np.array([g.uses_a() for g in GATES])
    uses_b = np.array([g.uses_b() for g in GATES])
    for li in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[li]
        if layer.kind in SPATIAL_KINDS:
            continue
        alive = live[offsets[li] : offsets[li + 1]]
        if isinstance(layer, ThresholdLayer):
            reads = np.repeat(alive, np.diff(layer.ptr)) & (layer.weight != 0)
            live[layer.src[reads]] = True
            continue
        live[layer.a[alive & uses_a[layer.op]]] = True
        live[layer.b[alive & uses_b[layer.op]]] = True
    new_index = np.full(n_sig, -1, dtype=np.int64)
    layers: list[Layer] = []
    n_spatial = len(net.spatial)
    if n_spatial:
        lo, hi = offsets[n_spatial - 1], offsets[n_spatial]
        inputs = np.ones(n_in, dtype=bool) if keep_inputs else live[:n_in]
        layers, in_index, flat_index = _remove_dead_kernels(net, live[lo:hi], inputs)
        new_index[:n_in] = in_index
        keep_in = np.flatnonzero(in_index >= 0)
        nxt = keep_in.size
        new_index[lo:hi] = np.where(flat_index >= 0, flat_index + nxt, -1)
        nxt += layers[-1].size
    else:
        if keep_inputs:
            live[:n_in] = True
        if not live[:n_in].any():
            live[0] = True  # the core keeps at least one input bit
        keep_in = np.flatnonzero(live[:n_in])
        new_index[keep_in] = np.arange(keep_in.size)
        nxt = keep_in.size
    for li, layer in enumerate(net.layers):
        if layer.kind in SPATIAL_KINDS:
            continue
        keep = np.flatnonzero(live[offsets[li] : offsets[li + 1]])
        if keep.size == 0:
            continue
        if isinstance(layer, ThresholdLayer):
            neurons = []
            for j in keep:
                src, w = layer.neuron(int(j))
                nz = w != 0
                neurons.append((new_index[src[nz]], w[nz]))
            layers.append(ThresholdLayer.from_neurons(neurons, layer.threshold[keep]))
            new_index[offsets[li] + keep] = nxt + np.arange(keep.size)
            nxt += keep.size
            continue
        op = layer.op[keep]
        a = new_index[layer.a[keep]]
        b = new_index[layer.b[keep]]
        # operands a gate ignores may point at removed signals: aim them at a kept one
        a = np.where(uses_a[op], a, np.where(uses_b[op], b, 0))
        b = np.where(uses_b[op], b, a)
        layers.append(LogicLayer(a=a, b=b, op=op))
        new_index[offsets[li] + keep] = nxt + np.arange(keep.size)
        nxt += keep.size
    enc = net.encoder.subset(keep_in)
    groups = [new_index[g] for g in net.head.groups]
    return Netlist(enc, layers, GroupSum(groups, net.head.class_names), dict(net.meta))


PASSES = {"const": propagate_constants, "fold": fold, "dce": remove_dead}


def run_passes(
    net: Netlist, names: Sequence[str] = DEFAULT_PASSES
) -> tuple[Netlist, list[PassStat]]:
    """Run the named passes in order; return the result and a gate count per step."""
    stats = []
    for name in names:
        if name not in PASSES:
            raise GateflowError(f"unknown pass {name!r} (known: {', '.join(PASSES)})")
        before = net
        net = validate(PASSES[name](net))
        stat = PassStat(
            name,
            before.num_distinct_gates,
            net.num_distinct_gates,
            before.num_inputs,
            net.num_inputs,
            len(before.layers),
            len(net.layers),
        )
        log.info("pass %s", stat.line())
        stats.append(stat)
    return net, stats
