"""The host: one unicorn ARM instance per machine, its memory, and the trap hook.

:class:`HostRuntime` maps the areas of :mod:`.layout` (guest RAM with ``mem_map_ptr``
over each RAMBlock's own bytearray, so the policies, semihosting and the generated code
see the same bytes; the env blocks and the code buffer over bytearrays of its own, so
Python reads and writes them without going through unicorn), keeps each vCPU's TLB
mirrored into its env block (``SoftMMU.on_change``), places TB code, patches chained
jumps, and runs a TB chain with ``emu_start(PROLOGUE, STOP)``.  Parameters and results
cross through memory: the prologue loads env, entry and budget from a parameter block,
and the epilogue leaves the exit taken and the budget left in the env block.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from typing import Any, Callable

from attrs import define

from core.cpu import EXIT_REQUEST_BACKEND, CPUState, cpu_exit
from core.errors import TcglabError
from core.ir import I64, M32, M64
from core.softmmu import TLB_EMPTY, TLB_SIZE

from .a32 import encodable
from .chain import branch_word, goto_target
from .codebuf import CodeBuffer
from .layout import (
    CODE_BASE,
    CODE_SIZE,
    DATA_BASE,
    EXIT_REQUESTED,
    FRAME_SIZE,
    HOST_RAM_BASE,
    HOST_TOP,
    PAGE,
    PROLOGUE_ADDR,
    STOP_ADDR,
    TLB_BYTES,
    TLB_ENTRY_BITS,
    TRAP_BASE,
    TRAP_DISPATCH,
    TRAP_ENTRY_SIZE,
    TRAP_SIZE,
    EnvLayout,
    HostMap,
    align,
)
from .traps import Trap, TrapTable

_U32 = struct.Struct("<I")
_U32X2 = struct.Struct("<II")
_ARGS = struct.Struct("<5I")
_TLB_ENTRY = struct.Struct("<4I")
_CTRL = struct.Struct("<4I")  # exit_request, tb_entries, budget_left, exit_value
_PARAMS = struct.Struct("<3I")
_TLB_ALL = struct.Struct(f"<{4 * TLB_SIZE}I")
_EMPTY_TLB = _TLB_ALL.pack(*([M32, M32, M32, 0] * TLB_SIZE))


@define
class HostStats:
    """Per-vCPU counters of the arm-host backend (what went through Python)."""

    slow_loads: int = 0  # qemu_ld slow-path helper calls
    slow_stores: int = 0  # qemu_st slow-path helper calls
    helper_calls: int = 0  # `call` ops
    op_fallbacks: int = 0  # ops run through their reference semantics
    emu_starts: int = 0  # execute() calls that entered host code

    def as_dict(self) -> dict[str, int]:
        return {a.name: getattr(self, a.name) for a in self.__attrs_attrs__}


class CodeBufferFull(Exception):
    pass


class HostRuntime:
    """The unicorn instance of one machine."""

    def __init__(self, machine: Any, env: EnvLayout, traps: TrapTable, assembler: Any):
        from unicorn import (UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_ARM, UC_PROT_EXEC,
                             UC_PROT_READ, UC_PROT_WRITE, Uc, arm_const)
        code, data = UC_PROT_READ | UC_PROT_EXEC, UC_PROT_READ | UC_PROT_WRITE

        self.machine = machine
        self.env = env
        self.traps = traps
        self.assembler = assembler
        self.map = HostMap(env, len(machine.cpus))
        self.uc = uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        # Cortex-A15: ARMv7-A with the integer divide instructions the backend emits
        uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_A15)
        uc.ctl_set_tcg_buffer_size(32 << 20)
        self._pc_reg = arm_const.UC_ARM_REG_PC
        self._lr_reg = arm_const.UC_ARM_REG_LR
        self._r5_reg = arm_const.UC_ARM_REG_R5
        self._buffers: list[Any] = []  # ctypes views: keep the mappings' memory alive

        # anonymous mappings: zero pages until touched (a bytearray would be written whole)
        self.code_mem = mmap.mmap(-1, CODE_SIZE)
        self.data = mmap.mmap(-1, align(self.map.data_size, PAGE))
        self.trap_mem = mmap.mmap(-1, TRAP_SIZE)
        self._map_ptr(CODE_BASE, self.code_mem, code)  # host code is written from Python only
        self._map_ptr(DATA_BASE, self.data, data)
        self._map_ptr(TRAP_BASE, self.trap_mem, code)
        uc.mem_map(STOP_ADDR, PAGE, code)
        uc.mem_map(PROLOGUE_ADDR, PAGE, code)
        self.ram_host: dict[int, int] = {}  # id(block.mv) -> host address of the block
        for block in machine.memory.ram_list.blocks:
            host = HOST_RAM_BASE + block.offset
            if host + block.size > HOST_TOP:
                raise TcglabError(f"backend arm-host: guest RAM of {block.size:#x} bytes does "
                                  f"not fit the host address space above {HOST_RAM_BASE:#x}")
            self._map_ptr(host, block.data, data)  # guest RAM: never executed by the host
            self.ram_host[id(block.mv)] = host

        self.codebuf = CodeBuffer(CODE_BASE, CODE_SIZE)
        self.exits: dict[int, tuple[Any, int, int]] = {}  # address -> (tb, kind, pc)
        self.callsites: dict[int, tuple[Any, int]] = {}  # return address -> (code, guest pc)
        self.stats = [HostStats() for _ in machine.cpus]
        self.deferred: list[Callable[[], None]] = []
        self.running = False
        self.cpu: CPUState | None = None
        self.env_in_python = False
        self.fault: tuple[BaseException, int | None, int] | None = None

        types = machine.frontend.layout.types
        self.env_struct = struct.Struct(f"<{len(types)}Q")
        self.masks = [M64 if t is I64 else M32 for t in types]
        self._block = [self.map.block_addr(i) - DATA_BASE for i in range(len(machine.cpus))]
        self._sp = self.map.tb_sp - DATA_BASE
        self._tlb_off = env.tlb
        self._args_off = env.args
        self._number_off = env.args + 16
        self._ctrl_off = env.exit_request
        self._ret_off = env.ret
        self._insn_off = env.insn_index
        self._params_off = self.map.params_addr - DATA_BASE

        self._write_prologue()
        self._write_dispatch()
        traps.on_new = self._write_trap_entry
        for number, trap in enumerate(traps.traps):
            self._write_trap_entry(trap, number)
        uc.hook_add(UC_HOOK_CODE, self._on_trap, begin=TRAP_DISPATCH, end=TRAP_DISPATCH)

    def _map_ptr(self, addr: int, buf, perms: int) -> None:
        size = align(len(buf), PAGE)
        if size != len(buf):
            raise TcglabError(f"backend arm-host: a host mapping at {addr:#x} is not "
                              "page-sized")
        view = (ctypes.c_char * size).from_buffer(buf)
        self._buffers.append(view)
        self.uc.mem_map_ptr(addr, size, perms, ctypes.addressof(view))

    # ------------------------------------------------------------------ fixed code

    def _write_prologue(self) -> None:
        m = self.map
        text = "\n".join([
            "tcg_qemu_tb_exec:",
            f"movw r12, #{m.params_addr & 0xFFFF:#x}",
            f"movt r12, #{m.params_addr >> 16:#x}",
            "ldm r12, {r0, r1, r2}",
            f"movw r3, #{m.stack_top & 0xFFFF:#x}",
            f"movt r3, #{m.stack_top >> 16:#x}",
            "mov sp, r3",
            f"movw lr, #{STOP_ADDR & 0xFFFF:#x}",
            f"movt lr, #{STOP_ADDR >> 16:#x}",
            "push {r4-r12, lr}",
            f"sub sp, sp, #{FRAME_SIZE:#x}",
            "mov r6, r0",
            "mov r5, r2",
            "bx r1",
        ])
        code = self.assembler.assemble(text, 13 * 4, PROLOGUE_ADDR)
        self.uc.mem_write(PROLOGUE_ADDR, code)

    def _write_dispatch(self) -> None:
        code = self.assembler.assemble("nop\nldm r12, {r0, r1}\nbx lr", 12, TRAP_DISPATCH)
        off = TRAP_DISPATCH - TRAP_BASE
        self.trap_mem[off:off + len(code)] = code

    def _write_trap_entry(self, trap: Trap, number: int) -> None:
        args = self.env.args
        first = (f"add r12, r0, #{args:#x}" if encodable(args)
                 else f"movw r12, #{args:#x}\nadd r12, r0, r12")
        text = "\n".join([first, "stm r12, {r0-r3}", f"movw r1, #{number}",
                          "str r1, [r12, #16]", f".equ dispatch, {TRAP_DISPATCH:#x}",
                          "b dispatch"])
        size = 4 * (5 if encodable(args) else 6)
        code = self.assembler.assemble(text, size, trap.addr)
        off = trap.addr - TRAP_BASE
        self.trap_mem[off:off + len(code)] = code
        if not self.running:
            self.uc.ctl_remove_cache(trap.addr, trap.addr + TRAP_ENTRY_SIZE)

    # ------------------------------------------------------------------ env blocks

    def block_addr(self, cpu: CPUState) -> int:
        return DATA_BASE + self._block[cpu.index]

    def env_to_host(self, cpu: CPUState) -> None:
        try:
            self.env_struct.pack_into(self.data, self._block[cpu.index], *cpu.env)
        except struct.error:  # a helper left a value out of range: wrap it as the IR would
            self.env_struct.pack_into(self.data, self._block[cpu.index],
                                      *[v & m for v, m in zip(cpu.env, self.masks)])
        self.env_in_python = False

    def env_to_python(self, cpu: CPUState) -> None:
        cpu.env[:] = self.env_struct.unpack_from(self.data, self._block[cpu.index])
        self.env_in_python = True

    def ctrl(self, cpu: CPUState) -> tuple[int, int, int, int]:
        """(exit_request, tb_entries, budget_left, exit_value) of ``cpu``'s env block."""
        return _CTRL.unpack_from(self.data, self._block[cpu.index] + self._ctrl_off)

    def mirror_exit_request(self, cpu: CPUState) -> None:
        """Copy ``cpu``'s exit-request word (``CPUState.exit_request``) into its env block,
        where each goto_tb tests it: the code returns to the dispatcher at the next one.
        The backend's only test of the word; called as host code is entered and after
        each trap (Python runs nowhere else while host code runs, and only the
        dispatcher clears the word)."""
        if cpu.exit_request:
            _U32.pack_into(self.data, self._block[cpu.index] + self._ctrl_off,
                           EXIT_REQUESTED)

    # ------------------------------------------------------------------ trap arguments

    def read_regs(self, cpu: CPUState) -> tuple[int, int, int, int]:
        """r0-r3 as the trap entry stored them."""
        return _ARGS.unpack_from(self.data, self._block[cpu.index] + self._args_off)[:4]

    def read_stack_word(self, offset: int) -> int:
        return _U32.unpack_from(self.data, self._sp + offset)[0]

    def read_args(self, cpu: CPUState, locs) -> list[int]:
        regs = self.read_regs(cpu)
        out = []
        for kind, n in locs:
            if kind == "reg":
                out.append(regs[n])
            elif kind == "pair":
                out.append(regs[n] | (regs[n + 1] << 32))
            elif kind == "stack":
                out.append(self.read_stack_word(n))
            else:
                lo, hi = _U32X2.unpack_from(self.data, self._sp + n)
                out.append(lo | (hi << 32))
        return out

    def set_result(self, cpu: CPUState, value: int, type_) -> None:
        """r0 (r0:r1 for an i64) as the trap entry's tail loads them."""
        value &= M64 if type_ is I64 else M32
        _U32X2.pack_into(self.data, self._block[cpu.index] + self._args_off,
                         value & M32, value >> 32)

    def set_ret_area(self, cpu: CPUState, results) -> None:
        base = self._block[cpu.index] + self._ret_off
        for k, value in enumerate(results):
            struct.pack_into("<Q", self.data, base + 8 * k, value & M64)

    # ------------------------------------------------------------------ the trap hook

    def _on_trap(self, uc, address, size, user_data) -> None:
        cpu = self.cpu
        number = _U32.unpack_from(self.data, self._block[cpu.index] + self._number_off)[0]
        try:
            self.traps.traps[number].handler(self, cpu)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the backend after emu_start
            lr = uc.reg_read(self._lr_reg)
            budget = uc.reg_read(self._r5_reg)
            self.fault = (exc, self._insn_pc(cpu, lr), budget - (1 << 32) if budget >> 31 else budget)
            if not self.env_in_python:
                self.env_to_python(cpu)
            uc.emu_stop()
            return
        self.mirror_exit_request(cpu)

    def _insn_pc(self, cpu: CPUState, ret_addr: int) -> int | None:
        """The guest pc of the instruction whose helper call returns to ``ret_addr``."""
        site = self.callsites.get(ret_addr)
        if site is None:
            return None
        code, pc = site
        if code.track_insn:
            index = _U32.unpack_from(self.data, self._block[cpu.index] + self._insn_off)[0]
            pc = code.insn_pcs[index]
        return pc

    # ------------------------------------------------------------------ the TLB mirror

    def tlb_changed(self, cpu: CPUState, index: int) -> None:
        """SoftMMU.on_change: copy entry ``index`` (-1: all) into ``cpu``'s env block."""
        mmu = cpu.mmu
        base = self._block[cpu.index] + self._tlb_off
        if index >= 0:
            host = mmu.host[index]
            _TLB_ENTRY.pack_into(self.data, base + (index << TLB_ENTRY_BITS),
                                 mmu.addr_read[index] & M32, mmu.addr_write[index] & M32,
                                 mmu.addr_code[index] & M32, self._addend(mmu, index, host))
            return
        if (mmu.addr_read.count(TLB_EMPTY) == TLB_SIZE and mmu.addr_write.count(TLB_EMPTY)
                == TLB_SIZE and mmu.addr_code.count(TLB_EMPTY) == TLB_SIZE):
            self.data[base:base + TLB_BYTES] = _EMPTY_TLB  # a flush: every tag misses
            return
        words = [0] * (4 * TLB_SIZE)
        words[0::4] = [t & M32 for t in mmu.addr_read]
        words[1::4] = [t & M32 for t in mmu.addr_write]
        words[2::4] = [t & M32 for t in mmu.addr_code]
        words[3::4] = [self._addend(mmu, i, h) for i, h in enumerate(mmu.host)]
        _TLB_ALL.pack_into(self.data, base, *words)

    def _addend(self, mmu, i: int, host) -> int:
        """host address - guest address for entry ``i`` (0 for a device page)."""
        if host is None:
            return 0
        delta = self.ram_host.get(id(host))
        if delta is None:
            raise TcglabError("backend arm-host: a TLB entry points at RAM the host did not "
                              "map (RAM added after the machine was built)")
        return (mmu.addend[i] + delta) & M32

    # ------------------------------------------------------------------ code placement

    def place(self, tb) -> None:
        code = tb.compiled
        addr = self.codebuf.alloc(code.size)
        if addr is None:
            raise CodeBufferFull()
        off = addr - CODE_BASE
        self.code_mem[off:off + code.size] = code.code
        self.uc.ctl_remove_cache(addr, addr + code.size)
        code.addr = addr
        code.chained = [None, None]
        for exit_off, kind, pc in code.exits:
            self.exits[addr + exit_off] = (tb, kind, pc)
        for ret_off, pc in code.callsites:
            self.callsites[addr + ret_off] = (code, pc)

    def free(self, tb) -> None:
        """Give ``tb``'s code space back (deferred while host code runs)."""
        if self.running:
            self.deferred.append(lambda: self.free(tb))
            cpu_exit(self.cpu, EXIT_REQUEST_BACKEND)
            return
        code = tb.compiled
        if code is None or code.addr is None:
            return
        addr = code.addr
        for exit_off, _kind, _pc in code.exits:
            self.exits.pop(addr + exit_off, None)
        for ret_off, _pc in code.callsites:
            self.callsites.pop(addr + ret_off, None)
        self.codebuf.release(addr, code.size)
        code.addr = None

    def set_jump(self, src, slot: int, dest) -> None:
        """Point ``src``'s goto_tb ``slot`` at ``dest`` (None: back at its exit)."""
        if self.running:
            self.deferred.append(lambda: self.set_jump(src, slot, dest))
            cpu_exit(self.cpu, EXIT_REQUEST_BACKEND)
            return
        code = src.compiled
        if code is None or code.addr is None or code.goto_sites[slot] is None:
            return
        dcode = dest.compiled if dest is not None and not dest.invalid else None
        if dcode is not None and dcode.addr is None:
            dcode = None
        site, target = goto_target(code, slot, dcode)
        _U32.pack_into(self.code_mem, site - CODE_BASE, branch_word(site, target))
        self.uc.ctl_remove_cache(site, site + 4)
        code.chained[slot] = dcode

    def apply_deferred(self) -> None:
        work, self.deferred = self.deferred, []
        for fn in work:
            fn()

    # ------------------------------------------------------------------ running

    def run(self, cpu: CPUState, entry: int, budget: int) -> None:
        """Enter host code at ``entry`` for ``cpu`` with ``budget`` guest instructions."""
        from unicorn import UcError
        boff = self._block[cpu.index]
        _CTRL.pack_into(self.data, boff + self._ctrl_off, 0, 0, 0, 0)
        self.mirror_exit_request(cpu)  # set while a slice resumes mid-TB with work queued
        _PARAMS.pack_into(self.data, self._params_off, DATA_BASE + boff, entry, budget)
        self.cpu = cpu
        self.fault = None
        self.running = True
        self.stats[cpu.index].emu_starts += 1
        try:
            self.uc.emu_start(PROLOGUE_ADDR, STOP_ADDR)
        except UcError as exc:
            pc = self.uc.reg_read(self._pc_reg)
            raise RuntimeError(f"backend arm-host: the host code faulted ({exc}) at "
                               f"{pc:#010x}") from None
        finally:
            self.running = False
