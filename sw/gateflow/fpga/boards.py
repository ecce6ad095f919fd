"""Boards as data.

Each board is one YAML file in ``hw/boards/``: device, nextpnr flags, clock,
UART and LED pins, programmer. Everything board-specific is derived from it:
the constraint file in ``constraints/`` (see :func:`constraint_text`), the
FuseSoC target of a build, the LED parameters of the board top and the
resources that ``report.json`` compares against. Adding a board is adding a
file there (docs/boards.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gateflow import paths
from gateflow.errors import GateflowError
from gateflow.fpga.families import FAMILIES

BOARDS_DIR = paths.BOARDS
CONSTRAINTS_DIR = paths.CONSTRAINTS


class BoardError(GateflowError):
    """An unknown board or variant, or a malformed board file."""


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    family: str
    device: str
    clock_pin: str
    clock_mhz: float
    uart_rx: str
    uart_tx: str
    led_pins: tuple[str, ...]
    leds_active_low: bool
    io_standard: str
    led_io_standard: str
    programmer_board: str
    resources: dict[str, int]
    nextpnr: tuple[str, ...] = ()
    pack: tuple[str, ...] = ()
    gowin_family: str = ""
    variant: str = ""
    variants: tuple[str, ...] = field(default=())
    # the build's default register stage after every N gate layers (0: none, whole cones
    # for synthesis; the choice for small parts with slow clocks)
    pipeline_every: int = 1
    # how a convolutional netlist is built by default: "spatial" (unrolled) or "tm" (the
    # time-multiplexed engine, gateflow.hdl.engine; the choice for small parts)
    conv_form: str = "spatial"
    # how a dense netlist is built by default: "spatial" (every gate built) or "seq" (one
    # gate per clock from a program in block RAM, gateflow.hdl.seq; for small parts)
    dense_form: str = "spatial"
    # the GroupSum of a spatial core: "tree" (a popcount tree per class, one sample per
    # clock) or "serial" (gf_serial_groupsum, a sample every group + 1 clocks)
    groupsum: str = "tree"

    @property
    def flow(self) -> str:
        return FAMILIES[self.family].flow

    @property
    def constraint_suffix(self) -> str:
        return FAMILIES[self.family].constraint_suffix

    @property
    def synth_command(self) -> str:
        return FAMILIES[self.family].synth_command

    @property
    def constraint_file(self) -> Path:
        return CONSTRAINTS_DIR / f"{self.name}.{self.constraint_suffix}"

    @property
    def clock_hz(self) -> int:
        return int(round(self.clock_mhz * 1e6))

    @property
    def build_name(self) -> str:
        """Folder name under build/: the board, plus the variant when it is not the default."""
        return self.name if not self.variant else f"{self.name}-{self.variant}"


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


def _require(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise BoardError(f"{where}: missing field '{key}'")
    value = data[key]
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BoardError(f"{where}: field '{key}' must be a {kind.__name__}")
    return value


def load_board(name: str, variant: str | None = None) -> Board:
    """Load ``hw/boards/<name>.yaml``; ``variant`` picks e.g. the ULX3S 45F."""
    known = board_names()
    if name not in known:
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(known)}")
    path = BOARDS_DIR / f"{name}.yaml"
    where = f"hw/boards/{path.name}"
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BoardError(f"{where}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise BoardError(f"{where}: expected a mapping")
    variants = data.get("variants") or {}
    chosen = ""
    if variants:
        default = str(data.get("default_variant", next(iter(variants))))
        chosen = str(variant or default).lower()
        if chosen not in variants:
            raise BoardError(
                f"unknown variant {chosen!r} of {name}; variants: {', '.join(variants)}"
            )
        data = {**data, **(variants[chosen] or {})}
        if chosen == default:
            chosen = ""
    elif variant:
        raise BoardError(f"board {name} has no variants (asked for {variant!r})")
    family = _require(data, "family", str, where)
    if family not in FAMILIES:
        raise BoardError(f"{where}: family must be one of {', '.join(FAMILIES)}")
    clock = _require(data, "clock", dict, where)
    uart = _require(data, "uart", dict, where)
    leds = _require(data, "leds", dict, where)
    pins = leds.get("pins")
    if not isinstance(pins, list) or not pins:
        raise BoardError(f"{where}: leds.pins must be a non-empty list")
    resources = _require(data, "resources", dict, where)
    for key in ("luts", "ffs", "brams"):
        if not isinstance(resources.get(key), int):
            raise BoardError(f"{where}: resources.{key} must be an integer")
    if family == "gowin" and not data.get("gowin_family"):
        raise BoardError(f"{where}: gowin boards need 'gowin_family'")
    io_standard = _require(data, "io_standard", str, where)
    pipeline_every = data.get("pipeline_every", 1)
    if type(pipeline_every) is not int or pipeline_every < 0:
        raise BoardError(f"{where}: pipeline_every must be an integer >= 0")
    conv_form = data.get("conv_form", "spatial")
    if conv_form not in ("spatial", "tm"):
        raise BoardError(f"{where}: conv_form must be spatial or tm")
    from gateflow.hdl.engine import DENSE_FORMS

    dense_form = data.get("dense_form", "spatial")
    if dense_form not in DENSE_FORMS:
        raise BoardError(f"{where}: dense_form must be one of {', '.join(DENSE_FORMS)}")
    groupsum = data.get("groupsum", "tree")
    if groupsum not in ("tree", "serial"):
        raise BoardError(f"{where}: groupsum must be tree or serial")
    return Board(
        name=name,
        title=_require(data, "title", str, where),
        family=family,
        device=_require(data, "device", str, where),
        clock_pin=_require(clock, "pin", str, f"{where} clock"),
        clock_mhz=float(_require(clock, "mhz", int | float, f"{where} clock")),
        uart_rx=_require(uart, "rx", str, f"{where} uart"),
        uart_tx=_require(uart, "tx", str, f"{where} uart"),
        led_pins=tuple(str(p) for p in pins),
        leds_active_low=bool(leds.get("active_low", False)),
        io_standard=io_standard,
        led_io_standard=str(leds.get("io_standard", io_standard)),
        programmer_board=_require(
            _require(data, "programmer", dict, where), "board", str, f"{where} programmer"
        ),
        resources={k: int(v) for k, v in resources.items()},
        nextpnr=tuple(str(a) for a in data.get("nextpnr", [])),
        pack=tuple(str(a) for a in data.get("pack", [])),
        gowin_family=str(data.get("gowin_family", "")),
        variant=chosen,
        variants=tuple(variants),
        pipeline_every=pipeline_every,
        conv_form=conv_form,
        dense_form=dense_form,
        groupsum=groupsum,
    )


# Top-level ports of the board design (gf_board): name -> (pin attribute, is LED)
def _ports(board: Board) -> list[tuple[str, str, str]]:
    ports = [
        ("clk", board.clock_pin, board.io_standard),
        ("uart_rx", board.uart_rx, board.io_standard),
        ("uart_tx", board.uart_tx, board.io_standard),
    ]
    ports += [(f"led[{i}]", pin, board.led_io_standard) for i, pin in enumerate(board.led_pins)]
    return ports


def constraint_text(board: Board) -> str:
    """The constraint file of a board, derived from its YAML file: pins and I/O standards.
    The clock's timing target is not in it: every build passes ``--freq`` to nextpnr
    (the board clock, or ``--target-mhz``), which a FREQUENCY line would override."""
    head = (
        f"generated by gateflow from hw/boards/{board.name}.yaml ({board.title}); "
        "edit that file and run `gateflow boards --sync`"
    )
    lines: list[str]
    if board.family == "ice40":
        lines = [f"# {head}"]
        lines += [f"set_io {port} {pin}" for port, pin, _ in _ports(board)]
    elif board.family == "ecp5":
        lines = [f"# {head}"]
        for port, pin, std in _ports(board):
            lines.append(f'LOCATE COMP "{port}" SITE "{pin}";')
            lines.append(f'IOBUF PORT "{port}" IO_TYPE={std};')
    else:
        lines = [f"// {head}"]
        for port, pin, std in _ports(board):
            lines.append(f'IO_LOC "{port}" {pin};')
            lines.append(f'IO_PORT "{port}" IO_TYPE={std};')
    return "\n".join(lines) + "\n"


def sync_constraints() -> list[Path]:
    """Rewrite every board's constraint file; returns the files that changed."""
    changed = []
    for name in board_names():
        board = load_board(name)
        text = constraint_text(board)
        path = board.constraint_file
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
