"""gateflow: hardware-native neural networks from PyTorch to FPGA bitstreams with open tools."""

__version__ = "0.1.0"

__all__ = ["LogicGateClassifier", "ThresholdClassifier", "__version__"]


def __getattr__(name: str):
    # the classifiers import scikit-learn (and torch when fitted): loaded on first use so
    # that `gateflow --help` and the torch-free commands start fast
    if name in ("LogicGateClassifier", "ThresholdClassifier"):
        from gateflow import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'gateflow' has no attribute {name!r}")
