import json

import numpy as np
import pytest
import torch

from gateflow.data import Dataset, load_digits
from gateflow.train.config import DEFAULT_DIGITS, TrainConfig, TrainError
from gateflow.train.logic import evaluate, make_encoder, train


@pytest.fixture(scope="module")
def digits():
    return load_digits()


TINY = TrainConfig(
    dataset="digits",
    widths=[300, 200],
    tau=3.0,
    lr=0.1,
    batch_size=64,
    steps=120,
    threads=1,
    device="cpu",
)


def test_config_round_trips_json():
    cfg = DEFAULT_DIGITS.replace(seed=3)
    back = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    with pytest.raises(TrainError, match="unknown"):
        TrainConfig.from_dict({"dataset": "digits", "learning_rate": 1})
    for bad in ({"mode": "relu"}, {"encoding": "onehot"}, {"steps": 0}, {"device": "tpu"}):
        with pytest.raises(TrainError):
            TINY.replace(**bad).validate()


def test_default_digits_is_small():
    assert DEFAULT_DIGITS.dataset == "digits" and DEFAULT_DIGITS.mode == "gumbel"
    assert sum(DEFAULT_DIGITS.widths) <= 6000 and DEFAULT_DIGITS.widths[-1] % 10 == 0


def test_tiny_run_learns_and_is_reproducible(digits):
    threads = torch.get_num_threads()
    model, result = train(TINY, progress=False, data=digits)
    assert torch.get_num_threads() == threads  # restored
    assert not model.training
    assert result.test_acc_hard > 0.5 and result.train_acc_hard > 0.5  # chance is 0.1
    assert result.steps == 120 and result.num_gates == 500 and result.num_input_bits == 128
    for key in ("test_acc_soft", "train_acc_soft"):
        assert 0.0 <= getattr(result, key) <= 1.0
    assert result.test_acc_hard == pytest.approx(evaluate(model, digits.X_test, digits.y_test))
    json.dumps(result.to_dict())

    again, result2 = train(TINY, progress=False, data=digits)
    for layer1, layer2 in zip(model.layers, again.layers, strict=True):
        assert torch.equal(layer1.logits, layer2.logits)
    assert result2.test_acc_hard == result.test_acc_hard
    other, _ = train(TINY.replace(seed=1, steps=5), progress=False, data=digits)
    assert not torch.equal(other.layers[0].logits, model.layers[0].logits)


def test_softmax_mode_epochs_and_history(digits):
    cfg = TINY.replace(mode="softmax", steps=None, epochs=2, eval_every=10, encoding="quantile")
    model, result = train(cfg, progress=False, data=digits)
    assert result.steps == 2 * 23  # ceil(1437 / 64) steps per epoch
    assert [h["step"] for h in result.history] == [10, 20, 30, 40, 46]
    assert result.test_acc_soft > 0.2


def test_crop_encoder_on_images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(50, 28 * 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=50).astype(np.int64)
    data = Dataset("fake", X, y, X[:10], y[:10], (28, 28), 10)
    enc = make_encoder(TINY.replace(crop=20, bits_per_feature=2), data)
    assert enc.num_bits == 800 and enc.num_raw_features == 784
    with pytest.raises(TrainError, match="crop"):
        make_encoder(TINY.replace(crop=4), Dataset("flat", X, y, X, y, None, 10))


@pytest.mark.parametrize("backend", ["native", "torch", "reference"])
def test_trained_model_is_bit_exact_with_the_golden_model(digits, backend):
    from gateflow.nn import kernels
    from gateflow.train.export import export
    from gateflow.train.flow import check_against_torch

    if backend == "native" and not kernels.native_available():
        pytest.skip("no C++ compiler for the native kernel")
    model, _ = train(TINY.replace(steps=15), progress=False, data=digits)
    impl = "reference" if backend == "reference" else "fast"
    model.set_impl(impl, None if backend == "reference" else backend)
    golden = check_against_torch(export(model), model, digits.X_test, backend)
    assert golden.scores.sum() > 0


@pytest.mark.slow
def test_default_digits_config_trains_well(digits):
    model, result = train(DEFAULT_DIGITS, progress=False, data=digits)
    assert result.test_acc_hard >= 0.9
    assert model.num_gates == sum(DEFAULT_DIGITS.widths)


@pytest.mark.parametrize(("candidates", "mode"), [(8, "gumbel"), (-1, "softmax")])
def test_learned_connections_train_and_export_bit_exact(digits, candidates, mode):
    """A network with learned connections trains (its connection logits move), and its
    exported netlist (the argmax candidates as fixed wiring) equals torch eval on every
    score of every sample."""
    from gateflow.train.export import export
    from gateflow.train.flow import check_against_torch

    config = TINY.replace(steps=40, candidates=candidates, mode=mode)
    model, result = train(config, progress=False, data=digits)
    assert model.config["candidates"] == candidates
    from gateflow.train.logic import build_model

    fresh = build_model(config, model.encoder.to_encoder(), 10)
    moved = (model.layers[0].conn.detach() - fresh.layers[0].conn).abs().max()
    assert moved > 0.01  # the connection logits trained away from their initial values
    golden = check_against_torch(export(model), model, digits.X_test, "native")
    assert golden.scores.sum() > 0 and result.test_acc_hard > 0.3
    for bad in ({"candidates": 1}, {"candidates": -2}, {"candidates": 4, "arch": "binary"}):
        with pytest.raises(TrainError, match="candidates|learned connections"):
            TINY.replace(**bad).validate()
