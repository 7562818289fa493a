"""Bad guest input ends as one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from core import cli
from tests.support.arm_workloads import WORKLOADS


def make_elf(path: Path, code: bytes, *, machine: int = 40, vaddr: int = 0x4000_0000) -> Path:
    """A minimal ELF32 little-endian executable with one PT_LOAD segment of ``code``."""
    ehsize, phentsize = 52, 32
    offset = ehsize + phentsize
    header = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9) + struct.pack(
        "<HHIIIIIHHHHHH", 2, machine, 1, vaddr, ehsize, 0, 0x05000200, ehsize, phentsize, 1,
        40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, offset, vaddr, vaddr, len(code), len(code), 5, 0x1000)
    path.write_bytes(header + phdr + code)
    return path


def words(*insns: int) -> bytes:
    return b"".join(struct.pack("<I", i) for i in insns)


def run(capfd, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["run", "--max-insns", "100000", *argv])
    out, err = capfd.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *needles: str) -> None:
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tcglab: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_truncated_elf(tmp_path, capfd):
    data = (WORKLOADS / "counter.elf").read_bytes()
    bad = tmp_path / "cut.elf"
    bad.write_bytes(data[:len(data) // 3])
    status, _out, err = run(capfd, str(bad))
    assert_one_line_error(status, err, str(bad))


def test_header_only_elf(tmp_path, capfd):
    bad = tmp_path / "hdr.elf"
    bad.write_bytes((WORKLOADS / "counter.elf").read_bytes()[:40])
    status, _out, err = run(capfd, str(bad))
    assert_one_line_error(status, err, str(bad))


def test_not_an_elf(tmp_path, capfd):
    bad = tmp_path / "text.elf"
    bad.write_text("hello")
    status, _out, err = run(capfd, str(bad))
    assert_one_line_error(status, err, str(bad), "not an ELF")


def test_non_arm_elf(tmp_path, capfd):
    bad = make_elf(tmp_path / "x86.elf", words(0), machine=62)  # EM_X86_64
    status, _out, err = run(capfd, str(bad))
    assert_one_line_error(status, err, str(bad), "EM_X86_64", "EM_ARM")


def test_segments_outside_ram(tmp_path, capfd):
    low = make_elf(tmp_path / "low.elf", words(0xE320F000), vaddr=0x1000)
    status, _out, err = run(capfd, str(low))
    assert_one_line_error(status, err, str(low), "0x00001000", "outside RAM")
    status, _out, err = run(capfd, "--set", "machine.ram_size=64K",
                            str(WORKLOADS / "counter.elf"))
    assert_one_line_error(status, err, "counter.elf", "outside RAM")


def test_missing_file(tmp_path, capfd):
    status, _out, err = run(capfd, str(tmp_path / "nope.elf"))
    assert_one_line_error(status, err, "nope.elf", "cannot read")


def test_undefined_instruction(tmp_path, capfd):
    prog = make_elf(tmp_path / "udf.elf", words(0xE3A00001, 0xE7F000F0))  # mov r0,#1; udf
    status, _out, err = run(capfd, str(prog))
    assert_one_line_error(status, err, "undefined instruction 0xe7f000f0", "0x40000004")


def test_jump_to_unmapped_memory(tmp_path, capfd):
    prog = make_elf(tmp_path / "jump.elf", words(0xE3A00A01, 0xE12FFF10))  # mov r0,#0x1000; bx r0
    status, _out, err = run(capfd, str(prog))
    assert_one_line_error(status, err, "prefetch abort", "0x00001000")


def test_data_abort(tmp_path, capfd):
    prog = make_elf(tmp_path / "store.elf", words(0xE3A00A01, 0xE5800000))  # str r0,[r0]
    status, _out, err = run(capfd, str(prog))
    assert_one_line_error(status, err, "vCPU 0: data abort, store of 4 bytes at 0x00001000",
                          "pc=0x40000004")


@pytest.mark.parametrize("argv,needle", [
    (["--vcpus", "0"], "vcpus"),
    (["--strategy", "cmpxchgg"], "memory policy 'cmpxchgg'"),
    (["--backend", "jit"], "backend 'jit'"),
    (["--schedule", "fifo"], "fifo"),
])
def test_bad_options(capfd, argv, needle):
    status, _out, err = run(capfd, *argv, str(WORKLOADS / "counter.elf"))
    assert_one_line_error(status, err, needle)


def test_filesz_larger_than_memsz(tmp_path, capfd):
    prog = make_elf(tmp_path / "sz.elf", words(0xE320F000, 0xE320F000))
    data = bytearray(prog.read_bytes())
    struct.pack_into("<I", data, 52 + 20, 4)  # p_memsz = 4 < p_filesz = 8
    prog.write_bytes(bytes(data))
    status, _out, err = run(capfd, str(prog))
    assert_one_line_error(status, err, "p_filesz", "p_memsz")


def test_big_endian_elf(tmp_path, capfd):
    prog = make_elf(tmp_path / "be.elf", words(0xE320F000))
    data = bytearray(prog.read_bytes())
    data[5] = 2  # EI_DATA = ELFDATA2MSB
    prog.write_bytes(bytes(data))
    status, _out, err = run(capfd, str(prog))
    assert_one_line_error(status, err, str(prog))
