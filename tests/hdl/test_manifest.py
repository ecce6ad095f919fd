"""The manifest's packing follows its output fields; a bad manifest is one clear error."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.hdl.manifest import Manifest, ManifestError, pack_inputs
from gateflow.ir.golden import evaluate
from gateflow.ir.randnet import random_netlist


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    net = random_netlist(12, [24, 20], 4, seed=3, num_raw_features=12)
    return net, generate(net, tmp_path_factory.mktemp("core"), CoreOptions())


def test_round_trip_and_layout_of_the_generated_core(core):
    net, gen = core
    m = Manifest.load(gen.manifest_path)
    x = np.random.default_rng(0).integers(0, 2, size=(50, 12))
    res = evaluate(net, x)
    words = m.pack_outputs(res.pred, res.scores)
    pred, scores = m.unpack_outputs(words)
    assert (pred == res.pred).all() and (scores == res.scores).all()
    iw, sw = m.data["output"]["index_width"], m.data["output"]["score_width"]
    for k in range(5):  # class index in the low bits, score c at iw + c*sw
        want = int(res.pred[k]) | sum(int(res.scores[k, c]) << (iw + c * sw) for c in range(4))
        assert words[k] == want


def test_packing_follows_the_fields_not_a_fixed_layout(core):
    _, gen = core
    data = copy.deepcopy(gen.manifest)
    fields = data["output"]["fields"]
    # put the class index at the top instead of the bottom
    width = data["output"]["width"]
    iw = fields[0]["width"]
    for f in fields[1:]:
        f["lsb"] -= iw
    fields[0]["lsb"] = width - iw
    m = Manifest(data)
    words = m.pack_outputs(np.array([3]), np.array([[1, 2, 3, 4]]))
    assert words[0] >> (width - iw) == 3
    assert m.unpack_outputs(words)[0][0] == 3
    assert list(m.unpack_outputs(words)[1][0]) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["output"]["fields"].pop(0), "no 'class' field"),
        (lambda d: d["output"]["fields"][1].update(lsb=0), "inconsistent position"),
        (lambda d: d["output"]["fields"][1].update(name="score99"), "not known"),
        (lambda d: d["output"].pop("width"), "lacks"),
    ],
)
def test_bad_manifests_are_refused(core, change, message):
    data = copy.deepcopy(core[1].manifest)
    change(data)
    with pytest.raises(ManifestError, match=message):
        Manifest(data)


def test_load_names_the_file(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        Manifest.load(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text(json.dumps([1]))
    with pytest.raises(ManifestError, match="JSON object"):
        Manifest.load(tmp_path / "manifest.json")


def test_pack_inputs_bit_order():
    assert pack_inputs(np.array([[1, 0, 0, 1, 0, 0, 0, 0, 1]])) == [0b100001001]
