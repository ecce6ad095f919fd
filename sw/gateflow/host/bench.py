"""Throughput of the host driver over a board link, beside the UART's limit.

``gateflow infer --port sim --bench [--build DIR] [--limit N] [--baud B] [--realtime]``
prints one JSON object from :func:`run_benchmark`. Over the
simulated board it reports two views:

* wall clock: samples/s as the driver saw them; the simulated link's bit rate
  in wall-clock time is ``sim.wall_baud`` (the simulation's speed decides it,
  unless ``--realtime`` paces it to the nominal baud rate);
* simulated time: samples per simulated second against the limit at the
  nominal baud rate: how fully the driver keeps the link busy, independent of
  the machine's speed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.host.board import Board, Inference, LinkStats
from gateflow.host.simboard import SimOptions

log = logging.getLogger(__name__)


@dataclass
class Measurement:
    result: Inference
    stats: LinkStats
    samples: int
    seconds: float
    samples_per_s: float
    baud: int
    link_limit: float  # samples/s at `baud`
    sim_cycles: int | None = None
    sim_seconds: float | None = None
    sim_samples_per_s: float | None = None
    realtime_factor: float | None = None  # simulated seconds per wall-clock second
    wall_baud: float | None = None  # the simulated link's bit rate in wall-clock time

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "samples": self.samples,
            "seconds": round(self.seconds, 4),
            "samples_per_s": round(self.samples_per_s, 2),
            "baud": self.baud,
            "link_limit_samples_per_s": round(self.link_limit, 2),
            "link_utilisation": round(self.samples_per_s / self.link_limit, 4),
            "link": {k: v for k, v in asdict(self.stats).items() if k != "seconds"},
        }
        if self.sim_cycles is not None:
            assert self.sim_samples_per_s is not None and self.wall_baud is not None
            out["sim"] = {
                "cycles": self.sim_cycles,
                "simulated_seconds": round(self.sim_seconds or 0.0, 4),
                "samples_per_simulated_s": round(self.sim_samples_per_s, 2),
                "link_utilisation_simulated": round(self.sim_samples_per_s / self.link_limit, 4),
                "realtime_factor": round(self.realtime_factor or 0.0, 3),
                "wall_baud": round(self.wall_baud),
                "link_limit_at_wall_baud": round(self.link_limit * self.wall_baud / self.baud, 2),
            }
        return out


def measure(board: Board, x: np.ndarray, *, encoded: bool = False) -> Measurement:
    """Run one batch (raw samples, or input bits with ``encoded``) and time it."""
    sim = board.sim
    before = sim.stats() if sim is not None else None
    t0 = time.perf_counter()
    res = board.infer_bits(x) if encoded else board.infer(x)
    seconds = time.perf_counter() - t0
    n = len(res.pred)
    m = Measurement(
        result=res,
        stats=board.stats,
        samples=n,
        seconds=seconds,
        samples_per_s=n / seconds,
        baud=board.baud,
        link_limit=board.link_limit(),
    )
    if sim is not None and before is not None:
        after = sim.stats()
        cycles = after.cycles - before.cycles
        m.sim_cycles = cycles
        m.sim_seconds = cycles / sim.clk_hz
        m.sim_samples_per_s = n / m.sim_seconds if cycles else float("inf")
        m.realtime_factor = m.sim_seconds / seconds
        m.wall_baud = board.baud * m.realtime_factor
    return m


def run_benchmark(
    build: str | os.PathLike[str],
    *,
    port: str = "sim",
    samples: int = 1000,
    baud: int | None = None,
    window: int | None = None,
    realtime: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Random samples through the board of ``build``; results checked against the
    golden model when the build has its ir.json."""
    sim_options = SimOptions(baud=baud, realtime=realtime) if port == "sim" else None
    with Board.open(port, build=build, baud=baud, window=window, sim_options=sim_options) as board:
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, (samples, board.in_bits), dtype=np.uint8)
        m = measure(board, bits, encoded=True)
        out = {
            "port": port,
            "build": str(build),
            "model_id": board.info.model_id.hex(),
            "window": board.window,
            "infer_frame_bytes": board.infer_frame_bytes,
            "result_frame_bytes": board.result_frame_bytes,
            "realtime": realtime,
            **m.as_dict(),
        }
    ir_path = Path(build) / "ir.json"
    if ir_path.is_file():
        from gateflow.ir.golden import eval_bits
        from gateflow.ir.netlist import load

        golden = eval_bits(load(ir_path), bits)
        ok = m.result.pred == golden.pred
        if m.result.scores is not None:
            ok &= (m.result.scores == golden.scores).all(axis=1)
        out["agreement"] = f"{int(ok.sum())}/{samples}"
    return out
