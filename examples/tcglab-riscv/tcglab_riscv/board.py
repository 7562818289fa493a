"""The riscv ``virt`` board subset: boot protocol and semihosting dispatch.

As close to QEMU's ``qemu-system-riscv32 -M virt -bios none -semihosting -kernel
prog.elf`` as a guest that uses only RAM and semihosting can tell:

* RAM at 0x80000000 (the frontend's ``ram_base``); the ELF's segments are loaded there.
* :meth:`RiscvVirtBoard.boot`: every hart starts at the ELF entry in machine mode with
  a0 = its hart id (= mhartid) and a1 = 0 (QEMU passes its device tree's address there;
  tcglab has none), all at once (QEMU's reset vector with ``-bios none``).
* ``argv`` (``argv[0]`` = the program path) becomes the semihosting command line, joined
  with spaces, as QEMU's ``"<-kernel path> <-append args>"``.
* :meth:`RiscvVirtBoard.handle_exception` serves ``RiscvExcp.SEMIHOST`` (the frontend's
  translation of the semihosting sequence; :mod:`.semihosting`) and resumes the hart
  after the ``ebreak``.  Anything else is left to the machine (a one-line error).

The board has no interrupt controller, timer, UART or test device: WFI idles a hart
for good, and a run ends on SYS_EXIT / SYS_EXIT_EXTENDED (or every hart idle).
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

from core.cpu import CPUState, GuestException
from core.ir import M32

from . import cpu as rv
from .helpers import RiscvExcp
from .semihosting import Semihosting

if TYPE_CHECKING:
    from core.loader import LoadedImage
    from core.machine import Machine


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


class RiscvVirtBoard:
    """The board of one machine (``machine.platform``).

    ``stdout``/``stderr`` are binary writers (default: the process's), flushed after each
    write; ``tcglab compare`` replaces them to capture the guest's output.
    """

    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.stdout: IO[bytes] = _binary(sys.stdout)
        self.stderr: IO[bytes] = _binary(sys.stderr)
        self._closed: set[str] = set()
        self.argv: list[str] = []
        self.image: "LoadedImage | None" = None
        self.semihosting = Semihosting(self)
        self.counters = {"semihosting_calls": 0}

    @property
    def frontend(self) -> Any:
        return self.machine.frontend

    # ---- boot ---------------------------------------------------------------------------

    def boot(self, image: "LoadedImage", argv: list[str]) -> None:
        """Reset every hart to the entry with a0 = hart id (``-bios none``)."""
        self.image = image
        self.argv = [str(a) for a in argv]
        layout = self.frontend.layout
        for cpu in self.machine.cpus:
            rv.start_hart(cpu, layout, image.entry, cpu.index, 0)

    def cmdline(self) -> bytes:
        """The semihosting command line: ``argv`` joined with spaces."""
        return b" ".join(os.fsencode(a) for a in self.argv)

    def heap_region(self) -> tuple[int, int]:
        """``(base, limit)`` for SYS_HEAPINFO: from the end of the loaded image to the end
        of RAM minus the top 64 KiB (left for a stack)."""
        ram = self.machine.ram
        end = max((v + m for v, _f, m in (self.image.segments if self.image else ())),
                  default=ram.base)
        return (end + 15) & ~15, ram.base + ram.size - 0x10000

    # ---- console --------------------------------------------------------------------------

    def console_write(self, data: bytes, which: str = "stdout") -> None:
        """Write guest output; a closed pipe silences that stream for the rest of the run."""
        if which in self._closed:
            return
        stream = self.stderr if which == "stderr" else self.stdout
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError:
            self._closed.add(which)

    # ---- exceptions -----------------------------------------------------------------------

    def handle_exception(self, cpu: CPUState, exc: GuestException) -> bool:
        """Semihosting (``RiscvExcp.SEMIHOST``): a0 = the result, resume after the ebreak."""
        if exc.excp is not RiscvExcp.SEMIHOST:
            return False
        self.counters["semihosting_calls"] += 1
        env = cpu.env
        pc = env[rv.S_PC]  # the ebreak's
        result = self.semihosting.call(cpu, rv.get_reg(cpu, 10), rv.get_reg(cpu, 11))
        if result is not None:
            rv.set_reg(cpu, 10, result)
        env[rv.S_PC] = (pc + 4) & M32
        return True

    def close(self) -> None:
        """End of the run: flush the console."""
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
