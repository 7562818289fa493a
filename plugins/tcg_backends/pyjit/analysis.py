"""Blocks and dataflow over a compilation unit: which globals are dirty, which values live.

A *unit* is what one generated function runs: one TB, or a region of TBs chained into
a loop (see :mod:`.region`), whose ``goto_tb`` exits to each other become jumps inside
the function ("transitions").  The generated code keeps each global in a local variable,
so it must know, at every point where Python code outside the unit may look at ``env``
(a helper, a slow path, an exit, the end of a slice), which globals hold values ``env``
has not seen yet (the *dirty* set, a forward may-analysis), and, at every op, which
variables a later op still reads (*liveness*, backward).  Liveness is what drops pure
ops whose results nobody reads (flag computations overwritten before any use), and
decides which globals to load at entry and to reload after a call that may have written
``env``.

Both run to a fixed point over the unit's basic blocks (:mod:`core.flow` splits the
steps into blocks and solves; this module says what each step does), so internal
branches, joins and back edges are handled exactly.  Counting guest instructions is static where every path
through a TB reaches an op with the same number of ``insn_start`` s, which lets the
common case run without a counter.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field

from core import flow as cflow
from core.errors import TcglabError

from .steps import Kind, Step

_CONTROL = (Kind.BR, Kind.BRCOND, Kind.GOTO, Kind.EXIT)


@define(eq=False)
class Block:
    index: int  # in the unit
    member: int
    steps: list[Step]
    label: int | None = None  # the label set at its start
    succs: list[int] = field(factory=list)  # inside its TB
    falls_off: bool = False  # its last op falls through past the end of the TB

    @property
    def term(self) -> Step | None:
        last = self.steps[-1] if self.steps else None
        return last if last is not None and last.kind in _CONTROL else None


@define(eq=False)
class Member:
    """One TB of a unit: its steps and blocks (unit-wide block indices)."""

    tb: Any
    steps: list[Step]
    blocks: list[Block]
    reachable: list[int]  # unit block indices reachable from this TB's start, in order
    bounded: bool  # no backward branch: each insn_start runs at most once per TB run
    max_insns: int  # insn_starts in reachable blocks
    entry: int  # unit index of its first block


def _label_of(st: Step) -> int | None:
    return st.label if st.kind is Kind.LABEL else None


def _jump_of(st: Step) -> tuple[int | None, bool] | None:
    k = st.kind
    if k is Kind.BR:
        return st.label, False
    if k is Kind.BRCOND:
        return st.label, True
    if k is Kind.GOTO or k is Kind.EXIT:
        return None, False  # no successor inside the TB (transitions are the unit's)
    return None


def _unknown_label(label: int) -> None:
    raise TcglabError(f"pyjit: branch to label {label} which is never set")


def member(tb: Any, steps: list[Step], m: int, first_block: int) -> Member:
    """Split one TB's steps into blocks numbered from ``first_block`` (core.flow)."""
    g = cflow.graph(len(steps), lambda i: _label_of(steps[i]), lambda i: _jump_of(steps[i]),
                   _unknown_label)
    ranges = g.blocks or [(0, 0)]  # an empty TB is one empty block
    blocks: list[Block] = []
    last = first_block + len(ranges) - 1
    for k, (s, e) in enumerate(ranges):
        b = Block(first_block + k, m, steps[s:e])
        b.succs = [first_block + x for x in g.succs[k]] if g.blocks else []
        if b.steps and b.steps[0].kind is Kind.LABEL:
            b.label = b.steps[0].label
        t = b.term
        b.falls_off = b.index == last and (t is None or t.kind is Kind.BRCOND)
        blocks.append(b)
    by_index = {b.index: b for b in blocks}
    order = sorted(cflow.reachable({bi: b.succs for bi, b in by_index.items()}, [first_block]))
    bounded = all(s > bi for bi in order for s in by_index[bi].succs)
    max_insns = sum(1 for bi in order for st in by_index[bi].steps if st.kind is Kind.INSN)
    return Member(tb, steps, blocks, order, bounded, max_insns, first_block)


@define
class Variant:
    """How one compiled form of a unit runs."""

    checked: bool  # a budget check at every insn_start (the slice may end inside the TB)
    edges: dict[int, int] = field(factory=dict)  # GOTO step uid -> member it continues in
    verified: frozenset[int] = frozenset()  # edges chained at build time (cell _V vouches)
    loops: tuple[tuple[int, int], ...] = ()  # member ranges that loop (see .region.nest)
    transition_writeback: bool = False  # transitions write globals back (to call tb_flags)
    lookup_var: str = ""  # the pc's variable, when exit_tb may continue in any member


