"""The thermometer encoder as hardware, to state what moving it onto the FPGA would cost.

gateflow keeps the encoder in the host: the driver sends the encoded bits, and the core's
``s_axis_tdata`` is exactly the IR's input bits. This module writes the other choice,
``gf_encoder``: raw features in, one unsigned byte each (``raw[f*8 +: 8]``), the IR's
input bits out, ``bits[i] = raw[feature[i]] >= threshold[i]``, as combinational
comparisons against constants. ``gateflow bench encoder`` synthesises it and sets its
LUTs and the INFER payload it would need (a byte per raw feature) beside the encoded
payload (docs/boards.md, "The input encoder"). It is not part of any core.

Only integer encoders over byte-sized raw values can be built: a real-valued encoder
(floating-point comparisons) is refused, and so is a threshold above 256.
"""

from __future__ import annotations

from pathlib import Path

from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError

RAW_BITS = 8  # bits of one raw feature on the encoder's input: an unsigned byte


def encoder_verilog(enc: ThermometerEncoder, module: str = "gf_encoder") -> str:
    """SystemVerilog of ``enc`` as a combinational module ``module`` (see the module
    docstring)."""
    if enc.real:
        raise GateflowError(
            "a real-valued encoder compares floating-point numbers; only an integer "
            "encoder can be built as gf_encoder"
        )
    if enc.threshold.max() > 1 << RAW_BITS:
        raise GateflowError(
            f"encoder threshold {int(enc.threshold.max())} is above {1 << RAW_BITS}: raw "
            f"values are {RAW_BITS}-bit bytes"
        )
    n_raw, n_bits = enc.num_raw_features, enc.num_bits
    # raw bytes no bit reads (cropped features), or bits only constants read
    unused = len(set(enc.feature.tolist())) < n_raw or bool(
        (enc.threshold <= 0).any() or (enc.threshold >= 1 << RAW_BITS).any()
    )
    port = f"  input  wire [{n_raw * RAW_BITS - 1}:0] raw,"
    if unused:
        off, on = "/* verilator lint_off UNUSEDSIGNAL */", "/* verilator lint_on UNUSEDSIGNAL */"
        port = f"  {off}\n{port}\n  {on}"
    lines = [
        f"// {module}: thermometer encoder, {n_raw} raw bytes -> {n_bits} input bits",
        "// (gateflow.hdl.encoder; bits[i] = raw[feature[i]] >= threshold[i]).",
        "`default_nettype none",
        "",
        f"module {module} (",
        port,
        f"  output wire [{n_bits - 1}:0] bits",
        ");",
    ]
    for i, (f, t) in enumerate(zip(enc.feature.tolist(), enc.threshold.tolist())):
        if t <= 0:
            expr = "1'b1"
        elif t >= 1 << RAW_BITS:
            expr = "1'b0"
        else:
            expr = f"raw[{f * RAW_BITS} +: {RAW_BITS}] >= {RAW_BITS}'d{t}"
        lines.append(f"  assign bits[{i}] = {expr};")
    lines += ["endmodule", "", "`default_nettype wire", ""]
    return "\n".join(lines)


def write_encoder(enc: ThermometerEncoder, out_dir: str | Path) -> Path:
    """Write ``gf_encoder.sv`` for ``enc`` into ``out_dir``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "gf_encoder.sv"
    path.write_text(encoder_verilog(enc))
    return path


def check_encoder(enc: ThermometerEncoder, raw, work: str | Path) -> int:
    """Simulate gf_encoder for ``enc`` under Verilator on the raw rows ``raw`` (integers
    0..255, [n, F]) and compare every output bit with ``enc.encode``; returns the rows
    checked (a mismatch raises gateflow.verify.SimulationError)."""
    import json

    import numpy as np

    from gateflow.hdl.manifest import pack_inputs
    from gateflow.verify import repo_root, run_cocotb

    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.shape[1] != enc.num_raw_features or raw.min() < 0 or raw.max() > 255:
        raise GateflowError(f"raw rows must be bytes of shape [n, {enc.num_raw_features}]")
    work = Path(work)
    src = write_encoder(enc, work)
    bits = enc.encode(raw.astype(np.int64))

    # raw[f*8 +: 8] is byte f of a row; bits as s_axis_tdata packs them
    raw_words = [hex(int.from_bytes(r.astype(np.uint8).tobytes(), "little")) for r in raw]
    vectors = work / "vectors.json"
    vectors.write_text(json.dumps({"raw": raw_words, "bits": [hex(v) for v in pack_inputs(bits)]}))
    run_cocotb(
        toplevel="gf_encoder",
        sources=[src],
        test_module="test_gf_encoder",
        build_dir=work / "sim",
        test_dir=repo_root() / "sim",
        extra_env={"GATEFLOW_VECTORS": str(vectors.resolve())},
    )
    return len(raw)
