"""cocotb testbench for hw/rtl/gf_uart_rx.sv.

Drives 8N1 bytes bit by bit at the nominal rate and 3 % fast and slow, with
and without idle gaps, and checks each `valid` pulse: the byte, frame_err,
exactly one pulse per byte. Also: a low stop bit sets frame_err (and a break
gives one error, not a stream of bytes), and a glitch shorter than half a bit
is not a start bit.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer

CLK_NS = 10


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.cpb = int(dut.CLKS_PER_BIT.value)
        self.bit_ps = self.cpb * CLK_NS * 1000
        self.got: list[tuple[int, int]] = []  # (byte, frame_err)
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())

    async def reset(self) -> None:
        self.dut.rx.value = 1
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        cocotb.start_soon(self._collect())

    async def _collect(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            if int(self.dut.valid.value):
                self.got.append((int(self.dut.data.value), int(self.dut.frame_err.value)))

    async def send(self, byte: int, rate: float = 1.0, stop: int = 1, gap: float = 0) -> None:
        bit_ps = round(self.bit_ps * rate)
        for v in [0, *((byte >> k) & 1 for k in range(8)), stop]:
            self.dut.rx.value = v
            await Timer(bit_ps, unit="ps")
        self.dut.rx.value = 1
        if gap:
            await Timer(round(bit_ps * gap), unit="ps")


@cocotb.test()
@cocotb.parametrize(rate=[1.0, 0.97, 1.03])
async def bytes_at_rate(dut, rate: float) -> None:
    tb = TB(dut)
    await tb.reset()
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + [random.getrandbits(8) for _ in range(60)]
    for i, b in enumerate(data):
        await tb.send(b, rate, gap=(i % 3) * 0.7)
    await ClockCycles(dut.clk, 2 * tb.cpb)
    assert tb.got == [(b, 0) for b in data], f"sent {data}, got {tb.got}"


@cocotb.test()
async def framing_error_and_break(dut) -> None:
    tb = TB(dut)
    await tb.reset()
    await tb.send(0x3C, stop=0, gap=1)  # the line must go high again before a start bit
    await tb.send(0xC3)
    # a break: the line low for 30 bit periods
    dut.rx.value = 0
    await Timer(30 * tb.bit_ps, unit="ps")
    dut.rx.value = 1
    await Timer(2 * tb.bit_ps, unit="ps")
    await tb.send(0x5A)
    await ClockCycles(dut.clk, 2 * tb.cpb)
    assert tb.got == [(0x3C, 1), (0xC3, 0), (0x00, 1), (0x5A, 0)], tb.got


@cocotb.test()
async def glitch_is_not_a_start_bit(dut) -> None:
    tb = TB(dut)
    await tb.reset()
    for width in range(1, tb.cpb // 2 - 1):
        dut.rx.value = 0
        await ClockCycles(dut.clk, width)
        dut.rx.value = 1
        await ClockCycles(dut.clk, 2 * tb.cpb)
    await tb.send(0x96)
    await ClockCycles(dut.clk, 2 * tb.cpb)
    assert tb.got == [(0x96, 0)], tb.got
