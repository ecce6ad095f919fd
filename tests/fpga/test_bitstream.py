"""A real bitstream through FuseSoC, Yosys and nextpnr (iCEBreaker, small network)."""

import hashlib
import json
import shutil
import subprocess
import sys

import pytest

import gateflow.fpga.bitstream as bitstream
from gateflow.fpga.bitstream import BuildError, BuildOptions, build, check_report
from gateflow.fpga.boards import load_board
from gateflow.ir.passes import run_passes
from gateflow.ir.randnet import parse_spatial, random_conv_netlist, random_netlist

pytestmark = [pytest.mark.fpga, pytest.mark.slow]

FIELDS = {
    "board": str,
    "device": str,
    "bitstream": str,
    "luts": int,
    "ffs": int,
    "brams": int,
    "luts_available": int,
    "fmax_mhz": float,
    "target_mhz": float,
    "latency_cycles": int,
    "core_luts": int,
}


@pytest.fixture(scope="module")
def small_net():
    net, _ = run_passes(random_netlist(48, [160, 120], 4, seed=7))
    return net


# The LUT estimate (gateflow.fpga.estimate) against the measured figures of the builds
# below: within this factor either way, so that the calibration cannot silently rot.
ESTIMATE_FACTOR = 1.3

PROGRESS: list[str] = []


@pytest.fixture(scope="module")
def icebreaker_build(tmp_path_factory, small_net):
    out = tmp_path_factory.mktemp("icebreaker") / "build"
    report = build(
        load_board("icebreaker"),
        small_net,
        out,
        BuildOptions(seed=1, form="spatial"),
        progress=PROGRESS.append,
    )
    return out, report


def _within(estimate, measured, factor=ESTIMATE_FACTOR):
    return measured / factor <= estimate <= measured * factor


def test_report_has_every_field(icebreaker_build):
    out, report = icebreaker_build
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["bitstream"] == report["bitstream"]
    for field, kind in FIELDS.items():
        assert isinstance(on_disk[field], kind), field
    assert on_disk["board"] == "icebreaker" and on_disk["device"] == "iCE40UP5K-SG48"
    assert on_disk["luts_available"] == 5280
    assert on_disk["timing_met"] and on_disk["fmax_mhz"] >= on_disk["target_mhz"] == 12.0
    # the network core alone is smaller than the whole design (UART, framing, FIFOs)
    assert 0 < on_disk["core_luts"] < on_disk["luts"] <= on_disk["luts_available"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert on_disk["latency_cycles"] == manifest["latency_cycles"]
    assert manifest["board"]["clk_hz"] == 12_000_000


def test_progress_lines(icebreaker_build):
    """One line per stage, in order, with the elapsed time and the utilisation."""
    stages = [line.split("] ", 1)[1] for line in PROGRESS]
    assert all(line.startswith("gateflow bitstream icebreaker: [") for line in PROGRESS)
    order = [
        "estimate: about",
        "codegen",
        "synthesis (Yosys)",
        "place & route (nextpnr)",
        "utilisation: ",
        "bitstream (icepack)",
        "synthesis of the network core alone",
        "done: ",
    ]
    found = [next(i for i, s in enumerate(stages) if s.startswith(o)) for o in order]
    assert found == sorted(found), stages
    _, report = icebreaker_build
    placement = next(s for s in stages if s.startswith("utilisation: "))
    assert placement.startswith(f"utilisation: {report['logic_cells']}/5280 ICESTORM_LC")


def test_estimate_matches_the_build(icebreaker_build):
    out, report = icebreaker_build
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["luts_estimate"] == report["luts_estimate"]
    assert _within(report["luts_estimate"], report["luts"]), report
    assert _within(report["logic_cells_estimate"], report["logic_cells"]), report
    assert _within(report["core_luts_estimate"], report["core_luts"]), report
    assert set(report["estimate"]) == {"gates", "threshold", "popcount", "argmax", "board"}


def test_no_path_into_the_temporary_folder(icebreaker_build):
    """The build ran in a temporary folder beside ``out``; nothing in the result names it."""
    out, report = icebreaker_build
    assert report["bitstream"] == str(out / "icebreaker.bin")
    assert [p.name for p in out.parent.iterdir()] == ["build"]
    for path in out.rglob("*"):
        if path.is_file() and path.stat().st_size < 64 << 20:
            assert b".build.tmp-" not in path.read_bytes(), path
    core = (out / "cores" / "gateflow_build.core").read_text()
    assert "ir: ../ir.json" in core


def test_a_failing_tool_keeps_the_last_good_build(icebreaker_build, small_net, monkeypatch):
    """A real FuseSoC run whose first tool fails: the previous build stays byte-identical
    and the failure's logs go to build.failed/."""
    out, _ = icebreaker_build

    def hashes():
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (out / "icebreaker.bin", out / "report.json", out / "manifest.json")
        }

    before = hashes()
    real_env = bitstream.tool_env

    def failing_launcher():
        env = real_env()
        env["EDALIZE_LAUNCHER"] = f"{sys.executable} -c 'raise SystemExit(3)'"
        return env

    monkeypatch.setattr(bitstream, "tool_env", failing_launcher)
    with pytest.raises(BuildError, match="build failed") as exc:
        build(load_board("icebreaker"), small_net, out, BuildOptions(core_luts=False))
    failed = out.with_name("build.failed")
    assert f"the previous build in {out} is unchanged; logs: {failed}" in str(exc.value)
    assert "Entering directory" in (failed / "build.log").read_text()
    assert hashes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["build", "build.failed"]
    for path in failed.rglob("*"):  # the kept logs name their own folder, not the tmp one
        if path.is_file() and path.stat().st_size < 64 << 20:
            assert b".build.tmp-" not in path.read_bytes(), path
    shutil.rmtree(failed)


