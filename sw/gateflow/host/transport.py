"""Byte links between the host driver and a board.

A :class:`Transport` moves raw bytes; the driver (:mod:`gateflow.host.board`)
does the framing. :class:`SerialTransport` is a serial port through pyserial:
a USB-UART adapter, or the pseudo terminal of the simulated board (the same
code path). :class:`FaultyTransport` wraps another transport and corrupts the
byte stream on purpose (flipped bits, dropped bytes, garbage, board resets) to
prove that the driver recovers.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateflow import protocol as P
from gateflow.errors import GateflowError

log = logging.getLogger(__name__)


class LinkError(GateflowError):
    """The link to the board failed: a port that cannot be used, or no valid replies."""


class Transport(Protocol):
    """A full-duplex byte link."""

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        ...

    def read(self, timeout: float) -> bytes:
        """The bytes received so far, waiting up to ``timeout`` seconds for at least one;
        ``b""`` when none came."""
        ...

    def reset_input(self) -> None:
        """Discard bytes received and not read yet."""
        ...

    def close(self) -> None: ...


class SerialTransport:
    """A serial port through pyserial (a device path, or a pyserial URL such as
    ``socket://host:port``), 8N1 at ``baud``."""

    def __init__(self, port: str, baud: int, *, write_timeout: float = 5.0) -> None:
        import serial

        self._serial_mod = serial
        self.port = port
        self.baud = baud
        try:
            self._ser = serial.serial_for_url(
                port,
                baudrate=baud,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0.05,
                write_timeout=write_timeout,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open serial port {port}: {exc}") from None
        self._timeout = 0.05

    def write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
            self._ser.flush()
        except (self._serial_mod.SerialException, OSError) as exc:
            raise LinkError(
                f"writing to {self.port} failed ({exc}): is the board still connected?"
            ) from None

    def read(self, timeout: float) -> bytes:
        timeout = max(0.0, round(timeout, 3))
        try:
            if timeout != self._timeout:  # pyserial reconfigures the port on every change
                self._ser.timeout = timeout
                self._timeout = timeout
            data = self._ser.read(max(1, self._ser.in_waiting))
            if data:
                waiting = self._ser.in_waiting
                if waiting:
                    data += self._ser.read(waiting)
            return bytes(data)
        except (self._serial_mod.SerialException, OSError) as exc:
            raise LinkError(
                f"reading from {self.port} failed ({exc}): is the board still connected?"
            ) from None

    def reset_input(self) -> None:
        try:
            self._ser.reset_input_buffer()
        except (self._serial_mod.SerialException, OSError) as exc:
            raise LinkError(f"{self.port}: {exc}") from None

    def close(self) -> None:
        try:
            self._ser.close()
        except (self._serial_mod.SerialException, OSError):
            pass


@dataclass
class Faults:
    """What :class:`FaultyTransport` does to the byte stream.

    Probabilities are per byte (``flip``, ``drop``) or per frame (``garbage``:
    bytes put before a frame; host -> board frames are whole writes, board -> host
    frames are found by their SOF and LEN). ``*_tx`` acts on host -> board bytes
    (they then pass through the board's receiver), ``*_rx`` on board -> host bytes. ``garbage_sof``
    allows the frame start byte 0xA5 inside garbage (the board then starts a
    frame in it and loses the real one). ``reset_after_writes``: after each of
    these numbers of writes, call ``reset`` (e.g. the simulated board's reset).
    """

    flip_tx: float = 0.0
    flip_rx: float = 0.0
    drop_tx: float = 0.0
    drop_rx: float = 0.0
    garbage_tx: float = 0.0
    garbage_rx: float = 0.0
    garbage_len: tuple[int, int] = (1, 12)
    garbage_sof: bool = False
    reset_after_writes: tuple[int, ...] = ()
    reset: Callable[[], None] | None = None
    seed: int = 0


@dataclass
class FaultCounts:
    """What was injected."""

    flipped: int = 0
    dropped: int = 0
    garbage: int = 0
    resets: int = 0

    def total(self) -> int:
        return self.flipped + self.dropped + self.garbage + self.resets


@dataclass
class FaultyTransport:
    """A transport whose byte stream is corrupted as ``faults`` says."""

    inner: Any
    faults: Faults
    injected: FaultCounts = field(default_factory=FaultCounts)

    def __post_init__(self) -> None:
        # one random stream per direction: what happens to the bytes sent does not
        # depend on how the replies happened to be split into reads
        self._rng_tx = random.Random(self.faults.seed)
        self._rng_rx = random.Random(self.faults.seed + 1_000_003)
        self._writes = 0
        # where the received stream stands: bytes of the current frame still to come,
        # and its header so far (to put rx garbage between frames, not inside one)
        self._rx_left = 0
        self._rx_header = bytearray()

    def _garbage(self, rng: random.Random) -> bytes:
        lo, hi = self.faults.garbage_len
        n = rng.randint(lo, hi)
        out = bytearray()
        while len(out) < n:
            b = rng.randrange(256)
            if b != P.SOF or self.faults.garbage_sof:
                out.append(b)
        self.injected.garbage += 1
        return bytes(out)

    def _mangle(self, data: bytes, flip: float, drop: float, rng: random.Random) -> bytes:
        out = bytearray()
        for b in data:
            if drop and rng.random() < drop:
                self.injected.dropped += 1
                continue
            if flip and rng.random() < flip:
                b ^= 1 << rng.randrange(8)
                self.injected.flipped += 1
            out.append(b)
        return bytes(out)

    def write(self, data: bytes) -> None:
        f = self.faults
        if f.garbage_tx and self._rng_tx.random() < f.garbage_tx:
            data = self._garbage(self._rng_tx) + data
        self.inner.write(self._mangle(data, f.flip_tx, f.drop_tx, self._rng_tx))
        self._writes += 1
        if f.reset is not None and self._writes in f.reset_after_writes:
            log.info("fault injection: board reset after write %d", self._writes)
            f.reset()
            self.injected.resets += 1

    def _rx_garbage(self, data: bytes) -> bytes:
        """Garbage (with probability garbage_rx) before each reply frame that starts in
        ``data``; frame boundaries follow from the SOF and LEN fields."""
        out = bytearray()
        for b in data:
            if self._rx_left:
                self._rx_left -= 1
            elif self._rx_header:
                self._rx_header.append(b)
                if len(self._rx_header) == P.HEADER_LEN:  # SOF TYPE SEQ LEN_LO LEN_HI
                    self._rx_left = int.from_bytes(self._rx_header[3:5], "little") + 2
                    self._rx_header.clear()
            elif b == P.SOF:
                if self._rng_rx.random() < self.faults.garbage_rx:
                    out += self._garbage(self._rng_rx)
                self._rx_header.append(b)
            out.append(b)
        return bytes(out)

    def read(self, timeout: float) -> bytes:
        f = self.faults
        data = self.inner.read(timeout)
        if not data:
            return data
        if f.garbage_rx:
            data = self._rx_garbage(data)
        return self._mangle(data, f.flip_rx, f.drop_rx, self._rng_rx)

    def reset_input(self) -> None:
        self.inner.reset_input()

    def close(self) -> None:
        self.inner.close()
