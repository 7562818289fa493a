"""ARM semihosting (the "Angel" calls) for the ``virt`` platform, after QEMU's
``semihosting/arm-compat-semi.c``.

A guest asks the host for a service with ``svc 0x123456`` (ARM state) or ``hlt 0xf000``;
the frontend turns either into ``CpuLoopExit(ArmExcp.SEMIHOST)`` with the pc already past
the instruction.  The AArch32 convention: the operation number in r0, the address of a
parameter block (or, for a few calls, the parameter itself) in r1, the result in r0.

What differs from QEMU, on purpose:

* **Determinism.**  Time comes from guest instructions, not the host clock:
  ``SYS_CLOCK``, ``SYS_TIME``, ``SYS_ELAPSED`` and ``SYS_TICKFREQ`` all count the
  instructions every vCPU has retired before the current slice (``machine.insns``) at a
  nominal :data:`NOMINAL_HZ` (100 MIPS): a tick is one instruction, a centisecond
  one million, and ``SYS_TIME`` is seconds since the epoch 0 (1970-01-01) plus that
  elapsed time.  ``SYS_ISTTY`` says 1 for the console whatever the host's stdout is, and
  the console's input is empty unless the embedder sets ``platform.stdin``.
* **Confinement.**  Host files are reachable only under ``[plugins.arm] semihosting_root``
  (the guest's ``/``; absolute guest paths are taken relative to it); with no root, every
  host-file call fails with errno EPERM.  ``SYS_OPEN`` follows symlinks and ``..`` as long
  as the path they lead to is inside the root (a link from one file of the root to another
  is fine; one that leads out, or a ``..`` above the root, fails with EACCES), then opens
  that resolved path with O_NOFOLLOW, so a last component replaced by a symlink in the
  meantime fails (ELOOP) instead of escaping.  ``SYS_REMOVE`` and ``SYS_RENAME`` act on
  the name itself: only its parent directory is resolved (it must be inside the root), and
  a symlink is removed or renamed as the link, never its target.  ``SYS_SYSTEM`` and
  ``SYS_TMPNAM`` are always refused.
* **Console.**  ``SYS_WRITEC`` and ``SYS_WRITE0`` go to the platform's ``stdout`` (QEMU
  writes them to stderr); ``:tt`` opened for writing is stdout, for appending stderr,
  for reading stdin (QEMU's SH_EXT_STDOUT_STDERR rule).
* **Guest memory written by a call** (``SYS_READ``, ``SYS_GET_CMDLINE``,
  ``SYS_HEAPINFO``, ``SYS_ELAPSED``) is stored through the calling vCPU's softmmu, as the
  guest's own stores would be, so memory policies see it (a write into another vCPU's
  reservation breaks it) and translated code on the page is invalidated.
* **A bad guest pointer** is a one-line :class:`~core.errors.GuestError` naming the call
  and the address (QEMU returns -1 with EFAULT); so is an unknown operation (QEMU aborts).

Guest file handles count from 1 (QEMU's ``alloc_guestfd``); the semihosting errno is one
per machine (QEMU's system emulation keeps one global too).
"""

from __future__ import annotations

import errno as E
import json
import os
import struct
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable

from core.cpu import CPUState, GuestFault
from core.errors import ConfigError, GuestError
from core.ir import M32, MemOp
from core.softmmu import PAGE_MASK, PAGE_SIZE

if TYPE_CHECKING:
    from .platform import VirtPlatform

SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_READC = 0x07
SYS_ISERROR = 0x08
SYS_ISTTY = 0x09
SYS_SEEK = 0x0A
SYS_FLEN = 0x0C
SYS_TMPNAM = 0x0D
SYS_REMOVE = 0x0E
SYS_RENAME = 0x0F
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_SYSTEM = 0x12
SYS_ERRNO = 0x13
SYS_GET_CMDLINE = 0x15
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
SYS_ELAPSED = 0x30
SYS_TICKFREQ = 0x31

NAMES = {v: k for k, v in globals().items() if k.startswith("SYS_")}

ADP_Stopped_ApplicationExit = 0x20026

