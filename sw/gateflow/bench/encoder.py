"""What the thermometer encoder would cost on the FPGA (``gateflow bench encoder``).

gateflow encodes in the host and sends the encoded bits. This benchmark builds the other
choice for a model's encoder (:mod:`gateflow.hdl.encoder`: a byte per raw feature in,
the IR's input bits out), checks it bit for bit against the IR's encoder under Verilator
on random raw rows, synthesises it alone with Yosys for one FPGA family, and sets its
LUTs and the INFER payload each choice needs side by side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.hdl.encoder import RAW_BITS, check_encoder, write_encoder
from gateflow.ir.netlist import load


def run_encoder_bench(
    ir_path: str | Path, family: str, work: str | Path, rows: int = 500, seed: int = 0
) -> dict[str, Any]:
    """The encoder of the IR at ``ir_path`` as hardware for ``family``: its LUTs (as
    report.json counts them), flip-flops and cells by type, checked on ``rows`` random
    raw rows, and the payload bytes per sample with the encoder in the host (today) and
    in the FPGA."""
    from gateflow.fpga.report import cell_counts, synth_module

    net = load(ir_path)
    enc = net.encoder
    work = Path(work)
    raw = np.random.default_rng(seed).integers(0, 1 << RAW_BITS, (rows, enc.num_raw_features))
    checked = check_encoder(enc, raw, work / "check")
    start = time.perf_counter()
    cells = synth_module(family, [write_encoder(enc, work)], "gf_encoder", work / "synth")
    luts, ffs = cell_counts(cells, family)
    return {
        "bench": "encoder",
        "model": str(ir_path),
        "ir_sha256": net.sha256(),
        "family": family,
        "raw_features": enc.num_raw_features,
        "input_bits": enc.num_bits,
        "encoder_luts": luts,
        "encoder_ffs": ffs,
        # every cell by type: on iCE40 a carry cell (SB_CARRY) takes a logic cell too
        "cells": cells,
        "verified_rows": checked,
        "payload_bytes": {
            "host_encoder": -(-enc.num_bits // 8),
            "fpga_encoder": enc.num_raw_features * RAW_BITS // 8,
        },
        "synth_seconds": round(time.perf_counter() - start, 1),
    }
