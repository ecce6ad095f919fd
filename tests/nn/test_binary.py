import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gateflow.data import get_dataset
from gateflow.data.encoding import ThermometerEncoder
from gateflow.nn import ModelError
from gateflow.nn.binary import BinaryLinear, BinaryNet
from gateflow.nn.bitlevel import BitLinear, BitNet
from gateflow.nn.switcher import SwitchedNet
from gateflow.nn.threshold import ThresholdNet, integer_forward
from gateflow.train.threshold import fit, train_switcher

FAMILIES = ("binary", "bit", "switched")


def _bits(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, d), generator=g).float()


def _net(family: str, in_features: int, widths, num_classes: int, seed: int = 0) -> ThresholdNet:
    if family == "binary":
        return BinaryNet(in_features, widths, num_classes, tau=3.0, seed=seed)
    if family == "bit":
        return BitNet(in_features, widths, num_classes, bits=4, trained_bits=3, tau=3.0, seed=seed)
    return SwitchedNet(in_features, widths, num_classes, levels=2, tau=3.0, seed=seed)


def _train(net: ThresholdNet, x, y, steps: int, **kw) -> list[float]:
    if isinstance(net, SwitchedNet):
        return train_switcher(net, x, y, steps=steps, **kw)
    return fit(net, x, y, steps=steps, **kw)


def _synthetic(n=512, d=24, seed=0):
    """Two classes: more ones in the first half of the bits than in the second."""
    x = _bits(n, d, seed)
    y = (x[:, : d // 2].sum(1) > x[:, d // 2 :].sum(1)).long()
    return x, y


@pytest.fixture(scope="module")
def digits():
    data = get_dataset("digits")
    lo, hi = int(data.X_train.min()), int(data.X_train.max())
    enc = ThermometerEncoder.uniform(data.num_features, 3, lo, hi)
    return (
        torch.from_numpy(enc.encode(data.X_train)).float(),
        torch.from_numpy(data.y_train),
        torch.from_numpy(enc.encode(data.X_test)).float(),
        torch.from_numpy(data.y_test),
    )


@pytest.fixture(scope="module")
def trained():
    """One small trained network per family (nontrivial weights and thresholds)."""
    x, y = _synthetic()
    nets = {}
    for family in FAMILIES:
        net = _net(family, x.shape[1], [40, 20], 2, seed=1)
        _train(net, x, y, steps=60, lr=0.02)
        nets[family] = net
    return nets


# ---------------------------------------------------------------- gradients / training
@pytest.mark.parametrize("family", FAMILIES)
def test_every_parameter_gets_a_gradient(family):
    x, y = _synthetic(n=128)
    net = _net(family, x.shape[1], [32, 16], 2)
    net.calibrate(x)
    net.train()
    loss = F.cross_entropy(net(x), y) + 0.1 * net.penalty()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_decreases_on_a_synthetic_task(family):
    x, y = _synthetic()
    net = _net(family, x.shape[1], [40, 20], 2)
    losses = _train(net, x, y, steps=120, lr=0.02)
    assert np.mean(losses[-20:]) < 0.8 * np.mean(losses[:20])
    assert (net.predict(x) == y).float().mean() > 0.7


# ---------------------------------------------------------------- integer exactness
@pytest.mark.parametrize("family", FAMILIES)
def test_eval_equals_numpy_integer_reference(family, trained):
    net = trained[family].eval()
    specs = net.integer_description()
    x = _bits(300, net.layers[0].in_features, seed=7)
    h_np = x.numpy().astype(np.int64)
    h = x
    for layer, spec in zip(net.layers, specs, strict=True):
        assert spec.weight.dtype == np.int64 and spec.threshold.dtype == np.int64
        assert spec.weight.shape == (layer.out_features, layer.in_features)
        h = layer(h)
        h_np = spec(h_np)
        np.testing.assert_array_equal(h.numpy().astype(np.int64), h_np)  # every output bit
    # the layers are not trivially constant
    assert 0 < h_np.mean() < 1
    scores = integer_forward(specs, x.numpy(), net.num_classes)
    np.testing.assert_array_equal(net(x).numpy(), scores)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_eval_result_is_the_same_in_every_float_dtype(family, dtype, trained):
    net = trained[family].eval()
    x = _bits(200, net.layers[0].in_features, seed=3)
    ref = net(x).numpy()
    out = net(x.to(dtype))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.double().numpy(), ref)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_forward_values_equal_the_eval_network(family, trained):
    net = trained[family]
    x = _bits(200, net.layers[0].in_features, seed=4)
    net.train()
    try:
        h_train = x
        for layer in net.layers:
            h_train = layer(h_train)
    finally:
        net.eval()
    h_eval = x
    for layer in net.layers:
        h_eval = layer(h_eval)
    np.testing.assert_array_equal(h_train.detach().numpy(), h_eval.numpy())


@pytest.mark.parametrize("family", FAMILIES)
def test_scaling_the_one_of_the_weights_leaves_outputs_unchanged(family, trained):
    net = trained[family].eval()
    x = _bits(300, net.layers[0].in_features, seed=5)
    ref = net(x)
    for one in (1e-3, 0.3, 1.7, 3.0, 1000.0):
        np.testing.assert_array_equal(net(x, one=one).numpy(), ref.numpy())
    with pytest.raises(ModelError):
        net(x, one=0.0)


def test_thresholds_are_ceilings_of_the_learned_reals():
    layer = BinaryLinear(6, 3)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.threshold.copy_(torch.tensor([2.0, 2.01, 1.99]))
    layer.eval()
    x = torch.tensor([[1.0, 1.0, 0, 0, 0, 0], [1.0, 1.0, 1.0, 0, 0, 0]])
    assert layer.int_thresholds().tolist() == [2, 3, 2]
    assert layer(x).tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]


