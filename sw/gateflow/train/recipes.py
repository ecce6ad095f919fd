"""Named training configurations (``gateflow train --recipe NAME``), each documented with
what it measured: the conv recipes in docs/conv.md (accuracy, training time, distinct and
unrolled gates), the board recipes in docs/boards.md (accuracy and measured LUTs).

Plain data like :mod:`gateflow.train.config` (no torch), so that the command line can
list them in ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateflow.train.config import DEFAULT_DIGITS, GUMBEL_MNIST, TrainConfig


@dataclass(frozen=True)
class Recipe:
    summary: str
    config: TrainConfig


# 28x28 images: softmax relaxation with residual initialisation (on MNIST it trained far
# faster than Gumbel straight-through through the conv trees: 95% against 24% after 800
# steps, docs/conv.md), one thread (a run is reproducible for a thread count)
_MNIST_CONV = DEFAULT_DIGITS.replace(
    conv="c32k3d3o2,c64k3d3o2",
    widths=[8000, 8000],
    mode="softmax",
    residual_init=True,
    tau=15.0,
    lr=0.05,
    batch_size=256,
    steps=6000,
    eval_every=1000,
    threads=1,
)

# one layer of learned-connection gates on full MNIST (docs/training.md): every input
# among all the pixel bits, softmax mixtures, 1-pixel shifts, one thread
_MNIST_LEARNED = DEFAULT_DIGITS.replace(
    dataset="mnist",
    candidates=-1,
    mode="softmax",
    lr=0.075,
    tau=5.0,
    batch_size=256,
    steps=4000,
    augment=1,
    eval_every=1000,
)

RECIPES = {
    # the digits network for the iCEBreaker's 5,280 LUT4: a wide first layer, few outputs
    # per class (60: the class popcounts are most of a core's LUTs), 3-bit features
    "digits-icebreaker": Recipe(
        "digits, 3-bit features, 2000,600 gates (60 per class), tau 3, 6000 steps",
        DEFAULT_DIGITS.replace(widths=[2000, 600], bits_per_feature=3, tau=3.0, steps=6000),
    ),
    # a dense MNIST network for the iCEBreaker with its serial GroupSum: full MNIST cropped
    # to 20x20, one bit per pixel, 150 outputs per class (docs/boards.md)
    "mnist-dense-icebreaker": Recipe(
        "full MNIST, 20x20 crop, 1-bit pixels, 4000,3000,1500 gates, Gumbel, 4000 steps",
        DEFAULT_DIGITS.replace(
            **GUMBEL_MNIST,
            dataset="mnist",
            crop=20,
            bits_per_feature=1,
            widths=[4000, 3000, 1500],
            batch_size=256,
            steps=4000,
            eval_every=1000,
        ).replace(tau=10.0),  # 150 outputs per class, not 800
    ),
    # one layer of gates whose inputs are learned among all the pixel bits
    # (docs/training.md, learned connections): 97.63% in 3,921 gates after the passes
    "mnist-learned": Recipe(
        "full MNIST, 2-bit pixels, one layer of 4000 gates with learned connections (all "
        "inputs), softmax, tau 5, 4000 steps, 1-pixel shifts",
        _MNIST_LEARNED.replace(widths=[4000]),
    ),
    # the learned-connection network for the iCEBreaker: one layer small enough that its
    # program fits the block RAMs of the sequential core (docs/boards.md): 97.10%
    "mnist-icebreaker": Recipe(
        "full MNIST, 20x20 crop, 1-bit pixels, one layer of 2500 gates with learned "
        "connections (all inputs), softmax, tau 5, 4000 steps, 1-pixel shifts",
        _MNIST_LEARNED.replace(crop=20, bits_per_feature=1, widths=[2500]),
    ),
    # the small conv net of `make sim ARCH=conv`: 8x8 digits, 2 thermometer bits per pixel
    "digits-conv": Recipe(
        "digits, 2-bit pixels, conv c64k3d2p1o2 -> 1000,1000 gates",
        DEFAULT_DIGITS.replace(conv="c64k3d2p1o2", widths=[1000, 1000], steps=2000),
    ),
    "mnist-conv": Recipe(
        "full MNIST, 2-bit pixels, conv c32k3d3o2,c64k3d3o2 -> 8000,8000 gates, 1-pixel shifts",
        _MNIST_CONV.replace(dataset="mnist", bits_per_feature=2, augment=1),
    ),
    # twice the kernels of mnist-conv, two threads: the best MNIST point measured so far
    "mnist-conv-wide": Recipe(
        "full MNIST, 2-bit pixels, conv c64k3d3o2,c128k3d3o2 -> 8000,8000 gates, 1-pixel "
        "shifts, 2 threads",
        _MNIST_CONV.replace(
            dataset="mnist", bits_per_feature=2, augment=1, conv="c64k3d3o2,c128k3d3o2", threads=2
        ),
    ),
    "fashion-conv": Recipe(
        "Fashion-MNIST, 3-bit pixels, conv c32k3d3o2,c64k3d3o2 -> 8000,8000 gates",
        _MNIST_CONV.replace(dataset="fashion-mnist", bits_per_feature=3),
    ),
}
