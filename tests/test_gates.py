import itertools

import numpy as np

from gateflow.gates import GATES, NUM_GATES, anf_matrix, gate_from_truth, poly_matrix


def _sv_eval(expr: str, a: int, b: int) -> int:
    """Evaluate a gate's SystemVerilog expression on 1-bit values with Python's bitwise ops."""
    py = expr.replace("1'b0", "0").replace("1'b1", "1")
    return eval(py, {}, {"a": a, "b": b}) & 1  # noqa: S307 - fixed table text


def test_table_is_complete_and_numbered_by_truth():
    assert len(GATES) == NUM_GATES == 16
    assert sorted({g.truth for g in GATES}) == sorted(itertools.product((0, 1), repeat=4))
    for g in GATES:
        assert gate_from_truth(g.truth) == g.id


def test_named_gates():
    names = {g.name: g.truth for g in GATES}
    assert names["AND"] == (0, 0, 0, 1)
    assert names["XOR"] == (0, 1, 1, 0)
    assert names["NAND"] == (1, 1, 1, 0)
    assert names["A"] == (0, 0, 1, 1)


def test_sv_relaxation_and_anf_agree_with_truth():
    poly, anf = poly_matrix(), anf_matrix()
    for g in GATES:
        for a, b in itertools.product((0, 1), repeat=2):
            want = g.out(a, b)
            assert _sv_eval(g.expr("a", "b"), a, b) == want, g.name
            c0, c1, c2, c3 = poly[g.id]
            assert c0 + c1 * a + c2 * b + c3 * a * b == want, g.name
            x0, x1, x2, x3 = anf[g.id]
            assert x0 ^ (x1 & a) ^ (x2 & b) ^ (x3 & a & b) == want, g.name


def test_relaxation_stays_in_unit_interval():
    rng = np.random.default_rng(0)
    a, b = rng.random(1000), rng.random(1000)
    for c0, c1, c2, c3 in poly_matrix():
        v = c0 + c1 * a + c2 * b + c3 * a * b
        assert v.min() >= -1e-6 and v.max() <= 1 + 1e-6


def test_operand_use():
    by = {g.name: g for g in GATES}
    assert not by["FALSE"].uses_a() and not by["FALSE"].uses_b()
    assert by["A"].uses_a() and not by["A"].uses_b()
    assert by["NOT_B"].uses_b() and not by["NOT_B"].uses_a()
    assert by["XOR"].uses_a() and by["XOR"].uses_b()
