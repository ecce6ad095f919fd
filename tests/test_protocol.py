"""gateflow.protocol: CRC, framing, the streaming decoder and the payload codecs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gateflow import protocol as P


def test_crc_check_value() -> None:
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"") == 0xFFFF
    assert P.crc16(b"6789", P.crc16(b"12345")) == 0x29B1


def test_crc_matches_bitwise_definition() -> None:
    def bitwise(data: bytes) -> int:
        crc = 0xFFFF
        for byte in data:
            crc ^= byte << 8
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
                crc &= 0xFFFF
        return crc

    rng = random.Random(3)
    for n in range(40):
        data = rng.randbytes(n)
        assert P.crc16(data) == bitwise(data)


def test_encode_frame_layout() -> None:
    fr = P.encode_frame(P.FrameType.INFER, 0x42, b"\x01\x02\x03")
    assert fr[:5] == bytes([0xA5, 0x01, 0x42, 0x03, 0x00])
    assert fr[5:8] == b"\x01\x02\x03"
    crc = P.crc16(fr[1:8])
    assert fr[8:] == bytes([crc & 0xFF, crc >> 8])  # little-endian
    assert len(P.encode_frame(P.FrameType.INFO, 0)) == P.OVERHEAD
    with pytest.raises(P.ProtocolError):
        P.encode_frame(0x100, 0)
    with pytest.raises(P.ProtocolError):
        P.encode_frame(1, 256)


def test_decoder_round_trip_any_chunking() -> None:
    rng = random.Random(1)
    frames = [
        P.Frame(rng.choice([1, 2, 0x81, 0x82, 0xE0]), rng.randrange(256), rng.randbytes(n))
        for n in [0, 1, 5, 0, 40, 3, 255, 256, 7]
    ]
    stream = b"".join(P.encode_frame(f.type, f.seq, f.payload) for f in frames)
    for chunk in (1, 2, 7, len(stream)):
        dec = P.FrameDecoder()
        out = []
        for i in range(0, len(stream), chunk):
            out += dec.feed(stream[i : i + chunk])
        assert out == frames
        assert dec.pending == 0 and dec.skipped == 0


def test_decoder_skips_garbage() -> None:
    good = P.encode_frame(P.FrameType.RESULT, 9, b"\x03")
    garbage = bytes([0x00, 0x11, 0xFF, 0x5A, 0x13])
    dec = P.FrameDecoder()
    assert dec.feed(garbage + good + garbage + good) == [P.Frame(0x81, 9, b"\x03")] * 2
    assert dec.skipped == 2 * len(garbage)


def test_decoder_resyncs_after_a_false_sof() -> None:
    """A stray SOF before a frame swallows its start; the CRC fails and the hunt
    resumes after the stray SOF, which finds the real frame."""
    good = P.encode_frame(P.FrameType.RESULT, 1, b"\x07\x08")
    dec = P.FrameDecoder()
    out = dec.feed(bytes([P.SOF, 0x81, 0x00, 0x03, 0x00]) + good + good)
    assert [type(x) for x in out] == [P.BadFrame, P.Frame, P.Frame]
    assert out[0].reason == "crc"
    assert out[1] == P.Frame(0x81, 1, b"\x07\x08")
    # a stray SOF whose LEN comes out huge: max_len rejects it at once
    dec = P.FrameDecoder(max_len=64)
    out = dec.feed(bytes([P.SOF, 0x00, 0x00, 0x00]) + good)
    assert out[0].reason == "length" and out[-1] == P.Frame(0x81, 1, b"\x07\x08")


def test_decoder_reports_corrupted_crc() -> None:
    good = P.encode_frame(P.FrameType.INFO_REPLY, 3, bytes(25))
    bad = bytearray(good)
    bad[-2] ^= 0x01
    dec = P.FrameDecoder()
    out = dec.feed(bytes(bad) + good)
    assert isinstance(out[0], P.BadFrame) and out[0].reason == "crc"
    assert out[0].data == bytes(bad)
    assert out[-1] == P.Frame(0x82, 3, bytes(25))
    # a flipped payload bit is caught too
    bad = bytearray(good)
    bad[10] ^= 0x80
    assert all(isinstance(x, P.BadFrame) for x in P.FrameDecoder().feed(bytes(bad)))


def test_decoder_truncated_frame_and_flush() -> None:
    good = P.encode_frame(P.FrameType.RESULT, 5, b"\x01")
    dec = P.FrameDecoder()
    assert dec.feed(good[:-3]) == []
    assert dec.pending == len(good) - 3
    flushed = dec.flush()
    assert flushed == [P.BadFrame("truncated", good[:-3])]
    assert dec.pending == 0 and dec.flush() == []
    assert dec.feed(good) == [P.Frame(0x81, 5, b"\x01")]


def test_decoder_length_limit() -> None:
    dec = P.FrameDecoder(max_len=4)
    good = P.encode_frame(P.FrameType.RESULT, 2, b"\x01\x02")
    out = dec.feed(bytes([P.SOF, 0x81, 0x00, 0x00, 0x10]) + good)
    assert out[0] == P.BadFrame("length", bytes([P.SOF, 0x81, 0x00, 0x00, 0x10]))
    assert out[-1] == P.Frame(0x81, 2, b"\x01\x02")


def test_pack_sample_matches_core_packing() -> None:
    rng = np.random.default_rng(0)
    for in_bits in (1, 7, 8, 9, 12, 64, 100):
        bits = rng.integers(0, 2, in_bits).astype(np.uint8)
        payload = P.pack_sample(bits, in_bits)
        assert len(payload) == P.sample_len(in_bits) == (in_bits + 7) // 8
        word = int.from_bytes(payload, "little")
        assert word == sum(int(b) << i for i, b in enumerate(bits))  # s_axis_tdata
        assert np.array_equal(P.unpack_sample(payload, in_bits), bits)
    with pytest.raises(P.ProtocolError):
        P.pack_sample(np.zeros(5), 6)
    with pytest.raises(P.ProtocolError):
        P.pack_sample(np.array([0, 2]), 2)


def test_unpack_sample_ignores_padding() -> None:
    assert list(P.unpack_sample(b"\xff\xff", 12)) == [1] * 12


def test_result_round_trip() -> None:
    layout = P.ResultLayout(num_classes=10, index_width=4, score_width=9, scores=True)
    assert layout.payload_len == 1 + 10 * 2
    scores = [0, 1, 511, 256, 7, 8, 9, 10, 11, 300]
    payload = P.encode_result(2, scores, layout)
    assert payload[:3] == bytes([2, 0, 0]) and payload[5:7] == bytes([0xFF, 0x01])
    assert P.parse_result(payload, layout) == P.Result(2, tuple(scores))
    plain = P.ResultLayout(num_classes=300, index_width=9, score_width=3, scores=False)
    assert plain.payload_len == 2
    assert P.parse_result(P.encode_result(299, None, plain), plain) == P.Result(299, None)
    with pytest.raises(P.ProtocolError):
        P.parse_result(payload[:-1], layout)
    with pytest.raises(P.ProtocolError):
        P.encode_result(16, scores, layout)


def test_result_layout_from_manifest() -> None:
    manifest = {
        "num_classes": 3,
        "output": {"index_width": 2, "score_width": 5, "scores": True, "width": 17},
    }
    assert P.ResultLayout.from_manifest(manifest) == P.ResultLayout(3, 2, 5, True)


def test_info_round_trip() -> None:
    sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    info = P.Info(
        version=1,
        in_bits=400,
        num_classes=10,
        index_width=4,
        score_width=8,
        flags=P.FLAG_SCORES,
        window=8,
        model_id=P.model_id_bytes(sha),
        clk_hz=12_000_000,
        baud=115_200,
    )
    payload = P.encode_info(info)
    assert len(payload) == P.INFO_PAYLOAD_LEN
    assert payload[:5] == bytes([1, 0x90, 0x01, 10, 0])
    assert payload[9:17] == bytes.fromhex("0011223344556677")
    assert P.parse_info(payload) == info
    assert info.scores and info.matches_sha256(sha)
    assert info.layout == P.ResultLayout(10, 4, 8, True)
    with pytest.raises(P.ProtocolError):
        P.parse_info(payload[:-1])


def test_model_id_parameter_byte_order() -> None:
    sha = "a1b2c3d4e5f60718" + "00" * 24
    # MODEL_ID[7:0] is sent first and is the digest's first byte
    assert P.model_id(sha) & 0xFF == 0xA1
    assert P.model_id(sha).to_bytes(8, "little") == bytes.fromhex("a1b2c3d4e5f60718")


def test_parse_error() -> None:
    assert P.parse_error(b"\x05") is P.ErrorCode.BUSY
    assert P.parse_error(b"\x63") == 0x63
    with pytest.raises(P.ProtocolError):
        P.parse_error(b"")


def test_clks_per_bit_rounding() -> None:
    assert P.clks_per_bit(12_000_000, 115_200) == 104
    assert P.clks_per_bit(800_000, 100_000) == 8
    assert P.clks_per_bit(15, 10) == 2  # halves round up
    assert abs(P.baud_error(12_000_000, 115_200)) < 0.002


def test_board_parameters() -> None:
    manifest = {
        "ir_sha256": "ff" + "00" * 31,
        "num_classes": 10,
        "input": {"width": 100},
        "output": {"index_width": 4, "score_width": 6, "scores": True, "width": 64},
    }
    p = P.board_parameters(manifest, clk_hz=12_000_000)
    assert p["IN_BITS"] == 100 and p["OUT_WIDTH"] == 64 and p["SCORES"] == 1
    assert p["MODEL_ID"] == "64'h00000000000000ff"
    assert p["BAUD"] == P.DEFAULT_BAUD and p["WINDOW"] == P.DEFAULT_WINDOW
    with pytest.raises(P.ProtocolError):
        P.board_parameters(manifest, clk_hz=300_000)
    with pytest.raises(P.ProtocolError):
        P.board_parameters(manifest, clk_hz=12_000_000, window=0)
