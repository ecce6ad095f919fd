"""Codegen: the netlist IR -> a SystemVerilog core, its board design and manifest.json."""
