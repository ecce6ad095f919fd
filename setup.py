"""Package data beyond pyproject.toml: a wheel carries the repository's hw/, sim/ and
constraints/ (RTL library, templates, board files, FuseSoC cores, testbenches) as
``gateflow/_share``, where :mod:`gateflow.paths` finds them. An editable install
(``pip install -e .``, the Makefile's set-up) copies nothing and uses the checkout."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHARED = ("hw", "sim", "constraints")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "sim_build", "results.xml", "*.vcd")


class BuildPyWithShare(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        share = Path(self.build_lib) / "gateflow" / "_share"
        for name in SHARED:
            target = share / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / name, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithShare})
