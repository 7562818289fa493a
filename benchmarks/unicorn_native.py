"""Run a bundled single-CPU workload on unicorn directly: the peer tcglab is measured against.

Unicorn is QEMU's TCG behind a Python API, so it is what a Python user reaches for
first.  This runner boots the ELF the way the virt board does (the boot state is taken
from a tcglab machine that booted the same ELF, so both start identically), answers the
guest's semihosting calls (console, command line, exit) from a UC_HOOK_INTR handler, and
runs in one of three modes:

* ``native``: no per-instruction hooks, unicorn's own speed;
* ``code-hook``: a Python UC_HOOK_CODE callback on every instruction (what a unicorn
  user pays to trace or count instructions);
* ``write-hook``: a Python UC_HOOK_MEM_WRITE callback on every store (what a unicorn
  user must add to implement any store-watching LL/SC strategy).

Unicorn has one CPU, so only single-CPU programs run here.
"""

from __future__ import annotations

import time
from pathlib import Path

MODES = ("native", "code-hook", "write-hook")

SYS_WRITEC, SYS_WRITE0, SYS_GET_CMDLINE, SYS_EXIT, SYS_EXIT_EXTENDED = 0x03, 0x04, 0x15, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
EXCP_SWI = 2


class UnicornRun:
    """One boot of ``elf`` with ``argv`` on a fresh unicorn ARM instance."""

    def __init__(self, elf: Path, argv: list[str]):
        from unicorn import UC_ARCH_ARM, UC_HOOK_INTR, UC_MODE_ARM, Uc
        from unicorn import arm_const as a

        from core.config import parse_config
        from core.loader import load_elf
        from core.machine import Machine
        from core.plugins import PluginManager

        # Boot on tcglab (not run): its RAM image and registers are the virt board's boot state.
        m = Machine(parse_config({"machine": {"frontend": "arm", "vcpus": 1}}, "<bench>"),
                    PluginManager(autoload=False))
        m.frontend.boot(load_elf(elf, m.memory), argv)
        ram = m.ram
        self.cmdline = " ".join(argv).encode()
        self.output = bytearray()
        self.exit_status: int | None = None
        self.a = a
        uc = self.uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_A15
        uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_A15)
        uc.mem_map(ram.base, ram.size)
        uc.mem_write(ram.base, bytes(ram.data))
        cpu, fe = m.cpus[0], m.frontend
        regs = [getattr(a, f"UC_ARM_REG_R{i}") for i in range(13)] + [
            a.UC_ARM_REG_SP, a.UC_ARM_REG_LR]
        uc.reg_write(a.UC_ARM_REG_CPSR, fe.cpsr_read(cpu))
        for n, reg in enumerate(regs):
            uc.reg_write(reg, fe.get_reg(cpu, n))
        self.entry = fe.get_reg(cpu, 15)
        uc.hook_add(UC_HOOK_INTR, self._interrupt)

    def _interrupt(self, uc, intno, _user) -> None:
        a = self.a
        if intno != EXCP_SWI:
            raise RuntimeError(f"unicorn: unexpected exception {intno} at "
                               f"pc={uc.reg_read(a.UC_ARM_REG_PC):#010x}")
        op, arg = uc.reg_read(a.UC_ARM_REG_R0), uc.reg_read(a.UC_ARM_REG_R1)
        result = 0
        if op == SYS_WRITEC:
            self.output += uc.mem_read(arg, 1)
        elif op == SYS_WRITE0:
            while (byte := uc.mem_read(arg, 1)) != b"\0":
                self.output += byte
                arg += 1
        elif op == SYS_GET_CMDLINE:
            buf, size = (int.from_bytes(uc.mem_read(arg + 4 * i, 4), "little") for i in range(2))
            text = self.cmdline[:size - 1]
            uc.mem_write(buf, text + b"\0")
            uc.mem_write(arg + 4, len(text).to_bytes(4, "little"))
        elif op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            if op == SYS_EXIT_EXTENDED:
                reason, status = (int.from_bytes(uc.mem_read(arg + 4 * i, 4), "little")
                                  for i in range(2))
            else:
                reason, status = arg, 0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1
            self.exit_status = status if reason == ADP_STOPPED_APPLICATION_EXIT else 1
            uc.emu_stop()
        else:
            result = 0xFFFF_FFFF  # unsupported call: -1, as a semihosting host answers
        uc.reg_write(a.UC_ARM_REG_R0, result)

    def run(self, mode: str = "native") -> float:
        """Run to the guest's exit; returns the wall seconds of the run itself."""
        from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

        counter = [0]
        if mode == "code-hook":
            def on_code(_uc, _addr, _size, _user):
                counter[0] += 1
            self.uc.hook_add(UC_HOOK_CODE, on_code)
        elif mode == "write-hook":
            def on_write(_uc, _access, _addr, _size, _value, _user):
                counter[0] += 1
            self.uc.hook_add(UC_HOOK_MEM_WRITE, on_write)
        elif mode != "native":
            raise ValueError(f"unknown unicorn mode {mode!r}; one of {', '.join(MODES)}")
        started = time.perf_counter()
        self.uc.emu_start(self.entry, 0xFFFF_FFFF)
        seconds = time.perf_counter() - started
        if self.exit_status is None:
            pc = self.uc.reg_read(self.a.UC_ARM_REG_PC)
            raise RuntimeError(f"unicorn stopped at pc={pc:#010x} without the guest exiting")
        self.hook_events = counter[0]
        return seconds
