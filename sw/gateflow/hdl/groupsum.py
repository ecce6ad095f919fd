"""The serial GroupSum: a core's gate network followed by ``gf_serial_groupsum``.

A popcount tree per class (``gf_popcount``) counts a sample in one clock and costs
about two LUT4 per counted bit. ``gf_serial_groupsum`` (hw/rtl) loads every class's
group of output bits into a shift register and counts K bits of each per clock, for
ceil(G / K) clocks (G: the largest group): about one LUT4 per grouped bit, which the
last gate layer shares when it is not registered, and a small adder per class.

Two cores use it, through the one template ``tail_serial.sv.j2``:
- the time-multiplexed engine (:mod:`gateflow.hdl.engine`), always, for its dense
  tail, with K chosen to keep up with the stages;
- a dense core with ``CoreOptions(groupsum="serial")``, one bit per class per clock:
  a sample every G + 1 clocks (a few hundred thousand samples per second at 12 MHz
  for the digits networks, against about 500 a 115,200-baud link carries).

:func:`serial_schedule` runs the handshakes of such a core cycle by cycle (the RTL's
control in Python) for the latencies and intervals its manifest states and the
cocotb bench checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gateflow.ir.netlist import Netlist, index_width, score_width

GROUPSUMS = ("tree", "serial")  # a popcount tree per class; gf_serial_groupsum
DENSE_BITS_PER_CYCLE = 1  # what a dense core's serial GroupSum counts of every class per clock


def group_size(net: Netlist) -> int:
    """The largest class group: what gf_serial_groupsum pads every group to."""
    return max(int(g.size) for g in net.head.groups)


@dataclass(frozen=True)
class SerialTail:
    """The timing of a gate network with ``net_stages`` register stages followed by
    gf_serial_groupsum counting ``bits_per_cycle`` bits of groups of ``group`` bits."""

    net_stages: int
    group: int
    bits_per_cycle: int

    @property
    def steps(self) -> int:
        """Clocks the GroupSum counts per sample."""
        return -(-self.group // self.bits_per_cycle)

    @property
    def latency(self) -> int:
        """Input handshake to result, never stalled, when the GroupSum is idle."""
        return self.net_stages + self.steps + 1

    def figures(self) -> dict[str, int]:
        """The manifest's ``groupsum`` entry."""
        return {"bits_per_cycle": self.bits_per_cycle, "cycles": self.steps, "group": self.group}


class TailModel:
    """The handshakes of a gate network with ``net_stages`` valid registers followed by
    gf_serial_groupsum (tail_serial.sv.j2), clock by clock as the RTL makes them, with an
    output that is always taken."""

    def __init__(self, tail: SerialTail) -> None:
        self.steps = tail.steps
        self.valid = [False] * tail.net_stages  # the network's valid registers
        self.busy, self.left = False, 0  # gf_serial_groupsum's state

    def ready(self) -> bool:
        """``s_axis_tready`` in this clock."""
        gs_ready = (not self.busy) or self.left == 0
        return (not self.valid[-1]) or gs_ready if self.valid else gs_ready

    def clock(self, offered: bool) -> tuple[bool, bool]:
        """One clock with ``s_axis_tvalid`` = ``offered``: whether a sample was taken, and
        whether a result left (``m_axis_tvalid``)."""
        done = self.busy and self.left == 0
        ready = self.ready()
        took = offered and ready
        gs_valid = self.valid[-1] if self.valid else offered
        if gs_valid and ((not self.busy) or done):
            self.busy, self.left = True, self.steps
        elif self.busy and self.left:
            self.left -= 1
        elif done:
            self.busy = False
        if self.valid and ready:
            self.valid = [took, *self.valid[:-1]]
        return took, done


def bits_per_cycle(group: int, gap: int) -> int:
    """The fewest bits of each class group that gf_serial_groupsum must count per clock to
    finish a sample (ceil(group / K) clocks, then one to hand it on) within ``gap``
    clocks, the least time between two samples reaching it."""
    return max(1, -(-group // max(1, gap - 1)))


def render_serial(
    net: Netlist, opts, header: str, top: str, per_cycle: int
) -> tuple[dict[str, str], SerialTail]:
    """The SystemVerilog of ``net``'s gate network (``<top>_net``, with the register
    stages ``opts.pipeline_every`` puts in it) and the core ``top`` around it with a
    serial GroupSum counting ``per_cycle`` bits of every class per clock: ``{file name:
    text}`` in compile order, and the timing."""
    from gateflow.hdl import codegen

    group = group_size(net)
    net_module = f"{top}_net"
    net_text, net_stages = codegen.render_network(net, opts, header, net_module)
    tail = SerialTail(net_stages=net_stages, group=group, bits_per_cycle=per_cycle)
    # the class groups, concatenated in y, padded to `group` bits; the highest class first
    sizes = [int(g.size) for g in net.head.groups]
    firsts = np.cumsum([0, *sizes])
    order = []
    for c in reversed(range(net.num_classes)):
        if group > sizes[c]:
            order.append(f"{group - sizes[c]}'b0")
        order.append(f"y[{firsts[c] + sizes[c] - 1}:{firsts[c]}]")
    sw, iw = score_width(net), index_width(net)
    text = (
        codegen._env()
        .get_template("tail_serial.sv.j2")
        .render(
            header=header,
            top=top,
            net_module=net_module,
            num_inputs=net.num_inputs,
            num_outputs=int(firsts[-1]),
            num_classes=net.num_classes,
            group=group,
            score_width=sw,
            index_width=iw,
            out_width=iw + (net.num_classes * sw if opts.scores else 0),
            scores=opts.scores,
            net_stages=net_stages,
            bits=", ".join(order),
            bits_per_cycle=per_cycle,
            steps=tail.steps,
            latency=tail.latency,
        )
    )
    return {f"{net_module}.sv": net_text, f"{top}.sv": text}, tail


def serial_schedule(tail: SerialTail, images: int = 8) -> dict[str, Any]:
    """The handshakes of a dense core with a serial GroupSum, cycle by cycle as the RTL
    makes them, for ``images`` samples offered back to back and an output that is always
    taken: ``latency_cycles[k]`` and ``interval_cycles[k]`` (sample k's latency and the
    cycles to sample k+1's handshake), each list's last entry holding for all later
    samples, and ``settle_cycles`` (0: the idle core is ready at once)."""
    from gateflow.hdl.engine import periodic

    model = TailModel(tail)
    ins: list[int] = []
    outs: list[int] = []
    cycle = 0
    while len(outs) < images:
        took, out = model.clock(len(ins) < images)  # the next sample is offered at once
        if took:
            ins.append(cycle)
        if out:
            outs.append(cycle)
        cycle += 1
    timing = {
        "settle": 0,
        "latencies": [b - a for a, b in zip(ins, outs)],
        "intervals": [b - a for a, b in zip(ins, ins[1:])],
    }
    return periodic(timing)
