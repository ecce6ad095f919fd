"""``gateflow bench conv`` at toy size: the JSON's fields, positive figures, torchlogix
absent (its error reported, gateflow still timed) and, when installed, present."""

import json
from pathlib import Path

import pytest

from gateflow.bench.conv import ConvBenchSpec, load_torchlogix, run_conv_bench
from gateflow.cli import main
from gateflow.errors import GateflowError
from gateflow.nn.kernels import native_available

TORCHLOGIX = Path(__file__).resolve().parents[2] / "build" / "bench-deps" / "torchlogix"
GATEFLOW_IMPLS = ("native", "torch", "reference")


def _tiny(**kw) -> ConvBenchSpec:
    return ConvBenchSpec(
        conv="c4k3d2o2", widths=(40, 40), image=(8, 8), batch_size=16, steps=3, rounds=3,
        threads=1, **kw,
    )  # fmt: skip


def _check_gateflow(res: dict) -> None:
    timed = [i for i in GATEFLOW_IMPLS if native_available() or i != "native"]
    for impl in timed:
        r = res["results"][impl]
        assert r["steps"] == 3 and r["samples_per_s"] > 0 and r["ms_per_step_median"] > 0
        assert res["samples_per_s"][impl] == r["samples_per_s"]
        assert res["output_check"][impl]["ok"]
        assert res["output_check"][impl]["train"]["shape"] == [16, 10]
    if native_available():
        for impl in ("torch", "reference"):
            assert res["speedup_native_over"][impl] == pytest.approx(
                res["samples_per_s"]["native"] / res["samples_per_s"][impl]
            )
            assert res["speedup_native_over_median"][impl] > 0
    else:
        assert "error" in res["results"]["native"]
    arch = res["architecture"]
    assert arch["conv"] == "c4k3d2o2" and arch["image"] == [8, 8] and arch["bits_per_pixel"] == 2
    assert arch["input_bits"] == 128 and arch["flat_features"] == 3 * 3 * 4
    assert arch["widths"] == [40, 40] and arch["mode"] == "gumbel"
    # 4 kernels of 3 gates + 80 dense; unrolled: 6x6 positions, 3x3x4 ORs of 3 gates
    assert res["gates"] == {"distinct": 92, "unrolled": 36 * 12 + 36 * 3 + 80}
    assert res["threads"] == 1 and res["batch_size"] == 16 and res["torch"]
    assert res["environment"]["cpu_count"] >= 1
    json.dumps(res)


def test_conv_bench_without_torchlogix(tmp_path):
    res = run_conv_bench(_tiny(torchlogix_dir=str(tmp_path)))
    assert res["benchmark"] == "conv_train_throughput"
    _check_gateflow(res)
    assert res["torchlogix"]["available"] is False and res["torchlogix"]["ran"] is False
    assert "not installed" in res["torchlogix"]["error"]
    assert "error" in res["results"]["torchlogix"] and "torchlogix" not in res["samples_per_s"]
    assert "torchlogix" not in res["speedup_native_over"]


@pytest.mark.skipif(not TORCHLOGIX.is_dir(), reason="torchlogix not installed (make bench-deps)")
def test_conv_bench_with_torchlogix():
    load_torchlogix(TORCHLOGIX)
    res = run_conv_bench(_tiny(torchlogix_dir=str(TORCHLOGIX)))
    _check_gateflow(res)
    tlx = res["torchlogix"]
    assert tlx["available"] and tlx["ran"] and tlx["version"] == "0.2.2"
    assert tlx["gates"] == res["gates"]["distinct"] and tlx["same_gate_count"]
    assert tlx["same_kind_as_gateflow"] and res["output_check"]["torchlogix"]["ok"]
    assert res["results"]["torchlogix"]["samples_per_s"] > 0 and tlx["differences"]


def test_conv_bench_rejects_bad_specs():
    with pytest.raises(GateflowError):
        run_conv_bench(_tiny(impls=("native", "keras")))
    with pytest.raises(GateflowError):
        run_conv_bench(ConvBenchSpec(steps=2, rounds=3))


def test_cli_bench_conv_prints_json(tmp_path, capsys):
    out = tmp_path / "conv.json"
    rc = main(["bench", "conv", "--conv", "c2k3d1o2", "--widths", "200", "--batch-size", "8",
               "--steps", "2", "--threads", "1", "--impls", "torch,reference,torchlogix",
               "--torchlogix-dir", str(tmp_path / "none"), "--out", str(out)])  # fmt: skip
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["rounds"] == 2 and res["dataset"] == "synthetic"
    assert set(res["samples_per_s"]) == {"torch", "reference"}
    assert res["architecture"]["image"] == [28, 28] and res["gates"]["distinct"] == 202
    assert res["torchlogix"]["available"] is False
    assert json.loads(out.read_text())["gates"] == res["gates"]
