"""A user's own data: tables of real-valued features and a label, from CSV or NumPy files.

* CSV: a header row, then one sample per row; the label column is named (default: the
  last column); every other column is a feature and must hold finite numbers.
* ``.npz``: arrays ``X`` [n, F] and ``y`` [n], optionally ``X_test`` / ``y_test`` and
  ``feature_names``.

Labels may be integers or strings. The classes are the distinct training labels in
order (numeric order when every label is an integer, else string order); their names
travel with the model. Without a test set, a stratified, seeded split is made
(:func:`stratified_split`) and recorded in ``Dataset.source``.

Every problem is a :class:`~gateflow.data.datasets.DatasetError` with one line naming
the file, the row or column and what is wrong.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.data.datasets import Dataset, DatasetError, _splitmix64, smallest_keys

SUFFIXES = (".csv", ".npz")
DEFAULT_TEST_FRACTION = 0.2
MAX_CLASSES = 1000


@dataclass(frozen=True, eq=False)
class Table:
    """One file's samples: float64 features, labels as strings, the column names."""

    path: Path
    X: np.ndarray  # float64 [n, F]
    labels: np.ndarray  # object (str) [n]
    feature_names: tuple[str, ...]
    label_column: str
    rows: np.ndarray  # int64 [n]: the row (CSV line number, or array index) of each sample


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _label_text(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            return ""
        if float(v).is_integer():
            return str(int(v))
    if isinstance(v, np.integer | int):
        return str(int(v))
    return str(v).strip()


def _parse_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows (with their line numbers) of a CSV file."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        raise DatasetError(
            f"{path}: parquet files are not supported (no parquet reader among gateflow's "
            "dependencies); save the table as CSV or .npz"
        )
    if path.suffix.lower() != ".csv":
        raise DatasetError(
            f"{path}: expected a .csv or .npz file, got {path.suffix or 'no suffix'}"
        )
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise DatasetError(f"{path}: the file is empty") from None
            rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a valid CSV file ({exc})") from None
    if any(not h for h in header):
        raise DatasetError(f"{path}: column {header.index('') + 1} of the header has no name")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DatasetError(f"{path}: the header names the column {dup!r} twice")
    if not rows:
        raise DatasetError(f"{path}: no data rows after the header")
    for line, cells in rows:
        if len(cells) != len(header):
            raise DatasetError(
                f"{path}: row {line} has {len(cells)} columns, the header {len(header)}"
            )
    return header, rows


def _numbers(
    path: Path, header: list[str], rows: list[tuple[int, list[str]]], cols: list[int]
) -> np.ndarray:
    """The columns ``cols`` of every row as finite float64 numbers."""
    X = np.empty((len(rows), len(cols)), dtype=np.float64)
    for r, (line, cells) in enumerate(rows):
        for j, c in enumerate(cols):
            text = cells[c].strip()
            try:
                v = float(text)
            except ValueError:
                what = "empty" if not text else f"{text[:20]!r} is not a number"
                raise DatasetError(f"{path}: row {line}, column {header[c]!r}: {what}") from None
            if not math.isfinite(v):
                raise DatasetError(
                    f"{path}: row {line}, column {header[c]!r}: {text!r} is not a finite number"
                )
            X[r, j] = v
    return X


def read_table(path: str | os.PathLike[str], label_column: str | None = None) -> Table:
    """Read a CSV file (with a header) of features and a label column."""
    path = Path(path)
    header, rows = _parse_csv(path)
    if len(header) < 2:
        raise DatasetError(
            f"{path}: the header names {len(header)} column; need features and a label"
        )
    if label_column is None:
        label_column = header[-1]
    if label_column not in header:
        raise DatasetError(
            f"{path}: no label column {label_column!r} (the columns are {', '.join(header[:8])}"
            f"{', ...' if len(header) > 8 else ''})"
        )
    li = header.index(label_column)
    feats = [i for i in range(len(header)) if i != li]
    labels = np.array([cells[li].strip() for _, cells in rows], dtype=object)
    empty = np.flatnonzero(labels == "")
    if empty.size:
        line = rows[int(empty[0])][0]
        raise DatasetError(f"{path}: row {line}, column {label_column!r}: the label is empty")
    return Table(
        path,
        _numbers(path, header, rows, feats),
        labels,
        tuple(header[c] for c in feats),
        label_column,
        np.array([line for line, _ in rows], dtype=np.int64),
    )


