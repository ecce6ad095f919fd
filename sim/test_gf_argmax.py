"""cocotb testbench for hw/rtl/gf_argmax.sv: index of the largest unsigned score,
lowest index on ties, and max_score, checked against Python."""

from __future__ import annotations

import itertools
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer


def pack(scores: list[int], w: int) -> int:
    return sum(s << (i * w) for i, s in enumerate(scores))


def reference(scores: list[int]) -> tuple[int, int]:
    best = max(scores)
    return scores.index(best), best  # list.index: lowest index of the maximum


def vectors(n: int, w: int, n_random: int) -> list[list[int]]:
    top = (1 << w) - 1
    ramp = [min(i, top) for i in range(n)]
    vecs = [[0] * n, [top] * n, ramp, ramp[::-1]]
    vecs += [[top if i == j else 0 for i in range(n)] for j in range(n)]  # one-hot maximum
    vecs += [[top if i >= j else 0 for i in range(n)] for j in range(n)]  # tie from j up
    if n * w <= 12:
        vecs += [list(c) for c in itertools.product(range(top + 1), repeat=n)]  # exhaustive
    else:
        for _ in range(n_random):
            vecs.append([random.getrandbits(w) for _ in range(n)])
            lo = random.randrange(top + 1)  # few distinct values: many ties
            vecs.append([random.choice((lo, top, lo // 2)) for _ in range(n)])
    return vecs


@cocotb.test()
async def argmax_lowest_index(dut) -> None:
    n, w, iw = int(dut.N.value), int(dut.W.value), int(dut.IW.value)
    assert len(dut.scores) == n * w
    assert len(dut.index) == iw
    assert len(dut.max_score) == w
    assert (1 << iw) >= n, "IW too narrow for N"
    if int(dut.STAGES.value) > 0:
        await pipelined(dut, n, w)
        return
    dut.clk.value = 0
    dut.ce.value = 0
    for scores in vectors(n, w, n_random=300):
        dut.scores.value = pack(scores, w)
        await Timer(1, unit="ns")
        want_index, want_max = reference(scores)
        got_index, got_max = int(dut.index.value), int(dut.max_score.value)
        assert (got_index, got_max) == (want_index, want_max), (
            f"scores {scores}: got index {got_index} max {got_max}, "
            f"expected index {want_index} max {want_max}"
        )


async def pipelined(dut, n: int, w: int) -> None:
    """Random clock enables: the outputs belong to the scores taken STAGES enabled clocks ago."""
    stages = int(dut.STAGES.value)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    vecs = vectors(n, w, n_random=200)
    history: list[list[int]] = []
    dut.ce.value = 1
    dut.scores.value = 0
    for _ in range(stages):
        await RisingEdge(dut.clk)
        history.append([0] * n)
    for k in range(len(vecs) + stages):
        await FallingEdge(dut.clk)
        want = reference(history[-stages])
        got = (int(dut.index.value), int(dut.max_score.value))
        assert got == want, f"step {k}: got {got}, expected {want} for {history[-stages]}"
        ce = random.random() < 0.7
        vec = vecs[k] if k < len(vecs) else [0] * n
        dut.ce.value = int(ce)
        dut.scores.value = pack(vec, w)
        await RisingEdge(dut.clk)
        if ce:
            history.append(vec)
