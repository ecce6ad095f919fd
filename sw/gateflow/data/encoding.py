"""Input encoding: how raw features become the network's input bits.

A :class:`ThermometerEncoder` is a list of input bits; bit ``i`` is defined by a
raw feature index ``feature[i]`` and a threshold ``threshold[i]``::

    bit[i] = 1  iff  X[:, feature[i]] >= threshold[i]

The encoder's ``values`` say what the raw features are: ``"integer"`` (pixels,
counts: integer thresholds, integer input) or ``"real"`` (measurements: the
thresholds and the raw values are IEEE-754 binary64 numbers and the comparison is
done in binary64, so any evaluator that reads the same numbers agrees bit for bit;
values beyond the outermost thresholds clamp to all-zero or all-one bits, NaN is
refused).

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
VALUES = ("integer", "real")


class EncodingError(GateflowError):
    """An invalid encoder definition or input of the wrong shape."""


@dataclass(frozen=True, eq=False)
class ThermometerEncoder:
    """Thermometer code over a subset of the raw features.

    Attributes:
        num_raw_features: F, the width of the raw input rows.
        feature: int64 [n_bits], raw feature index of each input bit.
        threshold: [n_bits], bit = raw value >= threshold; int64 for ``values="integer"``,
            float64 (finite) for ``values="real"``.
        values: ``"integer"`` or ``"real"`` (see the module docstring).
        feature_names: optional names of the F raw features (e.g. CSV column names).
    """

    num_raw_features: int
    feature: np.ndarray
    threshold: np.ndarray
    values: str = "integer"
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.values not in VALUES:
            raise EncodingError(f"encoder values must be one of {VALUES}, got {self.values!r}")
        real = self.values == "real"
        feature = np.asarray(self.feature, dtype=np.int64).reshape(-1)
        raw_threshold = np.asarray(self.threshold).reshape(-1)
        if not real and raw_threshold.size and raw_threshold.dtype.kind == "f":
            if not np.all(np.isfinite(raw_threshold)) or np.any(
                raw_threshold != np.round(raw_threshold)
            ):
                raise EncodingError("an integer encoder needs integer thresholds")
        threshold = raw_threshold.astype(np.float64 if real else np.int64)
        if real and not np.all(np.isfinite(threshold)):
            raise EncodingError("encoder thresholds must be finite numbers")
        names = self.feature_names
        if names is not None:
            names = tuple(str(n) for n in names)
            if len(names) != self.num_raw_features:
                raise EncodingError(
                    f"{len(names)} feature names for {self.num_raw_features} raw features"
                )
            if len(set(names)) != len(names):
                raise EncodingError("feature names must be distinct")
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
        object.__setattr__(self, "feature_names", names)

    @property
    def real(self) -> bool:
        return self.values == "real"

    def subset(self, keep: np.ndarray) -> ThermometerEncoder:
        """The encoder of the input bits ``keep`` (indices or a mask), in their order."""
        return ThermometerEncoder(
            self.num_raw_features,
            self.feature[keep],
            self.threshold[keep],
            self.values,
            self.feature_names,
        )

    def feature_name(self, f: int) -> str:
        """A readable name of raw feature ``f`` (its name, else ``feature f``)."""
        if self.feature_names is not None:
            return repr(self.feature_names[f])
        return f"feature {f}"

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
            and self.values == other.values
            and self.feature_names == other.feature_names
            and np.array_equal(self.feature, other.feature)
            and np.array_equal(self.threshold, other.threshold)
        )

    def __repr__(self) -> str:
        used = np.unique(self.feature).size
        return (
            f"ThermometerEncoder(num_raw_features={self.num_raw_features}, "
            f"num_bits={self.num_bits}, features_used={used}, values={self.values!r})"
        )

    # ------------------------------------------------------------------ encode
    def encode(self, X: np.ndarray) -> np.ndarray:
        """Encode raw rows ``X`` [n, F] to uint8 bits [n, n_bits].

        An integer encoder takes integers (normally uint8); a real one takes any real
        numbers, compared in binary64 (NaN is refused)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.num_raw_features:
            raise EncodingError(
                f"expected raw input of shape [n, {self.num_raw_features}], got {list(X.shape)}"
            )
        if self.real:
            if X.dtype.kind not in "biuf":
                raise EncodingError(f"raw input must be numbers, got dtype {X.dtype}")
            cols = X[:, self.feature].astype(np.float64, copy=False)
            nan = np.isnan(cols)
            if nan.any():
                r, c = np.argwhere(nan)[0]
                raise EncodingError(
                    f"raw input row {r}, {self.feature_name(int(self.feature[c]))}: "
                    "NaN is not a value the encoder can compare"
                )
        else:
            if not np.issubdtype(X.dtype, np.integer):
                raise EncodingError(f"raw input must be integers, got dtype {X.dtype}")
            cols = X[:, self.feature].astype(np.int64, copy=False)
        return (cols >= self.threshold[None, :]).astype(np.uint8)

    # ------------------------------------------------------------ serialise
    @property
    def extended(self) -> bool:
        """Whether the encoder needs IR version 2 (real values or feature names)."""
        return self.real or self.feature_names is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": KIND,
            "num_raw_features": self.num_raw_features,
            "feature": [int(v) for v in self.feature],
        }
        if self.real:
            d["values"] = "real"
            d["threshold"] = [float(v) for v in self.threshold]  # repr round-trips exactly
        else:
            d["threshold"] = [int(v) for v in self.threshold]
        if self.feature_names is not None:
            d["feature_names"] = list(self.feature_names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThermometerEncoder:
        try:
            kind = d["kind"]
            if kind != KIND:
                raise EncodingError(f"unknown encoder kind {kind!r} (expected {KIND!r})")
            values = d.get("values", "integer")
            names = d.get("feature_names")
            return cls(
                num_raw_features=int(d["num_raw_features"]),
                feature=np.asarray(d["feature"], dtype=np.int64),
                threshold=np.asarray(
                    d["threshold"], dtype=np.float64 if values == "real" else np.int64
                ),
                values=values,
                feature_names=tuple(names) if names is not None else None,
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

        A float ``X`` gives a real encoder: there each threshold is the midpoint between
        the quantile's data value and the next smaller distinct value, so a new value
        between two training values goes to the nearer one.
        """
        _check_bits(bits_per_feature)
        X = np.asarray(X)
        real = X.dtype.kind == "f"
        if X.ndim != 2 or X.dtype.kind not in "iuf" or X.shape[0] == 0:
            raise EncodingError(f"quantile() needs a non-empty numeric array [n, F], got {X.shape}")
        if real and not np.all(np.isfinite(X)):
            raise EncodingError("quantile() needs finite values (no NaN or infinity)")
        feats = _features(X.shape[1], features)
        qs = np.arange(1, bits_per_feature + 1) / (bits_per_feature + 1)
        per_feature = []
        for f in feats:
            if real:
                col = X[:, f].astype(np.float64)
                distinct = np.unique(col)  # ascending
                at = np.unique(np.quantile(col, qs, method="higher"))
                pos = np.searchsorted(distinct, at)
                pos = np.unique(pos[pos > 0])  # the minimum itself would be constantly 1
                th = np.unique(distinct[pos - 1] / 2 + distinct[pos] / 2)
            else:
                col = X[:, f].astype(np.int64)
                lo, hi = int(col.min()), int(col.max())
                th = np.quantile(col, qs, method="higher").astype(np.int64)
                th = np.unique(np.maximum(th, lo + 1))
                th = th[th <= hi]
            per_feature.append((f, th))
        return cls._from_per_feature(X.shape[1], per_feature, "real" if real else "integer")

    @classmethod
    def uniform_real(
        cls,
        X: np.ndarray,
        bits_per_feature: int,
        features: Sequence[int] | None = None,
    ) -> ThermometerEncoder:
        """A real encoder with evenly spaced thresholds over each feature's own range:
        ``min + k * (max - min) / (bits + 1)``, k = 1..bits (binary64). Features that are
        constant in ``X`` get no bits."""
        _check_bits(bits_per_feature)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
            raise EncodingError("uniform_real() needs a non-empty finite array [n, F]")
        feats = _features(X.shape[1], features)
        k = np.arange(1, bits_per_feature + 1, dtype=np.float64)
        per_feature = []
        for f in feats:
            lo, hi = float(X[:, f].min()), float(X[:, f].max())
            th = np.unique(lo + k * (hi - lo) / (bits_per_feature + 1)) if hi > lo else []
            per_feature.append((f, np.asarray([t for t in th if lo < t <= hi])))
        return cls._from_per_feature(X.shape[1], per_feature, "real")

    @classmethod
    def fixed(
        cls,
        num_raw_features: int,
        thresholds: Sequence[float] | dict[int, Sequence[float]],
        features: Sequence[int] | None = None,
        values: str = "real",
    ) -> ThermometerEncoder:
        """Given thresholds: one ascending list for every feature in ``features`` (default
        all), or a dict from feature index to its own list (features not named get no
        bits)."""
        if isinstance(thresholds, dict):
            per_feature = [(int(f), np.asarray(t)) for f, t in sorted(thresholds.items())]
            _features(num_raw_features, [f for f, _ in per_feature])
        else:
            feats = _features(num_raw_features, features)
            per_feature = [(int(f), np.asarray(thresholds)) for f in feats]
        for f, th in per_feature:
            if th.ndim != 1 or th.size == 0 or np.any(np.diff(th.astype(np.float64)) <= 0):
                raise EncodingError(
                    f"the thresholds of feature {f} must be a non-empty ascending list"
                )
        return cls._from_per_feature(num_raw_features, per_feature, values)

    @classmethod
    def _from_per_feature(
        cls, num_raw_features: int, per_feature: list[tuple[int, Any]], values: str
    ) -> ThermometerEncoder:
        dtype = np.float64 if values == "real" else np.int64
        feature = [np.full(len(th), f, dtype=np.int64) for f, th in per_feature]
        threshold = [np.asarray(th, dtype=dtype) for _, th in per_feature]
        feature_all = np.concatenate(feature) if feature else np.zeros(0, np.int64)
        if feature_all.size == 0:
            raise EncodingError("every selected feature is constant in the data; no input bits")
        return cls(
            num_raw_features=num_raw_features,
            feature=feature_all,
            threshold=np.concatenate(threshold),
            values=values,
        )

    def with_names(self, names: Sequence[str] | None) -> ThermometerEncoder:
        """The same encoder with raw feature names attached (or removed: None)."""
        return ThermometerEncoder(
            self.num_raw_features,
            self.feature,
            self.threshold,
            self.values,
            tuple(names) if names is not None else None,
        )


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
