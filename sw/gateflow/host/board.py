"""The host driver: run inference on a board (or the simulated board) from Python.

:class:`Board` reads a build's manifest.json for everything it needs (the input
encoder and packing, the RESULT layout, the protocol facts), opens a transport,
checks with an INFO request that the board runs that build's model, and then
streams samples with up to WINDOW INFER frames in flight.

Reliability (docs/host.md has the reasoning):

* Every INFER frame gets a SEQ that no other frame still in doubt holds, so a
  RESULT is attributed through its SEQ to exactly one sample.
* The board answers INFER frames in the order it accepted them, so a RESULT
  for a frame proves that every earlier frame still waiting will never be
  answered: those samples are sent again at once.
* A frame with no reply within the timeout, or named by an ERROR, is sent again
  under a fresh SEQ; its old SEQ stays reserved (a late RESULT still belongs to
  the same sample) until the in-order rule or a long expiry frees it.
* Each sample is sent at most ``1 + retries`` times; then :class:`LinkError`.
  A port that fails (a board unplugged, the simulator gone) raises it at once.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gateflow import protocol as P
from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.host.simboard import SimBoard, SimOptions, find_sources, load_manifest
from gateflow.host.transport import Faults, FaultyTransport, LinkError, SerialTransport, Transport

log = logging.getLogger(__name__)

PACKING = "s_axis_tdata[i] = encoded input bit i"
DEFAULT_RETRIES = 8
INFO_TRIES = 4


class ModelMismatchError(GateflowError):
    """The board runs another model, or a build unlike the manifest's."""


@dataclass
class LinkStats:
    """What happened on the link (cumulative over a :class:`Board`'s life)."""

    samples: int = 0
    frames_sent: int = 0
    retransmits: int = 0
    timeouts: int = 0
    lost_in_order: int = 0  # frames found lost because a later frame was answered
    errors: dict[str, int] = field(default_factory=dict)
    bad_frames: int = 0  # received candidate frames that failed the CRC or length check
    duplicates: int = 0  # a second RESULT for a sample (a retransmitted frame's)
    conflicts: int = 0  # a second RESULT that disagreed with the first
    stray: int = 0  # replies whose SEQ no frame held
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Inference:
    """Results of a batch: ``pred`` int64 [n]; ``scores`` int64 [n, classes] when the
    build's RESULTs carry them, else None."""

    pred: np.ndarray
    scores: np.ndarray | None
    seconds: float

    @property
    def samples_per_s(self) -> float:
        return len(self.pred) / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Frame:
    index: int  # sample index in its batch
    batch: int
    order: int  # send order, over the board's life
    sent_at: float
    live: bool = True  # False: its sample was queued again (the SEQ stays reserved)
    dead_since: float = 0.0


