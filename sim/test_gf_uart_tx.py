"""cocotb testbench for hw/rtl/gf_uart_tx.sv.

Samples `tx` every clock: each byte must appear as a start bit, 8 data bits
LSB first and a stop bit, each exactly CLKS_PER_BIT clocks long; the line
idles high (also during and right after reset); s_ready is low while a byte
is on the line; bytes offered back to back all come out, in order.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

CLK_NS = 10


@cocotb.test()
@cocotb.parametrize(gaps=[False, True])
async def bytes_on_the_line(dut, gaps: bool) -> None:
    cpb = int(dut.CLKS_PER_BIT.value)
    cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
    dut.s_valid.value = 0
    dut.s_data.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await ReadOnly()
    assert int(dut.tx.value) == 1, "tx not idle in reset"
    await RisingEdge(dut.clk)
    dut.rst.value = 0

    data = [0x00, 0xFF, 0xA5] + [random.getrandbits(8) for _ in range(30)]
    line: list[int] = []
    k = 0
    offering = False
    idle = 0
    while k < len(data) or offering or idle < 12 * cpb:
        if not offering and k < len(data) and (not gaps or random.random() < 0.05):
            offering = True
            dut.s_data.value = data[k]
        dut.s_valid.value = int(offering)
        await ReadOnly()
        tx = int(dut.tx.value)
        line.append(tx)
        idle = idle + 1 if tx and not offering else 0
        if offering and int(dut.s_ready.value):
            offering = False
            k += 1
        await RisingEdge(dut.clk)

    got = []
    t = 0
    while t < len(line):
        if line[t]:
            t += 1
            continue
        bits = [line[t + j * cpb : t + (j + 1) * cpb] for j in range(10)]
        for j, chunk in enumerate(bits):
            assert len(chunk) == cpb and len(set(chunk)) == 1, (
                f"bit {j} of byte {len(got)} is not {cpb} clocks of one level: {chunk}"
            )
        assert bits[0][0] == 0 and bits[9][0] == 1, f"byte {len(got)}: bad start or stop bit"
        got.append(sum(bits[1 + i][0] << i for i in range(8)))
        t += 10 * cpb
    assert got == data, f"sent {data}, line carried {got}"
