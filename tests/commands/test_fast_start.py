"""The command line starts without torch: the parser, --version, check, info and gen
import no torch module (torch is loaded only by the commands that train or evaluate
torch models)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from gateflow.cli import main
code = main({argv!r})
assert code == 0, code
print("torch" in sys.modules)
"""


def _torch_loaded(argv: list[str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_import_cli_loads_no_torch():
    code = "import gateflow.cli, sys; gateflow.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture(scope="module")
def ir_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fast") / "ir.json"
    from gateflow.cli import main

    assert main(["randnet", "--inputs", "16", "--widths", "20,20", "--out", str(path)]) == 0
    return path


@pytest.mark.parametrize("command", ["check", "info", "gen"])
def test_command_runs_without_torch(command, ir_file, tmp_path):
    argv = [command, str(ir_file)]
    if command == "gen":
        argv += ["--out", str(tmp_path / "core")]
    assert _torch_loaded(argv) == "False"
