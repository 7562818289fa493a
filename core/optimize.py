"""The IR optimiser every backend can use: constant folding, copy propagation, dead code.

It runs on a TB's ops in place, after the frontend and before the backend compiles them
(QEMU's ``tcg/optimize.c`` plus the dead-code half of ``liveness_pass_1``), because every
backend gains from a smaller TB and none should have to repeat these rewrites.  It is
enabled by ``[machine] optimize`` (default true).

It must keep the semantics exactly, on IR from any frontend, for every backend:

* Folding evaluates an op with the op's own reference semantics (``impl(None, ...)``), so
  it knows no arithmetic of its own; it folds only :attr:`OpDef.pure` ops whose inputs
  are all constants, and only when the result is an in-range int (what ``movi`` stores).
  A ``brcond`` on constants becomes ``br`` or disappears.
* Copy and constant propagation rewrite *inputs* only.  Knowledge is per extended basic
  block: it is dropped at every ``set_label`` (a join), and what it says about globals is
  dropped after any op that may write a global behind the IR's back
  (:attr:`~core.ir.Op.writes_globals`: env stores, calls of helpers without
  NO_WRITE_GLOBALS, impure plugin ops other than guest memory accesses), since the
  interpreter reads globals from ``env``.
* Dead code: a pure op none of whose outputs is read again is removed.  Globals count as
  read at TB exits, at every ``insn_start`` (a slice may end there and the next TB reads
  ``env``) and at every op that is not pure (it may read ``env`` or raise).  TB-local
  temps die at the exits.  Liveness runs over the TB's blocks to a fixed point
  (:mod:`core.flow`, which arm-host and pyjit use too), so labels and backward branches
  are handled, not guessed.
* Ops after an unconditional exit or branch and before the next label never run; they
  are removed.
* ``op t <- ...; mov g, t`` with ``t`` dead afterwards becomes ``op g <- ...``.

Ops the optimiser does not know are left alone apart from their inputs being rewritten to
equal values (an op's inputs may always be constants in this IR).
"""

from __future__ import annotations

from typing import Callable

from attrs import define

from . import flow
from .ir import BASE_OPS, Label, Op, OpDef, OpTable, Temp, TempKind, TranslationBlock

_BASE = {d.name: d for d in BASE_OPS}
#: "add" for the core op add_i32 (by identity: a plugin op may not be a core op)
_BASE_NAME = {d: d.name.rsplit("_", 1)[0] for d in BASE_OPS}


@define
class OptimizeStats:
    """What one run of the optimiser did to one TB (for tests and ``trace``)."""

    ops_before: int = 0
    ops_after: int = 0
    folded: int = 0  # ops replaced by their constant result (or a branch decided)
    propagated: int = 0  # inputs rewritten to a constant or to the temp they copy
    removed: int = 0  # dead or unreachable ops dropped
    coalesced: int = 0  # "op t; mov g, t" pairs merged


def _base_name(opdef: OpDef) -> str | None:
    """``"add"`` for the core op ``add_i32``; None for plugin ops."""
    return _BASE_NAME.get(opdef)


def _const(t: Temp, value: int) -> Temp:
    return Temp(TempKind.CONST, t.type, 0, "", value)


class _Knowledge:
    """What is known, at one point of an extended basic block, about temps' values."""

    def __init__(self) -> None:
        self.const: dict[Temp, int] = {}
        self.copy_of: dict[Temp, Temp] = {}  # dst -> src (src is not a constant)
        self.copies: dict[Temp, set[Temp]] = {}  # src -> {dst}

    def reset(self) -> None:
        self.const.clear()
        self.copy_of.clear()
        self.copies.clear()

    def forget(self, t: Temp) -> None:
        """``t`` is written: nothing said about it (or about copies of it) holds."""
        self.const.pop(t, None)
        src = self.copy_of.pop(t, None)
        if src is not None:
            self.copies[src].discard(t)
        for dst in self.copies.pop(t, ()):
            self.copy_of.pop(dst, None)

    def forget_globals(self) -> None:
        for t in [t for t in self.const if t.kind is TempKind.GLOBAL]:
            del self.const[t]
        for dst, src in list(self.copy_of.items()):
            if dst.kind is TempKind.GLOBAL or src.kind is TempKind.GLOBAL:
                self.forget(dst)

    def value_of(self, t: Temp) -> Temp:
        """The simplest temp known to hold ``t``'s value (a constant, the copied temp)."""
        if t.kind is TempKind.CONST:
            return t
        v = self.const.get(t)
        if v is not None:
            return _const(t, v)
        return self.copy_of.get(t, t)


class _Nop:
    """Marker: the op disappears (``mov x, x``)."""


_NOP = _Nop()


