"""Import torchlogix (PyPI ``torchlogix`` 0.2.2, MIT) networks.

A torchlogix network is a ``torch.nn.Sequential`` (or one of torchlogix's own model
classes, which are Sequentials or hold one) of

- optional spatial layers: ``LogicConv2d`` (each kernel a binary tree of LUTs over its
  receptive field) and ``OrPooling2d``, then a ``torch.nn.Flatten``;
- ``LogicDense`` layers;
- a final ``GroupSum(k, tau)``;

(a ``DummyBinarization``, ``Identity`` or a Flatten in front of a dense network pass the
bits through). The importer reads

- a whole model, ``torch.save(model, path)`` (read with the weights-only unpickler, no
  torchlogix needed): dense and conv networks, every setting below; or
- a ``state_dict`` (``torch.save(model.state_dict(), path)``, or a dict holding it under
  ``"state_dict"``): dense networks only, and with the ``raw`` parametrization unless
  saved in export mode. torchlogix keeps its wiring in buffers (``connections.indices``)
  so a state_dict holds the gates and their inputs, but not a conv layer's geometry,
  pooling or GroupSum: give ``--classes K``.

Supported: ``lut_rank=2``; the ``raw`` (16 logits, argmax), ``warp`` (4 Walsh
coefficients, sign) and ``light`` (4 truth-table logits, sign) parametrizations; fixed
and learnable dense connections (the argmax candidate), fixed conv connections (any
``init_method``, ``channel_group_size``); stride, zero padding and non-square receptive
fields; OR pooling with padding (imported as a 1x1 pass-through conv that adds the zero
border, then unpadded OR pooling); models saved in eval or export mode (export mode:
the LUT ids and wiring of the saved export buffers, as torchlogix then computes).

torchlogix numbers LUTs by their truth table over (a, b) = 00, 01, 10, 11 read as a
4-bit number (its ``functional.py`` table and ``apply_luts_export_mode``),
:data:`TORCHLOGIX_TRUTH`; the importer maps each id to the gateflow gate with the same
truth table. The reference forward computes torchlogix's eval-mode rules from the
tensors (its LUT formulas per parametrization, its gathers, max pooling, flatten and
GroupSum), or its export-mode boolean rules for a model saved in export mode.

The input: a conv network reads torchlogix's [batch, C, H, W] input as gateflow's
[H, W, C] map, i.e. input bit ``(y*W + x)*C + c`` is torchlogix's channel ``c`` at
pixel ``(y, x)``: with ``--thresholds`` of C values, channel c is ``pixel >=
thresholds[c]``. A dense network's input bit ``i`` is its first LogicDense's input
``i`` (feature ``i // T``, threshold ``i % T`` for T thresholds). torchlogix's
flatten order (channel, y, x) becomes gateflow's (y, x, channel) by renumbering the
first dense layer's inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.gates import GATES
from gateflow.importers import ImportOptions
from gateflow.importers.common import (
    Imported,
    ModelImportError,
    class_name,
    finish,
    group_head,
    input_encoder,
    integer_scores,
    load_torch_file,
)
from gateflow.importers.difflogic import DIFFLOGIC_TRUTH
from gateflow.ir.netlist import ConvLayer, FlattenLayer, LogicLayer, Netlist, OrPoolLayer

DENSE = "torchlogix.layers.dense.LogicDense"
CONV = "torchlogix.layers.conv.LogicConv2d"
POOL = "torchlogix.layers.pool.OrPooling2d"
GROUP_SUM = "torchlogix.layers.groupsum.GroupSum"
DUMMY = "torchlogix.layers.binarization.DummyBinarization"
PARAMETRIZATIONS = {
    "torchlogix.parametrization.RawLUTParametrization": "raw",
    "torchlogix.parametrization.WarpLUTParametrization": "warp",
    "torchlogix.parametrization.LightLUTParametrization": "light",
}
FIXED_DENSE = "torchlogix.connections.FixedDenseConnections"
LEARNABLE_DENSE = "torchlogix.connections.LearnableDenseConnections"
FIXED_CONV = "torchlogix.connections.FixedConvConnections"
FLATTEN = "torch.nn.modules.flatten.Flatten"
IDENTITY = "torch.nn.modules.linear.Identity"
CONTAINERS = ("torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList")
PARAMETER_LIST = "torch.nn.modules.container.ParameterList"
#: torchlogix classes a file may hold; any other torchlogix.* class is read too (so the
#: error can name it) and refused unless it is one of torchlogix.models' containers
KNOWN = (
    DENSE, CONV, POOL, GROUP_SUM, DUMMY, *PARAMETRIZATIONS, FIXED_DENSE, LEARNABLE_DENSE,
    FIXED_CONV, PARAMETER_LIST,
)  # fmt: skip
#: what torchlogix 0.2.2 has and this importer does not take, and why
UNSUPPORTED = {
    "torchlogix.layers.conv.LogicConv3d": "3-D convolutions have no gateflow IR",
    "torchlogix.layers.conv.LogicConvTranspose2d": "transposed convolutions are not supported",
    "torchlogix.layers.conv.LogicConvTranspose3d": "transposed convolutions are not supported",
    "torchlogix.layers.pool.OrPooling3d": "3-D pooling has no gateflow IR",
    "torchlogix.layers.binarization.FixedBinarization": "input binarization is not imported",
    "torchlogix.layers.binarization.SoftBinarization": "input binarization is not imported",
    "torchlogix.layers.binarization.LearnableBinarization": "input binarization is not imported",
    "torchlogix.modules.resblock.ResidualLogicBlock": "residual blocks are not supported",
}
BINARIZATION_HINT = (
    "; save the model without it and give the encoding with --thresholds "
    "(gateflow's bit is raw >= t, torchlogix's raw > t)"
)

#: torchlogix's LUT id -> (f(0,0), f(0,1), f(1,0), f(1,1)) over (a, b): the table in its
#: functional.py is difflogic's (the id is the truth table read as a 4-bit number); the
#: tests check it against torchlogix's own export-mode LUTs
TORCHLOGIX_TRUTH: tuple[tuple[int, int, int, int], ...] = DIFFLOGIC_TRUTH

#: torchlogix's export-mode boolean LUTs (``functional._map``), on bool tensors
EXPORT_OPS: tuple[Callable[[Any, Any], Any], ...] = (
    lambda a, b: a & ~a,
    lambda a, b: a & b,
    lambda a, b: a & ~b,
    lambda a, b: a,
    lambda a, b: b & ~a,
    lambda a, b: b,
    lambda a, b: a ^ b,
    lambda a, b: a | b,
    lambda a, b: ~(a | b),
    lambda a, b: ~(a ^ b),
    lambda a, b: ~b,
    lambda a, b: ~(b & ~a),
    lambda a, b: ~a,
    lambda a, b: ~(a & ~b),
    lambda a, b: ~(a & b),
    lambda a, b: a | ~a,
)


def gate_map() -> np.ndarray:
    """int64 [16]: torchlogix LUT id -> gateflow gate id (same truth table)."""
    by_truth = {g.truth: g.id for g in GATES}
    return np.array([by_truth[t] for t in TORCHLOGIX_TRUTH], dtype=np.int64)


def _gate(truth: tuple[int, int, int, int]) -> int:
    return next(g.id for g in GATES if g.truth == truth)


# ------------------------------------------------------------------ LUT rules
def lut_ids(kind: str, weight: Any) -> Any:
    """torchlogix's ``get_luts_and_ids`` over the last axis of ``weight``: the most
    probable LUT's id (raw: argmax of 16 logits; warp: Walsh-Hadamard transform < 0;
    light: logit > 0; the 4 entries in (a, b) order 00, 01, 10, 11)."""
    import torch

    if kind == "raw":
        return weight.argmax(-1).long()
    if kind == "warp":
        h = torch.tensor([[1.0]])
        while h.shape[0] < 4:  # torchlogix's hadamard_matrix (Sylvester order)
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        luts = (weight.to(torch.float32) @ h) < 0
    else:
        luts = weight > 0
    return (luts.long() * torch.tensor([8, 4, 2, 1])).sum(-1)


def lut_eval(kind: str, w: Any, a: Any, b: Any) -> Any:
    """torchlogix's eval-mode LUT (``parametrization.forward`` with training=False) on
    float inputs ``a``, ``b``; ``w[..., i]`` broadcasts against them."""
    import torch

    if kind == "raw":  # one-hot of the argmax, functional.weighted_raw_basis_sum
        w = torch.nn.functional.one_hot(w.argmax(-1), 16).to(torch.float32)
        c1 = w[..., 8] + w[..., 9] + w[..., 10] + w[..., 11]
        c1 = c1 + w[..., 12] + w[..., 13] + w[..., 14] + w[..., 15]
        ca = w[..., 2] + w[..., 3] + w[..., 6] + w[..., 7]
        ca = ca - w[..., 8] - w[..., 9] - w[..., 12] - w[..., 13]
        cb = w[..., 4] + w[..., 5] + w[..., 6] + w[..., 7]
        cb = cb - w[..., 8] - w[..., 9] - w[..., 10] - w[..., 11]
        cab = w[..., 1] - w[..., 2] - w[..., 4] - 2 * w[..., 6] - w[..., 7]
        cab = cab + w[..., 8] + 2 * w[..., 9] + w[..., 11] + w[..., 13] - w[..., 14]
        return c1 * (a * 0 + 1) + ca * a + cb * b + cab * (a * b)
    if kind == "warp":  # weighted_walsh_basis_sum_2 over 1 - 2x, then (-sum > 0)
        w = w.to(torch.float32)
        sa, sb = 1 - 2 * a, 1 - 2 * b
        v = w[..., 0] * (sa * 0 + 1) + w[..., 1] * sb + w[..., 2] * sa + w[..., 3] * (sa * sb)
        return (-v > 0).to(torch.float32)
    w = (w > 0).to(torch.float32)  # light: weighted_light_basis_sum_2 of the sign
    return (
        w[..., 0] * ((1 - a) * (1 - b))
        + w[..., 1] * ((1 - a) * b)
        + w[..., 2] * (a * (1 - b))
        + w[..., 3] * (a * b)
    )


def lut_export(ids: Any, a: Any, b: Any) -> Any:
    """torchlogix's ``apply_luts_export_mode``: each position's LUT by its id, on bools."""
    import torch

    out = torch.empty_like(a, dtype=torch.bool)
    for i in range(16):
        mask = ids == i
        out[..., mask] = EXPORT_OPS[i](a[..., mask], b[..., mask])
    return out


# ------------------------------------------------------------------ reading modules
def _get(mod: Any, name: str) -> Any:
    """An attribute of an unpickled module: plain, parameter, buffer or submodule."""
    d = vars(mod)
    for where in ("_parameters", "_buffers", "_modules"):
        if name in (d.get(where) or {}):
            return d[where][name]
    return d.get(name)


def _tensor(x: Any) -> Any:
    import torch

    return torch.as_tensor(x).detach().to("cpu")


def _pair(v: Any, what: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ModelImportError(f"{what}: {v!r} is not a 2-D size")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _parametrization(name: str, mod: Any) -> str:
    p = _get(mod, "parametrization")
    kind = PARAMETRIZATIONS.get(class_name(p)) if p is not None else None
    if kind is None:
        raise ModelImportError(
            f"module {name}: parametrization {class_name(p) if p is not None else None} "
            "is not supported (raw, warp or light)"
        )
    rank = int(getattr(mod, "lut_rank", 2) or 2)
    if rank != 2 or int(vars(p).get("lut_rank", 2)) != 2:
        raise ModelImportError(
            f"module {name}: lut_rank {rank}; gateflow's gates have two inputs (lut_rank=2)"
        )
    return kind


def _entries(kind: str) -> int:
    return 16 if kind == "raw" else 4


@dataclass
class _Dense:
    name: str
    in_dim: int
    a: Any  # int64 [out]: torchlogix input index of each LUT's first operand
    b: Any
    ids: Any  # int64 [out]: torchlogix LUT id (what eval / export mode computes)
    kind: str | None  # parametrization, for the eval-mode reference
    weight: Any  # [out, 16 or 4], or None in export mode
    export: bool

    @property
    def out_dim(self) -> int:
        return int(self.ids.numel())

    def forward(self, x: Any) -> Any:
        """torchlogix's LogicDense forward in eval (or export) mode."""
        import torch

        x = x.reshape(-1, self.in_dim)
        if self.export:
            x = x.to(torch.bool)
            return lut_export(self.ids, x[:, self.a], x[:, self.b])
        x = x.to(torch.float32)
        return lut_eval(self.kind, self.weight, x[:, self.a], x[:, self.b])


