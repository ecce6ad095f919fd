"""The gate table: the one definition of the 16 two-input Boolean gates.

Every part of gateflow (training relaxation, IR validation, golden model,
passes, SystemVerilog codegen) reads the gates from here.

Numbering follows difflogic: gate ``g`` outputs, for inputs ``(a, b)``, bit
``3 - (2*a + b)`` of ``g``. Read as a 4-bit string ``f(0,0) f(0,1) f(1,0) f(1,1)``
the truth table *is* the gate number: AND = 0b0001 = 1, XOR = 0b0110 = 6.

Each gate is also the multilinear polynomial ``c0 + c1*a + c2*b + c3*a*b``
(its real-valued relaxation, exact on {0,1}) and the algebraic normal form
``x0 ^ x1&a ^ x2&b ^ x3&a&b`` over GF(2) (what the bit-packed golden model
evaluates); both are derived from the truth bits below, never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

NUM_GATES = 16


@dataclass(frozen=True)
class Gate:
    id: int
    name: str
    sv: str  # SystemVerilog expression over the placeholders {a} and {b}

    def out(self, a: int, b: int) -> int:
        """Output bit for input bits ``a`` and ``b``."""
        return (self.id >> (3 - (2 * a + b))) & 1

    @property
    def truth(self) -> tuple[int, int, int, int]:
        """(f(0,0), f(0,1), f(1,0), f(1,1))."""
        return (self.out(0, 0), self.out(0, 1), self.out(1, 0), self.out(1, 1))

    @property
    def poly(self) -> tuple[int, int, int, int]:
        """Coefficients (c0, c1, c2, c3) of c0 + c1*a + c2*b + c3*a*b."""
        f00, f01, f10, f11 = self.truth
        return (f00, f10 - f00, f01 - f00, f11 - f10 - f01 + f00)

    @property
    def anf(self) -> tuple[int, int, int, int]:
        """Coefficients (x0, x1, x2, x3) in GF(2) of x0 ^ x1&a ^ x2&b ^ x3&a&b."""
        return tuple(c & 1 for c in self.poly)  # type: ignore[return-value]

    def uses_a(self) -> bool:
        return self.out(0, 0) != self.out(1, 0) or self.out(0, 1) != self.out(1, 1)

    def uses_b(self) -> bool:
        return self.out(0, 0) != self.out(0, 1) or self.out(1, 0) != self.out(1, 1)

    def expr(self, a: str, b: str) -> str:
        """SystemVerilog expression of this gate over signal names ``a`` and ``b``."""
        return self.sv.format(a=a, b=b)


GATES: tuple[Gate, ...] = (
    Gate(0, "FALSE", "1'b0"),
    Gate(1, "AND", "{a} & {b}"),
    Gate(2, "A_AND_NOT_B", "{a} & ~{b}"),
    Gate(3, "A", "{a}"),
    Gate(4, "NOT_A_AND_B", "~{a} & {b}"),
    Gate(5, "B", "{b}"),
    Gate(6, "XOR", "{a} ^ {b}"),
    Gate(7, "OR", "{a} | {b}"),
    Gate(8, "NOR", "~({a} | {b})"),
    Gate(9, "XNOR", "~({a} ^ {b})"),
    Gate(10, "NOT_B", "~{b}"),
    Gate(11, "A_OR_NOT_B", "{a} | ~{b}"),
    Gate(12, "NOT_A", "~{a}"),
    Gate(13, "NOT_A_OR_B", "~{a} | {b}"),
    Gate(14, "NAND", "~({a} & {b})"),
    Gate(15, "TRUE", "1'b1"),
)

BY_NAME = {g.name: g for g in GATES}
PASS_A = BY_NAME["A"].id  # the pass-through gate used for residual initialisation


def gate_from_truth(truth: tuple[int, int, int, int]) -> int:
    """Gate number of the truth table (f(0,0), f(0,1), f(1,0), f(1,1))."""
    f00, f01, f10, f11 = truth
    return (f00 << 3) | (f01 << 2) | (f10 << 1) | f11


@cache
def poly_matrix() -> np.ndarray:
    """float32 array [16, 4]: row g holds (c0, c1, c2, c3) of gate g."""
    return np.array([g.poly for g in GATES], dtype=np.float32)


@cache
def anf_matrix() -> np.ndarray:
    """uint8 array [16, 4]: row g holds (x0, x1, x2, x3) of gate g."""
    return np.array([g.anf for g in GATES], dtype=np.uint8)


@cache
def truth_matrix() -> np.ndarray:
    """uint8 array [16, 4]: row g holds (f(0,0), f(0,1), f(1,0), f(1,1))."""
    return np.array([g.truth for g in GATES], dtype=np.uint8)
