"""Datasets: integer raw features (uint8) and labels, with fixed train/test splits."""

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
    "shift_augment",
]
