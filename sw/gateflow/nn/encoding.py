"""Torch counterpart of :class:`gateflow.data.encoding.ThermometerEncoder`."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gateflow.data.encoding import EncodingError, ThermometerEncoder


class Thermometer(nn.Module):
    """``bit[i] = x[:, feature[i]] >= threshold[i]`` as float 0.0/1.0.

    Equal bit for bit to :meth:`ThermometerEncoder.encode`; the definition lives in
    buffers ``feature`` and ``threshold`` (int64 [n_bits]).
    """

    feature: torch.Tensor
    threshold: torch.Tensor

    def __init__(self, encoder: ThermometerEncoder) -> None:
        super().__init__()
        self.num_raw_features = encoder.num_raw_features
        self.values = encoder.values
        self.feature_names = encoder.feature_names
        self.register_buffer("feature", torch.from_numpy(np.array(encoder.feature)))
        self.register_buffer("threshold", torch.from_numpy(np.array(encoder.threshold)))

    @property
    def num_bits(self) -> int:
        return int(self.feature.numel())

    def to_encoder(self) -> ThermometerEncoder:
        return ThermometerEncoder(
            num_raw_features=self.num_raw_features,
            feature=self.feature.cpu().numpy(),
            threshold=self.threshold.cpu().numpy(),
            values=self.values,
            feature_names=self.feature_names,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: raw features [batch, F]: integers (or integer-valued floats) for an integer
        encoder; any real numbers for a real one, compared in float64 like the IR says."""
        if x.dim() != 2 or x.shape[1] != self.num_raw_features:
            raise EncodingError(
                f"expected raw input of shape [batch, {self.num_raw_features}], got {list(x.shape)}"
            )
        cols = x.to(self.feature.device).index_select(1, self.feature)
        if self.values == "real":
            bits = cols.to(torch.float64) >= self.threshold.to(torch.float64)
        elif cols.is_floating_point():
            bits = cols >= self.threshold.to(cols.dtype)
        else:
            bits = cols.to(torch.int64) >= self.threshold
        return bits.to(torch.float32)

    def extra_repr(self) -> str:
        return (
            f"num_raw_features={self.num_raw_features}, num_bits={self.num_bits}, "
            f"values={self.values!r}"
        )
