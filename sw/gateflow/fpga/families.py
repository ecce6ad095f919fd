"""The one table of FPGA families: what the flow needs to know of each, whatever the board."""

from __future__ import annotations

from dataclasses import dataclass


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


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "ice40", "icestorm", "pcf", "synth_ice40", ".bin",
            "ICESTORM_LC", "ICESTORM_LC", "ICESTORM_RAM", (("SB_LUT4", 1),),
        ),
        Family(
            "ecp5", "trellis", "lpf", "synth_ecp5", ".bit",
            "TRELLIS_COMB", "TRELLIS_FF", "DP16KD", (("LUT4", 1), ("CCU2C", 2)),
        ),
        Family(
            "gowin", "apicula", "cst", "synth_gowin", ".fs",
            "LUT4", "DFF", "BSRAM",
            (("LUT1", 1), ("LUT2", 1), ("LUT3", 1), ("LUT4", 1), ("ALU", 1)),
        ),
    )
}  # fmt: skip
