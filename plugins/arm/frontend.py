"""``ArmFrontend``: the ARMv7-A A32 guest frontend (the Frontend contract of core.frontend).

Per instruction: fetch, look the word up in the decode tables (:mod:`.decode`), wrap the
handler in the condition check (a branch over the instruction when the condition
fails, QEMU's ``arm_skip_unless``), and let the handler emit IR through the builder.
TBs end at branches (``goto_tb`` for direct ones, ``exit_tb`` for indirect ones),
writes to the pc, exceptions, mode changes, and page boundaries (the translator's).

The TB flags are CPSR.M (bits 4:0) and CPSR.T (bit 5): privilege changes what MSR,
CPS and MRC may do, and Thumb state is refused at translation.

The methods under "platform interface" are what a board (PSCI, semihosting) uses to
read and change a vCPU: registers by number, the CPSR, and CPU_ON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.builder import Builder
from core.cpu import CPUState
from core.frontend import DisasContext, DisasJump, Frontend

from . import cpu as arm
from . import helpers as h
from .decode import A32, A32_UNCOND
from .disas import disas as _disas
from .platform import VIRT_RAM_BASE, ArmPlatformOptions, VirtPlatform
from .translate import ArmDisas

if TYPE_CHECKING:
    from core.loader import LoadedImage
    from core.machine import Machine

class ArmFrontend(Frontend):
    """ARMv7-A, A32 instruction set (Cortex-A15 as QEMU's virt board models it)."""

    name = "arm"
    insn_align = 4
    ram_base = VIRT_RAM_BASE
    elf_machine = "EM_ARM"
    elf_class = 32
    exception_kinds = arm.ArmExcp
    fault_names = arm.FAULT_NAMES
    Options = ArmPlatformOptions  # [plugins.arm]: the board's options

    def __init__(self, machine: "Machine"):
        super().__init__(machine)
        self.layout = arm.make_layout()
        self.pc_slot = arm.S_PC
        machine.platform = VirtPlatform(machine)  # the virt board: PSCI, semihosting

    # ---------------------------------------------------------------- CPU

    def reset_cpu(self, cpu: CPUState) -> None:
        arm.reset(cpu, self.layout)

    def tb_flags(self, cpu: CPUState) -> int:
        env = cpu.env
        return (env[arm.S_CPSR] & arm.CPSR_M) | (env[arm.S_THUMB] << 5)

    def boot(self, image: "LoadedImage", argv: list[str]) -> None:
        """The virt board's boot protocol (vCPU 0 at the entry, the others off)."""
        self.machine.platform.boot(image, argv)

    # ---------------------------------------------------------------- platform interface

    def get_reg(self, cpu: CPUState, n: int) -> int:
        """Register ``n`` (0..15) of the current mode; 15 is the pc of the next insn."""
        return arm.get_reg(cpu, n)

    def set_reg(self, cpu: CPUState, n: int, value: int) -> None:
        """Set register ``n`` (0..15) of the current mode; 15 sets the pc."""
        arm.set_reg(cpu, n, value)

    def cpsr_read(self, cpu: CPUState) -> int:
        """The whole CPSR (flags, mode, masks, T)."""
        return arm.cpsr_read(cpu)

    def cpsr_write(self, cpu: CPUState, value: int, mask: int = 0xFFFF_FFFF) -> None:
        """Write the CPSR bits in ``mask``; a mode change banks r13/r14 (and r8-r12 for FIQ)."""
        arm.cpsr_write(cpu, value, mask)

    def start_cpu(self, cpu: CPUState, entry: int, r0: int) -> None:
        """PSCI CPU_ON: reset ``cpu`` into SVC mode at ``entry`` with ``r0``; RUNNING."""
        arm.start_cpu(cpu, self.layout, entry, r0)

    # ---------------------------------------------------------------- translation

    def tb_start(self, ctx: DisasContext, b: Builder) -> None:
        ctx.arch["s"] = ArmDisas(self, ctx, b)

    def translate_insn(self, ctx: DisasContext, b: Builder) -> None:
        s: ArmDisas = ctx.arch["s"]
        pc = ctx.pc_next
        s.pc = pc
        if s.thumb:
            b.call(h.helper_thumb, None, pc)
            ctx.pc_next = pc + 2
            ctx.is_jmp = DisasJump.NORETURN
            return
        if pc & 3:
            b.call(h.helper_misaligned_pc, None, pc)
            ctx.pc_next = pc + 4
            ctx.is_jmp = DisasJump.NORETURN
            return
        insn = ctx.ld_code32(pc)
        ctx.pc_next = pc + 4
        s.insn = insn
        cond = insn >> 28
        if cond == 0xF:
            p = A32_UNCOND.lookup(insn)
        else:
            p = A32.lookup(insn)
            if cond != 0xE:
                s.skip_unless(cond)
        if p is None:
            s.undef()
        else:
            p.translate(s, insn)
        if s.skip is not None:
            b.set_label(s.skip)
            s.skip = None
            if ctx.is_jmp is DisasJump.NORETURN:
                s.gen_goto(ctx.pc_next, 1)  # the condition failed: fall through

    def tb_stop(self, ctx: DisasContext, b: Builder) -> None:
        if ctx.is_jmp is not DisasJump.NORETURN:
            s: ArmDisas = ctx.arch["s"]
            s.gen_goto(ctx.pc_next, 0)

    def disas(self, pc: int, encoding: int) -> str:
        return _disas(pc, encoding)
