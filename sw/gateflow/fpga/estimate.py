"""How many LUTs a network needs on an FPGA family, from its IR alone (no synthesis).

:func:`estimate_luts` counts what the generated core is made of and prices each
part with the family's calibrated costs (:class:`gateflow.fpga.families.LutCosts`):

- ``gates``: every two-input gate that is not a wire or a constant (one LUT4 each
  when every layer is registered, fewer when Yosys may merge unregistered layers);
- ``threshold``: threshold neurons by class (:mod:`gateflow.hdl.neurons`): AND/OR-like
  neurons as a tree of LUT4s, k-of-n and weighted ones by their addend bits (an input
  times ``|w|`` is one addend bit per set bit of ``|w|``);
- ``popcount``: the GroupSum's adder trees (``gf_popcount``), by their adder output bits;
  for the time-multiplexed engine its serial GroupSum (``gf_serial_groupsum``): a
  shift-register bit per grouped output, and per class a small count and an adder;
- ``argmax``: the comparators and multiplexers over the class scores;
- ``board``: the board design around the core (UART, framing, CRC, FIFOs), a fixed
  part plus a part per input and output bit.

``gateflow bitstream`` refuses a network whose estimate is above the device's
capacity by more than :data:`FIT_MARGIN` before it generates or synthesises
anything (:func:`fit_check`); ``report.json`` records the estimate beside the
measured figures (``luts_estimate``, ``core_luts_estimate``) so that the
calibration can be checked on every build.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gateflow.errors import GateflowError
from gateflow.fpga.boards import Board, board_names, load_board
from gateflow.fpga.families import FAMILIES
from gateflow.hdl.neurons import classify
from gateflow.ir.netlist import ConvLayer, LogicLayer, Netlist, index_width, score_width

# An estimate above capacity x FIT_MARGIN is refused without --force. The estimate was
# within 20% of the measured LUTs (or iCE40 logic cells) on the calibration builds
# (gateflow.fpga.families.LutCosts), so a network refused at 1.5x would need the estimate
# to be a third too high: it cannot fit. Between 1.0x and 1.5x the build runs, with a
# warning in its first progress line.
FIT_MARGIN = 1.5

# gate ops that need no LUT: FALSE, A, B, TRUE (gateflow.gates)
_FREE_GATES = (0, 3, 5, 15)


class FitError(GateflowError):
    """A network whose LUT estimate is clearly above the device's capacity."""


def popcount_adder_bits(width: int) -> int:
    """Adder output bits of gf_popcount's balanced tree over ``width`` inputs."""
    count_w = max(width, 1).bit_length()  # bits of a count 0 .. width
    levels = max(width - 1, 0).bit_length()
    bits, prev = 0, width
    for level in range(1, levels + 1):
        nodes = (width + (1 << level) - 1) >> level
        adds = sum(1 for i in range(nodes) if 2 * i + 1 < prev)
        bits += adds * min(level + 1, count_w)
        prev = nodes
    return bits


