"""cocotb testbench for hw/rtl/gf_board_top.sv around a generated core.

The bench is a host on the other end of the UART: it drives real 8N1 bytes
bit by bit into uart_rx, decodes uart_tx bit by bit in the middle of every
bit, and encodes and decodes frames with gateflow.protocol. Every RESULT is
checked against the golden model (class and every score) through its SEQ.

The configuration (JSON, path in GATEFLOW_BOARD_CONFIG) names the IR and the
manifest and holds the top's parameters.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from gateflow import ir as gf_ir
from gateflow import protocol as P
from gateflow.ir.golden import eval_bits

CLK_NS = 10


def _config() -> dict:
    with open(os.environ["GATEFLOW_BOARD_CONFIG"]) as f:
        return json.load(f)


@dataclass
class Reply:
    time_ns: float
    frame: P.Frame | P.BadFrame


@dataclass
class Bench:
    dut: object
    cfg: dict
    params: dict = field(init=False)
    layout: P.ResultLayout = field(init=False)
    bits: np.ndarray = field(init=False)
    pred: np.ndarray = field(init=False)
    scores: np.ndarray = field(init=False)
    replies: list[Reply] = field(default_factory=list)
    line_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.params = self.cfg["params"]
        self.manifest = json.loads(open(self.cfg["manifest"]).read())
        self.layout = P.ResultLayout.from_manifest(self.manifest)
        self.in_bits = int(self.params["IN_BITS"])
        self.cpb = P.clks_per_bit(self.params["CLK_HZ"], self.params["BAUD"])
        self.bit_ps = self.cpb * CLK_NS * 1000
        net = gf_ir.load(self.cfg["ir"])
        rng = np.random.default_rng(self.cfg.get("seed", 1))
        self.bits = rng.integers(0, 2, (256, self.in_bits)).astype(np.uint8)
        golden = eval_bits(net, self.bits)
        self.pred, self.scores = golden.pred, golden.scores
        self.rng = random.Random(self.cfg.get("seed", 1))
        self.decoder = P.FrameDecoder()
        self.got = Event()
        self.n_leds = int(self.params["N_LEDS"])
        self.active_low = bool(self.params["LED_ACTIVE_LOW"])

    # --- time and reset -----------------------------------------------------------------

    @staticmethod
    def now_ns() -> float:
        return get_sim_time("ns")

    def bits_ns(self, n: float) -> float:
        return n * self.bit_ps / 1000

    async def start(self) -> None:
        dut = self.dut
        dut.uart_rx.value = 1
        dut.ext_rst.value = 1
        await ClockCycles(dut.clk, 5)
        dut.ext_rst.value = 0
        await ClockCycles(dut.clk, 5)
        await ReadOnly()
        assert int(dut.uart_tx.value) == 1, "uart_tx not idle after reset"
        await RisingEdge(dut.clk)
        cocotb.start_soon(self._monitor())

    async def reset_pulse(self, cycles: int = 4) -> None:
        await RisingEdge(self.dut.clk)
        self.dut.ext_rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.ext_rst.value = 0

    # --- the UART -----------------------------------------------------------------------

    async def send(
        self, data: bytes, *, rate: float = 1.0, gap_bits: float = 0.0, bad_stop: int = -1
    ) -> None:
        """Drive bytes into uart_rx; `rate` scales the bit period, byte `bad_stop` gets a
        low stop bit."""
        bit_ps = round(self.bit_ps * rate)
        for i, b in enumerate(data):
            stop = 0 if i == bad_stop else 1
            for v in [0, *((b >> k) & 1 for k in range(8)), stop]:
                self.dut.uart_rx.value = v
                await Timer(bit_ps, unit="ps")
            if not stop:
                self.dut.uart_rx.value = 1
                await Timer(bit_ps, unit="ps")
            if gap_bits:
                await Timer(round(bit_ps * gap_bits), unit="ps")

    async def _monitor(self) -> None:
        dut = self.dut
        half = self.bit_ps // 2
        while True:
            await FallingEdge(dut.uart_tx)
            await Timer(half, unit="ps")
            if int(dut.uart_tx.value) != 0:
                self.line_errors.append(f"{self.now_ns():.0f} ns: start bit too short")
                continue
            byte = 0
            for k in range(8):
                await Timer(self.bit_ps, unit="ps")
                byte |= int(dut.uart_tx.value) << k
            await Timer(self.bit_ps, unit="ps")
            if int(dut.uart_tx.value) != 1:
                self.line_errors.append(f"{self.now_ns():.0f} ns: bad stop bit")
            for fr in self.decoder.feed(bytes([byte])):
                self.replies.append(Reply(self.now_ns(), fr))
            self.got.set()

    async def wait_replies(self, n: int, timeout_bits: float) -> list[Reply]:
        """Wait until at least n replies have arrived (or timeout); return all so far."""
        deadline = self.now_ns() + self.bits_ns(timeout_bits)
        while len(self.replies) < n and self.now_ns() < deadline:
            self.got.clear()
            await First(self.got.wait(), Timer(max(1, round(deadline - self.now_ns())), "ns"))
        return self.replies

    async def wait_quiet(self, quiet_bits: float = 60, limit_bits: float = 20_000) -> None:
        """Wait until no byte has come from uart_tx for quiet_bits bit periods."""
        start = self.now_ns()
        while self.now_ns() - start < self.bits_ns(limit_bits):
            self.got.clear()
            await First(self.got.wait(), Timer(round(self.bits_ns(quiet_bits)), "ns"))
            if not self.got.is_set():
                return
        raise AssertionError("uart_tx never went quiet")

    # --- frames -------------------------------------------------------------------------

    def infer_frame(self, k: int, seq: int, *, padding: bool = False) -> bytes:
        payload = bytearray(P.pack_sample(self.bits[k], self.in_bits))
        if padding and self.in_bits % 8:
            payload[-1] |= 0xFF << (self.in_bits % 8) & 0xFF
        return P.encode_frame(P.FrameType.INFER, seq, bytes(payload))

    def check_result(self, frame: P.Frame, k: int) -> None:
        assert frame.type == P.FrameType.RESULT, f"expected RESULT, got {frame}"
        res = P.parse_result(frame.payload, self.layout)
        assert res.cls == self.pred[k], (
            f"SEQ {frame.seq} (sample {k}): class {res.cls}, golden {self.pred[k]}"
        )
        if self.layout.scores:
            want = tuple(int(s) for s in self.scores[k])
            assert res.scores == want, (
                f"SEQ {frame.seq} (sample {k}): scores {res.scores} != {want}"
            )
        else:
            assert res.scores is None

    def good_frames(self, since: int = 0) -> list[P.Frame]:
        bad = [r.frame for r in self.replies[since:] if isinstance(r.frame, P.BadFrame)]
        assert not bad, f"bad frames from the board: {bad[:3]}"
        return [r.frame for r in self.replies[since:]]

    # --- LEDs ---------------------------------------------------------------------------

    async def leds(self) -> int:
        await ReadOnly()
        v = int(self.dut.led.value)
        if self.active_low:
            v ^= (1 << self.n_leds) - 1
        await RisingEdge(self.dut.clk)
        return v

    async def error_led(self) -> bool:
        return bool((await self.leds()) >> (self.n_leds - 1) & 1)

    # --- composite steps ----------------------------------------------------------------

    async def expect_error(self, frame: bytes, code: P.ErrorCode, seq: int, **kw) -> None:
        """Send a bad frame; exactly one ERROR(code, seq) must come back, no RESULT."""
        n0 = len(self.replies)
        await self.send(frame, **kw)
        timeout_bits = int(self.params["TIMEOUT_BITS"]) + 200
        await self.wait_replies(n0 + 1, timeout_bits)
        await self.wait_quiet()
        frames = self.good_frames(n0)
        assert len(frames) == 1, f"expected one ERROR {code.name}, got {frames}"
        fr = frames[0]
        assert fr.type == P.FrameType.ERROR, f"expected ERROR {code.name}, got {fr}"
        assert P.parse_error(fr.payload) == code, (
            f"expected ERROR {code.name}, got code {fr.payload[0]}"
        )
        assert fr.seq == seq, f"ERROR {code.name}: SEQ {fr.seq}, expected {seq}"
        assert await self.error_led(), "error LED is off right after an error"

    async def roundtrip(self, k: int, seq: int) -> None:
        """One good INFER, one correct RESULT."""
        n0 = len(self.replies)
        await self.send(self.infer_frame(k, seq))
        await self.wait_replies(n0 + 1, 400)
        frames = self.good_frames(n0)
        assert len(frames) == 1, f"expected one RESULT for SEQ {seq}, got {frames}"
        assert frames[0].seq == seq
        self.check_result(frames[0], k)


async def _bench(dut) -> Bench:
    cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
    tb = Bench(dut, _config())
    await tb.start()
    return tb


def _clean_tail(data: bytes, start: int) -> bool:
    """No SOF from byte `start` on: the rest of a rejected frame is then plain garbage."""
    return P.SOF not in data[start:]


@cocotb.test()
async def info_reply(dut) -> None:
    """INFO after garbage: every field of the reply matches the build."""
    tb = await _bench(dut)
    p = tb.params
    garbage = bytes(b for b in tb.rng.randbytes(40) if b != P.SOF)
    await tb.send(garbage)
    await tb.send(P.encode_frame(P.FrameType.INFO, 0x5A))
    await tb.wait_replies(1, 600)
    await tb.wait_quiet()
    frames = tb.good_frames()
    assert len(frames) == 1, frames
    fr = frames[0]
    assert fr.type == P.FrameType.INFO_REPLY and fr.seq == 0x5A, fr
    info = P.parse_info(fr.payload)
    assert info.version == P.PROTOCOL_VERSION
    assert info.in_bits == p["IN_BITS"]
    assert info.num_classes == p["N_CLASSES"]
    assert info.index_width == p["IDX_W"]
    assert info.score_width == p["SCORE_W"]
    assert info.flags == p["SCORES"]
    assert info.scores == tb.layout.scores
    assert info.window == p["WINDOW"]
    assert info.matches_sha256(tb.manifest["ir_sha256"]), info.model_id.hex()
    assert info.clk_hz == p["CLK_HZ"]
    assert info.baud == p["BAUD"]
    assert info.layout == tb.layout
    assert not tb.line_errors, tb.line_errors
    assert not await tb.error_led(), "error LED lit without an error"


@cocotb.test()
async def window_stream(dut) -> None:
    """A host that keeps WINDOW frames outstanding: every result right, none lost or
    duplicated, never BUSY. Some frames are sent 3 % fast or slow, some with padding set."""
    tb = await _bench(dut)
    window = int(tb.params["WINDOW"])
    n = int(tb.cfg.get("stream_frames", 40))
    sample_of: dict[int, int] = {}
    answered: dict[int, P.Frame] = {}
    max_outstanding = 0
    seen = 0
    for k in range(n):
        seq = (k * 7 + 3) % 256
        assert seq not in sample_of
        while True:  # take in the replies so far; wait while WINDOW are outstanding
            for r in tb.good_frames(seen):
                assert r.seq in sample_of, f"reply for unknown SEQ {r.seq}: {r}"
                assert r.seq not in answered, f"second reply for SEQ {r.seq}"
                answered[r.seq] = r
            seen = len(tb.replies)
            if len(sample_of) - len(answered) < window:
                break
            await tb.wait_replies(seen + 1, 2000)
            assert len(tb.replies) > seen, "no reply while WINDOW frames were outstanding"
        sample_of[seq] = k
        max_outstanding = max(max_outstanding, len(sample_of) - len(answered))
        rate = (1.0, 0.97, 1.03)[k % 3]
        await tb.send(tb.infer_frame(k, seq, padding=k % 4 == 1), rate=rate)
    await tb.wait_replies(seen + len(sample_of) - len(answered), 4000)
    await tb.wait_quiet()
    for r in tb.good_frames(seen):
        assert r.seq in sample_of and r.seq not in answered, f"unexpected reply {r}"
        answered[r.seq] = r
    assert max_outstanding + 1 >= window, f"the stream never had {window} frames outstanding"
    assert sorted(answered) == sorted(sample_of), (
        f"{len(sample_of) - len(answered)} of {n} frames got no reply"
    )
    for seq, fr in answered.items():
        tb.check_result(fr, sample_of[seq])
    assert not tb.line_errors, tb.line_errors
    # The class LEDs show the low bits of the last class sent.
    if tb.n_leds > 1:
        last = P.parse_result(tb.replies[-1].frame.payload, tb.layout).cls
        mask = (1 << (tb.n_leds - 1)) - 1
        assert (await tb.leds()) & mask == last & mask, "class LEDs do not show the last class"
    assert not await tb.error_led()


@cocotb.test()
async def error_replies(dut) -> None:
    """Every kind of bad frame gets its ERROR with the right SEQ and no RESULT, and the
    next good frame still works."""
    tb = await _bench(dut)
    nb = P.sample_len(tb.in_bits)
    k = 0

    async def then_good() -> None:
        nonlocal k
        k += 1
        await tb.roundtrip(k, (k + 200) % 256)

    def seq_clean(make, start) -> tuple[int, bytes]:
        """A SEQ for which the frame from `make(seq)` has no SOF from byte `start` on."""
        for seq in range(1, 256):
            fr = make(seq)
            if _clean_tail(fr, start):
                return seq, fr
        raise AssertionError("no clean SEQ")

    # corrupted CRC, then a corrupted payload bit
    fr = bytearray(tb.infer_frame(1, 0x11))
    fr[-1] ^= 0x40
    await tb.expect_error(bytes(fr), P.ErrorCode.BAD_CRC, 0x11)
    await then_good()
    fr = bytearray(tb.infer_frame(2, 0x12))
    fr[P.HEADER_LEN] ^= 0x01
    await tb.expect_error(bytes(fr), P.ErrorCode.BAD_CRC, 0x12)
    await then_good()

    # LEN wrong for the TYPE (whole frame read, CRC good)
    payload = P.pack_sample(tb.bits[3], tb.in_bits)
    if nb > 1:
        short = P.encode_frame(P.FrameType.INFER, 0x21, payload[:-1])
        await tb.expect_error(short, P.ErrorCode.BAD_LENGTH, 0x21)
        await then_good()
    await tb.expect_error(
        P.encode_frame(P.FrameType.INFO, 0x22, b"\x00"), P.ErrorCode.BAD_LENGTH, 0x22
    )
    await then_good()
    # LEN above what the board takes: rejected when LEN_HI arrives
    seq, long = seq_clean(lambda s: P.encode_frame(P.FrameType.INFER, s, payload + b"\x00"), 5)
    await tb.expect_error(long, P.ErrorCode.BAD_LENGTH, seq)
    await then_good()
    huge = bytes([P.SOF, P.FrameType.INFER, 0x23, 0x00, 0x10])  # LEN 4096, nothing follows
    await tb.expect_error(huge, P.ErrorCode.BAD_LENGTH, 0x23)
    await then_good()

    # unknown TYPE, and a board-to-host TYPE sent to the board
    await tb.expect_error(P.encode_frame(0x33, 0x31), P.ErrorCode.BAD_TYPE, 0x31)
    await then_good()
    await tb.expect_error(
        P.encode_frame(P.FrameType.RESULT, 0x32, payload), P.ErrorCode.BAD_TYPE, 0x32
    )
    await then_good()

    # truncated: silence inside a frame; the error comes after TIMEOUT_BITS bit periods
    cut = tb.infer_frame(4, 0x41)[: P.HEADER_LEN + nb - 1]
    t0 = tb.now_ns()
    await tb.expect_error(cut, P.ErrorCode.TRUNCATED, 0x41)
    t_sent = t0 + tb.bits_ns(10 * len(cut))
    t_err = tb.replies[-1].time_ns  # end of the ERROR frame
    err_bits = (t_err - t_sent) / tb.bits_ns(1)
    timeout = int(tb.params["TIMEOUT_BITS"])
    err_frame_bits = 10 * (P.OVERHEAD + 1)
    assert timeout + err_frame_bits - 2 <= err_bits <= timeout + err_frame_bits + 4, (
        f"TRUNCATED came {err_bits:.1f} bit periods after the last byte (timeout {timeout})"
    )
    await then_good()
    await tb.expect_error(bytes([P.SOF, P.FrameType.INFER]), P.ErrorCode.TRUNCATED, 0)
    await then_good()

    # a byte with a bad stop bit inside a frame (LEN_LO; the SEQ is known by then)
    seq, fr = seq_clean(lambda s: tb.infer_frame(5, s), 4)
    await tb.expect_error(fr, P.ErrorCode.UART_FRAMING, seq, bad_stop=3)
    await then_good()
    # ... and outside a frame: ignored
    n0 = len(tb.replies)
    await tb.send(bytes([0x5A, P.SOF]), bad_stop=1)
    await tb.wait_quiet(quiet_bits=timeout + 120)  # a TRUNCATED would come within this
    assert len(tb.replies) == n0, f"a bad byte outside a frame got a reply: {tb.replies[n0:]}"
    await then_good()
    assert not tb.line_errors, tb.line_errors


@cocotb.test()
async def error_led_stretch(dut) -> None:
    """The error LED stays lit for CLK_HZ/4 clocks after the last error, then goes out."""
    tb = await _bench(dut)
    assert not await tb.error_led()
    await tb.expect_error(P.encode_frame(0x7F, 0x01), P.ErrorCode.BAD_TYPE, 0x01)
    stretch = int(tb.params["CLK_HZ"]) // 4
    await Timer(stretch // 2 * CLK_NS, "ns")
    assert await tb.error_led(), "error LED went out too early"
    await Timer((stretch // 2 + 10) * CLK_NS, "ns")
    assert not await tb.error_led(), "error LED still lit after CLK_HZ/4 clocks"


@cocotb.test()
async def busy_burst(dut) -> None:
    """More INFER frames back to back than WINDOW: each gets at most one reply, a RESULT
    (right) or BUSY; none is answered twice; the board recovers."""
    tb = await _bench(dut)
    window = int(tb.params["WINDOW"])
    n = 3 * window + 4
    sample_of = {}
    for k in range(n):
        seq = 100 + k
        sample_of[seq] = k
        await tb.send(tb.infer_frame(k, seq))
    await tb.wait_quiet()
    frames = tb.good_frames()
    seqs = [f.seq for f in frames]
    assert len(seqs) == len(set(seqs)), f"a SEQ was answered twice: {seqs}"
    results = [f for f in frames if f.type == P.FrameType.RESULT]
    busy = [f for f in frames if f.type == P.FrameType.ERROR]
    for f in busy:
        assert P.parse_error(f.payload) == P.ErrorCode.BUSY, f
    for f in results:
        tb.check_result(f, sample_of[f.seq])
    assert len(results) >= window, f"only {len(results)} results for {n} frames"
    dut._log.info("burst of %d: %d results, %d BUSY replies", n, len(results), len(busy))
    if tb.cfg.get("expect_busy"):
        assert busy, "the burst outran the board but no BUSY came back"
    else:
        assert not busy and len(results) == n
    await tb.roundtrip(0, 7)
    assert not tb.line_errors, tb.line_errors


@cocotb.test()
async def reset_mid_stream(dut) -> None:
    """ext_rst while frames go both ways; afterwards the board works as new and no result
    from before the reset comes out."""
    tb = await _bench(dut)
    window = int(tb.params["WINDOW"])
    for k in range(window):
        await tb.send(tb.infer_frame(k, 10 + k))
    # the board is now sending results; reset in the middle of the next frame
    fr = tb.infer_frame(window, 10 + window)
    sender = cocotb.start_soon(tb.send(fr))
    await Timer(round(tb.bits_ns(10 * (len(fr) // 2) + 3)), "ns")
    assert len(tb.replies) >= 1, "no result before the reset: the test would prove nothing"
    await tb.reset_pulse()
    t_reset = tb.now_ns()
    await sender
    await tb.wait_quiet(quiet_bits=int(tb.params["TIMEOUT_BITS"]) + 120)
    tb.decoder.flush()
    late = [
        r.frame
        for r in tb.replies
        if r.time_ns > t_reset + tb.bits_ns(12)
        and isinstance(r.frame, P.Frame)
        and r.frame.type == P.FrameType.RESULT
    ]
    assert not late, f"results from before the reset came out after it: {late}"
    n0 = len(tb.replies)
    for i in range(2 * window):
        await tb.roundtrip(window + 1 + i, 50 + i)
    assert all(isinstance(r.frame, P.Frame) for r in tb.replies[n0:])
