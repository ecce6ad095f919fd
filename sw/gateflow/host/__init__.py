"""Host side of a board build: run inference on a board, or on the simulated board.

::

    from gateflow.host import Board
    with Board.open("sim", build="build/icebreaker") as board:   # or "/dev/ttyUSB1"
        pred = board.predict(X)

See docs/host.md.
"""

from gateflow.host.board import Board, Inference, LinkStats, ModelMismatchError
from gateflow.host.simboard import (
    SimBoard,
    SimBuildError,
    SimOptions,
    SimStats,
    prepare_sim_build,
    start_sim,
)
from gateflow.host.transport import (
    FaultCounts,
    Faults,
    FaultyTransport,
    LinkError,
    SerialTransport,
    Transport,
)

__all__ = [
    "Board",
    "FaultCounts",
    "Faults",
    "FaultyTransport",
    "Inference",
    "LinkError",
    "LinkStats",
    "ModelMismatchError",
    "SerialTransport",
    "SimBoard",
    "SimBuildError",
    "SimOptions",
    "SimStats",
    "Transport",
    "prepare_sim_build",
    "start_sim",
]