def test_bitstream_is_an_ice40_image(icebreaker_build):
    out, report = icebreaker_build
    data = open(report["bitstream"], "rb").read()
    assert len(data) > 100_000  # an UP5K image is about 104 kB
    assert data[:4] == b"\xff\x00\x00\xff"  # iCE40 bitstream preamble (after the comment)


def test_same_seed_same_bitstream(tmp_path, icebreaker_build, small_net):
    """Reproducible builds: the same IR and nextpnr seed give a byte-identical bitstream."""
    _, first = icebreaker_build
    again = build(
        load_board("icebreaker"),
        small_net,
        tmp_path / "again",
        BuildOptions(core_luts=False, form="spatial"),  # the fixture's options
    )
    assert open(again["bitstream"], "rb").read() == open(first["bitstream"], "rb").read()


def test_verdicts(icebreaker_build):
    _, report = icebreaker_build
    check_report(report)
    with pytest.raises(BuildError, match="does not fit: .* luts of 100"):
        check_report({**report, "luts_available": 100})
    with pytest.raises(BuildError, match="timing not met: Fmax .* < target 900 MHz"):
        check_report({**report, "target_mhz": 900.0})
    check_report({**report, "target_mhz": 900.0}, check_timing=False)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gateflow.cli", *args], capture_output=True, text=True
    )


def test_cli_unknown_board_lists_the_known_ones():
    proc = _cli("bitstream", "--board", "nosuchboard", "--model", "x.json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("gateflow: error: unknown board 'nosuchboard'")
    for name in ("icebreaker", "ulx3s", "orangecrab", "tangnano9k"):
        assert name in line


def test_cli_missing_model():
    proc = _cli("bitstream", "--board", "icebreaker", "--model", "missing/ir.json")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "gateflow: error: IR file not found: missing/ir.json"


def test_program_without_a_build(tmp_path):
    proc = _cli("program", "--board", "icebreaker", "--out", str(tmp_path / "none"))
    assert proc.returncode == 1
    assert "run `make bitstream BOARD=icebreaker` first" in proc.stderr


def test_threshold_network_builds(tmp_path):
    """A network of threshold neurons (popcount and signed shift-and-add) through the same
    board flow: it fits, meets timing and reports its core."""
    net, _ = run_passes(random_netlist(48, [60, 40, 40], 4, seed=7, kind="mixed", fan_in=10))
    assert {layer.kind for layer in net.layers} == {"logic", "threshold"}
    report = build(load_board("icebreaker"), net, tmp_path / "build", BuildOptions(seed=1))
    check_report(report)
    assert 0 < report["core_luts"] < report["luts"]
    assert _within(report["luts_estimate"], report["luts"]), report
    assert _within(report["logic_cells_estimate"], report["logic_cells"]), report
    manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())
    assert manifest["num_gates"] == net.num_gates


def test_report_breaks_the_core_down_by_part(icebreaker_build):
    _, report = icebreaker_build
    parts = report["breakdown"]
    # (a part without cells of its own, such as an empty wrapper, is left out)
    assert {"network", "popcount", "argmax", "board"} <= set(parts)
    assert all(p["luts"] or p["ffs"] for name, p in parts.items() if name != "board")
    core = sum(p["luts"] for name, p in parts.items() if name != "board")
    # a hierarchical synthesis, counted by part, against the flat one
    assert abs(core - report["core_luts"]) <= 0.3 * report["core_luts"], parts
    assert parts["board"]["luts"] == report["luts"] - report["core_luts"]


def test_conv_net_builds_as_the_engine_on_the_icebreaker(tmp_path):
    """The iCEBreaker's default form for a conv netlist is the time-multiplexed engine,
    with the sequential core as its dense tail (dense_form seq): it builds, meets
    timing, and its report says so, with the engine's parts and its block RAMs."""
    spec = [parse_spatial("conv:8,k=3,p=1,d=2"), parse_spatial("pool")]
    net, _ = run_passes(random_conv_netlist((8, 8, 2), spec, [60, 30], 10, seed=7))
    report = build(load_board("icebreaker"), net, tmp_path / "b", BuildOptions(seed=1))
    assert report["form"] == "tm" and report["tail"] == "seq" and report["timing_met"]
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert report["cycles_per_sample"] == manifest["cycles_per_sample"]
    assert manifest["engine"]["tail"] == "seq"
    assert {"engine", "conv trees", "seq"} <= set(report["breakdown"])
    assert report["breakdown"]["engine"]["ffs"] >= net.num_inputs  # the sample register
    assert _within(report["core_luts_estimate"], report["core_luts"], 1.5), report
    assert _within(report["logic_cells_estimate"], report["logic_cells"], 1.5), report
    assert report["brams"] <= report["brams_estimate"] <= 30


def test_dense_net_builds_as_the_sequential_core_on_the_icebreaker(
    tmp_path, small_net, icebreaker_build
):
    """The iCEBreaker's default form for a dense netlist is the sequential core: it
    builds, meets timing, takes fewer LUTs than the spatial build of the same net, and
    its estimate holds the block RAMs it used."""
    report = build(load_board("icebreaker"), small_net, tmp_path / "b", BuildOptions(seed=1))
    assert report["form"] == "seq" and report["timing_met"]
    assert report["luts"] < icebreaker_build[1]["luts"]  # the same net built spatially
    assert set(report["estimate"]) == {"seq", "board"} and "seq" in report["breakdown"]
    assert _within(report["core_luts_estimate"], report["core_luts"]), report
    assert report["brams"] <= report["brams_estimate"] <= 30
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert report["cycles_per_sample"] == manifest["cycles_per_sample"]