def _neuron_luts(w: np.ndarray, t: int, adder_bit: float) -> float:
    w = w[w != 0]
    kind = classify(w, t)
    if kind in ("TRUE", "FALSE", "WIRE"):
        return 0.0
    if w.size <= 2:  # the gate it reduces to
        return 1.0
    if kind in ("k-of-n", "weighted"):
        return adder_bit * sum(bin(abs(int(v))).count("1") for v in w)
    return float(max(1, -(-(w.size - 1) // 3)))  # a tree of LUT4s over the literals


def _family_of(target: Board | str) -> tuple[str, Board | None]:
    if isinstance(target, Board):
        return target.family, target
    if target in FAMILIES:
        return target, None
    board = load_board(target)
    return board.family, board


def estimate_luts(
    net: Netlist,
    target: Board | str,
    pipeline_every: int = 1,
    scores: bool = True,
    form: str = "spatial",
    groupsum: str | None = None,
    tail: str = "spatial",
) -> dict[str, Any]:
    """The LUTs ``net`` needs as a board build on ``target`` (a Board, a board name or a
    family name from gateflow.fpga.families), with a breakdown.

    Returns ``luts`` (the whole design, as report.json counts ``luts``), ``core_luts``
    (the network core alone), the parts (``gates``, ``threshold``, ``popcount``,
    ``argmax``, ``board``), ``cells`` (what the device's capacity is counted in: iCE40
    logic cells, else LUTs), ``family`` and, for a board, ``capacity`` and ``ratio``
    (cells / capacity). With ``groupsum="serial"`` the GroupSum is priced as
    gf_serial_groupsum. With ``form="tm"`` (a conv net as the time-multiplexed engine)
    the gates are the kernel trees once plus the dense tail, ``engine`` prices the
    sample register (a LUT per input bit) and each stage's counters, and on iCE40 the
    collector's flip-flops (one per flattened bit, each alone in a logic cell) add to
    ``cells``. With ``tail="seq"`` the engine's dense tail is the sequential core: no
    collector, and block RAMs are estimated (``brams``: its program and value memories,
    the stages' line buffers, the board's FIFOs).
    """
    family, board = _family_of(target)
    costs = FAMILIES[family].lut_costs
    gate_cost = costs.gate if pipeline_every == 1 else costs.gate_merged
    engine = 0.0
    ff_cells = 0  # flip-flops that take a logic cell of their own (iCE40)
    gates = 0
    n_in = net.num_inputs
    serial = None  # a serial GroupSum (gateflow.hdl.groupsum): the engine's, or groupsum="serial"
    if form == "tm":
        from gateflow.hdl.engine import serial_groupsum, stages, tail_netlist

        stage_list, flatten, _ = stages(net)
        for s in stage_list:
            if isinstance(s.layer, ConvLayer):
                gates += int(np.count_nonzero(~np.isin(s.layer.op, _FREE_GATES)))
            else:
                engine += s.layer.in_shape[2] * (s.layer.kernel[0] * s.layer.kernel[1] - 1) / 3
        # calibrated on the digits-conv engine on the iCEBreaker (docs/engine.md)
        engine += 1.1 * n_in + 60 * len(stage_list)
        if tail == "seq":
            return _estimate_seq(
                tail_netlist(net), family, board, scores, stage_list,
                {"gates": round(gates * costs.gate_merged), "engine": round(engine)},
            )  # fmt: skip
        ff_cells = flatten.size if family == "ice40" else 0
        net = tail_netlist(net)
        serial = serial_groupsum(net, stage_list)
    elif net.has_spatial:  # a conv net is built as its unrolled, simplified netlist
        from gateflow.ir.lower import for_hardware

        net = for_hardware(net)
    if form == "seq":
        return _estimate_seq(net, family, board, scores)
    if form != "tm" and groupsum == "serial":
        from gateflow.hdl.groupsum import DENSE_BITS_PER_CYCLE, SerialTail, group_size

        serial = SerialTail(
            net_stages=0, group=group_size(net), bits_per_cycle=DENSE_BITS_PER_CYCLE
        )
    threshold = 0.0
    shared = 0  # last-layer gates that share a LUT4 with the serial GroupSum's shift register
    if serial is not None and isinstance(net.layers[-1], LogicLayer):
        last = net.layers[-1]
        grouped = np.concatenate(net.head.groups) - net.layer_offsets()[-2]
        grouped = np.unique(grouped[(grouped >= 0) & (grouped < last.size)])
        shared = int(np.count_nonzero(~np.isin(last.op[grouped], _FREE_GATES)))
    for layer in net.layers:
        if isinstance(layer, LogicLayer):
            gates += int(np.count_nonzero(~np.isin(layer.op, _FREE_GATES)))
            continue
        for _, w, t in layer.neurons():
            threshold += _neuron_luts(np.asarray(w), t, costs.adder_bit)
    sw, iw = score_width(net), index_width(net)
    if serial is None:
        popcount = costs.popcount_bit * sum(
            popcount_adder_bits(int(g.size)) for g in net.head.groups
        )
    else:  # per class: a shift register with its load multiplexer, a K-bit count, an adder
        per_class = popcount_adder_bits(serial.bits_per_cycle) * costs.popcount_bit
        per_class += sw * costs.adder_bit
        bits = sum(int(g.size) for g in net.head.groups)
        popcount = costs.serial_bit * bits + net.num_classes * per_class
    argmax = costs.argmax_bit * (net.num_classes - 1) * (2 * sw + iw)
    out_bits = iw + (net.num_classes * sw if scores else 0)
    board_luts = costs.board + costs.board_bit * (n_in + out_bits)
    parts = {
        "gates": round((gates - shared) * gate_cost),
        "threshold": round(threshold),
        "popcount": round(popcount),
        "argmax": round(argmax),
        "board": round(board_luts),
    }
    if form == "tm":
        parts["engine"] = round(engine)
    core = sum(v for k, v in parts.items() if k != "board")
    luts = core + parts["board"]
    out: dict[str, Any] = {
        "family": family,
        "luts": luts,
        "core_luts": core,
        "cells": round(luts * costs.cells_per_lut + ff_cells),
        "parts": parts,
    }
    if board is not None:
        out["board_name"] = board.build_name
        out["capacity"] = board.resources["luts"]
        out["ratio"] = round(out["cells"] / out["capacity"], 3)
    return out


def _estimate_seq(
    net: Netlist,
    family: str,
    board: Board | None,
    scores: bool,
    stage_list: list | None = None,
    engine_parts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The sequential core (gateflow.hdl.seq): its LUTs do not grow with the network, its
    block RAMs do (the program ROM and the two value memories), so ``brams`` is
    estimated too and ``ratio`` is the larger of the LUT and block RAM ratios. With
    ``stage_list``, ``net`` is the dense tail of a time-multiplexed engine whose stages
    are priced in ``engine_parts``: the tail takes the words of the last map, and the
    stages' line buffers are counted as block RAM."""
    from gateflow.hdl import seq

    fam = FAMILIES[family]
    costs = fam.lut_costs
    n_in = net.num_inputs
    layout = None
    if stage_list is not None:
        h, w, c = stage_list[-1].layer.out_shape
        layout = seq.position_layout(h * w, c)
    program = seq.compile_program(net, layout)
    sw, iw = score_width(net), index_width(net)
    out_bits = iw + (net.num_classes * sw if scores else 0)
    parts = dict(engine_parts or {})
    # the sample multiplexer of a core that takes whole samples; an engine's tail takes words
    parts["seq"] = round(costs.seq + (0 if stage_list else costs.seq_in_bit * n_in))
    board_in = n_in if stage_list is None else int(np.prod(stage_list[0].layer.in_shape))
    parts["board"] = round(costs.board + costs.board_bit * (board_in + out_bits))
    depth = seq.rom_depth(program)
    brams = {
        "program": fam.brams(depth, program.width),
        "values": 2 * fam.brams(program.words, seq.WORD),
        # the board's SEQ FIFO (8 bits) and result FIFO ({SEQ, result}), 8 entries each
        "board": (fam.brams(8, 8) + fam.brams(8, 8 + out_bits)) if fam.board_fifo_bram else 0,
    }
    if stage_list is not None:  # each stage keeps KH - 1 rows of its padded map
        brams["line buffers"] = sum(
            fam.brams(s.params["W"] + 2 * s.params["PW"], (s.params["KH"] - 1) * s.params["C"])
            for s in stage_list
            if s.params["KH"] > 1
        )
    luts = sum(parts.values())
    out: dict[str, Any] = {
        "family": family,
        "luts": luts,
        "core_luts": luts - parts["board"],
        "cells": round(luts * costs.seq_cells_per_lut),
        "parts": parts,
        "brams": sum(brams.values()),
        "bram_parts": brams,
    }
    if board is not None:
        out["board_name"] = board.build_name
        out["capacity"] = board.resources["luts"]
        out["brams_capacity"] = board.resources["brams"]
        out["ratio"] = round(
            max(out["cells"] / out["capacity"], out["brams"] / out["brams_capacity"]), 3
        )
    return out


def boards_that_fit(
    net: Netlist,
    pipeline_every: int = 1,
    scores: bool = True,
    form: str = "spatial",
    groupsum: str | None = None,
    tail: str = "spatial",
) -> list[str]:
    """Boards (and variants, as ``board-variant``) whose capacity holds the estimate."""
    fits = []
    for name in board_names():
        first = load_board(name)
        for variant in first.variants or ("",):
            board = load_board(name, variant or None)
            est = estimate_luts(net, board, pipeline_every, scores, form, groupsum, tail)
            if est["ratio"] <= 1:
                fits.append(board.build_name)
    return fits


def fit_check(
    net: Netlist,
    board: Board,
    pipeline_every: int = 1,
    scores: bool = True,
    form: str = "spatial",
    groupsum: str | None = None,
    tail: str = "spatial",
) -> dict[str, Any]:
    """The estimate for ``board``; raises FitError when it is above capacity x FIT_MARGIN."""
    est = estimate_luts(net, board, pipeline_every, scores, form, groupsum, tail)
    if "brams" in est and est["brams"] > est["brams_capacity"]:
        # block RAMs cannot overflow into anything else: refused at once
        fits = boards_that_fit(net, pipeline_every, scores, form, groupsum, tail)
        where = f"a board that fits ({', '.join(fits)})" if fits else "a bigger device"
        parts = ", ".join(f"{k} {v}" for k, v in est["bram_parts"].items())
        raise FitError(
            f"{board.build_name}: the sequential core needs about {est['brams']} block RAMs "
            f"({parts}), the {board.device} has {est['brams_capacity']}; try smaller "
            f"--widths, {where}, or another --form"
        )
    if est["ratio"] > FIT_MARGIN:
        unit = "logic cells" if board.family == "ice40" else "LUTs"
        fits = boards_that_fit(net, pipeline_every, scores, form, groupsum, tail)
        where = f"a board that fits ({', '.join(fits)})" if fits else "a bigger device"
        raise FitError(
            f"{board.build_name}: the network needs about {est['cells']} {unit} (estimate), "
            f"the {board.device} has {est['capacity']} ({est['ratio']:.1f}x); "
            f"try smaller --widths, {where}, or --force to build anyway"
        )
    return est
