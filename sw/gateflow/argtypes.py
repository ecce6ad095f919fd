"""argparse types shared by every ``gateflow`` subcommand."""

from __future__ import annotations

import argparse


def widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return widths


def nonneg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive(text: str) -> int:
    value = nonneg(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected an integer >= 1")
    return value


def candidates(text: str) -> int:
    """Learned connections: ``all`` (-1: every input) or a number of candidates (the
    training config says which numbers are valid)."""
    return -1 if text.strip().lower() == "all" else nonneg(text)


def numbers(text: str) -> list[float]:
    """Comma-separated numbers, e.g. ``0.5,1,2.5``."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values