@define
class Flow:
    dirty: dict[int, frozenset[str]]  # step uid -> globals env has not seen, before it
    exit_writeback: frozenset[str]  # written back at the unit's one exit: every exit's dirty
    live_after: dict[int, frozenset[str]]
    dead: set[int]  # uids of pure steps whose results nobody reads
    entry_live: dict[int, frozenset[str]]  # member -> variables read before written
    counts: dict[int, int] | None  # step uid -> insns run so far in its TB (None: at run time)
    insn_pcs: dict[int, int]  # step uid -> the pc of its instruction (with static counts)


@define
class Unit:
    members: list[Member]

    @property
    def blocks(self) -> list[Block]:
        return [b for m in self.members for b in m.blocks]


def flow(unit: Unit, variant: Variant) -> Flow:
    blocks = unit.blocks
    entry_of = [m.entry for m in unit.members]
    succs: dict[int, list[int]] = {}
    for b in blocks:
        succs[b.index] = list(b.succs)
        t = b.term
        if t is not None and t.uid in variant.edges:
            succs[b.index].append(entry_of[variant.edges[t.uid]])
        elif t is not None and t.kind is Kind.EXIT and variant.lookup_var:
            succs[b.index].extend(entry_of)  # found in the TB cache: any member may follow
    order = sorted(cflow.reachable(succs, [entry_of[0]]))
    preds = cflow.predecessors(order, succs)
    dirty = _dirty(blocks, order, preds, succs, variant)
    # every exit leaves through one shared exit (the source stays small), which writes
    # back the union of the exits' dirty sets: those must be valid at every exit
    shared: frozenset[str] = frozenset()
    for bi in order:
        for st in blocks[bi].steps:
            if st.kind in (Kind.GOTO, Kind.EXIT) or (st.kind is Kind.INSN and variant.checked):
                shared |= dirty[st.uid]
    live_after, dead, live_in = _liveness(blocks, order, preds, succs, shared, dirty, variant)
    entry_live = {mi: live_in.get(m.entry, frozenset()) for mi, m in enumerate(unit.members)}
    counts: dict[int, int] | None = None
    insn_pcs: dict[int, int] = {}
    if not variant.checked:  # the budget check needs a counter
        counts = {}
        for m in unit.members:
            c = _counts(m)
            if c is None:
                counts = None
                break
            for uid, (n, pc) in c.items():
                counts[uid] = n
                insn_pcs[uid] = pc
    return Flow(dirty, shared, live_after, dead, entry_live, counts, insn_pcs)


def _dirty(blocks: list[Block], order: list[int], preds: dict[int, list[int]],
           succs: dict[int, list[int]], variant: Variant) -> dict[int, frozenset[str]]:
    """Forward, to a fixed point (core.flow): the globals env has not seen before each
    step.  A transition that writes the globals back hands nothing on."""
    # per block: (uid, writes back, globals defined) of each step, computed once
    info = {bi: [(st.uid, st.writeback, frozenset(x for x in st.defs if x[0] == "g"))
                 for st in blocks[bi].steps] for bi in order}
    wiped = {bi for bi in order  # transitions that wrote the globals back
             if variant.transition_writeback and blocks[bi].term is not None
             and blocks[bi].term.uid in variant.edges}
    empty: frozenset[str] = frozenset()
    before: dict[int, frozenset[str]] = {}

    def transfer(bi: int, d: frozenset[str]) -> frozenset[str]:
        for uid, writeback, g in info[bi]:
            before[uid] = d
            if writeback:
                d = empty
            if g:
                d = d | g
        return empty if bi in wiped else d

    cflow.forward(order, preds, succs, transfer)
    return before


