"""Datasets: raw features ``X`` [n, F] (uint8 for the built-in ones), ``y`` int64 [n].

* ``digits``: scikit-learn's bundled 8x8 digits (offline), values 0..16, with a
  fixed 360-sample test split (see :func:`digits_split`).
* ``mnist`` / ``fashion-mnist``: the original IDX gzip files from a local folder,
  checked against known md5 sums, optionally downloaded (``download=True``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.errors import GateflowError

log = logging.getLogger(__name__)


class DatasetError(GateflowError):
    """A dataset that cannot be found, fetched, verified or parsed."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split: integer raw features (the built-in datasets) or float64 ones (a
    user's table, :mod:`gateflow.data.tabular`)."""

    name: str
    X_train: np.ndarray  # uint8 [n_train, F]
    y_train: np.ndarray  # int64 [n_train]
    X_test: np.ndarray  # uint8 [n_test, F]
    y_test: np.ndarray  # int64 [n_test]
    shape: tuple[int, int] | None  # (h, w) of the images, row-major in F; None if not images
    num_classes: int
    class_names: tuple[str, ...] | None = None  # what each class stands for (a user's labels)
    feature_names: tuple[str, ...] | None = None  # the raw features' names (a file's columns)
    source: dict[str, Any] | None = None  # a user's file: its name, sha256 and the split made

    @property
    def real(self) -> bool:
        """Whether the raw features are real numbers (a user's table) rather than integers."""
        return self.X_train.dtype.kind == "f"

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"features={self.num_features}, shape={self.shape}, classes={self.num_classes})"
        )


# ---------------------------------------------------------------------- digits
DIGITS_TEST_SIZE = 360  # 20% of the 1,797 samples, rounded up


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic): a fixed hash."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def digits_split(y: np.ndarray, test_size: int = DIGITS_TEST_SIZE) -> np.ndarray:
    """Boolean test mask of the fixed, stratified digits split.

    A pure function of the labels, independent of numpy/scikit-learn RNG versions:
    class ``c`` with ``n_c`` samples gets ``test_size * n_c / n`` test samples
    (floors, then the largest remainders, ties to the lower class); within a class
    the samples with the smallest ``splitmix64(sample index)`` go to the test split.
    """
    y = np.asarray(y)
    n = y.size
    classes, counts = np.unique(y, return_counts=True)
    quota = largest_remainder(test_size * counts / n, test_size)
    return smallest_keys(y, classes, quota, _splitmix64(np.arange(n, dtype=np.uint64)))


def largest_remainder(exact: np.ndarray, total: int) -> np.ndarray:
    """Integer shares of ``total`` from the real shares ``exact``: the floors, then one
    more for the largest remainders (ties to the lower index)."""
    quota = np.floor(exact).astype(np.int64)
    short = total - int(quota.sum())
    order = np.lexsort((np.arange(exact.size), -(exact - quota)))  # largest remainder first
    quota[order[:short]] += 1
    return quota


def smallest_keys(
    y: np.ndarray, classes: np.ndarray, quota: np.ndarray, key: np.ndarray
) -> np.ndarray:
    """Boolean mask: within each class ``classes[i]``, its ``quota[i]`` samples of the
    smallest ``key`` (stable in sample order)."""
    mask = np.zeros(y.size, dtype=bool)
    for c, q in zip(classes, quota, strict=True):
        idx = np.flatnonzero(y == c)
        mask[idx[np.argsort(key[idx], kind="stable")[:q]]] = True
    return mask


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (1,797 samples, values 0..16) with the fixed split:
    360 test samples (stratified, :func:`digits_split`), 1,437 training samples,
    both in the original sample order."""
    from sklearn.datasets import load_digits as _sk_load_digits

    d = _sk_load_digits()
    X = d.data.astype(np.uint8)
    y = d.target.astype(np.int64)
    test = digits_split(y)
    return Dataset("digits", X[~test], y[~test], X[test], y[test], (8, 8), 10)


# ----------------------------------------------------------------------- MNIST
# Known md5 sums of the original files (the same as torchvision's), plus the
# 5,000-image training subset kept in the project's shared data folder.
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        "train5k-images-idx3-ubyte.gz": "6057ca5a67cd8660e9946050476aec42",
        "train5k-labels-idx1-ubyte.gz": "f4e4f8640ad2a3b028472f5598c37e79",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

# sha256 of the decompressed IDX files (the original arrays): a re-compressed copy of an
# original file has another md5 but the same content, and is accepted by this check.
SHA256_DECOMPRESSED = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",  # noqa: E501
        "train5k-images-idx3-ubyte.gz": "a4a9358b9ba319305e7cd69b2c7410e463401e152d7e9e60189b94a3f159d012",  # noqa: E501
        "train5k-labels-idx1-ubyte.gz": "704256e87519240fd1d7ecdf681fe209864691e252c6642aeadc21f3c4d44b41",  # noqa: E501
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",  # noqa: E501
    },
}  # fmt: skip

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

DATASET_NAME = {"mnist": "mnist", "fashion": "fashion-mnist"}
SUBSET_TRAIN_PREFIX = "train5k"  # the 5,000-image subset some offline folders hold instead


def idx_files(prefix: str) -> tuple[str, str]:
    """(images, labels) file names of an IDX split, e.g. ``train`` or ``t10k``."""
    return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


def md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _folder_md5sums(root: Path) -> dict[str, str]:
    """Checksums from an ``md5sums`` file in the folder (``md5sum`` output format)."""
    sums: dict[str, str] = {}
    path = root / "md5sums"
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and len(parts[0]) == 32:
                sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def sha256_decompressed(path: Path) -> str:
    """sha256 of a gzip file's decompressed bytes."""
    h = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    return h.hexdigest()


