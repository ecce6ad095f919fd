import json

import numpy as np
import pytest
import torch

from gateflow import gates
from gateflow.data.encoding import ThermometerEncoder
from gateflow.nn import GroupSum, LogicLayer, LogicNet, ModelError, random_wiring, unique_wiring


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _bits(n, d, seed=0):
    return torch.randint(0, 2, (n, d), generator=_gen(seed)).float()


def _reference_gates(x_a, x_b, ops):
    """Each neuron's output straight from the gate table, one gate at a time."""
    out = np.zeros(x_a.shape, dtype=np.float32)
    for j, op in enumerate(ops.tolist()):
        gate = gates.GATES[op]
        out[:, j] = [gate.out(int(p), int(q)) for p, q in zip(x_a[:, j], x_b[:, j], strict=True)]
    return out


def _all_gates_layer(in_dim=20, out_dim=64, **kw):
    layer = LogicLayer(in_dim, out_dim, generator=_gen(), **kw)
    with torch.no_grad():  # every gate appears: neuron j is gate j % 16
        layer.logits.copy_(torch.randn(out_dim, 16, generator=_gen(1)))
        layer.logits[torch.arange(out_dim), torch.arange(out_dim) % 16] = 10.0
    return layer


# ------------------------------------------------------------------ wiring
def test_wiring_reads_every_input():
    for in_dim, out_dim in ((128, 64), (100, 1000), (7, 5), (2, 2), (1000, 501)):
        a, b = unique_wiring(in_dim, out_dim, _gen(in_dim))
        assert a.dtype == torch.int64 and a.shape == (out_dim,)
        assert torch.all(a != b)
        assert set(torch.cat([a, b]).tolist()) == set(range(in_dim))
        a, b = random_wiring(in_dim, out_dim, _gen(in_dim))
        assert set(torch.cat([a, b]).tolist()) == set(range(in_dim))
    a1, b1 = unique_wiring(50, 40, _gen(3))
    a2, b2 = unique_wiring(50, 40, _gen(3))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    with pytest.raises(ModelError):
        unique_wiring(1, 4)


def test_layer_buffers_and_parameters():
    layer = LogicLayer(10, 6, connections="unique", generator=_gen())
    assert layer.logits.shape == (6, 16) and layer.a.shape == layer.b.shape == (6,)
    assert set(layer.state_dict()) == {"a", "b", "logits"}
    assert layer.ops().dtype == torch.int64
    with pytest.raises(ModelError):
        LogicLayer(10, 6, mode="sigmoid")
    with pytest.raises(ModelError):
        LogicLayer(10, 6, connections="full")


# ------------------------------------------------------------- semantics
@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
def test_eval_matches_gate_table(mode):
    layer = _all_gates_layer(mode=mode).eval()
    assert sorted(set(layer.ops().tolist())) == list(range(16))
    x = _bits(50, 20)
    y = layer(x)
    ref = _reference_gates(x[:, layer.a].numpy(), x[:, layer.b].numpy(), layer.ops())
    np.testing.assert_array_equal(y.detach().numpy(), ref)


