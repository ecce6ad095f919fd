"""The thermometer encoder as hardware (gateflow.hdl.encoder, ``gateflow bench encoder``):
bit-exact against the IR's encoder under Verilator, its refusals and the bench's figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gateflow.hdl.encoder as encoder_mod
from gateflow import cli
from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.hdl.encoder import check_encoder, encoder_verilog
from gateflow.ir.randnet import random_netlist
from gateflow.verify import SimulationError

# cropped features (2 and 5 read by no bit), thresholds at 0, 1, 255 and 256
ODD = ThermometerEncoder(
    num_raw_features=7,
    feature=np.array([0, 0, 0, 1, 3, 3, 4, 6, 6]),
    threshold=np.array([0, 1, 255, 256, 17, 200, 128, 2, 3]),
)


@pytest.mark.sim
@pytest.mark.parametrize(
    "enc", [ODD, ThermometerEncoder.uniform(64, 3, 0, 16)], ids=["odd", "digits-3-bit"]
)
def test_encoder_rtl_equals_the_ir_encoder(tmp_path, enc):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (300, enc.num_raw_features))
    raw[:4] = [[0], [255], [1], [128]]  # the edges of every comparison
    assert check_encoder(enc, raw, tmp_path) == 300


@pytest.mark.sim
def test_a_wrong_encoder_is_caught(tmp_path, monkeypatch):
    real = encoder_verilog
    monkeypatch.setattr(
        encoder_mod, "encoder_verilog", lambda enc: real(enc).replace(">= 8'd200", ">= 8'd201")
    )
    raw = np.full((5, 7), 200)
    with pytest.raises(SimulationError):
        check_encoder(ODD, raw, tmp_path)


def test_refusals():
    real = ThermometerEncoder.uniform_real(np.array([[0.0, 1.0], [0.5, 2.0]]), 2)
    with pytest.raises(GateflowError, match="floating-point"):
        encoder_verilog(real)
    big = ThermometerEncoder(num_raw_features=1, feature=np.array([0]), threshold=np.array([300]))
    with pytest.raises(GateflowError, match="above 256"):
        encoder_verilog(big)
    with pytest.raises(GateflowError, match="bytes of shape"):
        check_encoder(ODD, np.full((2, 7), 256), "unused")


@pytest.mark.sim
@pytest.mark.fpga
def test_bench_states_luts_and_payloads(tmp_path, capsys):
    net = random_netlist(40, [30, 12], 3, seed=4)
    net.save(tmp_path / "ir.json")
    out = tmp_path / "encoder.json"
    rc = cli.main(["bench", "encoder", "--model", str(tmp_path / "ir.json"), "--fpga", "ecp5",
                   "--rows", "50", "--work", str(tmp_path / "w"), "--out", str(out)])  # fmt: skip
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    enc = net.encoder
    assert result["verified_rows"] == 50 and result["input_bits"] == enc.num_bits
    assert result["encoder_luts"] > 0 and sum(result["cells"].values()) > 0
    assert result["payload_bytes"] == {
        "host_encoder": -(-enc.num_bits // 8), "fpga_encoder": enc.num_raw_features,
    }  # fmt: skip
