"""Distributed data-parallel training: process-group set-up from torchrun's environment.

``torchrun`` starts one process per device and sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` joins
the process group (``nccl`` on CUDA, ``gloo`` on CPU) and :func:`device` picks
this process's device. :func:`gateflow.train.logic.train` trains data-parallel
whenever a process group with more than one process is initialised: each
process computes the gradient of its share of every global batch and
DistributedDataParallel averages them, so N processes with global batch B
follow the same maths as one process with batch B.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from gateflow.errors import GateflowError

log = logging.getLogger(__name__)


class DistError(GateflowError):
    """A distributed set-up that cannot work."""


@dataclass(frozen=True)
class DistInfo:
    rank: int
    local_rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True when the environment holds a multi-process launch (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return (
        torch_dist.is_available()
        and torch_dist.is_initialized()
        and torch_dist.get_world_size() > 1
    )


def info() -> DistInfo:
    """This process's place in the group (rank 0 of 1 when not distributed)."""
    if not is_distributed():
        return DistInfo(0, 0, 1)
    rank = torch_dist.get_rank()
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return DistInfo(rank, local, torch_dist.get_world_size())


def init_from_env(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment.

    ``device``: "cuda" uses NCCL, "cpu" gloo, "auto" NCCL when CUDA is available.
    A no-op when already initialised or when not launched with more than one process.
    """
    if is_distributed() or not launched_by_torchrun():
        return info()
    if not torch_dist.is_available():
        raise DistError("this torch build has no torch.distributed")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch_dist.init_process_group(backend=backend)
    me = info()
    log.info("rank %d of %d (local %d), backend %s", me.rank, me.world_size, me.local_rank, backend)
    return me


def device(requested: str) -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` on CUDA, else the CPU."""
    use_cuda = requested == "cuda" or (requested == "auto" and torch.cuda.is_available())
    if requested == "cuda" and not torch.cuda.is_available():
        raise DistError("device 'cuda' requested but torch sees no CUDA device")
    if use_cuda:
        return torch.device("cuda", info().local_rank)
    return torch.device("cpu")


def shutdown() -> None:
    """Leave the process group (if this process joined one)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
