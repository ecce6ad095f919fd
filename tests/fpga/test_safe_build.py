"""Bitstream builds that are safe and talk: the fit check before synthesis, a failed or
interrupted build that keeps the last good one, the LUT estimate itself. No Yosys or
nextpnr here (those tests are in test_bitstream.py): where a tool step is needed, it is
replaced by one that fails, is interrupted or is killed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time

import pytest

import gateflow.fpga.bitstream as bitstream
from gateflow.cli import main
from gateflow.fpga.boards import load_board
from gateflow.fpga.estimate import (
    FIT_MARGIN,
    FitError,
    boards_that_fit,
    estimate_luts,
    fit_check,
    popcount_adder_bits,
)
from gateflow.ir.netlist import load
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist

BIG = ["--inputs", "128", "--widths", "6000,6000", "--classes", "10", "--seed", "0"]


@pytest.fixture(scope="module")
def big_ir(tmp_path_factory):
    """Two to three times the iCEBreaker's logic cells (by the estimate)."""
    path = tmp_path_factory.mktemp("big") / "big.json"
    assert main(["randnet", *BIG, "--out", str(path)]) == 0
    return path


def _no_tools(monkeypatch):
    calls = []

    def run(*args, **kwargs):
        calls.append(args)
        raise AssertionError("a tool ran")

    monkeypatch.setattr(bitstream, "_run", run)
    return calls


def _previous_build(out):
    """A previous good build's files (fabricated: only their bytes matter here)."""
    out.mkdir(parents=True)
    (out / "icebreaker.bin").write_bytes(b"\xff\x00\x00\xff" + os.urandom(1000))
    (out / "report.json").write_text(json.dumps({"board": "icebreaker", "luts": 854}) + "\n")
    (out / "manifest.json").write_text(json.dumps({"latency_cycles": 7}) + "\n")
    return _hashes(out)


def _hashes(out):
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_too_big_is_refused_in_seconds(tmp_path, big_ir, capsys, monkeypatch):
    calls = _no_tools(monkeypatch)
    net = load(big_ir)
    from gateflow.fpga.boards import load_board

    ice = load_board("icebreaker")
    est = estimate_luts(net, ice, ice.pipeline_every, groupsum=ice.groupsum)
    assert 2 < est["ratio"] < 3.5  # the network is 2-3x the device
    out = tmp_path / "icebreaker"
    previous = _previous_build(out)
    t0 = time.perf_counter()
    rc = main(["bitstream", "--board", "icebreaker", "--model", str(big_ir), "--out", str(out)])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 1 and elapsed < 60 and not calls  # refused before any tool ran
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("gateflow: error: icebreaker: the network needs about ")
    assert f"about {est['cells']} logic cells" in line and "has 5280" in line
    assert "--widths" in line and "--force" in line
    fits = line.split("a board that fits (", 1)[1].split(")", 1)[0].split(", ")
    assert "ulx3s" in fits and "icebreaker" not in fits
    assert _hashes(out) == previous and not _leftovers(tmp_path)


