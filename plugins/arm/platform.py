"""The ``virt`` board: boot protocol, PSCI over ``hvc #0``, and semihosting dispatch.

A subset of QEMU's ``-M virt`` (default: secure=off, virtualization=off, so the PSCI
conduit is ``hvc``), enough that a guest ELF runs the same under tcglab and under
``qemu-system-arm -M virt -cpu cortex-a15 -smp N -semihosting -kernel prog.elf``
(see ``plugins/arm/workloads/README.md`` for the contract the guests rely on).

* :meth:`VirtPlatform.boot`: vCPU 0 starts at the ELF entry with r0 = 0; every other
  vCPU stays powered off until PSCI ``CPU_ON``.  ``argv`` (``argv[0]`` = the program path)
  becomes the semihosting command line, joined with spaces, as QEMU's
  ``"<-kernel path> <-append args>"``.
* :meth:`VirtPlatform.handle_exception`: ``ArmExcp.HVC`` with immediate 0 is a PSCI call
  (function id in r0, arguments in r1..r3, result in r0; after QEMU's
  ``target/arm/psci.c``); another ``hvc`` immediate is a one-line error (QEMU's virt board
  has no hypervisor: only ``hvc #0`` is the PSCI conduit), and
  ``ArmExcp.SEMIHOST`` a semihosting call (:mod:`plugins.arm.semihosting`).  Anything else
  is left to the machine (a one-line error).

Register access goes through one small adapter, :attr:`VirtPlatform.regs` (by default the
machine's frontend): ``get_reg(cpu, n)``, ``set_reg(cpu, n, value)`` (n = 0..15, 15 = pc),
``cpsr_read(cpu)`` and ``start_cpu(cpu, entry, r0)`` (a reset of ``cpu``: it also drops
the vCPU's exclusive reservation).  Tests pass a fake.

MPIDR: vCPU *i* has affinity *i* (Aff0 = i); ``CPU_ON`` and ``AFFINITY_INFO`` accept the
target with or without MPIDR bit 31 (which always reads as 1) and bit 30 (U).  PSCI
function ids with the SMC64 bit (0xC4...) get INVALID_PARAMETERS, as QEMU answers an
AArch32 caller.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

from attrs import define

from core.config import option, plugin_options
from core.cpu import CPURunState, CPUState, GuestException
from core.errors import GuestError
from core.ir import M32
from core.outcome import RunReason

from .cpu import CPSR_T, ArmExcp
from .semihosting import Semihosting

if TYPE_CHECKING:
    from core.loader import LoadedImage
    from core.machine import Machine

# PSCI function ids (SMC32) and return codes (ARM DEN 0022)
PSCI_VERSION = 0x8400_0000
PSCI_CPU_SUSPEND = 0x8400_0001
PSCI_CPU_OFF = 0x8400_0002
PSCI_CPU_ON = 0x8400_0003
PSCI_AFFINITY_INFO = 0x8400_0004
PSCI_MIGRATE = 0x8400_0005
PSCI_MIGRATE_INFO_TYPE = 0x8400_0006
PSCI_SYSTEM_OFF = 0x8400_0008
PSCI_SYSTEM_RESET = 0x8400_0009
PSCI_FEATURES = 0x8400_000A
VIRT_RAM_BASE = 0x4000_0000  # QEMU's arm virt board: RAM starts at 1 GiB
PSCI_SMC64 = 0x4000_0000  # the bit that makes an SMC32 id an SMC64 one

PSCI_SUCCESS = 0
PSCI_NOT_SUPPORTED = -1
PSCI_INVALID_PARAMETERS = -2
PSCI_DENIED = -3
PSCI_ALREADY_ON = -4

PSCI_VERSION_1_1 = 0x0001_0001  # what QEMU 7.2 reports
PSCI_TOS_NOT_PRESENT_MP = 2  # MIGRATE_INFO_TYPE: no trusted OS, no migration needed
AFFINITY_ON, AFFINITY_OFF = 0, 1

#: The functions this platform implements (PSCI_FEATURES answers 0 for these).
PSCI_FUNCTIONS = frozenset({
    PSCI_VERSION, PSCI_CPU_SUSPEND, PSCI_CPU_OFF, PSCI_CPU_ON, PSCI_AFFINITY_INFO,
    PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_FEATURES,
})
#: Functions that exist in an SMC64 form (called from AArch32: INVALID_PARAMETERS).
_PSCI_HAS_SMC64 = frozenset({PSCI_CPU_SUSPEND, PSCI_CPU_ON, PSCI_AFFINITY_INFO, PSCI_MIGRATE})


@define(frozen=True)
class ArmPlatformOptions:
    """``[plugins.arm]``: options of the ``virt`` platform."""

    semihosting_root: str = option(
        "", doc="directory the guest may open files in (its '/'); empty = host file access "
                "refused")


class _TextSink:
    """A binary writer over a text stream (a ``sys.stdout`` replaced by a StringIO)."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self.stream.flush()


