#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""FuseSoC generator gateflow_net (declared in gateflow_generators.core).

Runs with the interpreter FuseSoC finds as `python3`: the project's virtual
environment when it is first on PATH, as `make bitstream` arranges.
"""

import sys

try:
    from gateflow.fpga.generator import main
except ImportError:
    sys.exit("gateflow_net: the gateflow package is not importable; run through `make bitstream`")

sys.exit(main())