def test_eval_rejects_non_binary_input():
    layer = BinaryLinear(4, 2).eval()
    with pytest.raises(ModelError):
        layer(torch.tensor([[0.0, 0.5, 1.0, 0.0]]))
    with pytest.raises(ModelError):
        layer(torch.zeros(1, 5))


# ---------------------------------------------------------------- integer descriptions
def test_binary_layer_mask_is_its_weight(trained):
    for layer in trained["binary"].layers:
        spec = layer.integer_description()
        assert set(np.unique(spec.weight).tolist()) <= {0, 1}
        np.testing.assert_array_equal(spec.mask, layer.mask().numpy())


def test_bit_layer_weights_are_twos_complement_of_its_bits():
    layer = BitLinear(10, 7, bits=5, trained_bits=3, generator=torch.Generator().manual_seed(2))
    bits = layer.int_bits().numpy()
    assert bits.shape == (5, 7, 10)
    assert not bits[:2].any()  # the two least significant bits are fixed at 0
    places = np.array([1, 2, 4, 8, -16])[:, None, None]
    w = layer.int_weight().numpy()
    np.testing.assert_array_equal((places * bits).sum(0), w)
    assert w.min() >= -16 and w.max() <= 12 and not (w % 4).any()
    assert len(np.unique(w)) > 3
    assert layer.bit_sparsity() == pytest.approx(1 - bits.sum() / bits.size)


def test_switched_layer_weights_are_switches_times_quantized_weights(trained):
    net = trained["switched"]
    for layer in net.layers:
        w = layer.int_weight().numpy()
        q = np.round(np.clip(layer.weight.detach().numpy(), -1, 1) * layer.levels)
        np.testing.assert_array_equal(w, q * layer.switches().numpy())
        assert np.abs(w).max() <= layer.levels
    assert sum(1 for _ in net.switcher.parameters()) > 0
    switcher_ids = {id(p) for p in net.switcher.parameters()}
    assert not switcher_ids & {id(p) for p in net.task_parameters()}


def test_invalid_definitions_raise():
    with pytest.raises(ModelError):
        BinaryLinear(0, 3)
    with pytest.raises(ModelError):
        BinaryLinear(3, 3, density=0.0)
    with pytest.raises(ModelError):
        BitLinear(3, 3, bits=4, trained_bits=5)
    with pytest.raises(ModelError):
        BinaryNet(8, [10], 3)  # 10 outputs do not split into 3 classes
    with pytest.raises(ModelError):
        ThresholdNet([BinaryLinear(4, 6), BinaryLinear(5, 2)], 2, 1.0)


# ---------------------------------------------------------------- sparsity
@pytest.mark.parametrize("family", FAMILIES)
def test_sparsity_is_the_fraction_of_zero_integer_weights(family, trained):
    net = trained[family]
    weights = np.concatenate([s.weight.ravel() for s in net.integer_description()])
    assert net.sparsity() == pytest.approx(float((weights == 0).mean()))
    assert 0.0 < net.sparsity() < 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_sparsity_penalty_increases_sparsity(family):
    x, y = _synthetic()
    sparsities = []
    for weight in (0.0, 5.0):
        net = _net(family, x.shape[1], [40, 20], 2)
        _train(net, x, y, steps=80, lr=0.02, sparsity_weight=weight)
        sparsities.append(net.sparsity())
    assert sparsities[1] > sparsities[0] + 0.05


