"""The netlist IR stage: the format and its validation (:mod:`.netlist`), the passes
(:mod:`.passes`), the golden model (:mod:`.golden`), the lowering of spatial layers to
flat logic layers (:mod:`.lower`) and random netlists (:mod:`.randnet`).

The format's API is re-exported here, so ``from gateflow import ir`` then
``ir.load(path)`` reads and validates an IR file.
"""

from gateflow.ir.netlist import (
    IR_FORMAT,
    IR_VERSION,
    MAX_CONV_DEPTH,
    MAX_FILE_BYTES,
    MAX_NEURON_SUM,
    MAX_SIGNALS,
    MAX_THRESHOLD,
    MAX_UNROLLED,
    MAX_WEIGHT,
    ConvLayer,
    FlattenLayer,
    GroupSum,
    IRError,
    LogicLayer,
    Netlist,
    OrPoolLayer,
    ThresholdLayer,
    from_dict,
    from_json,
    index_width,
    load,
    score_width,
    validate,
)

__all__ = [
    "IR_FORMAT",
    "IR_VERSION",
    "MAX_CONV_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NEURON_SUM",
    "MAX_SIGNALS",
    "MAX_THRESHOLD",
    "MAX_UNROLLED",
    "MAX_WEIGHT",
    "ConvLayer",
    "FlattenLayer",
    "GroupSum",
    "IRError",
    "LogicLayer",
    "Netlist",
    "OrPoolLayer",
    "ThresholdLayer",
    "from_dict",
    "from_json",
    "index_width",
    "load",
    "score_width",
    "validate",
]
