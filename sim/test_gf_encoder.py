"""cocotb testbench for a generated thermometer encoder (gateflow.hdl.encoder): for every
raw row in the vector file (GATEFLOW_VECTORS: hex ``raw`` words and the ``bits`` the
IR's encoder gives for them), the module's output equals the expected bits."""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def encodes_like_the_ir(dut) -> None:
    with open(os.environ["GATEFLOW_VECTORS"]) as f:
        cfg = json.load(f)
    assert len(cfg["raw"]) == len(cfg["bits"]) > 0
    for k, (raw, want) in enumerate(zip(cfg["raw"], cfg["bits"])):
        dut.raw.value = int(raw, 16)
        await Timer(1, unit="ns")
        got = int(dut.bits.value)
        assert got == int(want, 16), f"row {k}: bits {got:#x}, expected {want}"
