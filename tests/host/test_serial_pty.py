"""The driver over a plain pseudo-terminal pair, against a Python board emulator (no
simulator): the serial transport, the INFO check, and the in-order rule that resends
the samples of frames the board silently dropped."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from gateflow import ir
from gateflow import protocol as P
from gateflow.host import Board, ModelMismatchError, SerialTransport
from gateflow.ir.golden import eval_bits


class Emulator(threading.Thread):
    """Answers INFO and INFER frames on the master side of a pty as the board would,
    but silently drops every ``drop_every``-th INFER frame."""

    def __init__(self, fd: int, manifest: dict, net, drop_every: int = 0) -> None:
        super().__init__(daemon=True)
        self.fd, self.net, self.drop_every = fd, net, drop_every
        self.layout = P.ResultLayout.from_manifest(manifest)
        self.in_bits = int(manifest["input"]["width"])
        self.info = P.Info(
            version=1,
            in_bits=self.in_bits,
            num_classes=self.layout.num_classes,
            index_width=self.layout.index_width,
            score_width=self.layout.score_width,
            flags=int(self.layout.scores),
            window=4,
            model_id=P.model_id_bytes(manifest["ir_sha256"]),
            clk_hz=921_600,
            baud=115_200,
        )
        self.infers = 0
        self.dropped = 0
        self.stop = False

    def run(self) -> None:
        dec = P.FrameDecoder()
        while not self.stop:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            for fr in dec.feed(data):
                if not isinstance(fr, P.Frame):
                    continue
                if fr.type == P.FrameType.INFO:
                    reply = P.encode_frame(P.FrameType.INFO_REPLY, fr.seq, P.encode_info(self.info))
                elif fr.type == P.FrameType.INFER:
                    self.infers += 1
                    if self.drop_every and self.infers % self.drop_every == 0:
                        self.dropped += 1
                        continue
                    bits = P.unpack_sample(fr.payload, self.in_bits)[None, :]
                    g = eval_bits(self.net, bits)
                    payload = P.encode_result(
                        int(g.pred[0]), [int(s) for s in g.scores[0]], self.layout
                    )
                    reply = P.encode_frame(P.FrameType.RESULT, fr.seq, payload)
                else:
                    continue
                os.write(self.fd, reply)


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(slave)
    os.close(master)


def test_serial_transport_and_in_order_recovery(sim_case, pty_pair) -> None:
    master, path = pty_pair
    manifest = json.loads((sim_case.build / "manifest.json").read_text())
    emu = Emulator(master, manifest, ir.load(sim_case.build / "ir.json"), drop_every=7)
    emu.start()
    n = 100
    with Board(SerialTransport(path, 115_200), manifest, timeout=2.0) as board:
        assert board.window == 4  # the smaller of the manifest's 8 and the board's 4
        res = board.infer(sim_case.x[:n])
        stats = board.stats
    emu.stop = True
    assert emu.dropped >= 10
    assert np.array_equal(res.pred, sim_case.golden.pred[:n])
    assert np.array_equal(res.scores, sim_case.golden.scores[:n])
    # every dropped frame but possibly the last was found lost by a later RESULT
    assert stats.lost_in_order >= emu.dropped - 1
    assert stats.timeouts <= 1 and stats.conflicts == 0


def test_model_mismatch_over_serial(sim_case, pty_pair) -> None:
    master, path = pty_pair
    manifest = json.loads((sim_case.build / "manifest.json").read_text())
    emu = Emulator(master, manifest, ir.load(sim_case.build / "ir.json"))
    emu.start()
    other = dict(manifest, ir_sha256="ab" * 32)
    with pytest.raises(ModelMismatchError, match="board runs model"):
        Board(SerialTransport(path, 115_200), other, timeout=2.0)
    emu.stop = True
