"""The board's wire protocol, version 1: the one place of its facts on the Python side.

A board (``hw/rtl/gf_board_top.sv``) talks UART 8N1 and exchanges frames::

    SOF(0xA5) | TYPE | SEQ | LEN_LO | LEN_HI | PAYLOAD[LEN] | CRC_LO | CRC_HI

The CRC is CRC-16/CCITT-FALSE over TYPE .. the last payload byte, sent
little-endian. ``docs/protocol.md`` is the full specification; this module
encodes and decodes frames and payloads exactly as written there. Pure Python
and numpy: the serial port itself belongs to the host driver.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateflow.errors import GateflowError

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
SOF = 0xA5
HEADER_LEN = 5  # SOF, TYPE, SEQ, LEN_LO, LEN_HI
CRC_LEN = 2
OVERHEAD = HEADER_LEN + CRC_LEN
MAX_LEN = 0xFFFF  # largest LEN the 16-bit field can carry

CRC_POLY = 0x1021
CRC_INIT = 0xFFFF

DEFAULT_BAUD = 115_200
DEFAULT_WINDOW = 8
DEFAULT_TIMEOUT_BITS = 40

INFO_PAYLOAD_LEN = 25
FLAG_SCORES = 0x01

#: The board top module (its files: gateflow.hdl.library.BOARD_RTL).
BOARD_TOP = "gf_board_top"


class FrameType(enum.IntEnum):
    """The TYPE byte. Host -> board below 0x80, board -> host from 0x80."""

    INFER = 0x01
    INFO = 0x02
    RESULT = 0x81
    INFO_REPLY = 0x82
    ERROR = 0xE0


class ErrorCode(enum.IntEnum):
    """Payload of an ERROR frame."""

    BAD_CRC = 1
    BAD_LENGTH = 2
    BAD_TYPE = 3
    TRUNCATED = 4
    BUSY = 5
    UART_FRAMING = 6


class ProtocolError(GateflowError, ValueError):
    """A payload or argument that does not fit the protocol."""


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, xorout 0).

    ``crc`` continues an earlier computation: ``crc16(b, crc16(a)) == crc16(a + b)``.
    """
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def clks_per_bit(clk_hz: int, baud: int) -> int:
    """Clocks per UART bit as the RTL computes it: round(CLK_HZ / BAUD), halves up."""
    if clk_hz <= 0 or baud <= 0:
        raise ProtocolError("clock and baud rate must be positive")
    return (clk_hz + baud // 2) // baud


def baud_error(clk_hz: int, baud: int) -> float:
    """Relative error of the board's real bit rate against ``baud`` (0.01 = 1 %)."""
    return clk_hz / clks_per_bit(clk_hz, baud) / baud - 1.0


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """A complete frame, SOF to CRC."""
    if not 0 <= ftype <= 0xFF or not 0 <= seq <= 0xFF:
        raise ProtocolError(f"TYPE and SEQ are bytes, got {ftype}, {seq}")
    payload = bytes(payload)
    if len(payload) > MAX_LEN:
        raise ProtocolError(f"payload of {len(payload)} bytes does not fit LEN")
    body = bytes([ftype, seq]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SOF]) + body + crc16(body).to_bytes(2, "little")


@dataclass(frozen=True)
class Frame:
    """A frame whose CRC checked."""

    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class BadFrame:
    """Bytes that started with SOF but are not a frame.

    ``reason`` is ``"crc"`` (complete, CRC wrong), ``"length"`` (LEN above the
    decoder's limit) or ``"truncated"`` (cut short, reported by
    :meth:`FrameDecoder.flush`). ``data`` holds the bytes concerned.
    """

    reason: str
    data: bytes


class FrameDecoder:
    """Streaming frame decoder: feed bytes as they arrive, get frames back.

    Bytes outside a frame that are not SOF are skipped (counted in ``skipped``).
    A candidate frame whose CRC fails, or whose LEN exceeds ``max_len``, is
    reported as a :class:`BadFrame` and the hunt for SOF resumes at the byte
    after its SOF, so a real frame hidden inside a broken one is still found.
    Set ``max_len`` to the longest payload expected (a host: the larger of the
    RESULT and INFO payloads): a stray SOF then cannot hold the decoder waiting
    for a long made-up frame.
    """

    def __init__(self, max_len: int = MAX_LEN) -> None:
        if not 0 <= max_len <= MAX_LEN:
            raise ProtocolError(f"max_len must be 0..{MAX_LEN}")
        self.max_len = max_len
        self.skipped = 0
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held: the start of a frame that is not complete yet."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | Sequence[int]) -> list[Frame | BadFrame]:
        """Add received bytes; return the frames (and bad frames) they completed, in order."""
        self._buf += bytes(data)
        out: list[Frame | BadFrame] = []
        while True:
            start = self._buf.find(SOF)
            if start < 0:
                self.skipped += len(self._buf)
                self._buf.clear()
                return out
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < HEADER_LEN:
                return out
            length = int.from_bytes(self._buf[3:5], "little")
            if length > self.max_len:
                out.append(BadFrame("length", bytes(self._buf[:HEADER_LEN])))
                del self._buf[:1]
                continue
            total = OVERHEAD + length
            if len(self._buf) < total:
                return out
            frame = bytes(self._buf[:total])
            if crc16(frame[1:-2]) == int.from_bytes(frame[-2:], "little"):
                out.append(Frame(frame[1], frame[2], frame[HEADER_LEN:-2]))
                del self._buf[:total]
            else:
                out.append(BadFrame("crc", frame))
                del self._buf[:1]

    def flush(self) -> list[BadFrame]:
        """Drop a partial frame (call after an inter-byte timeout); report it as truncated."""
        if not self._buf:
            return []
        bad = BadFrame("truncated", bytes(self._buf))
        self._buf.clear()
        return [bad]


