"""The host driver against the simulated board (gf_board_top under Verilator behind a
pseudo terminal): agreement with the golden model, and recovery from faults injected
into the byte stream, which pass through the board's real UART and framing RTL.

Every test checks each returned class and score vector against the golden result
of its own sample, so a lost, duplicated or misattributed result fails it.
"""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest

from gateflow.cli import main as cli_main
from gateflow.host import (
    Board,
    Faults,
    Inference,
    LinkError,
    ModelMismatchError,
    SerialTransport,
    start_sim,
)

pytestmark = pytest.mark.sim

FAULT_SAMPLES = 150  # samples per fault test
TIMEOUT = 0.4  # seconds before a frame is sent again (the simulation answers in ~0.05 s)


def assert_matches_golden(res: Inference, case, n: int) -> None:
    assert res.pred.shape == (n,)
    assert res.scores is not None and res.scores.shape == (n, case.golden.scores.shape[1])
    bad = np.flatnonzero(
        (res.pred != case.golden.pred[:n]) | (res.scores != case.golden.scores[:n]).any(axis=1)
    )
    assert bad.size == 0, (
        f"{bad.size} results differ from their samples' golden results: {bad[:10]}"
    )


def test_api_agreement_on_the_digits_test_split(sim_case) -> None:
    with Board.open("sim", build=sim_case.build) as board:
        assert board.info.model_id.hex() == board.manifest["ir_sha256"][:16]
        res = board.infer(sim_case.x)
        stats = board.stats
    n = len(sim_case.y)
    assert n == 360
    assert_matches_golden(res, sim_case, n)
    # a clean link needs no second attempt
    assert stats.retransmits == 0 and stats.bad_frames == 0 and not stats.errors
    assert stats.frames_sent == n and stats.samples == n


def test_cli_prints_agreement_over_the_whole_split(sim_case, capsys) -> None:
    rc = cli_main(["infer", "--port", "sim", "--build", str(sim_case.build)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "agreement: 360/360" in out
    assert "accuracy: " in out and "link limit" in out and "samples/s" in out


def _open_faulty(sim_case, **kw) -> Board:
    """A board whose fault injector is off until the test switches it on."""
    return Board.open("sim", build=sim_case.build, faults=Faults(**kw), timeout=TIMEOUT, retries=10)


def test_flipped_bits_both_ways(sim_case) -> None:
    with _open_faulty(sim_case, seed=1) as board:
        board.transport.faults.flip_tx = 0.004
        board.transport.faults.flip_rx = 0.004
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        injected, stats = board.transport.injected, board.stats
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)
    assert injected.flipped >= 5
    assert stats.retransmits > 0 and stats.conflicts == 0
    assert stats.bad_frames > 0 or stats.errors  # the corruption was seen on the link


def test_dropped_bytes_both_ways(sim_case) -> None:
    with _open_faulty(sim_case, seed=2) as board:
        board.transport.faults.drop_tx = 0.004
        board.transport.faults.drop_rx = 0.004
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        injected, stats = board.transport.injected, board.stats
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)
    assert injected.dropped >= 5
    assert stats.retransmits > 0 and stats.conflicts == 0


def test_garbage_before_frames_is_ignored(sim_case) -> None:
    """Garbage without the SOF byte before INFER frames is hunted through by the board
    and before replies by the driver: no frame is lost."""
    with _open_faulty(sim_case, seed=3) as board:
        board.transport.faults.garbage_tx = 0.5
        board.transport.faults.garbage_rx = 0.5
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        injected, stats = board.transport.injected, board.stats
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)
    assert injected.garbage >= 50
    assert stats.retransmits == 0 and not stats.errors


def test_garbage_with_frame_starts_is_recovered(sim_case) -> None:
    """Garbage holding 0xA5 makes the board (and the driver) start false frames and
    lose real ones; the driver resends them."""
    with _open_faulty(sim_case, seed=4, garbage_sof=True, garbage_len=(4, 30)) as board:
        board.transport.faults.garbage_tx = 0.2
        board.transport.faults.garbage_rx = 0.2
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        injected, stats = board.transport.injected, board.stats
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)
    assert injected.garbage >= 20
    # the false frame starts were seen: by the board (an ERROR, or a frame lost and
    # sent again) and by the driver's decoder
    assert stats.errors or stats.retransmits
    assert stats.bad_frames > 0 and stats.conflicts == 0