def _check_indices(name: str, a: Any, b: Any, in_dim: int) -> None:
    lo, hi = int(min(a.min(), b.min())), int(max(a.max(), b.max()))
    if lo < 0 or hi >= in_dim:
        raise ModelImportError(
            f"module {name}: input index {lo if lo < 0 else hi} is outside its {in_dim} inputs"
        )


def _dense_layer(
    name: str,
    weight: Any,
    indices: Any,
    kind: str | None,
    in_dim: int | None,
    export_ids: Any = None,
) -> _Dense:
    """A LogicDense from its tensors; ``indices`` [2, out] the resolved wiring."""
    export = export_ids is not None
    out = None
    if weight is not None:
        weight = _tensor(weight)
        want = _entries(kind) if kind else weight.shape[-1]
        if weight.ndim != 2 or weight.shape[1] != want or want not in (4, 16):
            raise ModelImportError(
                f"module {name}: weight of shape {tuple(weight.shape)}, expected "
                f"[neurons, {want if want in (4, 16) else '16 or 4'}]"
            )
        out = int(weight.shape[0])
    indices = _tensor(indices).long()
    if indices.ndim != 2 or indices.shape[0] != 2:
        raise ModelImportError(
            f"module {name}: connection indices of shape {tuple(indices.shape)}, expected "
            "[2, neurons] (lut_rank=2)"
        )
    if export:
        ids = _tensor(export_ids).long().reshape(-1)
    else:
        ids = lut_ids(kind, weight)
    if out is not None and ids.numel() != out or indices.shape[1] != ids.numel():
        raise ModelImportError(
            f"module {name}: {ids.numel()} LUTs but {indices.shape[1]} connection pairs"
        )
    if int(ids.min()) < 0 or int(ids.max()) > 15:
        raise ModelImportError(f"module {name}: a LUT id outside 0..15")
    a, b = indices[0].contiguous(), indices[1].contiguous()
    in_dim = int(in_dim) if in_dim is not None else int(indices.max()) + 1
    _check_indices(name, a, b, in_dim)
    return _Dense(name, in_dim, a, b, ids, kind, weight, export)