def _liveness(blocks: list[Block], order: list[int], preds: dict[int, list[int]],
              succs: dict[int, list[int]], exit_dirty: frozenset[str], dirty: dict[int, frozenset[str]],
              variant: Variant):
    """Backward, to a fixed point (core.flow), dropping pure steps whose results nobody
    reads (so a value read only by a dead step is dead too); each block's last visit
    (with its successors' final sets) is the one whose results stand."""
    all_globals = frozenset(x for bi in order for st in blocks[bi].steps
                            for x in st.defs + st.uses if x[0] == "g")
    info = {bi: [_step_info(st) for st in reversed(blocks[bi].steps)] for bi in order}
    lookup = frozenset({variant.lookup_var}) if variant.lookup_var else frozenset()
    checked = variant.checked
    live_after: dict[int, frozenset[str]] = {}
    dead_in: dict[int, list[int]] = {}

    def transfer(bi: int, live: frozenset[str]) -> frozenset[str]:
        dead: list[int] = []
        for uid, k, defs, uses, pure in info[bi]:
            live_after[uid] = live
            if k is _EXITING:
                # after a transition the next TB's locals start from zero (a new frame);
                # the exit writes the dirty globals back
                live = frozenset(x for x in live if x[0] == "g") | exit_dirty
            elif k is _LOOKUP:
                live = frozenset(x for x in live if x[0] == "g") | exit_dirty | lookup
            elif k is _COUNTED:
                if checked:
                    live = live | exit_dirty
            elif k is _PLAIN:
                if pure and defs and not (defs & live):
                    dead.append(uid)
                else:
                    live = (live - defs) | uses
            elif pure and defs and not (defs & live):
                dead.append(uid)
            elif k is _CLOBBERS:
                live = (live - defs - all_globals) | uses | dirty[uid]
            elif k is _WRITES_BACK:
                live = (live - defs) | uses | dirty[uid]
            # _SKIP: labels, branches, nops
        dead_in[bi] = dead
        return live

    live_in = cflow.backward(order, succs, preds, transfer)
    return live_after, {uid for d in dead_in.values() for uid in d}, live_in


# what a step does to liveness (see _step_info)
_EXITING, _LOOKUP, _COUNTED, _SKIP, _PLAIN, _CLOBBERS, _WRITES_BACK = (
    "exit", "lookup", "insn", "skip", "plain", "clobbers", "writeback")


def _step_info(st: Step) -> tuple:
    k = st.kind
    if k is Kind.GOTO:
        kind = _EXITING
    elif k is Kind.EXIT:
        kind = _LOOKUP
    elif k is Kind.INSN:
        kind = _COUNTED
    elif k in (Kind.LABEL, Kind.BR, Kind.NOP):
        kind = _SKIP
    elif k in (Kind.QLD, Kind.QST) or (st.writeback and not st.clobbers):
        kind = _WRITES_BACK
    elif st.clobbers:
        kind = _CLOBBERS
    else:
        kind = _PLAIN
    return st.uid, kind, frozenset(st.defs), frozenset(st.uses), st.pure


def flag_writes_before(m: Member, slots: frozenset[int]) -> set[int]:
    """The exits (goto_tb, exit_tb) of ``m`` that a store to one of ``slots`` (the env
    slots ``tb_flags`` reads), or a call that may write env, can precede in a run of
    ``m``: only there may the TB flags differ from ``m``'s own.  (A return pops the pc
    and stores the Thumb bit, but the loop's other exits never see that store.)"""
    def writes(st: Step) -> bool:
        return (st.clobbers or st.env_slot in slots
                or any(d[0] == "g" and int(d[1:]) in slots for d in st.defs))

    by_index = {b.index: b for b in m.blocks}
    found: set[int] = set()
    after_write: list[int] = []  # blocks a write may precede
    for b in m.blocks:
        seen = False
        for st in b.steps:
            if writes(st):
                seen = True
            elif seen and st.kind in (Kind.GOTO, Kind.EXIT):
                found.add(st.uid)
        if seen:
            after_write.extend(b.succs)
    for bi in cflow.reachable({bi: b.succs for bi, b in by_index.items()}, after_write):
        found.update(st.uid for st in by_index[bi].steps if st.kind in (Kind.GOTO, Kind.EXIT))
    return found


def _counts(m: Member) -> dict[int, tuple[int, int]] | None:
    """Instructions run when each step executes, if the same on every path (else None).

    The guest pc of the instruction must be the same on every path too (a branch may
    skip an insn_start): otherwise both are tracked at run time.
    """
    if not m.bounded:
        return None
    by_index = {b.index: b for b in m.blocks}
    state_in: dict[int, tuple[int, int]] = {m.entry: (0, m.tb.pc)}
    counts: dict[int, tuple[int, int]] = {}
    for bi in m.reachable:
        if bi not in state_in:
            return None
        c, pc = state_in[bi]
        for st in by_index[bi].steps:
            if st.kind is Kind.INSN:
                c, pc = c + 1, st.value
            counts[st.uid] = (c, pc)
        for s in by_index[bi].succs:
            if state_in.setdefault(s, (c, pc)) != (c, pc):
                return None
    return counts


__all__ = ["Block", "Member", "Unit", "Variant", "Flow", "member", "flow", "flag_writes_before"]
