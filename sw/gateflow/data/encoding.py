"""Input encoding: how integer raw features become the network's input bits.

A :class:`ThermometerEncoder` is a list of input bits; bit ``i`` is defined by a
raw feature index ``feature[i]`` and an integer ``threshold[i]``::

    bit[i] = 1  iff  X[:, feature[i]] >= threshold[i]

Bits are ordered feature-major: all thresholds of the first used feature in
ascending order, then those of the next feature, and so on. ``encode`` below is
the reference (numpy); :class:`gateflow.nn.Thermometer` is its torch
counterpart and is tested against it bit for bit.

This module is numpy-only so that the IR, golden model and host side can use it
without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateflow.errors import GateflowError

KIND = "thermometer"


class EncodingError(GateflowError):
    """An invalid encoder definition or input of the wrong shape."""


@dataclass(frozen=True, eq=False)
class ThermometerEncoder:
    """Thermometer code over a subset of integer raw features.

    Attributes:
        num_raw_features: F, the width of the raw input rows.
        feature: int64 [n_bits], raw feature index of each input bit.
        threshold: int64 [n_bits], bit = raw value >= threshold.
    """

    num_raw_features: int
    feature: np.ndarray
    threshold: np.ndarray

    def __post_init__(self) -> None:
        feature = np.asarray(self.feature, dtype=np.int64).reshape(-1)
        threshold = np.asarray(self.threshold, dtype=np.int64).reshape(-1)
        if self.num_raw_features < 1:
            raise EncodingError(f"num_raw_features must be >= 1, got {self.num_raw_features}")
        if feature.shape != threshold.shape:
            raise EncodingError(
                f"feature and threshold differ in length ({feature.size} vs {threshold.size})"
            )
        if feature.size == 0:
            raise EncodingError("an encoder needs at least one input bit")
        if feature.min() < 0 or feature.max() >= self.num_raw_features:
            raise EncodingError(
                f"feature indices must lie in [0, {self.num_raw_features}), "
                f"got [{feature.min()}, {feature.max()}]"
            )
        # feature-major order: features in first-use order, thresholds strictly ascending
        change = np.flatnonzero(feature[1:] != feature[:-1]) + 1
        starts = np.concatenate(([0], change))
        if len(set(feature[starts].tolist())) != starts.size:
            raise EncodingError("the bits of one feature must be contiguous (feature-major order)")
        same = feature[1:] == feature[:-1]
        if np.any(same & (threshold[1:] <= threshold[:-1])):
            raise EncodingError("thresholds of one feature must be strictly ascending")
        feature.setflags(write=False)
        threshold.setflags(write=False)
        object.__setattr__(self, "num_raw_features", int(self.num_raw_features))
        object.__setattr__(self, "feature", feature)
        object.__setattr__(self, "threshold", threshold)

    @property
    def num_bits(self) -> int:
        return int(self.feature.size)

    def __len__(self) -> int:
        return self.num_bits

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ThermometerEncoder):
            return NotImplemented
        return (
            self.num_raw_features == other.num_raw_features
            and np.array_equal(self.feature, other.feature)
            and np.array_equal(self.threshold, other.threshold)
        )

    def __repr__(self) -> str:
        used = np.unique(self.feature).size
        return (
            f"ThermometerEncoder(num_raw_features={self.num_raw_features}, "
            f"num_bits={self.num_bits}, features_used={used})"
        )

    # ------------------------------------------------------------------ encode
    def encode(self, X: np.ndarray) -> np.ndarray:
        """Encode raw rows ``X`` [n, F] (integers, normally uint8) to uint8 bits [n, n_bits]."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.num_raw_features:
            raise EncodingError(
                f"expected raw input of shape [n, {self.num_raw_features}], got {list(X.shape)}"
            )
        if not np.issubdtype(X.dtype, np.integer):
            raise EncodingError(f"raw input must be integers, got dtype {X.dtype}")
        cols = X[:, self.feature].astype(np.int64, copy=False)
        return (cols >= self.threshold[None, :]).astype(np.uint8)

    # ------------------------------------------------------------ serialise
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "num_raw_features": self.num_raw_features,
            "feature": [int(v) for v in self.feature],
            "threshold": [int(v) for v in self.threshold],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThermometerEncoder:
        try:
            kind = d["kind"]
            if kind != KIND:
                raise EncodingError(f"unknown encoder kind {kind!r} (expected {KIND!r})")
            return cls(
                num_raw_features=int(d["num_raw_features"]),
                feature=np.asarray(d["feature"], dtype=np.int64),
                threshold=np.asarray(d["threshold"], dtype=np.int64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EncodingError(f"malformed encoder description: {exc!r}") from None

    # --------------------------------------------------------------- fitting
    @classmethod
    def uniform(
        cls,
        num_raw_features: int,
        bits_per_feature: int,
        lo: int,
        hi: int,
        features: Sequence[int] | None = None,
    ) -> ThermometerEncoder:
        """Evenly spaced integer thresholds in (lo, hi], the same for every feature.

        Threshold ``k`` (k = 1..bits) is ``ceil(lo + k * (hi - lo) / (bits + 1))``; as
        the raw values are integers, ``x >= ceil(t)`` equals ``x >= t``. E.g. digits
        (0..16) with 2 bits: thresholds 6 and 11; MNIST (0..255) with 1 bit: 128.
        Duplicates (more bits than distinct values) are dropped.
        """
        _check_bits(bits_per_feature)
        if not hi > lo:
            raise EncodingError(f"need hi > lo, got lo={lo}, hi={hi}")
        k = np.arange(1, bits_per_feature + 1)
        # exact rational ceil: ceil(lo + k*(hi-lo)/(n+1)) without float rounding
        span, n1 = hi - lo, bits_per_feature + 1
        th = lo + -((-k * span) // n1)
        th = np.unique(np.clip(th, lo + 1, hi))
        feats = _features(num_raw_features, features)
        return cls(
            num_raw_features=num_raw_features,
            feature=np.repeat(feats, th.size),
            threshold=np.tile(th, feats.size),
        )

    @classmethod
    def quantile(
        cls,
        X: np.ndarray,
        bits_per_feature: int,
        features: Sequence[int] | None = None,
    ) -> ThermometerEncoder:
        """Per-feature thresholds at the data quantiles k/(bits+1), k = 1..bits.

        Each threshold is the data value at that quantile (``method="higher"``),
        raised to at least min+1 so the bit is not constantly 1; thresholds above the
        maximum (constant 0) and duplicates are dropped, so features that are
        constant in ``X`` get no bits at all and features with few distinct values
        get fewer than ``bits_per_feature``.
        """
        _check_bits(bits_per_feature)
        X = np.asarray(X)
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer) or X.shape[0] == 0:
            raise EncodingError(f"quantile() needs a non-empty integer array [n, F], got {X.shape}")
        feats = _features(X.shape[1], features)
        qs = np.arange(1, bits_per_feature + 1) / (bits_per_feature + 1)
        out_f: list[np.ndarray] = []
        out_t: list[np.ndarray] = []
        for f in feats:
            col = X[:, f].astype(np.int64)
            lo, hi = int(col.min()), int(col.max())
            th = np.quantile(col, qs, method="higher").astype(np.int64)
            th = np.unique(np.maximum(th, lo + 1))
            th = th[th <= hi]
            out_f.append(np.full(th.size, f, dtype=np.int64))
            out_t.append(th)
        feature = np.concatenate(out_f) if out_f else np.zeros(0, np.int64)
        if feature.size == 0:
            raise EncodingError("every selected feature is constant in the data; no input bits")
        return cls(num_raw_features=X.shape[1], feature=feature, threshold=np.concatenate(out_t))


def center_crop_features(shape: tuple[int, int], size: int | tuple[int, int]) -> list[int]:
    """Raw feature indices (row-major) of the centred ``size`` crop of an image of ``shape``.

    E.g. ``center_crop_features((28, 28), 20)`` keeps rows and columns 4..23 of MNIST.
    Pass the result as ``features=`` to the encoder constructors.
    """
    h, w = shape
    ch, cw = (size, size) if isinstance(size, int) else size
    if not (0 < ch <= h and 0 < cw <= w):
        raise EncodingError(f"crop {ch}x{cw} does not fit an image of {h}x{w}")
    r0, c0 = (h - ch) // 2, (w - cw) // 2
    rows = np.arange(r0, r0 + ch)[:, None]
    cols = np.arange(c0, c0 + cw)[None, :]
    return (rows * w + cols).reshape(-1).tolist()


def _check_bits(bits_per_feature: int) -> None:
    if int(bits_per_feature) < 1:
        raise EncodingError(f"bits_per_feature must be >= 1, got {bits_per_feature}")


def _features(num_raw_features: int, features: Sequence[int] | None) -> np.ndarray:
    if features is None:
        return np.arange(num_raw_features, dtype=np.int64)
    feats = np.asarray(list(features), dtype=np.int64).reshape(-1)
    if feats.size == 0:
        raise EncodingError("features must not be empty")
    if np.unique(feats).size != feats.size:
        raise EncodingError("features must not repeat")
    if feats.min() < 0 or feats.max() >= num_raw_features:
        raise EncodingError(f"features must lie in [0, {num_raw_features})")
    return feats
