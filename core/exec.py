"""The per-vCPU execution loop (``cpu_exec``): find the TB, run it, chain, handle exits.

One call runs one vCPU for at most one slice.  Before each TB the loop tests the vCPU's
exit-request word (``cpu.exit_request``, see :class:`~core.cpu.CPUState`), and only
that: when it is set, the slice ends if the vCPU no longer runs or the machine is to
stop; otherwise, at a TB boundary (not when a slice resumes in the middle of a TB, where
queued work waits: the async-flush window), the word is cleared and the vCPU runs its
queued work (asynchronous TLB flushes, as ``async_run_on_cpu``).  Then it takes the
next TB: straight from the previous TB's chained ``goto_tb`` slot when there is one, or
from the TB cache (translating on a miss), and chains the two.  Guest exceptions leave
the TB as Python exceptions and are handled here: halt, yield, the atomic
(stop-the-world) step, and everything else offered to the frontend, then the platform,
then reported as a one-line error.

A memory policy that needs the world stopped raises :func:`cpu_loop_exit_atomic` from an
op's semantics (QEMU's ``cpu_loop_exit_atomic``): the backend rewinds the pc to that
instruction, which did not complete and is not counted, and :func:`step_atomic` runs it
again, alone, and counts it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from .backend import EXIT_BUDGET, EXIT_NOCHAIN
from .cpu import EXCP, CpuLoopExit, CPURunState, CPUState, GuestException, GuestFault
from .errors import GuestError

if TYPE_CHECKING:
    from .machine import Machine


def cpu_exec(machine: "Machine", cpu: CPUState, budget: int) -> int:
    """Run ``cpu`` for at most ``budget`` guest instructions; returns how many ran.

    The count is added to ``cpu.stats.insns`` and ``machine.insns`` here and nowhere
    else, also when an error ends the slice (a guest error, or any exception a backend
    annotates with ``executed``, see ``core.backend``), so an error's report counts the
    instructions before it.
    """
    fe, translator, backend = machine.frontend, machine.translator, machine.backend
    stats = cpu.stats
    executed = 0
    last_tb, last_exit = None, EXIT_NOCHAIN
    try:
        while executed < budget:
            if cpu.exit_request:
                if cpu.run_state is not CPURunState.RUNNING or machine.stop_requested:
                    break  # the word stays set: whatever resumes the vCPU sees it
                if not cpu.mid_tb:
                    cpu.exit_request = 0  # served here, and only here
                    if cpu.work:
                        cpu.run_work()
                        last_tb = None
            pc, flags = fe.get_pc(cpu), fe.tb_flags(cpu)
            tb = None
            if last_tb is not None and last_exit < EXIT_NOCHAIN:
                tb = last_tb.jmp_dest[last_exit]
                if tb is not None and (tb.invalid or tb.pc != pc or tb.flags != flags):
                    tb = None
                elif tb is not None:
                    stats.tb_chain_hits += 1
            try:
                if tb is None:
                    tb = translator.lookup(cpu, pc, flags)
                    if last_tb is not None and last_exit < EXIT_NOCHAIN and not last_tb.invalid:
                        translator.chain(last_tb, last_exit, tb)
                tb, exit_slot, n = backend.execute(cpu, tb, budget - executed)
            except GuestException as exc:
                if exc.pc is None:
                    exc.pc = pc
                executed += exc.executed
                cpu.mid_tb = False
                stats.exceptions += 1
                last_tb = None
                if exc.excp is EXCP.ATOMIC:
                    if exc.restore and exc.executed:
                        executed -= 1  # rewound, not completed: step_atomic runs and counts it
                    try:
                        n, keep_running = step_atomic(machine, cpu)
                    except BaseException as err:  # the step's count, as below
                        executed += getattr(err, "executed", 0)
                        raise
                    executed += n
                    if not keep_running:
                        break
                    continue
                if not handle_exception(machine, cpu, exc):
                    break
                continue
            except BaseException as exc:  # not the guest's: the run ends here
                executed += getattr(exc, "executed", 0)
                raise
            executed += n
            stats.tbs_executed += 1
            if exit_slot == EXIT_BUDGET:
                # The slice ended inside the TB: the vCPU is not at a TB boundary, so queued
                # work (an asynchronous TLB flush) waits until the vCPU next leaves a TB
                # (the resumed slice runs a TB translated from the resume pc, as the rest
                # of this one).
                cpu.mid_tb = True
                break
            cpu.mid_tb = False
            last_tb, last_exit = tb, exit_slot
    finally:  # counted even when a guest error ends the run mid-slice
        stats.insns += executed
        machine.insns += executed
    return executed


def handle_exception(machine: "Machine", cpu: CPUState, exc: GuestException) -> bool:
    """Act on an exception that left a TB.  Returns True to keep running this slice."""
    excp = exc.excp
    if excp is EXCP.YIELD:
        return False
    if excp is EXCP.HLT:
        cpu.run_state = CPURunState.HALTED
        return False
    if excp is EXCP.EXIT:
        return False
    if machine.frontend.handle_exception(cpu, exc):
        return True
    if machine.platform is not None and machine.platform.handle_exception(cpu, exc):
        return True
    raise GuestError(describe_exception(cpu, exc))


def describe_exception(cpu: CPUState, exc: GuestException) -> str:
    """One line: ``vCPU 2: data fault, store of 4 bytes at 0x00001000, pc=0x40000124``.

    A fault reads in the frontend's words (``Frontend.fault_names``: "data abort" on
    ARM); any other kind by its message, else its name (the frontend's declared kind).
    """
    if isinstance(exc, GuestFault):
        kind = cpu.machine.frontend.fault_names.get(exc.excp) or \
            exc.excp.name.lower().replace("_", " ")
        why = "" if exc.reason == "unmapped" else f" ({exc.reason})"
        return f"vCPU {cpu.index}: {kind}, {exc.message}{why}, pc={exc.pc:#010x}"
    what = exc.message or exc.excp.name
    return f"vCPU {cpu.index}: unhandled exception {what}, pc={exc.pc:#010x}"


class ExitAtomic(CpuLoopExit):
    """Leave the TB and run the current instruction again with every other vCPU stopped.

    ``restore``: the backend rewinds the pc to the instruction that raised it.
    """

    excp = EXCP.ATOMIC
    restore = True


def cpu_loop_exit_atomic(cpu: CPUState) -> NoReturn:
    """From an op's semantics: redo this instruction in exclusive mode (QEMU's
    ``cpu_loop_exit_atomic``).  Nothing the instruction did before the call may be
    visible, since it runs again from the start."""
    raise ExitAtomic(message=f"vCPU {cpu.index}: exclusive step requested")


def step_atomic(machine: "Machine", cpu: CPUState) -> tuple[int, bool]:
    """Run one instruction of ``cpu`` with every other vCPU stopped (``cpu_exec_step_atomic``).

    The scheduler runs one vCPU at a time, so "stopped" holds by construction; what this
    adds is the one-instruction TB (uncached) and ``machine.exclusive_cpu`` set while it
    runs, which a memory policy reads to complete an SC alone.  Returns the instructions
    run (0 or 1) and whether the slice may go on; an exception of that instruction is
    handled as in :func:`cpu_exec`, after exclusive mode has ended.
    """
    fe = machine.frontend
    pc, flags = fe.get_pc(cpu), fe.tb_flags(cpu)
    machine.exclusive_cpu = cpu
    try:
        tb = machine.translator.translate(cpu, pc, flags, max_insns=1, cache=False)
        _tb, _exit, n = machine.backend.execute(cpu, tb, 1)
        return n, True
    except GuestException as exc:
        if exc.pc is None:
            exc.pc = pc
        raised = exc
    finally:
        machine.exclusive_cpu = None
    cpu.stats.exceptions += 1
    if raised.excp is EXCP.ATOMIC:
        raise GuestError(f"vCPU {cpu.index}: the instruction at pc={pc:#010x} asked for "
                         "exclusive mode while running in it (a memory policy that never "
                         "completes in exclusive mode)")
    try:
        return raised.executed, handle_exception(machine, cpu, raised)
    except BaseException as err:  # the run ends on the step's error: count what it ran
        err.executed = raised.executed
        raise
