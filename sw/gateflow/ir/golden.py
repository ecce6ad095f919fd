"""The golden model: the IR evaluated on bit-packed words, 64 samples per uint64.

This is the specification of what every other implementation (torch eval
mode, the generated RTL, the host driver) must output, bit for bit.
Each gate is evaluated in algebraic normal form ``x0 ^ x1&a ^ x2&b ^ x3&a&b``
with the coefficients taken from the gate table, so a whole layer of mixed
gates is four vectorised AND/XOR passes with no per-gate branching.

A threshold layer unpacks the bits it reads and forms every neuron's integer
sum exactly: as a float64 matrix product when the layer is small enough to
hold densely (integers, every partial sum below 2**53: exact), otherwise as a
sparse sum over its connections. The sums are compared with the integer
thresholds as int64.

Spatial layers (conv, orpool, flatten) work on the input bits as an image of
words, uint64 [H, W, C, words]: a conv layer gathers every kernel's leaves at
every output position at once (zero padding is a border of zero words) and
reduces each tree level by level with the same ANF passes, a chunk of kernels
at a time to bound memory; OR pooling ORs the window's strided slices; flatten
reshapes the map into signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateflow.gates import anf_matrix
from gateflow.ir.netlist import ConvLayer, FlattenLayer, Netlist, OrPoolLayer, ThresholdLayer

WORD = 64
ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
CHUNK_WORDS = 256  # samples evaluated together: 256 words = 16,384 samples
DENSE_LIMIT = 1 << 23  # a threshold layer with at most this many (neuron, source) pairs is dense
SPARSE_BUDGET = 1 << 24  # int64 products held at once by the sparse threshold path
CONV_BUDGET = 1 << 23  # words of gathered leaves held at once by a conv layer (64 MiB)


@dataclass
class GoldenResult:
    scores: np.ndarray  # int64 [n, num_classes]
    pred: np.ndarray  # int64 [n]; argmax, ties to the lowest class index


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """uint8 bits [n, m] -> uint64 words [m, ceil(n/64)]; sample s is bit s%64 of word s//64."""
    bits = np.asarray(bits, dtype=np.uint8)
    n, m = bits.shape
    words = (n + WORD - 1) // WORD
    padded = np.zeros((words * WORD, m), dtype=np.uint8)
    padded[:n] = bits
    packed = np.ascontiguousarray(np.packbits(padded.T, axis=1, bitorder="little"))
    return packed.view("<u8").astype(np.uint64, copy=False).reshape(m, words)


def unpack_bits(words: np.ndarray, n: int) -> np.ndarray:
    """uint64 words [m, W] -> uint8 bits [n, m] (inverse of pack_bits)."""
    words = np.ascontiguousarray(words, dtype="<u8")
    bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")  # [m, W*64]
    return bits[:, :n].T


def eval_signals(net: Netlist, packed_inputs: np.ndarray) -> np.ndarray:
    """All signals: uint64 [num_signals, W] from packed input bits [num_inputs, W]."""
    if packed_inputs.shape[0] != net.num_inputs:
        raise ValueError(f"expected {net.num_inputs} input rows, got {packed_inputs.shape[0]}")
    words = packed_inputs.shape[1]
    sig = np.empty((net.num_signals, words), dtype=np.uint64)
    sig[: net.num_inputs] = packed_inputs
    anf = anf_matrix()
    offsets = net.layer_offsets()
    image = None
    for li, layer in enumerate(net.layers):
        if isinstance(layer, ConvLayer | OrPoolLayer | FlattenLayer):
            if image is None:  # the first spatial layer reads the input bits as its image
                image = sig[: net.num_inputs].reshape(*layer.in_shape, words)
            if isinstance(layer, ConvLayer):
                image = conv_layer(layer, image)
            elif isinstance(layer, OrPoolLayer):
                image = orpool_layer(layer, image)
            else:
                sig[offsets[li] : offsets[li + 1]] = image.reshape(layer.size, words)
            continue
        if isinstance(layer, ThresholdLayer):
            sig[offsets[li] : offsets[li + 1]] = threshold_layer(layer, sig)
            continue
        # masks: all-ones where the gate's ANF has that term
        coef = anf[layer.op].astype(np.uint64) * ONES  # [n, 4]
        a = sig[layer.a]
        b = sig[layer.b]
        out = coef[:, 0:1] ^ (coef[:, 1:2] & a)
        out ^= coef[:, 2:3] & b
        a &= b
        out ^= coef[:, 3:4] & a
        sig[offsets[li] : offsets[li + 1]] = out
    return sig


