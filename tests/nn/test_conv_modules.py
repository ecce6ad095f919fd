"""Logic-tree convolutions and OR pooling: eval mode against a per-position reference
written from the IR's definition, soft/Gumbel training paths, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gateflow.data.encoding import ThermometerEncoder
from gateflow.nn.conv import ConvLogicNet, ConvSpec, LogicTreeConv2d, OrPool2d
from gateflow.nn.logic import ModelError


def reference_conv(conv: LogicTreeConv2d, x: np.ndarray) -> np.ndarray:
    """Per sample, position and kernel, as docs/ir.md says (zero padding, trees level by
    level from the leaves)."""
    H, W, C = conv.in_shape
    Ho, Wo, K = conv.out_shape
    (sy, sx), (py, px) = conv.stride, conv.padding
    ops = conv.ops().numpy()
    ly, lx, lc = conv.leaf_y.numpy(), conv.leaf_x.numpy(), conv.leaf_c.numpy()
    out = np.zeros((x.shape[0], Ho, Wo, K), dtype=np.int64)
    for n in range(x.shape[0]):
        for y in range(Ho):
            for xx in range(Wo):
                for k in range(K):
                    vals = []
                    for leaf in range(2**conv.depth):
                        r, c = y * sy - py + ly[k, leaf], xx * sx - px + lx[k, leaf]
                        inside = 0 <= r < H and 0 <= c < W
                        vals.append(int(x[n, r, c, lc[k, leaf]]) if inside else 0)
                    j = 0
                    while len(vals) > 1:
                        nxt = []
                        for a, b in zip(vals[0::2], vals[1::2]):
                            nxt.append((int(ops[k, j]) >> (3 - 2 * a - b)) & 1)  # docs/ir.md
                            j += 1
                        vals = nxt
                    out[n, y, xx, k] = vals[0]
    return out


@pytest.mark.parametrize(
    "shape,k,depth,stride,pad",
    [((6, 7, 2), 3, 2, 1, 0), ((5, 5, 3), 3, 3, 2, 1), ((4, 6, 1), 2, 1, 1, 1),
     ((7, 7, 2), 5, 3, 1, 2), ((3, 3, 4), 1, 2, 1, 0)],
)  # fmt: skip
def test_hard_conv_equals_the_reference(shape, k, depth, stride, pad):
    gen = torch.Generator().manual_seed(sum(shape) + k + depth)
    conv = LogicTreeConv2d(shape, 5, k, depth, stride, pad, generator=gen)
    x = (torch.rand(4, *shape, generator=gen) < 0.5).float()
    got = conv(x, "hard").numpy()
    assert set(np.unique(got)) <= {0.0, 1.0}
    assert np.array_equal(got.astype(np.int64), reference_conv(conv, x.numpy()))


def test_or_pool_is_or_on_bits_and_max_when_soft():
    pool = OrPool2d((4, 6, 3), 2)
    x = (torch.rand(5, 4, 6, 3) < 0.3).float()
    want = x.view(5, 2, 2, 3, 2, 3).amax(dim=(2, 4))
    assert torch.equal(pool(x), want) and pool.out_shape == (2, 3, 3)
    soft = torch.rand(2, 4, 6, 3)
    assert torch.allclose(pool(soft), soft.view(2, 2, 2, 3, 2, 3).amax(dim=(2, 4)))


def test_training_paths_have_gradients_and_gumbel_is_hard_in_value():
    gen = torch.Generator().manual_seed(0)
    conv = LogicTreeConv2d((6, 6, 2), 4, 3, 3, 1, 1, mode="gumbel", generator=gen)
    x = (torch.rand(3, 6, 6, 2) < 0.5).float()
    out = conv(x, "train")
    assert set(torch.unique(out).tolist()) <= {0.0, 1.0}  # one gate per node in value
    out.sum().backward()
    assert conv.logits.grad is not None and conv.logits.grad.abs().sum() > 0
    soft = conv(torch.rand(3, 6, 6, 2), "soft")
    assert ((soft >= 0) & (soft <= 1)).all()


def test_unique_wiring_gives_distinct_leaves_per_tree():
    conv = LogicTreeConv2d((8, 8, 2), 16, 3, 3, connections="unique")
    places = conv.leaf_y * 100 + conv.leaf_x * 10 + conv.leaf_c
    assert all(len(set(row.tolist())) == 8 for row in places)


def test_spec_parsing_and_errors():
    specs = ConvSpec.parse("c16k3d3p1o2,c32k5d2s2")
    assert specs[0] == ConvSpec(16, 3, 3, 1, 1, 2) and specs[1] == ConvSpec(32, 5, 2, 2, 0, 0)
    assert ",".join(s.text() for s in specs) == "c16k3d3p1o2,c32k5d2s2"
    with pytest.raises(ModelError, match="expected c<channels>"):
        ConvSpec.parse("c16x3")
    with pytest.raises(ModelError, match="depth"):
        LogicTreeConv2d((5, 5, 1), 2, 3, 9)


def test_net_counts_and_checkpoint_round_trip(tmp_path):
    enc = ThermometerEncoder.uniform(64, 2, 0, 16)
    net = ConvLogicNet(enc, (8, 8), "c8k3d2p1o2,c8k3d2", [60, 30], 10, tau=2.0)
    # conv 8x8x2 -> 8x8x8 -> pool 4x4x8 -> conv 2x2x8 -> flat 32
    assert net.flat_shape == (2, 2, 8)
    assert net.num_gates == 8 * 3 + 8 * 3 + 60 + 30
    assert net.num_unrolled_gates == 64 * 24 + 16 * 8 * 3 + 4 * 24 + 90
    x = torch.randint(0, 17, (7, 64))
    net.eval()
    before = net(x)
    net.save(tmp_path / "m.pt")
    back = ConvLogicNet.load(tmp_path / "m.pt")
    assert torch.equal(back(x), before)
    uneven = {0: [1, 2, 3], 1: [1], **{f: [1, 2] for f in range(2, 64)}}  # 128 bits
    enc = ThermometerEncoder.fixed(64, uneven, values="integer")
    with pytest.raises(ModelError, match="same number of thermometer bits"):
        ConvLogicNet(enc, (8, 8), "c4k3d2", [10], 10)


@pytest.mark.parametrize("backend", ["torch", "native"])
@pytest.mark.parametrize("how", ["hard", "soft", "train"])
def test_fast_path_equals_the_reference(backend, how):
    from gateflow.nn.kernels import native_available

    if backend == "native" and not native_available():
        pytest.skip("no C++ compiler for the native kernels")
    enc = ThermometerEncoder.uniform(64, 2, 0, 16)
    x = torch.randint(0, 17, (33, 64))
    outs, grads = [], []
    for impl in ("reference", "fast"):
        net = ConvLogicNet(enc, (8, 8), "c6k3d3p1o2,c5k2d2s1", [40, 20], 4, tau=2.0, seed=3)
        net.set_impl(impl, backend)
        torch.manual_seed(11)  # the same Gumbel noise for both
        out = net(x, how)
        outs.append(out.detach())
        if how != "hard":
            out.square().sum().backward()
            grads.append([p.grad.clone() for p in net.parameters()])
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    if how == "hard":
        assert torch.equal(outs[0], outs[1])
    for g0, g1 in zip(*grads):
        assert torch.allclose(g0, g1, atol=1e-4, rtol=1e-4)
