"""gateflow randnet: a reproducible random IR from the command line."""

from gateflow.cli import main
from gateflow.ir.netlist import load
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist


def test_randnet_writes_the_same_net_as_the_api(tmp_path, capsys):
    out = tmp_path / "net.json"
    args = ["randnet", "--inputs", "32", "--widths", "64,40", "--classes", "4", "--seed", "3"]
    assert main([*args, "--out", str(out)]) == 0
    expected, _ = run_passes(random_netlist(32, [64, 40], 4, seed=3))
    assert load(out).sha256() == expected.sha256()
    assert f"{expected.num_gates} gates" in capsys.readouterr().out


def test_randnet_bad_shape_is_one_line(tmp_path, capsys):
    args = ["randnet", "--inputs", "8", "--widths", "7", "--classes", "3"]
    assert main([*args, "--out", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "gateflow: error: the last width must be divisible by num_classes"
