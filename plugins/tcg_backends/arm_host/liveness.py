"""Liveness of TB-local temps over the TB's control-flow graph (QEMU's liveness_pass_1).

TB-local temps live across branches inside a TB, so which of them must be in memory
at a basic-block end depends on the paths out of it.  This pass splits the ops into
basic blocks (a ``set_label`` starts one; a branch or TB exit ends one), iterates the
usual backward dataflow to a fixpoint (loops included), and records per op which inputs
die there and which outputs are never read, and per block end which locals are live
out.  Globals are not tracked: they live in env and are synced at every block end.
"""

from __future__ import annotations

from attrs import define, field

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
    # ---- basic blocks: [start, end) op ranges
    starts = {0}
    for i, op in enumerate(ops):
        if op.name == "set_label":
            starts.add(i)
        elif op.opdef.ends_block and i + 1 < n:
            starts.add(i + 1)
    order = sorted(s for s in starts if s < n) if n else []
    blocks = [(s, order[k + 1] if k + 1 < len(order) else n) for k, s in enumerate(order)]
    block_of_label: dict[int, int] = {}
    for b, (s, _e) in enumerate(blocks):
        if ops[s].name == "set_label":
            block_of_label[ops[s].args[0].id] = b

    split = [op.split() for op in ops]
    succs: list[list[int]] = []
    for b, (s, e) in enumerate(blocks):
        last = ops[e - 1]
        d = last.opdef
        out: list[int] = []
        if last.name == "br":
            out.append(block_of_label[last.args[0].id])
        elif d.bb_exit:
            pass
        else:
            if b + 1 < len(blocks):
                out.append(b + 1)
            if d.cond_branch:
                out.append(block_of_label[split[e - 1][2][-1].id])
        succs.append(out)

    # ---- use/def per block, then the fixpoint
    use: list[set[int]] = []
    defs: list[set[int]] = []
    for s, e in blocks:
        u: set[int] = set()
        d: set[int] = set()
        for i in range(s, e):
            outs, ins, _c = split[i]
            for x in _locals(ins):
                if x not in d:
                    u.add(x)
            d.update(_locals(outs))
        use.append(u)
        defs.append(d)
    live_in = [set(u) for u in use]
    live_out = [set() for _ in blocks]
    changed = True
    while changed:
        changed = False
        for b in range(len(blocks) - 1, -1, -1):
            out = set()
            for sb in succs[b]:
                out |= live_in[sb]
            if out != live_out[b]:
                live_out[b] = out
            new_in = use[b] | (out - defs[b])
            if new_in != live_in[b]:
                live_in[b] = new_in
                changed = True

    # ---- per op
    result = Liveness(dead_in=[frozenset()] * n, dead_out=[frozenset()] * n)
    for b, (s, e) in enumerate(blocks):
        live = set(live_out[b])
        result.live_out[e - 1] = frozenset(live_out[b])
        if ops[s].name == "set_label":
            result.live_in_label[ops[s].args[0].id] = frozenset(live_in[b])
        for i in range(e - 1, s - 1, -1):
            outs, ins, _c = split[i]
            o = _locals(outs)
            result.dead_out[i] = frozenset(x for x in o if x not in live)
            result.dead_in[i] = frozenset(x for x in _locals(ins) if x not in live or x in o)
            live.difference_update(o)
            live.update(_locals(ins))
    if blocks:
        result.entry_live = frozenset(live_in[0])
    return result
