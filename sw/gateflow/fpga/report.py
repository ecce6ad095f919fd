"""Resource and timing figures of a build, from nextpnr's JSON report and Yosys."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from gateflow.errors import GateflowError
from gateflow.fpga.boards import Board
from gateflow.fpga.families import FAMILIES
from gateflow.fpga.launcher import resolve
from gateflow.hdl.library import BOARD_RTL
from gateflow.paths import RTL


def read_nextpnr_report(path: Path, board: Board, netlist: Path, top: str) -> dict[str, Any]:
    """luts and ffs of the synthesised ``netlist`` (counted as for core_luts), the device's
    LUT, flip-flop and block RAM capacity, block RAMs used and the post-route Fmax."""
    if not path.exists():
        raise GateflowError(f"nextpnr wrote no report ({path.name})")
    data = json.loads(path.read_text())
    util = data.get("utilization", {})
    fam = FAMILIES[board.family]
    lut_key, ff_key, ram_key = fam.lut_bel, fam.ff_bel, fam.ram_bel

    def used(key: str) -> int:
        return int(util.get(key, {}).get("used", 0))

    def available(key: str, default: int) -> int:
        return int(util.get(key, {}).get("available", default))

    fmax = data.get("fmax", {})
    achieved = [v.get("achieved", 0.0) for v in fmax.values()]
    luts, ffs = cell_counts(netlist_cells(netlist, top), board.family)
    out = {
        "luts": luts,
        "luts_available": available(lut_key, board.resources["luts"]),
        "ffs": ffs,
        "ffs_available": available(ff_key, board.resources["ffs"]),
        "brams": used(ram_key),
        "brams_available": available(ram_key, board.resources["brams"]),
        "fmax_mhz": round(min(achieved), 2) if achieved else 0.0,
        "utilization": {k: v for k, v in sorted(util.items()) if v.get("used")},
    }
    if board.family == "ice40":
        # An iCE40 logic cell holds a LUT4, a carry and a flip-flop; nextpnr counts cells.
        out["logic_cells"] = used(lut_key)
    return out


def netlist_cells(netlist: Path, top: str) -> dict[str, int]:
    """Cell types and counts of the synthesised (flat) top module in a Yosys JSON netlist."""
    data = json.loads(netlist.read_text())
    cells = data["modules"][top]["cells"].values()
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return counts


_FF = re.compile(r"^(SB_DFF\w*|TRELLIS_FF|DFF\w*)$")


def cell_counts(cells: dict[str, int], family: str) -> tuple[int, int]:
    """(LUTs, flip-flops) of a Yosys ``stat`` cell table."""
    luts = sum(n * cells.get(c, 0) for c, n in FAMILIES[family].lut_cells)
    ffs = sum(v for c, v in cells.items() if _FF.match(c.lstrip("$")))
    return luts, ffs


def core_resources(board: Board, work: Path, out: Path) -> dict[str, Any]:
    """Synthesise the network core alone (no UART, framing or FIFOs): core_luts, core_ffs."""
    found = [p for p in work.rglob("manifest.json") if (p.parent / "gf_core.sv").exists()]
    if not found:
        raise GateflowError("the generated core is missing from the build folder")
    return synth_core(
        board.family, board.synth_command, found[0].parent, out, parts=board.family != "gowin"
    )


def synth_core(
    family: str,
    synth_command: str,
    core_dir: Path,
    out: Path,
    top: str = "gf_core",
    parts: bool = False,
) -> dict[str, Any]:
    """Synthesise a generated core (the sources its manifest.json in ``core_dir`` lists,
    without the board design; the RTL library from hw/rtl) for an FPGA family with
    ``synth_command`` (e.g. ``synth_ecp5``): core_luts, core_ffs. With ``parts``, also
    ``core_parts``: a second, hierarchical synthesis counted by part (:func:`breakdown`;
    its total may differ a little from the flat one's, which optimises across modules)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest = json.loads((core_dir / "manifest.json").read_text())
    board = set(BOARD_RTL) | ({manifest["board"]["top"] + ".sv"} if "board" in manifest else set())
    names = [n for n in manifest["files"] if n not in board]
    for n in names:
        shutil.copyfile(RTL / n if (RTL / n).exists() else core_dir / n, out / n)
    stat = _yosys_stat(out, names, f"{synth_command} -top {top}", "stat.json")
    cells = _top_cells(stat, top)
    luts, ffs = cell_counts(cells, family)
    result: dict[str, Any] = {"core_luts": luts, "core_ffs": ffs}
    if parts:
        hier = _yosys_stat(out, names, f"{synth_command} -noflatten -top {top}", "parts.json")
        result["core_parts"] = breakdown(hier, top, family)
    return result


def synth_module(family: str, sources: list[Path], top: str, out: Path) -> dict[str, int]:
    """The cells of the module ``top`` of ``sources`` synthesised alone by Yosys for an FPGA
    family (its files are copied into ``out``, which is emptied first), by type."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for src in sources:
        shutil.copyfile(src, out / src.name)
    synth = f"{FAMILIES[family].synth_command} -top {top}"
    stat = _yosys_stat(out, [s.name for s in sources], synth, "stat.json")
    return dict(_top_cells(stat, top))


def _top_cells(stat: dict[str, Any], top: str) -> dict[str, int]:
    """The cell table of a Yosys ``stat -json`` for the design under ``top``."""
    design = stat.get("design", {}).get("num_cells_by_type")
    return design or stat["modules"][f"\\{top}"].get("num_cells_by_type", {})


def _yosys_stat(out: Path, names: list[str], synth: str, stat_file: str) -> dict[str, Any]:
    script = f"read_verilog -sv {' '.join(names)}; {synth}; tee -q -o {stat_file} stat -json"
    # Relative paths only: YoWASP tools cannot see absolute paths under /tmp.
    log_file = stat_file.replace(".json", ".log")
    proc = subprocess.run(
        [resolve("yosys"), "-q", "-l", log_file, "-p", script],
        cwd=out,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise GateflowError(f"Yosys failed on the core alone (see {out / log_file})")
    return json.loads((out / stat_file).read_text())


# What each generated or library module is, for the breakdown (the first match counts)
_PARTS = (
    (re.compile(r"_net$"), "network"),
    (re.compile(r"_s\d+$"), "conv trees"),
    (re.compile(r"^gf_(popcount|serial_groupsum)"), "popcount"),
    (re.compile(r"^gf_argmax"), "argmax"),
    (re.compile(r"^gf_(window|image_source|pos_words)"), "engine"),
    (re.compile(r"_tail$"), "head"),
    (re.compile(r"^gf_gate_seq|_rom$"), "seq"),
)


def breakdown(stat: dict[str, Any], top: str, family: str) -> dict[str, dict[str, int]]:
    """LUTs and flip-flops of a hierarchical Yosys ``stat -json`` by part of the core:
    ``network`` (the gate network), ``conv trees`` (an engine's stage logic),
    ``popcount`` (GroupSum: popcount trees, or an engine's serial GroupSum), ``argmax``,
    ``engine`` (an engine's source, stages and collector), ``seq`` (the sequential core,
    gf_gate_seq and its program ROM) and ``head`` (the dense core's own registers and
    output buffer)."""
    modules = stat["modules"]
    engine_top = any(m.lstrip("\\").endswith("_tail") for m in modules)
    out: dict[str, dict[str, int]] = {}

    def walk(name: str, times: int) -> None:
        cells = modules[name].get("num_cells_by_type", {})
        leaf = {c: n for c, n in cells.items() if c not in modules and f"\\{c}" not in modules}
        luts, ffs = cell_counts(leaf, family)
        bare = name.lstrip("\\")
        if bare == top:
            part = "engine" if engine_top else "head"
        else:
            part = next((p for pat, p in _PARTS if pat.search(_base(bare))), "head")
        slot = out.setdefault(part, {"luts": 0, "ffs": 0})
        slot["luts"] += times * luts
        slot["ffs"] += times * ffs
        for c, n in cells.items():
            sub = c if c in modules else f"\\{c}"
            if sub in modules:
                walk(sub, times * n)

    walk(f"\\{top}" if f"\\{top}" in modules else top, 1)
    return {k: out[k] for k in sorted(out) if out[k]["luts"] or out[k]["ffs"]}


def _base(name: str) -> str:
    """A module's name without Yosys' parameter suffix ($paramod\\gf_popcount\\...)."""
    return name.split("\\")[1] if name.startswith("$paramod") else name
