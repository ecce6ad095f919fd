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
    GroupSum,
    LogicLayer,
    Netlist,
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


def _simplify(net: Netlist, passthrough: bool) -> Netlist:
    n_in = net.num_inputs
    rep_sig = np.empty(net.num_signals, dtype=np.int64)
    rep_inv = np.zeros(net.num_signals, dtype=np.int64)
    rep_sig[:n_in] = np.arange(n_in)
    offsets = net.layer_offsets()
    new_layers: list[LogicLayer | ThresholdLayer] = []
    for li, layer in enumerate(net.layers):
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
            elif h < n_in:
                out[k] = h  # an input bit is its own signal
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


def remove_dead(net: Netlist) -> Netlist:
    """Drop gates and input bits that the head does not depend on, then empty layers."""
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
        alive = live[offsets[li] : offsets[li + 1]]
        if isinstance(layer, ThresholdLayer):
            reads = np.repeat(alive, np.diff(layer.ptr)) & (layer.weight != 0)
            live[layer.src[reads]] = True
            continue
        live[layer.a[alive & uses_a[layer.op]]] = True
        live[layer.b[alive & uses_b[layer.op]]] = True
    if not live[:n_in].any():
        live[0] = True  # the core keeps at least one input bit
    new_index = np.full(n_sig, -1, dtype=np.int64)
    keep_in = np.flatnonzero(live[:n_in])
    new_index[keep_in] = np.arange(keep_in.size)
    nxt = keep_in.size
    layers = []
    for li, layer in enumerate(net.layers):
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
            before.num_gates,
            net.num_gates,
            before.num_inputs,
            net.num_inputs,
            len(before.layers),
            len(net.layers),
        )
        log.info("pass %s", stat.line())
        stats.append(stat)
    return net, stats