def finite_features(X: Any, where: str, names: tuple[str, ...] | None = None) -> np.ndarray:
    """``X`` as a non-empty float64 array [n, F] of finite numbers, or a DatasetError
    naming ``where`` and the first bad row and column."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DatasetError(f"{where} must be a non-empty 2-D array [samples, features], "
                           f"got shape {X.shape}")  # fmt: skip
    if X.dtype.kind not in "biuf":
        raise DatasetError(f"{where} must hold numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col = repr(names[c]) if names else str(c)
        raise DatasetError(f"{where} row {r}, column {col}: {X[r, c]} is not a finite number")
    return X


def _array_table(
    path: Path, X: Any, y: Any, names: tuple[str, ...] | None, xname: str, yname: str
) -> Table:
    X = finite_features(X, f"{path}: {xname}", names)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DatasetError(
            f"{path}: {yname} must be 1-D with one label per row of {xname} "
            f"({X.shape[0]}), got shape {y.shape}"
        )
    labels = np.array([_label_text(v) for v in y.tolist()], dtype=object)
    empty = np.flatnonzero(labels == "")
    if empty.size:
        raise DatasetError(f"{path}: {yname}[{empty[0]}] is not a label (empty or not finite)")
    if names is None:
        names = tuple(f"x{i}" for i in range(X.shape[1]))
    return Table(path, X, labels, names, yname, np.arange(X.shape[0], dtype=np.int64))


def _read_npz(path: Path) -> tuple[Table, Table | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({exc})") from None
    for key in ("X", "y"):
        if key not in arrays:
            raise DatasetError(f"{path}: no array {key!r} (it holds {', '.join(arrays) or 'none'})")
    names = None
    if "feature_names" in arrays:
        names = tuple(str(n) for n in arrays["feature_names"].tolist())
        if len(names) != np.asarray(arrays["X"]).reshape(len(arrays["X"]), -1).shape[1]:
            raise DatasetError(f"{path}: feature_names has {len(names)} names for X's columns")
    train = _array_table(path, arrays["X"], arrays["y"], names, "X", "y")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise DatasetError(f"{path}: X_test and y_test go together; only one is there")
    test = None
    if "X_test" in arrays:
        test = _array_table(path, arrays["X_test"], arrays["y_test"], names, "X_test", "y_test")
    return train, test


def read_file(path: str | os.PathLike[str], label_column: str | None = None):
    """(train table, test table or None) of a CSV or .npz file."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise DatasetError(f"{path}: no such file")
        if label_column is not None:
            raise DatasetError(f"{path}: --label-column is for CSV files; .npz labels are in y")
        return _read_npz(path)
    return read_table(path, label_column), None


def class_order(labels: np.ndarray) -> tuple[str, ...]:
    """The distinct labels in class order: numeric when all are integers, else by string."""
    distinct = sorted(set(labels.tolist()))
    try:
        return tuple(sorted(distinct, key=lambda s: int(s)))
    except ValueError:
        return tuple(distinct)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean test mask: about ``test_fraction`` of each class (rounded, at least one
    sample of a class of two or more, and never all of a class), chosen by the smallest
    ``splitmix64(seed * 2**32 + index)`` keys: a pure function of the labels and the seed,
    independent of numpy's random generators."""
    if not 0 < test_fraction < 1:
        raise DatasetError(f"the test fraction must lie in (0, 1), got {test_fraction}")
    y = np.asarray(y)
    n = y.size
    key = _splitmix64(np.arange(n, dtype=np.uint64) + np.uint64((int(seed) % 2**32) << 32))
    classes, counts = np.unique(y, return_counts=True)
    quota = np.rint(test_fraction * counts).astype(np.int64)  # round half to even, as round()
    quota = np.minimum(np.maximum(quota, (counts >= 2).astype(np.int64)), counts - 1)
    return smallest_keys(y, classes, quota, key)


def load_data_file(
    path: str | os.PathLike[str],
    test_path: str | os.PathLike[str] | None = None,
    label_column: str | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = 0,
) -> Dataset:
    """A :class:`Dataset` from a user's file (and optionally a separate test file)."""
    path = Path(path)
    train, test = read_file(path, label_column)
    if test_path is not None:
        if test is not None:
            raise DatasetError(f"{path} holds a test set already (X_test); drop --test-data")
        test_path = Path(test_path)
        test, extra = read_file(test_path, label_column)
        if extra is not None:
            raise DatasetError(f"{test_path}: a test file must hold one set, not X_test too")
        if test.feature_names != train.feature_names:
            i = next(
                (
                    i
                    for i, (a, b) in enumerate(zip(train.feature_names, test.feature_names))
                    if a != b
                ),
                min(len(train.feature_names), len(test.feature_names)),
            )
            a = train.feature_names[i] if i < len(train.feature_names) else "(none)"
            b = test.feature_names[i] if i < len(test.feature_names) else "(none)"
            raise DatasetError(
                f"{test_path}: its columns differ from {path.name}'s: feature column {i + 1} "
                f"is {b!r} there and {a!r} in the training file "
                f"({len(test.feature_names)} vs {len(train.feature_names)} features)"
            )
    names = class_order(train.labels)
    if len(names) < 2:
        raise DatasetError(
            f"{path}: every sample has the label {names[0]!r}; a classifier needs two classes"
        )
    if len(names) > MAX_CLASSES:
        raise DatasetError(
            f"{path}: {len(names)} distinct labels in {train.label_column!r}; is it the label "
            f"column? (at most {MAX_CLASSES} classes)"
        )
    code = {name: c for c, name in enumerate(names)}
    source: dict[str, Any] = {
        "file": path.name,
        "sha256": _sha256(path),
        "label_column": train.label_column,
        "num_train_rows": int(train.X.shape[0]),
    }
    y = np.array([code[v] for v in train.labels], dtype=np.int64)
    if test is None:
        mask = stratified_split(y, test_fraction, seed)
        X_tr, y_tr, X_te, y_te = train.X[~mask], y[~mask], train.X[mask], y[mask]
        source["split"] = {
            "test_fraction": test_fraction,
            "seed": seed,
            "method": "stratified, splitmix64 keys (gateflow.data.tabular.stratified_split)",
            "test_rows": train.rows[mask].tolist(),
        }
    else:
        unknown = [(r, v) for r, v in zip(test.rows, test.labels) if v not in code]
        if unknown:
            r, v = unknown[0]
            where = test_path if test_path is not None else path
            raise DatasetError(
                f"{where}: row {r}: label {v!r} does not occur in the training data "
                f"({len(unknown)} such rows)"
            )
        X_tr, y_tr = train.X, y
        X_te = test.X
        y_te = np.array([code[v] for v in test.labels], dtype=np.int64)
        if test_path is not None:
            source["test_file"] = Path(test_path).name
            source["test_sha256"] = _sha256(Path(test_path))
    missing = sorted(set(range(len(names))) - set(y_tr.tolist()))
    if missing:
        raise DatasetError(f"{path}: class {names[missing[0]]!r} has no training samples")
    return Dataset(
        name=path.name,
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        shape=None,
        num_classes=len(names),
        class_names=names,
        feature_names=train.feature_names,
        source=source,
    )


