"""The generated board design (gf_board.sv) around a core: files, manifest, lint."""

import json

import pytest

from gateflow.errors import GateflowError
from gateflow.hdl.codegen import BoardOptions, CoreOptions, generate, generate_board
from gateflow.hdl.library import BOARD_RTL
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.protocol import clks_per_bit, model_id_bytes
from gateflow.verify.runner import verilator_lint


@pytest.fixture
def core(tmp_path):
    net, _ = run_passes(random_netlist(20, [60, 42], 3, seed=2))
    return generate(net, tmp_path / "core", CoreOptions(popcount_every=1, argmax_every=1))


def test_board_design_files_and_manifest(core):
    path = generate_board(core, BoardOptions(clk_hz=25_000_000, n_leds=8, window=4))
    m = json.loads(core.manifest_path.read_text())
    assert m["files"][-1] == path.name == "gf_board.sv"
    for f in BOARD_RTL:
        assert f in m["files"] and (core.out_dir / f).exists()
    board = m["board"]
    assert board["clk_hz"] == 25_000_000 and board["window"] == 4 and board["leds"] == 8
    assert board["clocks_per_bit"] == clks_per_bit(25_000_000, 115_200) == 217
    assert bytes.fromhex(board["model_id"]) == model_id_bytes(m["ir_sha256"])
    text = path.read_text()
    # MODEL_ID[7:0] is the digest's first byte: the literal ends with it
    assert f"64'h{model_id_bytes(m['ir_sha256'])[::-1].hex()}" in text
    assert ".N_LEDS(8)" in text and ".WINDOW(4)" in text


@pytest.mark.sim
@pytest.mark.parametrize("block_ram", [True, False])
def test_board_design_lints_clean(core, block_ram):
    generate_board(core, BoardOptions(clk_hz=12_000_000, n_leds=2, block_ram=block_ram))
    files = [core.out_dir / f for f in json.loads(core.manifest_path.read_text())["files"]]
    assert verilator_lint(files, toplevel="gf_board") == ""


@pytest.mark.parametrize(
    "opts, message",
    [
        (BoardOptions(clk_hz=300_000), "too slow a clock for 115200 baud"),
        (BoardOptions(window=0), "WINDOW must be 1..255"),
        (BoardOptions(n_leds=0), "LED"),
        (BoardOptions(baud=0), "positive"),
    ],
)
def test_bad_board_options(core, opts, message):
    with pytest.raises(GateflowError, match=message):
        generate_board(core, opts)
