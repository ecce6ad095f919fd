"""Set-up step: run each YoWASP tool once so that its first-call compile happens now.

The first call of a YoWASP program compiles its WebAssembly (30-50 s for
Yosys) into the cache (YOWASP_CACHE_DIR, default ~/.cache/YoWASP); later calls
start in well under a second.
"""

from __future__ import annotations

import subprocess
import sys
import time

from gateflow.fpga.launcher import resolve

TOOLS = ("yosys", "nextpnr-ice40", "nextpnr-ecp5", "nextpnr-himbaechel", "icepack", "ecppack")


def main() -> int:
    for tool in TOOLS:
        t0 = time.perf_counter()
        proc = subprocess.run([resolve(tool), "--help"], capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            print(f"warm_yowasp: {tool} failed to start: {proc.stderr.strip()[-200:]}")
            return 1
        print(f"warm_yowasp: {tool} ready ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
