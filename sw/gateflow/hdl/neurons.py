"""Threshold neurons as Boolean functions: what each one reduces to, and its RTL.

A threshold neuron outputs 1 iff ``sum(w[k] * x[k]) >= t`` over binary inputs
``x`` with nonzero integer weights ``w`` (docs/ir.md). With ``lo`` the sum of
its negative weights and ``hi`` the sum of its positive ones, the sum ranges
over ``lo .. hi``, so:

- ``t <= lo``: always 1; ``t > hi``: always 0 (constants);
- ``t > hi - min|w|``: it fires only when every positive input is 1 and every
  negative input 0: an AND of literals (AND with all weights positive, NOR with
  all negative);
- ``t <= lo + min|w|``: it fires unless every positive input is 0 and every
  negative input 1: an OR of literals (OR, or NAND with all weights negative);
- otherwise, with weights of one magnitude, a k-of-n (majority-like) function;
  else a weighted threshold function.

:func:`rtl_expr` writes a neuron as one Verilog expression: the gate from the
gate table for two inputs or fewer, a reduction for the AND/OR classes, and
otherwise a shift-and-add over the nonzero bits of the weights compared with
the threshold, in unsigned arithmetic wide enough never to overflow. An input
times ``|w|`` is the input copied to every set bit of ``|w|`` (a concatenation,
no multiplier), so each connection is one addend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from gateflow.gates import GATES, gate_from_truth

KINDS = (
    "FALSE",
    "TRUE",
    "WIRE",  # one input, itself
    "NOT",  # one input, inverted
    "AND",
    "NOR",
    "AND-like",  # an AND of literals of both polarities
    "OR",
    "NAND",
    "OR-like",
    "k-of-n",  # equal weight magnitudes, threshold strictly inside
    "weighted",
)


def classify(weight: Sequence[int] | np.ndarray, threshold: int) -> str:
    """The function class of one neuron (one of :data:`KINDS`); zero weights are ignored."""
    w = np.asarray(weight, dtype=np.int64)
    w = w[w != 0]
    lo, hi = int(w[w < 0].sum()), int(w[w > 0].sum())
    t = int(threshold)
    if t <= lo:
        return "TRUE"
    if t > hi:
        return "FALSE"
    pos, neg = bool((w > 0).all()), bool((w < 0).all())
    if w.size == 1:
        return "WIRE" if pos else "NOT"
    m = int(np.abs(w).min())
    if t > hi - m:
        return "AND" if pos else "NOR" if neg else "AND-like"
    if t <= lo + m:
        return "OR" if pos else "NAND" if neg else "OR-like"
    return "k-of-n" if np.all(np.abs(w) == m) else "weighted"


def census(neurons: Iterable[tuple[Sequence[int], int]]) -> dict[str, int]:
    """How many neurons fall in each class, for (weights, threshold) pairs."""
    counts = Counter(classify(w, t) for w, t in neurons)
    return {k: counts[k] for k in KINDS if counts[k]}


def _fires(w: np.ndarray, t: int, x: Sequence[int]) -> int:
    return int(int(np.dot(w, np.asarray(x, dtype=np.int64))) >= t)


def rtl_expr(names: Sequence[str], weight: Sequence[int] | np.ndarray, threshold: int) -> str:
    """One Verilog expression computing the neuron over the 1-bit signals ``names``."""
    w = np.asarray(weight, dtype=np.int64)
    keep = w != 0
    names = [n for n, k in zip(names, keep) if k]
    w = w[keep]
    t = int(threshold)
    kind = classify(w, t)
    if kind in ("TRUE", "FALSE"):
        return "1'b1" if kind == "TRUE" else "1'b0"
    if len(names) <= 2:  # the gate it reduces to, from the gate table
        a, b = names[0], names[-1]
        if len(names) == 1:
            truth = tuple(_fires(w, t, (x,)) for x in (0, 0, 1, 1))
        else:
            truth = tuple(_fires(w, t, (x, y)) for x in (0, 1) for y in (0, 1))
        return GATES[gate_from_truth(truth)].expr(a, b)
    lits = [n if v > 0 else f"~{n}" for n, v in zip(names, w)]
    if kind in ("AND", "AND-like"):
        return "&{" + ", ".join(lits) + "}"
    if kind == "NOR":
        return "~|{" + ", ".join(names) + "}"
    if kind in ("OR", "OR-like"):
        return "|{" + ", ".join(lits) + "}"
    if kind == "NAND":
        return "~&{" + ", ".join(names) + "}"
    return _shift_add(names, w, t)


def _shift_add(names: Sequence[str], w: np.ndarray, t: int) -> str:
    """``P >= N + t`` (or ``P + |t| >= N``): P and N sum the inputs with positive and
    negative weights, each input placed at the set bits of its ``|w|``."""
    pos_max, neg_max = int(w[w > 0].sum()), -int(w[w < 0].sum())
    if t >= 0:
        width = max(pos_max, neg_max + t).bit_length()
    else:
        width = max(pos_max - t, neg_max).bit_length()
    width = max(width, 1)

    def terms(sign: int) -> list[str]:
        # input n times |w|: n copied to every set bit of |w|, zeros elsewhere
        out = []
        for n, v in zip(names, w):
            if (v > 0) != (sign > 0):
                continue
            mag, parts, zeros = abs(int(v)), [], 0
            for b in range(width - 1, -1, -1):
                if mag >> b & 1:
                    if zeros:
                        parts.append(f"{zeros}'b0")
                    parts.append(n)
                    zeros = 0
                else:
                    zeros += 1
            if zeros:
                parts.append(f"{zeros}'b0")
            out.append(parts[0] if len(parts) == 1 else "{" + ", ".join(parts) + "}")
        return out

    p, n = terms(+1), terms(-1)
    if t >= 0:
        n += [f"{width}'d{t}"] if t else []
    else:
        p += [f"{width}'d{-t}"]
    left = " + ".join(p) if p else f"{width}'d0"
    right = " + ".join(n) if n else f"{width}'d0"
    return f"({left}) >= ({right})"


def describe(weight: Sequence[int] | np.ndarray, threshold: int) -> str:
    """A short comment for the generated RTL, e.g. ``3-of-5`` or ``weighted, 7 inputs``."""
    w = np.asarray(weight, dtype=np.int64)
    w = w[w != 0]
    kind = classify(w, threshold)
    if kind == "k-of-n":
        m = int(np.abs(w).min())
        lo = int(w[w < 0].sum())
        k = -(-(int(threshold) - lo) // m)
        return f"{k}-of-{w.size}" + ("" if (w > 0).all() else " of literals")
    if kind == "weighted":
        return f"weighted threshold, {w.size} inputs"
    return kind