def read_features(
    path: str | os.PathLike[str],
    feature_names: tuple[str, ...] | None,
    num_features: int,
    label_column: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Features for prediction from a CSV or .npz file: (X float64 [n, F], labels as
    strings or None when the file has no label column, row numbers). CSV columns are
    matched by name to ``feature_names`` (extra columns, e.g. the label, are set aside);
    a file without the model's columns is an error naming the first one missing."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        train, _ = read_file(path)
        if train.X.shape[1] != num_features:
            raise DatasetError(
                f"{path}: X has {train.X.shape[1]} columns, the model takes {num_features}"
            )
        return train.X, train.labels, train.rows
    header, rows = _parse_csv(path)
    names = feature_names or tuple(f"x{i}" for i in range(num_features))
    missing = [n for n in names if n not in header]
    if missing:
        raise DatasetError(
            f"{path}: no column {missing[0]!r}, which the model takes as a feature "
            f"({len(missing)} of its {len(names)} feature columns are missing)"
        )
    extra = [h for h in header if h not in names]
    if label_column is None and len(extra) == 1:
        label_column = extra[0]
    if label_column is not None and label_column not in header:
        raise DatasetError(f"{path}: no label column {label_column!r}")
    X = _numbers(path, header, rows, [header.index(n) for n in names])
    labels = None
    if label_column is not None:
        li = header.index(label_column)
        labels = np.array([cells[li].strip() for _, cells in rows], dtype=object)
    return X, labels, np.array([line for line, _ in rows], dtype=np.int64)


def evaluation_set(
    path: str | os.PathLike[str],
    feature_names: tuple[str, ...] | None,
    num_features: int,
    class_names: tuple[str, ...] | None,
    trained_on: dict[str, Any] | None = None,
    label_column: str | None = None,
    need_labels: bool = True,
) -> Dataset:
    """The samples of a user's file to evaluate a trained model on, as its test split.

    The file's columns are matched by name to the model's features. When the file is the
    one the model was trained on (same sha256 as ``trained_on``, the IR's ``meta.data``)
    and training split it, the test split is made again (a pure function of the labels
    and the recorded seed), so that only held-out rows are scored; any other file is
    scored whole. Labels are mapped to the model's classes; a label the model does not
    know is an error. With ``need_labels`` False a file without a label column gives
    labels of -1."""
    path = Path(path)
    X, labels, rows = read_features(path, feature_names, num_features, label_column)
    names = class_names or tuple(str(c) for c in range(MAX_CLASSES))
    code = {n: c for c, n in enumerate(names)}
    if labels is None:
        if need_labels:
            raise DatasetError(f"{path}: no label column; the accuracy needs the true classes")
        y = np.full(len(X), -1, dtype=np.int64)
    else:
        unknown = [(r, v) for r, v in zip(rows, labels) if v not in code]
        if unknown:
            r, v = unknown[0]
            raise DatasetError(
                f"{path}: row {r}: label {v!r} is not one of the model's classes "
                f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
            )
        y = np.array([code[v] for v in labels], dtype=np.int64)
    split = (trained_on or {}).get("split")
    name = path.name
    same = trained_on is not None and trained_on.get("sha256") == _sha256(path)
    if same and split and labels is not None:
        mask = stratified_split(y, float(split["test_fraction"]), int(split["seed"]))
        X, y = X[mask], y[mask]
        name = f"{path.name} (held-out {100 * float(split['test_fraction']):g}%)"
    return Dataset(
        name=name,
        X_train=X[:0],
        y_train=y[:0],
        X_test=X,
        y_test=y,
        shape=None,
        num_classes=len(class_names) if class_names else int(y.max(initial=0)) + 1,
        class_names=class_names,
        feature_names=feature_names,
        source={"file": path.name},
    )