def test_board_reset_mid_stream(sim_case) -> None:
    with _open_faulty(sim_case, seed=5) as board:
        sent = board.stats.frames_sent
        board.transport.faults.reset = board.sim.reset
        # writes counted from the open: the handshake wrote one INFO frame
        board.transport.faults.reset_after_writes = (sent + 41, sent + 97)
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        stats = board.stats
        sim_stats = board.sim.stats()
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)
    assert sim_stats.resets == 2
    assert stats.retransmits > 0 and stats.timeouts + stats.lost_in_order > 0
    assert stats.conflicts == 0


def test_every_fault_at_once(sim_case) -> None:
    with _open_faulty(sim_case, seed=6, garbage_sof=True) as board:
        f = board.transport.faults
        f.flip_tx = f.flip_rx = f.drop_tx = f.drop_rx = 0.002
        f.garbage_tx = f.garbage_rx = 0.05
        f.reset = board.sim.reset
        f.reset_after_writes = (board.stats.frames_sent + 60,)
        res = board.infer(sim_case.x[:FAULT_SAMPLES])
        assert board.stats.conflicts == 0
    assert_matches_golden(res, sim_case, FAULT_SAMPLES)


def test_a_killed_simulator_fails_clearly(sim_case) -> None:
    with _open_faulty(sim_case) as board:
        board.transport.faults.reset = board.sim.kill  # the board disappears mid-stream
        board.transport.faults.reset_after_writes = (board.stats.frames_sent + 30,)
        t0 = time.monotonic()
        with pytest.raises(LinkError):
            board.infer(sim_case.x[:FAULT_SAMPLES])
        assert time.monotonic() - t0 < 15


def test_a_permanently_corrupting_link_fails_clearly(sim_case) -> None:
    with Board.open("sim", build=sim_case.build, faults=Faults(), timeout=0.3, retries=2) as board:
        board.transport.faults.flip_tx = 1.0  # every byte to the board is corrupted
        t0 = time.monotonic()
        with pytest.raises(LinkError, match="attempts"):
            board.infer(sim_case.x[:20])
        elapsed = time.monotonic() - t0
        assert board.stats.frames_sent >= 3
    # (1 + retries) timeouts of at most 8x the timeout each, and some slack
    assert elapsed < 3 * 8 * 0.3 + 2


def test_model_mismatch_is_reported(sim_case) -> None:
    """The simulated board of one build, opened as a plain serial port with another
    build's manifest: the INFO reply's MODEL_ID gives it away."""
    with start_sim(sim_case.build) as sim:
        board_manifest = json.loads((sim_case.build / "manifest.json").read_text())
        other = dict(copy.deepcopy(board_manifest), ir_sha256="00" * 32)
        with pytest.raises(ModelMismatchError, match="wrong bitstream"):
            Board(SerialTransport(sim.port, sim.baud), other, timeout=1.0)
        # the right manifest over the same port works
        with Board(SerialTransport(sim.port, sim.baud), board_manifest, timeout=1.0) as board:
            res = board.infer(sim_case.x[:20])
    assert_matches_golden(res, sim_case, 20)


def test_threshold_network_on_the_simulated_board(tmp_path) -> None:
    """A network of threshold neurons behind the same board top and driver, unchanged."""
    from gateflow.host import prepare_sim_build
    from gateflow.ir.golden import evaluate
    from gateflow.ir.passes import run_passes
    from gateflow.ir.randnet import random_netlist

    net, _ = run_passes(
        random_netlist(
            40, [60, 40, 30], 3, seed=11, kind="mixed", fan_in=10, num_raw_features=20
        )  # fmt: skip
    )
    net.save(tmp_path / "ir.json")
    build = prepare_sim_build(tmp_path / "ir.json", tmp_path / "build")
    x = np.random.default_rng(0).integers(0, 256, (60, 20))
    golden = evaluate(net, x)
    with Board.open("sim", build=build) as board:
        res = board.infer(x)
    assert np.array_equal(res.pred, golden.pred)
    assert res.scores is not None and np.array_equal(res.scores, golden.scores)
