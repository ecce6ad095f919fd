"""Lowering of spatial layers: a convolutional netlist (IR version 3) as the same
function over flat logic layers, which codegen, simulation, proofs and bitstreams
take unchanged.

:func:`unroll` writes every conv tree at every output position as gates: a conv
layer of depth ``d`` becomes ``d`` logic layers (level ``t`` holds, position by
position and kernel by kernel, the trees' level-``t`` gates), an OR pooling layer
becomes balanced trees of OR gates (``ceil(log2(kh*kw))`` layers; a 1x1 window is
a renumbering) and flatten is a renumbering. A leaf in the zero padding reads one
constant-0 signal: a FALSE gate, alone in a layer placed before the first conv
layer that needs it. The dense layers and the head are renumbered. Gates read
signals from several layers back where a map's signals were made earlier, which
the IR allows.

:func:`for_hardware` is what the code generator builds: the unrolled netlist after
``fold`` and a ``dce`` that keeps every input bit (the core's input is the encoder
of the IR it was generated from).
"""

from __future__ import annotations

import numpy as np

from gateflow.gates import BY_NAME
from gateflow.ir.netlist import (
    ConvLayer,
    FlattenLayer,
    GroupSum,
    LogicLayer,
    Netlist,
    OrPoolLayer,
    ThresholdLayer,
    validate,
)

OP_FALSE = BY_NAME["FALSE"].id
OP_OR = BY_NAME["OR"].id


class _Builder:
    """Appends logic layers to a flat netlist under construction."""

    def __init__(self, num_inputs: int) -> None:
        self.layers: list[LogicLayer | ThresholdLayer] = []
        self.next = num_inputs  # the next free signal number
        self.zero: int | None = None  # the constant-0 signal, once made

    def logic(self, a: np.ndarray, b: np.ndarray, op: np.ndarray) -> np.ndarray:
        """A layer of gates over arrays of one shape; returns their signals in that shape."""
        shape = a.shape
        a, b, op = (np.ascontiguousarray(v, dtype=np.int64).reshape(-1) for v in (a, b, op))
        self.layers.append(LogicLayer(a=a, b=b, op=op))
        out = np.arange(self.next, self.next + a.size, dtype=np.int64).reshape(shape)
        self.next += a.size
        return out

    def zero_signal(self) -> int:
        if self.zero is None:
            self.zero = int(self.logic(np.zeros(1), np.zeros(1), np.full(1, OP_FALSE))[0])
        return self.zero


def _conv(b: _Builder, layer: ConvLayer, sig_map: np.ndarray) -> np.ndarray:
    """Gates of a conv layer over the map of signals [H, W, C] -> its output map [H', W', K]."""
    h, w, c = layer.in_shape
    py, px = layer.padding
    sy, sx = layer.stride
    oh, ow, k = layer.out_shape
    rows = (np.arange(oh) * sy - py)[:, None, None] + layer.leaf_y[None]  # [H', K, L]
    cols = (np.arange(ow) * sx - px)[:, None, None] + layer.leaf_x[None]  # [W', K, L]
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None]
    ids = sig_map[
        np.clip(rows, 0, h - 1)[:, None], np.clip(cols, 0, w - 1)[None], layer.leaf_c[None, None]
    ]  # [H', W', K, L]
    if not inside.all():
        ids = np.where(inside, ids, b.zero_signal())
    for level in layer.level_slices():
        op = np.broadcast_to(layer.op[:, level], ids[..., 0::2].shape)
        ids = b.logic(ids[..., 0::2], ids[..., 1::2], op)
    return ids[..., 0]


def _orpool(b: _Builder, layer: OrPoolLayer, sig_map: np.ndarray) -> np.ndarray:
    """OR trees of a pooling layer over the map of signals [H, W, C] -> [H', W', C]."""
    oh, ow, c = layer.out_shape
    (kh, kw), (sy, sx) = layer.kernel, layer.stride
    window = [
        sig_map[i : i + sy * (oh - 1) + 1 : sy, j : j + sx * (ow - 1) + 1 : sx]
        for i in range(kh)
        for j in range(kw)
    ]
    ids = np.stack(window, axis=-1)  # [H', W', C, kh*kw], window row-major
    while ids.shape[-1] > 1:
        n = ids.shape[-1]
        pairs = b.logic(ids[..., 0 : n - 1 : 2], ids[..., 1:n:2], np.full(ids[..., 1:n:2].shape,
                                                                         OP_OR))  # fmt: skip
        ids = np.concatenate([pairs, ids[..., n - 1 :]], axis=-1) if n % 2 else pairs
    return ids[..., 0]


def unroll(net: Netlist) -> Netlist:
    """The same function with logic and threshold layers only (IR version 1 or 2).

    A netlist without spatial layers is returned as it is."""
    if not net.has_spatial:
        return net
    n_in = net.num_inputs
    b = _Builder(n_in)
    offsets = net.layer_offsets()
    new_index = np.full(net.num_signals, -1, dtype=np.int64)  # old signal -> new signal
    new_index[:n_in] = np.arange(n_in)
    sig_map = None
    for li, layer in enumerate(net.layers):
        if isinstance(layer, ConvLayer | OrPoolLayer | FlattenLayer):
            if sig_map is None:
                sig_map = np.arange(n_in, dtype=np.int64).reshape(layer.in_shape)
            if isinstance(layer, ConvLayer):
                sig_map = _conv(b, layer, sig_map)
            elif isinstance(layer, OrPoolLayer):
                sig_map = _orpool(b, layer, sig_map)
            else:
                new_index[offsets[li] : offsets[li + 1]] = sig_map.reshape(-1)
            continue
        if isinstance(layer, ThresholdLayer):
            new = ThresholdLayer(
                ptr=layer.ptr.copy(),
                src=new_index[layer.src],
                weight=layer.weight.copy(),
                threshold=layer.threshold.copy(),
            )
        else:
            new = LogicLayer(a=new_index[layer.a], b=new_index[layer.b], op=layer.op.copy())
        b.layers.append(new)
        new_index[offsets[li] : offsets[li + 1]] = np.arange(b.next, b.next + new.size)
        b.next += new.size
    groups = [new_index[g] for g in net.head.groups]
    head = GroupSum(groups, net.head.class_names)
    return validate(Netlist(net.encoder, b.layers, head, dict(net.meta)))


def for_hardware(net: Netlist) -> Netlist:
    """The flat netlist the hardware is generated from: :func:`unroll` then ``fold`` and
    a ``dce`` that keeps the encoder. A netlist without spatial layers is unchanged."""
    if not net.has_spatial:
        return net
    from gateflow.ir.passes import fold, remove_dead

    return validate(remove_dead(fold(unroll(net)), keep_inputs=True))
