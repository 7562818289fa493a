"""Sinking: pure steps whose results only an exit reads run on the exit path only.

In a loop the flags an instruction sets are mostly overwritten by the next iteration
before anything reads them, and the pc a TB stores before ``goto_tb`` is stored again
by the next TB.  Inside a unit those values are dead along the transition (the next
TB's code redefines them before reading), yet live where the unit exits (``env`` must
be exact there).  This pass moves such pure steps forward, past the branches that end
their block, into every successor, and finally behind the transition: marked
``deferred`` there, they are written only on the exit path of the transition's check
(see :meth:`.codegen.FunctionWriter._transition`) -- QEMU's cc_op laziness, by code
motion ("partial dead code elimination") instead of a flags representation.

A step moves past another step only when that one neither reads nor writes what it
defines, and is no place where Python outside the unit may look at ``env`` (a call, a
softmmu slow path, a native compare that calls semantics).  An operand overwritten on
the way is copied at the step's old place first (one local assignment, cheaper than the
flag computation it saves).  A step moves into a successor block only when that block
has no other predecessor; it is deferred at a transition only when the target TB does
not read any of its results before writing them.
"""

from __future__ import annotations

import re

from .analysis import Block, Unit, Variant
from .steps import Kind, Step

_UNSAFE = (Kind.QLD, Kind.QST, Kind.CALL, Kind.EXIT)


def sink(unit: Unit, variant: Variant, entry_live: dict[int, frozenset[str]],
         keep: frozenset[str] = frozenset()) -> int:
    """Move pure steps towards the exits that read them; returns how many were deferred
    (0: nothing was, and the caller need not redo its dataflow).

    ``keep``: variables never deferred (globals the transitions' flags check reads).
    Transitions that write globals back before their check defer nothing.
    """
    if not variant.edges or variant.checked or variant.transition_writeback:
        return 0
    mover = _Mover(unit, variant, entry_live, keep)
    return mover.run()