def _dense_wiring(name: str, conn: Any, export: bool) -> Any:
    """[2, out] input indices of a LogicDense's connections module, as eval (export)
    mode resolves them."""
    cls = class_name(conn)
    if cls == FIXED_DENSE:
        return _get(conn, "indices")
    if cls == LEARNABLE_DENSE:
        frozen = _get(conn, "_export_indices")
        if export and frozen is not None:
            return frozen
        weights, indices = _tensor(_get(conn, "weights")), _tensor(_get(conn, "indices")).long()
        if weights.ndim != 3 or indices.shape != weights.shape or weights.shape[1] != 2:
            raise ModelImportError(
                f"module {name}: learnable connections of shapes {tuple(weights.shape)} and "
                f"{tuple(indices.shape)}, expected [candidates, 2, neurons] both"
            )
        chosen = weights.argmax(0)  # resolve_connections / the eval-mode gather
        return indices.gather(0, chosen.unsqueeze(0)).squeeze(0)
    raise ModelImportError(f"module {name}: connections {cls} are not supported")


def _dense_module(name: str, mod: Any) -> _Dense:
    kind = _parametrization(name, mod)
    export = bool(vars(mod).get("export_mode", False))
    conn = _get(mod, "connections")
    if conn is None:
        raise ModelImportError(f"module {name}: a LogicDense without connections")
    export_ids = _get(mod, "_export_lut_ids") if export else None
    if export and export_ids is None:
        raise ModelImportError(f"module {name}: in export mode but without its LUT ids")
    return _dense_layer(
        name,
        _get(mod, "weight"),
        _dense_wiring(name, conn, export),
        kind,
        vars(mod).get("in_dim"),
        export_ids,
    )


