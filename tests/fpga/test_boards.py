"""Boards as data: every board file loads, its constraint file is derived from it."""

import pytest

from gateflow.fpga.bitstream import build_core_text
from gateflow.fpga.boards import (
    BoardError,
    board_names,
    constraint_text,
    load_board,
)

REQUIRED = {"icebreaker", "ulx3s", "orangecrab", "tangnano9k"}


def test_the_required_boards_exist():
    assert REQUIRED <= set(board_names())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_constraint_file_is_in_sync_with_the_board_file(name):
    board = load_board(name)
    assert board.constraint_file.read_text() == constraint_text(board), (
        f"constraints/{board.constraint_file.name} is stale: run `gateflow boards --sync`"
    )


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_port_of_the_board_design_is_constrained(name):
    board = load_board(name)
    text = constraint_text(board)
    ports = ["clk", "uart_rx", "uart_tx"] + [f"led[{i}]" for i in range(len(board.led_pins))]
    for port in ports:
        assert port in text
    pins = [board.clock_pin, board.uart_rx, board.uart_tx, *board.led_pins]
    assert len(set(pins)) == len(pins), "two ports share a pin"


def test_ulx3s_variants():
    default = load_board("ulx3s")
    assert default.device.startswith("LFE5U-85F") and default.build_name == "ulx3s"
    small = load_board("ulx3s", "12f")
    assert small.device.startswith("LFE5U-12F") and "--12k" in small.nextpnr
    assert small.build_name == "ulx3s-12f"
    assert small.resources["luts"] < default.resources["luts"]
    with pytest.raises(BoardError, match="variants: 85f, 45f, 25f, 12f"):
        load_board("ulx3s", "99f")
    with pytest.raises(BoardError, match="no variants"):
        load_board("icebreaker", "8k")


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError) as info:
        load_board("de10nano")
    for name in REQUIRED:
        assert name in str(info.value)


def test_malformed_board_file(tmp_path, monkeypatch):
    import gateflow.fpga.boards as boards

    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    (tmp_path / "bad.yaml").write_text("name: bad\ntitle: Bad\nfamily: virtex\n")
    with pytest.raises(BoardError, match="family must be one of"):
        load_board("bad")
    (tmp_path / "bad.yaml").write_text("name: bad\n  - : [\n")
    with pytest.raises(BoardError, match="not valid YAML"):
        load_board("bad")


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_build_core_targets_follow_the_board(tmp_path, name):
    import yaml

    from gateflow.fpga.bitstream import BuildOptions

    board = load_board(name)
    core = yaml.safe_load(build_core_text(board, tmp_path / "ir.json", BuildOptions()))
    target = core["targets"]["default"]
    assert target["flow"] == board.flow
    assert target["toplevel"] == "gf_board"
    params = core["generate"]["network"]["parameters"]
    assert params["clk_hz"] == board.clock_hz
    assert params["n_leds"] == len(board.led_pins)
    assert core["filesets"]["constraints"]["files"] == [board.constraint_file.name]
    assert "lint" in core["targets"]
