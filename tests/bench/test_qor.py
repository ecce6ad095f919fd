"""``gateflow bench qor``: the runs it parses, one real train-and-build on the iCEBreaker,
the frontier plot with the published anchors."""

from __future__ import annotations

import json

import pytest

from gateflow import cli
from gateflow.bench.qor import ANCHORS, DEFAULT_RUNS, parse_runs, plot_qor
from gateflow.errors import GateflowError
from gateflow.train.recipes import RECIPES


def test_runs_parse_and_refuse_in_one_line():
    assert parse_runs("default@icebreaker, digits-icebreaker@ulx3s") == (
        ("default", "icebreaker"),
        ("digits-icebreaker", "ulx3s"),
    )
    for bad, needle in [
        ("default", "is not NETWORK@BOARD"),
        ("nope@icebreaker", "unknown network"),
        ("default@nowhere", "unknown board"),
        (",", "no runs"),
    ]:
        with pytest.raises(GateflowError, match=needle):
            parse_runs(bad)
    assert all(name == "default" or name in RECIPES for name, _ in DEFAULT_RUNS)


def test_a_recipe_on_mnist_needs_the_data(tmp_path, capsys):
    rc = cli.main(["bench", "qor", "--runs", "mnist-dense-icebreaker@icebreaker",
                   "--work", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0 and "give --data-dir" in err and "Traceback" not in err


def test_plot_draws_our_points_and_the_anchors(tmp_path):
    point = {"network": "default", "board": "icebreaker", "dataset": "mnist",
             "accuracy": 91.6, "luts": 3427}  # fmt: skip
    result = {"points": [point, {**point, "dataset": "digits", "accuracy": 96.4}],
              "anchors": list(ANCHORS)}  # fmt: skip
    path = plot_qor(result, tmp_path / "qor.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GateflowError, match="no points"):
        plot_qor({"points": [], "anchors": []}, tmp_path / "none.png")


@pytest.mark.fpga
@pytest.mark.slow
def test_train_build_and_measure_on_the_icebreaker(tmp_path, capsys):
    out = tmp_path / "qor.json"
    rc = cli.main(["bench", "qor", "--runs", "digits-icebreaker@icebreaker", "--steps", "30",
                   "--work", str(tmp_path / "w"), "--out", str(out)])  # fmt: skip
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["points"] == json.loads(out.read_text())["points"]
    (p,) = result["points"]
    assert p["network"] == "digits-icebreaker" and p["board"] == "icebreaker"
    assert p["dataset"] == "digits" and 0 < p["accuracy"] <= 100
    report = json.loads(
        (tmp_path / "w" / "digits-icebreaker-icebreaker" / "report.json").read_text()
    )
    assert p["luts"] == report["luts"] and p["timing_met"] == report["timing_met"]
    assert p["groupsum"] == "serial" and p["logic_cells"] > p["luts"] / 2
    train = json.loads((tmp_path / "w" / "digits-icebreaker" / "train.json").read_text())
    assert p["accuracy"] == round(100 * train["result"]["test_acc_hard"], 2)
    assert (tmp_path / "w" / "qor.png").is_file()