def _verify(path: Path, expected: str | None, content: str | None = None) -> None:
    """``path`` has the known md5, or (a re-compressed copy) the known sha256 of its
    decompressed content; else a DatasetError."""
    if expected is None and content is None:
        log.warning("no known checksum for %s; not verified", path)
        return
    got = md5_file(path) if expected is not None else None
    if got is not None and got == expected:
        return
    if content is not None:
        try:
            same = sha256_decompressed(path) == content
        except DatasetError as exc:
            raise DatasetError(f"{path} is not the original file (md5 {got}; {exc})") from None
        if same:
            log.info("%s: a re-compressed copy; its decompressed content is the original", path)
            return
        raise DatasetError(
            f"{path} is not the original file: neither its md5 ({got}) nor the sha256 of its "
            f"decompressed content matches"
        )
    raise DatasetError(f"md5 mismatch for {path}: got {got}, expected {expected}")


def _download(
    name: str, root: Path, mirrors: Sequence[str], md5: str | None, content: str | None = None
) -> Path:
    """Fetch ``name`` from the first mirror that serves it with the right md5."""
    root.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for base in mirrors:
        url = base if base.endswith(name) else base.rstrip("/") + "/" + name
        log.info("downloading %s", url)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                for chunk in iter(lambda r=resp: r.read(1 << 20), b""):
                    out.write(chunk)
            try:
                _verify(Path(tmp), md5, content)
            except DatasetError as exc:
                errors.append(f"{url}: {exc}")
                continue
            dest = root / name
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DatasetError(f"could not download {name}: " + "; ".join(errors))


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a gzip IDX file of unsigned bytes with ``ndim`` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{path} is too short to be an IDX file")
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x0800 + ndim:
        raise DatasetError(f"{path}: IDX magic {magic:#010x}, expected {0x0800 + ndim:#010x}")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {dims}, body has {body.size} bytes")
    return body.reshape(dims)


