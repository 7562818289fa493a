"""What each IR op of a TB becomes in Python: a :class:`Step` with names and a kind.

This is where the backend decides, op by op, between native lowering (inline source),
the inline softmmu fast path, and a call of the op's reference semantics (plugin ops,
``qemu_ldlink``/``qemu_stcond``, anything without a lowering), and where temps get
their generated names: a global is ``g<slot>`` (it lives in a local variable loaded
from ``env[slot]``), a TB-local temp ``t<index>``, a constant a decimal literal, any
other object (a helper's function, a Cond passed to semantics) a numbered name in the
function's globals.  The frontend's temp names, helper names and op names never reach
the source: control ops are recognised by name as the interpreter does, lowered ops by
their OpDef's identity with the core's, and only numbers are written.

A pure op whose inputs are all constants is folded here with its own reference
semantics, whether or not the IR optimiser ran.
"""

from __future__ import annotations

import enum
from typing import Any

from attrs import define, field

from core.errors import TcglabError
from core.ir import BASE_OPS, Cond, Helper, Label, Op, OpDef, Temp, TempKind
from core.softmmu import MEMOP_INFO

from . import lower

_BASE = {d.name: d for d in BASE_OPS}


class Kind(enum.IntEnum):
    INSN = 0  # insn_start
    LABEL = 1
    BR = 2
    BRCOND = 3  # Step.cond for a native compare, else a call of the semantics
    GOTO = 4  # goto_tb
    EXIT = 5  # exit_tb
    NATIVE = 6  # statements computed by lower.py; no call
    CALL = 7  # a Python function (helper or op semantics); see Step.writeback/clobbers
    QLD = 8  # qemu_ld with an inline TLB fast path
    QST = 9  # qemu_st with an inline TLB fast path
    NOP = 10  # mb: the scheduler is sequentially consistent


@define(slots=True, eq=False)
class Step:
    """One op, ready for analysis and code generation."""

    index: int  # of the op in its TB
    kind: Kind
    defs: tuple[str, ...] = ()  # variables written
    ins: tuple[str, ...] = ()  # input atoms (names or literals)
    lines: tuple[str, ...] = ()  # NATIVE: the statements
    pure: bool = True  # may be dropped when no def is read
    writeback: bool = False  # dirty globals go to env before (calls that may read or raise)
    clobbers: bool = False  # may write env: globals are reloaded after
    func: str = ""  # CALL / BRCOND via semantics: the namespace name of the function
    args: tuple[str, ...] = ()  # CALL: the argument list as source atoms
    cond: Any = None  # BRCOND: Cond for a native compare
    bits: int = 32
    label: int = -1  # LABEL / BR / BRCOND: label id
    value: int = 0  # INSN: pc; GOTO: slot; QLD/QST: memop
    literal: int | None = None  # NATIVE: the constant assigned, when it is one
    mem: tuple = ()  # QLD/QST: (size, namespace name of the struct function, adj, cmpmask)
    signed_fix: str = ""  # QLD: the mask applied after the load, or ""
    # NATIVE ``d = (core) & ring``, where core uses the operands ``ring_ins`` only through
    # +, -, * and << by a constant: those may be any int of the right residue mod
    # ring + 1, so a masked value fused into one of them needs no mask of its own (fuse)
    ring: int = 0
    ring_ins: tuple[str, ...] = ()
    env_slot: int = -1  # NATIVE store to a non-global env slot: the slot
    uid: int = 0  # unique in the compilation unit (set by StepBuilder)
    deferred: bool = False  # moved behind a transition: runs on its exit path only (sink)
    tail: tuple = ()  # GOTO: the deferred steps its exit path runs first, in order

    @property
    def uses(self) -> tuple[str, ...]:
        """The variables read: ``g<slot>`` (a global's local) and ``t<index>`` (a TB-local
        temp); literals and namespace objects are not variables."""
        return tuple([a for a in self.ins if a[0] in "gt"])


@define
class Namespace:
    """The generated function's globals: every object the source refers to by name."""

    values: dict[str, Any] = field(factory=dict)
    _by_id: dict[int, str] = field(factory=dict)

    def name_for(self, obj: Any, prefix: str) -> str:
        key = id(obj)
        name = self._by_id.get(key)
        if name is None:
            name = f"{prefix}{len(self.values)}"
            self._by_id[key] = name
            self.values[name] = obj
        return name


def _is_base(d: OpDef) -> bool:
    return _BASE.get(d.name) is d


def _family(d: OpDef) -> str:
    return d.name.rsplit("_", 1)[0]


def _type_bits(d: OpDef) -> int:
    return 64 if d.i64 else 32