def _binary(stream: Any) -> IO[bytes]:
    return getattr(stream, "buffer", None) or _TextSink(stream)


def _discard(stream: Any) -> None:
    """After EPIPE on a stream backed by a file descriptor (the process's stdout), point
    the descriptor at /dev/null, so that what is still buffered and whatever else the
    process prints there (the run summary, the interpreter's final flush) is dropped
    instead of raising BrokenPipeError again (Python's documented remedy for SIGPIPE)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except OSError:
        pass


class VirtPlatform:
    """The ``virt`` board of one machine (``machine.platform``).

    :param machine: the machine; only its config is read here, so the frontend may build
        the platform in its own ``__init__`` (before ``machine.frontend`` and
        ``machine.cpus`` exist).
    :param regs: the register adapter; default: ``machine.frontend`` at the time of use.
    :param options: an object with ``semihosting_root``; default: ``[plugins.arm]``
        validated as :class:`ArmPlatformOptions`.

    ``stdout``/``stderr`` are binary writers (default: the process's), flushed after each
    write; ``stdin`` is a binary reader for the console's input, None (default) = empty.
    """

    def __init__(self, machine: "Machine", *, regs: Any = None, options: Any = None):
        self.machine = machine
        self._regs = regs
        self.options = options if options is not None else \
            plugin_options(machine.config, "arm", ArmPlatformOptions)
        self.stdout: IO[bytes] = _binary(sys.stdout)
        self.stderr: IO[bytes] = _binary(sys.stderr)
        self.stdin: IO[bytes] | None = None
        self._closed_streams: set[str] = set()  # "stdout"/"stderr" whose reader went away
        self.argv: list[str] = []
        self.image: "LoadedImage | None" = None
        config = machine.config
        source = config.plugins.option_sources.get("arm", {}).get("semihosting_root",
                                                                   config.source)
        self.semihosting = Semihosting(self, self.options.semihosting_root, source)
        self.counters = {"psci_calls": 0, "semihosting_calls": 0}

    @property
    def regs(self) -> Any:
        """The register adapter (``get_reg``, ``set_reg``, ``cpsr_read``, ``start_cpu``)."""
        return self._regs if self._regs is not None else self.machine.frontend

    @regs.setter
    def regs(self, value: Any) -> None:
        self._regs = value

    # ---- boot ---------------------------------------------------------------------------

    def boot(self, image: "LoadedImage", argv: list[str]) -> None:
        """Reset the board for ``image``: vCPU 0 at the entry (r0 = 0), the others off."""
        self.image = image
        self.argv = [str(a) for a in argv]
        cpus = self.machine.cpus
        for cpu in cpus[1:]:
            cpu.run_state = CPURunState.OFF
        self.regs.start_cpu(cpus[0], image.entry, 0)

    def cmdline(self) -> bytes:
        """The semihosting command line: ``argv`` joined with spaces."""
        return b" ".join(os.fsencode(a) for a in self.argv)

    def heap_region(self) -> tuple[int, int]:
        """``(base, limit)`` of the heap for SYS_HEAPINFO: the largest gap in RAM between
        the loaded segments (QEMU's ``rom_find_largest_gap_between``; the first on a tie)."""
        ram = self.machine.ram
        start, end = ram.base, ram.base + ram.size
        segments = sorted((max(v, start), min(v + m, end))
                          for v, _f, m in (self.image.segments if self.image else ())
                          if v < end and v + m > start)
        best, gap_start = (start, start), start
        for lo, hi in [*segments, (end, end)]:
            if lo - gap_start > best[1] - best[0]:
                best = (gap_start, lo)
            gap_start = max(gap_start, hi)
        return best

    # ---- console --------------------------------------------------------------------------

    def console_write(self, data: bytes, which: str = "stdout") -> None:
        """Write guest output to ``stdout`` or ``stderr`` and flush.

        A closed pipe (EPIPE: ``tcglab run prog.elf | head``) silences that stream for the
        rest of the run and the guest goes on; any other OSError propagates (a semihosting
        call turns it into the guest's errno).
        """
        if which in self._closed_streams:
            return
        stream = self.stderr if which == "stderr" else self.stdout
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError:
            self._closed_streams.add(which)
            _discard(stream)

    def insn_pc(self, cpu: CPUState) -> int:
        """The pc of the instruction that trapped (the frontend left pc after it)."""
        regs = self.regs
        size = 2 if regs.cpsr_read(cpu) & CPSR_T else 4
        return (regs.get_reg(cpu, 15) - size) & M32

    # ---- exceptions -----------------------------------------------------------------------

    def handle_exception(self, cpu: CPUState, exc: GuestException) -> bool:
        """PSCI (``ArmExcp.HVC``) and semihosting (``ArmExcp.SEMIHOST``); False for anything
        else."""
        if exc.excp is ArmExcp.HVC:
            if exc.info:  # the conduit is hvc #0 (QEMU virt); no hypervisor serves others
                raise GuestError(f"vCPU {cpu.index}: hvc #{exc.info:#x} is not a PSCI call, "
                                 f"pc={self.insn_pc(cpu):#010x}")
            self.counters["psci_calls"] += 1
            result = self.psci_call(cpu)
            if result is not None:
                self.regs.set_reg(cpu, 0, result & M32)
            return True
        if exc.excp is ArmExcp.SEMIHOST:
            self.counters["semihosting_calls"] += 1
            regs = self.regs
            result = self.semihosting.call(cpu, regs.get_reg(cpu, 0), regs.get_reg(cpu, 1))
            if result is not None:
                regs.set_reg(cpu, 0, result)
            return True
        return False

    def close(self) -> None:
        """End of the run: close the guest's host files, flush the console."""
        self.semihosting.close_all()
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass

    # ---- PSCI -----------------------------------------------------------------------------

    def find_cpu(self, mpidr: int) -> CPUState | None:
        """The vCPU whose MPIDR affinity is ``mpidr`` (bits 31 and 30 ignored), or None."""
        index = mpidr & 0x3FFF_FFFF
        cpus = self.machine.cpus
        return cpus[index] if index < len(cpus) else None

    def psci_call(self, cpu: CPUState) -> int | None:
        """Serve the PSCI function in r0; returns the new r0 (signed), None to leave it."""
        regs = self.regs
        fn = regs.get_reg(cpu, 0) & M32
        if fn & PSCI_SMC64:
            return PSCI_INVALID_PARAMETERS if fn & ~PSCI_SMC64 in _PSCI_HAS_SMC64 \
                else PSCI_NOT_SUPPORTED
        if fn == PSCI_VERSION:
            return PSCI_VERSION_1_1
        if fn == PSCI_FEATURES:
            return PSCI_SUCCESS if regs.get_reg(cpu, 1) & M32 in PSCI_FUNCTIONS \
                else PSCI_NOT_SUPPORTED
        if fn == PSCI_CPU_ON:
            target = self.find_cpu(regs.get_reg(cpu, 1) & M32)
            if target is None:
                return PSCI_INVALID_PARAMETERS
            if target.run_state is not CPURunState.OFF:
                return PSCI_ALREADY_ON
            entry, context = regs.get_reg(cpu, 2) & M32, regs.get_reg(cpu, 3) & M32
            regs.start_cpu(target, entry, context)  # a reset: clears its exclusive monitor
            return PSCI_SUCCESS
        if fn == PSCI_CPU_OFF:
            self.power_off(cpu)
            return None  # does not return to the caller
        if fn == PSCI_AFFINITY_INFO:
            target = self.find_cpu(regs.get_reg(cpu, 1) & M32)
            if regs.get_reg(cpu, 2) & M32:  # above level 0 everything is on (QEMU)
                return AFFINITY_ON
            if target is None:
                return PSCI_INVALID_PARAMETERS
            return AFFINITY_OFF if target.run_state is CPURunState.OFF else AFFINITY_ON
        if fn == PSCI_SYSTEM_OFF:
            self.machine.request_exit(0, RunReason.POWEROFF)
            self.power_off(cpu)
            return None
        if fn == PSCI_SYSTEM_RESET:
            # tcglab does not reboot a guest: the run ends as a power-off, reason "reset"
            self.machine.request_exit(0, RunReason.RESET)
            self.power_off(cpu)
            return None
        if fn == PSCI_CPU_SUSPEND:
            if regs.get_reg(cpu, 1) & 0xFFFE_0000:  # affinity levels are not supported
                return PSCI_INVALID_PARAMETERS
            cpu.run_state = CPURunState.HALTED  # standby: as WFI (QEMU)
            return PSCI_SUCCESS
        if fn == PSCI_MIGRATE_INFO_TYPE:
            return PSCI_TOS_NOT_PRESENT_MP
        return PSCI_NOT_SUPPORTED

    def power_off(self, cpu: CPUState) -> None:
        """Power ``cpu`` off (PSCI CPU_OFF): it runs again only after a CPU_ON."""
        cpu.run_state = CPURunState.OFF
        self.machine.policy.clrex(cpu)
