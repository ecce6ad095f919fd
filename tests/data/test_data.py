import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from gateflow.data import (
    DIGITS_TEST_SIZE,
    MD5,
    Dataset,
    DatasetError,
    digits_split,
    get_dataset,
    load_digits,
    load_mnist,
)
from gateflow.data import datasets as ds
from gateflow.errors import GateflowError

MNIST_DIR = (Path(__file__).resolve().parents[2] / "../shared/data/mnist").resolve()
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"MNIST files not found in {MNIST_DIR}",
)


# ---------------------------------------------------------------------- digits
def test_digits_split_is_fixed():
    d = load_digits()
    assert isinstance(d, Dataset) and d.name == "digits"
    assert len(d.y_test) == DIGITS_TEST_SIZE == 360 and len(d.y_train) == 1437
    assert d.X_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert d.X_train.shape[1] == 64 and d.X_train.max() == 16
    assert d.shape == (8, 8) and d.num_classes == 10
    # stratified: every class holds 35-37 test samples
    assert set(np.bincount(d.y_test).tolist()) <= {35, 36, 37}
    # pinned: the split is a pure function of the labels; these never change
    from sklearn.datasets import load_digits as sk

    mask = digits_split(sk().target)
    assert np.flatnonzero(mask)[:8].tolist() == PINNED_TEST_HEAD
    assert hashlib.md5(np.flatnonzero(mask).astype("<i8").tobytes()).hexdigest() == PINNED_MD5
    again = load_digits()
    np.testing.assert_array_equal(again.X_test, d.X_test)


# the first test indices and md5 of all 360 (int64 little endian) of the digits split
PINNED_TEST_HEAD = [3, 10, 18, 21, 33, 41, 48, 49]
PINNED_MD5 = "3fc713550c258e3974b206ba48047abb"


def test_digits_split_any_labels():
    y = np.repeat(np.arange(3), [10, 20, 70])
    mask = digits_split(y, test_size=20)
    assert mask.sum() == 20
    assert np.bincount(y[mask]).tolist() == [2, 4, 14]


def test_get_dataset_dispatch():
    assert get_dataset("digits").name == "digits"
    with pytest.raises(DatasetError, match="unknown dataset"):
        get_dataset("cifar")


# ----------------------------------------------------------------------- MNIST
@needs_mnist
def test_mnist_local_folder_uses_train5k():
    d = get_dataset("mnist", MNIST_DIR)
    assert d.name == "mnist" and d.shape == (28, 28) and d.num_classes == 10
    assert d.X_train.shape == (5000, 784) and d.X_test.shape == (10000, 784)
    assert d.X_train.dtype == np.uint8 and d.y_test.dtype == np.int64
    assert np.bincount(d.y_train).tolist() == [500] * 10
    assert d.X_test.max() == 255 and d.y_test[:5].tolist() == [7, 2, 1, 0, 4]


