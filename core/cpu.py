"""vCPU state, the CPU-state layout frontends declare, and the exceptions that leave a TB.

The CPU state is a flat list of integer slots (``cpu.env``), the layout of which a
frontend declares with :class:`StateLayout`; guest registers are *global* temps backed by
those slots.  A flat list keeps the interpreter simple and gives code-generating
backends a fixed "env" block to address (r6 + 8 * slot on the ARM host).

Leaving a TB early is a Python exception, as QEMU's ``cpu_loop_exit`` is a longjmp:
:class:`CpuLoopExit` for architectural events a helper raises (halt, yield, supervisor
call, atomic step...), :class:`GuestFault` for memory faults raised by the softmmu.  Its
kind is an :class:`ExceptionKind`: core's (:class:`EXCP`) or one the frontend declares.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field

from .counters import Counters, counter
from .errors import PluginError
from .ir import I32, CallFlag, Helper, Temp, TempKind, TempType

if TYPE_CHECKING:
    from .machine import Machine
    from .softmmu import SoftMMU


#: Exception numbers from here up are core's (:class:`EXCP`); a frontend numbers its own
#: kinds below (QEMU: a target's ``EXCP_*`` are below ``EXCP_INTERRUPT``).
FIRST_CORE_EXCP = 0x10000


class ExceptionKind(enum.IntEnum):
    """Why a vCPU left its TB: the base of every set of exception kinds.

    Core declares the kinds it acts on or raises itself (:class:`EXCP`); a frontend
    declares the architecture's own in a subclass, numbered below
    :data:`FIRST_CORE_EXCP`, and names that subclass in ``Frontend.exception_kinds``::

        class ToyExcp(ExceptionKind):
            UDEF = 1
            TRAP = 2

    A kind is an enum member, so the one-line error for an unhandled exception names it
    (``unhandled exception TRAP``) and handlers compare with ``is``.  Helpers get the
    number as an IR constant and turn it back into a kind with :meth:`of`.
    """

    def __init__(self, number: int) -> None:
        if number >= FIRST_CORE_EXCP:
            raise ValueError(f"exception kind {type(self).__name__}.{self._name_} = "
                             f"{number:#x}: a frontend's kinds are numbered below "
                             f"{FIRST_CORE_EXCP:#x} (the numbers from there up are core's)")

    @classmethod
    def of(cls, number: int) -> "ExceptionKind":
        """The kind numbered ``number``: one of core's, else one of ``cls``.

        A number neither declares is the frontend's mistake (an IR constant or a helper
        naming a kind it never declared): a one-line error naming the class."""
        try:
            return EXCP(number) if number >= FIRST_CORE_EXCP else cls(number)
        except ValueError:
            where = EXCP if number >= FIRST_CORE_EXCP else cls
            raise PluginError(f"exception number {number:#x} is not a kind of "
                              f"{where.__module__}.{where.__qualname__} (declared: "
                              f"{', '.join(f'{k.name}={int(k):#x}' for k in where)})") from None


class EXCP(ExceptionKind):
    """The kinds core knows: what :mod:`core.exec` acts on, and the memory faults the
    softmmu raises for every guest (QEMU's generic ``EXCP_*``).

    The faults are named for what failed, an access, and not for an architecture's
    vector: a frontend delivers them as its own exceptions (ARM's prefetch and data
    aborts, RISC-V's access faults), or names them in the one-line error
    (``Frontend.fault_names``).
    """

    def __init__(self, number: int) -> None:
        """Core's own numbers start at :data:`FIRST_CORE_EXCP`; nothing to check."""

    HLT = 0x10001  # idle until woken (WFI)
    YIELD = 0x10004  # give up the rest of the slice (YIELD, WFE)
    ATOMIC = 0x10005  # run the next instruction with every other vCPU stopped
    EXIT = 0x10007  # the machine was told to stop (power off, semihosting exit)
    FETCH_FAULT = 0x10008  # the softmmu could not fetch an instruction (unmapped, MMIO)
    DATA_FAULT = 0x10009  # the softmmu could not load or store (unmapped, misaligned)


class CPURunState(enum.Enum):
    RUNNING = "running"
    HALTED = "halted"  # WFI: waits for a wake-up
    OFF = "off"  # powered off (secondaries before PSCI CPU_ON)


class GuestException(Exception):
    """Base of the exceptions that leave a TB. ``pc`` is the guest pc of the instruction."""

    excp: ExceptionKind  # a subclass may fix it (core.exec's ExitAtomic)
    restore = False  # True: the backend rewinds the guest pc to the faulting instruction

    def __init__(self, excp: ExceptionKind | None = None, *, pc: int | None = None,
                 message: str = "", info: Any = None):
        super().__init__(message or (excp.name if excp is not None else type(self).__name__))
        if excp is not None:
            self.excp = excp
        self.pc = pc
        self.message = message
        self.info = info
        self.executed = 0  # guest instructions the TB completed (including this one)


class CpuLoopExit(GuestException):
    """A helper ends the TB for an architectural reason (the pc is already written)."""


class GuestFault(GuestException):
    """A memory access failed: ``EXCP.DATA_FAULT``, or ``EXCP.FETCH_FAULT`` on a code fetch."""

    restore = True

    def __init__(self, excp: ExceptionKind, *, addr: int, size: int, access: str,
                 reason: str = "unmapped"):
        super().__init__(excp, message=f"{access} of {size} byte{'s' if size != 1 else ''} "
                                       f"at {addr:#010x}")
        self.addr = addr
        self.size = size
        self.access = access  # "load", "store", "fetch"
        self.reason = reason


@define
class StateLayout:
    """The slots of a frontend's CPU state, with the global temps that name them."""

    names: list[str] = field(factory=list)
    types: list[TempType] = field(factory=list)
    resets: list[int] = field(factory=list)
    globals: dict[str, Temp] = field(factory=dict)

    def add(self, name: str, type: TempType = I32, reset: int = 0, is_global: bool = True) -> int:
        """Add a slot; returns its index.  ``is_global`` makes it an IR global temp too."""
        if name in self.names:
            raise ValueError(f"state slot {name!r} declared twice")
        slot = len(self.names)
        self.names.append(name)
        self.types.append(type)
        self.resets.append(reset)
        if is_global:
            self.globals[name] = Temp(TempKind.GLOBAL, type, slot, name)
        return slot

    def slot(self, name: str) -> int:
        return self.names.index(name)

    def new_env(self) -> list[int]:
        return list(self.resets)


@define
class CPUStats(Counters):
    """Per-vCPU counters of the machine itself (policies keep their own)."""

    insns: int = counter("guest instructions executed")
    tbs_executed: int = counter("TBs entered (chained or looked up)")
    tbs_translated: int = counter("TBs translated")
    tb_chain_hits: int = counter("TBs entered through a chained goto_tb slot")
    tlb_fills: int = counter("soft-TLB refills")
    tlb_flushes: int = counter("flushes of this vCPU's soft TLB (whole or one page)")
    slow_loads: int = counter("loads that took the slow path")
    slow_stores: int = counter("stores that took the slow path")
    smc_invalidations: int = counter("TBs invalidated by a store to their code")
    exceptions: int = counter("exceptions that left a TB")


# The bits of ``CPUState.exit_request``: why a vCPU must leave its TBs at the next TB
# boundary.  Plain ints (the word is tested after every TB; an IntFlag would be slower).
EXIT_REQUEST_WORK = 1  # work was queued (queue_work: an asynchronous TLB flush, say)
EXIT_REQUEST_STOP = 2  # the machine was asked to stop (Machine.request_exit)
EXIT_REQUEST_IDLE = 4  # the vCPU stopped running (halted, powered off)
EXIT_REQUEST_BACKEND = 8  # the backend must run Python between TBs (arm-host: a patch)


class _RunState:
    """``CPUState.run_state``: setting anything but RUNNING also sets
    :data:`EXIT_REQUEST_IDLE`, so a vCPU halted or powered off by a helper leaves its TBs
    at the next boundary, whoever set it (platforms do).  A descriptor with ``__set__``
    only: a read is a plain instance-attribute read (the scheduler reads every vCPU's
    state each slice), where a property would call a function."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __set__(self, cpu: "CPUState", state: "CPURunState") -> None:
        cpu.__dict__[self.name] = state
        if state is not CPURunState.RUNNING:
            cpu.exit_request |= EXIT_REQUEST_IDLE

    if TYPE_CHECKING:  # for type checkers only: at run time reads bypass the descriptor
        def __get__(self, cpu: "CPUState", owner: type) -> "CPURunState": ...


class CPUState:
    """One vCPU: its env slots, run state, TLB (through ``mmu``) and queued work.

    ``exit_request`` is the vCPU's one exit-request word (QEMU's ``cpu->exit_request``
    and ``icount_decr.u16.high``, set by ``cpu_exit``): nonzero when something needs the
    vCPU out of its TBs at the next TB boundary, its bits (``EXIT_REQUEST_*``) saying
    why.  Whatever makes such a need sets it (:meth:`queue_work`, :func:`cpu_exit`, a
    ``run_state`` other than RUNNING, ``Machine.request_exit``); the run loop tests it
    once per TB and clears it (``core.exec``); a backend that chains TBs by itself tests
    it before each chained TB and leaves when it is set (see ``core.backend``).
    """

    run_state = _RunState()

    def __init__(self, machine: "Machine", index: int, layout: StateLayout):
        self.machine = machine
        self.index = index
        self.env: list[int] = layout.new_env()
        self.exit_request = 0
        self.run_state = CPURunState.RUNNING if index == 0 else CPURunState.OFF
        self.stats = CPUStats()
        self.mmu: SoftMMU = None  # type: ignore[assignment]  # set by the machine
        self.work: list[Callable[[CPUState], None]] = []  # async_run_on_cpu queue
        self.mid_tb = False  # the last slice ended inside a TB (see core.exec)
        self.arch: dict[str, Any] = {}  # frontend-private state outside env (e.g. host fds)

    def queue_work(self, fn: Callable[["CPUState"], None]) -> None:
        """Run ``fn(cpu)`` on this vCPU at its next TB boundary (``async_run_on_cpu``)."""
        self.work.append(fn)
        self.exit_request |= EXIT_REQUEST_WORK

    def run_work(self) -> None:
        work, self.work = self.work, []
        for fn in work:
            fn(self)

    @property
    def is_running(self) -> bool:
        return self.run_state is CPURunState.RUNNING

    def __repr__(self) -> str:
        return f"<vCPU {self.index} {self.run_state.value}>"


def cpu_exit(cpu: CPUState, why: int) -> None:
    """Make ``cpu`` leave its TBs at the next TB boundary (QEMU's ``cpu_exit``); ``why``
    is an ``EXIT_REQUEST_*`` bit.  The run loop clears the word there and carries on if
    nothing else stops the vCPU."""
    cpu.exit_request |= why


# --------------------------------------------------------------------------- common helpers


def _raise_exception(cpu: CPUState, excp: int) -> None:
    raise CpuLoopExit(cpu.machine.frontend.exception_kinds.of(excp))


helper_raise_exception = Helper(
    "raise_exception", _raise_exception, None, (I32,), CallFlag.NO_RETURN,
    "leave the TB with exception kind EXCP, core's or the frontend's (the frontend has "
    "written the pc)")