class Board:
    """A board running a gateflow build, reached through a transport.

    Open with :meth:`open`; use as a context manager. ``infer`` / ``predict``
    take raw samples (integer or real-valued features, encoded here as the manifest's
    encoder says), ``infer_bits`` already encoded input bits.
    """

    def __init__(
        self,
        transport: Transport,
        manifest: Mapping[str, Any],
        *,
        baud: int | None = None,
        window: int | None = None,
        timeout: float | None = None,
        retries: int = DEFAULT_RETRIES,
        sim: SimBoard | None = None,
    ) -> None:
        self.transport = transport
        self.manifest = dict(manifest)
        self.sim = sim
        self.retries = retries
        m = self.manifest
        packing = str(m["input"].get("packing", ""))
        if not packing.startswith(PACKING):
            raise GateflowError(f"unknown input packing in the manifest: {packing!r}")
        self.encoder = ThermometerEncoder.from_dict(m["input"]["encoder"])
        self.in_bits = int(m["input"]["width"])
        if self.encoder.num_bits != self.in_bits:
            raise GateflowError("the manifest's encoder and input width disagree")
        self.layout = P.ResultLayout.from_manifest(m)
        names = m["output"].get("class_names")
        self.class_names: tuple[str, ...] = (
            tuple(names) if names else tuple(str(c) for c in range(self.layout.num_classes))
        )
        board = m.get("board", {})
        self.baud = int(baud or board.get("baud", P.DEFAULT_BAUD))
        self._window_req = window or int(board.get("window", P.DEFAULT_WINDOW))
        self.window = self._window_req
        self.stats = LinkStats()
        self._decoder = P.FrameDecoder(max_len=max(self.layout.payload_len, P.INFO_PAYLOAD_LEN))
        self._outstanding: dict[int, _Frame] = {}
        self._next_seq = random.randrange(256)
        self._order = 0
        self._batch = 0
        self._srtt: float | None = None
        self._last_rx = time.monotonic()
        self._closed = False
        self._timeout_arg = timeout
        self._set_timeouts(timeout)
        try:
            self.info = self._handshake()
        except BaseException:
            self.close()
            raise

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        port: str,
        *,
        build: str | os.PathLike[str] | None = None,
        manifest: Mapping[str, Any] | None = None,
        baud: int | None = None,
        window: int | None = None,
        timeout: float | None = None,
        retries: int = DEFAULT_RETRIES,
        faults: Faults | None = None,
        sim_options: SimOptions | None = None,
    ) -> Board:
        """Open a board.

        Args:
            port: a serial port (``/dev/ttyUSB1``, ``COM3``, a pyserial URL), or
                ``"sim"`` for the simulated board of ``build``, started here and
                stopped on :meth:`close`.
            build: the build folder (its manifest.json; for ``"sim"`` also its RTL).
            manifest: the manifest itself, instead of ``build`` (not for ``"sim"``).
            baud: the link's rate; default the manifest's ``board.baud`` (for
                ``"sim"``: the simulated link's rate, see :class:`SimOptions`).
            window: INFER frames to keep in flight, at most the board's WINDOW.
            timeout: seconds without a reply before a frame is sent again
                (default from the baud rate and window; it adapts upwards to the
                measured round trip).
            retries: times a sample may be sent again before :class:`LinkError`.
            faults: inject faults into the byte stream (testing).
            sim_options: how the simulated board runs.
        """
        folder: Path | None = None
        if build is not None:
            if manifest is not None:
                raise GateflowError("pass build or manifest, not both")
            manifest, folder = load_manifest(build)
        if manifest is None:
            raise GateflowError("pass the build folder (manifest.json) of what the board runs")
        sim: SimBoard | None = None
        if port == "sim":
            if folder is None:
                raise GateflowError("the simulated board needs a build folder (build=...)")
            opts = sim_options or SimOptions(baud=baud)
            if baud is not None and opts.baud is None:
                opts = SimOptions(
                    baud=baud,
                    clks_per_bit=opts.clks_per_bit,
                    realtime=opts.realtime,
                    quiet_bits=opts.quiet_bits,
                )
            sim = SimBoard(manifest, find_sources(manifest, folder), opts)
            port, baud = sim.port, sim.baud
            if timeout is None:
                # the simulation's speed, which depends on the machine, sets the pace
                timeout = 1.0
        transport: Transport
        try:
            board = dict(manifest.get("board", {}))
            if sim is None and not board:
                raise GateflowError(
                    "the manifest has no board section: pass the folder of a board build"
                )
            transport = SerialTransport(port, int(baud or board.get("baud", P.DEFAULT_BAUD)))
            if faults is not None:
                transport = FaultyTransport(transport, faults)
            return cls(
                transport,
                manifest,
                baud=baud,
                window=window,
                timeout=timeout,
                retries=retries,
                sim=sim,
            )
        except BaseException:
            if sim is not None:
                sim.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.transport.close()
        finally:
            if self.sim is not None:
                self.sim.close()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- link facts ----------------------------------------------------------------------

    @property
    def infer_frame_bytes(self) -> int:
        return P.OVERHEAD + P.sample_len(self.in_bits)

    @property
    def result_frame_bytes(self) -> int:
        return P.OVERHEAD + self.layout.payload_len

    def link_limit(self, baud: int | None = None) -> float:
        """Samples per second the UART can carry (8N1, full duplex): the longer of the
        INFER and RESULT frames sets the pace."""
        bits = 10 * max(self.infer_frame_bytes, self.result_frame_bytes)
        return (baud or self.baud) / bits

    def _set_timeouts(self, timeout: float | None) -> None:
        round_trip = 10 * (self.infer_frame_bytes + self.result_frame_bytes) / self.baud
        default = max(0.25, 3 * (self.window + 2) * round_trip)
        self.base_timeout = float(timeout) if timeout else default
        # a partial reply is dropped after this much silence
        self.flush_after = max(0.05, min(self.base_timeout / 2, 100 * 10 / self.baud))

    @property
    def rto(self) -> float:
        """Current reply timeout: the configured one, raised to 4x the measured round trip."""
        if self._srtt is None:
            return self.base_timeout
        return min(max(self.base_timeout, 4 * self._srtt), 8 * self.base_timeout)

    # --- the byte stream -----------------------------------------------------------------

    def _send(self, ftype: int, seq: int, payload: bytes = b"") -> None:
        frame = P.encode_frame(ftype, seq, payload)
        self.transport.write(frame)
        self.stats.bytes_sent += len(frame)

    def _receive(self, timeout: float) -> list[P.Frame]:
        """Frames that arrived within ``timeout`` (CRC checked); partial frames are
        dropped after a silence and the bytes after their SOF hunted again."""
        data = self.transport.read(timeout)
        now = time.monotonic()
        out: list[P.Frame | P.BadFrame] = []
        if data:
            self._last_rx = now
            self.stats.bytes_received += len(data)
            out = self._decoder.feed(data)
        elif self._decoder.pending and now - self._last_rx > self.flush_after:
            for bad in self._decoder.flush():
                self.stats.bad_frames += 1
                out += self._decoder.feed(bad.data[1:])
        frames = []
        for fr in out:
            if isinstance(fr, P.Frame):
                frames.append(fr)
            else:
                self.stats.bad_frames += 1
                log.debug("dropped a bad reply (%s, %d bytes)", fr.reason, len(fr.data))
        return frames

    # --- INFO ----------------------------------------------------------------------------

    def _handshake(self) -> P.Info:
        """INFO request; check the reply against the manifest; drain stale replies."""
        self.transport.reset_input()
        info: P.Info | None = None
        for _ in range(INFO_TRIES):
            seq = self._alloc_seq()
            self._send(P.FrameType.INFO, seq)
            deadline = time.monotonic() + self.base_timeout
            while info is None and time.monotonic() < deadline:
                for fr in self._receive(min(0.02, self.base_timeout)):
                    if fr.type == P.FrameType.INFO_REPLY and fr.seq == seq:
                        try:
                            info = P.parse_info(fr.payload)
                        except P.ProtocolError:
                            continue
            if info is not None:
                break
            log.info("no INFO reply within %.2f s; asking again", self.base_timeout)
        if info is None:
            raise LinkError(
                f"no reply from the board after {INFO_TRIES} INFO requests: is it connected, "
                f"programmed and at {self.baud} baud?"
            )
        self._check_info(info)
        # Replies to an earlier session's frames may still come; let them pass.
        quiet = max(0.05, 2 * (info.window + 1) * 10 * self.result_frame_bytes / self.baud)
        end = time.monotonic() + 4 * quiet + 1.0
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            if self._receive(0.01):
                last = time.monotonic()
        self._decoder.flush()
        return info

    def _check_info(self, info: P.Info) -> None:
        m = self.manifest
        if info.version != P.PROTOCOL_VERSION:
            raise ModelMismatchError(
                f"the board speaks protocol version {info.version}, this host {P.PROTOCOL_VERSION}"
            )
        if not info.matches_sha256(m["ir_sha256"]):
            raise ModelMismatchError(
                f"the board runs model {info.model_id.hex()}, the manifest is for "
                f"{m['ir_sha256'][:16]}: wrong bitstream on the board, or wrong build folder"
            )
        if info.in_bits != self.in_bits or info.layout != self.layout:
            raise ModelMismatchError(
                f"the board's build ({info.in_bits} input bits, {info.layout}) differs from "
                f"the manifest's ({self.in_bits} input bits, {self.layout})"
            )
        if info.baud != self.baud:
            log.warning("the board reports %d baud, the link runs at %d", info.baud, self.baud)
        if info.window < 1:
            raise ModelMismatchError("the board reports a WINDOW of 0")
        self.window = min(self._window_req, info.window)
        self._set_timeouts(self._timeout_arg)

    # --- inference -----------------------------------------------------------------------

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Raw samples [n, features] (or one sample [features]) -> input bits [n, in_bits]."""
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        return self.encoder.encode(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class of each raw sample: int64 [n]."""
        return self.infer(x).pred

    def predict_labels(self, x: np.ndarray) -> list[str]:
        """Class name of each raw sample (the training labels, for a user's data)."""
        return [self.class_names[c] for c in self.predict(x)]

    def infer(self, x: np.ndarray) -> Inference:
        """Class (and scores, when the build has them) of each raw sample."""
        return self.infer_bits(self.encode(x))

    def infer_bits(self, bits: np.ndarray) -> Inference:
        """Class (and scores) of each sample of encoded input bits uint8 [n, in_bits]."""
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.in_bits:
            raise GateflowError(
                f"expected input bits of shape [n, {self.in_bits}], got {list(bits.shape)}"
            )
        payloads = [P.pack_sample(row, self.in_bits) for row in bits]
        t0 = time.perf_counter()
        results = self._transfer(payloads)
        seconds = time.perf_counter() - t0
        self.stats.seconds += seconds
        n = len(results)
        pred = np.array([r.cls for r in results], dtype=np.int64).reshape(n)
        scores = None
        if self.layout.scores:
            scores = np.array([r.scores for r in results], dtype=np.int64).reshape(
                n, self.layout.num_classes
            )
        return Inference(pred=pred, scores=scores, seconds=seconds)

    def _alloc_seq(self) -> int:
        for _ in range(256):
            seq = self._next_seq
            self._next_seq = (seq + 1) & 0xFF
            if seq not in self._outstanding:
                return seq
        raise LinkError("no free sequence number")  # cannot happen: WINDOW <= 255

    def _retire(self, seq: int, now: float, queue: deque[int], batch: int) -> None:
        """The frame with ``seq`` will not be answered: send its sample again (if it
        is still live and of this batch) but keep the SEQ reserved."""
        fr = self._outstanding[seq]
        if fr.live:
            fr.live = False
            fr.dead_since = now
            if fr.batch == batch:
                queue.appendleft(fr.index)

    def _transfer(self, payloads: list[bytes]) -> list[P.Result]:
        if self._closed:
            raise GateflowError("the board is closed")
        self._batch += 1
        batch = self._batch
        n = len(payloads)
        results: list[P.Result | None] = [None] * n
        attempts = [0] * n
        queue: deque[int] = deque(range(n))
        remaining = n
        stats = self.stats
        while remaining:
            now = time.monotonic()
            # send while the window has room
            live = sum(1 for f in self._outstanding.values() if f.live)
            while queue and live < self.window and len(self._outstanding) < 255:
                i = queue.popleft()
                if results[i] is not None:
                    continue
                if attempts[i] > self.retries:
                    raise LinkError(
                        f"no valid reply for sample {i} after {attempts[i]} attempts "
                        f"(timeout {self.rto:.2f} s); the link is too unreliable or the "
                        f"board stopped answering"
                    )
                if attempts[i]:
                    stats.retransmits += 1
                attempts[i] += 1
                seq = self._alloc_seq()
                self._order += 1
                self._outstanding[seq] = _Frame(i, batch, self._order, time.monotonic())
                self._send(P.FrameType.INFER, seq, payloads[i])
                stats.frames_sent += 1
                live += 1

            for fr in self._receive(0.02):
                now = time.monotonic()
                if fr.type == P.FrameType.RESULT:
                    remaining -= self._on_result(fr, results, now, queue, batch)
                elif fr.type == P.FrameType.ERROR:
                    self._on_error(fr, now, queue, batch)
                elif fr.type != P.FrameType.INFO_REPLY:
                    stats.stray += 1

            now = time.monotonic()
            rto = self.rto
            for seq, f in list(self._outstanding.items()):
                if f.live and now - f.sent_at > rto:
                    stats.timeouts += 1
                    log.debug("SEQ %d: no reply within %.2f s", seq, rto)
                    self._retire(seq, now, queue, batch)
                elif not f.live and now - f.dead_since > 4 * rto:
                    del self._outstanding[seq]  # long past any late reply
        # frames still out (duplicates of answered samples) are not waited for
        now = time.monotonic()
        for f in self._outstanding.values():
            if f.live:
                f.live, f.dead_since = False, now
        stats.samples += n
        return [r for r in results if r is not None]

    def _on_result(
        self,
        fr: P.Frame,
        results: list[P.Result | None],
        now: float,
        queue: deque[int],
        batch: int,
    ) -> int:
        """Handle a RESULT; returns 1 when it completed a sample of this batch."""
        stats = self.stats
        f = self._outstanding.get(fr.seq)
        if f is None:
            stats.stray += 1
            log.debug("RESULT for SEQ %d, which no frame holds", fr.seq)
            return 0
        try:
            res = P.parse_result(fr.payload, self.layout)
        except P.ProtocolError:
            stats.bad_frames += 1
            return 0
        del self._outstanding[fr.seq]
        # In-order delivery: every earlier frame still waiting was lost.
        for seq, g in list(self._outstanding.items()):
            if g.order < f.order:
                if g.live:
                    stats.lost_in_order += 1
                    self._retire(seq, now, queue, batch)
                del self._outstanding[seq]
        if f.live and f.batch == batch:
            rtt = now - f.sent_at
            self._srtt = rtt if self._srtt is None else 0.875 * self._srtt + 0.125 * rtt
        if f.batch != batch:
            return 0
        old = results[f.index]
        if old is not None:
            stats.duplicates += 1
            if old != res:
                stats.conflicts += 1
                log.warning("two different RESULTs for sample %d: %s, %s", f.index, old, res)
            return 0
        results[f.index] = res
        return 1

    def _on_error(self, fr: P.Frame, now: float, queue: deque[int], batch: int) -> None:
        try:
            code = P.parse_error(fr.payload)
        except P.ProtocolError:
            self.stats.bad_frames += 1
            return
        name = code.name if isinstance(code, P.ErrorCode) else str(code)
        self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
        f = self._outstanding.get(fr.seq)
        log.debug("ERROR %s for SEQ %d", name, fr.seq)
        if f is None:
            return
        if code == P.ErrorCode.BUSY:
            # BUSY names a frame that passed the CRC: it was dropped, surely.
            self._retire(fr.seq, now, queue, batch)
            del self._outstanding[fr.seq]
        elif f.live:
            # The SEQ byte itself may have been corrupted: send the sample again but
            # keep the SEQ reserved in case its frame was fine after all.
            self._retire(fr.seq, now, queue, batch)