# --- INFER payload ---------------------------------------------------------------------


def sample_len(in_bits: int) -> int:
    """LEN of an INFER frame: ceil(IN_BITS / 8)."""
    if in_bits < 1:
        raise ProtocolError("IN_BITS must be at least 1")
    return (in_bits + 7) // 8


def pack_sample(bits: np.ndarray, in_bits: int) -> bytes:
    """One sample's encoded input bits [in_bits] (0/1) -> INFER payload.

    Bit i of the sample is bit i % 8 of byte i // 8 (the packing of the core's
    s_axis_tdata); the padding bits of the last byte are zero.
    """
    bits = np.asarray(bits)
    if bits.shape != (in_bits,):
        raise ProtocolError(f"expected {in_bits} input bits, got shape {bits.shape}")
    if bits.size and (bits.min() < 0 or bits.max() > 1):
        raise ProtocolError("input bits must be 0 or 1")
    return np.packbits(bits.astype(np.uint8), bitorder="little").tobytes()


def unpack_sample(payload: bytes, in_bits: int) -> np.ndarray:
    """INFER payload -> uint8 bits [in_bits] (the padding bits are ignored)."""
    if len(payload) != sample_len(in_bits):
        raise ProtocolError(f"INFER payload must be {sample_len(in_bits)} bytes")
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")[:in_bits]


# --- RESULT payload --------------------------------------------------------------------


@dataclass(frozen=True)
class ResultLayout:
    """The widths that shape a RESULT payload (from the manifest or an INFO reply)."""

    num_classes: int
    index_width: int
    score_width: int
    scores: bool

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> ResultLayout:
        out = manifest["output"]
        return cls(
            num_classes=int(manifest["num_classes"]),
            index_width=int(out["index_width"]),
            score_width=int(out["score_width"]),
            scores=bool(out["scores"]),
        )

    @property
    def index_bytes(self) -> int:
        return (self.index_width + 7) // 8

    @property
    def score_bytes(self) -> int:
        return (self.score_width + 7) // 8

    @property
    def payload_len(self) -> int:
        """LEN of a RESULT frame."""
        return self.index_bytes + (self.num_classes * self.score_bytes if self.scores else 0)


@dataclass(frozen=True)
class Result:
    """A decoded RESULT payload; ``scores`` is None when the build has none."""

    cls: int
    scores: tuple[int, ...] | None


def encode_result(cls: int, scores: Sequence[int] | None, layout: ResultLayout) -> bytes:
    """RESULT payload (what the board sends; for tests and emulators)."""
    if not 0 <= cls < 1 << layout.index_width:
        raise ProtocolError(f"class {cls} does not fit {layout.index_width} bits")
    out = cls.to_bytes(layout.index_bytes, "little")
    if layout.scores:
        if scores is None or len(scores) != layout.num_classes:
            raise ProtocolError(f"expected {layout.num_classes} scores")
        for s in scores:
            if not 0 <= int(s) < 1 << layout.score_width:
                raise ProtocolError(f"score {s} does not fit {layout.score_width} bits")
            out += int(s).to_bytes(layout.score_bytes, "little")
    return out


def parse_result(payload: bytes, layout: ResultLayout) -> Result:
    """RESULT payload -> class index and (when the build has them) scores, class 0 first."""
    if len(payload) != layout.payload_len:
        raise ProtocolError(
            f"RESULT payload is {len(payload)} bytes, the layout needs {layout.payload_len}"
        )
    ib, sb = layout.index_bytes, layout.score_bytes
    cls = int.from_bytes(payload[:ib], "little")
    scores = None
    if layout.scores:
        scores = tuple(
            int.from_bytes(payload[ib + c * sb : ib + (c + 1) * sb], "little")
            for c in range(layout.num_classes)
        )
    return Result(cls, scores)


# --- INFO reply payload ----------------------------------------------------------------


