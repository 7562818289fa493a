"""A tiny test-only guest ISA, proving the frontend hook works without ARM.

Fixed 32-bit little-endian words: ``op:8 | rd:4 | ra:4 | imm:16``.  Sixteen registers
r0..r15, a pc, and a read-only ``cpuid`` slot.  Branch offsets are in words relative to
the next instruction.  Registered by tests as a throwaway plugin (see ``toy_plugins``).

    MOVI  rd, imm        rd = imm (zero-extended)
    MOVHI rd, imm        rd = (rd & 0xffff) | imm << 16
    ADD   rd, ra, rb     rd = ra + rb          (rb in imm[3:0])
    SUB   rd, ra, rb
    ADDI  rd, ra, simm   rd = ra + sign-extended imm
    LDW   rd, [ra+simm]  32-bit load
    STW   rd, [ra+simm]  32-bit store
    LL    rd, [ra]       qemu_ldlink_i32
    SC    rd, rb, [ra]   qemu_stcond_i32: rd = 0 stored, 1 failed (rb in imm[3:0])
    CLREX
    BNZ   ra, off        if ra != 0 goto pc + 4 + 4 * off
    BZ    ra, off
    B     off
    CPUID rd             rd = index of this vCPU
    HALT                 wait (WFI) until woken
    YIELD                end the slice
    EXIT  ra             stop the machine with exit status ra
    TRAP                 raise the toy's own exception kind TRAP (nothing handles it)
    anything else        undefined instruction (raises at execution)

Its exception kinds are :class:`ToyExcp` (UDEF, TRAP) besides core's; core's memory
faults read "prefetch abort" / "data abort" in its errors, the words the tests were
written against.
"""

from __future__ import annotations

import struct

from core.builder import Builder
from core.cpu import (EXCP, CpuLoopExit, CPURunState, ExceptionKind, GuestException, StateLayout,
                      helper_raise_exception)
from core.frontend import DisasContext, DisasJump, Frontend
from core.hookspecs import hookimpl
from core.ir import I32, CallFlag, Cond, Helper, MemOp, make_oi

OPS = {"MOVI": 1, "MOVHI": 2, "ADD": 3, "ADDI": 4, "LDW": 5, "STW": 6, "LL": 7, "SC": 8,
       "BNZ": 9, "B": 10, "HALT": 11, "EXIT": 12, "YIELD": 13, "CLREX": 14, "SUB": 15,
       "BZ": 16, "CPUID": 17, "TRAP": 18}
NAMES = {v: k for k, v in OPS.items()}

#: Where toy machines have RAM: where QEMU's arm virt board has it, so ARM-shaped tests fit.
RAM_BASE = 0x4000_0000


def enc(op: str, rd: int = 0, ra: int = 0, imm: int = 0) -> int:
    return (OPS[op] << 24) | (rd << 20) | (ra << 16) | (imm & 0xFFFF)


def assemble(lines: list[tuple]) -> bytes:
    """Assemble ``[("ADDI", rd, ra, imm), ...]``; a str item is a label, branch targets may name one."""
    labels, pc, items = {}, 0, []
    for item in lines:
        if isinstance(item, str):
            labels[item] = pc
        else:
            items.append((pc, item))
            pc += 4
    words = []
    for pc, (op, *args) in items:
        if op in ("BNZ", "BZ", "B"):
            target = args[-1]
            if isinstance(target, str):
                target = labels[target]
            off = (target - (pc + 4)) // 4
            args = ([0, args[0], off] if op != "B" else [0, 0, off])
        elif op == "SC":  # SC rd, rb, [ra] written as ("SC", rd, rb, ra)
            rd, rb, ra = args
            args = [rd, ra, rb]
        elif op == "RAW":
            words.append(args[0])
            continue
        words.append(enc(op, *args))
    return struct.pack(f"<{len(words)}I", *words)


def li(rd: int, value: int) -> list[tuple]:
    """Load a 32-bit constant."""
    return [("MOVI", rd, 0, value & 0xFFFF), ("MOVHI", rd, 0, value >> 16)]


def _exit(cpu, status):
    cpu.machine.request_exit(status)
    raise CpuLoopExit(EXCP.EXIT)


class ToyExcp(ExceptionKind):
    """The toy ISA's own exception kinds (a third-party frontend declares its own)."""

    UDEF = 1
    TRAP = 2


def _udef(cpu, encoding):
    raise GuestException(ToyExcp.UDEF, message=f"undefined instruction {encoding:#010x}")


helper_exit = Helper("toy_exit", _exit, None, (I32,), CallFlag.NO_RETURN)
helper_udef = Helper("toy_udef", _udef, None, (I32,), CallFlag.NO_RETURN)