def test_force_goes_past_the_fit_check(tmp_path, big_ir, capsys, monkeypatch):
    def failing_tool(cmd, cwd, env, log_path, on_line):
        log_path.write_text("ERROR: the tool failed\n")
        return 2

    monkeypatch.setattr(bitstream, "_run", failing_tool)
    out = tmp_path / "icebreaker"
    args = ["bitstream", "--board", "icebreaker", "--model", str(big_ir), "--out", str(out)]
    assert main([*args, "--force", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gateflow: error: icebreaker: build failed: ERROR: the tool failed")
    assert len(err.splitlines()) == 1


def test_a_failed_build_keeps_the_last_good_one(tmp_path, capsys, monkeypatch):
    net, _ = run_passes(random_netlist(16, [40, 20], 2, seed=1))
    ir_path = tmp_path / "ir.json"
    net.save(ir_path)
    out = tmp_path / "icebreaker"
    previous = _previous_build(out)
    seen = {}

    def failing_tool(cmd, cwd, env, log_path, on_line):
        seen["cwd"] = cwd
        assert cwd.parent == tmp_path and cwd.name.startswith(".icebreaker.tmp-")
        assert (cwd / "cores" / "gateflow_build.core").exists()
        log_path.write_text("ERROR: Unable to place cell 'x'\n")
        return 1

    monkeypatch.setattr(bitstream, "_run", failing_tool)
    args = ["bitstream", "--board", "icebreaker", "--model", str(ir_path), "--out", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("gateflow bitstream icebreaker: [") and "estimate" in err[0]
    last = err[-1]
    assert last.startswith("gateflow: error: icebreaker: build failed: ERROR: Unable to place")
    assert f"the previous build in {out} is unchanged" in last
    failed = tmp_path / "icebreaker.failed"
    assert f"logs: {failed}" in last
    assert (failed / "build.log").read_text().startswith("ERROR: Unable to place")
    assert _hashes(out) == previous and not _leftovers(tmp_path)
    assert not seen["cwd"].exists()
    # the kept failure's FuseSoC core names its IR relative to itself
    assert "ir: ../ir.json" in (failed / "cores" / "gateflow_build.core").read_text()


@pytest.mark.parametrize("how", ["interrupt", "sigterm"])
def test_an_interrupted_build_keeps_the_last_good_one(tmp_path, capsys, monkeypatch, how):
    net, _ = run_passes(random_netlist(16, [40, 20], 2, seed=1))
    ir_path = tmp_path / "ir.json"
    net.save(ir_path)
    out = tmp_path / "icebreaker"
    previous = _previous_build(out)

    def interrupted_tool(cmd, cwd, env, log_path, on_line):
        log_path.write_text("synthesis under way\n")
        if how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal handler raises before this ends
            raise AssertionError("SIGTERM did not stop the build")
        raise KeyboardInterrupt

    monkeypatch.setattr(bitstream, "_run", interrupted_tool)
    before = signal.getsignal(signal.SIGTERM)
    args = ["bitstream", "--board", "icebreaker", "--model", str(ir_path), "--out", str(out)]
    assert main([*args, "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "gateflow: interrupted"
    assert _hashes(out) == previous
    assert not _leftovers(tmp_path) and not (tmp_path / "icebreaker.failed").exists()
    assert signal.getsignal(signal.SIGTERM) == before


def test_swap_replaces_only_when_the_new_build_is_in_place(tmp_path):
    out, new = tmp_path / "b", tmp_path / ".b.tmp-1"
    out.mkdir()
    (out / "report.json").write_text("old")
    new.mkdir()
    (new / "report.json").write_text("new")
    bitstream._swap(new, out)
    assert (out / "report.json").read_text() == "new" and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    with pytest.raises(FileNotFoundError):
        bitstream._swap(tmp_path / "missing", out)
    assert (out / "report.json").read_text() == "new"  # put back after the failed rename


def test_estimate_breakdown_and_fit():
    net, _ = run_passes(random_netlist(48, [160, 120], 4, seed=7))
    est = estimate_luts(net, load_board("icebreaker"))
    parts = est["parts"]
    assert set(parts) == {"gates", "threshold", "popcount", "argmax", "board"}
    assert est["core_luts"] == est["luts"] - parts["board"]
    assert est["luts"] == sum(parts.values())
    assert est["cells"] >= est["luts"] and est["capacity"] == 5280
    assert fit_check(net, load_board("icebreaker")) == est
    # a family name gives the same LUTs without the board's capacity
    by_family = estimate_luts(net, "ice40")
    assert by_family["luts"] == est["luts"] and "capacity" not in by_family
    assert "icebreaker" in boards_that_fit(net)
    # fewer registers let Yosys merge gates; no scores leave the board less to send
    assert estimate_luts(net, "ice40", pipeline_every=0)["parts"]["gates"] < parts["gates"]
    assert estimate_luts(net, "ice40", scores=False)["parts"]["board"] < parts["board"]


def test_threshold_neurons_are_priced_by_their_addends():
    binary, _ = run_passes(random_netlist(64, [200, 100], 5, seed=3, kind="binary", fan_in=12))
    est = estimate_luts(binary, "ecp5")
    assert est["parts"]["gates"] == 0 and est["parts"]["threshold"] > 500


def test_refusal_margin(big_ir):
    net = load(big_ir)
    with pytest.raises(FitError, match=r"\([2-5]\.\dx\); try smaller --widths"):
        fit_check(net, load_board("icebreaker"))
    assert estimate_luts(net, "icebreaker")["ratio"] > FIT_MARGIN
    fit_check(net, load_board("ulx3s"))  # 83640 LUTs: no refusal


def test_popcount_adder_bits():
    # gf_popcount over 4 inputs: two 2-bit adders, one 3-bit adder
    assert popcount_adder_bits(4) == 2 * 2 + 3
    assert popcount_adder_bits(1) == 0 and popcount_adder_bits(2) == 2
    assert popcount_adder_bits(100) == 292
