"""The benchmark suite: the reference formulation, each benchmark at toy size, the CLI."""

import json
import subprocess
import sys

import pytest
import torch

from gateflow import gates
from gateflow.bench import baseline, plots
from gateflow.bench.accuracy import (
    DEFAULT_RECIPES,
    AccuracySpec,
    gate_usage,
    parse_recipe,
    run_accuracy,
)
from gateflow.bench.inference import run_golden, run_verilator
from gateflow.bench.throughput import ThroughputSpec, run_throughput, synthetic_dataset
from gateflow.data import load_digits
from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.nn import LogicNet


def test_baseline_gate_forms_are_the_gate_table():
    a = torch.tensor([0.0, 0.0, 1.0, 1.0])
    b = torch.tensor([0.0, 1.0, 0.0, 1.0])
    for g in gates.GATES:
        assert baseline.bin_op(a, b, g.id).tolist() == list(g.truth), g.name
    # and the real-valued forms are the gate polynomials
    x, y = torch.rand(100), torch.rand(100)
    for g in gates.GATES:
        c0, c1, c2, c3 = g.poly
        torch.testing.assert_close(baseline.bin_op(x, y, g.id), c0 + c1 * x + c2 * y + c3 * x * y)
    with pytest.raises(ValueError):
        baseline.bin_op(a, b, 16)


