"""A user's own tables: CSV / .npz reading, labels, the split, and every bad input as one
clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gateflow import cli
from gateflow.data.datasets import DatasetError
from gateflow.data.tabular import (
    class_order,
    evaluation_set,
    load_data_file,
    stratified_split,
)


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        label = ["low", "mid", "high"][i % 3]
        x = rng.normal(size=3) + (i % 3)
        rows.append([f"{x[0]:.6g}", f"{x[1]:.6g}", label, f"{x[2]:.6g}"])
    return write_csv(tmp_path / "t.csv", ["a", "b", "kind", "c"], rows)


def test_csv_with_named_label_column_and_string_labels(table):
    d = load_data_file(table, label_column="kind")
    assert d.class_names == ("high", "low", "mid")
    assert d.feature_names == ("a", "b", "c")
    assert d.X_train.dtype == np.float64 and d.real
    assert len(d.y_train) + len(d.y_test) == 60
    # stratified: 20% of each class of 20 is 4
    assert np.bincount(d.y_test).tolist() == [4, 4, 4]
    split = d.source["split"]
    assert split["test_fraction"] == 0.2 and split["seed"] == 0 and len(split["test_rows"]) == 12
    assert d.source["label_column"] == "kind" and len(d.source["sha256"]) == 64


def test_split_is_seeded_and_independent_of_numpy_state(table):
    a = load_data_file(table, label_column="kind", seed=1)
    np.random.seed(123)
    b = load_data_file(table, label_column="kind", seed=1)
    c = load_data_file(table, label_column="kind", seed=2)
    assert a.source["split"]["test_rows"] == b.source["split"]["test_rows"]
    assert a.source["split"]["test_rows"] != c.source["split"]["test_rows"]


def test_stratified_split_keeps_a_training_sample_of_every_class():
    y = np.array([0] * 10 + [1] * 2 + [2])
    mask = stratified_split(y, 0.5, 0)
    assert mask[:10].sum() == 5 and mask[10:12].sum() == 1 and not mask[12]


def test_integer_labels_keep_numeric_order():
    assert class_order(np.array(["10", "2", "1"], dtype=object)) == ("1", "2", "10")
    assert class_order(np.array(["b", "a", "10"], dtype=object)) == ("10", "a", "b")


def test_labels_1_to_3_become_classes_0_to_2(tmp_path):
    rows = [[i * 0.5, (i % 3) + 1] for i in range(30)]
    d = load_data_file(write_csv(tmp_path / "x.csv", ["f", "y"], rows))
    assert d.class_names == ("1", "2", "3") and d.num_classes == 3
    assert set(d.y_train.tolist()) == {0, 1, 2}


def test_npz_with_test_arrays(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), np.arange(40) % 2
    np.savez(tmp_path / "d.npz", X=X, y=y, X_test=X[:10], y_test=y[:10])
    d = load_data_file(tmp_path / "d.npz")
    assert d.X_train.shape == (40, 4) and d.X_test.shape == (10, 4)
    assert d.class_names == ("0", "1") and "split" not in d.source


def test_separate_test_file_and_evaluation_set_reproduces_the_split(tmp_path, table):
    d = load_data_file(table, label_column="kind")
    trained_on = {k: v for k, v in d.source.items()}
    trained_on["split"] = {"test_fraction": 0.2, "seed": 0}
    ev = evaluation_set(table, d.feature_names, 3, d.class_names, trained_on, "kind")
    assert np.array_equal(ev.X_test, d.X_test) and np.array_equal(ev.y_test, d.y_test)
    # another file with the columns in another order is scored whole, matched by name
    other = write_csv(tmp_path / "o.csv", ["c", "kind", "a", "b"], [[3, "mid", 1, 2]])
    ev = evaluation_set(other, d.feature_names, 3, d.class_names, trained_on)
    assert ev.X_test.tolist() == [[1.0, 2.0, 3.0]] and ev.y_test.tolist() == [2]


BAD = {
    "nan": ("a,b,y\n1,2,x\nnan,3,y\n", "row 3, column 'a'", "not a finite number"),
    "inf": ("a,b,y\n1,2,x\n4,inf,y\n", "row 3, column 'b'", "not a finite number"),
    "text": ("a,b,y\n1,2,x\n4,abc,y\n", "row 3, column 'b'", "'abc' is not a number"),
    "empty cell": ("a,b,y\n1,,x\n4,5,y\n", "row 2, column 'b'", "empty"),
    "one class": ("a,b,y\n1,2,x\n4,5,x\n", "every sample has the label 'x'", "two classes"),
    "short row": ("a,b,y\n1,2,x\n4,y\n", "row 3 has 2 columns", "the header 3"),
    "empty label": ("a,b,y\n1,2,x\n4,5,\n", "row 3, column 'y'", "the label is empty"),
    "empty file": ("", "the file is empty", ""),
    "header only": ("a,b,y\n", "no data rows", ""),
    "repeated column": ("a,a,y\n1,2,x\n", "names the column 'a' twice", ""),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tables_give_one_line(tmp_path, capsys, case):
    text, *needles = BAD[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DatasetError) as exc:
        load_data_file(path)
    for needle in needles:
        assert needle in str(exc.value)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    # and through the command line: one line, no traceback, nothing trained
    assert cli.main(["train", "--data", str(path), "--out", str(tmp_path / "m")]) != 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("gateflow: error: ") and "Traceback" not in err
    assert not (tmp_path / "m" / "ir.json").exists()


def test_cli_file_level_errors_are_one_line(tmp_path, capsys, table):
    other = write_csv(tmp_path / "other.csv", ["a", "z", "kind", "c"], [[1, 2, "low", 3]])
    unknown = write_csv(tmp_path / "unk.csv", ["a", "b", "kind", "c"], [[1, 2, "huge", 3]])
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    cases = [
        (["--data", str(table), "--label-column", "nope"], "no label column 'nope'"),
        (["--data", str(table), "--label-column", "kind", "--test-data", str(other)],
         "feature column 2 is 'z' there and 'b'"),
        (["--data", str(table), "--label-column", "kind", "--test-data", str(unknown)],
         "label 'huge' does not occur in the training data"),
        (["--data", str(tmp_path / "t.parquet")], "parquet files are not supported"),
        (["--data", str(tmp_path / "missing.csv")], "no such file"),
        (["--data", str(table), "--dataset", "digits"], "not both"),
        (["--data", str(table), "--label-column", "kind", "--widths", "100,100"],
         "must be a multiple of the 3 classes (e.g. 99 or 102)"),
    ]  # fmt: skip
    for args, needle in cases:
        assert cli.main(["train", *args, "--out", str(tmp_path / "m"), "--steps", "2"]) != 0
        out, err = capsys.readouterr()
        assert needle in err, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err


def test_train_json_records_the_data_and_split(tmp_path, table, capsys):
    out = tmp_path / "m"
    rc = cli.main(["train", "--data", str(table), "--label-column", "kind", "--out", str(out),
                   "--steps", "30", "--no-progress", "--no-report"])  # fmt: skip
    assert rc == 0
    record = json.loads((out / "train.json").read_text())
    assert record["data"]["split"]["test_rows"] and record["config"]["data"] == str(table)
    ir = json.loads((out / "ir.json").read_text())
    assert ir["version"] == 2 and ir["head"]["class_names"] == ["high", "low", "mid"]
    assert ir["encoder"]["values"] == "real" and ir["encoder"]["feature_names"] == ["a", "b", "c"]
    assert ir["meta"]["data"]["split"] == {"test_fraction": 0.2, "seed": 0}
    # quantile thermometer, 8 bits per feature by default, 300 outputs (100 per class)
    assert max(np.bincount(ir["encoder"]["feature"])) == 8
    assert sum(len(g) for g in ir["head"]["groups"]) <= 300
