"""The register allocator: where each temp's value is while a TB's code is generated.

A local allocator in the manner of QEMU's tcg_reg_alloc_*: a temp's value is in its
memory home (env slot for a global, a spill slot on the host stack for a TB-local
temp), in a register (dirty when the home is stale), or a known constant (not yet
materialised: used as an immediate where A32 encodes one).  Registers are r0-r4 and
r7-r11, callee-saved ones first (r5 holds the instruction budget, r6 env, r12 and lr
are scratch).  Globals are synced to env before helper calls and at block ends; locals
are stored at a block end only if live after it, and dropped when they die.

i64 temps never enter registers on this 32-bit host: they live in their home, and the
ops on them go through memory (see :mod:`.codegen`).
"""

from __future__ import annotations

from core.errors import TcglabError
from core.ir import M32, Temp, TempKind

from .a32 import LR, R6, R12, SP, Asm, rn
from .layout import MAX_SPILL_SLOTS, SPILL_BASE

ALLOC_ORDER = (4, 7, 8, 9, 10, 11, 0, 1, 2, 3)
CALLEE_SAVED = (4, 7, 8, 9, 10, 11)
CALL_CLOBBERED = (0, 1, 2, 3)

MEM, REG, CONST, DEAD = range(4)
_SCRATCH = object()  # marks a register holding a constant for one op only


class TempState:
    """Where one global or local i32 temp's value is."""

    __slots__ = ("kind", "reg", "value", "coherent", "is_global", "index", "name")

    def __init__(self, is_global: bool, index: int, name: str, kind: int, value: int = 0,
                 coherent: bool = True):
        self.is_global = is_global
        self.index = index  # env slot (global) or local index
        self.name = name
        self.kind = kind
        self.reg = -1
        self.value = value
        self.coherent = coherent  # the memory home holds the current value


class Frame:
    """Spill slots of a TB's locals on the host stack: one fixed slot per local that
    ever needs memory, so every path into a label finds it in the same place."""

    def __init__(self, tb_pc: int) -> None:
        self.slots: dict[int, int] = {}
        self.tb_pc = tb_pc

    def offset(self, local_index: int) -> int:
        off = self.slots.get(local_index)
        if off is None:
            if len(self.slots) >= MAX_SPILL_SLOTS:
                raise TcglabError(f"backend arm-host: the TB at {self.tb_pc:#010x} needs more "
                                  f"than {MAX_SPILL_SLOTS} spill slots")
            off = self.slots[local_index] = SPILL_BASE + 8 * len(self.slots)
        return off


