"""The CLI end to end: train -> export -> passes -> gen -> Verilator, and its errors."""

import re
import subprocess
import sys

import pytest


def run(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "gateflow.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.sim
@pytest.mark.slow
def test_sim_trains_generates_and_proves_bit_exact(tmp_path):
    out = tmp_path / "flow"
    proc = run("sim", "--out", str(out), "--widths", "600,600", "--steps", "400", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"^bit-exact: (\d+)/(\d+)$", proc.stdout, re.M)
    assert m and m.group(1) == m.group(2) == "360", proc.stdout
    sw = re.search(r"software accuracy: ([\d.]+)%", proc.stdout).group(1)
    hw = re.search(r"hardware accuracy: ([\d.]+)%", proc.stdout).group(1)
    assert sw == hw and float(sw) > 50
    # the same IR again through --model, and the IR's accuracy through eval
    ir_file = out / "model" / "ir.json"
    proc = run("sim", "--model", str(ir_file), "--out", str(tmp_path / "again"), "--limit", "50")
    assert proc.returncode == 0, proc.stderr
    assert "bit-exact: 50/50" in proc.stdout
    proc = run("eval", str(ir_file), "--checkpoint", str(out / "model" / "model.pt"))
    assert proc.returncode == 0, proc.stderr
    assert f"golden-model accuracy {sw}%" in proc.stdout
    assert "torch-vs-golden: 360/360" in proc.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["gen", "missing.json"], "no such file"),
        (["sim", "--model", "missing.json"], "no such file"),
        (["eval", "missing.json"], "no such file"),
        (["train", "--dataset", "mnist", "--data-dir", "/nonexistent-folder"], "does not exist"),
    ],
)
def test_errors_are_one_line(args, message):
    proc = run(*args)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr.lower()


@pytest.mark.parametrize(
    "args", [["train", "--widths", "0"], ["sim", "--pipeline-every", "-1"], ["gen"], ["frobnicate"]]
)
def test_bad_arguments_exit_with_usage(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr


COMMANDS = [
    "train", "gen", "sim", "eval", "passes", "info", "prove", "check", "bitstream",
    "boards", "program", "infer", "randnet", "bench", "train-ddp",
]  # fmt: skip


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help(cmd):
    proc = run(cmd, "--help")
    assert proc.returncode == 0 and "usage: gateflow" in proc.stdout


def test_every_command_is_listed():
    proc = run("--help")
    for cmd in COMMANDS:
        assert cmd in proc.stdout


def test_closed_pipe_is_not_a_traceback(tmp_path):
    import subprocess
    import sys

    from gateflow.ir.randnet import random_netlist

    random_netlist(6, [40, 40], 2, seed=0).save(tmp_path / "ir.json")
    proc = subprocess.run(
        f"'{sys.executable}' -m gateflow info '{tmp_path / 'ir.json'}' | head -c 1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.stdout == "{" and "Traceback" not in proc.stderr