def test_baseline_net_computes_the_same_model():
    enc = ThermometerEncoder.uniform(6, 3, 0, 16)
    net = LogicNet(enc, [50, 40], num_classes=4, tau=3.0, mode="softmax", seed=2)
    with torch.no_grad():
        for layer in net.layers:
            layer.logits.normal_()
    ref = baseline.BaselineNet(net)
    x = torch.randint(0, 17, (30, 6), dtype=torch.uint8)
    torch.testing.assert_close(ref.train()(x), net.train()(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ref.eval()(x) * 3.0, net.eval()(x))  # eval: no temperature


def test_throughput_side_by_side():
    spec = ThroughputSpec(
        layers=2, width=200, batch_size=32, steps=6, baseline_steps=3, rounds=3,
        threads=1, dataset="synthetic", crop=None, bits_per_feature=1,
    )  # fmt: skip
    res = run_throughput(spec, baseline=True)
    assert res["steps"] == 6 and res["baseline"]["steps"] == 3
    assert res["gates"] == 400 and res["input_bits"] == 784 and res["batch_size"] == 32
    assert res["samples_per_s"] > 0 and res["baseline"]["samples_per_s"] > 0
    assert res["speedup"] == pytest.approx(res["samples_per_s"] / res["baseline"]["samples_per_s"])
    assert res["backend"] in ("native", "torch")
    json.dumps(res)
    with pytest.raises(GateflowError):
        run_throughput(ThroughputSpec(steps=2, rounds=3, dataset="synthetic"))


def test_accuracy_reports_both_modes():
    spec = AccuracySpec(
        layers=2, width=200, batch_size=64, steps=40, eval_every=20, threads=1,
        dataset="digits", crop=None, bits_per_feature=2, device="cpu",
        recipes={"softmax": {"tau": 3.0},
                 "gumbel": {"tau": 3.0, "lr": 0.1, "residual_init": False}},
    )  # fmt: skip
    res = run_accuracy(spec, data=load_digits())
    assert set(res["runs"]) == {"softmax", "gumbel"}
    for run in res["runs"].values():
        assert [h["step"] for h in run["history"]] == [20, 40]
        last = run["history"][-1]
        assert last["test_acc_hard"] == run["test_acc_hard"] > 0.2  # chance is 0.1
        assert run["gap_points"] == pytest.approx(
            100 * (run["test_acc_soft"] - run["test_acc_hard"])
        )
        assert run["gates"] == 400
        assert run["gates_after_passes"] <= run["gates_after_dce"] <= 400
        assert 0 <= run["dead_fraction"] <= run["unused_fraction"] < 1
    gumbel, softmax = res["runs"]["gumbel"]["config"], res["runs"]["softmax"]["config"]
    assert gumbel["lr"] == 0.1 and gumbel["tau"] == softmax["tau"] == 3.0  # overrides
    assert softmax["lr"] == DEFAULT_RECIPES["softmax"]["lr"]  # defaults
    assert gumbel["residual_init"] is False
    assert gumbel["temperature"] == DEFAULT_RECIPES["gumbel"]["temperature"]
    assert gumbel["schedule"] == DEFAULT_RECIPES["gumbel"]["schedule"]


def test_parse_recipe():
    assert parse_recipe("gumbel:lr=0.3,tau=30,residual_init=false,schedule=cosine") == (
        "gumbel",
        {"lr": 0.3, "tau": 30.0, "residual_init": False, "schedule": "cosine"},
    )
    for bad in ("relu:lr=1", "gumbel", "gumbel:depth=3", "gumbel:lr=fast"):
        with pytest.raises(GateflowError):
            parse_recipe(bad)


def test_gate_usage_counts_dead_gates():
    enc = ThermometerEncoder.uniform(4, 2, 0, 16)
    net = LogicNet(enc, [20, 10], num_classes=2, seed=0)
    with torch.no_grad():
        net.layers[0].logits.zero_()
        net.layers[0].logits[:, 0] = 1.0  # layer 0: all FALSE -> everything constant
    usage = gate_usage(net.eval())
    assert usage["gates"] == 30
    assert usage["gates_after_passes"] <= 10  # only the (constant) outputs the head reads
    assert usage["unused_fraction"] == pytest.approx(1 - usage["gates_after_passes"] / 30)


def test_golden_benchmark():
    res = run_golden(inputs=40, widths=(300, 200), classes=10, samples=512, repeats=1)
    assert res["gates"] == 500 and res["samples"] == 512
    assert res["gate_evals_per_s"] == pytest.approx(500 * res["samples_per_s"])


@pytest.mark.sim
@pytest.mark.slow
def test_verilator_benchmark(tmp_path):
    res = run_verilator(inputs=16, widths=(40, 20), classes=2, samples=100, work_dir=tmp_path)
    assert res["bit_exact"] == 100 and res["samples_per_s"] > 0


def test_plots(tmp_path):
    thr = {"samples_per_s": 5000.0, "layers": 6, "width": 8000, "batch_size": 100,
           "threads": 2, "baseline": {"samples_per_s": 400.0}, "speedup": 12.5}  # fmt: skip
    hist = [{"step": s, "test_acc_hard": 0.5, "test_acc_soft": 0.6, "gap_points": 10.0}
            for s in (100, 200)]  # fmt: skip
    acc = {"dataset": "mnist", "train_samples": 5000,
           "runs": {"softmax": {"history": hist}, "gumbel": {"history": hist}}}  # fmt: skip
    gold = {"benchmark": "golden", "gates": 10, "gate_evals_per_s": 1e9}
    sim = {"benchmark": "verilator", "gates": 10, "samples_per_s": 1e4}
    files = [
        plots.plot_throughput(thr, tmp_path / "t.png"),
        plots.plot_accuracy(acc, tmp_path / "a.png"),
        plots.plot_gap(acc, tmp_path / "g.png"),
        plots.plot_inference(gold, sim, tmp_path / "i.png"),
        plots.plot_inference(gold, None, tmp_path / "j.png"),
    ]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_train_prints_json(tmp_path):
    out = tmp_path / "thr.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gateflow.cli", "bench", "train", "--layers", "2", "--width",
         "100", "--batch-size", "16", "--steps", "3", "--threads", "1", "--dataset",
         "synthetic", "--baseline", "--baseline-steps", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["steps"] == 3 and res["gates"] == 200 and res["samples_per_s"] > 0
    assert res["baseline"]["steps"] == 2 and res["speedup"] > 0
    assert res["rounds"] == 2
    assert json.loads(out.read_text())["gates"] == 200


def test_synthetic_dataset_shape():
    data = synthetic_dataset(n=50)
    assert data.X_train.shape == (50, 784) and data.shape == (28, 28)


def test_families_benchmark_on_digits(tmp_path):
    """Every field of a families row, on a tiny digits network (training, IR, Yosys)."""
    from gateflow.bench.families import ONE_VALUES, FamiliesSpec, run_families

    spec = FamiliesSpec(
        families=("binary",),
        dataset="digits",
        steps=30,
        family="ice40",
        trained_bits_sweep=(1,),
        overrides={"binary": {"widths": [40, 20]}, "bitlevel": {"widths": [30, 20]}},
    )
    result = run_families(spec, tmp_path)
    (row,) = result["rows"]
    assert row["arch"] == "binary" and 0.1 < row["test_accuracy"] <= 1
    assert (
        row["nonzero_weights"] + round(row["zero_weight_fraction"] * row["weights"])
        == (row["weights"])
    )
    assert row["core_luts"] > 0 and row["latency_cycles"] >= 3
    assert sum(row["neuron_classes"].values()) == row["neurons"]
    # weight invariance: the same accuracy for every value of "one"
    assert set(row["weight_invariance"]) == {str(v) for v in ONE_VALUES}
    assert len(set(row["weight_invariance"].values())) == 1
    (swept,) = result["bitlevel_by_trained_bits"]
    assert swept["config"]["trained_bits"] == 1 and "core_luts" not in swept
    assert 0 <= swept["zero_bit_fraction"] <= 1
