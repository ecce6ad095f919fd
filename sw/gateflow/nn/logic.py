"""Differentiable logic gate networks (difflogic; "Mind the Gap" Gumbel training).

Every neuron reads two fixed inputs ``a`` and ``b`` of the previous layer and
learns 16 logits, one per gate of :mod:`gateflow.gates`. Gate ``g`` is the
polynomial ``c0 + c1*a + c2*b + c3*a*b`` with coefficients ``poly_matrix()[g]``,
so a mixture ``sum_g w_g * gate_g(a, b)`` equals the single polynomial with
coefficients ``w @ poly_matrix()``: the forward computes 4 coefficients per
neuron instead of 16 gate outputs (mathematically the difflogic formulation).

How a layer computes (the ``how`` argument; default from ``module.training``):

* ``"train"`` (training mode): ``mode="softmax"`` uses ``w = softmax(logits)``;
  ``mode="gumbel"`` adds Gumbel(0, 1) noise to the logits and uses the hard
  one-hot argmax forward with straight-through gradients of the softmax of the
  noisy logits (outputs stay exactly 0/1 on 0/1 inputs). One noise sample per
  neuron and forward call, shared by the batch: each step trains one sampled
  discrete network.
* ``"soft"``: the softmax mixture without noise, whatever the mode.
* ``"hard"`` (eval mode): one gate per neuron, ``argmax(logits)`` (ties to the
  lowest gate id), outputs exactly 0.0/1.0. This is what the hardware computes.

Learned connections (``candidates``, after LILogicNet's learnable connectome): each
input of a neuron chooses among ``K`` candidate inputs with ``K`` logits of its own.
``candidates=K`` draws the ``K`` candidates at random; ``candidates=-1`` (or any ``K`` >=
``in_dim``) offers every input, computed as one matrix product. Training reads the
softmax mixture of the candidates in softmax mode, and in gumbel mode the argmax
candidate with the softmax's gradients (straight-through); ``"soft"`` reads the mixture
and ``"hard"`` the argmax (ties to the lowest candidate). The discretized network is an
ordinary fixed-wiring netlist: ``a`` and ``b`` are the argmax candidates.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from gateflow import gates
from gateflow.data.encoding import ThermometerEncoder
from gateflow.errors import GateflowError
from gateflow.nn.encoding import Thermometer
from gateflow.nn.kernels import BACKENDS, logic_layer_fm

How = Literal["train", "soft", "hard"]
MODES = ("softmax", "gumbel")
CONNECTIONS = ("random", "unique")
HOWS = ("train", "soft", "hard")
IMPLS = ("fast", "reference")
RESIDUAL_LOGIT = 5.0  # logit of the pass-through gate under residual_init; the others are 0
CHECKPOINT_FORMAT = "gateflow.logicnet"
CHECKPOINT_VERSION = 1


class ModelError(GateflowError):
    """An invalid network definition or an unreadable checkpoint."""


# ------------------------------------------------------------------ wiring
def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace``: a reader
    (or a crash) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def torch_load(path: str | os.PathLike[str], map_location: str = "cpu") -> Any:
    """``torch.load`` (tensors and plain containers only) with one-line errors."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"no checkpoint at {path}") from None
    except Exception as exc:  # torch raises many kinds for a corrupt file
        raise ModelError(f"cannot read checkpoint {path}: {exc}") from None


def save_checkpoint(module: nn.Module, path: str | os.PathLike[str], fmt: str, version: int):
    """``module.config`` and its state_dict (on the CPU) as a checkpoint of ``fmt``,
    written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "format": fmt,
        "version": version,
        "config": module.config,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    atomic_torch_save(ckpt, path)


def read_checkpoint(
    path: str | os.PathLike[str], fmt: str, version: int, what: str, map_location: str = "cpu"
) -> dict[str, Any]:
    """A checkpoint dict written in format ``fmt`` and ``version``, or a ModelError."""
    ckpt = torch_load(path, map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise ModelError(f"{path} is not a gateflow {what} checkpoint")
    if ckpt.get("version") != version:
        raise ModelError(f"{path}: checkpoint version {ckpt.get('version')} is not supported")
    return ckpt


def random_wiring(
    in_dim: int, out_dim: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """difflogic's random wiring: every input is read at least once when 2*out >= in."""
    c = torch.randperm(2 * out_dim, generator=generator) % in_dim
    c = torch.randperm(in_dim, generator=generator)[c]
    return c[:out_dim].clone(), c[out_dim:].clone()


