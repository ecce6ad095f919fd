"""cocotb testbench for hw/rtl/gf_serial_groupsum.sv.

Scoreboard: every sample accepted at s_* leaves m_* once, in order, with class c's
score equal to the number of ones in s_bits[c*G +: G]. Checked each clock: m_scores
holds while m_valid is high and m_ready low; with an always-ready sink a sample
accepted at clock t gives m_valid at t + STEPS + 1, and the next one is accepted in
that clock (one sample every STEPS + 1 clocks); s_ready is low while counting.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

CLK_NS = 10


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.n = int(dut.N.value)
        self.g = int(dut.G.value)
        self.k = int(dut.K.value)
        self.w = int(dut.W.value)
        self.steps = -(-self.g // self.k)
        assert len(dut.s_bits) == self.n * self.g
        assert len(dut.m_scores) == self.n * self.w
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())

    def sample(self) -> int:
        """Random bits at a random density per class, with all-zero and all-one groups."""
        full = (1 << self.g) - 1
        bits = 0
        for c in range(self.n):
            kind = random.random()
            if kind < 0.1:
                group = 0
            elif kind < 0.2:
                group = full
            else:
                p = random.random()
                group = sum(1 << i for i in range(self.g) if random.random() < p)
            bits |= group << (c * self.g)
        return bits

    def scores(self, bits: int) -> list[int]:
        full = (1 << self.g) - 1
        return [((bits >> (c * self.g)) & full).bit_count() for c in range(self.n)]

    def unpack(self, value: int) -> list[int]:
        mask = (1 << self.w) - 1
        return [(value >> (c * self.w)) & mask for c in range(self.n)]

    async def reset(self) -> None:
        dut = self.dut
        dut.rst.value = 1
        dut.s_valid.value = 0
        dut.s_bits.value = 0
        dut.m_ready.value = 0
        for _ in range(3):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await ReadOnly()
        assert int(dut.m_valid.value) == 0, "m_valid high after reset"
        assert int(dut.s_ready.value) == 1, "s_ready low after reset"
        await RisingEdge(dut.clk)

    async def stream(self, n: int, p_in: float, p_out: float) -> tuple[list[int], list[int]]:
        """Offer ``n`` samples with random gaps and backpressure; check every result.
        Returns the clocks of the input handshakes and of the output handshakes."""
        dut = self.dut
        sent = [self.sample() for _ in range(n)]
        taken_in: list[int] = []
        taken_out: list[int] = []
        offering = False
        held: list[int] | None = None  # scores shown last clock and not taken
        for cycle in range((n + 2) * (self.steps + 2) * 20):
            if len(taken_out) == n:
                break
            if not offering and len(taken_in) < n and random.random() < p_in:
                offering = True
            dut.s_valid.value = int(offering)
            dut.s_bits.value = (
                sent[len(taken_in)] if offering else random.getrandbits(self.n * self.g)
            )
            dut.m_ready.value = int(random.random() < p_out)
            await ReadOnly()
            m_valid = int(dut.m_valid.value)
            got = self.unpack(int(dut.m_scores.value)) if m_valid else None
            if held is not None:
                assert m_valid, f"clock {cycle}: m_valid dropped before the result was taken"
                assert got == held, f"clock {cycle}: m_scores changed while stalled"
            if m_valid and int(dut.m_ready.value):
                want = self.scores(sent[len(taken_out)])
                assert got == want, f"sample {len(taken_out)}: scores {got}, expected {want}"
                taken_out.append(cycle)
                held = None
            else:
                held = got
            if offering and int(dut.s_ready.value):
                taken_in.append(cycle)
                offering = False
            await RisingEdge(dut.clk)
        assert len(taken_out) == n, f"{len(taken_out)} of {n} results came out"
        return taken_in, taken_out


@cocotb.test()
async def counts_at_full_rate(dut) -> None:
    tb = TB(dut)
    await tb.reset()
    taken_in, taken_out = await tb.stream(30, p_in=1.0, p_out=1.0)
    period = tb.steps + 1
    assert [b - a for a, b in zip(taken_in, taken_out)] == [period] * 30
    assert [b - a for a, b in zip(taken_in, taken_in[1:])] == [period] * 29


@cocotb.test()
async def counts_under_gaps_and_stalls(dut) -> None:
    tb = TB(dut)
    await tb.reset()
    await tb.stream(60, p_in=0.4, p_out=0.5)
    await tb.stream(30, p_in=1.0, p_out=0.2)
