"""A wheel built from the repository carries everything gateflow reads at run time
(RTL library, templates, board files, FuseSoC cores, constraints, testbenches), and
the package it holds finds them and runs the flow from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gateflow.paths import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(REPO)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (found,) = out.glob("gateflow-*.whl")
    return found


def test_wheel_carries_the_non_python_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    share = "gateflow/_share/"
    for folder in ("hw/rtl", "hw/templates", "hw/boards", "constraints", "sim"):
        repo_files = {
            p.relative_to(REPO).as_posix()
            for p in (REPO / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert repo_files, folder
        missing = {f for f in repo_files if share + f not in names}
        assert not missing, f"the wheel lacks {sorted(missing)[:5]}"
    for core in ("hw/gateflow_rtl.core", "hw/gateflow_generators.core", "hw/gateflow_gen.py"):
        assert share + core in names


@pytest.mark.sim
def test_unpacked_wheel_simulates_bit_exact_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = "import gateflow.paths as p; print(p.INSTALLED, p.RTL)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    installed, rtl = out.stdout.split()
    assert installed == "True" and Path(rtl).is_relative_to(site), out.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "gateflow.cli", "sim", "--out", "run", "--steps", "60",
         "--limit", "64", "--no-progress"],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bit-exact: 64/64" in proc.stdout, proc.stdout
