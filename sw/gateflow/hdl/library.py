"""The hand-written RTL library's file lists, read from its FuseSoC core
(``hw/gateflow_rtl.core``): the ``core`` fileset (what every generated core needs beside
its own files), the ``engine`` fileset (the time-multiplexed engine's stages), the
``groupsum`` fileset (the serial GroupSum), the ``seq`` fileset (the sequential
core), the ``seq_tail`` fileset (the engine's words for a sequential tail) and the
``board`` fileset (the shared board top and what it needs), in
compile order. Codegen, the bitstream build, the simulated board and the tests take them
from here."""

from __future__ import annotations

import yaml

from gateflow.errors import GateflowError
from gateflow.paths import HW

CORE_FILE = HW / "gateflow_rtl.core"


def fileset(name: str) -> tuple[str, ...]:
    """File names (in ``hw/rtl``) of one fileset of the RTL library's core."""
    try:
        text = CORE_FILE.read_text()
        files = yaml.safe_load(text.split("\n", 1)[1])["filesets"][name]["files"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise GateflowError(f"{CORE_FILE}: cannot read fileset {name!r} ({exc})") from None
    return tuple(str(f).rsplit("/", 1)[-1] for f in files)


#: What a generated core needs from hw/rtl, in compile order.
RTL_LIBRARY = fileset("core")
#: What the time-multiplexed engine needs besides RTL_LIBRARY (gateflow.hdl.engine).
ENGINE_RTL = fileset("engine")
#: The serial GroupSum (gateflow.hdl.groupsum): the engine's, or a dense core's with
#: CoreOptions(groupsum="serial").
SERIAL_RTL = fileset("groupsum")
#: The sequential core (gateflow.hdl.seq): all a core of CoreOptions(form="seq") needs.
SEQ_RTL = fileset("seq")
#: What the time-multiplexed engine needs besides ENGINE_RTL and SEQ_RTL for a
#: sequential tail: its last stage's positions as 16-bit words.
SEQ_TAIL_RTL = fileset("seq_tail")
#: The board top and the hand-written RTL it needs besides the generated core.
BOARD_RTL = fileset("board")
