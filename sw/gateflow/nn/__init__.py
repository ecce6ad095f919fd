"""Torch modules of gateflow's hardware-native networks."""

from gateflow.nn.encoding import Thermometer
from gateflow.nn.logic import (
    CONNECTIONS,
    MODES,
    GroupSum,
    LogicLayer,
    LogicNet,
    ModelError,
    random_wiring,
    unique_wiring,
)

__all__ = [
    "CONNECTIONS",
    "MODES",
    "GroupSum",
    "LogicLayer",
    "LogicNet",
    "ModelError",
    "Thermometer",
    "random_wiring",
    "unique_wiring",
]
