"""Run a guest on tcglab and on unicorn side by side, one instruction at a time.

Unicorn (QEMU's TCG behind a Python API) is the oracle for single-core A32 semantics.
After every guest instruction both sides' r0-r15 and CPSR (N Z C V, mode, T) must agree.
Platform calls are the platform's, not the ISA's: unicorn has no PSCI or semihosting, so
when the next instruction is ``svc 0x123456``, ``hlt 0xf000`` or ``hvc``, tcglab executes
it and its resulting registers and all of RAM are copied to unicorn (counted as a sync,
never compared).
"""

from __future__ import annotations

from typing import Callable

from core.config import parse_config
from core.exec import cpu_exec
from core.machine import Machine
from core.plugins import PluginManager

RAM_BASE = 0x4000_0000
CPSR_COMPARED = 0xF80F_FFFF & ~(0x1F << 10)  # NZCVQ, GE, E, A I F, T, mode; not IT/J junk


def is_platform_call(insn: int) -> bool:
    cond_ok = (insn >> 28) != 0xF
    svc_semihost = cond_ok and (insn & 0x0FFF_FFFF) == 0x0F12_3456
    hvc = (insn & 0x0FF0_00F0) == 0x0140_0070
    hlt = (insn & 0x0FF0_00F0) == 0x0100_0070
    return svc_semihost or hvc or hlt


class Mismatch(AssertionError):
    pass


def make_unicorn(ram_size: int):
    from unicorn import UC_ARCH_ARM, UC_MODE_ARM, Uc
    from unicorn.arm_const import UC_CPU_ARM_CORTEX_A15

    uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_A15)
    uc.mem_map(RAM_BASE, ram_size)
    return uc


def uc_regs():
    from unicorn import arm_const as a

    return [getattr(a, f"UC_ARM_REG_R{i}") for i in range(13)] + [
        a.UC_ARM_REG_SP, a.UC_ARM_REG_LR, a.UC_ARM_REG_PC]


class Lockstep:
    """tcglab (1 vCPU, slice 1) and unicorn on the same RAM image."""

    def __init__(self, machine: Machine, uc, ram_size: int):
        from unicorn.arm_const import UC_ARM_REG_CPSR

        self.m = machine
        self.cpu = machine.cpus[0]
        self.fe = machine.frontend
        self.uc = uc
        self.ram_size = ram_size
        self.regs = uc_regs()
        self.cpsr_reg = UC_ARM_REG_CPSR
        self.steps = 0
        self.syncs = 0

    def copy_state_to_unicorn(self) -> None:
        for n, reg in enumerate(self.regs):
            self.uc.reg_write(reg, self.fe.get_reg(self.cpu, n))
        self.uc.reg_write(self.cpsr_reg, self.fe.cpsr_read(self.cpu))

    def state(self) -> tuple[list[int], int, list[int], int]:
        ours = [self.fe.get_reg(self.cpu, n) for n in range(16)]
        theirs = [self.uc.reg_read(r) & 0xFFFF_FFFF for r in self.regs]
        return ours, self.fe.cpsr_read(self.cpu), theirs, self.uc.reg_read(self.cpsr_reg)

    def step(self) -> bool:
        """One instruction on both sides; False when the guest has stopped."""
        m = self.m
        pc = self.fe.get_reg(self.cpu, 15)
        insn = int.from_bytes(m.memory.read_bytes(pc, 4), "little")
        executed = cpu_exec(m, self.cpu, 1)
        if m.stop_requested or not self.cpu.is_running:
            return False
        if is_platform_call(insn):
            self.uc.mem_write(RAM_BASE, bytes(self.m.ram.data[:self.ram_size]))
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
        ours, our_cpsr, theirs, their_cpsr = self.state()
        if ours != theirs or (our_cpsr ^ their_cpsr) & CPSR_COMPARED:
            diffs = [f"r{n}: tcglab {a:#x} unicorn {b:#x}"
                     for n, (a, b) in enumerate(zip(ours, theirs)) if a != b]
            if (our_cpsr ^ their_cpsr) & CPSR_COMPARED:
                diffs.append(f"cpsr: tcglab {our_cpsr:#010x} unicorn {their_cpsr:#010x}")
            raise Mismatch(f"after step {self.steps}, insn {insn:#010x} at {pc:#010x} "
                           f"({self.fe.disas(pc, insn)}): " + "; ".join(diffs))

    def compare_memory(self, start: int, length: int) -> None:
        ours = self.m.memory.read_bytes(start, length)
        theirs = bytes(self.uc.mem_read(start, length))
        if ours != theirs:
            first = next(i for i in range(length) if ours[i] != theirs[i])
            raise Mismatch(f"memory differs first at {start + first:#010x}: "
                           f"tcglab {ours[first]:#04x} unicorn {theirs[first]:#04x}")


def arm_machine(ram_size: str = "16M", **schedule) -> Machine:
    config = parse_config({"machine": {"frontend": "arm", "vcpus": 1, "ram_size": ram_size},
                           "schedule": {"slice": 1, **schedule}}, "<lockstep>")
    return Machine(config, PluginManager(autoload=False))


def run_elf_lockstep(path: str, argv: list[str], max_steps: int,
                     on_step: Callable[[Lockstep], None] | None = None) -> Lockstep:
    """Load ``path`` on both sides and step until the guest exits or ``max_steps``."""
    from core.loader import load_elf

    ram = 16 << 20
    m = arm_machine()
    image = load_elf(path, m.memory)
    m.frontend.boot(image, [path, *argv])
    uc = make_unicorn(ram)
    uc.mem_write(RAM_BASE, m.memory.read_bytes(RAM_BASE, ram))
    ls = Lockstep(m, uc, ram)
    ls.copy_state_to_unicorn()
    while ls.steps < max_steps and ls.step():
        if on_step:
            on_step(ls)
    return ls
