"""gateflow import difflogic: the gate mapping, checkpoint forms, the check, the errors.

Checkpoints are written by a subprocess that imports a difflogic-format package (module
path ``difflogic.difflogic``, the attributes difflogic 0.1.0's LogicLayer and GroupSum
pickle), so the tests need no difflogic install. When ``make bench-deps`` has unpacked
difflogic's own Python code, further tests train with it and check its eval outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gateflow import cli, ir
from gateflow.gates import GATES
from gateflow.importers import ImportOptions, read
from gateflow.importers.common import ModelImportError
from gateflow.importers.difflogic import DIFFLOGIC_TRUTH, difflogic_op, gate_map
from gateflow.ir.golden import evaluate

REPO = Path(__file__).resolve().parents[2]
REAL_DIFFLOGIC = REPO / "build" / "bench-deps" / "difflogic"

# difflogic 0.1.0's module layout and pickled attributes, without its training code
FORMAT_PACKAGE = {
    "difflogic/__init__.py": "from .difflogic import LogicLayer, GroupSum\n",
    "difflogic/difflogic.py": textwrap.dedent(
        """
        import torch

        class LogicLayer(torch.nn.Module):
            def __init__(self, in_dim, out_dim, device="cpu", implementation="python"):
                super().__init__()
                self.weights = torch.nn.Parameter(torch.randn(out_dim, 16) * 3)
                self.in_dim, self.out_dim, self.device = in_dim, out_dim, device
                self.implementation, self.grad_factor = implementation, 1.0
                self.connections = "random"
                c = torch.randperm(2 * out_dim) % in_dim
                c = torch.randperm(in_dim)[c].reshape(2, out_dim)
                self.indices = c[0].long(), c[1].long()

        class GroupSum(torch.nn.Module):
            def __init__(self, k, tau=1.0, device="cpu"):
                super().__init__()
                self.k, self.tau, self.device = k, tau, device
        """
    ),
}

WRITER = textwrap.dedent(
    """
    import sys, torch
    from difflogic import LogicLayer, GroupSum
    form, out, dims, k, tau = sys.argv[1:6]
    dims, k, tau = [int(v) for v in dims.split(",")], int(k), float(tau)
    torch.manual_seed(0)
    layers = [torch.nn.Flatten()] + [LogicLayer(i, o) for i, o in zip(dims, dims[1:])]
    model = torch.nn.Sequential(*layers, GroupSum(k, tau))
    if form == "whole":
        torch.save(model, out)
    elif form == "state_dict":
        torch.save(model.state_dict(), out)
    elif form == "dict":
        torch.save({"state_dict": model.state_dict(), "tau": tau,
                    "indices": [m.indices for m in layers[1:]]}, out)
    elif form == "foreign":
        class Net(torch.nn.Module):
            pass
        torch.save(Net(), out)
    """
)


def write_checkpoint(tmp: Path, form: str, dims=(16, 60, 40), k=4, tau=3.0) -> Path:
    pkg = tmp / "fmt"
    for rel, text in FORMAT_PACKAGE.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    out = tmp / f"{form}.pt"
    subprocess.run(
        [sys.executable, "-c", WRITER, form, str(out), ",".join(map(str, dims)), str(k), str(tau)],
        check=True,
        env={"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin"},
    )
    return out


def bin_op(a: int, b: int, i: int) -> int:
    """difflogic's functional.bin_op, transcribed from its source."""
    return [0, a * b, a - a * b, a, b - a * b, b, a + b - 2 * a * b, a + b - a * b,
            1 - (a + b - a * b), 1 - (a + b - 2 * a * b), 1 - b, 1 - b + a * b, 1 - a,
            1 - a + a * b, 1 - a * b, 1][i]  # fmt: skip


def test_gate_mapping_follows_truth_tables_not_numbers():
    m = gate_map()
    for i in range(16):
        truth = tuple(bin_op(a, b, i) for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)))
        assert truth == DIFFLOGIC_TRUTH[i]
        assert GATES[m[i]].truth == truth
        for a in (0, 1):
            for b in (0, 1):
                assert difflogic_op(torch.tensor(float(a)), torch.tensor(float(b)), i) == bin_op(
                    a, b, i
                )
    assert sorted(m.tolist()) == list(range(16))