class _Rewriter:
    """The forward pass: folding, propagation, identities, unreachable code."""

    def __init__(self, optable: OpTable | None, stats: OptimizeStats):
        self.optable = optable
        self.stats = stats
        self.k = _Knowledge()

    def opdef(self, name: str) -> OpDef:
        if self.optable is not None and name in self.optable:
            return self.optable[name]
        return _BASE[name]

    def run(self, ops: list[Op]) -> list[Op]:
        out: list[Op] = []
        reachable = True
        for op in ops:
            if op.opdef.sets_label:
                reachable = True
                self.k.reset()
                out.append(op)
                continue
            if not reachable:
                self.stats.removed += 1
                continue
            for new in self.rewrite(op):
                out.append(new)
                self.learn(new)
                if not new.opdef.falls_through:
                    reachable = False
        return out

    # ---------------------------------------------------------------- one op

    def rewrite(self, op: Op) -> list[Op]:
        outs, ins, consts = op.split()
        new_ins = tuple(self.k.value_of(t) if isinstance(t, Temp) else t for t in ins)
        changed = sum(a is not b for a, b in zip(ins, new_ins))
        if changed:
            self.stats.propagated += changed
            op = Op(op.opdef, outs + new_ins + consts)
            ins = new_ins
        d = op.opdef
        if d.cond_branch:
            return self.branch(op, ins, consts)
        if not d.foldable or not outs:
            return [op]
        if all(t.kind is TempKind.CONST for t in ins):
            folded = self.fold(op, outs, ins, consts)
            if folded is not None:
                return folded
        simpler = self.identity(op, outs, ins, consts)
        if simpler is _NOP:
            return []
        return [op] if simpler is None else [simpler]

    def branch(self, op: Op, ins: tuple, consts: tuple) -> list[Op]:
        if op.opdef.impl is None or not all(t.kind is TempKind.CONST for t in ins):
            return [op]
        label = consts[-1]
        if not isinstance(label, Label):
            return [op]
        try:
            taken = op.opdef.impl(None, *(t.value for t in ins), *consts)
        except Exception:  # a plugin's semantics that cannot run without a vCPU
            return [op]
        self.stats.folded += 1
        if taken:
            return [Op(self.opdef("br"), (label,))]
        self.stats.removed += 1
        return []

    def fold(self, op: Op, outs: tuple, ins: tuple, consts: tuple) -> list[Op] | None:
        try:
            result = op.opdef.impl(None, *(t.value for t in ins), *consts)
        except Exception:  # a plugin op marked pure that needs more than its inputs
            return None
        values = (result,) if len(outs) == 1 else result
        if not isinstance(values, tuple) or len(values) != len(outs):
            return None
        for t, v in zip(outs, values):
            if type(v) is not int or not 0 <= v <= t.type.mask:
                return None  # movi would store something else than the op does
        self.stats.folded += 1
        return [Op(self.opdef(f"movi_{t.type.suffix}"), (t, v)) for t, v in zip(outs, values)]

    def identity(self, op: Op, outs: tuple, ins: tuple, consts: tuple) -> "Op | _Nop | None":
        """x+0, x&-1, x*1, x^x ... as mov/movi (core ops only)."""
        base = _base_name(op.opdef)
        if base is None or len(outs) != 1:
            return None
        d = outs[0]
        mask = d.type.mask
        if base == "mov":
            (a,) = ins
            if a is d:
                self.stats.removed += 1
                return _NOP
            if a.kind is TempKind.CONST:
                return self.movi(d, a.value)
            return None
        if len(ins) != 2 or consts:
            return None
        a, b = ins
        ca = a.value if a.kind is TempKind.CONST else None
        cb = b.value if b.kind is TempKind.CONST else None
        if base in ("add", "or", "xor") and ca == 0:
            return self.mov(d, b)
        if base in ("add", "sub", "or", "xor", "shl", "shr", "sar", "rotl", "rotr", "andc") \
                and cb == 0:
            return self.mov(d, a)
        if base in ("and", "mul") and (ca == 0 or cb == 0):
            return self.movi(d, 0)
        if base == "and" and cb == mask:
            return self.mov(d, a)
        if base == "and" and ca == mask:
            return self.mov(d, b)
        if base == "or" and (ca == mask or cb == mask):
            return self.movi(d, mask)
        if base == "mul" and cb == 1:
            return self.mov(d, a)
        if base == "mul" and ca == 1:
            return self.mov(d, b)
        if a is b and a.kind is not TempKind.CONST:
            if base in ("sub", "xor", "andc"):
                return self.movi(d, 0)
            if base in ("and", "or"):
                return self.mov(d, a)
        return None

    def mov(self, d: Temp, a: Temp) -> Op:
        self.stats.folded += 1
        if a.kind is TempKind.CONST:
            return Op(self.opdef(f"movi_{d.type.suffix}"), (d, a.value))
        return Op(self.opdef(f"mov_{d.type.suffix}"), (d, a))

    def movi(self, d: Temp, value: int) -> Op:
        self.stats.folded += 1
        return Op(self.opdef(f"movi_{d.type.suffix}"), (d, value & d.type.mask))

    # ---------------------------------------------------------------- what an op teaches

    def learn(self, op: Op) -> None:
        outs, ins, consts = op.split()
        for t in outs:
            self.k.forget(t)
        if op.writes_globals:
            self.k.forget_globals()
        base = _base_name(op.opdef)
        if base == "movi":
            self.k.const[outs[0]] = consts[0] & outs[0].type.mask
        elif base == "mov" and ins[0] is not outs[0]:
            src = ins[0]
            if src.kind is TempKind.CONST:
                self.k.const[outs[0]] = src.value
            else:
                self.k.copy_of[outs[0]] = src
                self.k.copies.setdefault(src, set()).add(outs[0])


