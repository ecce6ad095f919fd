"""A user's CSV from training to the simulated board: train --data, eval, sim (bit-exact),
infer --port sim (agreement), predict; raw float features all the way."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gateflow import cli, ir
from gateflow.data.tabular import load_data_file
from gateflow.ir.golden import evaluate

KINDS = ("cultivar_a", "cultivar_b", "cultivar_c")


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    from sklearn.datasets import load_wine

    d = load_wine()
    path = tmp_path_factory.mktemp("own") / "wine.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([n.replace("/", "_") for n in d.feature_names] + ["kind"])
        for x, y in zip(d.data, d.target):
            w.writerow([repr(float(v)) for v in x] + [KINDS[y]])
    return path


@pytest.fixture(scope="module")
def trained(wine_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    rc = cli.main(["train", "--data", str(wine_csv), "--out", str(out), "--no-progress"])
    assert rc == 0
    return out


def test_accuracy_near_logistic_regression(wine_csv, trained):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_data_file(wine_csv)
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    baseline = lr.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    net = ir.load(trained / "ir.json")
    acc = float((evaluate(net, data.X_test).pred == data.y_test).mean())
    assert acc >= baseline - 0.02, (acc, baseline)
    assert net.head.class_names == KINDS


def test_eval_prints_the_held_out_accuracy(wine_csv, trained, capsys):
    rc = cli.main(["eval", str(trained / "ir.json"), "--data", str(wine_csv),
                   "--checkpoint", str(trained / "model.pt")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "wine.csv (held-out 20%) test split: 36 samples" in out
    assert "torch-vs-golden: 36/36" in out


def test_predict_writes_a_class_per_row(wine_csv, trained, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert cli.main(["predict", str(trained), "--data", str(wine_csv), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 178 and set(r["prediction"] for r in rows) <= set(KINDS)
    net = ir.load(trained / "ir.json")
    X = np.array([[float(v) for v in r[:-1]] for r in list(csv.reader(wine_csv.open()))[1:]])
    want = [KINDS[c] for c in evaluate(net, X).pred]
    assert [r["prediction"] for r in rows] == want
    assert "accuracy" in capsys.readouterr().err


def test_integer_model_refuses_float_rows(tmp_path, capsys):
    from gateflow.ir.randnet import random_netlist

    random_netlist(4, [6], 2, seed=0).save(tmp_path / "ir.json")
    (tmp_path / "x.csv").write_text("x0,x1,x2,x3\n1,2,3,4.5\n")
    assert cli.main(["predict", str(tmp_path), "--data", str(tmp_path / "x.csv")]) != 0
    assert "takes integer features" in capsys.readouterr().err


def test_builtin_dataset_on_a_real_model_is_refused(trained, capsys):
    assert cli.main(["eval", str(trained / "ir.json"), "--dataset", "digits"]) != 0
    assert "pass them with --data FILE" in capsys.readouterr().err


@pytest.mark.sim
def test_sim_and_simulated_board_with_raw_floats(wine_csv, trained, tmp_path, capsys):
    rc = cli.main(["sim", "--model", str(trained / "ir.json"), "--data", str(wine_csv),
                   "--out", str(tmp_path / "sim")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "bit-exact: 36/36" in out
    rc = cli.main(["infer", "--port", "sim", "--model", str(trained / "ir.json"),
                   "--data", str(wine_csv), "--out", str(tmp_path / "board")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "agreement: 36/36" in out
    manifest = json.loads((tmp_path / "board" / "manifest.json").read_text())
    assert manifest["output"]["class_names"] == list(KINDS)
    assert manifest["input"]["encoder"]["values"] == "real"