@dataclass
class _Conv:
    name: str
    in_shape: tuple[int, int, int]  # torchlogix's (C, H, W)
    kernel: tuple[int, int]
    stride: int
    padding: int
    depth: int
    leaves: Any  # int64 [K, 2**depth, 3]: (y, x, c) within the receptive field
    ops: Any  # int64 [K, 2**depth - 1]: torchlogix LUT ids, level by level
    kind: str | None
    weights: list  # per level [nodes, K, entries], for the eval-mode reference
    indices: list  # torchlogix's index buffers, per level
    level_ids: list  # per level [K, P, nodes] export-mode ids, or None
    export: bool

    @property
    def out_hw(self) -> tuple[int, int]:
        _, h, w = self.in_shape
        return (
            (h + 2 * self.padding - self.kernel[0]) // self.stride + 1,
            (w + 2 * self.padding - self.kernel[1]) // self.stride + 1,
        )

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (int(self.ops.shape[0]), *self.out_hw)

    def forward(self, x: Any) -> Any:
        """torchlogix's LogicConv2d forward (eval or export mode) on [n, C, H, W]."""
        import torch

        x = x.to(torch.bool if self.export else torch.float32)
        if self.padding > 0:
            p = self.padding
            x = torch.nn.functional.pad(x, (p, p, p, p), mode="constant", value=0)
        h, w, c = self.indices[0].unbind(-1)
        g = x[:, c, h, w]  # [n, 2, K, P, S]
        y = None
        for level in range(self.depth):
            if level:
                g = y[..., self.indices[level]].movedim(-2, 1)  # [n, 2, K, P, nodes]
            a, b = g[:, 0], g[:, 1]
            if self.export:
                y = lut_export(self.level_ids[level], a, b)
            else:
                wl = self.weights[level].permute(1, 0, 2).unsqueeze(1)  # [K, 1, nodes, E]
                y = lut_eval(self.kind, wl, a, b)
        return y.reshape(y.shape[0], y.shape[1], *self.out_hw)