class ToyFrontend(Frontend):
    """The test ISA above."""

    name = "toy"
    ram_base = RAM_BASE  # where QEMU's arm virt board has it, so ARM-shaped tests fit
    elf_machine = "EM_ARM"  # the toy ISA has no ELF of its own; tests load ARM files
    exception_kinds = ToyExcp
    fault_names = {EXCP.FETCH_FAULT: "prefetch abort", EXCP.DATA_FAULT: "data abort"}

    def __init__(self, machine):
        super().__init__(machine)
        layout = StateLayout()
        for i in range(16):
            layout.add(f"r{i}")
        self.pc_slot = layout.add("pc", reset=RAM_BASE)
        self.cpuid_slot = layout.add("cpuid")
        self.layout = layout
        self.r = [layout.globals[f"r{i}"] for i in range(16)]
        self.pc = layout.globals["pc"]

    def reset_cpu(self, cpu) -> None:
        cpu.env[self.cpuid_slot] = cpu.index
        cpu.run_state = CPURunState.RUNNING  # every toy vCPU starts at the reset pc

    def disas(self, pc: int, word: int) -> str:
        op = NAMES.get(word >> 24, "UNDEF")
        return f"{op} r{(word >> 20) & 15}, r{(word >> 16) & 15}, {word & 0xffff:#x}"

    def translate_insn(self, ctx: DisasContext, b: Builder) -> None:
        pc = ctx.pc_next
        word = ctx.ld_code32(pc)
        ctx.pc_next = pc + 4
        op, rd, ra, imm = word >> 24, (word >> 20) & 15, (word >> 16) & 15, word & 0xFFFF
        simm = imm - 0x10000 if imm & 0x8000 else imm
        r = self.r
        name = NAMES.get(op)
        if name == "MOVI":
            b.movi(r[rd], imm)
        elif name == "MOVHI":
            b.deposit(r[rd], r[rd], imm, 16, 16)
        elif name == "ADD":
            b.add(r[rd], r[ra], r[imm & 15])
        elif name == "SUB":
            b.sub(r[rd], r[ra], r[imm & 15])
        elif name == "ADDI":
            b.add(r[rd], r[ra], simm)
        elif name in ("LDW", "STW"):
            addr = b.temp_new_i32()
            b.add(addr, r[ra], simm)
            if name == "LDW":
                b.qemu_ld(r[rd], addr, MemOp.UL)
            else:
                b.qemu_st(r[rd], addr, MemOp.UL)
        elif name == "LL":
            b.qemu_ldlink_i32(r[rd], r[ra], make_oi(MemOp.UL | MemOp.MO_ALIGN))
        elif name == "SC":
            b.qemu_stcond_i32(r[rd], r[imm & 15], r[ra], make_oi(MemOp.UL | MemOp.MO_ALIGN))
        elif name == "CLREX":
            b.call(helper_clrex, None)
        elif name == "CPUID":
            b.ld_env(r[rd], self.cpuid_slot)
        elif name in ("BNZ", "BZ"):
            taken = b.new_label()
            b.brcond(Cond.NE if name == "BNZ" else Cond.EQ, r[ra], 0, taken)
            self._goto(b, 1, pc + 4)
            b.set_label(taken)
            self._goto(b, 0, pc + 4 + 4 * simm)
            ctx.is_jmp = DisasJump.NORETURN
        elif name == "B":
            self._goto(b, 0, pc + 4 + 4 * simm)
            ctx.is_jmp = DisasJump.NORETURN
        elif name in ("HALT", "YIELD"):
            b.movi(self.pc, pc + 4)
            b.call(helper_raise, None, int(EXCP.HLT if name == "HALT" else EXCP.YIELD))
            ctx.is_jmp = DisasJump.NORETURN
        elif name == "TRAP":
            b.movi(self.pc, pc + 4)
            b.call(helper_raise_exception, None, int(ToyExcp.TRAP))
            ctx.is_jmp = DisasJump.NORETURN
        elif name == "EXIT":
            b.movi(self.pc, pc + 4)
            b.call(helper_exit, None, r[ra])
            ctx.is_jmp = DisasJump.NORETURN
        else:
            b.movi(self.pc, pc)
            b.call(helper_udef, None, word)
            ctx.is_jmp = DisasJump.NORETURN
        ctx.tb.disas.append((pc, word, self.disas(pc, word)))

    def _goto(self, b: Builder, slot: int, dest: int) -> None:
        b.movi(self.pc, dest)
        b.goto_tb(slot)

    def tb_stop(self, ctx: DisasContext, b: Builder) -> None:
        if ctx.is_jmp is not DisasJump.NORETURN:
            self._goto(b, 0, ctx.pc_next)


def _clrex(cpu):
    cpu.machine.policy.clrex(cpu)


helper_clrex = Helper("toy_clrex", _clrex, None, ())


def _raise(cpu, excp):
    raise CpuLoopExit(EXCP(excp))


helper_raise = Helper("toy_raise", _raise, None, (I32,), CallFlag.NO_RETURN)


@hookimpl
def tcglab_register_frontends(registry) -> None:
    registry.add_frontend(ToyFrontend)
