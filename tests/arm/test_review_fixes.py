"""Regression tests of review findings in plugins/arm (one section per finding).

Frontend behaviour runs on the real A32 frontend (tests/arm/_harness.py); board and
semihosting behaviour on the fake-register :class:`~tests.arm.test_platform.Board`.
"""

from __future__ import annotations

import ast
import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.cpu import CpuLoopExit, CPURunState, GuestException
from core.errors import GuestError
from core.exec import cpu_exec
from plugins.arm import cpu as arm
from plugins.arm.cpu import ArmExcp
from plugins.arm import translate_dp, translate_media, translate_sys
from plugins.arm.decode import A32, A32_UNCOND, decode
from plugins.arm.frontend import ArmFrontend
from plugins.arm.platform import PSCI_CPU_ON, VirtPlatform
from plugins.arm.semihosting import SYS_OPEN, SYS_REMOVE, SYS_RENAME, SYS_WRITE, SYS_WRITE0, \
    SYS_WRITEC
from plugins.arm.translate import expand_imm
from tests.arm._harness import CODE, DATA, make_machine, reg, run
from tests.arm.test_platform import Board, one_line
from tests.arm.test_semihosting import BLK, STR, STR2, errno_of, put, sys_open, sys_write

REPO = Path(__file__).resolve().parents[2]
ARM = REPO / "plugins" / "arm"
WORKLOADS = ARM / "workloads"
Q = arm.CPSR_Q


def one_line_guest_error(src: str | bytes = b"", words: list[int] | None = None,
                         regs: dict[int, int] | None = None) -> str:
    with pytest.raises(GuestError) as err:
        run(src, regs, words=words)
    return one_line(err.value)


# --------------------------------------------------------------------------- 1. TST/TEQ/CMP/CMN, S = 0


@pytest.mark.parametrize("insn", [
    0xE36C062E,  # cmn #imm, S = 0, Rd = 0: crashed translation (b.add(None, ...))
    0xE3630321,  # the same class, found by fuzzing
    0xE3210000,  # teq #imm, S = 0, Rd = 0: silently wrote N
    0xE32F0001,  # teq #imm, S = 0, Rd = 0, Rn = 15
    0xE3610000,  # cmn #imm, S = 0, Rd = 0
])
def test_test_ops_without_s_that_are_not_msr_are_undefined(insn):
    text = one_line_guest_error(words=[insn])
    assert f"undefined instruction {insn:#010x} at {CODE:#010x}" in text


def test_msr_and_hints_in_the_same_space_still_work():
    m = run("msr cpsr_f, #0xf0000000; nop; wfi")  # teq/cmn space with Rd = 1111
    assert m.frontend.cpsr_read(m.cpus[0]) >> 28 == 0xF
    m = run("movw r0, #0x1234; movt r0, #0x5678; wfi")  # tst/cmp space with S = 0
    assert reg(m, 0) == 0x5678_1234


class _Fresh:
    """One machine, reset to a fresh vCPU state before every word."""

    def __init__(self):
        self.m = make_machine(max_insns=10)
        self.cpu = self.m.cpus[0]
        self.fe = self.m.frontend

    def run(self, insn: int, regs: list[int], mode: int) -> None:
        m, cpu, fe = self.m, self.cpu, self.fe
        fe.reset_cpu(cpu)
        m.stop_requested = False
        m.memory.write_bytes(CODE, insn.to_bytes(4, "little") + bytes.fromhex("f000f0e7"))
        m.policy.clrex(cpu)
        for n, value in enumerate(regs):
            fe.set_reg(cpu, n, value)
        fe.set_reg(cpu, 15, CODE)
        fe.cpsr_write(cpu, mode, arm.CPSR_M)
        cpu.run_state = CPURunState.RUNNING
        cpu_exec(m, cpu, 1)


@pytest.fixture(scope="module")
def fresh():
    return _Fresh()


PATTERNS = [*A32.patterns, *A32_UNCOND.patterns]


@st.composite
def words(draw):
    """Any 32-bit word; a quarter of them fill a decode pattern's fields at random, and
    half are such a word with one fixed bit flipped or one nibble holding fixed bits
    (often an SBZ/SBO field) set to 0000, 1111 or anything: the encodings next to a class, where carve-outs
    such as MSR inside the TEQ/CMN space hide."""
    kind = draw(st.sampled_from(["any", "pattern", "bit", "nibble"]))
    word = draw(st.integers(0, 0xFFFF_FFFF))
    if kind == "any":
        return word
    p = draw(st.sampled_from(PATTERNS))
    word = p.value | (word & ~p.mask)
    if kind == "bit":
        word ^= 1 << draw(st.sampled_from([i for i in range(28) if p.mask >> i & 1]))
    elif kind == "nibble":  # a nibble of bits 27:0 holding fixed bits (each class has one)
        shift = 4 * draw(st.sampled_from([i for i in range(7) if p.mask >> 4 * i & 15]))
        nibble = draw(st.sampled_from([0, 15, draw(st.integers(0, 15))]))
        word = (word & ~(15 << shift)) | nibble << shift
    return word


