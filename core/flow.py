"""Control flow and dataflow over a TB's code: basic blocks, their edges, fixed points.

Why one module: the optimiser (dead code), the arm-host code generator (which TB-local
temps live where) and pyjit (dirty globals and live variables over its lowered steps, in
one TB or in a region of several chained TBs) all need the same three things, and three
copies of them had drifted apart.  QEMU keeps one ``liveness_pass_1`` for every backend;
this is tcglab's, made generic so each client feeds it from its own units:

* :func:`graph` splits a sequence of units (IR ops, pyjit steps ...) into basic blocks
  (a unit that sets a label starts one; a branch, an exit or another block end ends
  one) and links them: a branch to its label's block, a unit that falls through to the
  next block.  What a unit is comes from two questions the client answers per unit;
  :func:`op_graph` asks them of IR ops with the op properties of :class:`core.ir.OpDef`.
* :func:`reachable` and :func:`predecessors` over any successor map (a client may add
  edges of its own, as pyjit does between the TBs of a region).
* :func:`backward` and :func:`forward` solve a dataflow problem to its least fixed point
  with a worklist: only blocks whose neighbours changed are visited again.  The client's
  ``transfer(block, value)`` says what a block does to the value (a set of live temps, of
  dirty globals ...); it may skip units that are dead, so "faint" liveness (a value read
  only by a dead op is dead too) is one transfer, not a special case.  Its last call for a
  block sees the final value at the block's boundary, so a client may record per-unit
  facts from inside it instead of walking the blocks once more.
"""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, Mapping, Sequence, Union

from attrs import define

from .ir import Label, Op

#: a block's name in a successor map: its index, or a number unique in a region
Block = Hashable
#: a successor (or predecessor) map: block -> blocks, a list by index or a dict
Edges = Union[Sequence[Sequence[int]], Mapping[Hashable, Sequence[Hashable]]]
#: what a unit does to control: None if it falls through to the next unit without ending
#: its block; else ``(target label id or None, falls through)``, and it ends its block
Jump = Union[tuple[Union[int, None], bool], None]


@define
class Graph:
    """Basic blocks as ``[start, end)`` unit ranges, their successors (block indices: a
    branch's target first, then the next block) and predecessors."""

    blocks: list[tuple[int, int]]
    succs: list[list[int]]
    preds: list[list[int]]

    def backward(self, transfer: Callable[[int, frozenset], frozenset]) -> dict:
        """:func:`backward` over every block of this graph."""
        return backward(range(len(self.blocks)), self.succs, self.preds, transfer)


def graph(n: int, label_of: Callable[[int], int | None], jump_of: Callable[[int], Jump],
          unknown_label: Callable[[int], None] | None = None) -> Graph:
    """The basic blocks of units ``0 .. n-1``.

    ``label_of(i)``: the id of the label unit ``i`` sets, or None.  ``jump_of(i)``: see
    :data:`Jump`.  A branch to a label no unit sets has no edge; ``unknown_label(id)`` is
    called for it first (it may raise).
    """
    bounds: list[int] = []
    start = 0
    for i in range(n):
        if i > start and label_of(i) is not None:
            bounds.append(start)
            start = i
        if jump_of(i) is not None:
            bounds.append(start)
            start = i + 1
    if start < n:
        bounds.append(start)
    blocks = [(s, e) for s, e in zip(bounds, bounds[1:] + [n])]
    label_block: dict[int, int] = {}
    for b, (s, _e) in enumerate(blocks):
        label = label_of(s)
        if label is not None:
            label_block[label] = b
    succs: list[list[int]] = []
    last = len(blocks) - 1
    for b, (_s, e) in enumerate(blocks):
        jump = jump_of(e - 1)
        nxt = [b + 1] if b < last else []
        if jump is None:
            succs.append(nxt)
            continue
        target, falls = jump
        out: list[int] = []
        if target is not None:
            tb = label_block.get(target)
            if tb is None:
                if unknown_label is not None:
                    unknown_label(target)
            else:
                out.append(tb)
        succs.append(out + nxt if falls else out)
    preds: list[list[int]] = [[] for _ in blocks]
    for b, out in enumerate(succs):
        for x in out:
            preds[x].append(b)
    return Graph(blocks, succs, preds)


