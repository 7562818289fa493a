"""Every semihosting call of plugins/arm/semihosting.py, on a toy machine with fake registers.

Parameter blocks, strings and buffers are written into the toy machine's RAM; a call is
``board.semihost(op, r1)`` (r0 comes back signed).  See tests/support/virt_board.py for
:class:`Board`.
"""

from __future__ import annotations

import errno
import io
import os

import pytest

from core.cpu import CpuLoopExit
from core.errors import GuestError
from core.ir import MemOp
from plugins.arm.platform import VIRT_RAM_BASE as RAM_BASE
from core.softmmu import PAGE_SIZE
from plugins.arm import semihosting as sh
from plugins.arm.cpu import ArmExcp
from plugins.arm.semihosting import (FEATURES, NOMINAL_HZ, SYS_CLOCK, SYS_CLOSE, SYS_ELAPSED,
                                     SYS_EXIT, SYS_EXIT_EXTENDED, SYS_FLEN,
                                     SYS_GET_CMDLINE, SYS_HEAPINFO, SYS_ISERROR, SYS_ISTTY,
                                     SYS_OPEN, SYS_READ, SYS_READC, SYS_REMOVE, SYS_RENAME,
                                     SYS_SEEK, SYS_SYSTEM, SYS_TICKFREQ, SYS_TIME, SYS_TMPNAM,
                                     SYS_WRITE, SYS_WRITE0, SYS_WRITEC)
from tests.support.toy import DATA
from tests.support.virt_board import (BLK, BUF, STR, STR2, Board, call1, errno_of, get, one_line,
                                      put, sys_open, sys_read, sys_write)

RAM_END = RAM_BASE + (1 << 20)
PC = RAM_BASE + 0x100  # the trapping instruction (Board leaves pc = PC + 4)


@pytest.fixture
def b():
    return Board(argv=["prog.elf", "4", "1000"])


