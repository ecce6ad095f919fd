"""The sequential form of a logic gate network (docs/seq.md): one gate per clock.

A spatial core builds every gate of the network; on a small FPGA most of its LUTs are
the gates and the class popcounts. ``gf_gate_seq`` (hw/rtl) builds none of them: it
keeps every signal of the network in a block-RAM value memory and evaluates the gates
one per clock from a **program** in a block-RAM ROM, then counts each class's group
bit by bit. Its logic is the same few hundred LUTs for any network; the network's
size goes into block RAM and into clocks per sample.

:func:`compile_program` turns a flat netlist of two-input gates into the program and
the value memory's layout; :func:`run_program` executes a program exactly as the RTL
does (the memory words, the implicit write pointer, the counts), so the layout is
checked against the golden model without a simulator; :func:`render` writes the core
``top`` (the program ROM and ``gf_gate_seq``), and :func:`timing` gives the latency and
the cycles per sample that the manifest states and the cocotb bench checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gateflow.errors import GateflowError
from gateflow.gates import BY_NAME
from gateflow.ir.netlist import LogicLayer, Netlist, index_width, score_width

WORD = 16  # bits per value-memory word
NOP, WRITE, WRITE_END, COUNT, COUNT_END = range(5)  # instruction kinds (gf_gate_seq.sv)
OP_PASS_A = BY_NAME["A"].id  # a count of a stored signal: the gate that passes a on
#: clocks of a sample beyond its instructions: fetch, operand read, then the result
PIPELINE = 3
#: The ROM's depth is padded to a power of two up to this depth (iCE40 block RAM's
#: deepest shape, 2,048 x 2): Yosys then fills whole blocks, where for an odd depth it
#: trades a block for a depth multiplexer of a LUT per instruction bit and block
#: (1,584 x 27 bits: 12 blocks and 135 LUT4 against 14 blocks and none).
ROM_PAD_DEPTH = 2048


class SeqError(GateflowError):
    """A netlist the sequential core cannot be generated for."""


@dataclass(frozen=True)
class Program:
    """A compiled network: ``kind``, ``op``, ``a``, ``b`` per instruction (a and b are
    bit addresses in the value memory), the memory's size and the input's words."""

    kind: np.ndarray  # int64 [n]
    op: np.ndarray
    a: np.ndarray
    b: np.ndarray
    words: int  # value-memory words
    in_words: int  # words the input bits fill
    num_classes: int
    in_addr: np.ndarray  # int64 [num_inputs]: each input bit's bit address

    @property
    def size(self) -> int:
        return int(self.kind.shape[0])

    @property
    def addr_width(self) -> int:
        return max(1, (self.words * WORD - 1).bit_length())

    @property
    def width(self) -> int:
        """Bits per instruction: kind, op and two addresses."""
        return 7 + 2 * self.addr_width

    def encoded(self) -> list[int]:
        """The instructions as the ROM holds them: {kind, op, b, a}."""
        aw = self.addr_width
        return [
            (int(k) << (2 * aw + 4)) | (int(o) << (2 * aw)) | (int(b) << aw) | int(a)
            for k, o, a, b in zip(self.kind, self.op, self.a, self.b)
        ]

    def figures(self) -> dict[str, int]:
        """The manifest's ``seq`` entry."""
        return {
            "instructions": self.size,
            "instruction_bits": self.width,
            "rom_bits": self.size * self.width,
            "value_words": self.words,
            "value_bits": 2 * self.words * WORD,  # two copies, one per operand
            "input_words": self.in_words,
        }


def timing(program: Program) -> dict[str, int]:
    """Unstalled: a sample's result comes ``latency`` clocks after its input handshake and
    a sample is taken every ``interval`` clocks (the input's words, the program, the
    pipeline)."""
    latency = program.size + PIPELINE
    return {"latency": latency, "interval": latency + program.in_words}


