"""Structural read-back: the generated network module parsed back into a gate graph.

:func:`read_network` parses ``<top>_net.sv`` with pyverilog (no simulation, no
synthesis) and recovers, for every gate, its operation and the IR signals it
reads, following pipeline registers back to their sources; and, for every
output bit, the IR signal it carries. :func:`compare` checks that against the
IR exactly. An expression is identified by matching its syntax tree against
the trees of the 16 gate expressions of :mod:`gateflow.gates` (``expr(a, b)``
with placeholder operands), so the gate table stays the one definition.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import GateflowError
from .gates import GATES
from .ir import Netlist

Key = tuple[int, int | None, int | None]  # (op, a or None if unused, b or None if unused)


class ReadbackError(GateflowError):
    """The module could not be read back, or does not match the IR."""


@dataclass
class NetworkGraph:
    gates: dict[int, set[Key]]  # IR signal -> the (op, a, b) readings its expression allows
    outputs: list[int]  # y[j] -> IR signal
    registers: int  # flip-flops in the module
    register_depth: dict[int, int]  # y[j] -> registers between the signal and the output


@contextmanager
def _in_folder() -> Iterator[None]:
    """pyverilog writes its parser tables into the working folder: use a temporary one."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gateflow-readback-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def _parse(text: str) -> Any:
    from pyverilog.vparser.parser import VerilogParser

    with _in_folder():
        return VerilogParser(outputdir=".", debug=False).parse(text)


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))


def _ref(node: Any) -> str | None:
    """'x[3]' or a plain name for a signal reference, else None."""
    from pyverilog.vparser import ast as vast

    if isinstance(node, vast.Pointer) and isinstance(node.var, vast.Identifier):
        return f"{node.var.name}[{int(node.ptr.value)}]"
    if isinstance(node, vast.Identifier):
        return str(node.name)
    return None


def _shape(node: Any) -> Any:
    """A hashable tree of the expression with signal references as ('SIG', name)."""
    from pyverilog.vparser import ast as vast

    ref = _ref(node)
    if ref is not None:
        return ("SIG", ref)
    if isinstance(node, vast.IntConst):
        return ("CONST", str(node.value))
    return (type(node).__name__, *(_shape(c) for c in node.children()))


@cache
def _templates() -> tuple[tuple[int, Any], ...]:
    """The parsed tree of every gate's expression over placeholder operands A and B."""
    body = "\n".join(f"  assign t{g.id} = {g.expr('A', 'B')};" for g in GATES)
    tree = _parse(f"module gf_templates (A, B);\n{body}\nendmodule\n")
    from pyverilog.vparser import ast as vast

    found = {}
    for node in _walk(tree):
        if isinstance(node, vast.Assign):
            found[int(str(node.left.var.name)[1:])] = _shape(node.right.var)
    return tuple(sorted(found.items()))


def _unify(template: Any, actual: Any, binding: dict[str, str]) -> bool:
    if isinstance(template, tuple) and template and template[0] == "SIG":
        if not (isinstance(actual, tuple) and actual and actual[0] == "SIG"):
            return False
        name = template[1]
        if name in binding:
            return binding[name] == actual[1]
        binding[name] = actual[1]
        return True
    if not isinstance(template, tuple) or not isinstance(actual, tuple):
        return template == actual
    if len(template) != len(actual) or template[0] != actual[0]:
        return False
    return all(_unify(t, a, binding) for t, a in zip(template[1:], actual[1:]))