def unique_wiring(
    in_dim: int, out_dim: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random wiring with ``a != b`` for every neuron, still reading every input
    when 2*out >= in (collisions are repaired by swapping ``b`` between neurons,
    which keeps the multiset of inputs read)."""
    if in_dim < 2:
        raise ModelError("unique wiring needs at least 2 inputs")
    a, b = random_wiring(in_dim, out_dim, generator)
    a_np, b_np = a.numpy().copy(), b.numpy().copy()
    for i in np.flatnonzero(a_np == b_np):
        for _ in range(100 * out_dim + 100):
            j = int(torch.randint(out_dim, (1,), generator=generator))
            if b_np[j] != a_np[i] and a_np[j] != b_np[i]:
                b_np[i], b_np[j] = b_np[j], b_np[i]
                break
        else:  # pragma: no cover - needs one input to fill more than half the slots
            raise ModelError(f"could not wire {out_dim} neurons on {in_dim} inputs with a != b")
    return torch.from_numpy(a_np), torch.from_numpy(b_np)


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) samples shaped like ``like``: ``-log(-log(U))``, U uniform in (0, 1).

    Drawn from uniforms (not ``exponential_``, several times slower on CPU); U is
    kept above the smallest normal float so the logs stay finite.
    """
    u = torch.rand_like(like).clamp_(min=torch.finfo(like.dtype).tiny)
    return u.log_().neg_().log_().neg_()


def one_hot_argmax(t: torch.Tensor) -> torch.Tensor:
    """One-hot [..., K] of the argmax over the last dim (ties to the lowest index), no
    gradient."""
    return torch.zeros_like(t).scatter_(-1, t.detach().argmax(dim=-1, keepdim=True), 1.0)


def gate_weights(logits: torch.Tensor, how: How, mode: str, temperature: float) -> torch.Tensor:
    """Mixture weights [..., 16] over the gates from ``logits`` [..., 16]: one-hot argmax
    ("hard"), softmax ("soft", and "train" in softmax mode), or in gumbel mode a one-hot
    sample of softmax((logits + Gumbel noise) / temperature) with its gradient
    (straight-through)."""
    if how == "hard":
        return one_hot_argmax(logits)
    if how == "soft" or (how == "train" and mode == "softmax"):
        return torch.softmax(logits, dim=-1)
    if how == "train":  # gumbel: hard forward, straight-through softmax gradients
        soft = torch.softmax((logits + gumbel_noise(logits)) / temperature, -1)
        return one_hot_argmax(soft) + (soft - soft.detach())  # exactly one-hot in value
    raise ModelError(f"how must be one of {HOWS}, got {how!r}")


# ------------------------------------------------------------------ layers
def connection_weights(logits: torch.Tensor, how: How, mode: str) -> torch.Tensor:
    """Mixture weights [..., K] over candidate inputs: the softmax ("soft", and "train" in
    softmax mode), the one-hot argmax ("hard"), or in gumbel mode the one-hot argmax with
    the softmax's gradients (straight-through)."""
    if how == "soft" or (how == "train" and mode == "softmax"):
        return torch.softmax(logits, dim=-1)
    if how not in HOWS:
        raise ModelError(f"how must be one of {HOWS}, got {how!r}")
    if how == "hard":
        return one_hot_argmax(logits)
    soft = torch.softmax(logits, dim=-1)
    return one_hot_argmax(logits) + (soft - soft.detach())  # exactly one-hot in value


class LogicLayer(nn.Module):
    """``out_dim`` two-input gates over inputs ``a``, ``b`` of ``in_dim`` bits: fixed, or
    learned among ``candidates`` per input (module docstring)."""

    a: torch.Tensor
    b: torch.Tensor
    poly: torch.Tensor

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        connections: str = "random",
        mode: str = "softmax",
        residual_init: bool = False,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        candidates: int = 0,
    ) -> None:
        super().__init__()
        if candidates == 1 or candidates < -1:
            raise ModelError(
                f"candidates must be 0 (fixed wiring), >= 2 or -1 (every input), got {candidates}"
            )
        if in_dim < 1 or out_dim < 1:
            raise ModelError(f"layer sizes must be >= 1, got {in_dim} -> {out_dim}")
        if connections not in CONNECTIONS:
            raise ModelError(f"connections must be one of {CONNECTIONS}, got {connections!r}")
        if mode not in MODES:
            raise ModelError(f"mode must be one of {MODES}, got {mode!r}")
        if temperature <= 0:
            raise ModelError(f"temperature must be > 0, got {temperature}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.connections, self.mode, self.temperature = connections, mode, float(temperature)
        wiring = random_wiring if connections == "random" else unique_wiring
        # drawn with learned connections too: the generator then draws the candidates and
        # their logits exactly as for the networks the recipes were measured with
        a, b = wiring(in_dim, out_dim, generator)
        # learned connections: K candidates per input (all inputs when K < 0 or >= in_dim)
        full = candidates < 0 or candidates >= in_dim
        self.candidates = in_dim if full else int(candidates)
        if self.candidates:
            if not full:  # candidate pools drawn at random, a's rows then b's
                cand = torch.randint(in_dim, (2 * out_dim, self.candidates), generator=generator)
                self.register_buffer("cand", cand)
            conn = torch.randn(2 * out_dim, self.candidates, generator=generator)
            self.conn = nn.Parameter(conn)
        else:
            self.register_buffer("a", a.to(torch.int64))
            self.register_buffer("b", b.to(torch.int64))
        if residual_init:
            logits = torch.zeros(out_dim, gates.NUM_GATES)
            logits[:, gates.PASS_A] = RESIDUAL_LOGIT
        else:
            logits = torch.randn(out_dim, gates.NUM_GATES, generator=generator)
        self.logits = nn.Parameter(logits)
        self.register_buffer("poly", torch.from_numpy(gates.poly_matrix().copy()), persistent=False)

    def __getattr__(self, name: str) -> Any:
        # learned connections: ``a`` and ``b`` are the argmax candidates, read when asked
        if name in ("a", "b") and "conn" in self.__dict__.get("_parameters", {}):
            pick = self.wiring()
            return pick[: self.out_dim] if name == "a" else pick[self.out_dim :]
        return super().__getattr__(name)

    def wiring(self) -> torch.Tensor:
        """Learned connections: the chosen input of every slot, a's then b's [2 out_dim]."""
        pick = self.conn.detach().argmax(dim=-1)
        cand = self._buffers.get("cand")
        return pick if cand is None else cand.gather(1, pick.view(-1, 1)).squeeze(1)

    def ops(self) -> torch.Tensor:
        """Gate id of every neuron after discretization: LongTensor [out_dim]."""
        return self.logits.detach().argmax(dim=-1)

    def _learned_inputs(self, x: torch.Tensor, how: How, dim: int) -> torch.Tensor:
        """Both inputs of every neuron from ``x`` along ``dim`` (-1: batch-major, 0:
        feature-major), as [2 * out_dim] on that dim: a's, then b's."""
        if how == "hard":
            return x.index_select(dim, self.wiring())
        w = connection_weights(self.conn, how, self.mode).to(x.dtype)  # [2 out, K]
        cand = self._buffers.get("cand")
        if cand is None:  # every input: one matrix product
            return w @ x if dim == 0 else x @ w.t()
        if dim == 0:  # [2 out, K, batch] weighted over K
            g = x.index_select(0, cand.reshape(-1)).view(*cand.shape, x.shape[1])
            return torch.bmm(w.unsqueeze(1), g).squeeze(1)
        g = x.index_select(-1, cand.reshape(-1)).view(*x.shape[:-1], *cand.shape)
        return (g * w).sum(-1)

    def weights(self, how: How) -> torch.Tensor:
        """Mixture weights [out_dim, 16] over the gates."""
        return gate_weights(self.logits, how, self.mode, self.temperature)

    def coefficients(self, how: How) -> torch.Tensor:
        """Per-neuron polynomial coefficients (c0, c1, c2, c3): [out_dim, 4]."""
        if how == "hard":
            return self.poly[self.ops()]
        return self.weights(how) @ self.poly

    def forward(self, x: torch.Tensor, how: How | None = None) -> torch.Tensor:
        """``x``: [batch, in_dim] in [0, 1] -> [batch, out_dim].

        The readable reference (batch-major, autograd through every op): the
        specification the fused kernels of :meth:`forward_fm` are tested against.
        """
        if how is None:
            how = "train" if self.training else "hard"
        c = self.coefficients(how)
        if self.candidates:
            xa, xb = self._learned_inputs(x, how, -1).split(self.out_dim, dim=-1)
        else:
            xa = x.index_select(-1, self.a)
            xb = x.index_select(-1, self.b)
        return c[:, 0] + xa * (c[:, 1] + c[:, 3] * xb) + c[:, 2] * xb

    def forward_fm(
        self, x: torch.Tensor, how: How | None = None, backend: str | None = None
    ) -> torch.Tensor:
        """Feature-major forward: ``x`` [in_dim, batch] -> [out_dim, batch].

        The same maths as :meth:`forward` through one fused autograd function
        (:func:`gateflow.nn.kernels.logic_layer_fm`); ``backend``: "auto",
        "native" or "torch" (None: ``$GATEFLOW_KERNEL`` or "auto").
        """
        if how is None:
            how = "train" if self.training else "hard"
        if self.candidates:
            # the chosen inputs as a [2 out, batch] map, then the fused gate kernel on it
            pair = self._learned_inputs(x, how, 0)
            idx = torch.arange(2 * self.out_dim, device=x.device)
            a, b = idx[: self.out_dim], idx[self.out_dim :]
            return logic_layer_fm(pair, self.coefficients(how), a, b, backend)
        return logic_layer_fm(x, self.coefficients(how), self.a, self.b, backend)

    def extra_repr(self) -> str:
        learned = f", candidates={self.candidates}" if self.candidates else ""
        return (
            f"{self.in_dim} -> {self.out_dim}, connections={self.connections}, "
            f"mode={self.mode}{learned}"
        )


class GroupSum(nn.Module):
    """Class scores: column group ``c*k .. c*k+k-1`` summed per class ``c``.

    Divided by ``tau`` in training mode only; in eval mode the scores are the raw
    (integer-valued) counts, exactly what the hardware's popcounts produce.
    """

    def __init__(self, num_classes: int, tau: float = 1.0) -> None:
        super().__init__()
        if num_classes < 1 or tau <= 0:
            raise ModelError(f"need num_classes >= 1 and tau > 0, got {num_classes}, {tau}")
        self.num_classes, self.tau = num_classes, float(tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.num_classes:
            raise ModelError(f"{x.shape[-1]} outputs do not split into {self.num_classes} groups")
        s = x.reshape(*x.shape[:-1], self.num_classes, -1).sum(dim=-1)
        return s / self.tau if self.training else s

    def forward_fm(self, x: torch.Tensor) -> torch.Tensor:
        """Feature-major input [outputs, batch] -> class scores [batch, num_classes]."""
        if x.shape[0] % self.num_classes:
            raise ModelError(f"{x.shape[0]} outputs do not split into {self.num_classes} groups")
        s = x.reshape(self.num_classes, -1, x.shape[-1]).sum(dim=1).t()
        return s / self.tau if self.training else s

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, tau={self.tau}"


# ------------------------------------------------------------------ network
class LogicNet(nn.Module):
    """Thermometer encoder -> logic layers -> GroupSum.

    ``forward(x_raw)`` takes raw integer features [batch, F] and returns class
    scores [batch, num_classes]. ``config`` holds every constructor argument in
    JSON types (the encoder as its dict), enough to rebuild the network.
    """

    def __init__(
        self,
        encoder: ThermometerEncoder | dict[str, Any],
        widths: Sequence[int],
        num_classes: int,
        tau: float = 10.0,
        connections: str = "random",
        mode: str = "softmax",
        residual_init: bool = False,
        seed: int = 0,
        temperature: float = 1.0,
        candidates: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(encoder, dict):
            encoder = ThermometerEncoder.from_dict(encoder)
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1:
            raise ModelError(f"widths must be a non-empty list of positive ints, got {widths}")
        if widths[-1] % num_classes:
            raise ModelError(
                f"the last width ({widths[-1]}) must be divisible by num_classes ({num_classes})"
            )
        self.config: dict[str, Any] = {
            "encoder": encoder.to_dict(),
            "widths": widths,
            "num_classes": int(num_classes),
            "tau": float(tau),
            "connections": connections,
            "mode": mode,
            "residual_init": bool(residual_init),
            "seed": int(seed),
            "temperature": float(temperature),
        }
        if candidates:  # only when used: older readers of the config stay valid
            self.config["candidates"] = int(candidates)
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = Thermometer(encoder)
        dims = [encoder.num_bits, *widths]
        self.layers = nn.ModuleList(
            LogicLayer(i, o, connections, mode, residual_init, gen, temperature, candidates)
            for i, o in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = GroupSum(num_classes, tau)
        # How forward computes (not part of the config: all give the same model):
        # "fast" = feature-major fused kernels, "reference" = the readable layer code.
        self.impl: str = "fast"
        self.backend: str | None = None  # kernel backend of the fast path (None: auto)

    def set_impl(self, impl: str = "fast", backend: str | None = None) -> LogicNet:
        """Choose the forward implementation ("fast" or "reference") and kernel backend."""
        if impl not in IMPLS:
            raise ModelError(f"impl must be one of {IMPLS}, got {impl!r}")
        if backend is not None and backend not in BACKENDS:
            raise ModelError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.impl, self.backend = impl, backend
        return self

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    @property
    def num_gates(self) -> int:
        return sum(layer.out_dim for layer in self.layers)

    def ops(self) -> list[torch.Tensor]:
        """Gate ids of every layer (LongTensor [width] each)."""
        return [layer.ops() for layer in self.layers]

    def forward(self, x: torch.Tensor, how: How | None = None) -> torch.Tensor:
        h = self.encoder(x)
        if self.impl == "reference":
            for layer in self.layers:
                h = layer(h, how)
            return self.head(h)
        h = h.t().contiguous()  # feature-major [bits, batch] through the layers
        for layer in self.layers:
            h = layer.forward_fm(h, how, self.backend)
        return self.head.forward_fm(h)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Hard (discretized) class predictions, argmax ties to the lowest class."""
        return self(x, how="hard").argmax(dim=-1)

    # ------------------------------------------------------------ checkpoints
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LogicNet:
        try:
            return cls(**config)
        except TypeError as exc:
            raise ModelError(f"invalid LogicNet config: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write config + state_dict atomically (temp file + ``os.replace``)."""
        save_checkpoint(self, path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)

    @classmethod
    def load(cls, path: str | os.PathLike[str], map_location: str = "cpu") -> LogicNet:
        """Rebuild a network saved by :meth:`save`; returned in eval mode."""
        ckpt = read_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "LogicNet",
                               map_location)  # fmt: skip
        model = cls.from_config(ckpt["config"])
        try:
            model.load_state_dict(ckpt["state_dict"])
        except RuntimeError as exc:
            raise ModelError(f"{path}: state does not match its config: {exc}") from None
        return model.eval()
