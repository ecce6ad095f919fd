"""The one table of FPGA families: what the flow needs to know of each, whatever the board."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LutCosts:
    """LUTs per part of a board build, for :func:`gateflow.fpga.estimate.estimate_luts`.

    Calibrated on builds with the default options (a register after every gate layer,
    scores on, seed 1): ``digits`` is the default digits network (128 inputs, 599 + 745
    gates, 10 groups of 100), ``small`` is ``random_netlist(48, [160, 120], 4, seed=7)``
    after the default passes (167 gates, 4 groups of 30), as tests/fpga builds it.
    Measured with ``gateflow bitstream --board B`` (digits: the default model) or
    ``--model M`` (report.json ``luts``, ``logic_cells``, ``core_luts``), beside the
    estimate (estimate / measured in brackets):

    ======================  =====  ===========  =========  ===========================
    board, model            luts   logic cells  core_luts  estimate (luts / cells)
    ======================  =====  ===========  =========  ===========================
    icebreaker, digits      3797   4585         3257       3705 (0.98) / 4631 (1.01)
    icebreaker, small        854   1141          376        871 (1.02) / 1089 (0.95)
    icebreaker, threshold    704   1051          237        746 (1.06) /  932 (0.89)
    ulx3s, digits           3999   -            3456       4058 (1.01)
    ulx3s, small            1025   -             535        923 (0.90)
    tangnano9k, digits      4720   -            3600       4674 (0.99)
    tangnano9k, small       1274   -             752       1020 (0.80)
    ======================  =====  ===========  =========  ===========================

    (``threshold``: ``random_netlist(48, [60, 40, 40], 4, seed=7, kind="mixed",
    fan_in=10)``.) The per-part costs come from synthesising the core and its network
    module alone (``gateflow.fpga.report.synth_core``) for networks of logic gates,
    binary and integer threshold neurons: a registered gate is one LUT4 on every family
    (0.96 to 1.0 measured), 0.63 when two gate layers share a register stage (digits,
    ``--pipeline-every 0`` and ``2``); an addend bit of a k-of-n or weighted neuron costs
    0.8 to 1.0 LUTs on iCE40, 1.07 on ECP5, 1.4 to 1.8 on Gowin. The board design's
    part is the whole design's LUTs less ``core_luts`` on the builds above; iCE40
    logic cells (LUT4, carry and flip-flop) were 1.21 to 1.49 x its LUTs.

    The time-multiplexed engine (``form="tm"``) was checked on the digits-conv net of
    ``make sim ARCH=conv FORM=tm`` on the iCEBreaker (docs/engine.md): 2,198 LUTs,
    3,695 logic cells, core 1,673; estimate 2,379 (1.08) / 3,838 (1.04). Its serial
    GroupSum's ``serial_bit`` (one LUT4 per grouped bit) matched that build's 1,089
    GroupSum LUTs for 1,000 bits.

    The sequential core (``form="seq"``) was synthesised alone (core_luts) for the
    digits network and three random ones of 48, 400 and 784 inputs: iCE40 308, 217,
    547 and 872 LUT4 (``seq`` + ``seq_in_bit`` x inputs: 290, 218, 535, 881); ECP5 362
    (the digits build on the ULX3S and the OrangeCrab), 213, 598 and 994 (332, 246,
    623, 1,034). Gowin: 398 on the Tang Nano 9K for the digits network (396), its only
    calibration point. iCE40 logic cells were 1.49 x the LUT4 of the sequential digits
    build and 1.54 x those of the digits-conv engine with a sequential tail
    (``seq_cells_per_lut``). On ECP5 and Gowin Yosys put the digits network's small value
    memories into LUT RAM; the block RAM estimate counts them as block RAM (5 against 3
    measured), which errs on the side of a refusal.
    """

    gate: float  # a two-input gate (not a wire or constant), every layer registered
    gate_merged: float  # the same when unregistered layers can be merged into LUT4s
    adder_bit: float  # one addend bit of a k-of-n or weighted threshold neuron
    popcount_bit: float  # one adder output bit of a GroupSum popcount tree
    argmax_bit: float  # per comparator bit of the argmax (2 x score width + index width)
    board: float  # the board design: UART, framing, CRC and FIFOs
    board_bit: float  # the board design, per input bit and output bit of the core
    cells_per_lut: float = 1.0  # what capacity counts per LUT (iCE40: logic cells)
    # one grouped bit of the engine's serial GroupSum (its shift register and load
    # multiplexer; the last gate layer shares those LUT4s when unregistered)
    serial_bit: float = 1.0
    # the sequential core (gf_gate_seq and its program ROM, gateflow.hdl.seq): a fixed
    # part and a part per input bit (the multiplexer that writes the sample into the
    # value memory a word at a time)
    seq: float = 175
    seq_in_bit: float = 0.9
    # what capacity counts per LUT in a design with a sequential core (iCE40 logic
    # cells: its registers and the board's are a larger share of a smaller design)
    seq_cells_per_lut: float = 1.0


@dataclass(frozen=True)
class Family:
    name: str
    flow: str  # the edalize flow
    constraint_suffix: str  # pcf, lpf or cst
    synth_command: str  # the Yosys synth command
    bitstream_suffix: str
    # nextpnr utilisation keys: LUT slots, flip-flops, block RAMs
    lut_bel: str
    ff_bel: str
    ram_bel: str
    # Yosys cells counted as LUTs after synthesis, each with its LUT weight
    lut_cells: tuple[tuple[str, int], ...]
    lut_costs: LutCosts
    # the shapes (depth, width) one block RAM takes, for the block RAM estimate
    bram_shapes: tuple[tuple[int, int], ...] = ()
    # the board design's FIFOs are in block RAM (gateflow.fpga.bitstream: iCE40 only)
    board_fifo_bram: bool = False

    def brams(self, depth: int, width: int) -> int:
        """Block RAMs for a memory of ``depth`` words of ``width`` bits, in its best shape."""
        return min(-(-depth // d) * -(-width // w) for d, w in self.bram_shapes)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "ice40", "icestorm", "pcf", "synth_ice40", ".bin",
            "ICESTORM_LC", "ICESTORM_LC", "ICESTORM_RAM", (("SB_LUT4", 1),),
            LutCosts(1.0, 0.63, 0.9, 0.58, 1.0, 445, 0.47, cells_per_lut=1.25,
                     seq_cells_per_lut=1.5),
            ((2048, 2), (1024, 4), (512, 8), (256, 16)), board_fifo_bram=True,
        ),
        Family(
            "ecp5", "trellis", "lpf", "synth_ecp5", ".bit",
            "TRELLIS_COMB", "TRELLIS_FF", "DP16KD", (("LUT4", 1), ("CCU2C", 2)),
            LutCosts(1.0, 0.63, 1.1, 0.7, 1.0, 462, 0.4, seq=195, seq_in_bit=1.07),
            ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
        ),
        Family(
            "gowin", "apicula", "cst", "synth_gowin", ".fs",
            "LUT4", "DFF", "BSRAM",
            (("LUT1", 1), ("LUT2", 1), ("LUT3", 1), ("LUT4", 1), ("ALU", 1)),
            LutCosts(1.0, 0.63, 1.6, 0.9, 1.0, 494, 0.4, seq=255, seq_in_bit=1.1),
            ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
        ),
    )
}  # fmt: skip
