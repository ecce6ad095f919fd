"""Structural read-back: the generated network module parsed back into a gate graph.

:func:`read_network` parses ``<top>_net.sv`` with pyverilog (no simulation, no
synthesis) and recovers, for every gate, its operation and the IR signals it
reads, following pipeline registers back to their sources; and, for every
output bit, the IR signal it carries. :func:`compare` checks that against the
IR exactly. An expression is identified by matching its syntax tree against
the trees of the 16 gate expressions of :mod:`gateflow.gates` (``expr(a, b)``
with placeholder operands), so the gate table stays the one definition.

A threshold neuron is read back as a function: its expression is evaluated
(Verilog's unsigned width rules: a relation's operands at the wider side's
width, concatenations self-determined) on every assignment of the signals it
reads, or on 1,024 random ones beyond 10 signals, and compared with the IR's
``sum(w * x) >= t``. The RTL must read no signal the neuron does not connect.
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

from gateflow.errors import GateflowError
from gateflow.gates import GATES
from gateflow.ir.lower import for_hardware
from gateflow.ir.netlist import Netlist, ThresholdLayer

Key = tuple[int, int | None, int | None]  # (op, a or None if unused, b or None if unused)


class ReadbackError(GateflowError):
    """The module could not be read back, or does not match the IR."""


@dataclass
class NetworkGraph:
    gates: dict[int, set[Key]]  # IR signal -> the (op, a, b) readings its expression allows
    exprs: dict[int, tuple[Any, dict[str, int]]]  # IR signal -> (expression, name -> signal)
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
    exprs: dict[int, tuple[Any, dict[str, int]]] = {}
    for name, expr in assigns.items():
        m = re.fullmatch(r"n(\d+)", name)
        if m is None:
            raise ReadbackError(f"{path}: unexpected assignment to {name}")
        reads = {n: resolve(n)[0] for n in _refs(expr)}
        exprs[int(m.group(1))] = (expr, reads)
        actual = _shape(expr)
        readings: set[Key] = set()
        for op, template in _templates():
            binding: dict[str, str] = {}
            if _unify(template, actual, binding):
                g = GATES[op]
                a = resolve(binding["A"])[0] if g.uses_a() else None
                b = resolve(binding["B"])[0] if g.uses_b() else None
                readings.add((op, a, b))
        gates[int(m.group(1))] = readings
    if sorted(outputs) != list(range(len(outputs))):
        raise ReadbackError(f"{path}: the output bits are not assigned one by one from 0")
    resolved = [resolve(outputs[j]) for j in range(len(outputs))]
    return NetworkGraph(
        gates=gates,
        exprs=exprs,
        outputs=[s for s, _ in resolved],
        registers=len(regs),
        register_depth={j: d for j, (_, d) in enumerate(resolved)},
    )


def ir_key(op: int, a: int, b: int) -> Key:
    """An IR gate as the read-back sees it: unused operands are not in the hardware."""
    g = GATES[op]
    return (op, a if g.uses_a() else None, b if g.uses_b() else None)


def compare(net: Netlist, graph: NetworkGraph) -> list[str]:
    """Every difference between the IR and a read-back network ([] when they are equal).

    A convolutional IR is compared as the flat netlist its core is generated from
    (:func:`gateflow.ir.lower.for_hardware`)."""
    net = for_hardware(net)
    problems: list[str] = []
    offsets = net.layer_offsets()
    want: dict[int, Key] = {}
    neurons: set[int] = set()
    for li, layer in enumerate(net.layers):
        if isinstance(layer, ThresholdLayer):
            for j, (src, w, t) in enumerate(layer.neurons()):
                sig = offsets[li] + j
                neurons.add(sig)
                if sig not in graph.exprs:
                    problems.append(f"neuron n{sig} is missing")
                else:
                    problems += _compare_neuron(sig, src, w, t, *graph.exprs[sig])
            continue
        for j in range(layer.size):
            want[offsets[li] + j] = ir_key(int(layer.op[j]), int(layer.a[j]), int(layer.b[j]))
    for sig in sorted(set(want) - set(graph.gates)):
        problems.append(f"gate n{sig} is missing")
    for sig in sorted(set(graph.gates) - set(want) - neurons):
        problems.append(f"gate n{sig} is not in the IR")
    for sig in sorted(set(want) & set(graph.gates)):
        if not graph.gates[sig]:
            problems.append(f"gate n{sig}: the RTL expression is none of the 16 gates")
        elif want[sig] not in graph.gates[sig]:
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


def _refs(expr: Any) -> list[str]:
    """The signal names an expression reads, in first-seen order."""
    out: dict[str, None] = {}
    stack = [expr]
    while stack:
        node = stack.pop()
        ref = _ref(node)
        if ref is not None:
            out[ref] = None
        else:
            stack.extend(reversed(node.children()))
    return list(out)


def _const(node: Any) -> tuple[int, int]:
    """(value, width) of a sized constant such as 3'd5 or 1'b0."""
    m = re.fullmatch(r"(\d+)'([bdh])([0-9a-fA-F_]+)", str(node.value))
    if m is None:
        raise ReadbackError(f"unsized or unsupported constant {node.value!r}")
    base = {"b": 2, "d": 10, "h": 16}[m.group(2)]
    return int(m.group(3).replace("_", ""), base), int(m.group(1))


def _width(node: Any) -> int:
    """Self-determined width of an expression (unsigned Verilog rules)."""
    from pyverilog.vparser import ast as vast

    if _ref(node) is not None:
        return 1
    if isinstance(node, vast.IntConst):
        return _const(node)[1]
    if isinstance(node, vast.Concat):
        return sum(_width(c) for c in node.list)
    if isinstance(node, (vast.Plus, vast.And, vast.Or, vast.Xor, vast.Xnor)):
        return max(_width(node.left), _width(node.right))
    if isinstance(node, vast.Unot):
        return _width(node.right)
    return 1  # relations and reductions


def _eval(node: Any, env: dict[str, int], width: int | None = None) -> int:
    """Value of ``node`` with its operands read from ``env``, at context ``width``."""
    from pyverilog.vparser import ast as vast

    w = width if width is not None else _width(node)
    mask = (1 << w) - 1
    ref = _ref(node)
    if ref is not None:
        return env[ref]
    if isinstance(node, vast.IntConst):
        return _const(node)[0] & mask
    if isinstance(node, vast.Concat):
        value = 0
        for c in node.list:
            value = (value << _width(c)) | _eval(c, env)
        return value & mask
    binary = {vast.Plus: lambda a, b: a + b, vast.And: lambda a, b: a & b,
              vast.Or: lambda a, b: a | b, vast.Xor: lambda a, b: a ^ b,
              vast.Xnor: lambda a, b: ~(a ^ b)}  # fmt: skip
    for cls, fn in binary.items():
        if isinstance(node, cls):
            return fn(_eval(node.left, env, w), _eval(node.right, env, w)) & mask
    if isinstance(node, vast.Unot):
        return ~_eval(node.right, env, w) & mask
    if isinstance(node, vast.GreaterEq):
        cw = max(_width(node.left), _width(node.right))
        return int(_eval(node.left, env, cw) >= _eval(node.right, env, cw))
    reductions = {
        vast.Uand: lambda v, n: v == (1 << n) - 1,
        vast.Unand: lambda v, n: v != (1 << n) - 1,
        vast.Uor: lambda v, n: v != 0,
        vast.Unor: lambda v, n: v == 0,
    }
    for cls, fn in reductions.items():
        if isinstance(node, cls):
            n = _width(node.right)
            return int(fn(_eval(node.right, env, n), n))
    raise ReadbackError(f"unsupported expression {type(node).__name__} in a threshold neuron")


def _compare_neuron(
    sig: int, src: Any, w: Any, t: int, expr: Any, reads: dict[str, int]
) -> list[str]:
    import numpy as np

    connected = sorted({int(s) for s, v in zip(src, w) if v != 0})
    extra = sorted(set(reads.values()) - set(connected))
    if extra:
        return [f"neuron n{sig}: the RTL reads signal(s) {extra} the IR does not connect"]
    k = len(connected)
    if k <= 10:
        rows = np.array([[(i >> b) & 1 for b in range(k)] for i in range(2**k)], dtype=np.int64)
    else:
        rows = np.random.default_rng(sig).integers(0, 2, (1024, k))
    col = {s: i for i, s in enumerate(connected)}
    weights = np.zeros(k, dtype=np.int64)
    for s, v in zip(src, w):
        if v:
            weights[col[int(s)]] += int(v)
    want = (rows @ weights >= t).astype(int)
    for row, expect in zip(rows, want):
        env = {name: int(row[col[s]]) for name, s in reads.items()}
        got = _eval(expr, env, 1) & 1
        if got != expect:
            bits = {f"s{s}": int(row[i]) for s, i in col.items()}
            return [f"neuron n{sig}: RTL gives {got}, IR {int(expect)} for inputs {bits}"]
    return []
