"""Fuzzing the IR loader: any text either loads (and the golden model runs on it) or
raises IRError with a one-line message; no other exception may escape.

GATEFLOW_FUZZ_EXAMPLES sets the examples per test (default 150; e.g. 10000 for a long run).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateflow import cli, ir
from gateflow.ir.golden import eval_bits
from gateflow.ir.randnet import ConvSpec, PoolSpec, random_conv_netlist, random_netlist

EXAMPLES = int(os.environ.get("GATEFLOW_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

VALID = [
    json.loads(random_netlist(6, [5, 4], 2, seed=1, skip_prob=0.5).to_json()),
    json.loads(random_netlist(4, [], 3, seed=2).to_json()),
    json.loads(random_netlist(9, [8, 6, 3], 3, seed=3, skip_prob=0.3).to_json()),
]


def _real_valued(doc):
    """A version-2 netlist: real thresholds, feature and class names."""
    doc = copy.deepcopy(doc)
    enc = doc["encoder"]
    doc["version"] = 2
    enc["values"] = "real"
    enc["threshold"] = [t / 3 - 0.25 for t in enc["threshold"]]
    enc["feature_names"] = [f"x{i}" for i in range(enc["num_raw_features"])]
    doc["head"]["class_names"] = [f"class {c}" for c in range(doc["head"]["num_classes"])]
    return doc


VALID.append(_real_valued(VALID[2]))
CONV = json.loads(
    random_conv_netlist(
        (4, 4, 2),
        [
            ConvSpec(3, (3, 3), (1, 1), (1, 1), 2),
            PoolSpec((2, 2), (2, 2)),
            ConvSpec(2, (2, 1), depth=1),
        ],
        [6, 4],
        2,
        seed=5,
        skip_prob=0.3,
    ).to_json()
)  # layers: conv [4,4,2] -> [4,4,3], orpool -> [2,2,3], conv -> [1,2,2], flatten (4 signals)
VALID.append(CONV)
KEYS = ["format", "version", "meta", "encoder", "layers", "head", "kind", "num_raw_features",
        "feature", "threshold", "a", "b", "op", "num_classes", "groups", "values",
        "feature_names", "class_names", "in_shape", "out_channels", "kernel", "stride",
        "padding", "depth", "leaf_y", "leaf_x", "leaf_c"]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 15, 16, 2**31, 2**63, 10**12, 10**40]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(
        ["gateflow-ir", "thermometer", "logic", "groupsum", "conv", "orpool", "flatten"]
    ),  # fmt: skip
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner, max_size=6),
    ),
    max_leaves=30,
)


def _must_load_or_refuse(text: str) -> None:
    try:
        net = ir.from_json(text)
    except ir.IRError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) <= 300
        return
    bits = np.random.default_rng(0).integers(0, 2, (70, net.num_inputs), dtype=np.uint8)
    res = eval_bits(net, bits)
    assert res.scores.shape == (70, net.num_classes)
    assert ir.from_json(net.to_json()).to_json() == net.to_json()


@FUZZ
@given(json_values)
def test_random_json_structures(value):
    _must_load_or_refuse(json.dumps(value))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield from _paths(v, (*prefix, i))
        if obj:
            yield from _paths(obj[-1], (*prefix, len(obj) - 1))


def _perturb(value, how: int, other):
    if isinstance(value, bool):
        return [not value, 1, "true", None][how % 4]
    if isinstance(value, int):
        return [value + 1, value - 1, -value - 1, value * 10**9, float(value), str(value),
                True, 2**63, None, [value]][how % 10]  # fmt: skip
    if isinstance(value, list):
        return [value[:-1], value + value, [], value[::-1], {"0": value}, other][how % 6]
    if isinstance(value, dict):
        return [list(value.values()), {}, {**value, "extra": 1}, other][how % 4]
    return other


@st.composite
def mutated_irs(draw):
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "perturb"]))
        if action == "delete":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif action == "replace":
            parent[key] = draw(json_values)
        else:
            parent[key] = _perturb(parent[key], draw(st.integers(0, 50)), draw(scalars))
    return doc


@FUZZ
@given(mutated_irs())
def test_mutated_valid_irs(doc):
    _must_load_or_refuse(json.dumps(doc))


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_truncated_and_corrupted_text(doc, data):
    text = json.dumps(doc)
    cut = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    if edit == "truncate":
        text = text[:cut]
    elif edit == "flip":
        text = text[:cut] + data.draw(st.characters(codec="utf-8")) + text[cut + 1 :]
    else:
        text = text[:cut] + data.draw(st.sampled_from(["[", "]", "{", ",", "-", "1e999", "NaN",
                                                       '"', "9" * 5000])) + text[cut:]  # fmt: skip
    _must_load_or_refuse(text)


# ----------------------------------------------------------------- gateflow check

GOOD = VALID[0]


def _edit(path, value):
    doc = copy.deepcopy(GOOD)
    obj = doc
    for key in path[:-1]:
        obj = obj[key]
    if value is KeyError:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
    return json.dumps(doc)


def _v2(path, value, real=False):
    """GOOD as a version-2 file (real-valued if asked), with one field changed."""
    doc = copy.deepcopy(GOOD)
    doc["version"] = 2
    if real:
        doc["encoder"]["values"] = "real"
    obj = doc
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value
    return json.dumps(doc)


def _conv(path, value):
    """CONV (a version-3 file) with one field changed, deleted (KeyError) or, for a
    callable, the document rewritten by it."""
    doc = copy.deepcopy(CONV)
    if callable(value) and not isinstance(value, type):
        value(doc)
        return json.dumps(doc)
    obj = doc
    for key in path[:-1]:
        obj = obj[key]
    if value is KeyError:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
    return json.dumps(doc)


def _swap_flatten(doc):
    layers = doc["layers"]
    layers[2], layers[3] = layers[3], layers[2]
    layers[2]["in_shape"] = [2, 2, 3]  # the flatten fits; the conv after it does not belong


BAD_CASES = {
    "truncated": json.dumps(GOOD)[:57],
    "invalid JSON": "{'format': 'gateflow-ir'}",
    "empty file": "",
    "not an object": "[1, 2, 3]",
    "missing version": _edit(("version",), KeyError),
    "wrong version": _edit(("version",), 4),
    "float version": _edit(("version",), 1.0),
    "negative index": _edit(("layers", 0, "a", 0), -3),
    "index out of range": _edit(("layers", 1, "b", 0), 10**6),
    "forward reference": _edit(("layers", 0, "a", 0), 6),
    "cycle (reads itself)": _edit(("layers", 1, "a", 1), 12),
    "wrong widths": _edit(("layers", 0, "op"), [1, 2]),
    "huge size": _edit(("head", "num_classes"), 10**12),
    "huge integer": _edit(("layers", 0, "a", 0), 10**40),
    "bool for int": _edit(("layers", 0, "op", 0), True),
    "float for int": _edit(("encoder", "threshold", 0), 2.5),
    "string for int": _edit(("encoder", "num_raw_features"), "6"),
    "null layers": _edit(("layers",), None),
    "dict for list": _edit(("head", "groups"), {"0": [11]}),
    "list for dict": _edit(("encoder",), [1, 2]),
    "gate number 16": _edit(("layers", 0, "op", 0), 16),
    "encoder lengths differ": _edit(("encoder", "threshold"), [1]),
    "encoder order": _edit(("encoder", "threshold"), [200, 100, 50, 25, 12, 6]),
    "encoder feature range": _edit(("encoder", "feature", 0), 99),
    "NaN": json.dumps({**GOOD, "meta": {"x": float("nan")}}),
    "duplicate field": json.dumps(GOOD)[:-1] + ',"version":1}',
    "empty group": _edit(("head", "groups", 0), []),
    "class names in version 1": _edit(("head", "class_names"), ["a", "b"]),
    "real encoder in version 1": _edit(("encoder", "values"), "real"),
    "unknown encoder values": _v2(("encoder", "values"), "complex"),
    "string threshold (real)": _v2(("encoder", "threshold"), ["1"] * 6, real=True),
    "threshold beyond binary64": _v2(("encoder", "threshold", 0), 10**400, real=True),
    "too few class names": _v2(("head", "class_names"), ["a"]),
    "repeated class names": _v2(("head", "class_names"), ["a", "a"]),
    "feature names wrong count": _v2(("encoder", "feature_names"), ["x"]),
    "conv in version 2": _conv(("version",), 2),
    "conv depth 0": _conv(("layers", 0, "depth"), 0),
    "conv depth 5": _conv(("layers", 0, "depth"), 5),
    "conv depth and leaves differ": _conv(("layers", 0, "depth"), 3),
    "conv leaf row beyond kernel": _conv(("layers", 0, "leaf_y", 0, 0), 3),
    "conv leaf column negative": _conv(("layers", 0, "leaf_x", 1, 2), -1),
    "conv leaf channel beyond input": _conv(("layers", 2, "leaf_c", 0, 0), 3),
    "conv gate number 16": _conv(("layers", 0, "op", 2, 1), 16),
    "conv tree short of a gate": _conv(("layers", 0, "op", 0), [1, 2]),
    "conv kernels and out_channels differ": _conv(("layers", 0, "out_channels"), 4),
    "conv leaf lists short of a kernel": _conv(("layers", 0, "leaf_c"), [[0, 0, 0, 0]] * 2),
    "conv image differs from the inputs": _conv(("layers", 0, "in_shape"), [4, 2, 2]),
    "conv shape chain broken": _conv(("layers", 1, "in_shape"), [4, 4, 2]),
    "conv kernel larger than the map": _conv(("layers", 2, "kernel"), [3, 1]),
    "conv stride 0": _conv(("layers", 0, "stride"), [0, 1]),
    "conv padding negative": _conv(("layers", 0, "padding"), [-1, 1]),
    "conv kernel of three": _conv(("layers", 0, "kernel"), [3, 3, 1]),
    "conv in_shape of two": _conv(("layers", 0, "in_shape"), [4, 8]),
    "conv unknown field": _conv(("layers", 0, "dilation"), [1, 1]),
    "conv missing field": _conv(("layers", 0, "leaf_x"), KeyError),
    "orpool with padding": _conv(("layers", 1, "padding"), [0, 0]),
    "orpool window too big": _conv(("layers", 1, "kernel"), [5, 5]),
    "no flatten": _conv((), lambda d: d["layers"].pop(3)),
    "conv after flatten": _conv((), _swap_flatten),
    "two flattens": _conv((), lambda d: d["layers"].insert(4, d["layers"][3])),
    "flatten shape wrong": _conv(("layers", 3, "in_shape"), [2, 1, 2]),
    "conv after a logic layer": _conv((), lambda d: d["layers"].append(d["layers"][0])),
    "conv too many unrolled gates": _conv(("layers", 0, "padding"), [2000, 2000]),
    "conv map too large": _conv(("layers", 0, "padding"), [10**6, 10**6]),
}  # fmt: skip


def test_bad_cases_are_what_they_say():
    for name, text in BAD_CASES.items():
        with pytest.raises(ir.IRError) as exc:
            ir.from_json(text)
        assert "\n" not in str(exc.value), name


CONV_MESSAGES = {
    "conv in version 2": "kind 'conv' is not supported",
    "conv depth 0": "layers[0].depth = 0 is out of range [1, 4]",
    "conv depth 5": "layers[0].depth = 5 is out of range [1, 4]",
    "conv depth and leaves differ": "layers[0].leaf_y[0]: expected a list of 8 integers",
    "conv leaf row beyond kernel": "layers[0].leaf_y[0][0] = 3 is out of range [0, 3)",
    "conv leaf column negative": "layers[0].leaf_x[1][2] = -1 is out of range [0, 3)",
    "conv leaf channel beyond input": "layers[2].leaf_c[0][0] = 3 is out of range [0, 3)",
    "conv gate number 16": "layers[0].op[2][1] = 16 is out of range [0, 16)",
    "conv tree short of a gate": "layers[0].op[0]: expected a list of 3 integers",
    "conv kernels and out_channels differ": "layers[0].leaf_y: expected a list of 4 lists",
    "conv leaf lists short of a kernel": "layers[0].leaf_c: expected a list of 3 lists",
    "conv image differs from the inputs": "holds 16 bits but the encoder has 32 input bits",
    "conv shape chain broken": "differs from the previous layer's output shape [4, 4, 3]",
    "conv kernel larger than the map": "window does not fit the 2x2 map",
    "conv stride 0": "layers[0].stride[0] = 0 is out of range",
    "conv padding negative": "layers[0].padding[0] = -1 is out of range",
    "conv kernel of three": "layers[0].kernel: expected a list of 2 integers",
    "conv in_shape of two": "layers[0].in_shape: expected a list of 3 integers",
    "conv unknown field": "layers[0]: unknown field 'dilation'",
    "conv missing field": "layers[0]: missing field 'leaf_x'",
    "orpool with padding": "layers[1]: unknown field 'padding'",
    "orpool window too big": "layers[1]: the 5x5 window does not fit the 4x4 map",
    "no flatten": "layers[3]: a logic layer cannot read a map; flatten it first",
    "conv after flatten": "layers[3]: a conv layer must come before the flatten layer",
    "two flattens": "layers[4]: a flatten layer must come before the flatten layer",
    "flatten shape wrong": "layers[3].in_shape [2, 1, 2] differs from the previous layer's",
    "conv after a logic layer": "a conv layer must come before the flatten layer",
    "conv too many unrolled gates": "more than 50000000 gate evaluations per sample",
    "conv map too large": "the output map holds more than 50000000 bits",
}


@pytest.mark.parametrize("name", sorted(CONV_MESSAGES))
def test_conv_bad_cases_name_the_rule(name):
    with pytest.raises(ir.IRError) as exc:
        ir.from_json(BAD_CASES[name])
    assert CONV_MESSAGES[name] in str(exc.value)


def test_conv_document_is_valid_and_round_trips():
    net = ir.from_json(json.dumps(CONV))
    assert net.version == 3
    assert [layer.kind for layer in net.layers] == ["conv", "orpool", "conv", "flatten",
                                                    "logic", "logic"]  # fmt: skip
    assert net.layers[2].out_shape == (1, 2, 2)
    assert (
        ir.from_json(net.to_json()).to_json()
        == net.to_json()
        == ir.from_dict(json.loads(net.to_json())).to_json()
    )


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_check_command_one_line_per_bad_case(tmp_path, capsys, name):
    path = tmp_path / "bad.json"
    path.write_text(BAD_CASES[name])
    assert cli.main(["check", str(path)]) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gateflow: error: ")
    assert "Traceback" not in err


def test_check_command_subprocess(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    bad = tmp_path / "bad.json"
    bad.write_text(BAD_CASES["huge size"])
    ok = subprocess.run([sys.executable, "-m", "gateflow.cli", "check", str(good)],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and ok.stdout.startswith("OK ") and ok.stdout.count("\n") == 1
    proc = subprocess.run([sys.executable, "-m", "gateflow.cli", "check", str(bad)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "num_classes" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = subprocess.run([sys.executable, "-m", "gateflow.cli", "check", str(tmp_path / "no")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode != 0 and "no such file" in missing.stderr
