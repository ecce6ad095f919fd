"""cocotb testbench for hw/rtl/gf_popcount.sv: count == number of ones in `in`,
STAGES enabled clocks later when the count is pipelined."""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer


def vectors(width: int, n_random: int) -> list[int]:
    full = (1 << width) - 1
    vecs = [0, full, 1, 1 << (width - 1)]
    vecs += [int("01" * width, 2) & full, int("10" * width, 2) & full]
    if width <= 10:
        vecs += list(range(1 << width))  # exhaustive
    else:
        step = max(1, width // 64)
        vecs += [1 << i for i in range(0, width, step)]  # walking one
        vecs += [full ^ (1 << i) for i in range(0, width, step)]  # walking zero
        vecs += [(1 << k) - 1 for k in range(0, width + 1, step)]  # thermometer
        for _ in range(n_random):
            density = random.random()
            vecs.append(sum(1 << i for i in range(width) if random.random() < density))
    return vecs


@cocotb.test()
async def counts_ones(dut) -> None:
    width = int(dut.WIDTH.value)
    out_width = int(dut.OUT_WIDTH.value)
    assert len(dut["in"]) == width
    assert len(dut.count) == out_width
    assert out_width >= width.bit_length(), "OUT_WIDTH too narrow for WIDTH"
    if int(dut.STAGES.value) > 0:
        await pipelined(dut, width)
        return
    dut.clk.value = 0
    dut.ce.value = 0
    for vec in vectors(width, n_random=300):
        dut["in"].value = vec
        await Timer(1, unit="ns")
        got = int(dut.count.value)
        assert got == vec.bit_count(), f"popcount({vec:#x}) = {got}, expected {vec.bit_count()}"


async def pipelined(dut, width: int) -> None:
    """Random clock enables: the count of the input taken STAGES enabled clocks ago."""
    stages = int(dut.STAGES.value)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    history: list[int] = []
    vecs = vectors(width, n_random=200)
    dut.ce.value = 1
    dut["in"].value = 0
    for _ in range(stages + 1):  # fill the pipeline with zeros
        await RisingEdge(dut.clk)
        history.append(0)
    for k in range(len(vecs) + stages):
        await FallingEdge(dut.clk)
        if len(history) >= stages:
            want = history[-stages].bit_count()
            got = int(dut.count.value)
            assert got == want, f"step {k}: count {got}, expected {want}"
        ce = random.random() < 0.7
        vec = vecs[k] if k < len(vecs) else 0
        dut.ce.value = int(ce)
        dut["in"].value = vec
        await RisingEdge(dut.clk)
        if ce:
            history.append(vec)