def _conv_module(name: str, mod: Any) -> _Conv:
    import torch

    d = vars(mod)
    kind = _parametrization(name, mod)
    export = bool(d.get("export_mode", False))
    if int(d.get("conv_dimension", 2)) != 2:
        raise ModelImportError(f"module {name}: a {d.get('conv_dimension')}-D convolution")
    H, W = _pair(d.get("in_dim"), f"module {name} in_dim")
    C, K, depth = int(d.get("channels", 1)), int(d.get("num_kernels")), int(d.get("tree_depth"))
    kh, kw = _pair(d.get("receptive_field_size"), f"module {name} receptive_field_size")
    stride, padding = int(d.get("stride", 1)), int(d.get("padding", 0))
    if not 1 <= depth <= 4:
        raise ModelImportError(
            f"module {name}: tree_depth {depth}; gateflow's conv trees have 1 to 4 levels"
        )
    conn = _get(mod, "connections")
    if class_name(conn) != FIXED_CONV:
        raise ModelImportError(
            f"module {name}: connections {class_name(conn)} are not supported (fixed)"
        )
    indices = [_get(conn, f"_indices_L{i}") for i in range(depth)]
    if any(t is None for t in indices):
        raise ModelImportError(f"module {name}: connection indices missing for some tree level")
    indices = [_tensor(t).long() for t in indices]
    tw = _get(mod, "tree_weights")
    params = vars(tw).get("_parameters", {}) if tw is not None else {}
    weights = [params.get(str(i)) for i in range(depth)]
    if any(w is None for w in weights):
        raise ModelImportError(f"module {name}: tree weights missing for some tree level")
    weights = [_tensor(w) for w in weights]
    conv = _Conv(name, (C, H, W), (kh, kw), stride, padding, depth, None, None, kind,
                 weights, indices, [None] * depth, export)  # fmt: skip
    ho, wo = conv.out_hw
    if ho < 1 or wo < 1 or stride < 1:
        raise ModelImportError(f"module {name}: no output positions")
    P, S, E = ho * wo, 2 ** (depth - 1), _entries(kind)
    i0 = indices[0]
    if tuple(i0.shape) != (2, K, P, S, 3):
        raise ModelImportError(
            f"module {name}: level-0 indices of shape {tuple(i0.shape)}, expected {(2, K, P, S, 3)}"
        )
    for level in range(1, depth):
        n = 2 ** (depth - level)
        pairs = torch.arange(n).view(-1, 2).transpose(0, 1)
        if not torch.equal(indices[level], pairs):
            raise ModelImportError(
                f"module {name}: tree level {level} does not pair nodes 2j, 2j+1 as torchlogix "
                "builds its trees"
            )
    for level, w in enumerate(weights):
        want = (2 ** (depth - 1 - level), K, E)
        if tuple(w.shape) != want:
            raise ModelImportError(
                f"module {name}: tree weights {level} of shape {tuple(w.shape)}, expected {want}"
            )
    # the wiring at position (py, px) must be position 0's shifted by the stride
    base = i0[:, :, 0]  # [2, K, S, 3]
    oy, ox = torch.meshgrid(torch.arange(ho) * stride, torch.arange(wo) * stride, indexing="ij")
    shift = torch.stack([oy.flatten(), ox.flatten(), torch.zeros(P, dtype=torch.long)], -1)
    if not torch.equal(i0, base.unsqueeze(2) + shift.view(1, 1, P, 1, 3)):
        raise ModelImportError(
            f"module {name}: its wiring is not the same at every position (not a convolution)"
        )
    bounds = torch.tensor([kh, kw, C])
    if bool((base < 0).any()) or bool((base >= bounds).any()):
        raise ModelImportError(f"module {name}: a leaf outside its {kh}x{kw}x{C} receptive field")
    # leaf 2s reads operand a of first-level node s, leaf 2s+1 operand b
    conv.leaves = base.permute(1, 2, 0, 3).reshape(K, 2 * S, 3)
    if export:
        ids = []
        for level in range(depth):
            t = _get(mod, f"_export_lut_ids_L{level}")
            if t is None:
                raise ModelImportError(f"module {name}: in export mode but without its LUT ids")
            t = _tensor(t).long()
            n = 2 ** (depth - 1 - level)
            if tuple(t.shape) != (K, P, n):
                raise ModelImportError(
                    f"module {name}: export LUT ids {level} of shape {tuple(t.shape)}, "
                    f"expected {(K, P, n)}"
                )
            if not torch.equal(t, t[:, :1].expand_as(t)):
                raise ModelImportError(
                    f"module {name}: its export LUT ids differ between positions"
                )
            conv.level_ids[level] = t
            ids.append(t[:, 0])  # [K, nodes]
    else:
        ids = [lut_ids(kind, w).transpose(0, 1) for w in weights]  # each [K, nodes]
    conv.ops = torch.cat(ids, dim=1)
    if int(conv.ops.min()) < 0 or int(conv.ops.max()) > 15:
        raise ModelImportError(f"module {name}: a LUT id outside 0..15")
    return conv


@dataclass
class _Pool:
    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    export: bool
    in_shape: tuple[int, int, int] | None = None  # (C, H, W)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        c, h, w = self.in_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def forward(self, x: Any) -> Any:
        """torchlogix's OrPooling2d: max pooling (eval) or OR over the windows (export)."""
        import torch
        import torch.nn.functional as F

        if not self.export:
            return F.max_pool2d(x.float(), self.kernel, self.stride, self.padding)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        x = F.pad(x.to(torch.bool), (pw, pw, ph, ph), value=False)
        x = x.unfold(2, kh, sh).unfold(3, kw, sw).flatten(-2)
        out = x[..., 0]
        for i in range(1, x.shape[-1]):
            out = out | x[..., i]
        return out


def _pool_module(name: str, mod: Any) -> _Pool:
    d = vars(mod)
    kernel = _pair(d.get("kernel_size"), f"module {name} kernel_size")
    stride = kernel if d.get("stride") is None else _pair(d["stride"], f"module {name} stride")
    padding = _pair(d.get("padding", 0), f"module {name} padding")
    if min(*kernel, *stride) < 1 or min(padding) < 0:
        raise ModelImportError(
            f"module {name}: kernel {kernel}, stride {stride}, padding {padding}"
        )
    return _Pool(name, kernel, stride, padding, bool(d.get("export_mode", False)))


@dataclass
class _Flatten:
    name: str
    in_shape: tuple[int, int, int] | None = None  # (C, H, W) when after spatial layers

    def forward(self, x: Any) -> Any:
        return x.flatten(1)


@dataclass
class _Head:
    k: int | None
    tau: float | None  # None: not in the file (a state_dict)
    beta: float


def _walk(obj: Any, name: str = "") -> list[tuple[str, Any]]:
    """(name, module) in forward order: containers (Sequential, ModuleList,
    torchlogix.models' classes, which run their children in order) are opened, anything
    else is a layer."""
    cls = class_name(obj)
    if cls in CONTAINERS or cls.startswith("torchlogix.models."):
        out = []
        for key, child in (vars(obj).get("_modules") or {}).items():
            if child is not None:
                out += _walk(child, f"{name}.{key}" if name else key)
        return out
    return [(name, obj)]


