"""cocotb testbench for hw/rtl/gf_sync_fifo.sv.

Scoreboard: every entry accepted leaves once, unchanged and in order;
s_ready is high exactly while fewer than DEPTH entries are held; m_valid and
m_data hold until taken; DEPTH entries fit; a reset empties the FIFO.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.width = int(dut.WIDTH.value)
        self.depth = int(dut.DEPTH.value)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self) -> None:
        dut = self.dut
        dut.rst.value = 1
        dut.s_valid.value = 0
        dut.s_data.value = 0
        dut.m_ready.value = 0
        for _ in range(2):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await ReadOnly()
        assert int(dut.m_valid.value) == 0 and int(dut.s_ready.value) == 1
        await RisingEdge(dut.clk)

    async def run(self, n: int, p_in: float, p_out: float) -> None:
        dut = self.dut
        sent = [random.getrandbits(self.width) for _ in range(n)]
        got: list[int] = []
        held = 0  # entries inside, by the model
        nxt = 0
        offering = False
        stalled: int | None = None
        for cycle in range(int(n / min(p_in, p_out)) * 3 + 100):
            if not offering and nxt < n and random.random() < p_in:
                offering = True
            dut.s_valid.value = int(offering)
            dut.s_data.value = sent[nxt] if offering else random.getrandbits(self.width)
            ready = random.random() < p_out
            dut.m_ready.value = int(ready)
            await ReadOnly()
            assert int(dut.s_ready.value) == int(held < self.depth), (
                f"cycle {cycle}: s_ready {int(dut.s_ready.value)} with {held} of {self.depth} held"
            )
            m_valid = int(dut.m_valid.value)
            if stalled is not None:
                assert m_valid and int(dut.m_data.value) == stalled, f"cycle {cycle}: head moved"
            if m_valid:
                data = int(dut.m_data.value)
                assert len(got) < n and data == sent[len(got)], f"cycle {cycle}: wrong entry"
                if ready:
                    got.append(data)
                    held -= 1
                stalled = None if ready else data
            if offering and int(dut.s_ready.value):
                offering = False
                nxt += 1
                held += 1
            await RisingEdge(dut.clk)
            if len(got) == n:
                break
        assert got == sent, f"received {len(got)} of {n}"


@cocotb.test()
@cocotb.parametrize(
    (("p_in", "p_out"), [(1.0, 1.0), (0.5, 0.5), (0.9, 0.2), (0.2, 0.9), (1.0, 0.05)])
)
async def random_traffic(dut, p_in: float, p_out: float) -> None:
    tb = TB(dut)
    await tb.reset()
    await tb.run(300, p_in, p_out)


@cocotb.test()
async def fills_to_depth_and_resets(dut) -> None:
    tb = TB(dut)
    await tb.reset()
    dut.s_valid.value = 1
    for i in range(tb.depth):
        dut.s_data.value = i % (1 << tb.width)
        await ReadOnly()
        assert int(dut.s_ready.value) == 1, f"full after {i} of {tb.depth} entries"
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.s_ready.value) == 0, "s_ready high with DEPTH entries held"
    await RisingEdge(dut.clk)
    await tb.reset()
    await tb.run(50, 0.7, 0.7)
