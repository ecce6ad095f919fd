"""Fixtures of the host driver tests: one simulated-board build of the default digits
network (trained once into build/default-model if missing) and its golden results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gateflow import ir
from gateflow.data import get_dataset
from gateflow.host import prepare_sim_build
from gateflow.ir.golden import GoldenResult, evaluate
from gateflow.paths import REPO

BUILD = REPO / "build" / "host_tests" / "sim-build"


@dataclass(frozen=True)
class SimCase:
    build: Path
    x: np.ndarray  # the digits test split, raw features
    y: np.ndarray
    golden: GoldenResult


@pytest.fixture(scope="session")
def sim_case() -> SimCase:
    from gateflow.train.flow import default_model

    ir_path = default_model()
    build = prepare_sim_build(ir_path, BUILD)
    data = get_dataset("digits")
    net = ir.load(build / "ir.json")
    return SimCase(build, data.X_test, data.y_test, evaluate(net, data.X_test))
