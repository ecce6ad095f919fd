"""The fast feature-major kernels against the readable reference layer.

Training maths: outputs and gradients equal to float tolerance. Eval mode: bit
for bit (0/1 outputs, integer scores), on every backend.
"""

import numpy as np
import pytest
import torch

from gateflow import gates
from gateflow.data.encoding import ThermometerEncoder
from gateflow.nn import LogicLayer, LogicNet, ModelError, kernels

BACKENDS = ["torch", "native"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "native" and not kernels.native_available():
        pytest.skip("no C++ compiler for the native kernel")
    return request.param


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _layer(in_dim=24, out_dim=70, mode="softmax", same_inputs=0, seed=0):
    layer = LogicLayer(in_dim, out_dim, connections="random", mode=mode, generator=_gen(seed))
    with torch.no_grad():
        layer.logits.normal_(generator=_gen(seed + 1)).mul_(2.0)
        layer.a[:same_inputs] = layer.b[:same_inputs]  # neurons reading one input twice
    return layer


def _compare_train(layer, x, backend, seed=3):
    """Reference (batch-major autograd) vs fast (feature-major fused) in training mode."""
    upstream = torch.randn(x.shape[0], layer.out_dim, generator=_gen(7))
    x_ref = x.clone().requires_grad_(True)
    torch.manual_seed(seed)  # gumbel noise: the same sample on both sides
    y_ref = layer.train()(x_ref)
    (y_ref * upstream).sum().backward()
    g_logits_ref = layer.logits.grad.clone()
    layer.logits.grad = None

    x_fm = x.t().contiguous().requires_grad_(True)
    torch.manual_seed(seed)
    y_fm = layer.forward_fm(x_fm, backend=backend)
    (y_fm * upstream.t()).sum().backward()
    g_logits = layer.logits.grad.clone()
    layer.logits.grad = None
    torch.testing.assert_close(y_fm.t(), y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x_fm.grad.t(), x_ref.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g_logits, g_logits_ref, rtol=1e-4, atol=1e-5)
    assert g_logits.abs().sum() > 0 and x_fm.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
@pytest.mark.parametrize("batch", [1, 37, 130])
def test_gradients_match_reference(backend, mode, batch):
    layer = _layer(mode=mode, same_inputs=5)
    assert torch.equal(layer.a[:5], layer.b[:5])
    x = torch.rand(batch, 24, generator=_gen(2))
    _compare_train(layer, x, backend)


def test_gradients_match_reference_on_threads(backend):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _compare_train(_layer(in_dim=50, out_dim=300, same_inputs=3), torch.rand(96, 50), backend)
    finally:
        torch.set_num_threads(threads)


def test_backends_agree_and_are_deterministic():
    if not kernels.native_available():
        pytest.skip("no C++ compiler for the native kernel")
    layer = _layer(in_dim=40, out_dim=200)
    x = torch.rand(64, 40, generator=_gen(4)).t().contiguous()
    c = layer.coefficients("soft").detach().requires_grad_(True)
    grads = []
    for backend in ("torch", "native", "native"):
        xi = x.clone().requires_grad_(True)
        ci = c.detach().clone().requires_grad_(True)
        y = kernels.logic_layer_fm(xi, ci, layer.a, layer.b, backend)
        y.sum().backward()
        grads.append((y.detach(), xi.grad, ci.grad))
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads[2], grads[1], strict=True):
        assert torch.equal(got, want)  # same thread count: the same bits


def test_input_gradient_only_when_needed(backend):
    layer = _layer()
    x = torch.rand(24, 10)  # no requires_grad: the first layer of a network
    y = layer.train().forward_fm(x, backend=backend)
    y.sum().backward()
    assert layer.logits.grad is not None and layer.logits.grad.abs().sum() > 0