def _op_label(op: Op) -> int | None:
    if op.opdef.sets_label:
        label = op.args[0]
        return label.id if isinstance(label, Label) else None
    return None


def _op_jump(op: Op) -> Jump:
    d = op.opdef
    if not d.ends_block:
        return None
    target = op.args[-1] if d.branch and op.args else None
    return (target.id if isinstance(target, Label) else None), d.falls_through


def op_graph(ops: Sequence[Op]) -> Graph:
    """:func:`graph` of a TB's IR ops (a branch to a label never set has no edge)."""
    return graph(len(ops), lambda i: _op_label(ops[i]), lambda i: _op_jump(ops[i]))


def branches_back(ops: Sequence[Op]) -> bool:
    """True if a branch among ``ops`` may jump back: to a label set before it, or to one
    set nowhere (which cannot be shown to lie ahead).  Without such a branch every op runs
    at most once per run of the TB, which lets a backend bound a TB's instructions
    statically (pyjit) or know each op runs in program order (arm-host)."""
    label_at = {op.args[0].id: i for i, op in enumerate(ops)
                if op.opdef.sets_label and isinstance(op.args[0], Label)}
    for i, op in enumerate(ops):
        if op.opdef.branch:
            target = op.args[-1]
            if isinstance(target, Label) and label_at.get(target.id, -1) <= i:
                return True
    return False


def reachable(succs: Edges, entries: Iterable[Block]) -> set:
    """The blocks reachable from ``entries`` (included) along ``succs``."""
    seen: set = set()
    stack = list(entries)
    while stack:
        b = stack.pop()
        if b not in seen:
            seen.add(b)
            stack.extend(succs[b])
    return seen


def predecessors(order: Iterable[Block], succs: Edges) -> dict:
    """Each block of ``order``'s predecessors among ``order`` (succs must stay in it)."""
    order = list(order)
    preds: dict = {b: [] for b in order}
    for b in order:
        for s in succs[b]:
            preds[s].append(b)
    return preds


def backward(order: Sequence[Block], succs: Edges, preds: Edges,
             transfer: Callable[[Block, frozenset], frozenset]) -> dict:
    """Backward dataflow to the least fixed point: ``in[b] = transfer(b, out[b])`` with
    ``out[b]`` the union of ``in[s]`` over ``b``'s successors (none: empty).  Returns
    ``in`` per block.  ``order``: the blocks, in program order (the last is visited
    first); successors must be among them."""
    return _solve(order, succs, preds, transfer, reverse=False)


def forward(order: Sequence[Block], preds: Edges, succs: Edges,
            transfer: Callable[[Block, frozenset], frozenset]) -> dict:
    """Forward dataflow to the least fixed point: ``out[b] = transfer(b, in[b])`` with
    ``in[b]`` the union of ``out[p]`` over ``b``'s predecessors.  Returns ``out`` per
    block; ``order`` as for :func:`backward` (the first is visited first)."""
    return _solve(order, preds, succs, transfer, reverse=True)


def _solve(order, inputs, dependents, transfer, reverse: bool) -> dict:
    """The worklist both directions share: a block's value is ``transfer`` of the union of
    its ``inputs``' values; when it changes, its ``dependents`` are visited again."""
    empty: frozenset = frozenset()
    value = {b: empty for b in order}
    work = list(reversed(order)) if reverse else list(order)  # popped from the end
    queued = set(work)
    while work:
        b = work.pop()
        queued.discard(b)
        joined = empty
        for x in inputs[b]:
            joined |= value[x]
        new = transfer(b, joined)
        if new != value[b]:
            value[b] = new
            for d in dependents[b]:
                if d not in queued:
                    queued.add(d)
                    work.append(d)
    return value


__all__ = ["Graph", "graph", "op_graph", "branches_back", "reachable", "predecessors", "backward", "forward"]