# ------------------------------------------------------------------------------ liveness


def _facts(ops: list[Op]) -> list[tuple]:
    """Per op: (outputs, temps read, droppable when its outputs are dead, reads globals)."""
    facts = []
    for op in ops:
        outs, ins, _consts = op.split()
        d = op.opdef
        reads = tuple(t for t in ins if isinstance(t, Temp) and t.kind is not TempKind.CONST)
        facts.append((outs, reads, bool(outs) and d.pure, d.observes_state))
    return facts


def _liveness(ops: list[Op], facts: list[tuple], globals_: frozenset[Temp],
              watch: set[int]) -> tuple[set[int], dict[int, frozenset[Temp]]]:
    """Dead ops (pure, no output read later) and the temps live after each op in
    ``watch``, by backward dataflow over the blocks to a fixed point (:mod:`core.flow`)."""
    graph = flow.op_graph(ops)
    dead_in: dict[int, list[int]] = {}
    after: dict[int, frozenset[Temp]] = {}

    def through(i: int, live: set[Temp]) -> bool:
        outs, reads, droppable, all_globals = facts[i]
        if droppable and not any(t in live for t in outs):
            return False  # dead: reads nothing
        live.difference_update(outs)
        if all_globals:
            live |= globals_
        live.update(reads)
        return True

    def transfer(bi: int, live_out: frozenset[Temp]) -> frozenset[Temp]:
        s, e = graph.blocks[bi]
        live = set(live_out)
        dead: list[int] = []
        for i in range(e - 1, s - 1, -1):
            if i in watch:
                after[i] = frozenset(live)
            if not through(i, live):
                dead.append(i)
        dead_in[bi] = dead  # the last visit of a block stands (see core.flow)
        return frozenset(live)

    graph.backward(transfer)
    dead = {i for d in dead_in.values() for i in d}
    return dead, after


def _globals_of(facts: list[tuple]) -> frozenset[Temp]:
    return frozenset(t for outs, reads, _d, _g in facts for t in outs + reads
                     if t.kind is TempKind.GLOBAL)


def _remove_dead_and_coalesce(ops: list[Op], stats: OptimizeStats) -> list[Op]:
    """Drop dead pure ops; and ``op t <- x; mov g, t`` with ``t`` a local that dies at the
    mov becomes ``op g <- x`` (liveness from before the drops: conservative)."""
    facts = _facts(ops)
    movs = {i for i in range(1, len(ops)) if _base_name(ops[i].opdef) == "mov"}
    dead, after = _liveness(ops, facts, _globals_of(facts), movs)
    out: list[Op] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        if i in dead:
            stats.removed += 1
            i += 1
            continue
        outs = facts[i][0]
        if (i + 1 in movs and i + 1 not in dead and len(outs) == 1 and facts[i][2]
                and outs[0].kind is TempKind.LOCAL and op.name != "call"):
            nxt = ops[i + 1]
            t, g = outs[0], nxt.args[0]
            if nxt.args[1] is t and g is not t and g.type is t.type and t not in after[i + 1]:
                out.append(Op(op.opdef, (g,) + op.args[1:]))
                stats.coalesced += 1
                i += 2
                continue
        out.append(op)
        i += 1
    return out


# ------------------------------------------------------------------------------ entry points


def optimize_tb(tb: TranslationBlock, optable: OpTable | None = None) -> OptimizeStats:
    """Optimise ``tb.ops`` in place; ``optable`` supplies ``movi``/``br`` (the core's if None)."""
    stats = OptimizeStats(ops_before=len(tb.ops))
    ops = _Rewriter(optable, stats).run(list(tb.ops))
    ops = _remove_dead_and_coalesce(ops, stats)
    tb.ops[:] = ops
    stats.ops_after = len(ops)
    return stats


def make_optimizer(optable: OpTable | None = None) -> Callable[[TranslationBlock], None]:
    """The optimiser as a translator IR pass (its ``__name__`` is what ``trace`` shows)."""

    def optimize(tb: TranslationBlock) -> None:
        optimize_tb(tb, optable)

    return optimize


__all__ = ["OptimizeStats", "optimize_tb", "make_optimizer"]