def read_network(path: str | Path) -> NetworkGraph:
    """Parse a generated network module back into gates, wiring and outputs."""
    from pyverilog.vparser import ast as vast

    tree = _parse(Path(path).read_text())
    assigns: dict[str, Any] = {}
    regs: dict[str, str] = {}
    outputs: dict[int, str] = {}
    for node in _walk(tree):
        if isinstance(node, vast.Assign):
            left = _ref(node.left.var)
            if left is None:
                raise ReadbackError(f"{path}: an assignment to something other than a signal")
            if left.startswith("y["):
                src = _ref(node.right.var)
                if src is None:
                    raise ReadbackError(f"{path}: output {left} is not a plain signal")
                outputs[int(left[2:-1])] = src
            else:
                assigns[left] = node.right.var
        elif isinstance(node, vast.NonblockingSubstitution):
            left, src = _ref(node.left.var), _ref(node.right.var)
            if left is None or src is None:
                raise ReadbackError(f"{path}: a register that does not copy a signal")
            regs[left] = src

    def resolve(name: str) -> tuple[int, int]:
        """IR signal of a reference and the registers crossed to reach it."""
        crossed = 0
        seen = set()
        while name in regs:
            if name in seen:
                raise ReadbackError(f"{path}: registers {name} form a loop")
            seen.add(name)
            name, crossed = regs[name], crossed + 1
        if m := re.fullmatch(r"x\[(\d+)\]", name):
            return int(m.group(1)), crossed
        if m := re.fullmatch(r"n(\d+)", name):
            if name not in assigns:
                raise ReadbackError(f"{path}: {name} is read but never assigned")
            return int(m.group(1)), crossed
        raise ReadbackError(f"{path}: {name} is neither an input bit, a gate nor a register")

    gates: dict[int, set[Key]] = {}
    for name, expr in assigns.items():
        m = re.fullmatch(r"n(\d+)", name)
        if m is None:
            raise ReadbackError(f"{path}: unexpected assignment to {name}")
        actual = _shape(expr)
        readings: set[Key] = set()
        for op, template in _templates():
            binding: dict[str, str] = {}
            if _unify(template, actual, binding):
                g = GATES[op]
                a = resolve(binding["A"])[0] if g.uses_a() else None
                b = resolve(binding["B"])[0] if g.uses_b() else None
                readings.add((op, a, b))
        if not readings:
            raise ReadbackError(f"{path}: the expression of {name} is none of the 16 gates")
        gates[int(m.group(1))] = readings
    if sorted(outputs) != list(range(len(outputs))):
        raise ReadbackError(f"{path}: the output bits are not assigned one by one from 0")
    resolved = [resolve(outputs[j]) for j in range(len(outputs))]
    return NetworkGraph(
        gates=gates,
        outputs=[s for s, _ in resolved],
        registers=len(regs),
        register_depth={j: d for j, (_, d) in enumerate(resolved)},
    )


def ir_key(op: int, a: int, b: int) -> Key:
    """An IR gate as the read-back sees it: unused operands are not in the hardware."""
    g = GATES[op]
    return (op, a if g.uses_a() else None, b if g.uses_b() else None)


def compare(net: Netlist, graph: NetworkGraph) -> list[str]:
    """Every difference between the IR and a read-back network ([] when they are equal)."""
    problems: list[str] = []
    offsets = net.layer_offsets()
    want: dict[int, Key] = {}
    for li, layer in enumerate(net.layers):
        for j in range(layer.size):
            want[offsets[li] + j] = ir_key(int(layer.op[j]), int(layer.a[j]), int(layer.b[j]))
    for sig in sorted(set(want) - set(graph.gates)):
        problems.append(f"gate n{sig} is missing")
    for sig in sorted(set(graph.gates) - set(want)):
        problems.append(f"gate n{sig} is not in the IR")
    for sig in sorted(set(want) & set(graph.gates)):
        if want[sig] not in graph.gates[sig]:
            problems.append(
                f"gate n{sig}: IR {want[sig]}, RTL reads as {sorted(graph.gates[sig], key=str)}"
            )
    flat = [int(s) for g in net.head.groups for s in g]
    if graph.outputs != flat:
        diff = [j for j in range(min(len(flat), len(graph.outputs))) if flat[j] != graph.outputs[j]]
        problems.append(
            f"outputs differ ({len(graph.outputs)} in the RTL, {len(flat)} in the IR; "
            f"first differing position {diff[:1]})"
        )
    return problems
