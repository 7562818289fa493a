"""The ``virt`` board (plugins/arm/platform.py) on fake registers, and semihosting calls.

:class:`Board` is a toy machine whose platform is a :class:`VirtPlatform` over
:class:`FakeRegs` (the ARM frontend's register adapter over plain lists), booted, with
vCPU 0 just past a trapping instruction at 0x40000100.  Parameter blocks, strings and
buffers of semihosting calls are written into its RAM at :data:`BLK`, :data:`STR`,
:data:`BUF`; a call is ``board.semihost(op, r1)`` (r0 comes back signed).
"""

from __future__ import annotations

import struct

from core.cpu import CpuLoopExit, CPURunState
from plugins.arm.cpu import ArmExcp
from core.loader import LoadedImage
from core.machine import Machine
from plugins.arm.platform import VIRT_RAM_BASE as RAM_BASE
from plugins.arm.platform import ArmPlatformOptions, VirtPlatform
from plugins.arm.semihosting import SYS_ERRNO, SYS_OPEN, SYS_READ, SYS_WRITE
from tests.support.toy import DATA, toy_machine

M32 = 0xFFFF_FFFF
BLK = DATA  # parameter blocks
STR = DATA + 0x100  # strings
STR2 = DATA + 0x180
BUF = DATA + 0x200  # buffers


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


class FakeRegs:
    """The register adapter of the ARM frontend, over plain lists (one per vCPU)."""

    def __init__(self, machine: Machine):
        self.r = {cpu.index: [0] * 16 for cpu in machine.cpus}
        self.cpsr = {cpu.index: 0x1D3 for cpu in machine.cpus}
        self.started: list[tuple[int, int, int]] = []

    def get_reg(self, cpu, n):
        return self.r[cpu.index][n]

    def set_reg(self, cpu, n, value):
        self.r[cpu.index][n] = value & M32

    def cpsr_read(self, cpu):
        return self.cpsr[cpu.index]

    def cpsr_write(self, cpu, value, mask):
        self.cpsr[cpu.index] = (self.cpsr[cpu.index] & ~mask) | (value & mask)

    def start_cpu(self, cpu, entry, r0):
        """A reset, as the frontend's: it also clears the vCPU's exclusive monitor."""
        cpu.machine.policy.clrex(cpu)
        self.r[cpu.index] = [0] * 16
        self.r[cpu.index][15] = entry
        self.r[cpu.index][0] = r0
        self.cpsr[cpu.index] = 0x1D3
        cpu.run_state = CPURunState.RUNNING
        self.started.append((cpu.index, entry, r0))


class Board:
    """A toy machine with a :class:`VirtPlatform` on :class:`FakeRegs`, booted."""

    def __init__(self, vcpus: int = 4, root: str = "", argv=("prog.elf",),
                 segments=((RAM_BASE, 0x100, 0x2000),)):
        self.m = toy_machine([("HALT",)], vcpus=vcpus)
        self.regs = FakeRegs(self.m)
        self.p = VirtPlatform(self.m, regs=self.regs,
                              options=ArmPlatformOptions(semihosting_root=root))
        self.out: list[tuple[str, bytes]] = []
        self.p.stdout = _Capture(self.out, "stdout")
        self.p.stderr = _Capture(self.out, "stderr")
        self.m.platform = self.p
        self.image = LoadedImage("prog.elf", RAM_BASE + 0x40, tuple(segments), {})
        self.p.boot(self.image, list(argv))
        self.cpu = self.m.cpus[0]
        self.regs.r[0][15] = RAM_BASE + 0x104  # the trapping insn was at 0x40000100

    def reg(self, n: int, cpu: int = 0) -> int:
        return self.regs.r[cpu][n]

    def hvc(self, fn: int, *args: int, cpu: int = 0) -> int:
        c = self.m.cpus[cpu]
        self.regs.r[cpu][0] = fn & M32
        for i, a in enumerate(args, 1):
            self.regs.r[cpu][i] = a & M32
        assert self.p.handle_exception(c, CpuLoopExit(ArmExcp.HVC, info=0))
        return _signed(self.regs.r[cpu][0])

    def semihost(self, op: int, arg: int = 0, cpu: int = 0) -> int:
        """One call; returns r0 as a signed 32-bit number."""
        c = self.m.cpus[cpu]
        self.regs.r[cpu][0] = op
        self.regs.r[cpu][1] = arg & M32
        assert self.p.handle_exception(c, CpuLoopExit(ArmExcp.SEMIHOST))
        return _signed(self.regs.r[cpu][0])

    def output(self, which: str = "stdout") -> bytes:
        return b"".join(d for w, d in self.out if w == which)


class _Capture:
    def __init__(self, sink: list, which: str):
        self.sink, self.which, self.flushes = sink, which, 0

    def write(self, data: bytes) -> int:
        self.sink.append((self.which, bytes(data)))
        return len(data)

    def flush(self) -> None:
        self.flushes += 1


def _signed(v: int) -> int:
    return v - (1 << 32) if v & 0x8000_0000 else v


def put(b: Board, addr: int, *words: int) -> None:
    b.m.memory.write_bytes(addr, struct.pack(f"<{len(words)}I", *(w & 0xFFFF_FFFF for w in words)))


def get(b: Board, addr: int, n: int = 1) -> list[int]:
    return list(struct.unpack(f"<{n}I", b.m.memory.read_bytes(addr, 4 * n)))


def sys_open(b: Board, name: bytes, mode: int) -> int:
    b.m.memory.write_bytes(STR, name + b"\0")
    put(b, BLK, STR, mode, len(name))
    return b.semihost(SYS_OPEN, BLK)


def sys_write(b: Board, fd: int, data: bytes) -> int:
    b.m.memory.write_bytes(BUF, data)
    put(b, BLK, fd, BUF, len(data))
    return b.semihost(SYS_WRITE, BLK)


def sys_read(b: Board, fd: int, n: int) -> tuple[int, bytes]:
    b.m.memory.write_bytes(BUF, b"\xAA" * n)
    put(b, BLK, fd, BUF, n)
    left = b.semihost(SYS_READ, BLK)
    return left, b.m.memory.read_bytes(BUF, n - left) if 0 <= left <= n else b""


def call1(b: Board, op: int, word: int) -> int:
    put(b, BLK, word)
    return b.semihost(op, BLK)


def errno_of(b: Board) -> int:
    return b.semihost(SYS_ERRNO)
