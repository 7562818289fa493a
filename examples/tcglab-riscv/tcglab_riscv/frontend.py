"""``RiscvFrontend``: the RV32IMA guest frontend (the Frontend contract of core.frontend).

Per instruction: fetch a word, look it up in the decode table (:mod:`.decode`), and
let its function (:data:`.translate.TRANS`) emit IR through the builder.  TBs end at
jumps and branches (``goto_tb`` for direct targets, ``exit_tb`` for JALR and MRET),
traps, CSR writes, FENCE.I and page boundaries (the translator's).  There is one
privilege level (machine mode) and one instruction set, so the TB flags are 0.

The class attributes ``ram_base``, ``elf_machine`` and ``elf_class`` tell the core where
this guest's RAM is and which ELF files it runs (see :class:`core.frontend.Frontend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define

from core.builder import Builder
from core.config import option, plugin_options
from core.cpu import CPUState, GuestException, GuestFault
from core.frontend import DisasContext, DisasJump, Frontend

from . import cpu as rv
from . import decode
from . import helpers as h
from .board import RiscvVirtBoard
from .disas import disas as _disas
from .translate import TRANS, RvDisas

if TYPE_CHECKING:
    from core.loader import LoadedImage
    from core.machine import Machine


@define(frozen=True)
class RiscvOptions:
    """``[plugins.riscv32]``: options of the RISC-V frontend and its board."""

    amo: str = option(
        "lock", choices=("lock", "exclusive"),
        doc="how an AMO*.W is made atomic: under the memory policy's lock (lock, as a "
            "host atomic), or with every other hart stopped (exclusive, QEMU's "
            "EXCP_ATOMIC route)")


class RiscvFrontend(Frontend):
    """RV32IMA + Zicsr, machine mode, on QEMU's riscv ``virt`` board (``-bios none``)."""

    name = "riscv32"
    insn_align = 4
    ram_base = 0x8000_0000
    elf_machine = "EM_RISCV"
    elf_class = 32
    exception_kinds = h.RiscvExcp
    Options = RiscvOptions

    def __init__(self, machine: "Machine"):
        super().__init__(machine)
        self.layout = rv.make_layout()
        self.pc_slot = rv.S_PC
        self.options = plugin_options(machine.config, self.name, RiscvOptions)
        self.amo_exclusive = self.options.amo == "exclusive"
        machine.platform = RiscvVirtBoard(machine)

    # ---------------------------------------------------------------- CPU

    def reset_cpu(self, cpu: CPUState) -> None:
        rv.reset(cpu, self.layout)

    def boot(self, image: "LoadedImage", argv: list[str]) -> None:
        """Every hart at the entry with a0 = its hart id (QEMU's ``-bios none``)."""
        self.machine.platform.boot(image, argv)

    def handle_exception(self, cpu: CPUState, exc: GuestException) -> bool:
        """Take a trap to ``mtvec`` when the guest has installed a handler (mtvec != 0);
        otherwise (and for what is not a RISC-V exception) let the machine report it."""
        if cpu.env[rv.S_MTVEC] == 0:
            return False
        if isinstance(exc, h.RiscvTrap):
            cause, tval = exc.info
        elif isinstance(exc, GuestFault):
            unaligned = exc.reason == "unaligned"
            cause = {"load": h.CAUSE_MISALIGNED_LOAD if unaligned else h.CAUSE_LOAD_ACCESS,
                     "store": h.CAUSE_MISALIGNED_STORE if unaligned else h.CAUSE_STORE_ACCESS,
                     "fetch": h.CAUSE_FETCH_ACCESS}[exc.access]
            tval = exc.addr
        else:
            return False
        h.trap_enter(cpu, cause, tval)
        return True

    # ---------------------------------------------------------------- platform interface

    def get_reg(self, cpu: CPUState, n: int) -> int:
        """Register ``x<n>`` (0..31); 32 is the pc."""
        return cpu.env[rv.S_PC] if n == 32 else rv.get_reg(cpu, n)

    def set_reg(self, cpu: CPUState, n: int, value: int) -> None:
        """Set ``x<n>`` (0..31; x0 ignored); 32 sets the pc."""
        if n == 32:
            cpu.env[rv.S_PC] = value & 0xFFFF_FFFF
        else:
            rv.set_reg(cpu, n, value)

    # ---------------------------------------------------------------- translation

    def tb_start(self, ctx: DisasContext, b: Builder) -> None:
        ctx.arch["s"] = RvDisas(ctx, b, self.layout)

    def translate_insn(self, ctx: DisasContext, b: Builder) -> None:
        s: RvDisas = ctx.arch["s"]
        pc = ctx.pc_next
        s.pc = pc
        insn = ctx.ld_code32(pc)  # a fetch fault ends the TB before this insn (translator)
        ctx.pc_next = pc + 4
        s.insn = insn
        p = decode.lookup(insn)
        if p is None:
            s.illegal()
        else:
            TRANS[p.name](s, insn)

    def tb_stop(self, ctx: DisasContext, b: Builder) -> None:
        if ctx.is_jmp is not DisasJump.NORETURN:
            s: RvDisas = ctx.arch["s"]
            s.gen_goto(ctx.pc_next, 0)

    def disas(self, pc: int, encoding: int) -> str:
        return _disas(pc, encoding)