class RegAlloc:
    """Register state while one TB's code is generated."""

    def __init__(self, asm: Asm, env_slot_offset, frame: Frame):
        self.asm = asm
        self.env_off = env_slot_offset  # slot -> byte offset from r6
        self.frame = frame
        self.reg_ts: list = [None] * 16
        self.globals: dict[int, TempState] = {}
        self.locals: dict[int, TempState] = {}
        self.pinned: set[int] = set()
        self.scratch: list[int] = []
        self.wide: frozenset[int] = frozenset()  # i64 locals: memory only, never here

    # ------------------------------------------------------------------ temp states

    def state(self, t: Temp) -> TempState:
        if t.kind is TempKind.GLOBAL:
            ts = self.globals.get(t.index)
            if ts is None:
                ts = self.globals[t.index] = TempState(True, t.index, t.name, MEM)
            return ts
        ts = self.locals.get(t.index)
        if ts is None:
            # the interpreter's frame starts zeroed: a local read before any write is 0
            ts = self.locals[t.index] = TempState(False, t.index, str(t), CONST, 0, False)
        return ts

    def home(self, ts: TempState) -> tuple[int, int]:
        """(base register, offset) of a temp's memory home."""
        if ts.is_global:
            return R6, self.env_off(ts.index)
        return SP, self.frame.offset(ts.index)

    def home_of(self, t: Temp) -> tuple[int, int]:
        """Home of any non-constant temp, i64 ones included."""
        if t.kind is TempKind.GLOBAL:
            return R6, self.env_off(t.index)
        return SP, self.frame.offset(t.index)

    # ------------------------------------------------------------------ registers

    def _free(self, r: int) -> bool:
        return self.reg_ts[r] is None and r not in self.pinned

    def alloc(self, allowed=ALLOC_ORDER) -> int:
        """A free register of ``allowed`` (spilling one if none is free); pinned."""
        for r in allowed:
            if self._free(r):
                self.pinned.add(r)
                return r
        for want_clean in (True, False):
            for r in reversed(allowed):
                ts = self.reg_ts[r]
                if r in self.pinned or ts is None or ts is _SCRATCH:
                    continue
                if want_clean and not ts.coherent:
                    continue
                self.spill(r)
                self.pinned.add(r)
                return r
        raise TcglabError("backend arm-host: out of host registers (an op with too many operands)")

    def spill(self, r: int) -> None:
        """Write register ``r``'s temp to its home if stale, and forget the register."""
        ts = self.reg_ts[r]
        if ts is None or ts is _SCRATCH:
            return
        if not ts.coherent:
            base, off = self.home(ts)
            self.asm.mem("str", r, base, off, comment=f"spill {ts.name}")
            ts.coherent = True
        ts.kind = MEM
        ts.reg = -1
        self.reg_ts[r] = None

    def _attach(self, ts: TempState, r: int) -> None:
        if ts.kind == REG and ts.reg != r and self.reg_ts[ts.reg] is ts:
            self.reg_ts[ts.reg] = None
        ts.kind = REG
        ts.reg = r
        self.reg_ts[r] = ts

    def detach(self, ts: TempState) -> None:
        """Forget ``ts``'s register without writing it back (its value is being replaced)."""
        if ts.kind == REG and self.reg_ts[ts.reg] is ts:
            self.reg_ts[ts.reg] = None
        ts.kind = MEM
        ts.reg = -1

    def reg_of(self, t: Temp, allowed=ALLOC_ORDER) -> int:
        """A register of ``allowed`` holding ``t``'s value (loaded, or materialised), pinned."""
        if t.kind is TempKind.CONST:
            r = self.alloc(allowed)
            self.reg_ts[r] = _SCRATCH
            self.scratch.append(r)
            self.asm.mov_imm(r, t.value)
            return r
        ts = self.state(t)
        if ts.kind == REG:
            if ts.reg in allowed:
                self.pinned.add(ts.reg)
                return ts.reg
            r = self.alloc(allowed)
            self.asm.insn(f"mov {rn(r)}, {rn(ts.reg)}")
            self._attach(ts, r)
            return r
        if ts.kind == DEAD:
            raise AssertionError(f"arm-host: {ts.name} read after it died")
        r = self.alloc(allowed)
        if ts.kind == CONST:
            self.asm.mov_imm(r, ts.value)
        else:
            base, off = self.home(ts)
            self.asm.mem("ldr", r, base, off, comment=ts.name)
        self._attach(ts, r)
        return r

    def const_of(self, t: Temp) -> int | None:
        """``t``'s value when known at translation time (a constant temp or CONST state)."""
        if t.kind is TempKind.CONST:
            return t.value & M32
        ts = self.state(t)
        return ts.value if ts.kind == CONST else None

    def const_of_slot(self, slot: int) -> int | None:
        """The value of the global in env slot ``slot`` if known at translation time."""
        ts = self.globals.get(slot)
        return ts.value if ts is not None and ts.kind == CONST else None

    def out_reg(self, t: Temp, allowed=ALLOC_ORDER) -> int:
        """A register for output ``t`` (its old value is dead); the value becomes dirty."""
        ts = self.state(t)
        self.detach(ts)
        r = self.alloc(allowed)
        self._attach(ts, r)
        ts.coherent = False
        return r

    def assign_reg(self, t: Temp, r: int) -> None:
        """Output ``t`` is now in register ``r`` (which must be free), dirty."""
        ts = self.state(t)
        self.detach(ts)
        self._attach(ts, r)
        ts.coherent = False

    def set_const(self, t: Temp, value: int) -> None:
        """``t`` = constant, without code (materialised when needed, as TEMP_VAL_CONST)."""
        ts = self.state(t)
        self.detach(ts)
        ts.kind = CONST
        ts.value = value & M32
        ts.coherent = False

    def kill(self, index: int) -> None:
        """Local ``index`` is dead: free its register, never store it."""
        ts = self.locals.get(index)
        if ts is None:
            return
        self.detach(ts)
        ts.kind = DEAD

    def release(self, t: Temp) -> None:
        """Unpin ``t``'s register (used by ops whose output may reuse a dying input's)."""
        ts = self.state(t) if t.kind is not TempKind.CONST else None
        if ts is not None and ts.kind == REG:
            self.pinned.discard(ts.reg)

    def end_op(self) -> None:
        for r in self.scratch:
            self.reg_ts[r] = None
        self.scratch.clear()
        self.pinned.clear()

    # ------------------------------------------------------------------ syncs

    def store_state(self, ts: TempState, scratch: int = R12, addr_scratch: int = LR) -> None:
        """Write ``ts`` to its home (it must be REG or CONST and not coherent)."""
        base, off = self.home(ts)
        if ts.kind == REG:
            self.asm.mem("str", ts.reg, base, off, scratch=scratch, comment=f"sync {ts.name}")
        elif ts.kind == CONST:
            self.asm.mov_imm(scratch, ts.value)
            self.asm.mem("str", scratch, base, off, scratch=addr_scratch,
                         comment=f"sync {ts.name}")
        ts.coherent = True

    def dirty_globals(self) -> list[TempState]:
        return [ts for ts in self.globals.values()
                if not ts.coherent and ts.kind in (REG, CONST)]

    def sync_globals(self) -> None:
        """Store every dirty global (keep them where they are, now clean)."""
        for ts in self.dirty_globals():
            self.store_state(ts)

    def sync_locals(self, live: frozenset[int]) -> None:
        for index in sorted(live - self.wide):
            ts = self.locals.get(index)
            if ts is None:  # never touched: the interpreter's zero
                ts = self.locals[index] = TempState(False, index, f"tmp{index}", CONST, 0, False)
            if not ts.coherent and ts.kind in (REG, CONST):
                self.store_state(ts)

    def reset(self, live_in: frozenset[int]) -> None:
        """At a label: every value is in its home; registers hold nothing."""
        self.reg_ts = [None] * 16
        for ts in self.globals.values():
            ts.kind, ts.reg, ts.coherent = MEM, -1, True
        for index, ts in self.locals.items():
            ts.reg, ts.coherent = -1, True
            ts.kind = MEM if index in live_in else DEAD
        for index in live_in - self.wide:
            if index not in self.locals:
                self.locals[index] = TempState(False, index, f"tmp{index}", MEM)

    def forget_globals(self) -> None:
        """After a helper that may write globals: reload them from env on next use."""
        for ts in self.globals.values():
            if ts.kind in (REG, CONST):
                self.detach(ts)
            ts.kind, ts.coherent = MEM, True

    def invalidate_global(self, slot: int) -> None:
        """env slot ``slot`` was written directly (st_i32): drop a cached copy of it."""
        ts = self.globals.get(slot)
        if ts is not None:
            self.detach(ts)
            ts.kind, ts.coherent = MEM, True

    def sync_global(self, slot: int) -> None:
        ts = self.globals.get(slot)
        if ts is not None and not ts.coherent and ts.kind in (REG, CONST):
            self.store_state(ts)

    def evict(self, regs) -> None:
        """Empty ``regs`` before a call: move live values to free callee-saved registers,
        or spill them."""
        for r in regs:
            ts = self.reg_ts[r]
            if ts is None or ts is _SCRATCH:
                continue
            if ts.coherent:
                self.detach(ts)
                continue
            for dest in CALLEE_SAVED:
                if self._free(dest):
                    self.asm.insn(f"mov {rn(dest)}, {rn(r)}")
                    self._attach(ts, dest)
                    break
            else:
                self.spill(r)

    def snapshot_dirty(self) -> list[tuple[int, str, int]]:
        """The dirty globals now, as (env offset, "reg"|"const", reg or value), for a stub."""
        out = []
        for ts in self.dirty_globals():
            off = self.env_off(ts.index)
            out.append((off, "reg", ts.reg) if ts.kind == REG else (off, "const", ts.value))
        return out
