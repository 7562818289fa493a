"""Fusing: a temp computed once and read once becomes part of the expression that reads it.

TCG IR names every intermediate value (``t0 = a ^ b; VF = VF & t0``); as Python that is
a store and a load of a local per temp, and a line each.  Where a TB-local temp has one
definition (a one-line pure native step) and one reader (a one-line native step later in
the same block), with nothing in between that may change the definition's operands,
the reader gets ``(expression)`` in place of the temp and the definition goes.  Where
both mask to the same width and the reader only adds, subtracts, multiplies or shifts the
temp left, the definition's own mask goes too (``(a + ((b << 2) & M)) & M`` is
``(a + (b << 2)) & M``).
"""

from __future__ import annotations

import re
from collections import Counter

from .analysis import Block
from .steps import Kind, Step

_NAME = re.compile(r"\b[gt][0-9_]+\b")


def fuse(blocks: list[Block]) -> int:
    """Fuse single-use temps in one TB's blocks, in place; returns how many."""
    defs: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    for b in blocks:
        for st in b.steps:
            defs.update(st.defs)
            uses.update(st.uses)
            uses.update(a for a in st.args if a[0] == "t")  # call arguments, to be safe
    fused = 0
    for b in blocks:
        k = 0
        while k < len(b.steps):
            st = b.steps[k]
            if _fusable_def(st) and defs[st.defs[0]] == 1 and uses[st.defs[0]] == 1 \
                    and _fuse_into_reader(b, k):
                fused += 1
                continue  # the step at k is the next one now
            k += 1
    return fused


def _one_line(st: Step) -> bool:
    return (st.kind is Kind.NATIVE and len(st.lines) == 1 and len(st.defs) == 1
            and st.lines[0].startswith(f"{st.defs[0]} = ") and "env[" not in st.lines[0]
            and st.env_slot < 0)


def _fusable_def(st: Step) -> bool:
    return _one_line(st) and st.pure and st.defs[0][0] == "t" and not st.deferred


def _fuse_into_reader(b: Block, k: int) -> bool:
    d = b.steps[k]
    temp = d.defs[0]
    operands = set(d.uses)
    for j in range(k + 1, len(b.steps)):
        st = b.steps[j]
        if temp in st.uses:
            if not _one_line(st):
                return False
            target, _, expr = st.lines[0].partition(" = ")
            if _NAME.findall(expr).count(temp) != 1:
                return False
            value = "(" + d.lines[0].partition(" = ")[2] + ")"
            if d.ring and d.ring == st.ring and temp in st.ring_ins:
                # a residue is enough where the reader puts it: no mask of its own (the
                # rest is one parenthesised group, see StepBuilder._base)
                value = value[1:-len(f" & {d.ring})")]
                st.ring_ins = tuple(a for a in st.ring_ins if a != temp) + d.ring_ins
            expr = re.sub(r"\b" + temp + r"\b", lambda _: value, expr)
            st.lines = (f"{target} = {expr}",)
            st.ins = tuple(a for a in st.ins if a != temp) + d.ins
            del b.steps[k]
            return True
        if st.kind not in (Kind.NATIVE, Kind.INSN) or operands & set(st.defs):
            return False
        if "env[" in "".join(st.lines) and "env[" in d.lines[0]:
            return False
    return False


__all__ = ["fuse"]
