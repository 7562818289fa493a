"""The semihosting console when the host's stdout is gone (EPIPE) or fails otherwise.

A closed pipe (``tcglab run ... | head``) silences the console after the first EPIPE and
the guest goes on as if its writes succeeded; other errors set the guest's errno.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

from plugins.arm.semihosting import SYS_WRITE0, SYS_WRITEC
from tests.support.virt_board import STR, Board, errno_of, sys_open, sys_write

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "plugins" / "arm" / "workloads"


class _ClosedPipe:
    def __init__(self, error: OSError):
        self.error, self.writes = error, 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        raise self.error

    def flush(self) -> None:
        raise self.error


def test_writec_write0_and_tt_survive_a_closed_stdout():
    b = Board()
    b.p.stdout = pipe = _ClosedPipe(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    b.m.memory.write_bytes(STR, b"hello\0")
    b.semihost(SYS_WRITE0, STR)  # no BrokenPipeError
    b.semihost(SYS_WRITEC, STR)
    fd = sys_open(b, b":tt", 4)
    assert sys_write(b, fd, b"abc") == 0  # the guest goes on as if written
    assert pipe.writes == 1  # silenced after the first EPIPE
    b.p.close()


def test_other_console_errors_set_errno_for_writec_and_write0():
    b = Board()
    b.p.stdout = _ClosedPipe(OSError(errno.EIO, "I/O error"))
    b.m.memory.write_bytes(STR, b"x\0")
    b.semihost(SYS_WRITE0, STR)
    assert errno_of(b) == errno.EIO
    b.semihost(SYS_WRITEC, STR)
    fd = sys_open(b, b":tt", 4)
    assert sys_write(b, fd, b"abc") == 3 and errno_of(b) == errno.EIO


def test_run_into_a_closed_pipe_exits_normally_without_a_traceback():
    """``tcglab run counter.elf 1 200 | head -c 0``: the reader is gone before any write."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "core.cli", "run", str(WORKLOADS / "counter.elf"), "1", "200"],
            stdout=w, stderr=subprocess.PIPE, cwd=REPO, timeout=120)
    finally:
        os.close(w)
    assert proc.stderr == b""
    assert proc.returncode == 0