def test_soft_forward_equals_16_gate_mixture():
    torch.manual_seed(0)
    layer = LogicLayer(12, 30, mode="softmax", generator=_gen())
    x = torch.rand(40, 12, requires_grad=True)
    y = layer(x)  # training mode, softmax: the 4-coefficient form

    x2 = x.detach().clone().requires_grad_(True)
    logits2 = layer.logits.detach().clone().requires_grad_(True)
    w = torch.softmax(logits2, dim=-1)
    xa, xb = x2[:, layer.a], x2[:, layer.b]
    ref = torch.zeros_like(y)
    for g in gates.GATES:  # the difflogic formulation: sum_g w_g * gate_g(a, b)
        c0, c1, c2, c3 = g.poly
        ref = ref + w[:, g.id] * (c0 + c1 * xa + c2 * xb + c3 * xa * xb)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)

    upstream = torch.randn_like(y)
    (y * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(layer.logits.grad, logits2.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-4, atol=1e-6)
    # "soft" in eval mode is the same mixture
    torch.testing.assert_close(layer.eval()(x.detach(), how="soft"), ref.detach())


def test_gumbel_train_forward_is_hard_with_gradients():
    torch.manual_seed(0)
    layer = _all_gates_layer(mode="gumbel")
    layer.logits.data.normal_()  # a spread of gates, so noise changes some choices
    x = _bits(64, 20).requires_grad_(True)
    outs = []
    for _ in range(3):
        y = layer.train()(x)
        assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
        outs.append(y.detach())
        (y * torch.randn_like(y)).sum().backward()
    g = layer.logits.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not torch.equal(outs[0], outs[1]) or not torch.equal(outs[1], outs[2])  # noisy
    # eval is noise-free and deterministic
    layer.eval()
    assert torch.equal(layer(x.detach()), layer(x.detach()))


def test_gumbel_noise_is_gumbel():
    from gateflow.nn.logic import gumbel_noise

    torch.manual_seed(0)
    g = gumbel_noise(torch.zeros(200_000))
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772) < 0.01  # Euler-Mascheroni constant
    assert abs(g.var().item() - torch.pi**2 / 6) < 0.03
    # Gumbel-max: argmax(logits + noise) samples softmax(logits)
    logits = torch.tensor([0.0, 1.0, 2.0])
    picks = (logits + gumbel_noise(torch.zeros(100_000, 3))).argmax(-1)
    freq = torch.bincount(picks, minlength=3).float() / picks.numel()
    torch.testing.assert_close(freq, torch.softmax(logits, 0), atol=0.01, rtol=0)


def test_residual_init_passes_a_through():
    layer = LogicLayer(16, 32, residual_init=True, generator=_gen())
    assert torch.all(layer.ops() == gates.PASS_A)
    x = _bits(10, 16)
    assert torch.equal(layer.eval()(x), x[:, layer.a])
    w = torch.softmax(layer.logits, -1)[0, gates.PASS_A]
    assert w > 0.9


# --------------------------------------------------------------- GroupSum
def test_groupsum_groups_and_scaling():
    head = GroupSum(3, tau=4.0)
    x = torch.tensor([[1, 0, 1, 1, 1, 1, 0, 0, 1.0]])
    assert torch.equal(head.train()(x), torch.tensor([[2.0, 3.0, 1.0]]) / 4.0)
    s = head.eval()(x)
    assert torch.equal(s, torch.tensor([[2.0, 3.0, 1.0]]))
    assert torch.equal(s, s.round())
    with pytest.raises(ModelError):
        head(torch.zeros(1, 10))


# ---------------------------------------------------------------- LogicNet
def _net(**kw):
    enc = ThermometerEncoder.uniform(6, 3, 0, 16)
    args = dict(widths=[40, 30], num_classes=3, tau=2.0, mode="gumbel", seed=5)
    args.update(kw)
    return LogicNet(enc, **args)


def _raw(n=32, seed=0):
    return torch.randint(0, 17, (n, 6), generator=_gen(seed), dtype=torch.uint8)


def test_logicnet_shapes_and_integer_eval_scores():
    net = _net()
    assert net.num_gates == 70 and net.layers[0].in_dim == 18 and net.num_classes == 3
    assert len(net.ops()) == 2
    x = _raw()
    assert net.train()(x).shape == (32, 3)
    s = net.eval()(x)
    assert torch.equal(s, s.round()) and s.min() >= 0 and s.max() <= 10
    assert torch.equal(net.predict(x), s.argmax(-1))
    with pytest.raises(ModelError, match="divisible"):
        _net(widths=[40, 31])


def test_logicnet_eval_matches_gate_table_end_to_end():
    net = _net().eval()
    x = _raw(100)
    h = net.encoder.to_encoder().encode(x.numpy()).astype(np.float32)
    for layer in net.layers:
        h = _reference_gates(h[:, layer.a.numpy()], h[:, layer.b.numpy()], layer.ops())
    ref = h.reshape(100, 3, -1).sum(-1)
    np.testing.assert_array_equal(net(x).numpy(), ref)


def test_logicnet_seed_reproducible():
    a, b, c = _net(seed=1), _net(seed=1), _net(seed=2)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.layers[0].a, c.layers[0].a)


def test_config_is_json_and_save_load(tmp_path):
    net = _net(residual_init=True)
    with torch.no_grad():
        net.layers[1].logits.normal_()
    assert LogicNet.from_config(json.loads(json.dumps(net.config))).config == net.config
    path = tmp_path / "sub" / "model.pt"
    net.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]
    back = LogicNet.load(path)
    assert not back.training and back.config == net.config
    x = _raw(64)
    assert torch.equal(back(x), net.eval()(x))
    assert back.encoder.to_encoder() == net.encoder.to_encoder()


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="no checkpoint"):
        LogicNet.load(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError):
        LogicNet.load(bad)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="not a gateflow"):
        LogicNet.load(tmp_path / "other.pt")


