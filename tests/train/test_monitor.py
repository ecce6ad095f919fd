"""The validation split, model selection by validation accuracy, early stopping and the
history's evaluation points (gateflow.train.monitor), for lgn and a threshold family."""

import numpy as np
import pytest
import torch

import gateflow.train.logic as train_mod
from gateflow.data import load_digits
from gateflow.nn import LogicNet
from gateflow.train.config import TrainConfig, TrainError
from gateflow.train.logic import evaluate, train
from gateflow.train.monitor import alive_gates, prepare_data, split_validation

TINY = TrainConfig(dataset="digits", widths=[300, 200], tau=3.0, lr=0.1, batch_size=64,
                   steps=60, threads=1, device="cpu")  # fmt: skip
BINARY = TINY.replace(arch="binary", widths=[60, 30], lr=0.05, density=0.1,
                      bits_per_feature=2, steps=200)  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _val(digits, result):
    idx = np.asarray(result.split["val_indices"])
    return digits.X_train[idx], digits.y_train[idx]


def test_split_is_stratified_disjoint_and_seeded(digits):
    y = digits.y_train
    tr, va = split_validation(y, 0.2, seed=0, num_classes=10)
    assert np.intersect1d(tr, va).size == 0 and np.union1d(tr, va).size == y.size
    assert va.size == round(0.2 * y.size)
    counts, held = np.bincount(y, minlength=10), np.bincount(y[va], minlength=10)
    assert np.all(np.abs(held - 0.2 * counts) < 1)  # every class holds out its share
    again = split_validation(y, 0.2, seed=0, num_classes=10)
    assert np.array_equal(again[1], va)
    assert not np.array_equal(split_validation(y, 0.2, seed=1, num_classes=10)[1], va)
    # what the run trains on is exactly the rest, augmented after the split
    data, val = prepare_data(TINY.replace(val_fraction=0.2, augment=1), digits)
    assert np.array_equal(val.y, y[va]) and np.array_equal(val.X, digits.X_train[va])
    assert np.array_equal(data.X_train[: tr.size], digits.X_train[tr])
    assert len(data.y_train) == 5 * tr.size and np.array_equal(data.X_test, digits.X_test)
    assert val.record["val_indices"] == va.tolist()
    assert val.record["val_per_class"] == held.tolist()
    assert val.record["train_per_class"] == (counts - held).tolist()


@pytest.mark.parametrize(
    "y, fraction, message",
    [
        ([0] * 10 + [1], 0.9, "leaves class 1 with no training samples"),
        ([0, 1, 1, 1], 0.1, "holds out no sample"),
    ],
)
def test_split_errors(y, fraction, message):
    with pytest.raises(TrainError, match=message):
        split_validation(np.array(y), fraction, seed=0, num_classes=2)


@pytest.mark.parametrize("bad", [{"val_fraction": 0.95}, {"val_fraction": -0.1},
                                 {"early_stopping": 3}, {"eval_every": -1}])  # fmt: skip
def test_bad_values_are_train_errors(bad):
    with pytest.raises(TrainError):
        TINY.replace(**bad).validate()


def test_evaluations_do_not_change_a_run_without_validation(digits):
    a, ra = train(TINY.replace(steps=30), progress=False, data=digits)
    b, rb = train(TINY.replace(steps=30, eval_every=4), progress=False, data=digits)
    sa, sb = _state(a), _state(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h["step"] for h in ra.history] == [30]
    assert [h["step"] for h in rb.history] == [4, 8, 12, 16, 20, 24, 28, 30]
    assert rb.best_step == 30 and rb.split is None and rb.val_acc_hard is None
    last = rb.history[-1]
    assert last["test_acc_hard"] == rb.test_acc_hard and last["alive"] == rb.alive
    assert {"loss", "train_acc_soft", "train_acc_hard", "test_acc_soft"} <= set(last)