#: Nominal guest speed: one "tick" per instruction, 100 MIPS (see the module docstring).
NOMINAL_HZ = 100_000_000

#: What ``:semihosting-features`` holds: the magic and feature byte 0
#: (bit 0 SH_EXT_EXIT_EXTENDED, bit 1 SH_EXT_STDOUT_STDERR), as QEMU.
FEATURES = b"SHFB\x03"

# SYS_OPEN modes 0..11 (ISO C fopen "r", "rb", "r+", "r+b", "w", "wb", "w+", "w+b",
# "a", "ab", "a+", "a+b") as host open(2) flags, as QEMU's gdb_open_modeflags.
_O = os.O_CREAT
OPEN_FLAGS = (
    os.O_RDONLY, os.O_RDONLY, os.O_RDWR, os.O_RDWR,
    os.O_WRONLY | _O | os.O_TRUNC, os.O_WRONLY | _O | os.O_TRUNC,
    os.O_RDWR | _O | os.O_TRUNC, os.O_RDWR | _O | os.O_TRUNC,
    os.O_WRONLY | _O | os.O_APPEND, os.O_WRONLY | _O | os.O_APPEND,
    os.O_RDWR | _O | os.O_APPEND, os.O_RDWR | _O | os.O_APPEND,
)

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

MAX_PATH = 4096  # longest guest file name accepted (ENAMETOOLONG beyond)


class SemihostingError(OSError):
    """A call failed: the guest sees -1 (or the call's own failure value) and this errno."""


def _fail(code: int) -> SemihostingError:
    return SemihostingError(code, os.strerror(code))


# --------------------------------------------------------------------------- guest handles


class _Handle:
    """An open guest file handle.  Each operation returns bytes/ints or raises OSError."""

    is_tty = False

    def read(self, n: int) -> bytes:
        raise _fail(E.EBADF)

    def write(self, data: bytes) -> int:
        raise _fail(E.EBADF)

    def seek(self, pos: int) -> None:
        raise _fail(E.ESPIPE)

    def length(self) -> int:
        return 0

    def close(self) -> None:
        pass


class _ConsoleIn(_Handle):
    """``:tt`` opened for reading: the platform's ``stdin`` (none: always end of file)."""

    is_tty = True

    def __init__(self, platform: "VirtPlatform"):
        self.platform = platform

    def read(self, n: int) -> bytes:
        stream = self.platform.stdin
        if stream is None or n <= 0:
            return b""
        return getattr(stream, "read1", stream.read)(n) or b""


class _ConsoleOut(_Handle):
    """``:tt`` opened for writing (``"stdout"``) or appending (``"stderr"``)."""

    is_tty = True

    def __init__(self, platform: "VirtPlatform", which: str):
        self.platform = platform
        self.which = which

    def write(self, data: bytes) -> int:
        self.platform.console_write(data, self.which)
        return len(data)


