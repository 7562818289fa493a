"""The trap table: Python functions the generated code calls as if they were C helpers.

Entry ``n`` at ``TRAP_BASE + 32 * n`` is called with ``blx`` like a C helper (env in r0,
arguments per :mod:`.abi`).  It stores r0-r3 and ``n`` in the env block's ARGS area and
branches to one shared dispatch instruction, the only address a unicorn code hook
watches; the hook runs the Python side, which reads the arguments from memory, calls
the function and writes the result back to ARGS, from where the entry's tail loads
r0:r1 before ``bx lr`` (several outputs go to the RET area).  Registers never cross the
unicorn API on this path: memory does, through the buffer unicorn maps.  Entries are
created on first use, keyed by what they call:

* a :class:`~core.ir.Helper` (``call`` ops): ``helper.func(cpu, *inputs)``;
* an op without a native lowering, with its constants: ``opdef.impl(cpu, *inputs,
  *consts)``, its reference semantics (plugin ops, i64 arithmetic, ldlink/stcond, which
  reach the memory policy this way, as in the LL/SC series);
* the softmmu slow paths of qemu_ld/qemu_st: ``cpu.mmu.load_slow`` / ``store_slow``.

Helpers that may touch the CPU state see ``cpu.env`` synced from the host env block
before the call, and their changes are written back after it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from attrs import define

from core.ir import M32, M64, Helper, OpDef, TempType

from .abi import arg_locations
from .layout import TRAP_BASE, TRAP_DISPATCH, TRAP_ENTRY_SIZE


@define(eq=False)
class Trap:
    """One entry: its address, the assembler symbol naming it, and the Python side."""

    addr: int
    symbol: str
    handler: Callable[[Any, Any], None]  # handler(runtime, cpu)


class TrapTable:
    """Entries by key, created on first use; addresses never change."""

    def __init__(self) -> None:
        self.traps: list[Trap] = []
        self._by_key: dict[Any, Trap] = {}
        self._symbols: set[str] = set()
        self.on_new: Callable[[Trap, int], None] | None = None  # (trap, number): write its code

    def _add(self, key: Any, base_name: str, handler) -> Trap:
        trap = self._by_key.get(key)
        if trap is not None:
            return trap
        index = len(self.traps)
        addr = TRAP_BASE + TRAP_ENTRY_SIZE * index
        if addr + TRAP_ENTRY_SIZE > TRAP_DISPATCH:
            raise RuntimeError("backend arm-host: the trap table is full")
        symbol = re.sub(r"[^A-Za-z0-9_]", "_", base_name)
        if symbol in self._symbols:
            symbol = f"{symbol}_{index}"
        self._symbols.add(symbol)
        trap = Trap(addr, symbol, handler)
        self.traps.append(trap)
        self._by_key[key] = trap
        if self.on_new is not None:
            self.on_new(trap, index)
        return trap

    # ------------------------------------------------------------------ kinds

    def helper(self, helper: Helper) -> Trap:
        return self._add(("helper", helper), f"helper_{helper.name}", HelperTrap(helper))

    def op(self, opdef: OpDef, consts: tuple, in_types, out_types) -> Trap:
        """The reference semantics of ``opdef`` with these constants (a label, for a
        conditional branch, is not part of the key: the semantics only decide)."""
        key_consts = consts[:-1] if opdef.cond_branch else consts
        suffix = "" if not key_consts else "_" + "_".join(
            str(int(c)) if isinstance(c, int) else re.sub(r"\W", "", str(c)) for c in key_consts)
        return self._add(("op", opdef.name, key_consts), f"op_{opdef.name}{suffix}",
                         OpTrap(opdef, consts, tuple(in_types), tuple(out_types)))

    def load_slow(self, is64: bool) -> Trap:
        name = "helper_ld64_mmu" if is64 else "helper_ld_mmu"
        return self._add(("ld", is64), name, LoadSlowTrap(is64))

    def store_slow(self, is64: bool) -> Trap:
        name = "helper_st64_mmu" if is64 else "helper_st_mmu"
        return self._add(("st", is64), name, StoreSlowTrap(is64))


class HelperTrap:
    """``call``: the helper's Python function."""

    def __init__(self, helper: Helper):
        self.helper = helper
        self.locs = arg_locations(helper.in_types, f"helper {helper.name}")
        self.sync = not helper.pure
        self.out = helper.out_type

    def __call__(self, rt, cpu) -> None:
        args = rt.read_args(cpu, self.locs)
        if self.sync:
            rt.env_to_python(cpu)
        result = self.helper.func(cpu, *args)
        if self.sync:
            rt.env_to_host(cpu)
        rt.stats[cpu.index].helper_calls += 1
        if self.out is not None:
            rt.set_result(cpu, result, self.out)


class OpTrap:
    """An op the backend does not lower: its reference semantics."""

    def __init__(self, opdef: OpDef, consts: tuple, in_types: tuple, out_types: tuple):
        self.opdef = opdef
        self.impl = opdef.impl
        self.consts = consts
        self.in_types = in_types
        self.out_types = out_types
        self.locs = arg_locations(in_types, f"op {opdef.name}")
        # the CPU state is synced for ops that may read or write it; ops on guest memory
        # (ldlink/stcond) see only memory and the vCPU, and a fault syncs it anyway
        self.sync = opdef.touches_state
        self.branch = opdef.cond_branch

    def __call__(self, rt, cpu) -> None:
        args = rt.read_args(cpu, self.locs)
        if self.sync:
            rt.env_to_python(cpu)
        result = self.impl(cpu, *args, *self.consts)
        if self.sync:
            rt.env_to_host(cpu)
        rt.stats[cpu.index].op_fallbacks += 1
        if self.branch:
            rt.set_result(cpu, 1 if result else 0, TempType.I32)
        elif len(self.out_types) == 1:
            rt.set_result(cpu, result, self.out_types[0])
        elif self.out_types:
            rt.set_ret_area(cpu, result)


class LoadSlowTrap:
    """``helper_ld*_mmu(env, addr, oi, retaddr)``: the softmmu load slow path."""

    def __init__(self, is64: bool):
        self.is64 = is64

    def __call__(self, rt, cpu) -> None:
        _env, addr, oi, _ret = rt.read_regs(cpu)
        rt.stats[cpu.index].slow_loads += 1
        value = cpu.mmu.load_slow(addr, oi >> 4)
        if self.is64:
            rt.set_result(cpu, value & M64, TempType.I64)
        else:
            rt.set_result(cpu, value & M32, TempType.I32)


class StoreSlowTrap:
    """``helper_st*_mmu(env, addr, val, oi, retaddr)``: the softmmu store slow path, where
    TLB_NOTDIRTY invalidates translated code and TLB_EXCL reaches the memory policy."""

    def __init__(self, is64: bool):
        self.is64 = is64

    def __call__(self, rt, cpu) -> None:
        _env, addr, lo, hi = rt.read_regs(cpu)
        if self.is64:
            value = lo | (hi << 32)
            oi = rt.read_stack_word(0)
        else:
            value, oi = lo, hi
        rt.stats[cpu.index].slow_stores += 1
        cpu.mmu.store_slow(addr, value, oi >> 4)