def load_mnist(
    root: str | os.PathLike[str],
    kind: str = "mnist",
    download: bool = False,
    train_prefix: str | None = None,
    test_prefix: str = "t10k",
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """MNIST or Fashion-MNIST (``kind="fashion"``) from the IDX gzip files in ``root``.

    Files are ``<prefix>-images-idx3-ubyte.gz`` / ``<prefix>-labels-idx1-ubyte.gz``.
    The training prefix defaults to ``train``; when those files are absent and
    ``download`` is False, the 5,000-image subset ``train5k`` is used if present
    (with a warning). Every file is checked against the known md5 of the original (or
    the folder's ``md5sums`` file), and a re-compressed copy by the known sha256 of its
    decompressed content (:data:`SHA256_DECOMPRESSED`); with ``download=True`` missing
    files are fetched from ``mirrors`` (default :data:`MIRRORS`) and checked before
    they are kept.
    Images are flattened row-major to 784 uint8 features (0..255).
    """
    if kind not in MD5:
        raise DatasetError(f"unknown MNIST kind {kind!r}; choose from {sorted(MD5)}")
    root = Path(root)
    if not download and not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist (download it or pass --data-dir)")
    mirrors = list(mirrors) if mirrors is not None else MIRRORS[kind]
    known = {**_folder_md5sums(root), **MD5[kind]} if root.is_dir() else dict(MD5[kind])

    if train_prefix is None:
        train_prefix = "train"
        if not download and not all((root / f).is_file() for f in idx_files("train")):
            if all((root / f).is_file() for f in idx_files(SUBSET_TRAIN_PREFIX)):
                log.warning(
                    "%s has no full training set; using the %s subset", root, SUBSET_TRAIN_PREFIX
                )
                train_prefix = SUBSET_TRAIN_PREFIX

    arrays: list[np.ndarray] = []
    for prefix in (train_prefix, test_prefix):
        for name, ndim in zip(idx_files(prefix), (3, 1), strict=True):
            path = root / name
            content = SHA256_DECOMPRESSED[kind].get(name)
            if path.is_file():
                _verify(path, known.get(name), content)
            elif download:
                path = _download(name, root, mirrors, known.get(name), content)
            else:
                raise DatasetError(f"missing {path} (pass download=True / --download to fetch it)")
            arrays.append(_read_idx(path, ndim))
    Xtr, ytr, Xte, yte = arrays
    for X, y, prefix in ((Xtr, ytr, train_prefix), (Xte, yte, test_prefix)):
        if X.shape[0] != y.shape[0]:
            raise DatasetError(f"{prefix}: {X.shape[0]} images but {y.shape[0]} labels")
        if X.shape[1:] != Xtr.shape[1:]:
            raise DatasetError(f"{prefix}: image size {X.shape[1:]} differs from {Xtr.shape[1:]}")
    h, w = Xtr.shape[1:]
    return Dataset(
        DATASET_NAME[kind],
        Xtr.reshape(len(Xtr), -1).copy(),
        ytr.astype(np.int64),
        Xte.reshape(len(Xte), -1).copy(),
        yte.astype(np.int64),
        (int(h), int(w)),
        10,
    )


# ------------------------------------------------------------------ dispatcher
DATASETS = ("digits", "mnist", "fashion-mnist")


def default_data_dir(name: str) -> Path:
    """``$GATEFLOW_DATA/<name>`` if set, else ``~/.cache/gateflow/<name>``."""
    base = os.environ.get("GATEFLOW_DATA")
    return (Path(base) if base else Path.home() / ".cache" / "gateflow") / name


def get_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    **kwargs: object,
) -> Dataset:
    """Load a dataset by name: ``digits``, ``mnist`` or ``fashion-mnist``.

    ``data_dir`` is the folder of the IDX files (ignored for digits; default
    :func:`default_data_dir`). Extra keyword arguments go to :func:`load_mnist`.
    """
    if name == "digits":
        return load_digits()
    if name in ("mnist", "fashion-mnist"):
        kind = "mnist" if name == "mnist" else "fashion"
        root = Path(data_dir) if data_dir is not None else default_data_dir(name)
        return load_mnist(root, kind=kind, download=download, **kwargs)  # type: ignore[arg-type]
    raise DatasetError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


# ---------------------------------------------------------------------- augmentation
SHIFTS = {
    0: [(0, 0)],
    1: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)],
    2: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)],
}


def shift_augment(data: Dataset, neighbours: int) -> Dataset:
    """The training split plus copies of every image shifted by one pixel (zero fill):
    ``neighbours`` 1 adds the 4 shifts up, down, left and right (5x the samples), 2 also
    the 4 diagonal ones (9x). The test split is unchanged."""
    if neighbours not in SHIFTS:
        raise DatasetError(f"shift augmentation must be 0, 1 or 2, got {neighbours}")
    if neighbours == 0:
        return data
    if data.shape is None:
        raise DatasetError(f"shift augmentation needs images; {data.name} has no image shape")
    h, w = data.shape
    images = data.X_train.reshape(-1, h, w)
    copies = []
    for dy, dx in SHIFTS[neighbours]:
        out = np.zeros_like(images)
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[:, yd, xd] = images[:, ys, xs]
        copies.append(out.reshape(len(images), h * w))
    return dataclasses.replace(
        data, X_train=np.concatenate(copies), y_train=np.tile(data.y_train, len(copies))
    )