@pytest.fixture
def rooted(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.txt").write_bytes(b"0123456789")
    board = Board(root=str(root))
    board.root = root
    yield board
    board.p.close()


# --------------------------------------------------------------------------- console


def test_writec_writes_one_byte_to_stdout_and_flushes(b):
    b.m.memory.write_bytes(STR, b"A")
    b.semihost(SYS_WRITEC, STR)
    assert b.output() == b"A" and b.output("stderr") == b""
    assert b.p.stdout.flushes == 1


def test_write0_writes_a_string_across_pages(b):
    addr = DATA + PAGE_SIZE - 3
    b.m.memory.write_bytes(addr, b"hello, world\0junk")
    b.semihost(SYS_WRITE0, addr)
    assert b.output() == b"hello, world"


def test_write0_of_an_unterminated_string_at_the_end_of_ram_is_one_line(b):
    b.m.memory.write_bytes(RAM_END - 4, b"abcd")
    with pytest.raises(GuestError) as err:
        b.semihost(SYS_WRITE0, RAM_END - 4)
    assert "SYS_WRITE0" in one_line(err.value) and "no NUL" in str(err.value)


@pytest.mark.parametrize("op, name", [(SYS_WRITE0, "SYS_WRITE0"), (SYS_WRITEC, "SYS_WRITEC"),
                                      (SYS_WRITE, "SYS_WRITE"), (SYS_OPEN, "SYS_OPEN"),
                                      (SYS_GET_CMDLINE, "SYS_GET_CMDLINE")])
def test_a_bad_guest_pointer_is_one_line_naming_the_call_and_address(b, op, name):
    with pytest.raises(GuestError) as err:
        b.semihost(op, 0x1000)
    text = one_line(err.value)
    assert text.startswith(f"vCPU 0: semihosting {name}: ")
    assert "0x00001000" in text and text.endswith(f"pc={PC:#010x}")


def test_tt_opens_stdin_stdout_stderr_by_mode_from_handle_1(b):
    assert [sys_open(b, b":tt", mode) for mode in (0, 4, 8)] == [1, 2, 3]
    assert sys_write(b, 2, b"out") == 0
    assert sys_write(b, 3, b"err") == 0
    assert b.output() == b"out" and b.output("stderr") == b"err"
    assert sys_open(b, b":tt", 5) == 4 and sys_open(b, b":tt", 11) == 5
    sys_write(b, 4, b"+")
    sys_write(b, 5, b"!")
    assert b.output() == b"out+" and b.output("stderr") == b"err!"


def test_writing_to_stdin_or_a_bad_handle_writes_nothing(b):
    fd = sys_open(b, b":tt", 0)
    assert sys_write(b, fd, b"abc") == 3
    assert errno_of(b) == errno.EBADF
    assert sys_write(b, 99, b"abcd") == 4
    assert b.output() == b""


def test_open_mode_out_of_range_is_einval(b):
    assert sys_open(b, b":tt", 12) == -1
    assert errno_of(b) == errno.EINVAL


def test_close_frees_the_lowest_handle(b):
    assert [sys_open(b, b":tt", m) for m in (0, 4, 8)] == [1, 2, 3]
    assert call1(b, SYS_CLOSE, 2) == 0
    assert call1(b, SYS_CLOSE, 2) == -1 and errno_of(b) == errno.EBADF
    assert sys_open(b, b":tt", 4) == 2


def test_readc_and_read_from_the_console(b):
    assert b.semihost(SYS_READC) == -1  # no stdin: end of file
    fd = sys_open(b, b":tt", 0)
    assert sys_read(b, fd, 4) == (4, b"")
    b.p.stdin = io.BytesIO(b"xyz")
    assert b.semihost(SYS_READC) == ord("x")
    assert sys_read(b, fd, 4) == (2, b"yz")
    assert b.semihost(SYS_READC) == -1


def test_istty(b):
    assert call1(b, SYS_ISTTY, sys_open(b, b":tt", 4)) == 1
    assert call1(b, SYS_ISTTY, sys_open(b, b":semihosting-features", 0)) == 0
    assert call1(b, SYS_ISTTY, 42) == -1 and errno_of(b) == errno.EBADF


def test_console_flen_is_0_and_seek_fails(b):
    fd = sys_open(b, b":tt", 4)
    assert call1(b, SYS_FLEN, fd) == 0
    put(b, BLK, fd, 0)
    assert b.semihost(SYS_SEEK, BLK) == -1 and errno_of(b) == errno.ESPIPE


# --------------------------------------------------------------------------- features file


def test_semihosting_features_file(b):
    """What newlib does: open, FLEN, READ the magic, SEEK to the feature byte, READ, CLOSE."""
    fd = sys_open(b, b":semihosting-features", 0)
    assert fd == 1
    assert call1(b, SYS_FLEN, fd) == 5
    assert sys_read(b, fd, 4) == (0, b"SHFB")
    put(b, BLK, fd, 4)
    assert b.semihost(SYS_SEEK, BLK) == 0
    assert sys_read(b, fd, 1) == (0, b"\x03")
    assert sys_read(b, fd, 8) == (8, b"")  # end of file
    put(b, BLK, fd, 0)
    b.semihost(SYS_SEEK, BLK)
    assert sys_read(b, fd, 8) == (3, FEATURES)
    put(b, BLK, fd, 6)
    assert b.semihost(SYS_SEEK, BLK) == -1 and errno_of(b) == errno.EINVAL
    assert sys_write(b, fd, b"x") == 1  # read-only
    assert call1(b, SYS_CLOSE, fd) == 0


def test_semihosting_features_only_opens_for_reading(b):
    assert sys_open(b, b":semihosting-features", 1) == 1
    for mode in (2, 4, 8):
        assert sys_open(b, b":semihosting-features", mode) == -1
        assert errno_of(b) == errno.EACCES


# --------------------------------------------------------------------------- host files


def test_host_files_are_refused_without_a_root(b):
    assert sys_open(b, b"/etc/passwd", 0) == -1
    assert errno_of(b) == errno.EPERM
    b.m.memory.write_bytes(STR, b"x\0")
    put(b, BLK, STR, 1)
    assert b.semihost(SYS_REMOVE, BLK) == -1 and errno_of(b) == errno.EPERM


def test_read_a_file_under_the_root(rooted):
    b = rooted
    fd = sys_open(b, b"in.txt", 0)
    assert fd == 1
    assert call1(b, SYS_FLEN, fd) == 10
    assert call1(b, SYS_ISTTY, fd) == 0
    assert sys_read(b, fd, 4) == (0, b"0123")
    put(b, BLK, fd, 8)
    assert b.semihost(SYS_SEEK, BLK) == 0
    assert sys_read(b, fd, 4) == (2, b"89")
    assert sys_read(b, fd, 4) == (4, b"")
    assert call1(b, SYS_CLOSE, fd) == 0


def test_absolute_guest_paths_are_relative_to_the_root(rooted):
    assert sys_open(rooted, b"/in.txt", 0) == 1
    assert sys_read(rooted, 1, 3) == (0, b"012")


def test_write_and_append_create_files_under_the_root(rooted):
    b = rooted
    fd = sys_open(b, b"out.txt", 4)
    assert sys_write(b, fd, b"abc") == 0
    assert call1(b, SYS_CLOSE, fd) == 0
    fd = sys_open(b, b"out.txt", 8)
    assert sys_write(b, fd, b"def") == 0
    call1(b, SYS_CLOSE, fd)
    assert (b.root / "out.txt").read_bytes() == b"abcdef"
    assert sys_open(b, b"missing.txt", 0) == -1 and errno_of(b) == errno.ENOENT


@pytest.mark.parametrize("name", [b"../secret", b"a/../../secret", b"/../secret", b"..",
                                  b"sub/../../root2/x"])
def test_dotdot_cannot_escape_the_root(rooted, name):
    (rooted.root.parent / "secret").write_bytes(b"s")
    (rooted.root / "sub").mkdir(exist_ok=True)
    assert sys_open(rooted, name, 0) == -1
    assert errno_of(rooted) == errno.EACCES
    assert sys_open(rooted, name, 4) == -1
    assert (rooted.root.parent / "secret").read_bytes() == b"s"


def test_symlinks_cannot_escape_the_root(rooted):
    outside = rooted.root.parent / "outside"
    outside.mkdir()
    (outside / "f").write_bytes(b"secret")
    os.symlink(outside, rooted.root / "link")
    os.symlink(outside / "f", rooted.root / "flink")
    os.symlink("in.txt", rooted.root / "inside")
    for name in (b"link/f", b"flink"):
        assert sys_open(rooted, name, 0) == -1 and errno_of(rooted) == errno.EACCES, name
    assert sys_open(rooted, b"link/new", 4) == -1
    assert not (outside / "new").exists()
    assert sys_open(rooted, b"inside", 0) == 1  # a link that stays inside is fine
    assert sys_read(rooted, 1, 2) == (0, b"01")


def test_remove_inside_the_root_only(rooted):
    b = rooted
    (b.root.parent / "keep").write_bytes(b"k")

    def remove(name: bytes) -> int:
        b.m.memory.write_bytes(STR, name + b"\0")
        put(b, BLK, STR, len(name))
        return b.semihost(SYS_REMOVE, BLK)

    assert remove(b"in.txt") == 0 and not (b.root / "in.txt").exists()
    assert remove(b"in.txt") == -1 and errno_of(b) == errno.ENOENT
    assert remove(b"../keep") == -1 and errno_of(b) == errno.EACCES
    assert remove(b"/") == -1 and errno_of(b) == errno.EACCES
    assert (b.root.parent / "keep").exists() and b.root.is_dir()


def test_rename_inside_the_root_only(rooted):
    b = rooted

    def rename(old: bytes, new: bytes) -> int:
        b.m.memory.write_bytes(STR, old + b"\0")
        b.m.memory.write_bytes(STR2, new + b"\0")
        put(b, BLK, STR, len(old), STR2, len(new))
        return b.semihost(SYS_RENAME, BLK)

    assert rename(b"in.txt", b"moved.txt") == 0
    assert (b.root / "moved.txt").read_bytes() == b"0123456789"
    assert rename(b"moved.txt", b"../stolen") == -1 and errno_of(b) == errno.EACCES
    assert rename(b"../root", b"x") == -1 and errno_of(b) == errno.EACCES
    assert not (b.root.parent / "stolen").exists()


def test_file_names_use_the_given_length(rooted):
    rooted.m.memory.write_bytes(STR, b"in.txtGARBAGE")
    put(rooted, BLK, STR, 0, 6)
    assert rooted.semihost(SYS_OPEN, BLK) == 1
    put(rooted, BLK, STR, 0, 5000)
    assert rooted.semihost(SYS_OPEN, BLK) == -1 and errno_of(rooted) == errno.ENAMETOOLONG


def test_close_all_closes_host_files(rooted):
    fd = sys_open(rooted, b"in.txt", 0)
    host_fd = rooted.p.semihosting.files[fd].fd
    rooted.p.close()
    assert rooted.p.semihosting.files == {}
    with pytest.raises(OSError):
        os.fstat(host_fd)


def test_tmpnam_and_system_are_refused(b):
    put(b, BLK, BUF, 1, 64)
    assert b.semihost(SYS_TMPNAM, BLK) == -1
    b.m.memory.write_bytes(STR, b"rm -rf /\0")
    put(b, BLK, STR, 8)
    assert b.semihost(SYS_SYSTEM, BLK) == -1 and errno_of(b) == errno.EPERM


# --------------------------------------------------------------------------- misc


def test_iserror(b):
    assert call1(b, SYS_ISERROR, 0xFFFF_FFFF) == 1
    assert call1(b, SYS_ISERROR, 0x8000_0000) == 1
    assert call1(b, SYS_ISERROR, 0) == 0
    assert call1(b, SYS_ISERROR, 5) == 0


def test_errno_is_kept_until_the_next_failure(b):
    assert errno_of(b) == 0
    sys_open(b, b":tt", 99)
    assert errno_of(b) == errno.EINVAL
    sys_open(b, b":tt", 4)  # success leaves it alone (QEMU)
    assert errno_of(b) == errno.EINVAL


def test_time_is_deterministic_from_instructions(b, monkeypatch):
    import time

    monkeypatch.setattr(time, "time", lambda: pytest.fail("host time used"))
    monkeypatch.setattr(time, "monotonic", lambda: pytest.fail("host time used"))
    assert (b.semihost(SYS_CLOCK), b.semihost(SYS_TIME)) == (0, 0)
    b.m.insns = 123_456_789
    assert b.semihost(SYS_CLOCK) == 123  # centiseconds at 100 MIPS: 1M insns each
    assert b.semihost(SYS_TIME) == 1
    assert b.semihost(SYS_TICKFREQ) == NOMINAL_HZ == 100_000_000
    assert b.semihost(SYS_ELAPSED, BLK) == 0
    assert get(b, BLK, 2) == [123_456_789, 0]
    b.m.insns = (5 << 32) + 7
    b.semihost(SYS_ELAPSED, BLK)
    assert get(b, BLK, 2) == [7, 5]


def test_get_cmdline(b):
    put(b, BLK, BUF, 64)
    assert b.semihost(SYS_GET_CMDLINE, BLK) == 0
    assert get(b, BLK, 2) == [BUF, len("prog.elf 4 1000")]
    assert b.m.memory.read_bytes(BUF, 16) == b"prog.elf 4 1000\0"


def test_get_cmdline_needs_room_for_the_nul(b):
    b.m.memory.write_bytes(BUF, b"\xAA" * 16)
    put(b, BLK, BUF, 15)
    assert b.semihost(SYS_GET_CMDLINE, BLK) == -1 and errno_of(b) == errno.E2BIG
    assert get(b, BLK, 2) == [BUF, 15] and b.m.memory.read_bytes(BUF, 16) == b"\xAA" * 16
    put(b, BLK, BUF, 16)
    assert b.semihost(SYS_GET_CMDLINE, BLK) == 0


def test_heapinfo_mirrors_qemu(b):
    put(b, BLK, BUF)  # r1 -> a pointer to the 4-word block
    assert b.semihost(SYS_HEAPINFO, BLK) == 0
    base, limit = RAM_BASE + 0x2000, RAM_END
    assert get(b, BUF, 4) == [base, limit, limit, base]


def test_exit_a32_only_tells_success_from_failure(b):
    assert b.semihost(SYS_EXIT, 0x20026) == SYS_EXIT  # r0 left alone
    assert b.m.stop_requested and (b.m.exit_status, b.m.exit_reason) == (0, "exit")
    b2 = Board()
    b2.semihost(SYS_EXIT, 0x20023)
    assert b2.m.exit_status == 1


@pytest.mark.parametrize("reason, subcode, status", [
    (0x20026, 0, 0), (0x20026, 42, 42), (0x20026, 0xFFFF_FFFF, -1), (0x20026, 300, 300),
    (0x20023, 0, 1), (0x20023, 7, 1)])
def test_exit_extended_passes_the_status(reason, subcode, status):
    b = Board()
    put(b, BLK, reason, subcode)
    b.semihost(SYS_EXIT_EXTENDED, BLK)
    assert b.m.stop_requested and (b.m.exit_status, b.m.exit_reason) == (status, "exit")


def test_unknown_call_is_one_line_with_the_pc(b):
    with pytest.raises(GuestError) as err:
        b.semihost(0x77, 0)
    assert one_line(err.value) == f"vCPU 0: unsupported semihosting call 0x77 at pc={PC:#010x}"


def test_the_pc_in_thumb_state_is_2_bytes_back(b):
    b.regs.cpsr[0] |= 0x20
    with pytest.raises(GuestError) as err:
        b.semihost(0x19, 0)
    assert str(err.value).endswith(f"pc={PC + 2:#010x}")


def test_the_calling_vcpus_registers_are_used(b):
    b.hvc(0x8400_0003, 1, RAM_BASE, 0)
    b.m.memory.write_bytes(STR, b"from 1\0")
    assert b.semihost(SYS_WRITE0, STR, cpu=1) == 0xDEADBEEF - (1 << 32)
    assert b.output() == b"from 1"


def test_every_call_has_a_name():
    assert sh.NAMES[SYS_EXIT_EXTENDED] == "SYS_EXIT_EXTENDED"
    assert len(sh.NAMES) == 24


# --------------------------------------------------------------------------- guest memory


def test_a_parameter_block_outside_ram_is_one_line(b):
    with pytest.raises(GuestError) as err:
        b.semihost(SYS_WRITE, RAM_END - 4)
    assert "SYS_WRITE: parameter block at 0x400ffffc (12 bytes) is outside RAM" in \
        one_line(err.value)


def test_a_buffer_running_off_the_end_of_ram_is_not_written_at_all(b):
    b.p.stdin = io.BytesIO(b"abcdefgh")
    fd = sys_open(b, b":tt", 0)
    b.m.memory.write_bytes(RAM_END - 4, b"\x11" * 4)
    put(b, BLK, fd, RAM_END - 4, 8)
    with pytest.raises(GuestError) as err:
        b.semihost(SYS_READ, BLK)
    assert "SYS_READ: buffer at 0x400ffffc (8 bytes) is outside RAM" in one_line(err.value)
    assert b.m.memory.read_bytes(RAM_END - 4, 4) == b"\x11" * 4
    assert b.p.stdin.read() == b"abcdefgh"  # nothing consumed either


def test_writes_are_stores_of_the_calling_vcpu_seen_by_the_memory_policy(b):
    """A semihosting write into another vCPU's reservation breaks it, as a store would."""
    b.hvc(0x8400_0003, 1, RAM_BASE, 0)
    cpu1 = b.m.cpus[1]
    policy = b.m.policy
    policy.load_link(cpu1, BUF, MemOp.UL)
    put(b, BLK, BUF, 64)
    b.semihost(SYS_GET_CMDLINE, BLK)  # writes "prog.elf 4 1000\0" over BUF
    assert policy.store_cond(cpu1, BUF, 0x1234, MemOp.UL) == 1
    assert b.m.memory.read_bytes(BUF, 4) == b"prog"
    policy.load_link(cpu1, BUF, MemOp.UL)  # without an intervening write the SC succeeds
    assert policy.store_cond(cpu1, BUF, 0x1234, MemOp.UL) == 0


def test_writes_invalidate_translated_code(b):
    cpu = b.cpu
    tb = b.m.translator.lookup(cpu, RAM_BASE, 0)
    assert not tb.invalid
    put(b, BLK, RAM_BASE + 0x400, 64)
    b.semihost(SYS_GET_CMDLINE, BLK)
    assert tb.invalid


def test_semihost_exception_goes_through_handle_exception(b):
    b.regs.r[0][0] = SYS_WRITE0
    b.regs.r[0][1] = STR
    b.m.memory.write_bytes(STR, b"ok\0")
    assert b.p.handle_exception(b.cpu, CpuLoopExit(ArmExcp.SEMIHOST)) is True
    assert b.output() == b"ok"
    assert b.p.counters["semihosting_calls"] == 1
