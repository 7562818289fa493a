"""Hot loops of chained TBs, compiled into one function (a *region*).

Guest loops rarely fit in one TB (ARM code branches every few instructions), and each
TB boundary costs a Python call, the globals written back and reloaded, and the chain
checks.  Once a TB has been entered often enough, :func:`collect` follows its chained
``goto_tb`` exits (``tb.jmp_dest``) to gather the TBs of the loop around it; the backend
compiles them as one unit, laid out by :func:`nest` so that each loop among them is its
own ``while``, with every global kept in a local the whole way round.  Each jump still
checks, at run time, everything ``cpu_exec`` would before chaining, including that the
chain is still the one the unit was built from (a cell the backend clears when one of
those chains is undone or relinked): when a TB is invalidated or relinked, the unit
leaves at that edge and the dispatcher carries on as usual.  An ``exit_tb``
(a return, an indirect jump) looks its target up in the TB cache, as the dispatcher
would, and goes on inside the region when it is one of its TBs.
"""

from __future__ import annotations

from typing import Any

from .analysis import Member
from .steps import Kind

REGION_AFTER = 256  # entries of a TB before a region is tried from it
REGION_GROWTH = 8  # tried again after 8 times as many entries ...
REGION_LAST = 1 << 15  # ... until this many
REGION_MAX_TBS = 24  # a loop and a small function it calls (heap sort and sift_down: 13)


def static_exit_pcs(m: Member, pc_var: str) -> dict[int, int]:
    """GOTO step uid -> the guest pc its block wrote just before it (when a constant)."""
    out = {}
    for b in m.blocks:
        t = b.term
        if t is None or t.kind is not Kind.GOTO:
            continue
        for st in reversed(b.steps[:-1]):
            if st.writeback or st.clobbers:
                break
            if pc_var in st.defs:
                if st.kind is Kind.NATIVE and st.literal is not None and len(st.defs) == 1:
                    out[t.uid] = st.literal
                break
    return out


def successors(tb: Any) -> list[Any]:
    """The TBs run after ``tb``: its chained exits and the last one found after its
    ``exit_tb`` (a return goes back to where it was called from, usually the same place)."""
    out = list(tb.jmp_dest)
    after = getattr(tb.compiled, "exit_next", None)
    if after is not None:
        out.append(after)
    return out


def collect(head: Any, usable) -> list[Any] | None:
    """The TBs reachable from ``head`` through chained exits, head first, breadth first,
    if they contain a loop (else None: a region only pays for itself by looping).

    ``usable(tb)`` says whether a TB may join (compiled by pyjit, bounded, structured).
    """
    members = [head]
    seen = {id(head)}
    i = 0
    while i < len(members):
        for dest in successors(members[i]):
            if (dest is None or dest.invalid or id(dest) in seen
                    or len(members) >= REGION_MAX_TBS or not usable(dest)):
                continue
            seen.add(id(dest))
            members.append(dest)
        i += 1
    return members if _has_cycle(members) else None


def nest(members: list[Any]) -> tuple[list[Any], tuple[tuple[int, int], ...]]:
    """The members reordered so that every loop among them is a run of consecutive
    members, and those runs (first, last index in the new order), inner loops inside
    outer ones; the unit gives each loop its own ``while`` (see
    ``codegen.FunctionWriter._member_dispatch``).

    Loops are found as in a loop nesting forest: the strongly connected parts of the
    graph of chained successors, in topological order; each part with a cycle is a
    loop, its head the first member (in ``members`` order) of the part, and the part
    minus the edges back to its head is split the same way.  So every jump to an
    earlier member (or to itself) is a jump to the head of a loop around both.
    """
    index = {id(tb): k for k, tb in enumerate(members)}
    succ = [sorted({index[id(d)] for d in successors(tb) if d is not None and id(d) in index})
            for tb in members]
    order: list[int] = []
    loops: list[tuple[int, int]] = []

    def place(nodes: set[int], head: int | None) -> None:
        for part in _parts(nodes, succ, head):
            looping = len(part) > 1 or part[0] in succ[part[0]]
            if not looping or part[0] == head:
                order.append(part[0])
                continue
            first = len(order)
            place(set(part), min(part))
            loops.append((first, len(order) - 1))

    place(set(range(len(members))), None)
    return [members[k] for k in order], tuple(sorted(loops, key=lambda r: (r[0], -r[1])))


def _parts(nodes: set[int], succ: list[list[int]], head: int | None) -> list[list[int]]:
    """Strongly connected parts of ``nodes`` (edges into ``head`` left out), in
    topological order, each sorted, the head's own part first (Tarjan's algorithm)."""
    counter = [0]
    low: dict[int, int] = {}
    num: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    found: list[list[int]] = []

    def visit(v: int) -> None:
        num[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in nodes or w == head:
                continue
            if w not in num:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], num[w])
        if low[v] == num[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            found.append(sorted(part))

    for v in sorted(nodes, key=lambda x: (x != head, x)):
        if v not in num:
            visit(v)
    found.reverse()  # Tarjan finds parts in reverse topological order
    return found


def _has_cycle(members: list[Any]) -> bool:
    index = {id(tb): k for k, tb in enumerate(members)}
    succ = [[index[id(d)] for d in successors(tb) if d is not None and id(d) in index]
            for tb in members]
    state = [0] * len(members)  # 0 new, 1 on the stack, 2 done

    def visit(k: int) -> bool:
        state[k] = 1
        for s in succ[k]:
            if state[s] == 1 or (state[s] == 0 and visit(s)):
                return True
        state[k] = 2
        return False

    return any(state[k] == 0 and visit(k) for k in range(len(members)))


def edges(members_info: list[tuple[Any, dict[int, int], dict[int, int]]]) -> dict[int, int]:
    """GOTO step uid -> member index, for exits that write the pc of a member of the unit.

    ``members_info`` holds, per member, (tb, {goto uid: slot}, {goto uid: static pc}).
    Which TB the exit is chained to is checked at run time; here only the pc matters
    (a TB's own self-loop is an edge before it was ever chained).  When several members
    share the pc (other flags), the one chained now is taken.
    """
    out = {}
    for tb, slots, pcs in members_info:
        for uid, slot in slots.items():
            pc = pcs.get(uid)
            if pc is None:
                continue
            same_pc = [k for k, (other, _s, _p) in enumerate(members_info) if other.pc == pc]
            if len(same_pc) > 1:
                dest = tb.jmp_dest[slot] if slot in (0, 1) else None
                same_pc = [k for k in same_pc if members_info[k][0] is dest]
            if len(same_pc) == 1:
                out[uid] = same_pc[0]
    return out
