"""cocotb testbench for hw/rtl/gf_skid_buffer.sv.

Scoreboard: every beat accepted at s_axis leaves m_axis once, unchanged and in
order. Checked each clock: the AXI-Stream hold rule on m_axis (tvalid stays high
and tdata stable until accepted), reset, a one-cycle latency, full throughput
with an always-ready sink, and that s_axis_tready / m_axis_* are registered
(changing the inputs within a cycle does not move them).
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

CLK_NS = 10


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.width = int(dut.WIDTH.value)
        assert len(dut.s_axis_tdata) == self.width
        assert len(dut.m_axis_tdata) == self.width
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())

    def rand_data(self) -> int:
        return random.getrandbits(self.width)

    async def reset(self) -> None:
        dut = self.dut
        dut.rst.value = 1
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tdata.value = 0
        dut.m_axis_tready.value = 0
        for _ in range(3):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await ReadOnly()
        assert int(dut.m_axis_tvalid.value) == 0, "m_axis_tvalid high after reset"
        assert int(dut.s_axis_tready.value) == 1, "s_axis_tready low after reset"
        await RisingEdge(dut.clk)

    async def stream(self, n_beats: int, p_in: float, p_out: float, max_cycles: int) -> None:
        """Send n_beats with random gaps and back-pressure; check them all at the sink.

        Drives just after each rising edge and samples in ReadOnly before the
        next one, so a handshake seen in ReadOnly happens at that next edge.
        """
        dut = self.dut
        sent = [self.rand_data() for _ in range(n_beats)]
        accepted_at: list[int] = []  # cycle of each input handshake
        received: list[int] = []
        next_in = 0
        offering = False
        prev_out: tuple[int, int] | None = None  # (valid, data) last cycle, if not taken

        for cycle in range(max_cycles):
            # Source: once tvalid is high it holds its beat until accepted.
            if not offering and next_in < n_beats and random.random() < p_in:
                offering = True
            dut.s_axis_tvalid.value = int(offering)
            dut.s_axis_tdata.value = sent[next_in] if offering else self.rand_data()
            dut.m_axis_tready.value = int(random.random() < p_out)
            await ReadOnly()

            m_valid = int(dut.m_axis_tvalid.value)
            m_ready = int(dut.m_axis_tready.value)
            m_data = int(dut.m_axis_tdata.value) if m_valid else None
            if prev_out is not None:
                assert m_valid, f"cycle {cycle}: m_axis_tvalid dropped before the beat was taken"
                assert m_data == prev_out[1], (
                    f"cycle {cycle}: m_axis_tdata changed while stalled "
                    f"({prev_out[1]:#x} -> {m_data:#x})"
                )
            if m_valid and m_ready:
                received.append(m_data)
                idx = len(received) - 1
                assert idx < n_beats, f"cycle {cycle}: extra beat {m_data:#x} on m_axis"
                assert m_data == sent[idx], (
                    f"cycle {cycle}: beat {idx} is {m_data:#x}, expected {sent[idx]:#x}"
                )
                assert idx < len(accepted_at) and accepted_at[idx] < cycle, (
                    f"cycle {cycle}: beat {idx} left before it was accepted"
                )
                prev_out = None
            elif m_valid:
                prev_out = (m_valid, m_data)
            else:
                prev_out = None

            if offering and int(dut.s_axis_tready.value):
                accepted_at.append(cycle)
                next_in += 1
                offering = False

            await RisingEdge(dut.clk)
            if len(received) == n_beats and not offering:
                break

        assert received == sent, (
            f"received {len(received)} of {n_beats} beats within {max_cycles} cycles"
        )
        # Nothing left inside, and nothing appears later.
        dut.s_axis_tvalid.value = 0
        dut.m_axis_tready.value = 1
        for _ in range(4):
            await ReadOnly()
            assert int(dut.m_axis_tvalid.value) == 0, "extra beat after the stream ended"
            await RisingEdge(dut.clk)


@cocotb.test()
@cocotb.parametrize(
    (
        ("p_in", "p_out"),
        [(1.0, 1.0), (0.5, 0.5), (0.9, 0.3), (0.3, 0.9), (1.0, 0.1), (0.1, 1.0)],
    )
)
async def random_gaps_and_backpressure(dut, p_in: float, p_out: float) -> None:
    tb = TB(dut)
    await tb.reset()
    n = 400
    await tb.stream(n, p_in, p_out, max_cycles=int(n / min(p_in, p_out)) * 4 + 100)


@cocotb.test()
async def full_throughput(dut) -> None:
    """With an always-ready sink, N beats take N+1 clocks, and each is accepted
    at s_axis one cycle before it leaves m_axis (s_axis_tready never drops)."""
    tb = TB(dut)
    await tb.reset()
    n = 64
    sent = [tb.rand_data() for _ in range(n)]
    dut.m_axis_tready.value = 1
    in_cycles: list[int] = []
    out: list[tuple[int, int]] = []
    cycle = 0
    while len(out) < n:
        dut.s_axis_tvalid.value = int(len(in_cycles) < n)
        dut.s_axis_tdata.value = sent[len(in_cycles)] if len(in_cycles) < n else 0
        await ReadOnly()
        if int(dut.m_axis_tvalid.value):
            out.append((cycle, int(dut.m_axis_tdata.value)))
        if len(in_cycles) < n:
            assert int(dut.s_axis_tready.value), f"cycle {cycle}: s_axis_tready dropped"
            in_cycles.append(cycle)
        await RisingEdge(dut.clk)
        cycle += 1
        assert cycle <= n + 1, "stream took more than N+1 cycles"
    assert [d for _, d in out] == sent
    assert [c for c, _ in out] == [c + 1 for c in in_cycles], "latency is not exactly 1 cycle"
    assert out[-1][0] - in_cycles[0] + 1 == n + 1, "N transfers did not take N+1 cycles"


@cocotb.test()
async def outputs_are_registered(dut) -> None:
    """Within a clock cycle, s_axis_tready, m_axis_tvalid and m_axis_tdata depend
    only on state: moving m_axis_tready or the s_axis inputs must not change them."""
    tb = TB(dut)
    await tb.reset()
    for cycle in range(300):
        dut.s_axis_tvalid.value = random.getrandbits(1)
        dut.s_axis_tdata.value = tb.rand_data()
        dut.m_axis_tready.value = random.getrandbits(1)
        await Timer(1, unit="ns")
        before = (
            int(dut.s_axis_tready.value),
            int(dut.m_axis_tvalid.value),
            dut.m_axis_tdata.value,
        )
        for _ in range(3):
            dut.s_axis_tvalid.value = random.getrandbits(1)
            dut.s_axis_tdata.value = tb.rand_data()
            dut.m_axis_tready.value = random.getrandbits(1)
            await Timer(1, unit="ns")
            after = (
                int(dut.s_axis_tready.value),
                int(dut.m_axis_tvalid.value),
                dut.m_axis_tdata.value,
            )
            assert after == before, (
                f"cycle {cycle}: an output moved with an input: {before} -> {after}"
            )
        await RisingEdge(dut.clk)


@cocotb.test()
async def reset_mid_stream(dut) -> None:
    """A reset while full empties the buffer; streaming works afterwards."""
    tb = TB(dut)
    await tb.reset()
    dut.m_axis_tready.value = 0
    dut.s_axis_tvalid.value = 1
    for _ in range(4):  # fill both registers
        dut.s_axis_tdata.value = tb.rand_data()
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.m_axis_tvalid.value) == 1
    assert int(dut.s_axis_tready.value) == 0, "s_axis_tready high with both registers full"
    await RisingEdge(dut.clk)
    await tb.reset()
    await tb.stream(50, 0.7, 0.7, max_cycles=1000)