# ---------------------------------------------------------------- digits
def _accuracy(net, x, y) -> float:
    return float((net.predict(x) == y).float().mean())


def test_binary_net_learns_digits_sparsely(digits):
    xtr, ytr, xte, yte = digits
    net = BinaryNet(xtr.shape[1], [200], 10, tau=3.0, density=0.2)
    fit(net, xtr, ytr, steps=300, lr=0.01, sparsity_weight=20.0)
    acc = _accuracy(net, xte, yte)
    assert acc > 0.6, acc
    assert net.sparsity() > 0.9, net.sparsity()
    scores = integer_forward(net.integer_description(), xte.numpy(), 10)
    np.testing.assert_array_equal(scores.argmax(1), net.predict(xte).numpy())


def test_bit_net_learns_digits(digits):
    xtr, ytr, xte, yte = digits
    net = BitNet(xtr.shape[1], [200], 10, bits=4, trained_bits=2, tau=3.0)
    fit(net, xtr, ytr, steps=300, lr=0.01, sparsity_weight=1.0)
    acc = _accuracy(net, xte, yte)
    assert acc > 0.6, acc
    assert 0.0 < net.sparsity() < 1.0
    assert net.bit_sparsity() > 0.5  # the two fixed low bits alone are half of all bits


def test_switcher_learns_digits(digits):
    xtr, ytr, xte, yte = digits
    net = SwitchedNet(xtr.shape[1], [100], 10, tau=3.0)
    train_switcher(net, xtr, ytr, steps=200, lr=0.01, sparsity_weight=0.1)
    acc = _accuracy(net, xte, yte)
    assert acc > 0.6, acc
    switched_off = np.mean([(~layer.switches()).float().mean().item() for layer in net.layers])
    assert switched_off > 0.0


# ---------------------------------------------------------------- schedules / init
def test_penalty_ramp_and_lr_schedules():
    from gateflow.train.threshold import _ramp, _schedule

    assert [_ramp(s, 10, 0.0) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]
    assert [_ramp(s, 10, 0.5) for s in (0, 1, 4, 5, 9)] == pytest.approx([0.2, 0.4, 1.0, 1, 1])
    assert _schedule("constant", 7, 10, 0.0) == 1.0
    assert _schedule("cosine", 0, 11, 0.1) == pytest.approx(1.0)
    assert _schedule("cosine", 5, 11, 0.1) == pytest.approx(0.55)
    assert _schedule("cosine", 10, 11, 0.1) == pytest.approx(0.1)
    assert _schedule("linear", 5, 11, 0.0) == pytest.approx(0.5)
    x, y = _synthetic(n=64)
    with pytest.raises(ModelError):
        fit(_net("binary", x.shape[1], [8], 2), x, y, steps=2, lr_schedule="step")
    with pytest.raises(ModelError):
        fit(_net("binary", x.shape[1], [8], 2), x, y, steps=2, sparsity_ramp=1.5)


@pytest.mark.parametrize("family", ["binary", "bit"])
def test_ramped_penalty_with_cosine_schedule_trains_sparsely(family):
    x, y = _synthetic()
    kw = dict(steps=120, lr=0.02, lr_schedule="cosine", threshold_lr=0.05)
    net0 = _net(family, x.shape[1], [40, 20], 2)
    _train(net0, x, y, sparsity_weight=0.0, **kw)
    net = _net(family, x.shape[1], [40, 20], 2)
    _train(net, x, y, sparsity_weight=1.0, sparsity_ramp=0.5, **kw)
    assert net.sparsity() > net0.sparsity() + 0.05
    assert (net.predict(x) == y).float().mean() > 0.7


def test_switcher_accepts_the_schedules():
    x, y = _synthetic()
    net = _net("switched", x.shape[1], [40, 20], 2)
    losses = train_switcher(
        net, x, y, steps=60, lr=0.02, sparsity_ramp=0.5, lr_schedule="linear", threshold_lr=0.05
    )
    assert len(losses) == 60 and np.isfinite(losses).all()
    assert not net.training


def test_bit_net_density_sets_the_initial_fraction_of_ones():
    net = BitNet(200, [300], 10, bits=4, trained_bits=3, density=0.05, seed=1)
    ones = np.mean([(layer.latent >= 0.5).float().mean().item() for layer in net.layers])
    assert 0.04 < ones < 0.06
    assert net.sparsity() > 0.8
    with pytest.raises(ModelError):
        BitNet(8, [10], 2, density=0.0)
    # default init (no density) is unchanged: latents uniform in [0, 1]
    a = BitNet(20, [10], 2, seed=3).layers[0].latent
    b = torch.rand(a.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.detach(), b)
