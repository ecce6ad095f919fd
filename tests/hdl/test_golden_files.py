"""Every generated file is byte-identical to its golden copy.

The copies in golden/ were produced from the IR files beside them (random
netlists of each layer kind, the cases in golden/cases.json) before the package
was reorganised; codegen, the board design, the prove reference netlist and the
board builds' FuseSoC cores must keep producing exactly these bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateflow import ir
from gateflow.fpga.bitstream import BuildOptions, build_core_text
from gateflow.fpga.boards import load_board
from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
from gateflow.verify.prove import reference_verilog

GOLDEN = Path(__file__).parent / "golden"
CASES = json.loads((GOLDEN / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_generated_core_is_byte_identical(case, tmp_path):
    want = GOLDEN / case["name"]
    net = ir.load(want / "ir.json")
    core = generate(net, tmp_path, CoreOptions(**case["core"]))
    if case.get("board") is not None:
        generate_board(core, BoardOptions(**case["board"]))
    golden_files = sorted((want / "core").iterdir())
    assert golden_files
    for path in golden_files:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
    assert reference_verilog(net) == (want / "reference.v").read_text()


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s", "tangnano9k", "orangecrab"])
def test_board_build_core_is_byte_identical(board):
    text = build_core_text(load_board(board), Path("model/ir.json"), BuildOptions())
    assert text == (GOLDEN / f"board_{board}.core").read_text()
