"""The protocol's constants agree between gateflow.protocol and the board RTL.

The host side (``gateflow.protocol``) is the specification; every constant the RTL
states as a localparam (frame start byte, frame types, error codes, INFO length,
protocol version) is read from the SystemVerilog and compared with it, so a change
on one side only fails here.
"""

from __future__ import annotations

import re

import pytest

from gateflow import protocol as P
from gateflow.paths import RTL

LOCALPARAM = re.compile(
    r"localparam\s+(?:logic\s*\[[^\]]*\]|int)\s+(\w+)\s*=\s*(?:(\d+)'([hd]))?([0-9A-Fa-f]+)\s*;"
)


def localparams(module: str) -> dict[str, int]:
    text = (RTL / f"{module}.sv").read_text()
    out = {}
    for name, _width, base, digits in LOCALPARAM.findall(text):
        out[name] = int(digits, 16 if base == "h" else 10)
    return out


RX_EXPECTED = {
    "Sof": P.SOF,
    "TypeInfer": P.FrameType.INFER,
    "TypeInfo": P.FrameType.INFO,
    "ErrBadCrc": P.ErrorCode.BAD_CRC,
    "ErrBadLength": P.ErrorCode.BAD_LENGTH,
    "ErrBadType": P.ErrorCode.BAD_TYPE,
    "ErrTruncated": P.ErrorCode.TRUNCATED,
    "ErrBusy": P.ErrorCode.BUSY,
    "ErrFraming": P.ErrorCode.UART_FRAMING,
}
TX_EXPECTED = {
    "Sof": P.SOF,
    "TypeResult": P.FrameType.RESULT,
    "TypeInfoReply": P.FrameType.INFO_REPLY,
    "TypeError": P.FrameType.ERROR,
}


@pytest.mark.parametrize(
    "module, expected", [("gf_frame_rx", RX_EXPECTED), ("gf_frame_tx", TX_EXPECTED)]
)
def test_frame_constants_match_the_protocol(module, expected):
    found = localparams(module)
    for name, value in expected.items():
        assert name in found, f"{module}.sv has no localparam {name}"
        assert found[name] == int(value), (
            f"{module}.sv: {name} = {found[name]:#x}, protocol {value:#x}"
        )


def test_every_error_code_has_an_rtl_name():
    rx = localparams("gf_frame_rx")
    rtl_codes = {v for k, v in rx.items() if k.startswith("Err")}
    assert rtl_codes == {int(c) for c in P.ErrorCode}


def test_frame_rx_has_no_bare_protocol_literals():
    """Outside its localparams the receiver names every protocol byte."""
    text = (RTL / "gf_frame_rx.sv").read_text()
    body = "\n".join(line for line in text.splitlines() if "localparam" not in line)
    assert "8'hA5" not in body and "8'h01" not in body and "8'h02" not in body


def test_frame_tx_has_no_bare_protocol_literals():
    text = (RTL / "gf_frame_tx.sv").read_text()
    body = "\n".join(line for line in text.splitlines() if "localparam" not in line)
    for literal in ("8'hA5", "8'h81", "8'h82", "8'hE0"):
        assert literal not in body, literal


def test_info_payload_length_and_version_match():
    top = (RTL / "gf_board_top.sv").read_text()
    assert localparams("gf_board_top")["InfoLen"] == P.INFO_PAYLOAD_LEN
    # the INFO payload ends with the protocol version byte
    m = re.search(r"InfoPayload\s*=\s*\{(.*?)\};", top, re.S)
    assert m, "gf_board_top.sv has no InfoPayload"
    last = m.group(1).split(",")[-1].strip()
    assert last == f"8'd{P.PROTOCOL_VERSION}", last