def _from_model(obj: Any) -> tuple[list[Any], _Head]:
    stages: list[Any] = []
    head: _Head | None = None
    for i, (name, mod) in enumerate(_walk(obj)):
        name = name or str(i)
        cls = class_name(mod)
        if head is not None and cls != IDENTITY:
            raise ModelImportError(f"module {name}: {cls.rsplit('.', 1)[-1]} after the GroupSum")
        if cls == DENSE:
            stages.append(_dense_module(name, mod))
        elif cls == CONV:
            stages.append(_conv_module(name, mod))
        elif cls == POOL:
            stages.append(_pool_module(name, mod))
        elif cls == FLATTEN:
            d = vars(mod)
            if int(d.get("start_dim", 1)) != 1 or int(d.get("end_dim", -1)) != -1:
                raise ModelImportError(
                    f"module {name}: Flatten(start_dim={d.get('start_dim')}, "
                    f"end_dim={d.get('end_dim')}); only Flatten() (dims 1..-1) is supported"
                )
            stages.append(_Flatten(name))
        elif cls == GROUP_SUM:
            d = vars(mod)
            head = _Head(int(d["k"]), float(d.get("tau", 1.0)), float(d.get("beta", 0.0)))
        elif cls in (IDENTITY, DUMMY):
            continue
        elif cls in UNSUPPORTED:
            hint = BINARIZATION_HINT if "binarization" in cls else ""
            raise ModelImportError(f"module {name}: {cls}: {UNSUPPORTED[cls]}{hint}")
        else:
            raise ModelImportError(
                f"module {name}: {cls} is not part of a torchlogix network (LogicConv2d, "
                "OrPooling2d, Flatten, LogicDense, GroupSum)"
            )
    return stages, head or _Head(None, 1.0, 0.0)


def _from_state_dict(sd: dict[str, Any]) -> list[_Dense]:
    """The LogicDense layers of a state_dict, in its order."""
    prefixes: list[str] = []
    for key in sd:
        key = str(key)
        if ".tree_weights." in key or "._indices_L" in key:
            raise ModelImportError(
                f"a state_dict holds no conv layer's geometry, pooling or flatten (key {key}); "
                "save the whole model with torch.save(model, path)"
            )
        if key.endswith(("thresholds", "raw_diffs")):
            raise ModelImportError(
                f"key {key}: input binarization is not imported" + BINARIZATION_HINT
            )
        for suffix in (
            ".weight", ".connections.indices", ".connections.weights", "._export_lut_ids",
            ".connections._export_indices",
        ):  # fmt: skip
            if key.endswith(suffix):
                prefix = key[: -len(suffix)]
                if prefix not in prefixes:
                    prefixes.append(prefix)
                break
        else:
            raise ModelImportError(f"key {key} is not part of a torchlogix LogicDense")
    layers = []
    for p in prefixes:
        name = p or "0"
        weight, ids = sd.get(f"{p}.weight"), sd.get(f"{p}._export_lut_ids")
        indices = sd.get(f"{p}.connections._export_indices") if ids is not None else None
        if indices is None and f"{p}.connections.weights" in sd:
            cand_w = _tensor(sd[f"{p}.connections.weights"])
            cand_i = _tensor(sd.get(f"{p}.connections.indices")).long()
            if cand_w.ndim != 3 or tuple(cand_i.shape) != tuple(cand_w.shape):
                raise ModelImportError(f"module {name}: malformed learnable connections")
            indices = cand_i.gather(0, cand_w.argmax(0).unsqueeze(0)).squeeze(0)
        elif indices is None:
            indices = sd.get(f"{p}.connections.indices")
        if indices is None or (weight is None and ids is None):
            raise ModelImportError(f"module {name}: a LogicDense without weights or connections")
        kind = None
        if ids is None:
            entries = int(_tensor(weight).shape[-1]) if _tensor(weight).ndim else 0
            if entries == 4:
                raise ModelImportError(
                    f"module {name}: 4 coefficients per LUT (warp or light); a state_dict "
                    "does not say which; save the whole model with torch.save(model, path)"
                )
            kind = "raw"
        layers.append(_dense_layer(name, None if ids is not None else weight, indices, kind,
                                   None, ids))  # fmt: skip
    return layers


def read_model(path: Path) -> tuple[list[Any], _Head]:
    """The stages (conv, pool, flatten, dense) and the GroupSum of a torchlogix file."""
    import torch

    classes = list(KNOWN) + list(UNSUPPORTED)
    try:  # the file's torchlogix classes (a models.* container, say), never run
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        classes += [n for n in names if n.startswith("torchlogix.") and n not in classes]
    except Exception:  # noqa: BLE001 - unreadable files are reported by load_torch_file
        pass
    obj = load_torch_file(path, classes, "torchlogix")
    if isinstance(obj, dict):
        inner = obj.get("model", obj.get("state_dict"))
        if inner is not None and not isinstance(inner, dict):
            obj = inner  # {"model": model, ...}
        else:
            sd = inner if isinstance(inner, dict) else obj
            if not sd or not all(hasattr(v, "shape") for v in sd.values()):
                raise ModelImportError(f"{path}: no torchlogix layer in this checkpoint")
            k = obj.get("k", obj.get("num_classes")) if inner is not None else None
            tau = obj.get("tau") if inner is not None else None
            head = _Head(None if k is None else int(k), None if tau is None else float(tau), 0.0)
            return _from_state_dict(sd), head
    return _from_model(obj)