class StepBuilder:
    """Turns a TB's ops into Steps (one per op, same order)."""

    def __init__(self, ns: Namespace, global_slots: frozenset[int], backend_name: str,
                 local_prefix: str = "", first_uid: int = 0):
        self.ns = ns
        self.global_slots = global_slots
        self.backend_name = backend_name
        self.local_prefix = local_prefix  # TBs of one unit keep their temps apart
        self.next_uid = first_uid

    def build_all(self, ops: list[Op]) -> list[Step]:
        steps: list[Step] = []
        last = None  # (inputs, family, bits) of the add2/sub2 just built (see _chain)
        for i, op in enumerate(ops):
            st = self.build(i, op)
            st.uid = self.next_uid
            self.next_uid += 1
            wide = None
            if st.kind is Kind.NATIVE and len(st.lines) == 3 \
                    and (fam := _family(op.opdef)) in ("add2", "sub2"):
                wide = (tuple(self.atom(t) for t in op.split()[1]), fam, _type_bits(op.opdef))
                if last is not None and self._chain(steps[-1], last, st, wide):
                    wide = None  # two make one sum; a third starts afresh
            last = wide
            steps.append(st)
        return steps

    @staticmethod
    def _chain(prev: Step, first: tuple, st: Step, second: tuple) -> bool:
        """A double-word add or subtract of the result of the one just before, into the
        same two outputs (``add2 NF, CF, a, 0, CF, 0; add2 NF, CF, NF, CF, b, 0``: ADC,
        SBC): one sum of all three operands, no split and rejoin between.  The first
        step becomes a no-op; same results, since both wrap modulo 2**(2*bits)."""
        (al, ah, bl, bh), fam1, bits = first
        (cl, ch, dl, dh), fam2, bits2 = second
        if bits2 != bits or prev.defs != st.defs or (cl, ch) != prev.defs \
                or {dl, dh} & set(st.defs):
            return False
        sign = {"add2": "+", "sub2": "-"}
        st.lines = tuple(lower.double_word(st.defs, [("+", al, ah), (sign[fam1], bl, bh),
                                                     (sign[fam2], dl, dh)], bits, "_s"))
        st.ins = tuple(dict.fromkeys(a for a in (al, ah, bl, bh, dl, dh)))
        prev.kind, prev.lines, prev.defs, prev.ins = Kind.NOP, (), (), ()
        return True

    # ---------------------------------------------------------------- atoms

    def atom(self, t: Any) -> str:
        if not isinstance(t, Temp):
            return self.const(t)
        if t.kind is TempKind.GLOBAL:
            return f"g{int(t.index)}"
        if t.kind is TempKind.LOCAL:
            return f"t{self.local_prefix}{int(t.index)}"
        return self.const(t.value)

    def const(self, value: Any) -> str:
        """A literal for a plain non-negative int, else a namespace name for the object."""
        if type(value) is int and value >= 0:
            return str(value)
        return self.ns.name_for(value, "_k")

    # ---------------------------------------------------------------- ops

    def build(self, i: int, op: Op) -> Step:
        d = op.opdef
        name = d.name
        outs, ins, consts = op.split()
        defs = tuple(self.atom(t) for t in outs)
        atoms = tuple(self.atom(t) for t in ins)
        if name == "insn_start":
            return Step(i, Kind.INSN, value=self._int(consts[0], op), pure=False)
        if name == "set_label":
            return Step(i, Kind.LABEL, label=self._label(consts[0], op))
        if name == "br":
            return Step(i, Kind.BR, label=self._label(consts[0], op))
        if name == "goto_tb":
            return Step(i, Kind.GOTO, value=self._int(consts[0], op), pure=False)
        if name == "exit_tb":
            return Step(i, Kind.EXIT, pure=False)
        if d.cond_branch:
            return self._brcond(i, op, atoms, consts)
        if _is_base(d):
            step = self._base(i, op, defs, atoms, consts)
            if step is not None:
                return step
        return self._semantics(i, op, defs, atoms, consts)

    def _int(self, value: Any, op: Op) -> int:
        if type(value) is not int:
            raise TcglabError(f"{self.backend_name}: op {op.name!r} needs an integer constant")
        return value

    def _label(self, label: Any, op: Op) -> int:
        if not isinstance(label, Label):
            raise TcglabError(f"{self.backend_name}: op {op.name!r} needs a label")
        return int(label.id)

    def _brcond(self, i: int, op: Op, atoms: tuple, consts: tuple) -> Step:
        d = op.opdef
        label = self._label(consts[-1], op)
        bits = _type_bits(d)
        if _is_base(d) and isinstance(consts[0], Cond):
            return Step(i, Kind.BRCOND, ins=atoms, cond=consts[0], bits=bits, label=label)
        step = self._semantics(i, op, (), atoms, consts)
        return Step(i, Kind.BRCOND, ins=atoms, label=label, func=step.func, args=step.args,
                    pure=step.pure, writeback=step.writeback, clobbers=step.clobbers)

    def _base(self, i: int, op: Op, defs: tuple, atoms: tuple, consts: tuple) -> Step | None:
        d = op.opdef
        fam = _family(d)
        bits = _type_bits(d)
        mask = (1 << bits) - 1
        if fam == "mb":
            return Step(i, Kind.NOP, pure=False)
        if fam in ("ld", "st"):
            return self._env(i, op, fam, defs, atoms, consts)
        if fam in ("qemu_ld", "qemu_st"):
            return self._memory(i, op, fam, defs, atoms, consts, bits)
        if not d.pure or d.impl is None:
            return None
        if all(lower.is_lit(a) for a in atoms):  # movi included
            folded = self._fold(i, op, defs, atoms, consts)
            if folded is not None:
                return folded
        if d.name in lower.CONVERSIONS:
            return self._native(i, defs, atoms, [f"{defs[0]} = {lower.CONVERSIONS[d.name](atoms)}"])
        if len(defs) == 1 and fam in lower.SINGLE:
            expr = lower.SINGLE[fam](atoms, consts, bits, mask)
            if expr is not None:
                step = self._native(i, defs, atoms, [f"{defs[0]} = {expr}"])
                if expr.isdigit():
                    step.literal = int(expr)
                ring = lower.ring_operands(fam, atoms)
                if ring is not None and expr.endswith(f") & {mask}"):
                    step.ring, step.ring_ins = mask, ring
                return step
        lines = lower.multi_statement(fam, defs, atoms, bits, mask, "_s")
        if lines is not None:
            return self._native(i, defs, atoms, lines)
        return None

    def _native(self, i: int, defs: tuple, atoms: tuple, lines: list[str]) -> Step:
        return Step(i, Kind.NATIVE, defs=defs, ins=atoms, lines=tuple(lines))

    def _fold(self, i: int, op: Op, defs: tuple, atoms: tuple, consts: tuple) -> Step | None:
        """All inputs constant: run the reference semantics now (as the IR optimiser does)."""
        try:
            result = op.opdef.impl(None, *(int(a) for a in atoms), *consts)
        except Exception:  # semantics that need a vCPU: leave it to run time
            return None
        values = (result,) if len(defs) == 1 else result
        if not isinstance(values, tuple) or len(values) != len(defs):
            return None
        if not all(type(v) is int and v >= 0 for v in values):
            return None
        step = self._native(i, defs, (), [f"{dn} = {v}" for dn, v in zip(defs, values)])
        if len(defs) == 1:
            step.literal = values[0]
        return step

    def _env(self, i: int, op: Op, fam: str, defs: tuple, atoms: tuple, consts: tuple) -> Step | None:
        slot = consts[0]
        if type(slot) is not int or slot < 0:
            return None
        if fam == "ld":
            if slot in self.global_slots:  # the global's local variable is the current value
                return self._native(i, defs, (f"g{slot}",), [f"{defs[0]} = g{slot}"])
            return Step(i, Kind.NATIVE, defs=defs, lines=(f"{defs[0]} = env[{slot}]",))
        if slot in self.global_slots:
            step = self._native(i, (f"g{slot}",), atoms, [f"g{slot} = {atoms[0]}"])
        else:
            step = Step(i, Kind.NATIVE, ins=atoms, lines=(f"env[{slot}] = {atoms[0]}",),
                        env_slot=slot)
        step.pure = False
        return step

    def _memory(self, i: int, op: Op, fam: str, defs: tuple, atoms: tuple, consts: tuple,
                bits: int) -> Step | None:
        oi = consts[0]
        if type(oi) is not int or oi < 0 or (oi >> 4) not in MEMOP_INFO:
            return None
        memop = oi >> 4
        size, ld, st, adj, cmpmask = MEMOP_INFO[memop]
        if fam == "qemu_ld":
            fn = self.ns.name_for(ld.unpack_from, "_u")
            signed = bool(memop & 4)
            fix = f" & {(1 << bits) - 1}" if signed or 8 * size > bits else ""
            return Step(i, Kind.QLD, defs=defs, ins=atoms, value=memop, pure=False,
                        mem=(size, fn, adj, cmpmask), signed_fix=fix, bits=bits)
        fn = self.ns.name_for(st.pack_into, "_p")
        return Step(i, Kind.QST, ins=atoms, value=memop, pure=False,
                    mem=(size, fn, adj, cmpmask), bits=bits)

    def _semantics(self, i: int, op: Op, defs: tuple, atoms: tuple, consts: tuple) -> Step:
        """Call the op's reference semantics (or a call op's helper)."""
        d = op.opdef
        if d.name == "call" and _is_base(d):
            helper = consts[-1]
            if not isinstance(helper, Helper):
                raise TcglabError(f"{self.backend_name}: call op without a helper")
            fn = self.ns.name_for(helper.func, "_f")
            return Step(i, Kind.CALL, defs=defs, ins=atoms, func=fn, args=("cpu",) + atoms,
                        pure=False, writeback=True, clobbers=helper.writes_globals)
        if d.impl is None:
            raise TcglabError(f"{self.backend_name}: op {d.name!r} has no native lowering "
                              "and no reference semantics (impl) to call")
        fn = self.ns.name_for(d.impl, "_f")
        args = ("cpu",) + atoms + tuple(self.const(c) for c in consts)
        if d.pure:
            return Step(i, Kind.CALL, defs=defs, ins=atoms, func=fn, args=args)
        return Step(i, Kind.CALL, defs=defs, ins=atoms, func=fn, args=args, pure=False,
                    writeback=True, clobbers=d.writes_state)
