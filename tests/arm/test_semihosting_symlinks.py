"""Semihosting file calls and symbolic links under ``semihosting_root``.

SYS_REMOVE and SYS_RENAME act on a link, not its target; a parent directory is resolved
inside the root (a link leading out is refused with EACCES); SYS_OPEN follows links that
stay inside and opens with O_NOFOLLOW, so a last component swapped for a link after the
check is refused.
"""

from __future__ import annotations

import errno
import os

import pytest

from plugins.arm.semihosting import SYS_REMOVE, SYS_RENAME
from tests.support.virt_board import BLK, STR, STR2, Board, errno_of, put, sys_open


@pytest.fixture
def rooted(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.txt").write_bytes(b"data")
    os.symlink("data.txt", root / "link")
    board = Board(root=str(root))
    board.root = root
    yield board
    board.p.close()


def remove(b: Board, name: bytes) -> int:
    b.m.memory.write_bytes(STR, name + b"\0")
    put(b, BLK, STR, len(name))
    return b.semihost(SYS_REMOVE, BLK)


def rename(b: Board, old: bytes, new: bytes) -> int:
    b.m.memory.write_bytes(STR, old + b"\0")
    b.m.memory.write_bytes(STR2, new + b"\0")
    put(b, BLK, STR, len(old), STR2, len(new))
    return b.semihost(SYS_RENAME, BLK)


def test_remove_of_a_symlink_removes_the_link_not_its_target(rooted):
    assert remove(rooted, b"link") == 0
    assert not os.path.lexists(rooted.root / "link")
    assert (rooted.root / "data.txt").read_bytes() == b"data"


def test_remove_of_a_symlink_leading_out_removes_the_link(rooted):
    outside = rooted.root.parent / "outside.txt"
    outside.write_bytes(b"keep")
    os.symlink(outside, rooted.root / "out")
    assert remove(rooted, b"out") == 0
    assert not os.path.lexists(rooted.root / "out") and outside.read_bytes() == b"keep"


def test_rename_of_a_symlink_renames_the_link(rooted):
    assert rename(rooted, b"link", b"link2") == 0
    assert os.readlink(rooted.root / "link2") == "data.txt"
    assert (rooted.root / "data.txt").read_bytes() == b"data"
    # a link as the new name is replaced, its target untouched
    (rooted.root / "other.txt").write_bytes(b"other")
    assert rename(rooted, b"other.txt", b"link2") == 0
    assert not (rooted.root / "link2").is_symlink()
    assert (rooted.root / "link2").read_bytes() == b"other"
    assert (rooted.root / "data.txt").read_bytes() == b"data"


def test_remove_and_rename_resolve_the_parent_inside_the_root(rooted):
    outside = rooted.root.parent / "outdir"
    outside.mkdir()
    (outside / "f").write_bytes(b"f")
    os.symlink(outside, rooted.root / "dirlink")
    assert remove(rooted, b"dirlink/f") == -1 and errno_of(rooted) == errno.EACCES
    assert rename(rooted, b"dirlink/f", b"g") == -1 and errno_of(rooted) == errno.EACCES
    assert rename(rooted, b"data.txt", b"dirlink/g") == -1 and errno_of(rooted) == errno.EACCES
    assert (outside / "f").exists() and not (outside / "g").exists()
    (rooted.root / "sub").mkdir()
    os.symlink("sub", rooted.root / "sublink")
    assert rename(rooted, b"data.txt", b"sublink/d.txt") == 0  # a parent link staying inside
    assert (rooted.root / "sub" / "d.txt").read_bytes() == b"data"
    assert remove(rooted, b"sub/..") == -1 and errno_of(rooted) == errno.EACCES  # the root


def test_open_follows_links_inside_the_root_and_uses_o_nofollow(rooted, monkeypatch):
    assert sys_open(rooted, b"link", 0) == 1  # inside -> inside: followed
    os.symlink("loop", rooted.root / "loop")
    assert sys_open(rooted, b"loop", 0) == -1 and errno_of(rooted) == errno.ELOOP
    # the last component turned into a symlink after the check: O_NOFOLLOW refuses it
    sh = rooted.p.semihosting
    monkeypatch.setattr(sh, "host_path", lambda name: rooted.root / "link")
    assert sys_open(rooted, b"data.txt", 0) == -1 and errno_of(rooted) == errno.ELOOP
