"""cocotb testbench for a generated gateflow core.

Streams every sample of a vector file through the core's s_axis port and
checks each m_axis result against the golden model's, in order. The vector
file (JSON, path in GATEFLOW_VECTORS) holds the packed inputs, the expected
packed outputs, the manifest's latency, and the stimulus mode. A summary goes
to GATEFLOW_RESULTS so that the caller can report `bit-exact: M/N`.

Modes: ``full`` keeps s_axis_tvalid and m_axis_tready high and checks that samples
are taken at the intervals and results come at the latencies the manifest states (one
sample per clock and one latency for a spatial core; a time-multiplexed core's
``schedule``); ``stalls`` inserts random input gaps and random output backpressure and
checks that no sample is lost,
duplicated or reordered and that m_axis holds its data while stalled.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def _config() -> dict:
    with open(os.environ["GATEFLOW_VECTORS"]) as f:
        return json.load(f)


async def _reset(dut) -> None:
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tdata.value = 0
    dut.m_axis_tready.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def _stream(dut, inputs, expected, in_gap, out_stall, rng, max_cycles):
    """Drive and monitor cycle by cycle; returns (outputs, in_cycles, out_cycles, errors)."""
    outputs: list[int] = []
    in_cycles: list[int] = []
    out_cycles: list[int] = []
    errors: list[str] = []
    k = 0
    cycle = 0
    held = None  # (data) of an m_axis beat that was offered but not taken
    offering = False
    while len(outputs) < len(expected):
        if cycle > max_cycles:
            errors.append(
                f"timeout after {cycle} cycles: {len(outputs)}/{len(expected)} results received"
            )
            break
        # drive: decide this cycle's input offer and output readiness
        if not offering and k < len(inputs) and rng.random() >= in_gap:
            offering = True
            dut.s_axis_tdata.value = inputs[k]
        dut.s_axis_tvalid.value = 1 if offering else 0
        ready = 1 if rng.random() >= out_stall else 0
        dut.m_axis_tready.value = ready
        await ReadOnly()
        in_fire = offering and int(dut.s_axis_tready.value) == 1
        m_valid = int(dut.m_axis_tvalid.value) == 1
        if m_valid:
            data = int(dut.m_axis_tdata.value)
            if held is not None and data != held:
                errors.append(f"cycle {cycle}: m_axis_tdata changed while stalled")
            if ready:
                outputs.append(data)
                out_cycles.append(cycle)
                held = None
            else:
                held = data
        elif held is not None:
            errors.append(f"cycle {cycle}: m_axis_tvalid dropped while stalled")
            held = None
        await RisingEdge(dut.clk)
        if in_fire:
            in_cycles.append(cycle)
            k += 1
            offering = False
        cycle += 1
    return outputs, in_cycles, out_cycles, errors


async def _run(dut, mode: str) -> None:
    cfg = _config()
    inputs = [int(v, 16) for v in cfg["inputs"]]
    expected = [int(v, 16) for v in cfg["expected"]]
    latency = cfg["latency"]
    # sample k's latency and the cycles to sample k+1's handshake, unstalled; each
    # list's last entry holds for all later samples
    latencies = cfg.get("latencies", [cfg["latency"]])
    intervals = cfg.get("intervals", [1])
    interval = intervals[-1]
    rng = random.Random(cfg.get("seed", 1))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await _reset(dut)
    for _ in range(cfg.get("settle", 0)):  # an idle time-multiplexed engine (manifest)
        await RisingEdge(dut.clk)
    if mode == "full":
        in_gap, out_stall = 0.0, 0.0
    else:
        in_gap, out_stall = cfg.get("in_gap", 0.3), cfg.get("out_stall", 0.3)
    max_cycles = (len(inputs) * interval + latency + 10) * (1 + int(10 * (in_gap + out_stall)))
    outputs, in_cycles, out_cycles, errors = await _stream(
        dut, inputs, expected, in_gap, out_stall, rng, max_cycles
    )
    matched = sum(1 for got, want in zip(outputs, expected) if got == want)
    mismatches = [
        {"sample": i, "got": hex(got), "expected": hex(want)}
        for i, (got, want) in enumerate(zip(outputs, expected))
        if got != want
    ]
    measured = [o - i for i, o in zip(in_cycles, out_cycles)]
    if mode == "full":
        gaps = [b - a for a, b in zip(in_cycles, in_cycles[1:])]
        for k, gap in enumerate(gaps):
            if gap != intervals[min(k, len(intervals) - 1)]:
                errors.append(f"sample {k + 1} was taken {gap} clocks after sample {k}, the "
                              f"manifest says {intervals[min(k, len(intervals) - 1)]}")  # fmt: skip
                break
        for k, m in enumerate(measured):
            if m != latencies[min(k, len(latencies) - 1)]:
                errors.append(f"sample {k}: latency {m} cycles, the manifest says "
                              f"{latencies[min(k, len(latencies) - 1)]}")  # fmt: skip
                break
    summary = {
        "mode": mode,
        "total": len(expected),
        "received": len(outputs),
        "matched": matched,
        "mismatches": mismatches[:20],
        "errors": errors[:20],
        "latency_measured": measured[0] if measured else None,
        "outputs": [hex(v) for v in outputs],
        "cycles": (out_cycles[-1] - in_cycles[0] + 1) if out_cycles and in_cycles else None,
    }
    results = os.environ.get("GATEFLOW_RESULTS")
    if results:
        with open(f"{results}.{mode}.json", "w") as f:
            json.dump(summary, f, indent=1)
    assert not errors, errors[0]
    assert len(outputs) == len(expected), f"received {len(outputs)} of {len(expected)} results"
    assert matched == len(expected), (
        f"bit-exact {matched}/{len(expected)}; first mismatch {mismatches[0]}"
    )


@cocotb.test()
async def full_throughput(dut):
    """Never stalled: one sample per interval, exact latency, every result bit-exact."""
    await _run(dut, "full")


@cocotb.test()
async def random_stalls(dut):
    """Random input gaps and output backpressure: nothing lost, duplicated or reordered."""
    await _run(dut, "stalls")
