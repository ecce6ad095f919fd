import copy
import json
import subprocess
import sys

import pytest

from gateflow import ir
from gateflow.ir.randnet import random_netlist


@pytest.fixture
def net_dict():
    return json.loads(random_netlist(12, [10, 6], 2, seed=3, skip_prob=0.3).to_json())


def test_round_trip_is_canonical(tmp_path, net_dict):
    net = ir.from_dict(net_dict)
    path = tmp_path / "n.json"
    net.save(path)
    again = ir.load(path)
    assert again.to_json() == net.to_json() == path.read_text()
    assert again.sha256() == net.sha256()


def _mutate(d, path, value):
    d = copy.deepcopy(d)
    obj = d
    for key in path[:-1]:
        obj = obj[key]
    if value is KeyError:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
    return d


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("format",), "other", "format"),
        (("version",), 4, "version 4 is not supported"),
        (("version",), "1", "version must be an integer"),
        (("encoder",), KeyError, "missing field 'encoder'"),
        (("extra",), 1, "unknown field 'extra'"),
        (("layers", 0, "op", 0), 16, "layers[0].op[0] = 16"),
        (("layers", 0, "op", 0), True, "expected an integer"),
        (("layers", 0, "a", 0), -1, "layers[0].a[0] = -1"),
        (("layers", 0, "b", 1), 12, "does not name an earlier signal"),  # own layer: a cycle
        (("layers", 1, "a", 0), 10**9, "out of range"),
        (("layers", 0, "a"), [0], "same length"),
        (("layers", 0, "kind"), "conv", "kind 'conv' is not supported"),
        (("head", "groups", 0), [], "needs at least one signal"),
        (("head", "groups", 1, 0), 28, "is not a signal"),
        (("head", "num_classes"), 3, "num_classes is 3"),
        (("encoder", "feature", 0), 99, "encoder.feature[0] = 99"),
        (("encoder", "threshold"), [1], "encoder"),
        (("layers", 0, "op"), "AND", "expected a list"),
    ],
)
def test_malformed_ir_is_rejected_with_a_clear_message(net_dict, path, value, message):
    bad = _mutate(net_dict, path, value)
    with pytest.raises(ir.IRError) as exc:
        ir.from_dict(bad)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_errors(tmp_path):
    p = tmp_path / "x.json"
    with pytest.raises(ir.IRError, match="no such file"):
        ir.load(p)
    p.write_text("{not json")
    with pytest.raises(ir.IRError, match="not valid JSON"):
        ir.load(p)
    p.write_text("[1, 2]")
    with pytest.raises(ir.IRError, match="expected a JSON object"):
        ir.load(p)
    p.write_text("[" * 100000)
    with pytest.raises(ir.IRError):
        ir.load(p)


def test_cli_reports_bad_ir_in_one_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"format": "gateflow-ir", "version": 7}')
    proc = subprocess.run(
        [sys.executable, "-m", "gateflow.cli", "info", str(p)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "version 7 is not supported" in proc.stderr
    assert "Traceback" not in proc.stderr