def test_hard_eval_is_exact_on_every_gate(backend):
    layer = LogicLayer(20, 64, generator=_gen())
    with torch.no_grad():  # neuron j is gate j % 16
        layer.logits.zero_()
        layer.logits[torch.arange(64), torch.arange(64) % 16] = 1.0
    x = torch.randint(0, 2, (200, 20), generator=_gen(1)).float()
    y = layer.eval().forward_fm(x.t().contiguous(), backend=backend).t()
    ops = layer.ops().numpy()
    xa, xb = x[:, layer.a].numpy().astype(int), x[:, layer.b].numpy().astype(int)
    want = np.array([[gates.GATES[o].out(p, q) for o, p, q in zip(ops, ra, rb)] for ra, rb in
                     zip(xa, xb)], dtype=np.float32)  # fmt: skip
    np.testing.assert_array_equal(y.numpy(), want)


def _net(mode="gumbel"):
    enc = ThermometerEncoder.uniform(6, 3, 0, 16)
    return LogicNet(enc, [60, 40, 30], num_classes=3, tau=2.0, mode=mode, seed=5)


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
def test_network_fast_equals_reference(backend, mode):
    net = _net(mode)
    with torch.no_grad():
        for layer in net.layers:
            layer.logits.normal_(generator=_gen(9))
    x = torch.randint(0, 17, (50, 6), generator=_gen(3), dtype=torch.uint8)
    net.set_impl("reference")
    ref_eval = net.eval()(x)
    ref_soft = net(x, how="soft")
    net.set_impl("fast", backend)
    assert torch.equal(net.eval()(x), ref_eval)  # integer scores, bit for bit
    torch.testing.assert_close(net(x, how="soft"), ref_soft, rtol=1e-5, atol=1e-5)
    # training step gradients
    grads = {}
    for impl in ("reference", "fast"):
        net.set_impl(impl, backend).train().zero_grad()
        torch.manual_seed(0)
        torch.nn.functional.cross_entropy(net(x), torch.arange(50) % 3).backward()
        grads[impl] = [layer.logits.grad.clone() for layer in net.layers]
    for got, want in zip(grads["fast"], grads["reference"], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_set_impl_validates():
    net = _net()
    with pytest.raises(ModelError):
        net.set_impl("slow")
    with pytest.raises(ModelError):
        net.set_impl("fast", "cuda-magic")
    assert net.set_impl("reference").impl == "reference"


def test_fallback_without_compiler(monkeypatch, tmp_path):
    monkeypatch.setattr(kernels, "_lib", None)
    monkeypatch.setattr(kernels, "_lib_error", None)
    monkeypatch.setattr(kernels, "_compiler", lambda: None)
    x = torch.rand(5, 3)
    assert kernels.resolve_backend(x, "auto") == "torch"
    assert not kernels.native_available()
    with pytest.raises(kernels.KernelError, match="unavailable"):
        kernels.resolve_backend(x, "native")
    layer = _layer(in_dim=5, out_dim=8)
    assert layer.forward_fm(x).shape == (8, 3)  # auto falls back to torch ops


def test_native_builds_into_a_fresh_cache(monkeypatch, tmp_path):
    if kernels._compiler() is None:
        pytest.skip("no C++ compiler")
    monkeypatch.setenv("GATEFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_lib", None)
    monkeypatch.setattr(kernels, "_lib_error", None)
    assert kernels.native_available()
    built = list((tmp_path / "kernels").glob("gf_logic_*.so"))
    assert len(built) == 1
    assert kernels.resolve_backend(torch.zeros(1)) == "native"
    assert kernels.resolve_backend(torch.zeros(1, dtype=torch.float64)) == "torch"
    with pytest.raises(kernels.KernelError, match="float32 CPU"):
        kernels.resolve_backend(torch.zeros(1, dtype=torch.float64), "native")


def test_backend_from_environment(monkeypatch):
    monkeypatch.setenv("GATEFLOW_KERNEL", "torch")
    assert kernels.resolve_backend(torch.zeros(1)) == "torch"
    monkeypatch.setenv("GATEFLOW_KERNEL", "fortran")
    with pytest.raises(kernels.KernelError):
        kernels.default_backend()


def test_tune_allocator_is_idempotent():
    first = kernels.tune_allocator()
    assert kernels.tune_allocator() == first