@settings(max_examples=2000, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@example(insn=0xE36C062E, seed=0, mode=arm.MODE_SVC)  # what fuzzing found (cmn, S = 0)
@example(insn=0xE3630321, seed=1, mode=arm.MODE_USR)
@given(insn=words(), seed=st.integers(0, 2**32 - 1),
       mode=st.sampled_from([arm.MODE_SVC, arm.MODE_USR]))
def test_any_word_executes_or_fails_in_one_clean_line(fresh, insn, seed, mode):
    """Guest bytes never raise anything but a one-line GuestError/GuestException."""
    rng = random.Random(seed)
    regs = [rng.choice([0, DATA + 0x100, rng.getrandbits(32)]) for _ in range(15)]
    try:
        fresh.run(insn, regs, mode)
    except (GuestError, GuestException) as exc:
        text = str(exc)
        assert text and "\n" not in text, (hex(insn), text)


# --------------------------------------------------------------------------- 2. SMLAD & co: Q


@pytest.mark.parametrize("src,regs,want,q", [
    # product1 + product2 = 2^31 overflows, + Ra = -1 brings it back: no Q (ARM ARM)
    ("smlad r0, r1, r2, r3", {1: 0x8000_8000, 2: 0x8000_8000, 3: 0xFFFF_FFFF}, 0x7FFF_FFFF, 0),
    ("smladx r0, r1, r2, r3", {1: 0x8000_8000, 2: 0x8000_8000, 3: 0xFFFF_FFFF}, 0x7FFF_FFFF, 0),
    ("smlad r0, r1, r2, r3", {1: 0x8000_8000, 2: 0x8000_8000, 3: 0}, 0x8000_0000, Q),
    ("smuad r0, r1, r2", {1: 0x8000_8000, 2: 0x8000_8000}, 0x8000_0000, Q),
    ("smlad r0, r1, r2, r3", {1: 0x0001_0001, 2: 0x0001_0001, 3: 0x7FFF_FFFE}, 0x8000_0000, Q),
    ("smlsd r0, r1, r2, r3", {1: 0x0000_8000, 2: 0x0000_8000, 3: 0x4000_0000}, 0x8000_0000, Q),
    ("smlsdx r0, r1, r2, r3", {1: 0x8000_0001, 2: 0x0001_8000, 3: 0xBFFF_FFFF}, 0x8000_0000, 0),
    ("smlsdx r0, r1, r2, r3", {1: 0x8000_0001, 2: 0x0001_8000, 3: 0xBFFF_FFFE}, 0x7FFF_FFFF, Q),
    ("smlsd r0, r1, r2, r3", {1: 0x8000_0001, 2: 0x8000_0001, 3: 5}, 0xC000_0006, 0),
    ("smusd r0, r1, r2", {1: 0x0000_8000, 2: 0x0000_8000}, 0x4000_0000, 0),
])
def test_dual_multiply_accumulate_checks_overflow_once(src, regs, want, q):
    m = run(f"{src}; wfi", regs)
    assert reg(m, 0) == want
    assert m.frontend.cpsr_read(m.cpus[0]) & Q == q


# --------------------------------------------------------------------------- 3. CPSR.E = 1


@pytest.mark.parametrize("src,at", [
    ("msr cpsr_x, #0x200; wfi", CODE),
    ("mov r0, #0x200; msr cpsr_x, r0; wfi", CODE + 4),
    ("mrs r0, cpsr; orr r0, r0, #0x200; msr cpsr_fsxc, r0; wfi", CODE + 8),
    # an exception return restoring an SPSR with E = 1
    ("mrs r0, cpsr; orr r0, r0, #0x200; msr spsr_fsxc, r0; add lr, pc, #0; movs pc, lr; wfi",
     CODE + 16),
])
def test_big_endian_via_msr_or_exception_return_is_refused(src, at):
    text = one_line_guest_error(src)
    assert f"big-endian data (SETEND BE / CPSR.E) is not supported at {at:#010x}" in text


def test_msr_with_e_clear_still_writes_the_other_bits():
    m = run("mov r0, #0x100; msr cpsr_x, r0; msr cpsr_x, #0; wfi")
    assert m.frontend.cpsr_read(m.cpus[0]) & (arm.CPSR_A | arm.CPSR_E) == 0
    m = run("msr cpsr_x, #0x100; wfi", cpsr=0x1D3 & ~arm.CPSR_A)
    assert m.frontend.cpsr_read(m.cpus[0]) & (arm.CPSR_A | arm.CPSR_E) == arm.CPSR_A
    m = run("mrs r0, cpsr; msr spsr_fsxc, r0; add lr, pc, #0; movs pc, lr; wfi")
    assert reg(m, 15) == CODE + 20  # the exception return went through


def test_user_mode_msr_cannot_reach_e():
    m = run("msr cpsr_c, #0x10; mov r0, #0x200; msr cpsr_fsxc, r0; wfi")  # E not in APSR
    assert m.frontend.cpsr_read(m.cpus[0]) & arm.CPSR_E == 0


# --------------------------------------------------------------------------- 5. EPIPE on the console


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


# --------------------------------------------------------------------------- 6. symlinks: remove/rename


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


# --------------------------------------------------------------------------- 7. hvc #imm


def test_hvc_with_a_nonzero_immediate_is_not_psci():
    b = Board()
    b.regs.r[0][0] = 0x8400_0000  # PSCI_VERSION
    with pytest.raises(GuestError) as err:
        b.p.handle_exception(b.cpu, CpuLoopExit(ArmExcp.HVC, info=0x12))
    assert one_line(err.value) == "vCPU 0: hvc #0x12 is not a PSCI call, pc=0x40000100"
    assert b.reg(0) == 0x8400_0000 and b.p.counters["psci_calls"] == 0


def test_hvc_immediates_on_the_arm_frontend():
    # mov r0, #0x84000000 (PSCI_VERSION); hvc #0: served; hvc #1: an error
    m = run(b"", words=[0xE3A00321, 0xE1400070, 0xE320F003])
    assert reg(m, 0) == 0x0001_0001
    text = one_line_guest_error(words=[0xE3A00321, 0xE1400071, 0xE320F003])
    assert text == f"vCPU 0: hvc #0x1 is not a PSCI call, pc={CODE + 4:#010x}"


# --------------------------------------------------------------------------- 8. one definition each


def test_cpu_on_clears_the_target_reservation_once(monkeypatch):
    m = make_machine(vcpus=2)
    cleared = []
    monkeypatch.setattr(m.policy, "clrex", lambda cpu: cleared.append(cpu.index))
    fe, cpu0 = m.frontend, m.cpus[0]
    for n, value in enumerate((PSCI_CPU_ON, 1, CODE, 0)):
        fe.set_reg(cpu0, n, value)
    assert isinstance(m.platform, VirtPlatform)
    assert m.platform.handle_exception(cpu0, CpuLoopExit(ArmExcp.HVC, info=0))
    assert fe.get_reg(cpu0, 0) == 0
    assert cleared == [1]


def _module_defs(path: Path) -> dict[str, int]:
    """Top-level names a module assigns or defines, with how many times."""
    counts: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_shared_definitions_are_not_repeated_in_plugins_arm():
    defs = {p.name: _module_defs(p) for p in ARM.glob("*.py")}
    for name in ("M32", "CPSR_T"):  # core.ir.M32, plugins.arm.cpu.CPSR_T
        owners = [f for f, d in defs.items() if name in d]
        assert owners == (["cpu.py"] if name == "CPSR_T" else []), (name, owners)
    assert "_regs_ok" not in defs["translate_dp.py"]
    assert "_no_pc" not in defs["translate_media.py"]
    assert translate_dp.no_pc is translate_media.no_pc
    rotations = sum(p.read_text().count("(32 - rot)") for p in ARM.glob("*.py"))
    assert rotations == 1  # ARMExpandImm: translate.expand_imm only
    assert translate_dp.expand_imm is translate_sys.expand_imm is expand_imm
    assert [expand_imm(x) for x in (0x0FF, 0x4FF, 0xF01, 0x102)] == \
        [0xFF, 0xFF00_0000, 0x4, 0x8000_0000]


# --------------------------------------------------------------------------- 9. dead code


def test_frontend_keeps_no_dead_overrides():
    assert "spsr_read" not in vars(ArmFrontend)
    assert "handle_exception" not in vars(ArmFrontend)  # the base class's


def test_mrs_and_msr_register_patterns_exclude_the_banked_forms():
    """Bit 9 set (MRS/MSR banked register) never reaches trans_mrs / trans_msr_reg."""
    for insn in (0xE10F0000, 0xE14F0000, 0xE120F000, 0xE160F000):  # mrs/msr, cpsr/spsr
        assert decode(insn).handler in (translate_sys.trans_mrs, translate_sys.trans_msr_reg)
        banked = decode(insn | 1 << 9)
        assert banked is None or banked.handler not in (translate_sys.trans_mrs,
                                                        translate_sys.trans_msr_reg)
