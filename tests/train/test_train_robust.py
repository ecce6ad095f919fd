"""Training robustness: divergence stops clearly, checkpoints are atomic, and an
interrupted run resumes to exactly the uninterrupted result."""

import pytest
import torch

import gateflow.train.logic as train_mod
from gateflow.data import get_dataset
from gateflow.train.config import TrainConfig, TrainError
from gateflow.train.logic import train

CONFIG = TrainConfig(widths=[96, 60], steps=30, batch_size=32, seed=5, threads=1,
                     bits_per_feature=1)  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_reproduces_the_uninterrupted_run(tmp_path, digits, monkeypatch):
    full, _ = train(CONFIG, progress=False, data=digits)

    # interrupt after step 17 of a run that checkpoints every 10 steps
    cfg = CONFIG.replace(checkpoint_every=10)
    state = tmp_path / "train_state.pt"
    real_save = train_mod._save_state
    saved_steps = []

    def save_then_maybe_die(path, config, step, *args):
        real_save(path, config, step, *args)
        saved_steps.append(step)

    monkeypatch.setattr(train_mod, "_save_state", save_then_maybe_die)
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
    assert saved_steps == [10]
    assert torch.load(state, weights_only=True)["step"] == 10

    monkeypatch.setattr(train_mod, "_global_loss", real_loss)
    resumed, _ = train(cfg, progress=False, data=digits, state_path=state, resume=True)
    a, b = _state(full), _state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert saved_steps == [10, 20, 30]


def test_resume_refuses_other_options(tmp_path, digits):
    state = tmp_path / "s.pt"
    train(CONFIG.replace(steps=10, checkpoint_every=5), progress=False, data=digits,
          state_path=state)  # fmt: skip
    other = CONFIG.replace(steps=10, lr=0.5)
    with pytest.raises(TrainError, match=r"other options \(lr\)"):
        train(other, progress=False, data=digits, state_path=state, resume=True)
    state.write_bytes(state.read_bytes()[:100])  # truncated
    with pytest.raises(TrainError, match="not a readable training state"):
        train(CONFIG, progress=False, data=digits, state_path=state, resume=True)
    with pytest.raises(TrainError, match="no training state"):
        train(CONFIG, progress=False, data=digits, state_path=tmp_path / "none.pt", resume=True)


def test_divergence_stops_with_a_clear_error(digits, monkeypatch):
    real_loss = train_mod._global_loss
    calls = {"n": 0}

    def nan_at_4(loss, world):
        calls["n"] += 1
        return float("nan") if calls["n"] == 4 else real_loss(loss, world)

    monkeypatch.setattr(train_mod, "_global_loss", nan_at_4)
    with pytest.raises(TrainError, match=r"training diverged: the loss is nan at step 4"):
        train(CONFIG, progress=False, data=digits)


def test_real_divergence_from_a_huge_learning_rate(digits):
    """No monkeypatching: an absurd learning rate must end in the clear error, not NaN weights."""
    cfg = CONFIG.replace(lr=1e38, steps=200)
    try:
        model, _ = train(cfg, progress=False, data=digits)
    except TrainError as exc:
        assert "training diverged" in str(exc)
    else:  # if the loss stayed finite, the weights must be finite too
        for v in model.state_dict().values():
            if v.is_floating_point():
                assert torch.isfinite(v).all()


def test_checkpoints_are_written_atomically(tmp_path, digits, monkeypatch):
    """A crash inside torch.save leaves the previous checkpoint intact and no temp files."""
    state = tmp_path / "train_state.pt"
    cfg = CONFIG.replace(steps=10, checkpoint_every=5)
    train(cfg, progress=False, data=digits, state_path=state)
    good = state.read_bytes()

    def crash(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        train(cfg, progress=False, data=digits, state_path=state)
    assert state.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["train_state.pt"]
