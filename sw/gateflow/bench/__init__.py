"""Benchmarks: training throughput against the reference formulation, accuracy of
the training modes, golden-model and Verilator inference speed; JSON and plots.

Each benchmark is a function returning a JSON-ready dict; :mod:`gateflow.bench.suite`
runs them all and writes ``<out>/*.json`` and ``<out>/*.png``; the CLI is
``gateflow bench`` (:mod:`gateflow.commands.bench`).
"""

from __future__ import annotations

import os
import platform

import torch


def environment() -> dict[str, object]:
    """What a figure depends on besides the code: versions, threads, CPU count."""
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
