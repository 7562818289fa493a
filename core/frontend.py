"""The contract a guest frontend implements (QEMU's ``TranslatorOps`` plus the CPU hooks).

A frontend declares its CPU state (:class:`~core.cpu.StateLayout`), translates one guest
instruction at a time into IR through the :class:`~core.builder.Builder`, and says how a
TB ends.  The translator loop in :mod:`core.translator` drives it; the frontend never
sees the TB cache, the backend or the scheduler.
"""

from __future__ import annotations

import abc
import enum
from typing import TYPE_CHECKING, ClassVar, Mapping

from attrs import define, field

from .cpu import EXCP, CPUState, ExceptionKind, GuestException, StateLayout

if TYPE_CHECKING:
    from .builder import Builder
    from .ir import TranslationBlock
    from .loader import LoadedImage
    from .machine import Machine


class DisasJump(enum.Enum):
    """How translation of the current TB goes on (``DisasJumpType``)."""

    NEXT = "next"  # keep translating
    TOO_MANY = "too-many"  # stop: length or page limit; the frontend ends the TB at pc_next
    NORETURN = "noreturn"  # the instruction ended the TB itself (branch, exception)


@define
class DisasContext:
    """Per-TB translation state (``DisasContextBase``)."""

    tb: "TranslationBlock"
    cpu: CPUState
    pc_first: int
    pc_next: int
    max_insns: int
    num_insns: int = 0
    is_jmp: DisasJump = DisasJump.NEXT
    arch: dict = field(factory=dict)  # frontend-private per-TB state (condexec, ...)

    def ld_code32(self, addr: int) -> int:
        return self.cpu.mmu.ld_code(addr, 4)

    def ld_code16(self, addr: int) -> int:
        return self.cpu.mmu.ld_code(addr, 2)


class Frontend(abc.ABC):
    """Base class of guest frontends.

    Subclasses set ``name`` and ``layout`` (the CPU state with a ``pc`` slot) and
    implement :meth:`translate_insn` and :meth:`tb_stop`.

    The guest's board, as the core needs to know it before any code runs:

    * ``ram_base``: guest-physical address of RAM (the machine maps ``[machine] ram_size``
      bytes there);
    * ``elf_machine``, ``elf_class``: the ELF ``e_machine`` (pyelftools' name, e.g.
      ``"EM_RISCV"``) and class (32 or 64) of the programs this guest runs; the loader
      refuses any other ELF with a one-line error.

    Core assumes no guest: every frontend sets ``ram_base`` and ``elf_machine`` (the
    registry refuses one that does not); ``elf_class`` defaults to 32.

    Its exceptions (see docs/writing-a-frontend.md, "Exceptions"):

    * ``exception_kinds``: the :class:`~core.cpu.ExceptionKind` subclass declaring the
      kinds this guest raises besides core's (:class:`~core.cpu.EXCP`), so that an IR
      constant turns back into a named kind;
    * ``fault_names``: the architecture's words for core's memory faults in a one-line
      error, e.g. ``{EXCP.DATA_FAULT: "data abort"}`` (default: "data fault").
    """

    name: ClassVar[str] = ""
    layout: StateLayout
    pc_slot: int = 0
    insn_align: ClassVar[int] = 4
    ram_base: ClassVar[int]
    elf_machine: ClassVar[str]
    elf_class: ClassVar[int] = 32
    exception_kinds: ClassVar[type[ExceptionKind]] = EXCP
    fault_names: ClassVar[Mapping[ExceptionKind, str]] = {}

    def __init__(self, machine: "Machine"):
        self.machine = machine

    # ---- CPU ------------------------------------------------------------------------

    def reset_cpu(self, cpu: CPUState) -> None:
        """Put a fresh vCPU in its reset state (env is already the layout's resets)."""

    def get_pc(self, cpu: CPUState) -> int:
        return cpu.env[self.pc_slot]

    def set_pc(self, cpu: CPUState, pc: int) -> None:
        cpu.env[self.pc_slot] = pc

    def restore_state_to_opc(self, cpu: CPUState, pc: int) -> None:
        """Rewind ``cpu`` to the start of the instruction at ``pc`` after a fault mid-TB."""
        cpu.env[self.pc_slot] = pc

    def boot(self, image: "LoadedImage", argv: list[str]) -> None:
        """Prepare the vCPUs to run a loaded program (the board's reset).

        The default starts vCPU 0 at the ELF entry; a platform with a boot protocol
        (PSCI, semihosting command line) overrides it.
        """
        self.set_pc(self.machine.cpus[0], image.entry)

    def tb_flags(self, cpu: CPUState) -> int:
        """State that changes how code translates (ARM/Thumb, privilege): part of the TB key."""
        return 0

    def handle_exception(self, cpu: CPUState, exc: GuestException) -> bool:
        """Deliver ``exc`` to the guest (vector to a handler).  False: the machine reports it."""
        return False

    # ---- translation ------------------------------------------------------------------

    def tb_start(self, ctx: DisasContext, b: "Builder") -> None:
        """Emit anything a TB needs before its first instruction."""

    @abc.abstractmethod
    def translate_insn(self, ctx: DisasContext, b: "Builder") -> None:
        """Decode the instruction at ``ctx.pc_next``, emit its IR, advance ``ctx.pc_next``.

        Set ``ctx.is_jmp = DisasJump.NORETURN`` after emitting a TB exit.
        """

    @abc.abstractmethod
    def tb_stop(self, ctx: DisasContext, b: "Builder") -> None:
        """End a TB whose last instruction fell through (write pc, goto_tb / exit_tb)."""

    def disas(self, pc: int, encoding: int) -> str:
        """Text of one guest instruction for ``tcglab trace`` (``-d in_asm``)."""
        return f".word {encoding:#010x}"
