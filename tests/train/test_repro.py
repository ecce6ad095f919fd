"""Reproducibility: the same inputs give the same bytes."""

from __future__ import annotations

import torch

from gateflow.data import get_dataset
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.train.config import DEFAULT_DIGITS
from gateflow.train.export import export
from gateflow.train.logic import train


def _tree(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_same_ir_gives_identical_files(tmp_path):
    net, _ = run_passes(random_netlist(40, [80, 60, 30], 3, seed=7, skip_prob=0.3))
    for opts in (CoreOptions(), CoreOptions(pipeline_every=0, scores=False, top="other")):
        a = generate(net, tmp_path / "a" / opts.top, opts)
        b = generate(net, tmp_path / "deeper" / "b" / opts.top, opts)
        files_a, files_b = _tree(a.out_dir), _tree(b.out_dir)
        assert sorted(files_a) == sorted(files_b)
        assert "manifest.json" in files_a and len(files_a) == len(a.files) + 1
        assert files_a == files_b
        # the folder name appears nowhere in what was written
        assert all(str(tmp_path).encode() not in data for data in files_a.values())


def test_same_seed_and_data_give_identical_model_and_ir():
    config = DEFAULT_DIGITS.replace(widths=[120, 60], steps=30, batch_size=64, seed=3, device="cpu")
    data = get_dataset("digits")
    model_a, result_a = train(config, progress=False, data=data)
    model_b, result_b = train(config, progress=False, data=data)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    assert result_a.final_loss == result_b.final_loss
    ir_a, ir_b = export(model_a, {"seed": 3}), export(model_b, {"seed": 3})
    assert ir_a.to_json() == ir_b.to_json()
    assert run_passes(ir_a)[0].sha256() == run_passes(ir_b)[0].sha256()
    # and a different seed gives a different network
    model_c, _ = train(config.replace(seed=4), progress=False, data=data)
    assert export(model_c, {"seed": 3}).to_json() != ir_a.to_json()
