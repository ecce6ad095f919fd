"""Data-parallel training: 2 gloo processes under torchrun == 1 process, same global batch."""

import os
import subprocess
import sys

import pytest
import torch

from gateflow.nn import LogicNet
from gateflow.train import dist
from gateflow.train.config import DEFAULT_DIGITS
from gateflow.train.logic import train

# 1437 digits / 64 = 22 full batches + 29 samples: the 30 steps include an uneven split.
ARGS = ["--widths", "300,200", "--steps", "30", "--batch-size", "64", "--threads", "1"]
CONFIG = DEFAULT_DIGITS.replace(widths=[300, 200], steps=30, batch_size=64, threads=1)


def _torchrun(out, mode, nproc=2):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", "-m", "gateflow.cli", "train-ddp", *ARGS,
        "--mode", mode, "--device", "cpu", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gumbel", "softmax"])
def test_two_processes_train_the_single_process_model(tmp_path, mode):
    proc = _torchrun(tmp_path / "ddp", mode)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on 2 process(es)" in proc.stdout
    assert proc.stdout.count("trained digits") == 1  # only rank 0 reports
    ddp = LogicNet.load(tmp_path / "ddp" / "model.pt")
    single, _ = train(CONFIG.replace(mode=mode, device="cpu"), progress=False)
    for got, want in zip(ddp.layers, single.layers, strict=True):
        torch.testing.assert_close(got.logits, want.logits, rtol=1e-4, atol=1e-4)
        assert torch.equal(got.ops(), want.ops())
        assert torch.equal(got.a, want.a) and torch.equal(got.b, want.b)
    # and training moved the logits, so the comparison means something
    init = LogicNet.from_config(single.config)
    assert not torch.allclose(init.layers[0].logits, single.layers[0].logits, atol=1e-2)
    assert (tmp_path / "ddp" / "ir.json").is_file()


def test_not_distributed_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not dist.launched_by_torchrun() and not dist.is_distributed()
    assert dist.init_from_env("cpu") == dist.DistInfo(0, 0, 1)
    assert dist.device("cpu") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert dist.launched_by_torchrun()
