"""Liveness of TB-local temps over the TB's control-flow graph (QEMU's liveness_pass_1).

TB-local temps live across branches inside a TB, so which of them must be in memory
at a basic-block end depends on the paths out of it.  The basic blocks and the backward
dataflow to a fixed point (loops included) are :mod:`core.flow`'s; this module feeds it
each block's use/def sets of locals and records per op which inputs die there and which
outputs are never read, and per block end which locals are live out.  Globals are not
tracked: they live in env and are synced at every block end.
"""

from __future__ import annotations

from attrs import define, field

from core.flow import op_graph
from core.ir import Temp, TempKind, TranslationBlock


def _locals(temps) -> list[int]:
    return [t.index for t in temps if isinstance(t, Temp) and t.kind is TempKind.LOCAL]


@define
class Liveness:
    """Per op: ``dead_in[i]`` (inputs whose value is not needed after op i, including
    inputs the op overwrites) and ``dead_out[i]`` (outputs never read); per block-ending
    op or label: ``live_out[i]``.  ``entry_live``: locals read before any write."""

    dead_in: list[frozenset[int]] = field(factory=list)
    dead_out: list[frozenset[int]] = field(factory=list)
    live_out: dict[int, frozenset[int]] = field(factory=dict)
    live_in_label: dict[int, frozenset[int]] = field(factory=dict)  # label id -> live in
    entry_live: frozenset[int] = frozenset()


def analyze(tb: TranslationBlock) -> Liveness:
    ops = tb.ops
    n = len(ops)
    graph = op_graph(ops)
    blocks = graph.blocks
    split = [op.split() for op in ops]
    # ---- use/def per block, then the fixed point (core.flow)
    use: list[frozenset[int]] = []
    defs: list[frozenset[int]] = []
    for s, e in blocks:
        u: set[int] = set()
        d: set[int] = set()
        for i in range(s, e):
            outs, ins, _c = split[i]
            for x in _locals(ins):
                if x not in d:
                    u.add(x)
            d.update(_locals(outs))
        use.append(frozenset(u))
        defs.append(frozenset(d))
    live_in = graph.backward(lambda b, out: use[b] | (out - defs[b]))

    # ---- per op
    result = Liveness(dead_in=[frozenset()] * n, dead_out=[frozenset()] * n)
    for b, (s, e) in enumerate(blocks):
        out: frozenset[int] = frozenset()
        for sb in graph.succs[b]:
            out |= live_in[sb]
        live = set(out)
        result.live_out[e - 1] = out
        if ops[s].opdef.sets_label:
            result.live_in_label[ops[s].args[0].id] = live_in[b]
        for i in range(e - 1, s - 1, -1):
            outs, ins, _c = split[i]
            o = _locals(outs)
            result.dead_out[i] = frozenset(x for x in o if x not in live)
            result.dead_in[i] = frozenset(x for x in _locals(ins) if x not in live or x in o)
            live.difference_update(o)
            live.update(_locals(ins))
    if blocks:
        result.entry_live = live_in[0]
    return result
