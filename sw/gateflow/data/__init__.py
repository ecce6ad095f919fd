"""Datasets: the built-in ones (integer raw features with fixed train/test splits) and a
user's own tables (CSV / .npz, real-valued features, :mod:`gateflow.data.tabular`)."""

from gateflow.data.datasets import (
    DATASETS,
    DIGITS_TEST_SIZE,
    MD5,
    MIRRORS,
    Dataset,
    DatasetError,
    default_data_dir,
    digits_split,
    get_dataset,
    load_digits,
    load_mnist,
    shift_augment,
)
from gateflow.data.tabular import load_data_file, stratified_split

__all__ = [
    "DATASETS",
    "DIGITS_TEST_SIZE",
    "MD5",
    "MIRRORS",
    "Dataset",
    "DatasetError",
    "default_data_dir",
    "digits_split",
    "get_dataset",
    "load_digits",
    "load_mnist",
    "load_data_file",
    "shift_augment",
    "stratified_split",
]