def test_lgn_returns_the_best_model_by_validation(digits):
    cfg = TINY.replace(val_fraction=0.2, eval_every=5)
    model, result = train(cfg, progress=False, data=digits)
    accs = [h["val_acc_hard"] for h in result.history]
    steps = [h["step"] for h in result.history]
    assert steps == list(range(5, 61, 5))
    best = int(np.argmax(accs))  # the first of equal maxima: ties go to the earlier step
    assert result.best_step == steps[best] < result.steps == 60  # the last point is worse
    X_val, y_val = _val(digits, result)
    assert evaluate(model, X_val, y_val, "hard") == accs[best] == result.val_acc_hard
    assert result.alive == result.history[best]["alive"] == alive_gates(model)
    assert not result.stopped_early
    # the same seed gives the same split and the same run
    again, result2 = train(cfg, progress=False, data=digits)
    assert result2.split == result.split and result2.history == result.history


def test_early_stopping_stops_early(digits):
    cfg = TINY.replace(val_fraction=0.25, eval_every=5, steps=400, early_stopping=2, lr=0.3)
    _, result = train(cfg, progress=False, data=digits)
    assert result.stopped_early and result.steps < 400
    assert result.history[-1]["step"] == result.steps == result.best_step + 2 * 5
    best = max(h["val_acc_hard"] for h in result.history)
    assert result.val_acc_hard == best
    assert all(h["val_acc_hard"] <= best for h in result.history if h["step"] > result.best_step)


def test_threshold_family_selects_and_stops(digits):
    cfg = BINARY.replace(val_fraction=0.2, eval_every=5, early_stopping=3)
    model, result = train(cfg, progress=False, data=digits)
    assert result.stopped_early and result.steps < 200
    accs = [h["val_acc_hard"] for h in result.history]
    assert result.best_step == result.history[int(np.argmax(accs))]["step"] < result.steps
    X_val, y_val = _val(digits, result)
    assert evaluate(model, X_val, y_val) == max(accs) == result.val_acc_hard
    assert all(h["val_acc_soft"] == h["val_acc_hard"] for h in result.history)
    assert 0 < result.alive <= sum(cfg.widths)


def test_resume_keeps_the_best_model_and_history(tmp_path, digits, monkeypatch):
    cfg = TINY.replace(val_fraction=0.2, eval_every=5, steps=30, checkpoint_every=10)
    full, full_result = train(cfg, progress=False, data=digits)
    state = tmp_path / "train_state.pt"
    real_loss = train_mod._global_loss
    calls = {"n": 0}

    def interrupted(loss, world):
        calls["n"] += 1
        if calls["n"] == 17:
            raise KeyboardInterrupt
        return real_loss(loss, world)

    monkeypatch.setattr(train_mod, "_global_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, data=digits, state_path=state)
    monkeypatch.setattr(train_mod, "_global_loss", real_loss)
    resumed, result = train(cfg, progress=False, data=digits, state_path=state, resume=True)
    a, b = _state(full), _state(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert result.history == full_result.history and result.best_step == full_result.best_step


def test_alive_gates_follow_the_inputs_gates_read():
    from gateflow.data.encoding import ThermometerEncoder

    enc = ThermometerEncoder.uniform(2, 2, 0, 3)  # 4 input bits
    net = LogicNet(enc, [4, 2], 2, connections="random", seed=0)
    with torch.no_grad():
        for layer in net.layers:
            layer.logits.zero_()
        # last layer: gate 0 = A (pass-through: reads a only), gate 1 = constant 0
        net.layers[1].a.copy_(torch.tensor([0, 1]))
        net.layers[1].b.copy_(torch.tensor([2, 3]))
        net.layers[1].logits[0, 0b0011] = 1  # A
        net.layers[1].logits[1, 0b0000] = 1  # FALSE
        net.layers[0].logits[:, 0b0110] = 1  # XOR everywhere
    assert alive_gates(net) == 2  # the A gate and the one first-layer gate it reads
