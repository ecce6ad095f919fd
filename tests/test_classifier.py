"""The scikit-learn-style classifiers: sklearn's protocols, predict == the golden model of
the exported IR on every row, save/load, and the hardware steps."""

from __future__ import annotations

import numpy as np
import pytest

import gateflow
from gateflow import ir
from gateflow.errors import GateflowError
from gateflow.ir.golden import evaluate


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    y = np.array(["malignant", "benign"])[y]
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(cancer):
    Xtr, _, ytr, _ = cancer
    return gateflow.LogicGateClassifier(steps=600).fit(Xtr, ytr)


def test_clone_and_params():
    from sklearn.base import clone

    clf = gateflow.LogicGateClassifier(steps=7, widths=[64, 30])
    c = clone(clf)
    assert c.get_params() == clf.get_params() and c is not clf
    c.set_params(steps=9)
    assert c.steps == 9 and clf.steps == 7


def test_predict_equals_golden_model_of_the_ir(fitted, cancer, tmp_path):
    _, Xte, _, yte = cancer
    path = fitted.export_ir(tmp_path / "ir.json")
    net = ir.load(path)
    golden = evaluate(net, Xte)
    assert list(fitted.predict(Xte)) == [fitted.classes_[c] for c in golden.pred]
    assert net.head.class_names == ("benign", "malignant")
    assert fitted.score(Xte, yte) > 0.9
    proba = fitted.predict_proba(Xte)
    assert np.allclose(proba.sum(axis=1), 1) and (proba.argmax(axis=1) == golden.pred).all()
    d = fitted.decision_function(Xte)
    assert d.shape == (len(Xte),)
    assert np.array_equal(d, golden.scores[:, 1] - golden.scores[:, 0])


def test_save_and_load(fitted, cancer, tmp_path):
    _, Xte, _, _ = cancer
    fitted.save(tmp_path / "clf")
    back = gateflow.LogicGateClassifier.load(tmp_path / "clf")
    assert back.get_params() == fitted.get_params()
    assert np.array_equal(back.predict(Xte), fitted.predict(Xte))


def test_cross_val_score_and_grid_search(cancer):
    from sklearn.model_selection import GridSearchCV, cross_val_score

    Xtr, _, ytr, _ = cancer
    scores = cross_val_score(gateflow.LogicGateClassifier(steps=150), Xtr, ytr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    grid = GridSearchCV(gateflow.ThresholdClassifier(steps=100), {"bits_per_feature": [2, 4]}, cv=2)
    grid.fit(Xtr, ytr)
    assert grid.best_params_["bits_per_feature"] in (2, 4)


@pytest.mark.parametrize("arch", ["binary", "bitlevel", "switcher"])
def test_threshold_families_with_three_classes(arch):
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    clf = gateflow.ThresholdClassifier(arch=arch, steps=150).fit(X, y + 1)  # labels 1..3
    assert list(clf.classes_) == [1, 2, 3]
    net = clf.net_
    assert net.num_classes == 3 and net.head.class_names == ("1", "2", "3")
    assert set(clf.predict(X)) <= {1, 2, 3}
    assert list(clf.predict(X)) == [c + 1 for c in evaluate(net, X).pred]


def test_bad_input_is_a_clear_error(fitted):
    clf = gateflow.LogicGateClassifier(steps=5)
    with pytest.raises(GateflowError, match="one class only"):
        clf.fit(np.zeros((4, 2)), ["a"] * 4)
    with pytest.raises(GateflowError, match="X row 1, column 0: nan is not a finite number"):
        clf.fit(np.array([[0.0, 1], [np.nan, 2]]), [0, 1])
    with pytest.raises(GateflowError, match="not fitted"):
        clf.predict(np.zeros((1, 2)))
    with pytest.raises(GateflowError, match="X has 3 features, the classifier was fitted on 30"):
        fitted.predict(np.zeros((1, 3)))
    with pytest.raises(GateflowError, match="arch must be"):
        gateflow.ThresholdClassifier(arch="lgn").fit(np.eye(4), [0, 1, 0, 1])


@pytest.mark.sim
def test_simulate_and_board(fitted, cancer, tmp_path):
    _, Xte, _, _ = cancer
    rep = fitted.simulate(Xte[:40], tmp_path / "sim")
    assert rep.ok and rep.bit_exact == rep.total == 40
    with fitted.board("sim", build=tmp_path / "board") as board:
        assert board.predict_labels(Xte[:16]) == list(fitted.predict(Xte[:16]))


def test_learned_connections_through_the_classifier(cancer, tmp_path):
    """candidates=-1: every gate input chosen among all features' bits; predict equals the
    golden model of the exported IR, and the learned net still classifies."""
    Xtr, Xte, ytr, yte = cancer
    clf = gateflow.LogicGateClassifier(steps=300, candidates=-1, mode="softmax", tau=3.0)
    clf.fit(Xtr, ytr)
    assert clf.model_.config["candidates"] == -1 and clf.config_.candidates == -1
    net = ir.load(clf.export_ir(tmp_path / "ir.json"))
    golden = evaluate(net, Xte)
    assert list(clf.predict(Xte)) == [clf.classes_[c] for c in golden.pred]
    assert clf.score(Xte, yte) > 0.85
