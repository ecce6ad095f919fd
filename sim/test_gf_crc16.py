"""cocotb testbench for hw/rtl/gf_crc16.sv: one byte of CRC-16/CCITT-FALSE."""

from __future__ import annotations

import random

import cocotb
from cocotb.triggers import Timer

from gateflow.protocol import crc16


def bitwise(crc: int, byte: int) -> int:
    """The textbook bit-serial update, independent of gateflow.protocol's table."""
    for i in range(7, -1, -1):
        fb = ((crc >> 15) ^ (byte >> i)) & 1
        crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if fb else 0)
    return crc


async def step(dut, crc: int, byte: int) -> int:
    dut.crc_in.value = crc
    dut.data.value = byte
    await Timer(1, unit="ns")
    return int(dut.crc_out.value)


@cocotb.test()
async def check_value(dut) -> None:
    """Feeding "123456789" from 0xFFFF gives the catalogue check value 0x29B1."""
    crc = 0xFFFF
    for b in b"123456789":
        crc = await step(dut, crc, b)
    assert crc == 0x29B1, f"check value {crc:#06x}, expected 0x29b1"


@cocotb.test()
async def random_updates(dut) -> None:
    vectors = [(c, b) for c in (0, 0xFFFF, 0x8000, 0x0001) for b in range(256)]
    vectors += [(random.getrandbits(16), random.getrandbits(8)) for _ in range(2000)]
    for c, b in vectors:
        got = await step(dut, c, b)
        assert got == bitwise(c, b), f"crc {c:#06x}, byte {b:#04x}: got {got:#06x}"
        assert got == crc16(bytes([b]), c)