class _StaticFile(_Handle):
    """A read-only in-memory file (``:semihosting-features``)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + max(n, 0)]
        self.pos += len(chunk)
        return chunk

    def seek(self, pos: int) -> None:
        if pos > len(self.data):
            raise _fail(E.EINVAL)
        self.pos = pos

    def length(self) -> int:
        return len(self.data)


class _HostFile(_Handle):
    """A host file under the semihosting root, as a host file descriptor."""

    def __init__(self, fd: int, path: Path):
        self.fd = fd
        self.path = path

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = os.read(self.fd, n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def write(self, data: bytes) -> int:
        done = 0
        view = memoryview(data)
        while done < len(data):
            n = os.write(self.fd, view[done:])
            if n <= 0:
                break
            done += n
        return done

    def seek(self, pos: int) -> None:
        os.lseek(self.fd, pos, os.SEEK_SET)

    def length(self) -> int:
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        os.close(self.fd)


# --------------------------------------------------------------------------- the root


def _check_root(root: str, source: str) -> Path:
    """The resolved ``semihosting_root``, or a one-line ConfigError saying what is wrong."""
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{source}: [plugins.arm] semihosting_root = "
                           f"{json.dumps(str(root))}: {why}")
    try:
        path = Path(root).expanduser()
    except RuntimeError:  # "~nosuchuser", or no home directory
        raise bad(f"cannot expand {root.split('/', 1)[0]!r}: no such user or home "
                  "directory") from None
    try:
        if not path.exists():
            raise bad("does not exist")
        if not path.is_dir():
            raise bad("not a directory")
        return path.resolve(strict=True)
    except (OSError, RuntimeError, ValueError) as exc:  # ValueError: a NUL in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise bad(why.splitlines()[0] if why else type(exc).__name__) from None


# --------------------------------------------------------------------------- the calls


class Semihosting:
    """The semihosting calls of one machine: its open handles, errno and host-file root."""

    def __init__(self, platform: "VirtPlatform", root: str = "", source: str = "<config>"):
        self.platform = platform
        self.machine = platform.machine
        self.files: dict[int, _Handle] = {}
        self.errno = 0
        self.root: Path | None = _check_root(root, source) if root else None
        self._calls: dict[int, Callable[[CPUState, int], int | None]] = {
            SYS_OPEN: self.sys_open, SYS_CLOSE: self.sys_close, SYS_WRITEC: self.sys_writec,
            SYS_WRITE0: self.sys_write0, SYS_WRITE: self.sys_write, SYS_READ: self.sys_read,
            SYS_READC: self.sys_readc, SYS_ISERROR: self.sys_iserror, SYS_ISTTY: self.sys_istty,
            SYS_SEEK: self.sys_seek, SYS_FLEN: self.sys_flen, SYS_TMPNAM: self.sys_tmpnam,
            SYS_REMOVE: self.sys_remove, SYS_RENAME: self.sys_rename, SYS_CLOCK: self.sys_clock,
            SYS_TIME: self.sys_time, SYS_SYSTEM: self.sys_system, SYS_ERRNO: self.sys_errno,
            SYS_GET_CMDLINE: self.sys_get_cmdline, SYS_HEAPINFO: self.sys_heapinfo,
            SYS_EXIT: self.sys_exit, SYS_EXIT_EXTENDED: self.sys_exit_extended,
            SYS_ELAPSED: self.sys_elapsed, SYS_TICKFREQ: self.sys_tickfreq,
        }
        self._op = 0  # the call being served, for error messages

    # ---- dispatch -----------------------------------------------------------------------

    def call(self, cpu: CPUState, op: int, arg: int) -> int | None:
        """Serve operation ``op`` with parameter ``arg`` (r1); returns the new r0 (unsigned
        32-bit), or None when r0 is left alone (the machine is exiting)."""
        op &= M32
        fn = self._calls.get(op)
        if fn is None:
            raise GuestError(f"vCPU {cpu.index}: unsupported semihosting call {op:#04x} "
                             f"at pc={self.platform.insn_pc(cpu):#010x}")
        self._op = op
        result = fn(cpu, arg & M32)
        return None if result is None else result & M32

    def close_all(self) -> None:
        """Close every host file the guest left open (end of the run)."""
        for handle in self.files.values():
            try:
                handle.close()
            except OSError:
                pass
        self.files.clear()

    # ---- guest memory -------------------------------------------------------------------

    def _bad_address(self, cpu: CPUState, addr: int, size: int, what: str) -> GuestError:
        name = NAMES.get(self._op, f"call {self._op:#04x}")
        return GuestError(f"vCPU {cpu.index}: semihosting {name}: {what} at {addr:#010x} "
                          f"({size} byte{'s' if size != 1 else ''}) is outside RAM, "
                          f"pc={self.platform.insn_pc(cpu):#010x}")

    def read_mem(self, cpu: CPUState, addr: int, size: int, what: str = "buffer") -> bytes:
        if size == 0:
            return b""
        if addr + size > 1 << 32:
            raise self._bad_address(cpu, addr, size, what)
        try:
            return self.machine.memory.read_bytes(addr, size)
        except GuestFault:
            raise self._bad_address(cpu, addr, size, what) from None

    def read_word(self, cpu: CPUState, addr: int, what: str = "parameter block") -> int:
        return int.from_bytes(self.read_mem(cpu, addr, 4, what), "little")

    def read_block(self, cpu: CPUState, addr: int, n: int) -> list[int]:
        """The ``n`` 32-bit words of a parameter block."""
        return list(struct.unpack(f"<{n}I", self.read_mem(cpu, addr, 4 * n, "parameter block")))

    def read_cstring(self, cpu: CPUState, addr: int, what: str = "string") -> bytes:
        """A NUL-terminated string (without the NUL), read page by page."""
        out = bytearray()
        while True:
            chunk_len = PAGE_SIZE - (addr & (PAGE_SIZE - 1))
            if addr + chunk_len > 1 << 32:
                raise self._bad_address(cpu, addr, 1, what)
            try:
                chunk = self.machine.memory.read_bytes(addr, chunk_len)
            except GuestFault:
                raise self._bad_address(cpu, addr, 1, f"{what} (no NUL before the end of RAM)"
                                        if out else what) from None
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += chunk_len

    def check_ram(self, cpu: CPUState, addr: int, size: int, what: str = "buffer") -> None:
        """Raise the call's one-line GuestError unless ``addr .. addr+size`` is all RAM."""
        ram = self.machine.memory.ram_list
        if size and (addr + size > 1 << 32 or any(
                ram.find(a) is None
                for a in (*range(addr & PAGE_MASK, addr + size, PAGE_SIZE), addr + size - 1))):
            raise self._bad_address(cpu, addr, size, what)

    def write_mem(self, cpu: CPUState, addr: int, data: bytes, what: str = "buffer") -> None:
        """Store ``data`` as the calling vCPU would (through its softmmu), all or nothing."""
        size = len(data)
        if size == 0:
            return
        self.check_ram(cpu, addr, size, what)
        store = cpu.mmu.store
        i = 0
        try:
            while i < size:
                a = addr + i
                if a & 3 == 0 and size - i >= 4:
                    store(a, int.from_bytes(data[i:i + 4], "little"), MemOp.UL)
                    i += 4
                else:
                    store(a, data[i], MemOp.UB)
                    i += 1
        except GuestFault:  # MMIO in the range refusing the access: report it the same way
            raise self._bad_address(cpu, addr, size, what) from None

    def write_words(self, cpu: CPUState, addr: int, *words: int,
                    what: str = "parameter block") -> None:
        self.write_mem(cpu, addr, struct.pack(f"<{len(words)}I", *(w & M32 for w in words)), what)

    # ---- helpers ------------------------------------------------------------------------

    def _set_errno(self, code: int) -> int:
        self.errno = code
        return -1

    def _handle(self, fd: int) -> _Handle:
        handle = self.files.get(fd)
        if handle is None:
            raise _fail(E.EBADF)
        return handle

    def _alloc(self, handle: _Handle) -> int:
        fd = 1
        while fd in self.files:
            fd += 1
        self.files[fd] = handle
        return fd

    def _resolve(self, rel: str | PurePosixPath) -> Path:
        """``root / rel`` with every symlink and '..' followed; EACCES unless the result
        is the root or inside it, ELOOP on a symlink loop."""
        try:
            path = (self.root / rel).resolve()
        except RuntimeError:  # Python < 3.13: a symlink loop
            raise _fail(E.ELOOP) from None
        if path != self.root and self.root not in path.parents:
            raise _fail(E.EACCES)
        return path

    def _rel(self, name: bytes) -> str:
        """Guest file ``name`` relative to the root (EPERM: no root; ENOENT: empty;
        EINVAL: a NUL inside)."""
        if self.root is None:
            raise _fail(E.EPERM)
        if not name or b"\0" in name:
            raise _fail(E.EINVAL if b"\0" in name else E.ENOENT)
        return os.fsdecode(name).lstrip("/")

    def host_path(self, name: bytes) -> Path:
        """The host path of guest file ``name``, fully resolved, for SYS_OPEN (see
        :meth:`_resolve`).  Open it with O_NOFOLLOW: its last component was no symlink
        when resolved, so if it is one now the open fails instead of escaping."""
        return self._resolve(self._rel(name))

    def host_entry(self, name: bytes) -> Path:
        """The host path of the directory entry ``name``, for SYS_REMOVE and SYS_RENAME:
        only the parent directory is resolved (it must be inside the root: EACCES), the
        last component is not followed, so a symlink is removed or renamed itself and
        its target is untouched.  The root itself is EACCES."""
        rel = PurePosixPath(self._rel(name))
        if rel.name in ("", ".."):  # the root itself, or "dir/..": a directory, resolved
            path = self._resolve(rel)
        else:
            path = self._resolve(rel.parent) / rel.name
        if path == self.root:
            raise _fail(E.EACCES)
        return path

    def _guest_name(self, cpu: CPUState, addr: int, length: int) -> bytes:
        if length > MAX_PATH:
            raise _fail(E.ENAMETOOLONG)
        name = self.read_mem(cpu, addr, length, "file name")
        nul = name.find(b"\0")
        return name if nul < 0 else name[:nul]

    # ---- the calls (each returns r0, signed or unsigned, or None) ------------------------

    def sys_open(self, cpu: CPUState, arg: int) -> int:
        name_addr, mode, length = self.read_block(cpu, arg, 3)
        try:
            name = self._guest_name(cpu, name_addr, length)
            if mode >= len(OPEN_FLAGS):
                raise _fail(E.EINVAL)
            if name == b":tt":
                if mode < 4:
                    return self._alloc(_ConsoleIn(self.platform))
                return self._alloc(_ConsoleOut(self.platform, "stdout" if mode < 8 else "stderr"))
            if name == b":semihosting-features":
                if mode not in (0, 1):  # only "r" / "rb", as QEMU
                    raise _fail(E.EACCES)
                return self._alloc(_StaticFile(FEATURES))
            path = self.host_path(name)
            fd = os.open(path, OPEN_FLAGS[mode] | _O_CLOEXEC | _O_NOFOLLOW, 0o644)
            return self._alloc(_HostFile(fd, path))
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def sys_close(self, cpu: CPUState, arg: int) -> int:
        fd = self.read_word(cpu, arg)
        try:
            handle = self._handle(fd)
            del self.files[fd]
            handle.close()
            return 0
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def _console(self, data: bytes) -> int:
        """SYS_WRITEC/SYS_WRITE0: no result to fail with; a host error only sets errno."""
        try:
            self.platform.console_write(data, "stdout")
        except OSError as exc:
            self.errno = exc.errno or E.EIO
        return 0xDEADBEEF  # no defined result (QEMU's common_semi_dead_cb)

    def sys_writec(self, cpu: CPUState, arg: int) -> int:
        return self._console(self.read_mem(cpu, arg, 1, "character"))

    def sys_write0(self, cpu: CPUState, arg: int) -> int:
        return self._console(self.read_cstring(cpu, arg))

    def sys_write(self, cpu: CPUState, arg: int) -> int:
        """Returns the number of bytes NOT written (0 = all)."""
        fd, buf, length = self.read_block(cpu, arg, 3)
        try:
            handle = self._handle(fd)
            data = self.read_mem(cpu, buf, length)
            return length - handle.write(data)
        except OSError as exc:
            self._set_errno(exc.errno or E.EIO)
            return length

    def sys_read(self, cpu: CPUState, arg: int) -> int:
        """Returns the number of bytes NOT read (``length`` = end of file)."""
        fd, buf, length = self.read_block(cpu, arg, 3)
        try:
            handle = self._handle(fd)
            self.check_ram(cpu, buf, length)  # before consuming any input
            data = handle.read(length)
        except OSError as exc:
            self._set_errno(exc.errno or E.EIO)
            return length
        self.write_mem(cpu, buf, data)
        return length - len(data)

    def sys_readc(self, cpu: CPUState, arg: int) -> int:
        data = _ConsoleIn(self.platform).read(1)
        return data[0] if data else -1

    def sys_iserror(self, cpu: CPUState, arg: int) -> int:
        status = self.read_word(cpu, arg)
        return int(status & 0x8000_0000 != 0)

    def sys_istty(self, cpu: CPUState, arg: int) -> int:
        fd = self.read_word(cpu, arg)
        try:
            handle = self._handle(fd)
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)
        if handle.is_tty:
            return 1
        self.errno = E.ENOTTY
        return 0

    def sys_seek(self, cpu: CPUState, arg: int) -> int:
        fd, pos = self.read_block(cpu, arg, 2)
        try:
            self._handle(fd).seek(pos)
            return 0
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def sys_flen(self, cpu: CPUState, arg: int) -> int:
        fd = self.read_word(cpu, arg)
        try:
            return self._handle(fd).length()
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def sys_tmpnam(self, cpu: CPUState, arg: int) -> int:
        self.read_block(cpu, arg, 3)
        return self._set_errno(E.EPERM)

    def sys_remove(self, cpu: CPUState, arg: int) -> int:
        name_addr, length = self.read_block(cpu, arg, 2)
        try:
            os.unlink(self.host_entry(self._guest_name(cpu, name_addr, length)))
            return 0
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def sys_rename(self, cpu: CPUState, arg: int) -> int:
        old_addr, old_len, new_addr, new_len = self.read_block(cpu, arg, 4)
        try:
            old = self.host_entry(self._guest_name(cpu, old_addr, old_len))
            new = self.host_entry(self._guest_name(cpu, new_addr, new_len))
            os.rename(old, new)
            return 0
        except OSError as exc:
            return self._set_errno(exc.errno or E.EIO)

    def ticks(self) -> int:
        """Deterministic time: instructions retired by every vCPU before this slice."""
        return self.machine.insns

    def sys_clock(self, cpu: CPUState, arg: int) -> int:
        return self.ticks() // (NOMINAL_HZ // 100)  # centiseconds

    def sys_time(self, cpu: CPUState, arg: int) -> int:
        return self.ticks() // NOMINAL_HZ  # seconds since 1970-01-01 (the run starts at 0)

    def sys_system(self, cpu: CPUState, arg: int) -> int:
        self.read_block(cpu, arg, 2)
        return self._set_errno(E.EPERM)

    def sys_errno(self, cpu: CPUState, arg: int) -> int:
        return self.errno

    def sys_get_cmdline(self, cpu: CPUState, arg: int) -> int:
        buf, size = self.read_block(cpu, arg, 2)
        cmdline = self.platform.cmdline()
        if len(cmdline) + 1 > size:
            return self._set_errno(E.E2BIG)
        self.write_words(cpu, arg + 4, len(cmdline))
        self.write_mem(cpu, buf, cmdline + b"\0", "command-line buffer")
        return 0

    def sys_heapinfo(self, cpu: CPUState, arg: int) -> int:
        block = self.read_word(cpu, arg)
        heap_base, heap_limit = self.platform.heap_region()
        # QEMU (system emulation): the stack grows down from the heap's limit towards its base
        self.write_words(cpu, block, heap_base, heap_limit, heap_limit, heap_base,
                         what="heap-info block")
        return 0

    def sys_exit(self, cpu: CPUState, arg: int) -> None:
        # A32: r1 is the reason itself; only ApplicationExit is a success (QEMU's rule)
        self.platform.machine.request_exit(0 if arg == ADP_Stopped_ApplicationExit else 1)
        return None

    def sys_exit_extended(self, cpu: CPUState, arg: int) -> None:
        reason, subcode = self.read_block(cpu, arg, 2)
        status = (subcode - (1 << 32) if subcode & 0x8000_0000 else subcode) \
            if reason == ADP_Stopped_ApplicationExit else 1
        self.platform.machine.request_exit(status)
        return None

    def sys_elapsed(self, cpu: CPUState, arg: int) -> int:
        ticks = self.ticks()
        self.write_words(cpu, arg, ticks & M32, (ticks >> 32) & M32)
        return 0

    def sys_tickfreq(self, cpu: CPUState, arg: int) -> int:
        return NOMINAL_HZ