def _gates(op: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gates ``op`` (any shape S) on packed words a, b [..., *S, W]: the ANF passes."""
    coef = (anf_matrix()[op].astype(np.uint64) * ONES)[..., None]  # [*S, 4, 1]
    out = coef[..., 0, :] ^ (coef[..., 1, :] & a)
    out ^= coef[..., 2, :] & b
    out ^= coef[..., 3, :] & (a & b)
    return out


def conv_layer(layer: ConvLayer, image: np.ndarray) -> np.ndarray:
    """A conv layer on a packed map uint64 [H, W, C, W] -> its output map [H', W', K, W]."""
    h, w, c = layer.in_shape
    words = image.shape[-1]
    py, px = layer.padding
    sy, sx = layer.stride
    padded = np.zeros((h + 2 * py, w + 2 * px, c, words), dtype=np.uint64)
    padded[py : py + h, px : px + w] = image
    oh, ow, k = layer.out_shape
    leaves = 2**layer.depth
    out = np.empty((oh, ow, k, words), dtype=np.uint64)
    # leaf l of output (y, x) lies at padded row y*sy + leaf_y[l], column x*sx + leaf_x[l]
    rows = (np.arange(oh) * sy)[:, None, None]
    cols = (np.arange(ow) * sx)[:, None, None]
    step = max(1, CONV_BUDGET // max(1, oh * ow * leaves * words))
    for lo in range(0, k, step):
        ks = slice(lo, min(k, lo + step))
        r = rows + layer.leaf_y[ks][None]  # [H', kc, L]
        q = cols + layer.leaf_x[ks][None]  # [W', kc, L]
        vals = padded[r[:, None], q[None], layer.leaf_c[ks][None, None]]  # [H', W', kc, L, W]
        for level in layer.level_slices():
            vals = _gates(layer.op[ks, level], vals[:, :, :, 0::2], vals[:, :, :, 1::2])
        out[:, :, ks] = vals[:, :, :, 0]
    return out


def orpool_layer(layer: OrPoolLayer, image: np.ndarray) -> np.ndarray:
    """OR pooling on a packed map uint64 [H, W, C, W] -> [H', W', C, W]."""
    oh, ow, _ = layer.out_shape
    (kh, kw), (sy, sx) = layer.kernel, layer.stride
    out = np.zeros((oh, ow, *image.shape[2:]), dtype=np.uint64)
    for i in range(kh):
        for j in range(kw):
            out |= image[i : i + sy * (oh - 1) + 1 : sy, j : j + sx * (ow - 1) + 1 : sx]
    return out


def threshold_sums(layer: ThresholdLayer, sig: np.ndarray, dense: bool | None = None) -> np.ndarray:
    """Every neuron's integer sum, int64 [size, W*64], from the packed signals [*, W].

    ``dense`` forces the matrix-product (True) or the sparse path (False); by
    default the layer's size decides. Both give the same integers."""
    n = sig.shape[1] * WORD
    used, local = np.unique(layer.src, return_inverse=True)
    if used.size == 0:
        return np.zeros((layer.size, n), dtype=np.int64)
    bits = np.unpackbits(
        np.ascontiguousarray(sig[used], dtype="<u8").view(np.uint8), axis=1, bitorder="little"
    )  # [used, n]
    if dense is None:
        dense = layer.size * used.size <= DENSE_LIMIT
    if dense:
        rows = np.repeat(np.arange(layer.size), np.diff(layer.ptr))
        w = np.zeros((layer.size, used.size), dtype=np.float64)
        np.add.at(w, (rows, local), layer.weight.astype(np.float64))
        # integers whose every partial sum is at most 2**40 in magnitude: exact
        return (w @ bits.astype(np.float64)).astype(np.int64)
    out = np.zeros((layer.size, n), dtype=np.int64)
    filled = np.flatnonzero(np.diff(layer.ptr) > 0)
    starts = layer.ptr[filled]
    step = max(WORD, SPARSE_BUDGET // layer.src.size // WORD * WORD)
    for lo in range(0, n, step):
        part = bits[local, lo : lo + step].astype(np.int64)
        part *= layer.weight[:, None]
        out[filled, lo : lo + step] = np.add.reduceat(part, starts, axis=0)
    return out


def threshold_layer(layer: ThresholdLayer, sig: np.ndarray) -> np.ndarray:
    """A threshold layer's outputs, packed uint64 [size, W]."""
    fire = threshold_sums(layer, sig) >= layer.threshold[:, None]
    return pack_bits(fire.T.astype(np.uint8))


def _popcount_rows(words: np.ndarray, n: int) -> np.ndarray:
    """Per sample, the number of ones across the rows of words [k, W] -> int64 [n]."""
    bits = np.unpackbits(
        np.ascontiguousarray(words, dtype="<u8").view(np.uint8), axis=1, bitorder="little"
    )
    return bits[:, :n].sum(axis=0, dtype=np.int64)


def eval_bits(net: Netlist, bits: np.ndarray) -> GoldenResult:
    """Evaluate on encoded input bits uint8 [n, num_inputs]."""
    bits = np.asarray(bits, dtype=np.uint8)
    if bits.ndim != 2 or bits.shape[1] != net.num_inputs:
        raise ValueError(f"expected input bits of shape [n, {net.num_inputs}], got {bits.shape}")
    n = bits.shape[0]
    scores = np.zeros((n, net.num_classes), dtype=np.int64)
    step = CHUNK_WORDS * WORD
    for start in range(0, n, step):
        chunk = bits[start : start + step]
        sig = eval_signals(net, pack_bits(chunk))
        for c, group in enumerate(net.head.groups):
            scores[start : start + len(chunk), c] = _popcount_rows(sig[group], len(chunk))
    return GoldenResult(scores=scores, pred=np.argmax(scores, axis=1).astype(np.int64))


def evaluate(net: Netlist, x_raw: np.ndarray) -> GoldenResult:
    """Evaluate on raw integer features [n, num_raw_features] (encoded by the IR's encoder)."""
    return eval_bits(net, net.encoder.encode(x_raw))


def output_bits(net: Netlist, bits: np.ndarray) -> np.ndarray:
    """The bits the head reads, per sample: uint8 [n, sum of group sizes], groups concatenated."""
    bits = np.asarray(bits, dtype=np.uint8)
    sig = eval_signals(net, pack_bits(bits))
    flat = np.concatenate(net.head.groups)
    return unpack_bits(sig[flat], bits.shape[0])