@dataclass(frozen=True)
class Info:
    """A decoded INFO reply: what the board was built with."""

    version: int
    in_bits: int
    num_classes: int
    index_width: int
    score_width: int
    flags: int
    window: int
    model_id: bytes  # 8 bytes: the first 8 bytes of the IR's SHA-256 digest
    clk_hz: int
    baud: int

    @property
    def scores(self) -> bool:
        return bool(self.flags & FLAG_SCORES)

    @property
    def layout(self) -> ResultLayout:
        return ResultLayout(self.num_classes, self.index_width, self.score_width, self.scores)

    def matches_sha256(self, ir_sha256: str) -> bool:
        """Whether the board runs the IR with this SHA-256 (hex digest)."""
        return self.model_id == model_id_bytes(ir_sha256)


def encode_info(info: Info) -> bytes:
    """INFO reply payload (for tests and emulators)."""
    if len(info.model_id) != 8:
        raise ProtocolError("model_id must be 8 bytes")
    return (
        bytes([info.version])
        + info.in_bits.to_bytes(2, "little")
        + info.num_classes.to_bytes(2, "little")
        + bytes([info.index_width, info.score_width, info.flags, info.window])
        + info.model_id
        + info.clk_hz.to_bytes(4, "little")
        + info.baud.to_bytes(4, "little")
    )


def parse_info(payload: bytes) -> Info:
    """INFO reply payload -> :class:`Info`."""
    if len(payload) != INFO_PAYLOAD_LEN:
        raise ProtocolError(f"INFO payload is {len(payload)} bytes, expected {INFO_PAYLOAD_LEN}")
    p = bytes(payload)
    return Info(
        version=p[0],
        in_bits=int.from_bytes(p[1:3], "little"),
        num_classes=int.from_bytes(p[3:5], "little"),
        index_width=p[5],
        score_width=p[6],
        flags=p[7],
        window=p[8],
        model_id=p[9:17],
        clk_hz=int.from_bytes(p[17:21], "little"),
        baud=int.from_bytes(p[21:25], "little"),
    )


def parse_error(payload: bytes) -> ErrorCode | int:
    """ERROR payload -> its code (a plain int for a code this version does not know)."""
    if len(payload) != 1:
        raise ProtocolError(f"ERROR payload is {len(payload)} bytes, expected 1")
    try:
        return ErrorCode(payload[0])
    except ValueError:
        return payload[0]


# --- build parameters ------------------------------------------------------------------


def model_id_bytes(ir_sha256: str) -> bytes:
    """The 8 MODEL_ID bytes as sent on the wire: the first 8 bytes of the SHA-256 digest."""
    digest = bytes.fromhex(ir_sha256)
    if len(digest) != 32:
        raise ProtocolError("expected a SHA-256 hex digest")
    return digest[:8]


def model_id(ir_sha256: str) -> int:
    """The top's 64-bit MODEL_ID parameter: MODEL_ID[7:0] is digest byte 0 (sent first)."""
    return int.from_bytes(model_id_bytes(ir_sha256), "little")


def board_parameters(
    manifest: Mapping[str, Any],
    *,
    clk_hz: int,
    baud: int = DEFAULT_BAUD,
    window: int = DEFAULT_WINDOW,
    timeout_bits: int = DEFAULT_TIMEOUT_BITS,
    n_leds: int = 1,
    led_active_low: bool = False,
    block_ram: bool = True,
) -> dict[str, int | str]:
    """Parameters of ``gf_board_top`` for a generated core (from its manifest.json).

    MODEL_ID is given as a SystemVerilog literal (``64'h...``) so that tools
    reading it as a 32-bit integer cannot truncate it.
    """
    layout = ResultLayout.from_manifest(manifest)
    if not 1 <= window <= 255:
        raise ProtocolError("WINDOW must be 1..255 (one byte in the INFO reply)")
    if clks_per_bit(clk_hz, baud) < 4:
        raise ProtocolError(f"{clk_hz} Hz is too slow a clock for {baud} baud")
    if abs(baud_error(clk_hz, baud)) > 0.02:
        log.warning(
            "baud rate error %.1f %% at %d Hz, %d baud",
            100 * baud_error(clk_hz, baud),
            clk_hz,
            baud,
        )
    in_bits = int(manifest["input"]["width"])
    if in_bits > 0xFFFF or layout.num_classes > 0xFFFF:
        raise ProtocolError("IN_BITS and N_CLASSES must fit 16 bits")
    return {
        "CLK_HZ": clk_hz,
        "BAUD": baud,
        "IN_BITS": in_bits,
        "OUT_WIDTH": int(manifest["output"]["width"]),
        "N_CLASSES": layout.num_classes,
        "IDX_W": layout.index_width,
        "SCORE_W": layout.score_width,
        "SCORES": int(layout.scores),
        "MODEL_ID": f"64'h{model_id(manifest['ir_sha256']):016x}",
        "WINDOW": window,
        "TIMEOUT_BITS": timeout_bits,
        "N_LEDS": n_leds,
        "LED_ACTIVE_LOW": int(led_active_low),
        "BLOCK_RAM": int(block_ram),
    }


def frame_time_s(payload_len: int, baud: int) -> float:
    """Seconds a frame with this payload takes on the wire (10 bit periods per byte)."""
    return 10 * (OVERHEAD + payload_len) / baud