class _Mover:
    def __init__(self, unit: Unit, variant: Variant, entry_live: dict[int, frozenset[str]],
                 keep: frozenset[str]):
        self.variant = variant
        self.entry_live = entry_live
        self.keep = keep
        self.blocks = {b.index: b for b in unit.blocks}
        self.entries = {m.entry for m in unit.members}
        self.preds: dict[int, int] = {bi: 0 for bi in self.blocks}
        for b in self.blocks.values():
            for s in b.succs:
                self.preds[s] += 1
        self.next_uid = 1 + max((st.uid for b in unit.blocks for st in b.steps), default=0)
        self.copies = 0
        self.deferred = 0
        # per block, the entry_live sets of the transitions reachable from it: a step
        # moves into the branches only if one of those could defer it (else it would
        # only copy code)
        self.ahead = {bi: self._targets_ahead(bi) for bi in self.blocks}

    def _targets_ahead(self, start: int) -> list[frozenset[str]]:
        seen, stack, found = set(), [start], []
        while stack:
            bi = stack.pop()
            if bi in seen:
                continue
            seen.add(bi)
            b = self.blocks[bi]
            t = b.term
            if t is not None and t.kind is Kind.GOTO and t.uid in self.variant.edges:
                found.append(self.entry_live.get(self.variant.edges[t.uid], frozenset()))
            stack.extend(s for s in b.succs if s > bi)
        return found

    def run(self) -> int:
        for bi in sorted(self.blocks):
            self._block(self.blocks[bi])
        return self.deferred

    # ------------------------------------------------------------------ one block

    def _block(self, b: Block) -> None:
        """Try each candidate of ``b``, last first (a later one may unblock an earlier)."""
        k = len(b.steps) - 1
        while k >= 0:
            st = b.steps[k]
            if _candidate(st):
                self._try(b, k)
            k -= 1

    def _try(self, b: Block, k: int) -> None:
        st = b.steps[k]
        defs = set(st.defs)
        overwritten: set[str] = set()
        for later in b.steps[k + 1:]:
            if later.deferred:  # it stays after this one: it may read what this defines
                continue
            if later.kind in _UNSAFE or later.writeback or later.clobbers:
                return
            if later.kind is Kind.BRCOND and later.cond is None:
                return
            if defs & set(later.uses) or defs & set(later.defs):
                return
            overwritten |= set(later.defs) & set(st.uses)
            if later.kind is Kind.NATIVE and _touches_env(later) and _touches_env(st):
                return
        t = b.term
        targets: list[Block] = []
        if t is not None and t.kind is Kind.GOTO:
            j = self.variant.edges.get(t.uid)
            if j is None or defs & (self.entry_live.get(j, frozenset()) | self.keep):
                return
        elif t is None or t.kind in (Kind.BR, Kind.BRCOND):
            if not b.succs or defs & self.keep or all(defs & live for live in self.ahead[b.index]):
                return
            for s in b.succs:
                succ = self.blocks[s]
                if s <= b.index or self.preds[s] != 1 or s in self.entries:
                    return
                targets.append(succ)
        else:
            return
        if overwritten:
            st, k = self._copy_operands(b, k, st, overwritten)
        del b.steps[k]
        if not targets:  # deferred behind the transition, before those deferred already
            st.deferred = True
            first = next(i for i, x in enumerate(b.steps) if x.deferred or x is t)
            b.steps.insert(first, st)
            t.tail = (st,) + t.tail
            self.deferred += 1
            return
        for n, succ in enumerate(targets):
            moved = st if n == 0 else self._clone(st)
            at = 1 if succ.steps and succ.steps[0].kind is Kind.LABEL else 0
            succ.steps.insert(at, moved)

    # ------------------------------------------------------------------ helpers

    def _copy_operands(self, b: Block, k: int, st: Step, names: set[str]) -> tuple[Step, int]:
        """Copy the operands in ``names`` into temps at ``st``'s place (or reuse a copy
        made further on with no write of the operand in between); ``st`` reads the copies
        instead.  Returns it and its new position."""
        renames = {}
        for name in sorted(names):
            temp = self._reusable(b, k, name)
            if temp is None:
                temp = f"t{900000 + self.copies}"  # a temp index no TB uses (fits t[0-9]+)
                self.copies += 1
                copy = Step(st.index, Kind.NATIVE, defs=(temp,), ins=(name,),
                            lines=(f"{temp} = {name}",), uid=self._uid())
                b.steps.insert(k, copy)
                k += 1
            renames[name] = temp
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
        lines = []
        for line in st.lines:
            target, _, expr = line.partition(" = ")
            lines.append(f"{target} = {pattern.sub(lambda m: renames[m.group(1)], expr)}")
        st.lines = tuple(lines)
        st.ins = tuple(renames.get(a, a) for a in st.ins)
        return st, k

    @staticmethod
    def _reusable(b: Block, k: int, name: str) -> str | None:
        """A copy of ``name`` after position ``k`` that still holds its value at ``k``."""
        for later in b.steps[k + 1:]:
            if (later.kind is Kind.NATIVE and later.ins == (name,) and len(later.defs) == 1
                    and later.defs[0].startswith("t9") and later.lines == (
                        f"{later.defs[0]} = {name}",)):
                return later.defs[0]
            if name in later.defs:
                return None
        return None

    def _clone(self, st: Step) -> Step:
        return Step(st.index, st.kind, defs=st.defs, ins=st.ins, lines=st.lines, pure=st.pure,
                    bits=st.bits, literal=st.literal, uid=self._uid())

    def _uid(self) -> int:
        self.next_uid += 1
        return self.next_uid - 1


def _candidate(st: Step) -> bool:
    """A pure native computation: no env access, each line one assignment to a def."""
    if st.kind is not Kind.NATIVE or not st.pure or st.deferred or not st.defs:
        return False
    if st.env_slot >= 0 or _touches_env(st):
        return False
    return all(line.partition(" = ")[0] in st.defs for line in st.lines)


def _touches_env(st: Step) -> bool:
    return any("env[" in line for line in st.lines)


__all__ = ["sink"]