# ------------------------------------------------------------------ netlist
def _shapes(stages: list[Any], options: ImportOptions) -> tuple[int, tuple[int, int, int] | None]:
    """Check how the stages fit together; the input bits and, for a conv network, the
    input map (C, H, W)."""
    first_dense = next((i for i, s in enumerate(stages) if isinstance(s, _Dense)), None)
    if first_dense is None:
        raise ModelImportError("no torchlogix LogicDense in this checkpoint")
    spatial = [s for s in stages[:first_dense] if isinstance(s, (_Conv, _Pool))]
    if not spatial:
        for s in stages:
            if isinstance(s, (_Conv, _Pool)):
                raise ModelImportError(f"module {s.name}: a spatial layer after a LogicDense")
        stages[:] = [s for s in stages if not isinstance(s, _Flatten)]
        in_dim = stages[0].in_dim
        if options.num_inputs is not None and options.num_inputs != in_dim:
            raise ModelImportError(
                f"--inputs {options.num_inputs}, but the first LogicDense takes {in_dim} inputs"
            )
        return in_dim, None
    first = spatial[0]
    if isinstance(first, _Conv):
        shape = first.in_shape
        if options.image is not None and tuple(options.image) != shape[1:]:
            raise ModelImportError(
                f"--image {options.image[0]}x{options.image[1]}, but module {first.name} "
                f"takes {shape[1]}x{shape[2]}"
            )
    else:
        if options.image is None or options.num_inputs is None:
            raise ModelImportError(
                f"module {first.name}: the network starts with OrPooling2d, whose input size "
                "is not in the file; pass --image HxW and --inputs N"
            )
        h, w = options.image
        if options.num_inputs % (h * w):
            raise ModelImportError(f"--inputs {options.num_inputs} is not a multiple of {h}x{w}")
        shape = (options.num_inputs // (h * w), h, w)
    cur = shape
    flat_seen = False
    for s in stages:
        if isinstance(s, _Conv):
            if flat_seen:
                raise ModelImportError(f"module {s.name}: a LogicConv2d after the Flatten")
            if s.in_shape != cur:
                raise ModelImportError(
                    f"module {s.name}: takes [C, H, W] = {list(s.in_shape)}, gets {list(cur)}"
                )
            cur = s.out_shape
        elif isinstance(s, _Pool):
            if flat_seen:
                raise ModelImportError(f"module {s.name}: an OrPooling2d after the Flatten")
            s.in_shape = cur
            (kh, kw), (ph, pw) = s.kernel, s.padding
            if 2 * ph > kh or 2 * pw > kw:
                raise ModelImportError(
                    f"module {s.name}: padding {s.padding} is more than half the kernel"
                )
            cur = s.out_shape
            if min(cur[1:]) < 1:
                raise ModelImportError(f"module {s.name}: no output positions")
        elif isinstance(s, _Flatten):
            if flat_seen:
                raise ModelImportError(f"module {s.name}: a second Flatten")
            s.in_shape, flat_seen = cur, True
        elif not flat_seen:
            raise ModelImportError(
                f"module {s.name}: a LogicDense reads a [C, H, W] map; put a Flatten before it"
            )
    num_inputs = shape[0] * shape[1] * shape[2]
    if options.num_inputs is not None and options.num_inputs != num_inputs:
        raise ModelImportError(
            f"--inputs {options.num_inputs}, but the network takes {list(shape)} = {num_inputs} "
            "input bits"
        )
    return num_inputs, shape


def to_netlist(
    stages: list[Any], num_classes: int, options: ImportOptions, meta: dict[str, Any]
) -> tuple[Netlist, list[str]]:
    num_inputs, image = _shapes(stages, options)
    encoder = input_encoder(num_inputs, options.thresholds)
    to_gateflow = gate_map()
    notes: list[str] = []
    layers: list[Any] = []
    prev_dim = stages[0].in_dim if image is None else None
    # prev: first signal of the previous stage's outputs; remap: torchlogix index -> offset
    prev, base, remap = 0, num_inputs, None
    for s in stages:
        if isinstance(s, _Conv):
            c, h, w = s.in_shape
            layers.append(
                ConvLayer(
                    in_shape=(h, w, c),
                    kernel=s.kernel,
                    stride=(s.stride, s.stride),
                    padding=(s.padding, s.padding),
                    depth=s.depth,
                    leaf_y=s.leaves[..., 0].numpy().astype(np.int64),
                    leaf_x=s.leaves[..., 1].numpy().astype(np.int64),
                    leaf_c=s.leaves[..., 2].numpy().astype(np.int64),
                    op=to_gateflow[s.ops.numpy()],
                )
            )
        elif isinstance(s, _Pool):
            c, h, w = s.in_shape
            ph, pw = s.padding
            if ph or pw:  # the zero border as a 1x1 pass-through conv (gate A of leaf 0)
                layers.append(
                    ConvLayer(
                        in_shape=(h, w, c),
                        kernel=(1, 1),
                        stride=(1, 1),
                        padding=(ph, pw),
                        depth=1,
                        leaf_y=np.zeros((c, 2), dtype=np.int64),
                        leaf_x=np.zeros((c, 2), dtype=np.int64),
                        leaf_c=np.repeat(np.arange(c, dtype=np.int64)[:, None], 2, axis=1),
                        op=np.full((c, 1), _gate((0, 0, 1, 1)), dtype=np.int64),
                    )
                )
                notes.append(
                    f"{s.name}: OrPooling2d padding {s.padding} imported as a 1x1 pass-through "
                    f"conv with that zero padding, then unpadded OR pooling"
                )
                h, w = h + 2 * ph, w + 2 * pw
            layers.append(OrPoolLayer(in_shape=(h, w, c), kernel=s.kernel, stride=s.stride))
        elif isinstance(s, _Flatten):
            c, h, w = s.in_shape
            layers.append(FlattenLayer(in_shape=(h, w, c)))
            # torchlogix's flat index t = (ch*H + y)*W + x is gateflow's (y*W + x)*C + ch
            t = np.arange(c * h * w)
            ch, y, x = t // (h * w), (t // w) % h, t % w
            remap = (y * w + x) * c + ch
            prev, base, prev_dim = num_inputs, num_inputs + c * h * w, c * h * w
        else:
            if s.in_dim != prev_dim:
                raise ModelImportError(
                    f"module {s.name} takes {s.in_dim} inputs but gets {prev_dim}"
                )
            a, b = s.a.numpy().astype(np.int64), s.b.numpy().astype(np.int64)
            if remap is not None:
                a, b, remap = remap[a], remap[b], None
            layers.append(LogicLayer(a=a + prev, b=b + prev, op=to_gateflow[s.ids.numpy()]))
            prev, base, prev_dim = base, base + s.out_dim, s.out_dim
    head = group_head(prev, prev_dim, num_classes)
    return finish(Netlist(encoder, layers, head, meta)), notes


def reference(stages: list[Any], image: tuple[int, int, int] | None, num_classes: int):
    """torchlogix's eval-mode (or export-mode) forward from the tensors, as integer class
    scores: gateflow's input bits as torchlogix's input ([n, C, H, W] for a conv
    network), every stage's forward, then GroupSum's per-class sums (before beta and
    / tau, i.e. the counts)."""
    import torch

    def forward(bits: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(bits), dtype=torch.float32)
        if image is not None:
            c, h, w = image
            x = x.reshape(-1, h, w, c).permute(0, 3, 1, 2)
        with torch.no_grad():
            for s in stages:
                x = s.forward(x)
            x = x.to(torch.float32)
            sums = x.reshape(*x.shape[:-1], num_classes, x.shape[-1] // num_classes).sum(-1)
            return integer_scores(sums, 1.0, "torchlogix GroupSum")

    return forward


def read(path: Path, options: ImportOptions) -> Imported:
    stages, head = read_model(path)
    k = head.k
    if options.num_classes is not None:
        if k is not None and k != options.num_classes:
            raise ModelImportError(
                f"--classes {options.num_classes}, but the model's GroupSum has k={k}"
            )
        k = options.num_classes
    if k is None:
        raise ModelImportError(f"{path}: no GroupSum in the checkpoint; pass --classes K")
    conv = any(isinstance(s, (_Conv, _Pool)) for s in stages)
    kinds = sorted({s.kind for s in stages if isinstance(s, (_Dense, _Conv)) and s.kind})
    modes = sorted({"export" if s.export else "eval" for s in stages if hasattr(s, "export")})
    imported: dict[str, Any] = {"format": "torchlogix", "file": path.name}
    meta = {"arch": "lgn-conv" if conv else "lgn", "imported": imported}
    net, notes = to_netlist(stages, k, options, meta)
    imported.update(
        layers=[_describe(s) for s in stages], parametrization=kinds, mode=modes, tau=head.tau
    )
    if head.beta:
        notes.append(
            f"GroupSum beta={head.beta} adds the same constant to every class score; the "
            "netlist's scores are the counts"
        )
        imported["beta"] = head.beta
    image = None
    first = next((s for s in stages if isinstance(s, (_Conv, _Pool))), None)
    if first is not None:
        image = first.in_shape
    return Imported(net, reference(stages, image, k), notes)


def _describe(s: Any) -> str:
    if isinstance(s, _Dense):
        return f"dense {s.in_dim}->{s.out_dim}"
    if isinstance(s, _Conv):
        c, h, w = s.out_shape
        return f"conv {s.ops.shape[0]}x{s.kernel[0]}x{s.kernel[1]} depth {s.depth} -> {c}x{h}x{w}"
    if isinstance(s, _Pool):
        return f"orpool {s.kernel[0]}x{s.kernel[1]}/{s.stride[0]} pad {s.padding[0]}"
    return "flatten"
