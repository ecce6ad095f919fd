"""cocotb testbench for hw/rtl/gf_popcount.sv: count == number of ones in `in`."""

from __future__ import annotations

import random

import cocotb
from cocotb.triggers import Timer


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
    for vec in vectors(width, n_random=300):
        dut["in"].value = vec
        await Timer(1, unit="ns")
        got = int(dut.count.value)
        assert got == vec.bit_count(), f"popcount({vec:#x}) = {got}, expected {vec.bit_count()}"
