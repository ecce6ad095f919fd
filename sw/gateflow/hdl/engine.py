"""The time-multiplexed form of a convolutional netlist (docs/engine.md).

The spatial form (:mod:`gateflow.hdl.codegen`) unrolls every conv tree at every image
position: one image per clock, and a size that grows with the image. This form keeps
each kernel tree **once** and reuses it over the image:

- ``gf_image_source`` takes the encoded sample from ``s_axis`` and hands it on one
  pixel (C bits) per clock, in raster order;
- each conv or OR-pooling layer is one ``gf_window`` stage: a line buffer of the last
  KH-1 rows, KW-1 column registers and, generated here, its K kernel trees (or one OR
  per channel) over the current window; a stage computes one output position per clock
  and passes it on, so the stages run as a dataflow pipeline;
- a collector shifts the last map's positions into the flattened feature vector;
- the dense layers after ``flatten`` are the gate network :mod:`gateflow.hdl.codegen`
  generates for the tail netlist (:func:`tail_netlist`), fed straight from the
  collector, and GroupSum is ``gf_serial_groupsum``: it counts a few bits of every
  class per clock while the stages stream the next sample (:func:`serial_groupsum`).

The core keeps the ports, the manifest and the output packing of every gateflow core,
so the board top, the host driver and the benches take it unchanged; the manifest adds
``form``, ``cycles_per_sample`` and the stages. :func:`schedule` runs the engine's
handshakes cycle by cycle, the RTL's control in Python, to give the latency and the
cycles per sample the manifest states and the simulator checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.gates import GATES
from gateflow.hdl.groupsum import SerialTail, TailModel, bits_per_cycle, group_size, render_serial
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

# unrolled, one image per clock; time-multiplexed (conv netlists); one gate per clock
FORMS = ("spatial", "tm", "seq")
# how dense layers are built: every gate, or the sequential core (a board's dense_form,
# the engine's tail)
DENSE_FORMS = ("spatial", "seq")


class EngineError(GateflowError):
    """A netlist the time-multiplexed engine cannot be generated for."""


@dataclass(frozen=True)
class Stage:
    """One gf_window stage: a conv or OR-pooling layer over an [H, W, C] map."""

    layer: ConvLayer | OrPoolLayer
    index: int  # the layer's index in the netlist

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def params(self) -> dict[str, int]:
        h, w, c = self.layer.in_shape
        (kh, kw), (sh, sw) = self.layer.kernel, self.layer.stride
        ph, pw = self.layer.padding if isinstance(self.layer, ConvLayer) else (0, 0)
        k = self.layer.out_shape[2]
        return {"H": h, "W": w, "C": c, "KH": kh, "KW": kw, "SH": sh, "SW": sw,
                "PH": ph, "PW": pw, "K": k}  # fmt: skip

    @property
    def positions(self) -> int:
        """Positions of the padded map the stage walks per image."""
        p = self.params
        return (p["H"] + 2 * p["PH"]) * (p["W"] + 2 * p["PW"])


def stages(net: Netlist) -> tuple[list[Stage], FlattenLayer, int]:
    """The engine's stages, the flatten layer and its index; refuses (one line) a
    netlist that the engine cannot stream."""
    if not net.has_spatial:
        raise EngineError(
            "the time-multiplexed form streams conv layers; this netlist has none (use the "
            "spatial form)"
        )
    out: list[Stage] = []
    for li, layer in enumerate(net.layers):
        if isinstance(layer, FlattenLayer):
            if not out:
                raise EngineError("the time-multiplexed form needs a conv or pooling layer")
            first = out[0].layer.in_shape
            if int(np.prod(first)) != net.num_inputs:
                raise EngineError(
                    f"the first map {first} does not hold the {net.num_inputs} input bits"
                )
            return out, layer, li
        if not isinstance(layer, ConvLayer | OrPoolLayer):
            break
        out.append(Stage(layer, li))
    raise EngineError("the time-multiplexed form needs the spatial layers first, then flatten")


def tail_netlist(net: Netlist) -> Netlist:
    """The dense layers and head after ``flatten`` as a netlist of their own, whose input
    bit i is flattened bit i (position-major, docs/ir.md), folded and with dead gates
    removed (every input bit kept, the collector's order)."""
    from gateflow.ir.passes import fold, remove_dead

    _, flatten, fi = stages(net)
    first = net.layer_offsets()[fi]
    n = flatten.size

    def renumber(sig: np.ndarray, where: str) -> np.ndarray:
        if sig.size and int(sig.min()) < first:
            raise EngineError(
                f"{where} reads the input bits past the conv layers; the time-multiplexed "
                "form feeds the dense layers the flattened map only"
            )
        return sig - first

    layers: list[LogicLayer | ThresholdLayer] = []
    for li in range(fi + 1, len(net.layers)):
        layer = net.layers[li]
        if isinstance(layer, ThresholdLayer):
            layers.append(
                ThresholdLayer(
                    ptr=layer.ptr.copy(),
                    src=renumber(layer.src, f"layer {li}"),
                    weight=layer.weight.copy(),
                    threshold=layer.threshold.copy(),
                )
            )
        elif isinstance(layer, LogicLayer):
            # an operand the gate ignores (a constant's, say) may be any signal: input 0
            uses_a = np.array([GATES[o].uses_a() for o in layer.op], dtype=bool)
            uses_b = np.array([GATES[o].uses_b() for o in layer.op], dtype=bool)
            layers.append(
                LogicLayer(
                    a=renumber(np.where(uses_a, layer.a, first), f"layer {li}"),
                    b=renumber(np.where(uses_b, layer.b, first), f"layer {li}"),
                    op=layer.op.copy(),
                )
            )
        else:
            raise EngineError(f"layer {li}: a {layer.kind} layer after flatten")
    head = GroupSum([renumber(g, "the head") for g in net.head.groups], net.head.class_names)
    encoder = ThermometerEncoder(
        num_raw_features=n, feature=np.arange(n), threshold=np.ones(n, dtype=np.int64)
    )
    tail = validate(Netlist(encoder, layers, head, {}))
    return validate(remove_dead(fold(tail), keep_inputs=True))


def _kernel_logic(stage: Stage, si: int) -> list[str]:
    """SystemVerilog assignments of ``f`` from ``win`` for one stage."""
    p = stage.params
    kw, c = p["KW"], p["C"]
    lines: list[str] = []
    w, f = f"s{si}_win", f"s{si}_f"
    layer = stage.layer
    if isinstance(layer, OrPoolLayer):
        taps = p["KH"] * kw
        for ch in range(c):
            terms = " | ".join(f"{w}[{t * c + ch}]" for t in range(taps))
            lines.append(f"assign {f}[{ch}] = {terms};")
        return lines
    for k in range(layer.out_channels):
        names = [
            f"{w}[{(int(y) * kw + int(x)) * c + int(ch)}]"
            for y, x, ch in zip(layer.leaf_y[k], layer.leaf_x[k], layer.leaf_c[k])
        ]
        for level, cols in enumerate(layer.level_slices()):
            nxt = []
            for j, col in enumerate(range(cols.start, cols.stop)):
                g = GATES[int(layer.op[k, col])]
                name = f"s{si}_k{k}_l{level}_{j}"
                expr = g.expr(names[2 * j], names[2 * j + 1])
                lines.append(f"wire {name} = {expr};  // {g.name}")
                nxt.append(name)
            names = nxt
        lines.append(f"assign {f}[{k}] = {names[0]};")
    return lines


class _Collector:
    """The flattened-map register and the dense tail after it (the spatial tail): the
    collector takes positions until the map is full, then hands it on when the tail
    is ready. ``tail``: its serial GroupSum (TailModel follows it), or the latency of a
    tail that is always ready."""

    def __init__(self, n_col: int, tail: int | SerialTail) -> None:
        self.n_col = n_col
        self.model = TailModel(tail) if isinstance(tail, SerialTail) else None
        self.latency = 0 if self.model else int(tail)
        steps, stages = (tail.steps, tail.net_stages) if self.model else (0, 0)
        self.clocks = n_col + self.latency + steps + stages  # per sample, at most
        self.count = 0

    def ready(self) -> bool:
        full = self.count == self.n_col
        return (not full) or (self.model.ready() if self.model else True)

    def clock(self, offered: bool) -> int | None:
        """One clock with a position offered: the delay to this clock's result, if one
        leaves (``m_axis_tvalid``), else None."""
        full = self.count == self.n_col
        tail_ready = self.model.ready() if self.model else True
        pix_in = offered and ((not full) or tail_ready)
        take = full and tail_ready
        out = None
        if self.model:
            if self.model.clock(full)[1]:
                out = 0
        elif take:
            out = self.latency
        if take:
            self.count = 1 if pix_in else 0
        elif pix_in:
            self.count += 1
        return out


class _SeqTail:
    """The sequential tail: gf_pos_words turns each position into ``per`` words and
    gf_gate_seq (WORD_IN) takes them word by word, then runs its program."""

    def __init__(self, program: Any, channels: int) -> None:
        from gateflow.hdl.seq import SeqModel

        self.seq = SeqModel(program)
        self.per = -(-channels // 16)
        self.busy, self.idx = False, 0
        self.clocks = program.in_words + program.size + 8

    def ready(self) -> bool:
        if self.per == 1:
            return self.seq.ready()
        return (not self.busy) or (self.idx == self.per - 1 and self.seq.ready())

    def clock(self, offered: bool) -> int | None:
        if self.per == 1:
            return 0 if self.seq.clock(offered)[1] else None
        took = offered and self.ready()
        word_took, done = self.seq.clock(self.busy)
        if took:
            self.busy, self.idx = True, 0
        elif word_took:
            if self.idx == self.per - 1:
                self.busy = False
            else:
                self.idx += 1
        return 0 if done else None


def schedule(
    stage_list: list[Stage], tail: int | SerialTail | Any, images: int = 4
) -> dict[str, Any]:
    """The engine's handshakes, cycle by cycle as the RTL makes them, for ``images``
    samples offered back to back and an output that is always taken: the cycle each
    sample enters, the cycle its result leaves (``m_axis_tvalid``), their latencies
    and the cycles between entries. ``tail``: the dense tail with its serial GroupSum
    (:class:`~gateflow.hdl.groupsum.TailModel` follows it), the latency of a tail
    that is always ready, or a sequential tail's program (:class:`_SeqTail`)."""
    last = stage_list[-1].layer.out_shape
    n_col = last[0] * last[1]
    if isinstance(tail, int | SerialTail):
        sink: _Collector | _SeqTail = _Collector(n_col, tail)
    else:
        sink = _SeqTail(tail, last[2])
    n_pix = stage_list[0].params["H"] * stage_list[0].params["W"]
    st = [dict(y=0, x=0, ry=0, rx=0, mv=False, **s.params) for s in stage_list]
    left, fed = 0, 0
    accepted: list[int] = []
    outs: list[int] = []
    cycle = 0
    per_image = sum(s.positions for s in stage_list) + sink.clocks
    limit = (images + 2) * (per_image + 16)
    settle = None  # cycles from reset until the idle engine stops moving
    while len(outs) < images:
        if settle is None:
            before = [(d["y"], d["x"], d["ry"], d["rx"], d["mv"]) for d in st]
        if cycle > limit:
            raise EngineError("the engine's schedule did not finish: a handshake deadlocks")
        # readies, from the tail back to the source
        col_ready = sink.ready()
        down = col_ready
        flags = []
        for s in reversed(st):
            hp, wp = s["H"] + 2 * s["PH"], s["W"] + 2 * s["PW"]
            pad = (
                s["y"] < s["PH"]
                or s["y"] >= s["PH"] + s["H"]
                or s["x"] < s["PW"]
                or (s["x"] >= s["PW"] + s["W"])
            )
            at = s["y"] >= s["KH"] - 1 and s["x"] >= s["KW"] - 1 and s["ry"] == 0 and s["rx"] == 0
            go = (not at) or (not s["mv"]) or down
            flags.append((pad, at, go, down, hp, wp))
            down = (not pad) and go
        flags.reverse()
        src_ready = down
        in_ready = left == 0 or (left == 1 and src_ready)
        in_fire = settle is not None and fed < images and in_ready
        # transfers and updates
        up_valid = left > 0
        if up_valid and src_ready:
            left -= 1
        if in_fire:
            left = n_pix
            accepted.append(cycle)
            fed += 1
        for s, (pad, at, go, m_ready, hp, wp) in zip(st, flags):
            adv = go and (pad or up_valid)
            out_valid = s["mv"]
            if adv and at:
                s["mv"] = True
            elif m_ready:
                s["mv"] = False
            if adv:
                last_x = s["x"] == wp - 1
                s["x"] = 0 if last_x else s["x"] + 1
                s["rx"] = 0 if (s["x"] == s["KW"] - 1 or s["rx"] == s["SW"] - 1) else s["rx"] + 1
                if last_x:
                    s["y"] = 0 if s["y"] == hp - 1 else s["y"] + 1
                    s["ry"] = (
                        0 if (s["y"] == s["KH"] - 1 or s["ry"] == s["SH"] - 1) else s["ry"] + 1
                    )
            up_valid = out_valid
        out = sink.clock(up_valid)
        if out is not None:
            outs.append(cycle + out)  # m_axis_tvalid, taken at once
        if settle is None and before == [(d["y"], d["x"], d["ry"], d["rx"], d["mv"]) for d in st]:
            settle, cycle = cycle, -1  # samples are offered from here on; count from 0
        cycle += 1
    latencies = [o - a for a, o in zip(accepted, outs)]
    gaps = [b - a for a, b in zip(accepted, accepted[1:])]
    return {
        "settle": settle,
        "accepted": accepted,
        "outputs": outs,
        "latencies": latencies,
        "intervals": gaps,
    }


def _settled(values: list[int]) -> list[int] | None:
    """``values`` up to where they stay constant (the last entry repeats from there on),
    or None when the last two differ."""
    if len(values) < 2 or values[-1] != values[-2]:
        return None
    k = len(values) - 1
    while k > 0 and values[k - 1] == values[-1]:
        k -= 1
    return values[: k + 1]


def periodic(timing: dict[str, Any]) -> dict[str, list[int]]:
    """The unstalled timing as the manifest states it, for samples offered back to back
    from ``settle_cycles`` after reset on (an idle engine: its first stage has walked the
    top padding and waits for the first pixel): ``latency_cycles[k]`` is sample k's
    latency and ``interval_cycles[k]`` the cycles from sample k's input handshake to
    sample k+1's, each list's last entry holding for every later sample. (The first
    sample meets an idle engine; later ones wait in the source while the first stage
    walks the previous sample's last padding and the next one's first.)"""
    lat, gaps = _settled(timing["latencies"]), _settled(timing["intervals"])
    if lat is None or gaps is None:
        raise EngineError(
            f"the engine's timing did not settle (latencies {timing['latencies']}, intervals "
            f"{timing['intervals']}); please report this netlist"
        )
    return {"settle_cycles": timing["settle"], "latency_cycles": lat, "interval_cycles": gaps}


def _summary(stage: Stage) -> str:
    p = stage.params
    shape = f"[{p['H']}, {p['W']}, {p['C']}] -> {list(stage.layer.out_shape)}"
    if isinstance(stage.layer, OrPoolLayer):
        return f"OR pooling {p['KH']}x{p['KW']}, stride {p['SH']}x{p['SW']}, {shape}"
    return (
        f"{p['K']} trees of depth {stage.layer.depth} over {p['KH']}x{p['KW']}, stride "
        f"{p['SH']}x{p['SW']}, padding {p['PH']}x{p['PW']}, {shape}"
    )


def serial_groupsum(tail: Netlist, stage_list: list[Stage]) -> SerialTail:
    """How gf_serial_groupsum counts the tail's class groups (gateflow.hdl.groupsum): the
    largest group, which every group is padded to, and the fewest bits per clock that
    keep up with the stages (:func:`~gateflow.hdl.groupsum.bits_per_cycle`); the tail's
    network registers are not counted here (``net_stages`` 0)."""
    group = group_size(tail)
    # the least gap between samples reaching an unrolled (always ready) tail
    reach = schedule(stage_list, 0, images=6)["outputs"]
    k = bits_per_cycle(group, min(b - a for a, b in zip(reach, reach[1:])))
    return SerialTail(net_stages=0, group=group, bits_per_cycle=k)


def generate_engine(net: Netlist, out_dir, opts) -> Any:
    """Write the time-multiplexed core of the conv netlist ``net`` (see the module
    docstring) to ``out_dir``: the engine top ``opts.top``, its dense core
    ``<top>_tail`` (with ``<top>_tail_net``), the RTL library and manifest.json."""
    from gateflow.hdl import codegen
    from gateflow.hdl.library import ENGINE_RTL, RTL_LIBRARY, SERIAL_RTL
    from gateflow.ir.netlist import index_width, score_width

    stage_list, flatten, _ = stages(net)
    tail = tail_netlist(net)
    header = codegen.header_line(net)
    tail_top = f"{opts.top}_tail"
    sw, iw = score_width(tail), index_width(tail)
    last = stage_list[-1].layer.out_shape
    library = (*RTL_LIBRARY, *ENGINE_RTL, *SERIAL_RTL)
    if opts.tail == "seq":
        from gateflow.hdl import seq
        from gateflow.hdl.library import SEQ_RTL, SEQ_TAIL_RTL

        program = seq.compile_program(tail, seq.position_layout(last[0] * last[1], last[2]))
        texts = seq.render(tail, program, opts, header, tail_top, word_in=True)
        timing = periodic(schedule(stage_list, program, images=6))
        tail_figures: dict[str, Any] = {"tail": "seq", "seq": program.figures()}
        library = (*RTL_LIBRARY, *ENGINE_RTL, *SEQ_RTL, *SEQ_TAIL_RTL)
    else:
        per_cycle = serial_groupsum(tail, stage_list).bits_per_cycle
        texts, serial = render_serial(tail, opts, header, tail_top, per_cycle)
        timing = periodic(schedule(stage_list, serial, images=6))
        tail_figures = {
            "tail": "spatial",
            "tail_latency_cycles": serial.latency,
            "groupsum": serial.figures(),
        }
    steady = timing["interval_cycles"][-1]
    h, w, c = stage_list[0].layer.in_shape
    ctx = [
        {
            "index": i,
            "p": s.params,
            "summary": _summary(s),
            "logic": _kernel_logic(s, i),
        }
        for i, s in enumerate(stage_list)
    ]
    text = (
        codegen._env()
        .get_template("engine.sv.j2")
        .render(
            header=header,
            top=opts.top,
            tail=tail_top,
            num_inputs=net.num_inputs,
            out_width=iw + (tail.num_classes * sw if opts.scores else 0),
            in_h=h,
            in_w=w,
            in_c=c,
            stages=ctx,
            num_positions=last[0] * last[1],
            num_features=flatten.size,
            last_c=last[2],
            interval=steady,
            latency=max(timing["latency_cycles"]),
            seq_tail=opts.tail == "seq",
        )
    )
    texts[f"{opts.top}.sv"] = text
    manifest = codegen.build_manifest(tail, opts, [*library, *texts], net)
    manifest.update(
        {
            "form": "tm",
            "latency_cycles": max(timing["latency_cycles"]),
            "cycles_per_sample": steady,
            "schedule": timing,
            "throughput_samples_per_cycle": 1 / steady,
            "input": {**manifest["input"], "width": net.num_inputs},
            "engine": {
                "stages": [
                    {"layer": s.index, "kind": s.kind, **s.params, "positions": s.positions}
                    for s in stage_list
                ],
                "features": flatten.size,
                "tail_gates": tail.num_gates,
                **tail_figures,
            },
        }
    )
    manifest["input"]["encoder"] = net.encoder.to_dict()
    return codegen.write_core(Path(out_dir), opts.top, library, texts, manifest)
