"""gateflow: hardware-native neural networks from PyTorch to FPGA bitstreams with open tools."""

__version__ = "0.1.0"
