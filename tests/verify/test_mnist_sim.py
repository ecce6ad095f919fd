"""A network trained on real MNIST (train5k), simulated on real t10k test images."""

import numpy as np
import pytest

from gateflow.data import get_dataset
from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.train.config import DEFAULT_DIGITS
from gateflow.train.flow import train_and_export
from gateflow.verify.simulate import simulate

pytestmark = [pytest.mark.sim, pytest.mark.slow, pytest.mark.data]


def test_mnist_network_is_bit_exact_on_t10k_images(tmp_path, mnist_dir):
    config = DEFAULT_DIGITS.replace(
        dataset="mnist",
        data_dir=str(mnist_dir),
        crop=20,
        bits_per_feature=1,
        widths=[1500, 1500],
        steps=300,
        batch_size=128,
    )
    trained = train_and_export(config, tmp_path / "model", progress=False)
    assert trained.result.test_acc_hard > 0.6  # 300 steps on 5,000 images: far above chance
    data = get_dataset("mnist", mnist_dir)
    x = data.X_test[:1000]
    net = trained.net
    core = generate(net, tmp_path / "core", CoreOptions(pipeline_every=1))
    report = simulate(core, net, net.encoder.encode(x), tmp_path / "sim")
    assert report.errors == []
    assert report.matched == {"full": 1000, "stalls": 1000}
    assert np.array_equal(report.hw_pred, report.golden.pred)
    assert np.array_equal(report.hw_scores, report.golden.scores)