def test_whole_model_imports_and_matches_on_every_score(tmp_path, capsys):
    path = write_checkpoint(tmp_path, "whole")
    X = np.random.default_rng(1).integers(0, 2, size=(700, 16))
    np.save(tmp_path / "x.npy", X)
    rc = cli.main(["import", "difflogic", str(path), "--out", str(tmp_path / "ir.json"),
                   "--check-data", str(tmp_path / "x.npy")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "700/700 samples agree" in out
    net = ir.load(tmp_path / "ir.json")
    assert net.num_gates == 100 and net.num_classes == 4
    assert net.meta["imported"]["check"]["agree"] == 700
    # the scores come from the weights: the argmax gate of each neuron, its wiring
    imported = read("difflogic", path)
    assert np.array_equal(evaluate(net, X).scores, imported.reference(net.encoder.encode(X)))


def test_dict_with_indices_and_thermometer(tmp_path):
    path = write_checkpoint(tmp_path, "dict", dims=(24, 50, 30), k=3, tau=2.0)
    with pytest.raises(ModelImportError, match="no GroupSum"):
        read("difflogic", path, ImportOptions(thresholds=(64.0, 128.0, 192.0)))
    imp = read("difflogic", path, ImportOptions(thresholds=(64.0, 128.0, 192.0), num_classes=3))
    net = imp.netlist
    assert net.encoder.num_raw_features == 8 and net.encoder.num_bits == 24
    assert net.version == 1  # integer thresholds: an integer encoder
    X = np.random.default_rng(2).integers(0, 256, size=(300, 8))
    from gateflow.importers.common import check

    assert check(imp, X).ok


def test_state_dict_without_wiring_is_explained(tmp_path, capsys):
    path = write_checkpoint(tmp_path, "state_dict")
    rc = cli.main(["import", "difflogic", str(path), "--out", str(tmp_path / "ir.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "not its wiring" in err and "torch.save(model, path)" in err
    assert err.count("\n") == 1 and not (tmp_path / "ir.json").exists()


def test_foreign_classes_are_refused_not_run(tmp_path, capsys):
    path = write_checkpoint(tmp_path, "foreign")
    rc = cli.main(["import", "difflogic", str(path), "--out", str(tmp_path / "ir.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "__main__.Net" in err and "Traceback" not in err


def test_bad_inputs_give_one_line(tmp_path, capsys):
    path = write_checkpoint(tmp_path, "whole")
    np.save(tmp_path / "x.npy", np.zeros((5, 7)))
    cases = [
        (["--check-data", str(tmp_path / "x.npy")], "7 features per sample"),
        (["--thresholds", "1,2,3"], "not a whole number of features"),
        (["--thresholds", "2,1"], "strictly ascending"),
        (["--classes", "5"], "GroupSum has k=4"),
    ]
    for extra, message in cases:
        rc = cli.main(["import", "difflogic", str(path), "--out", str(tmp_path / "o.json"), *extra])
        err = capsys.readouterr().err
        assert rc == 1 and message in err, (extra, err)
    rc = cli.main(["import", "difflogic", str(tmp_path / "nope.pt"), "--out", "o.json"])
    assert rc == 1 and "no such file" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    rc = cli.main(["import", "difflogic", str(tmp_path / "junk.pt"), "--out", "o.json"])
    assert rc == 1 and "not a readable torch checkpoint" in capsys.readouterr().err


@pytest.mark.sim
def test_imported_core_is_bit_exact_under_verilator(tmp_path, capsys):
    path = write_checkpoint(tmp_path, "whole", dims=(64, 200, 100), k=10, tau=4.0)
    rc = cli.main(["import", "difflogic", str(path), "--out", str(tmp_path / "ir.json"),
                   "--thresholds", "8", "--dataset", "digits"])  # fmt: skip
    assert rc == 0 and "360/360 samples agree" in capsys.readouterr().out
    rc = cli.main(["sim", "--model", str(tmp_path / "ir.json"), "--out", str(tmp_path / "sim")])
    out = capsys.readouterr().out
    assert rc == 0 and "bit-exact: 360/360" in out


needs_difflogic = pytest.mark.skipif(
    not (REAL_DIFFLOGIC / "difflogic" / "difflogic.py").is_file(),
    reason="difflogic's code is not unpacked (make bench-deps)",
)


@needs_difflogic
def test_real_difflogic_gates_match_the_table():
    from gateflow.bench.imports import load_difflogic

    functional = load_difflogic(REAL_DIFFLOGIC).functional
    for i in range(16):
        truth = tuple(
            int(functional.bin_op(torch.tensor([float(a)]), torch.tensor([float(b)]), i)[0])
            for a, b in ((0, 0), (0, 1), (1, 0), (1, 1))
        )
        assert truth == DIFFLOGIC_TRUTH[i] == GATES[gate_map()[i]].truth


TORCHLOGIX = REPO / "build" / "bench-deps" / "torchlogix" / "torchlogix"


@pytest.mark.parametrize(
    "library,arch",
    [
        pytest.param("difflogic", "dense", marks=needs_difflogic),
        pytest.param(
            "torchlogix",
            "conv",
            marks=pytest.mark.skipif(not TORCHLOGIX.is_dir(), reason="make bench-deps"),
        ),
    ],
)
def test_trained_with_the_library_itself(tmp_path, capsys, library, arch):
    rc = cli.main(["bench", "import", library, "--arch", arch, "--dataset", "digits",
                   "--threshold", "8", "--layers", "2", "--width", "400", "--steps", "200",
                   "--tau", "8", "--out-dir", str(tmp_path / "run")])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert result["golden_vs_library_eval"] == result["importer_check"] == "360/360"
    assert result["golden_accuracy"] == result["library_eval_accuracy"] > 0.15  # 10 classes
    assert (result["unrolled_gates"] > result["distinct_gates"]) == (arch == "conv")
