"""RISC-V semihosting: the ARM semihosting operations, called through
``slli x0, x0, 0x1f; ebreak; srai x0, x0, 7`` with a0 = operation, a1 = argument
(the RISC-V Semihosting specification, which reuses ARM's operation numbers and, for
RV32, 4-byte parameter-block fields).

Implemented: the console (SYS_WRITEC, SYS_WRITE0, SYS_WRITE and SYS_READ on the ``:tt``
handles, SYS_OPEN of ``:tt``, SYS_CLOSE, SYS_ISTTY, SYS_ISERROR, SYS_ERRNO), the command
line (SYS_GET_CMDLINE), SYS_HEAPINFO, time (SYS_CLOCK, SYS_TIME, SYS_ELAPSED,
SYS_TICKFREQ: a virtual clock of the instructions executed, so runs stay deterministic)
and exit (SYS_EXIT, SYS_EXIT_EXTENDED).  Host files are not offered: opening anything
but ``:tt`` fails with ENOENT.  Any other operation is a one-line guest error.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from core.cpu import CPUState, GuestFault
from core.errors import GuestError
from core.ir import M32

if TYPE_CHECKING:
    from .board import RiscvVirtBoard

SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_ISERROR = 0x08
SYS_ISTTY = 0x09
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_ERRNO = 0x13
SYS_GET_CMDLINE = 0x15
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
SYS_ELAPSED = 0x30
SYS_TICKFREQ = 0x31

ADP_STOPPED_APPLICATION_EXIT = 0x20026

#: the virtual clock: instructions per second (SYS_CLOCK, SYS_ELAPSED, SYS_TIME)
VIRTUAL_HZ = 100_000_000
#: handles of the console, as QEMU numbers them for ":tt" opened r / w / a
TT_STDIN, TT_STDOUT, TT_STDERR = 1, 2, 3

OP_NAMES = {v: k for k, v in globals().items() if k.startswith("SYS_")}


class Semihosting:
    """The semihosting calls of one board."""

    def __init__(self, board: "RiscvVirtBoard"):
        self.board = board
        self.errno = 0

    # ---- guest memory -------------------------------------------------------------------

    def _mem(self):
        return self.board.machine.memory

    def _word(self, addr: int) -> int:
        return int.from_bytes(self._mem().read_bytes(addr & M32, 4), "little")

    def _args(self, addr: int, n: int) -> list[int]:
        return [self._word(addr + 4 * i) for i in range(n)]

    def _cstring(self, addr: int, limit: int = 1 << 20) -> bytes:
        out = bytearray()
        mem = self._mem()
        while len(out) < limit:
            chunk = mem.read_bytes(addr + len(out), 1)
            if chunk == b"\0":
                return bytes(out)
            out += chunk
        raise GuestError(f"semihosting: no NUL within {limit} bytes of the string at {addr:#010x}")

    # ---- the call -----------------------------------------------------------------------

    def call(self, cpu: CPUState, op: int, arg: int) -> int | None:
        """Serve operation ``op`` with argument ``arg``; returns the new a0 (None: keep)."""
        try:
            return self._dispatch(cpu, op & M32, arg & M32)
        except GuestFault as fault:
            name = OP_NAMES.get(op, f"{op:#x}")
            raise GuestError(f"vCPU {cpu.index}: semihosting {name}: bad guest pointer "
                             f"({fault.message})") from None

    def _dispatch(self, cpu: CPUState, op: int, arg: int) -> int | None:
        board = self.board
        if op == SYS_WRITEC:
            board.console_write(self._mem().read_bytes(arg, 1))
            return None
        if op == SYS_WRITE0:
            board.console_write(self._cstring(arg))
            return None
        if op == SYS_WRITE:
            handle, buf, length = self._args(arg, 3)
            if handle not in (TT_STDOUT, TT_STDERR):
                self.errno = errno.EBADF
                return length  # nothing written
            board.console_write(self._mem().read_bytes(buf, length),
                                "stderr" if handle == TT_STDERR else "stdout")
            return 0
        if op == SYS_READ:
            handle, _buf, length = self._args(arg, 3)
            if handle != TT_STDIN:
                self.errno = errno.EBADF
                return -1 & M32
            return length  # end of file: nothing read
        if op == SYS_OPEN:
            name_ptr, mode, _length = self._args(arg, 3)
            if self._cstring(name_ptr) == b":tt":
                return TT_STDIN if mode < 4 else TT_STDOUT if mode < 8 else TT_STDERR
            self.errno = errno.ENOENT
            return -1 & M32
        if op == SYS_CLOSE:
            return 0
        if op == SYS_ISTTY:
            return 1 if self._word(arg) in (TT_STDIN, TT_STDOUT, TT_STDERR) else 0
        if op == SYS_ISERROR:
            return 1 if self._word(arg) & 0x8000_0000 else 0
        if op == SYS_ERRNO:
            return self.errno
        if op == SYS_GET_CMDLINE:
            buf, size = self._args(arg, 2)
            text = board.cmdline()
            if len(text) + 1 > size:
                return -1 & M32
            self._mem().write_bytes(buf, text + b"\0")
            self._mem().write_bytes(arg + 4, len(text).to_bytes(4, "little"))
            return 0
        if op == SYS_HEAPINFO:
            block = self._word(arg)
            heap_base, heap_limit = board.heap_region()
            ram = board.machine.ram
            stack_base = ram.base + ram.size
            self._mem().write_bytes(block, b"".join(
                v.to_bytes(4, "little") for v in (heap_base, heap_limit, stack_base, heap_limit)))
            return 0
        if op == SYS_CLOCK:
            return board.machine.insns * 100 // VIRTUAL_HZ
        if op == SYS_TIME:
            return board.machine.insns // VIRTUAL_HZ
        if op == SYS_ELAPSED:
            ticks = board.machine.insns
            self._mem().write_bytes(arg, ticks.to_bytes(8, "little"))
            return 0
        if op == SYS_TICKFREQ:
            return VIRTUAL_HZ
        if op == SYS_EXIT:
            status = 0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1
            board.machine.request_exit(status)
            return None
        if op == SYS_EXIT_EXTENDED:
            reason, subcode = self._args(arg, 2)
            status = subcode & 0xFF if reason == ADP_STOPPED_APPLICATION_EXIT else 1
            board.machine.request_exit(status)
            return None
        name = OP_NAMES.get(op, f"{op:#x}")
        raise GuestError(f"vCPU {cpu.index}: semihosting operation {name} is not supported "
                         f"by the riscv32 board, pc={board.frontend.get_pc(cpu):#010x}")
