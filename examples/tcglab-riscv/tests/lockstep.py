"""Run a guest on tcglab and on unicorn's RISC-V 32 mode side by side, one instruction
at a time.

Unicorn (QEMU's TCG behind a Python API) is the oracle for single-hart RV32IMA
semantics: after every instruction both sides' x1..x31 and pc must agree.  Platform
calls are the board's, not the ISA's: unicorn has no semihosting, so when the next
instruction is the semihosting ``ebreak``, tcglab executes it and its resulting
registers and all of RAM are copied to unicorn (counted as a sync, never compared).
"""

from __future__ import annotations

from rvsupport import RAM, rv_machine

from core.exec import cpu_exec
from tcglab_riscv.disas import disas
from tcglab_riscv.translate import SEMIHOST_EBREAK, SEMIHOST_PRE

RAM_SIZE = 1 << 20


class Mismatch(AssertionError):
    pass


def make_unicorn(ram_size: int = RAM_SIZE):
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, Uc

    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    uc.mem_map(RAM, ram_size)
    return uc


def uc_regs() -> list[int]:
    from unicorn import riscv_const as r

    return [getattr(r, f"UC_RISCV_REG_X{i}") for i in range(1, 32)] + [r.UC_RISCV_REG_PC]


class Lockstep:
    """tcglab (1 hart, slice 1) and unicorn on the same RAM image."""

    def __init__(self, machine, uc, ram_size: int = RAM_SIZE):
        self.m = machine
        self.cpu = machine.cpus[0]
        self.fe = machine.frontend
        self.uc = uc
        self.ram_size = ram_size
        self.regs = uc_regs()
        self.steps = 0
        self.syncs = 0

    def ours(self) -> list[int]:
        return [self.fe.get_reg(self.cpu, n) for n in range(1, 33)]

    def theirs(self) -> list[int]:
        return [self.uc.reg_read(r) & 0xFFFF_FFFF for r in self.regs]

    def copy_state_to_unicorn(self) -> None:
        for value, reg in zip(self.ours(), self.regs):
            self.uc.reg_write(reg, value)

    def is_platform_call(self, pc: int, insn: int) -> bool:
        if insn != SEMIHOST_EBREAK or pc - 4 < RAM:
            return False
        return int.from_bytes(self.m.memory.read_bytes(pc - 4, 4), "little") == SEMIHOST_PRE

    def step(self) -> bool:
        """One instruction on both sides; False when the guest has stopped."""
        m = self.m
        pc = self.fe.get_reg(self.cpu, 32)
        insn = int.from_bytes(m.memory.read_bytes(pc, 4), "little")
        executed = cpu_exec(m, self.cpu, 1)
        if m.stop_requested or not self.cpu.is_running:
            return False
        if self.is_platform_call(pc, insn):
            self.uc.mem_write(RAM, bytes(m.ram.data[:self.ram_size]))
            self.copy_state_to_unicorn()
            self.syncs += 1
        else:
            if executed != 1:
                raise Mismatch(f"tcglab executed {executed} instructions at {pc:#010x}")
            self.uc.emu_start(pc, 0xFFFF_FFFF, count=1)
            self.compare(pc, insn)
        self.steps += 1
        return True

    def compare(self, pc: int, insn: int) -> None:
        ours, theirs = self.ours(), self.theirs()
        if ours != theirs:
            names = [f"x{i}" for i in range(1, 32)] + ["pc"]
            diffs = [f"{n}: tcglab {a:#x} unicorn {b:#x}"
                     for n, a, b in zip(names, ours, theirs) if a != b]
            raise Mismatch(f"after step {self.steps}, insn {insn:#010x} at {pc:#010x} "
                           f"({disas(pc, insn)}): " + "; ".join(diffs))

    def compare_memory(self, start: int, length: int) -> None:
        ours = self.m.memory.read_bytes(start, length)
        theirs = bytes(self.uc.mem_read(start, length))
        if ours != theirs:
            first = next(i for i in range(length) if ours[i] != theirs[i])
            raise Mismatch(f"memory differs first at {start + first:#010x}: "
                           f"tcglab {ours[first]:#04x} unicorn {theirs[first]:#04x}")


def run_elf_lockstep(path, argv: list[str], max_steps: int) -> Lockstep:
    """Load ``path`` on both sides and step until the guest exits or ``max_steps``."""
    m = rv_machine(1, max_insns=0, ram_size="1M")
    m.boot(path, [str(path), *argv])
    uc = make_unicorn()
    uc.mem_write(RAM, m.memory.read_bytes(RAM, RAM_SIZE))
    ls = Lockstep(m, uc)
    ls.copy_state_to_unicorn()
    while ls.steps < max_steps and ls.step():
        pass
    return ls