def _fake_idx(path: Path, n: int = 6, seed: int = 0, prefixes=("train", "t10k")) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 3, 2), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    head_i = b"".join(v.to_bytes(4, "big") for v in (0x803, n, 3, 2))
    head_l = b"".join(v.to_bytes(4, "big") for v in (0x801, n))
    for prefix in prefixes:
        with gzip.open(path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(head_i + images.tobytes())
        with gzip.open(path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(head_l + labels.tobytes())


def test_idx_reader_on_unknown_files(tmp_path):
    _fake_idx(tmp_path, prefixes=("a", "b"))  # no known md5 for these: read, with a warning
    d = load_mnist(tmp_path, kind="fashion", train_prefix="a", test_prefix="b")
    assert d.name == "fashion-mnist" and d.shape == (3, 2) and d.X_train.shape == (6, 6)


@needs_mnist
def test_md5_mismatch_raises(tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(MNIST_DIR / name, tmp_path / name)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(MNIST_DIR / name.replace("train", "train5k"), tmp_path / name)
    with pytest.raises(DatasetError, match="not the original file"):  # train5k is not train
        load_mnist(tmp_path, train_prefix="train")
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="not the original file") as exc:
        load_mnist(tmp_path, train_prefix="t10k")
    assert "\n" not in str(exc.value) and isinstance(exc.value, GateflowError)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(DatasetError, match="missing"):
        load_mnist(tmp_path)
    with pytest.raises(DatasetError, match="unknown MNIST kind"):
        load_mnist(tmp_path, kind="kmnist")


def test_download_checks_md5(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _fake_idx(mirror)
    sums = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    monkeypatch.setitem(ds.MD5, "mnist", sums)
    dest = tmp_path / "dest"
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in mirror.iterdir():
        (broken / p.name).write_bytes(b"not the file")
    # the first mirror serves wrong bytes, the second cannot be reached, the third is right
    mirrors = [broken.as_uri() + "/", (tmp_path / "void").as_uri() + "/", mirror.as_uri()]
    d = load_mnist(dest, download=True, mirrors=mirrors)
    assert d.X_train.shape == (6, 6)
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)  # no temp files left
    with pytest.raises(DatasetError, match="could not download"):
        load_mnist(tmp_path / "dest2", download=True, mirrors=[broken.as_uri()])
    assert not any((tmp_path / "dest2").iterdir())


def test_known_checksums_cover_both_kinds():
    for kind in ("mnist", "fashion"):
        for prefix in ("train", "t10k"):
            for name in ds.idx_files(prefix):
                assert len(MD5[kind][name]) == 32


def test_folder_md5sums_file_is_checked(tmp_path):
    _fake_idx(tmp_path, prefixes=("a", "b"))
    names = [*ds.idx_files("a"), *ds.idx_files("b")]
    sums = {n: hashlib.md5((tmp_path / n).read_bytes()).hexdigest() for n in names}
    (tmp_path / "md5sums").write_text("".join(f"{s}  {n}\n" for n, s in sums.items()))
    assert load_mnist(tmp_path, train_prefix="a", test_prefix="b").X_test.shape == (6, 6)
    sums["b-labels-idx1-ubyte.gz"] = "0" * 32
    (tmp_path / "md5sums").write_text("".join(f"{s}  {n}\n" for n, s in sums.items()))
    with pytest.raises(DatasetError, match="md5 mismatch"):
        load_mnist(tmp_path, train_prefix="a", test_prefix="b")


def test_shift_augment_adds_shifted_copies():
    from gateflow.data import Dataset, DatasetError, shift_augment

    img = np.zeros((1, 3, 3), dtype=np.uint8)
    img[0, 1, 1] = 7  # one lit pixel in the centre
    data = Dataset("t", img.reshape(1, 9), np.array([4]), img.reshape(1, 9), np.array([4]),
                   (3, 3), 10)  # fmt: skip
    five = shift_augment(data, 1)
    assert five.X_train.shape == (5, 9) and five.y_train.tolist() == [4] * 5
    lit = sorted(int(np.flatnonzero(row)[0]) for row in five.X_train)
    assert lit == [1, 3, 4, 5, 7]  # centre, up, left, right, down
    nine = shift_augment(data, 2)
    assert sorted(int(np.flatnonzero(r)[0]) for r in nine.X_train) == list(range(9))
    assert nine.X_test is data.X_test and shift_augment(data, 0) is data
    edge = np.zeros((1, 9), dtype=np.uint8)
    edge[0, 0] = 1  # a corner pixel shifted off the image disappears (zero fill)
    corner = shift_augment(Dataset("e", edge, np.array([0]), edge, np.array([0]), (3, 3), 1), 1)
    assert sorted(int(r.sum()) for r in corner.X_train) == [0, 0, 1, 1, 1]
    with pytest.raises(DatasetError, match="must be 0, 1 or 2"):
        shift_augment(data, 3)
    flat = Dataset("f", edge, np.array([0]), edge, np.array([0]), None, 1)
    with pytest.raises(DatasetError, match="needs images"):
        shift_augment(flat, 1)


@needs_mnist
def test_a_recompressed_copy_is_accepted_by_its_content_and_a_changed_one_refused(tmp_path):
    import gzip
    import shutil

    from gateflow.data.datasets import DatasetError, load_mnist, md5_file

    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "train5k-images-idx3-ubyte.gz"):  # fmt: skip
        shutil.copyfile(MNIST_DIR / name, tmp_path / name)
    labels = gzip.decompress((MNIST_DIR / "train5k-labels-idx1-ubyte.gz").read_bytes())
    target = tmp_path / "train5k-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(labels, compresslevel=1, mtime=0))
    assert md5_file(target) != md5_file(MNIST_DIR / target.name)  # another file ...
    data = load_mnist(tmp_path)  # ... with the original content: accepted
    assert len(data.y_train) == 5000
    changed = bytearray(labels)
    changed[-1] = (changed[-1] + 1) % 10
    target.write_bytes(gzip.compress(bytes(changed), compresslevel=1, mtime=0))
    with pytest.raises(DatasetError, match="not the original file"):
        load_mnist(tmp_path)
