"""Verification: run cocotb testbenches under Verilator (see :mod:`gateflow.verify.runner`)."""

from gateflow.verify.runner import (
    DEFAULT_BUILD_ARGS,
    SimulationError,
    ToolNotFoundError,
    cache_dir,
    find_verilator,
    hw_rtl_dir,
    repo_root,
    rtl_source,
    run_cocotb,
    verilator_lint,
)

__all__ = [
    "DEFAULT_BUILD_ARGS",
    "SimulationError",
    "ToolNotFoundError",
    "cache_dir",
    "find_verilator",
    "hw_rtl_dir",
    "repo_root",
    "rtl_source",
    "run_cocotb",
    "verilator_lint",
]
