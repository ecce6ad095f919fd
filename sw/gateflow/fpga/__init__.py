"""From a netlist IR to a bitstream: boards, FuseSoC, the open toolchain, reports."""