def position_layout(num_positions: int, channels: int) -> tuple[np.ndarray, int]:
    """The input layout of a sample that arrives position by position, ``channels`` bits
    each, input bit ``p * channels + c`` being channel c of position p (a flattened map):
    each position takes ceil(channels / 16) whole words, so that a producer writes it
    without packing. Returns every input bit's bit address and the words."""
    per = -(-channels // WORD)
    pos, ch = np.divmod(np.arange(num_positions * channels, dtype=np.int64), channels)
    return (pos * per + ch // WORD) * WORD + ch % WORD, num_positions * per


def compile_program(net: Netlist, layout: tuple[np.ndarray, int] | None = None) -> Program:
    """The program of a flat netlist of logic layers (see :mod:`gf_gate_seq`'s header):
    every layer but the last writes its gates to the value memory, each layer from a new
    word and followed by a Nop; then, class by class, each grouped signal is counted: a
    last-layer gate is evaluated there (its result is never stored), any other signal is
    read back through a pass-through gate. ``layout``: where the input bits are (bit
    addresses) and the words they fill (:func:`position_layout`); by default input bit i
    is at bit i."""
    for li, layer in enumerate(net.layers):
        if not isinstance(layer, LogicLayer):
            raise SeqError(
                f"layers[{li}] is a {layer.kind} layer; the sequential core evaluates "
                "two-input gates only (use the spatial form)"
            )
    n_in = net.num_inputs
    if layout is None:
        layout = (np.arange(n_in, dtype=np.int64), max(1, -(-n_in // WORD)))
    in_addr, in_words = layout
    offsets = net.layer_offsets()
    addr = np.zeros(net.num_signals, dtype=np.int64)
    addr[:n_in] = in_addr
    rows: list[tuple[int, int, int, int]] = []
    base = in_words
    layers = [(li, lay) for li, lay in enumerate(net.layers) if lay.size]
    written, last = layers[:-1], (layers[-1] if layers else None)
    for li, layer in written:
        lo = offsets[li]
        addr[lo : lo + layer.size] = base * WORD + np.arange(layer.size)
        for j in range(layer.size):
            kind = WRITE_END if j == layer.size - 1 else WRITE
            rows.append((kind, int(layer.op[j]), int(addr[layer.a[j]]), int(addr[layer.b[j]])))
        rows.append((NOP, 0, 0, 0))
        base += -(-layer.size // WORD)
    lo, hi = (offsets[last[0]], offsets[last[0] + 1]) if last else (0, 0)
    for group in net.head.groups:
        counts = []
        for s in (int(v) for v in group):
            if lo <= s < hi:
                layer = last[1]  # type: ignore[index]
                j = s - lo
                counts.append((int(layer.op[j]), int(addr[layer.a[j]]), int(addr[layer.b[j]])))
            else:
                counts.append((OP_PASS_A, int(addr[s]), 0))
        rows += [(COUNT, *c) for c in counts[:-1]]
        rows.append((COUNT_END, *counts[-1]))
    kind, op, a, b = (np.array(col, dtype=np.int64) for col in zip(*rows))
    return Program(kind=kind, op=op, a=a, b=b, words=max(base, 2), in_words=in_words,
                   num_classes=net.num_classes, in_addr=in_addr)  # fmt: skip


def run_program(program: Program, bits: np.ndarray) -> np.ndarray:
    """Execute ``program`` on encoded samples ``bits`` uint8 [n, num_inputs] as gf_gate_seq
    does, all samples at once: the value memory word by word, the write pointer, the
    class counts. Returns the scores int64 [n, num_classes]."""
    bits = np.asarray(bits, dtype=np.uint8)
    n = bits.shape[0]
    mem = np.zeros((n, program.words * WORD), dtype=np.uint8)
    mem[:, program.in_addr] = bits
    wptr, wbit = program.in_words, 0
    cnt = np.zeros(n, dtype=np.int64)
    scores = []
    for kind, op, a, b in zip(program.kind, program.op, program.a, program.b):
        if kind == NOP:
            continue
        idx = 3 - (2 * mem[:, a].astype(np.int64) + mem[:, b])
        y = (int(op) >> idx) & 1
        if kind in (WRITE, WRITE_END):
            mem[:, wptr * WORD + wbit] = y
            if wbit == WORD - 1 or kind == WRITE_END:
                wptr, wbit = wptr + 1, 0
            else:
                wbit += 1
        else:
            cnt = cnt + y
            if kind == COUNT_END:
                scores.append(cnt)
                cnt = np.zeros(n, dtype=np.int64)
    if len(scores) != program.num_classes:
        raise SeqError(f"the program counted {len(scores)} classes, not {program.num_classes}")
    return np.stack(scores, axis=1)


def rom_depth(program: Program) -> int:
    """The program ROM's declared depth: the instructions, padded (ROM_PAD_DEPTH)."""
    pad = 1 << max(0, (program.size - 1).bit_length())
    return pad if pad <= ROM_PAD_DEPTH else program.size


class SeqModel:
    """The handshakes of gf_gate_seq with WORD_IN (a sample as ``in_words`` word
    transfers), clock by clock as the RTL makes them, with an output that is always
    taken: Load takes a word per clock, then the program runs for N + 2 clocks, then the
    result is out for one."""

    def __init__(self, program: Program) -> None:
        self.run_clocks = program.size + PIPELINE - 1
        self.words = program.in_words
        self.state, self.word, self.left = "load", 0, 0

    def ready(self) -> bool:
        """``s_axis_tready`` in this clock."""
        return self.state == "load"

    def clock(self, offered: bool) -> tuple[bool, bool]:
        """One clock with a word offered or not: whether it was taken, and whether a
        result left (``m_axis_tvalid``)."""
        done = self.state == "out"
        took = offered and self.state == "load"
        if self.state == "load":
            if took and self.word == self.words - 1:
                self.state, self.word, self.left = "run", 0, self.run_clocks
            elif took:
                self.word += 1
        elif self.state == "run":
            self.left -= 1
            if self.left == 0:
                self.state = "out"
        else:
            self.state = "load"
        return took, done


def render(
    net: Netlist, program: Program, opts, header: str, top: str, word_in: bool = False
) -> dict[str, str]:
    """The core ``top`` (``gf_gate_seq`` and its program ROM) and the ROM ``<top>_rom``
    (block RAM, its contents in an initial block): ``{file name: text}`` in compile
    order. ``word_in``: the sample arrives as 16-bit words, one per transfer (the
    engine's sequential tail; ``program``'s input layout says where each bit is)."""
    from gateflow.hdl import codegen

    sw, iw = score_width(net), index_width(net)
    width = program.width
    digits = -(-width // 4)
    pcw = max(1, (program.size - 1).bit_length())
    depth = rom_depth(program)
    t = timing(program)
    ctx = {
        "header": header,
        "top": top,
        "num_inputs": WORD if word_in else net.num_inputs,
        "word_in": word_in,
        "in_words": program.in_words,
        "num_classes": net.num_classes,
        "score_width": sw,
        "index_width": iw,
        "scores": opts.scores,
        "out_width": iw + (net.num_classes * sw if opts.scores else 0),
        "n_instr": program.size,
        "words": program.words,
        "addr_width": program.addr_width,
        "width": width,
        "pcw": pcw,
        "depth": depth,
        "num_gates": net.num_gates,
        "latency": t["latency"],
        "interval": t["interval"],
    }
    env = codegen._env()
    rom = [f"{width}'h{v:0{digits}x}" for v in program.encoded()]
    return {
        f"{top}_rom.sv": env.get_template("seq_rom.sv.j2").render(rom=rom, **ctx),
        f"{top}.sv": env.get_template("seq.sv.j2").render(**ctx),
    }


def manifest_entries(program: Program) -> dict[str, Any]:
    """What the manifest of a sequential core states beyond a spatial core's."""
    t = timing(program)
    return {
        "form": "seq",
        "latency_cycles": t["latency"],
        "cycles_per_sample": t["interval"],
        "throughput_samples_per_cycle": 1 / t["interval"],
        # the bench checks these: every sample the same, none to wait for after reset
        "schedule": {
            "latency_cycles": [t["latency"]],
            "interval_cycles": [t["interval"]],
            "settle_cycles": 0,
        },
        # the core holds its result until m_axis_tready, with or without the option
        "backpressure": True,
        "seq": program.figures(),
    }
