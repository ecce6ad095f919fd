"""scikit-learn-style classifiers: train on arrays, predict, and take the model to hardware.

>>> clf = LogicGateClassifier(steps=1000).fit(X_train, y_train)   # doctest: +SKIP
>>> clf.score(X_test, y_test)                                      # doctest: +SKIP
>>> clf.simulate(X_test).bit_exact                                 # doctest: +SKIP

``X`` holds real-valued (or integer) features, ``y`` any labels (integers or strings).
The thermometer encoder is fitted on ``X`` and travels with the model, so every later
step (``predict``, the generated core, the board) takes raw features exactly as in
training. ``predict`` runs the golden model of the exported netlist: the function the
hardware computes, bit for bit. The estimators follow scikit-learn's conventions
(``get_params`` / ``set_params``, ``clone``, ``GridSearchCV``, ``cross_val_score``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from gateflow.data.tabular import finite_features
from gateflow.errors import GateflowError

CLASSIFIER_FORMAT = "gateflow.classifier"


class NotFittedError(GateflowError, AttributeError):
    """A classifier used before ``fit``."""


def _as_features(X: Any, what: str = "X") -> tuple[np.ndarray, tuple[str, ...] | None]:
    """(float64 [n, F], column names of a DataFrame or None), or a clear error."""
    names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame
        names = tuple(str(c) for c in X.columns)
        X = X.to_numpy()
    X = finite_features(X, what, names)
    return X, names


class _Classifier(ClassifierMixin, BaseEstimator):
    """What both classifiers share; subclasses name their family (``_arch``) and their
    parameters (the keyword arguments of ``__init__``, scikit-learn style)."""

    def _family(self) -> str:
        raise NotImplementedError

    def _config(self, num_features: int):
        from gateflow.train.config import DEFAULTS

        params = self.get_params()
        arch = self._family()
        base = DEFAULTS[arch]
        changes: dict[str, Any] = {}
        for name, value in params.items():
            if name in ("arch", "progress") or value is None:
                continue
            changes[name] = list(value) if name in ("widths", "thresholds") else value
        if params.get("thresholds") is not None and params.get("encoding") is None:
            changes["encoding"] = "fixed"
        return base.replace(
            arch=arch,
            dataset="array",
            auto_widths=params.get("widths") is None,
            **changes,
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any) -> _Classifier:
        """Train on ``X`` [n, F] and labels ``y`` [n]; the classes are ``np.unique(y)``."""
        from gateflow.data import Dataset
        from gateflow.ir.passes import run_passes
        from gateflow.train.config import fit_to_data
        from gateflow.train.export import export
        from gateflow.train.flow import check_against_torch
        from gateflow.train.logic import train

        X, names = _as_features(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise GateflowError(f"y must be 1-D with one label per row of X ({X.shape[0]})")
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise GateflowError(f"y holds one class only ({classes[0]!r}); a classifier needs two")
        class_names = tuple(str(c) for c in classes)
        if len(set(class_names)) != len(class_names):
            raise GateflowError("two labels of y print the same; use distinct labels")
        data = Dataset(
            name="array",
            X_train=X,
            y_train=codes.astype(np.int64),
            X_test=X[:0],
            y_test=codes[:0].astype(np.int64),
            shape=None,
            num_classes=int(classes.size),
            class_names=class_names,
            feature_names=names,
        )
        config = fit_to_data(self._config(X.shape[1]), data.num_classes)
        model, result = train(config, progress=bool(self.progress), data=data)
        raw = export(model, {"dataset": "array"}, class_names=class_names)
        net, _ = run_passes(raw)
        check_against_torch(net, model, X, "fit")
        self.classes_ = classes
        self.n_features_in_ = int(X.shape[1])
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.net_ = net
        self.model_ = model
        self.config_ = config
        self.result_ = result
        return self

    def _net(self):
        net = getattr(self, "net_", None)
        if net is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        return net

    def _scores(self, X: Any) -> np.ndarray:
        from gateflow.ir.golden import evaluate

        net = self._net()
        X, _ = _as_features(X)
        if X.shape[1] != self.n_features_in_:
            raise GateflowError(
                f"X has {X.shape[1]} features, the classifier was fitted on {self.n_features_in_}"
            )
        return evaluate(net, X).scores

    # --------------------------------------------------------------- prediction
    def decision_function(self, X: Any) -> np.ndarray:
        """The class scores (GroupSum popcounts, as the hardware outputs them) [n, C];
        for two classes, scikit-learn's convention: score of class 1 minus class 0."""
        s = self._scores(X).astype(np.float64)
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def predict_proba(self, X: Any) -> np.ndarray:
        """softmax(scores / tau): the probabilities the network was trained to give."""
        s = self._scores(X).astype(np.float64) / float(self.config_.tau)
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row (ties go to the lowest class, as in the hardware)."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    # --------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> Path:
        """Write the fitted classifier to the folder ``path``: ir.json, model.pt and
        classifier.json (its parameters and classes)."""
        net = self._net()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        net.save(out / "ir.json")
        self.model_.save(out / "model.pt")
        classes = self.classes_
        info = {
            "format": CLASSIFIER_FORMAT,
            "class": type(self).__name__,
            "params": self.get_params(),
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str,
            "config": self.config_.to_dict(),
            "feature_names": getattr(self, "feature_names_in_", np.array([])).tolist() or None,
        }
        (out / "classifier.json").write_text(json.dumps(info, indent=1) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> _Classifier:
        """A classifier written by :meth:`save`."""
        from gateflow import ir
        from gateflow.train.config import TrainConfig
        from gateflow.train.flow import load_model

        folder = Path(path)
        try:
            info = json.loads((folder / "classifier.json").read_text())
        except (OSError, ValueError) as exc:
            raise GateflowError(f"{folder}: not a saved gateflow classifier ({exc})") from None
        if info.get("format") != CLASSIFIER_FORMAT:
            raise GateflowError(f"{folder}: not a saved gateflow classifier")
        kinds = {c.__name__: c for c in (LogicGateClassifier, ThresholdClassifier)}
        kind = kinds.get(info.get("class"), cls)
        clf = kind(**info["params"])
        clf.classes_ = np.asarray(info["classes"], dtype=np.dtype(info["classes_dtype"]))
        clf.net_ = ir.load(folder / "ir.json")
        clf.model_ = load_model(folder / "model.pt")
        clf.config_ = TrainConfig.from_dict(info["config"])
        clf.n_features_in_ = clf.net_.encoder.num_raw_features
        if info.get("feature_names"):
            clf.feature_names_in_ = np.asarray(info["feature_names"], dtype=object)
        return clf

    # ------------------------------------------------------------------ hardware
    def export_ir(self, path: str | Path) -> Path:
        """Write the netlist IR (after the passes) to ``path``."""
        path = Path(path)
        self._net().save(path)
        return path

    def generate(self, out_dir: str | Path, **options: Any):
        """Generate the SystemVerilog core into ``out_dir``; ``options`` are
        :class:`gateflow.hdl.codegen.CoreOptions` fields (pipeline_every, scores, ...)."""
        from gateflow.hdl.codegen import CoreOptions, generate

        return generate(self._net(), out_dir, CoreOptions(**options))

    def simulate(self, X: Any, out_dir: str | Path = "build/classifier-sim", **options: Any):
        """Generate the core and stream ``X`` through it under Verilator, checking every
        output bit against the golden model; returns the SimReport (``.ok``,
        ``.bit_exact``, ``.total``, ``.hw_pred`` as class indices into ``classes_``)."""
        from gateflow.verify.simulate import simulate

        net = self._net()
        X, _ = _as_features(X)
        out = Path(out_dir)
        core = self.generate(out / "core", **options)
        return simulate(core, net, net.encoder.encode(X), out / "sim")

    def bitstream(self, board: str = "icebreaker", out_dir: str | Path | None = None, **options):
        """Build the bitstream for ``board`` (``gateflow boards`` lists them) into
        ``out_dir`` (default build/<board>); ``options`` are
        :class:`gateflow.fpga.bitstream.BuildOptions` fields. Returns the build report."""
        from gateflow.fpga.bitstream import BuildOptions, build
        from gateflow.fpga.boards import load_board

        b = load_board(board)
        out = Path(out_dir) if out_dir is not None else Path("build") / b.build_name
        return build(b, self._net(), out, BuildOptions(**options))

    def board(self, port: str = "sim", build: str | Path | None = None, **options: Any):
        """Open the board that runs this model: ``port="sim"`` simulates the board top
        under Verilator (its build generated into ``build``, default build/classifier-board);
        a serial port needs ``build``, the folder of a bitstream build of this model.
        Returns a :class:`gateflow.host.Board` (a context manager); its ``predict`` takes
        raw features and ``predict_labels`` gives the class names."""
        from gateflow.host import Board, prepare_sim_build

        net = self._net()
        if port == "sim":
            folder = Path(build) if build is not None else Path("build/classifier-board")
            folder.mkdir(parents=True, exist_ok=True)
            ir_path = self.export_ir(folder / "model-ir.json")
            folder = prepare_sim_build(ir_path, folder)
        else:
            if build is None:
                raise GateflowError("a real board needs build=: the folder of its bitstream build")
            folder = Path(build)
        board = Board.open(port, build=folder, **options)
        if board.in_bits != net.num_inputs:
            board.close()
            raise GateflowError(f"the build in {folder} is not this classifier's model")
        return board


class LogicGateClassifier(_Classifier):
    """A logic gate network (every neuron one of the 16 two-input gates, GroupSum head).

    Parameters left at None take the defaults of ``gateflow train`` (the lgn digits
    network), except that the last width follows the classes: 100 outputs per class.
    ``encoding`` is ``quantile`` (default), ``uniform`` or ``fixed`` (with
    ``thresholds``), with ``bits_per_feature`` thermometer bits per feature.
    ``candidates`` learns each gate's inputs (``K`` random candidates, or -1 for every
    input of the layer; docs/training.md).
    """

    def __init__(
        self,
        widths: list[int] | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        tau: float | None = None,
        mode: str | None = None,
        connections: str | None = None,
        candidates: int | None = None,
        residual_init: bool | None = None,
        temperature: float | None = None,
        schedule: str | None = None,
        encoding: str | None = "quantile",
        bits_per_feature: int | None = 8,
        thresholds: list[float] | None = None,
        val_fraction: float | None = None,
        early_stopping: int | None = None,
        seed: int | None = 0,
        threads: int | None = 1,
        device: str | None = "cpu",
        progress: bool = False,
    ) -> None:
        self.widths = widths
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.tau = tau
        self.mode = mode
        self.connections = connections
        self.candidates = candidates
        self.residual_init = residual_init
        self.temperature = temperature
        self.schedule = schedule
        self.encoding = encoding
        self.bits_per_feature = bits_per_feature
        self.thresholds = thresholds
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.seed = seed
        self.threads = threads
        self.device = device
        self.progress = progress

    def _family(self) -> str:
        return "lgn"


class ThresholdClassifier(_Classifier):
    """A threshold network: ``arch="binary"`` ({0,1} weights), ``"bitlevel"`` (integer
    weights trained bit by bit) or ``"switcher"`` (weights masked by a learned switcher).

    Parameters left at None take the family's defaults of ``gateflow train --arch``,
    except that the last width follows the classes: 10 outputs per class.
    """

    def __init__(
        self,
        arch: str = "binary",
        widths: list[int] | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        tau: float | None = None,
        schedule: str | None = None,
        density: float | None = None,
        weight_bits: int | None = None,
        trained_bits: int | None = None,
        levels: int | None = None,
        sparsity: float | None = None,
        sparsity_ramp: float | None = None,
        switcher_lr: float | None = None,
        encoding: str | None = "quantile",
        bits_per_feature: int | None = 8,
        thresholds: list[float] | None = None,
        val_fraction: float | None = None,
        early_stopping: int | None = None,
        seed: int | None = 0,
        threads: int | None = 1,
        device: str | None = "cpu",
        progress: bool = False,
    ) -> None:
        self.arch = arch
        self.widths = widths
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.tau = tau
        self.schedule = schedule
        self.density = density
        self.weight_bits = weight_bits
        self.trained_bits = trained_bits
        self.levels = levels
        self.sparsity = sparsity
        self.sparsity_ramp = sparsity_ramp
        self.switcher_lr = switcher_lr
        self.encoding = encoding
        self.bits_per_feature = bits_per_feature
        self.thresholds = thresholds
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.seed = seed
        self.threads = threads
        self.device = device
        self.progress = progress

    def _family(self) -> str:
        if self.arch not in ("binary", "bitlevel", "switcher"):
            raise GateflowError(
                f"arch must be 'binary', 'bitlevel' or 'switcher', got {self.arch!r}"
            )
        return self.arch
