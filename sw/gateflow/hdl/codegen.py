"""Codegen: netlist IR -> a streaming SystemVerilog core plus manifest.json.

The generated network module holds the gates and the pipeline registers; a
generated wrapper puts it between an input register and the hand-written
GroupSum (gf_popcount), argmax (gf_argmax) and output skid buffer
(gf_skid_buffer) from hw/rtl. Output is deterministic: the same IR and options
always give the same bytes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from gateflow import __version__
from gateflow.errors import GateflowError
from gateflow.gates import GATES
from gateflow.hdl.library import BOARD_RTL, RTL_LIBRARY
from gateflow.hdl.manifest import MANIFEST_VERSION
from gateflow.hdl.neurons import describe, rtl_expr
from gateflow.ir.lower import for_hardware
from gateflow.ir.netlist import Netlist, ThresholdLayer, index_width, score_width
from gateflow.paths import RTL, TEMPLATES
from gateflow.protocol import DEFAULT_BAUD, DEFAULT_TIMEOUT_BITS, DEFAULT_WINDOW


@dataclass(frozen=True)
class CoreOptions:
    top: str = "gf_core"
    pipeline_every: int = 1  # a register stage after every N gate layers; 0 = none
    popcount_every: int = 0  # a register stage after every N popcount adder levels; 0 = none
    argmax_every: int = 0  # a register stage after every N argmax comparator levels; 0 = none
    scores: bool = True  # put the class scores on m_axis_tdata beside the class index
    # False: no clock enable, s_axis_tready always high; the consumer must always be ready
    backpressure: bool = True
    # "spatial": every conv position unrolled, one sample per clock; "tm": the
    # time-multiplexed engine of a conv netlist (gateflow.hdl.engine); "seq": one gate
    # per clock from a program in block RAM (gateflow.hdl.seq)
    form: str = "spatial"
    # "tree": a popcount tree per class, one sample per clock; "serial": gf_serial_groupsum,
    # one bit of every class per clock (gateflow.hdl.groupsum); None: tree for the
    # spatial form, serial (its only GroupSum) for the engine
    groupsum: str | None = None
    # the time-multiplexed engine's dense tail: "spatial" (every gate built, a serial
    # GroupSum) or "seq" (the sequential core, fed word by word; gateflow.hdl.seq)
    tail: str = "spatial"

    @property
    def serial(self) -> bool:
        """Whether the core counts the classes over several clocks (gf_serial_groupsum, or
        the sequential core's counts)."""
        return self.groupsum == "serial" or self.form in ("tm", "seq")

    def check(self) -> None:
        from gateflow.hdl.engine import DENSE_FORMS, FORMS
        from gateflow.hdl.groupsum import GROUPSUMS

        if self.form not in FORMS:
            raise GateflowError(f"form must be one of {', '.join(FORMS)}, not {self.form!r}")
        if self.groupsum is not None and self.groupsum not in GROUPSUMS:
            raise GateflowError(
                f"groupsum must be one of {', '.join(GROUPSUMS)}, not {self.groupsum!r}"
            )
        if self.tail not in DENSE_FORMS:
            raise GateflowError(f"tail must be one of {', '.join(DENSE_FORMS)}, not {self.tail!r}")
        if self.tail == "seq" and self.form != "tm":
            raise GateflowError(
                "--tail seq is the time-multiplexed engine's dense tail; it goes with --form tm "
                "(a dense network's sequential core is --form seq)"
            )
        if self.form in ("tm", "seq") and self.groupsum == "tree":
            what = "time-multiplexed engine" if self.form == "tm" else "sequential core"
            raise GateflowError(
                f"the {what} counts the classes serially; --groupsum tree "
                "goes with the spatial form"
            )
        if self.serial and (self.popcount_every or self.argmax_every):
            raise GateflowError(
                "--popcount-every and --argmax-every pipeline the popcount and argmax trees; "
                "a serial GroupSum counts the classes over several clocks and has none"
            )
        if self.pipeline_every < 0:
            raise GateflowError("pipeline_every must be 0 (no registers) or a positive integer")
        if self.popcount_every < 0 or self.argmax_every < 0:
            raise GateflowError(
                "popcount_every and argmax_every must be 0 (no registers) or positive integers"
            )
        if not self.top.isidentifier() or not self.top.isascii():
            raise GateflowError(f"top module name {self.top!r} is not a valid identifier")


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def net_stages(num_layers: int, pipeline_every: int) -> int:
    """Register boundaries inside the network module."""
    return num_layers // pipeline_every if pipeline_every else 0


def _tree_stages(leaves: int, every: int) -> int:
    """Registers inside a balanced tree over ``leaves`` inputs: one after every ``every``
    levels, none after the root (0 = none)."""
    if not every:
        return 0
    levels = max(leaves - 1, 0).bit_length()  # ceil(log2(leaves))
    return max(-(-levels // every) - 1, 0)


def popcount_stages(net: Netlist, popcount_every: int) -> int:
    """Register stages inside each class's popcount (sized by the widest class group)."""
    return _tree_stages(max(int(g.size) for g in net.head.groups), popcount_every)


def argmax_stages(net: Netlist, argmax_every: int) -> int:
    """Register stages inside the argmax over the classes."""
    return _tree_stages(net.num_classes, argmax_every)


def latency_cycles(
    num_layers: int,
    pipeline_every: int,
    pop_stages: int = 0,
    arg_stages: int = 0,
    backpressure: bool = True,
    input_register: bool = True,
) -> int:
    """Input handshake to m_axis_tvalid, never stalled: input reg + network + popcount
    + scores + argmax + the output buffer (only with backpressure)."""
    out = 1 if backpressure else 0
    regs = 3 if input_register else 2
    return net_stages(num_layers, pipeline_every) + pop_stages + arg_stages + regs + out


def core_latency(net: Netlist, opts: CoreOptions, input_register: bool = True) -> int:
    """The latency of the dense core of ``net`` (a flat netlist)."""
    return latency_cycles(
        len(net.layers),
        opts.pipeline_every,
        popcount_stages(net, opts.popcount_every),
        argmax_stages(net, opts.argmax_every),
        opts.backpressure,
        input_register,
    )


def _network_context(net: Netlist, every: int, module: str) -> dict[str, Any]:
    n_in = net.num_inputs
    n_layers = len(net.layers)
    total_stages = net_stages(n_layers, every)
    offsets = net.layer_offsets()
    layer_stage = [(li // every) if every else 0 for li in range(n_layers)]

    prod = np.zeros(net.num_signals, dtype=np.int64)
    need = np.full(net.num_signals, -1, dtype=np.int64)
    for li, layer in enumerate(net.layers):
        prod[offsets[li] : offsets[li + 1]] = layer_stage[li]
        if isinstance(layer, ThresholdLayer):
            np.maximum.at(need, layer.src[layer.weight != 0], layer_stage[li])
            continue
        uses_a = np.array([GATES[o].uses_a() for o in layer.op])
        uses_b = np.array([GATES[o].uses_b() for o in layer.op])
        np.maximum.at(need, layer.a[uses_a], layer_stage[li])
        np.maximum.at(need, layer.b[uses_b], layer_stage[li])
    flat = np.concatenate(net.head.groups)
    need[flat] = total_stages

    def base(s: int) -> str:
        return f"x{s}" if s < n_in else f"n{s}"

    def name(s: int, stage: int) -> str:
        if stage == prod[s]:
            return f"x[{s}]" if s < n_in else f"n{s}"
        return f"p{stage}_{base(s)}"

    stages = []
    for st in range(total_stages + 1):
        regs = []
        if st > 0:
            crossing = np.flatnonzero((prod < st) & (need >= st))
            regs = [{"dst": name(int(s), st), "src": name(int(s), st - 1)} for s in crossing]
        layers = []
        for li in range(n_layers):
            if layer_stage[li] != st:
                continue
            layer = net.layers[li]
            gates = []
            if isinstance(layer, ThresholdLayer):
                for j, (src, w, t) in enumerate(layer.neurons()):
                    names = [name(int(s), st) for s in src]
                    gates.append(
                        {
                            "name": f"n{offsets[li] + j}",
                            "expr": rtl_expr(names, w, t),
                            "op": describe(w, t),
                        }
                    )
                layers.append({"index": li, "kind": "threshold", "gates": gates})
                continue
            for j in range(layer.size):
                g = GATES[int(layer.op[j])]
                gates.append(
                    {
                        "name": f"n{offsets[li] + j}",
                        "expr": g.expr(name(int(layer.a[j]), st), name(int(layer.b[j]), st)),
                        "op": g.name,
                    }
                )
            layers.append({"index": li, "kind": "logic", "gates": gates})
        stages.append({"index": st, "registers": regs, "layers": layers})
    outputs = [{"index": j, "src": name(int(s), total_stages)} for j, s in enumerate(flat)]
    return {
        "module": module,
        "num_gates": net.num_gates,
        "num_layers": n_layers,
        "num_inputs": n_in,
        "num_outputs": len(flat),
        "boundaries": total_stages,
        "pipeline_every": every,
        "stages": stages,
        "outputs": outputs,
    }


@dataclass
class GeneratedCore:
    out_dir: Path
    top: str
    files: list[Path]  # every source, in compile order
    manifest: dict[str, Any]

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / "manifest.json"


def build_manifest(
    net: Netlist, opts: CoreOptions, files: list[str], source: Netlist | None = None
) -> dict[str, Any]:
    """The manifest of the core of ``net``; ``source`` is the IR it was lowered from (a
    convolutional netlist, see :func:`gateflow.ir.lower.for_hardware`), which it quotes."""
    source = source or net
    sw, iw = score_width(net), index_width(net)
    out_width = iw + (net.num_classes * sw if opts.scores else 0)
    fields: list[dict[str, Any]] = [{"name": "class", "lsb": 0, "width": iw}]
    if opts.scores:
        fields += [
            {"name": f"score{c}", "lsb": iw + c * sw, "width": sw} for c in range(net.num_classes)
        ]
    spatial: dict[str, Any] = {}
    if source.has_spatial:
        spatial = {
            "num_distinct_gates": source.num_distinct_gates,
            "num_unrolled_gates": source.num_unrolled_gates,
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": f"gateflow {__version__}",
        "ir_sha256": source.sha256(),
        "top": opts.top,
        "files": files,
        "interface": "axi-stream: s_axis_tvalid/tready/tdata in, m_axis_tvalid/tready/tdata out",
        "latency_cycles": core_latency(net, opts),
        "throughput_samples_per_cycle": 1,
        "pipeline_every": opts.pipeline_every,
        "popcount_every": opts.popcount_every,
        "popcount_stages": popcount_stages(net, opts.popcount_every),
        "argmax_every": opts.argmax_every,
        "argmax_stages": argmax_stages(net, opts.argmax_every),
        "backpressure": opts.backpressure,
        "num_gates": net.num_gates,
        "num_layers": len(net.layers),
        **spatial,
        "num_classes": net.num_classes,
        "input": {
            "width": net.num_inputs,
            "packing": "s_axis_tdata[i] = encoded input bit i (encoder entry i)",
            "encoder": net.encoder.to_dict(),
        },
        "output": {
            "width": out_width,
            "scores": opts.scores,
            "score_width": sw,
            "index_width": iw,
            "fields": fields,
            "argmax_ties": "lowest class index",
            **({"class_names": list(net.head.class_names)} if net.head.class_names else {}),
        },
    }


def header_line(source: Netlist) -> str:
    return f"Generated by gateflow {__version__} from IR sha256 {source.sha256()}; do not edit."


def render_network(net: Netlist, opts: CoreOptions, header: str, module: str) -> tuple[str, int]:
    """The network module ``module`` of a flat netlist (its gate layers and the register
    stages ``opts.pipeline_every`` puts between them) and its number of register stages."""
    ctx = _network_context(net, opts.pipeline_every, module)
    return _env().get_template("network.sv.j2").render(header=header, **ctx), ctx["boundaries"]


def render_dense(
    net: Netlist, opts: CoreOptions, header: str, top: str, input_register: bool = True
) -> dict[str, str]:
    """The SystemVerilog of the dense core of a flat netlist: ``{file name: text}``, the
    network module first, then the core ``top``."""
    env = _env()
    net_module = f"{top}_net"
    net_text, boundaries = render_network(net, opts, header, net_module)
    groups, lsb = [], 0
    for c, g in enumerate(net.head.groups):
        groups.append({"index": c, "lsb": lsb, "width": int(g.size)})
        lsb += int(g.size)
    sw, iw = score_width(net), index_width(net)
    core_text = env.get_template("core.sv.j2").render(
        header=header,
        top=top,
        net_module=net_module,
        num_inputs=net.num_inputs,
        num_outputs=lsb,
        num_classes=net.num_classes,
        score_width=sw,
        index_width=iw,
        out_width=iw + (net.num_classes * sw if opts.scores else 0),
        scores=opts.scores,
        backpressure=opts.backpressure,
        input_register=input_register,
        net_stages=boundaries,
        pop_stages=popcount_stages(net, opts.popcount_every),
        arg_stages=argmax_stages(net, opts.argmax_every),
        latency=core_latency(net, opts, input_register),
        groups=groups,
    )
    return {f"{net_module}.sv": net_text, f"{top}.sv": core_text}


def copy_library(out_dir: Path, files: tuple[str, ...]) -> None:
    for lib in files:
        src = RTL / lib
        if not src.exists():
            raise GateflowError(f"the RTL library file {src} is missing")
        shutil.copyfile(src, out_dir / lib)


def write_core(
    out_dir: Path, top: str, library: tuple[str, ...], texts: dict[str, str],
    manifest: dict[str, Any],
) -> GeneratedCore:  # fmt: skip
    """Copy the library, write the generated files and manifest.json; sources listed in
    compile order (library first)."""
    copy_library(out_dir, library)
    for name, text in texts.items():
        (out_dir / name).write_text(text)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return GeneratedCore(out_dir, top, [out_dir / n for n in manifest["files"]], manifest)


def generate(net: Netlist, out_dir: str | Path, opts: CoreOptions | None = None) -> GeneratedCore:
    """Write the core's SystemVerilog, the RTL library it uses and manifest.json to out_dir.

    A convolutional netlist is generated as its lowered flat netlist
    (:func:`gateflow.ir.lower.for_hardware`: unrolled, folded, dead gates removed, every
    input bit kept); the header and the manifest quote the IR given here. With
    ``opts.form == "tm"`` it is the time-multiplexed engine (:mod:`gateflow.hdl.engine`)."""
    opts = opts or CoreOptions()
    opts.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if opts.form == "tm":
        from gateflow.hdl.engine import generate_engine

        return generate_engine(net, out_dir, opts)
    source = net
    net = for_hardware(net)
    if opts.form == "seq":
        return _generate_seq(net, source, out_dir, opts)
    if opts.serial:
        return _generate_serial(net, source, out_dir, opts)
    texts = render_dense(net, opts, header_line(source), opts.top)
    manifest = build_manifest(net, opts, [*RTL_LIBRARY, *texts], source)
    return write_core(out_dir, opts.top, RTL_LIBRARY, texts, manifest)


def _generate_serial(
    net: Netlist, source: Netlist, out_dir: Path, opts: CoreOptions
) -> GeneratedCore:
    """The dense core of the flat netlist ``net`` with a serial GroupSum, one bit of every
    class per clock (gateflow.hdl.groupsum); its manifest states the cycles per sample and
    the unstalled schedule as the engine's does."""
    from gateflow.hdl.groupsum import DENSE_BITS_PER_CYCLE, render_serial, serial_schedule
    from gateflow.hdl.library import SERIAL_RTL

    header = header_line(source)
    texts, serial = render_serial(net, opts, header, opts.top, DENSE_BITS_PER_CYCLE)
    library = (*RTL_LIBRARY, *SERIAL_RTL)
    manifest = build_manifest(net, opts, [*library, *texts], source)
    timing = serial_schedule(serial)
    steady = timing["interval_cycles"][-1]
    manifest.update(
        {
            "groupsum": {"form": "serial", **serial.figures()},
            "latency_cycles": max(timing["latency_cycles"]),
            "cycles_per_sample": steady,
            "throughput_samples_per_cycle": 1 / steady,
            "schedule": timing,
        }
    )
    return write_core(out_dir, opts.top, library, texts, manifest)


def _generate_seq(net: Netlist, source: Netlist, out_dir: Path, opts: CoreOptions) -> GeneratedCore:
    """The sequential core of the flat netlist ``net`` (gateflow.hdl.seq): gf_gate_seq and
    its program ROM."""
    from gateflow.hdl import seq
    from gateflow.hdl.library import SEQ_RTL

    program = seq.compile_program(net)
    texts = seq.render(net, program, opts, header_line(source), opts.top)
    manifest = build_manifest(net, opts, [*SEQ_RTL, *texts], source)
    manifest.update(seq.manifest_entries(program))
    for key in ("pipeline_every", "popcount_every", "popcount_stages", "argmax_every",
                "argmax_stages"):  # fmt: skip
        manifest.pop(key)
    return write_core(out_dir, opts.top, SEQ_RTL, texts, manifest)


@dataclass(frozen=True)
class BoardOptions:
    """What the board design needs beyond the core: clock, link and LEDs."""

    clk_hz: int = 12_000_000
    baud: int = DEFAULT_BAUD
    n_leds: int = 1
    led_active_low: bool = False
    window: int = (
        DEFAULT_WINDOW  # INFER frames the host may keep outstanding (the result FIFO depth)
    )
    timeout_bits: int = DEFAULT_TIMEOUT_BITS  # bit periods of silence that end a partial frame
    block_ram: bool = True  # keep the board's FIFOs in block RAM
    module: str = "gf_board"

    def check(self) -> None:
        """The LEDs and the module name; clock, baud and window limits are the protocol's
        (checked by :func:`gateflow.protocol.board_parameters`)."""
        if self.n_leds < 1:
            raise GateflowError("a board needs at least one LED")
        if not self.module.isidentifier():
            raise GateflowError(f"board module name {self.module!r} is not a valid identifier")


def generate_board(core: GeneratedCore, opts: BoardOptions) -> Path:
    """Write the board design (``<module>.sv``) beside a generated core, and add the
    protocol facts the host needs to its manifest.json under ``board``."""
    opts.check()
    if core.top != "gf_core":
        raise GateflowError("the board top instantiates the core as gf_core; generate it so")
    from gateflow.protocol import ProtocolError, board_parameters, clks_per_bit

    m = core.manifest
    try:
        params = board_parameters(
            m,
            clk_hz=opts.clk_hz,
            baud=opts.baud,
            window=opts.window,
            timeout_bits=opts.timeout_bits,
            n_leds=opts.n_leds,
            led_active_low=opts.led_active_low,
            block_ram=opts.block_ram,
        )
    except ProtocolError as exc:
        raise GateflowError(f"board design: {exc}") from None
    if "cycles_per_sample" in m:
        # The frame receiver holds a sample only until the next frame's payload starts
        # to arrive; a core that takes a sample every few clocks (the time-multiplexed
        # engine, a serial GroupSum) must take each sample before then. It takes it at
        # once when it needs fewer cycles per sample than a frame lasts.
        frame = (int(m["input"]["width"]) + 7) // 8 * 10 * clks_per_bit(opts.clk_hz, opts.baud)
        if int(m["cycles_per_sample"]) > frame:
            what = {"tm": "time-multiplexed core", "seq": "sequential core"}.get(
                m.get("form"), "core"
            )
            fix = "--groupsum tree" if m.get("form") is None else "the spatial form"
            raise GateflowError(
                f"board design: the {what} needs {m['cycles_per_sample']} "
                f"cycles per sample, more than the {frame} clocks an INFER frame's payload "
                f"takes at this baud rate; use a lower --baud or {fix}"
            )
    text = (
        _env()
        .get_template("board.sv.j2")
        .render(
            header=f"Generated by gateflow {__version__} from IR sha256 {m['ir_sha256']}; "
            "do not edit.",
            module=opts.module,
            core=core.top,
            n_leds=opts.n_leds,
            params=list(params.items()),
        )
    )
    for lib in BOARD_RTL:
        shutil.copyfile(RTL / lib, core.out_dir / lib)
    path = core.out_dir / f"{opts.module}.sv"
    path.write_text(text)
    m["board"] = {
        "top": opts.module,
        "protocol": "gateflow-uart-v1 (docs/protocol.md)",
        "clk_hz": opts.clk_hz,
        "baud": opts.baud,
        "clocks_per_bit": clks_per_bit(opts.clk_hz, opts.baud),
        "window": opts.window,
        "timeout_bits": opts.timeout_bits,
        "model_id": m["ir_sha256"][:16],
        "in_bytes": (m["input"]["width"] + 7) // 8,
        "leds": opts.n_leds,
    }
    extra = [f for f in (*BOARD_RTL, path.name) if f not in m["files"]]
    m["files"] = [*m["files"], *extra]
    core.files.extend(core.out_dir / f for f in extra)
    core.manifest_path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    return path