# ------------------------------------------------------------ learned connections
@pytest.mark.parametrize("candidates", [4, -1, 50])
def test_learned_connections_read_the_argmax_candidate(candidates):
    layer = LogicLayer(20, 40, "unique", "softmax", generator=_gen(), candidates=candidates)
    assert layer.candidates == (4 if candidates == 4 else 20)  # K >= in_dim: every input
    assert "a" not in layer._buffers and layer.conn.shape == (80, layer.candidates)
    with torch.no_grad():
        layer.conn.normal_(generator=_gen(3))
        layer.logits.normal_(generator=_gen(4))
    pick = layer.conn.argmax(-1)
    cand = layer._buffers.get("cand")
    chosen = pick if cand is None else cand[torch.arange(80), pick]
    assert torch.equal(layer.a, chosen[:40]) and torch.equal(layer.b, chosen[40:])
    x = _bits(50, 20)
    want = _reference_gates(x[:, layer.a].numpy(), x[:, layer.b].numpy(), layer.ops())
    np.testing.assert_array_equal(layer(x, "hard").numpy(), want)
    np.testing.assert_array_equal(layer.forward_fm(x.t().contiguous(), "hard").t().numpy(), want)
    # the fused feature-major path computes what the readable one does, in every regime
    for how in ("soft", "train"):
        ref, fast = layer(x, how), layer.forward_fm(x.t().contiguous(), how).t()
        torch.testing.assert_close(fast, ref)
    # the soft mixture reads every candidate by its softmax weight
    w = torch.softmax(layer.conn.detach(), -1)
    idx = torch.arange(20).expand(80, 20) if cand is None else cand
    mix = (x[:, idx] * w).sum(-1)
    c = layer.coefficients("soft").detach()
    xa, xb = mix[:, :40], mix[:, 40:]
    torch.testing.assert_close(
        layer(x, "soft"), c[:, 0] + xa * (c[:, 1] + c[:, 3] * xb) + c[:, 2] * xb
    )


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
def test_learned_connections_train_their_logits(mode):
    layer = LogicLayer(30, 24, mode=mode, generator=_gen(), candidates=6)
    x = _bits(16, 30)
    y = layer.forward_fm(x.t().contiguous(), "train")
    if mode == "gumbel":  # straight-through: hard in value on 0/1 inputs
        assert set(y.detach().unique().tolist()) <= {0.0, 1.0}
    y.square().sum().backward()
    assert layer.conn.grad is not None and layer.conn.grad.abs().sum() > 0
    assert layer.logits.grad.abs().sum() > 0


def test_learned_connections_bad_counts_and_fixed_wiring_unchanged():
    for bad in (1, -2):
        with pytest.raises(ModelError, match="candidates"):
            LogicLayer(10, 10, candidates=bad)
    # candidates=0 is the fixed wiring, drawn exactly as before
    fixed, plain = (
        LogicLayer(10, 12, generator=_gen(), candidates=0),
        LogicLayer(10, 12, generator=_gen()),
    )
    assert torch.equal(fixed.a, plain.a) and "conn" not in dict(fixed.named_parameters())


def test_learned_connections_net_end_to_end_and_checkpoint(tmp_path):
    net = _net(candidates=-1)
    assert net.config["candidates"] == -1 and "candidates" not in _net().config
    with torch.no_grad():
        for layer in net.layers:
            layer.conn.normal_(generator=_gen(7))
    net.eval()
    x = _raw(100)
    h = net.encoder.to_encoder().encode(x.numpy()).astype(np.float32)
    for layer in net.layers:
        h = _reference_gates(h[:, layer.a.numpy()], h[:, layer.b.numpy()], layer.ops())
    np.testing.assert_array_equal(net(x).numpy(), h.reshape(100, 3, -1).sum(-1))
    net.save(tmp_path / "model.pt")
    back = LogicNet.load(tmp_path / "model.pt")
    assert back.config == net.config and torch.equal(back(x), net(x))
    assert torch.equal(back.layers[1].a, net.layers[1].a)
