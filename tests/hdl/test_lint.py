"""Lint: every hand-written module in hw/rtl and generated cores are clean under
``verilator --lint-only -Wall``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateflow.hdl.codegen import CoreOptions, generate
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import random_netlist
from gateflow.paths import RTL
from gateflow.verify.runner import verilator_lint

RTL_FILES = sorted(RTL.glob("*.sv"))
_INSTANCE = re.compile(r"^\s*(gf_\w+)\s*(?:#\s*\(|\w+\s*\()", re.M)
BOARD_TOP = "gf_board_top"


def _uses(path: Path) -> set[str]:
    text = re.sub(r"//.*", "", path.read_text())
    return {m.group(1) for m in _INSTANCE.finditer(text)} - {path.stem}


def _sources(path: Path, available: dict[str, Path]) -> list[Path]:
    """The file and, depth first, the hw/rtl files of the modules it instantiates."""
    order: list[Path] = []

    def visit(p: Path) -> None:
        for name in sorted(_uses(p)):
            if name in available and available[name] not in order:
                visit(available[name])
        if p not in order:
            order.append(p)

    visit(path)
    return order


def test_every_rtl_file_is_found():
    names = {p.stem for p in RTL_FILES}
    assert {"gf_popcount", "gf_argmax", "gf_skid_buffer"} <= names
    for p in RTL_FILES:
        assert re.search(rf"^\s*module\s+{p.stem}\b", p.read_text(), re.M), p.name


@pytest.mark.parametrize("path", RTL_FILES, ids=lambda p: p.stem)
def test_rtl_module_is_lint_clean(tmp_path, path):
    available = {p.stem: p for p in RTL_FILES}
    sources = _sources(path, available)
    missing = _uses(path) - set(available)
    params: dict[str, object] = {}
    if missing:
        # only the board top may need a generated core; lint it with one
        assert path.stem == BOARD_TOP and missing == {"gf_core"}, missing
        net, _ = run_passes(random_netlist(64, [120, 80, 40], 10, seed=3, skip_prob=0.2))
        core = generate(net, tmp_path / "core", CoreOptions(scores=False))
        m = core.manifest
        params = {
            "IN_BITS": m["input"]["width"],
            "OUT_WIDTH": m["output"]["width"],
            "N_CLASSES": m["num_classes"],
            "IDX_W": m["output"]["index_width"],
            "SCORE_W": m["output"]["score_width"],
            "SCORES": 0,
        }
        text = path.read_text()
        params = {k: v for k, v in params.items() if re.search(rf"\b{k}\b", text)}
        # the core folder holds the core and its copy of the RTL library; the rest is hw/rtl
        provided = {f.stem for f in core.files}
        sources = [*core.files, *[s for s in sources if s.stem not in provided]]
    report = verilator_lint(sources, toplevel=path.stem, parameters=params)
    assert report == "", report


@pytest.fixture(scope="module")
def net():
    net, _ = run_passes(random_netlist(32, [60, 50, 40, 30], 3, seed=2, skip_prob=0.3))
    return net


@pytest.mark.parametrize(
    "every, scores, top",
    [(0, True, "gf_core"), (1, True, "gf_core"), (3, False, "gf_core"), (2, True, "my_core")],
)
def test_generated_core_is_lint_clean(tmp_path, net, every, scores, top):
    core = generate(net, tmp_path, CoreOptions(pipeline_every=every, scores=scores, top=top))
    report = verilator_lint(core.files, toplevel=core.top)
    assert report == "", report
    # the network module alone, too
    report = verilator_lint([tmp_path / f"{top}_net.sv"], toplevel=f"{top}_net")
    assert report == "", report


@pytest.mark.parametrize("kind", ["binary", "integer", "mixed"])
def test_threshold_core_is_lint_clean(tmp_path, kind):
    raw = random_netlist(32, [60, 50, 30], 3, seed=2, skip_prob=0.3, kind=kind, fan_in=12)
    for passes, sub in (((), "raw"), (("fold", "dce"), "folded")):
        net, _ = run_passes(raw, passes)
        core = generate(net, tmp_path / sub, CoreOptions(pipeline_every=1))
        report = verilator_lint(core.files, toplevel=core.top)
        assert report == "", report


def test_single_class_unpruned_core_is_lint_clean(tmp_path):
    raw = random_netlist(8, [16, 8], 1, seed=1, skip_prob=0.5)  # dead gates, one class
    core = generate(raw, tmp_path, CoreOptions(pipeline_every=1))
    report = verilator_lint(core.files, toplevel=core.top)
    assert report == "", report


def test_lint_reports_a_problem(tmp_path):
    """The check can fail: an unused input is reported under -Wall."""
    bad = tmp_path / "gf_bad.sv"
    bad.write_text("module gf_bad (input wire a, input wire b, output wire y);\n"
                   "  assign y = a;\nendmodule\n")  # fmt: skip
    assert "UNUSED" in verilator_lint([bad], toplevel="gf_bad")
