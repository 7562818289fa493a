"""Differential tests of the A32 frontend against unicorn, instruction by instruction.

Two kinds: every workload that runs on one CPU, stepped in lockstep on tcglab and on
unicorn with r0-r15 and CPSR compared after each instruction; and hypothesis-generated
encodings of the implemented classes, each run once on both sides from a random register
and memory state, with registers, flags and the data window compared (or, when unicorn
faults, a clean one-line error required on our side).

Unicorn is the test extra; without it these tests skip, unless TCGLAB_REQUIRE_ORACLES=1.
``TCGLAB_DIFF_EXAMPLES`` raises the number of random cases (CI default 3000; the
benchmark-style run uses 100000).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.support.oracles import oracle_module

oracle_module("unicorn", "pip install '.[test]'")
from unicorn import UcError  # noqa: E402

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cpu import CPURunState, GuestException
from core.errors import GuestError
from core.exec import cpu_exec
from tests.support.arm_lockstep import RAM_BASE, Lockstep, Mismatch, arm_machine, make_unicorn, \
    run_elf_lockstep

pytestmark = pytest.mark.oracle

WORKLOADS = Path(__file__).resolve().parents[2] / "plugins" / "arm" / "workloads"

# (program, guest args, max steps): the single-CPU runs of every bundled workload
SINGLE_CPU_RUNS = [
    ("counter.elf", ["1", "300"], 60_000),
    ("spinlock.elf", ["1", "300"], 60_000),
    ("aba.elf", ["1", "200"], 80_000),
    ("false_sharing.elf", ["1", "300"], 60_000),
    ("aba_window.elf", ["1"], 60_000),
    ("compute.elf", ["1"], 2_000_000),
    ("hello_newlib.elf", ["a", "42"], 400_000),
]
SLOW_RUNS = ("compute.elf", "hello_newlib.elf")  # 20 s to over a minute each in lockstep


@pytest.mark.parametrize("program,args,max_steps", [
    pytest.param(*run, id=run[0], marks=[pytest.mark.slow] if run[0] in SLOW_RUNS else [])
    for run in SINGLE_CPU_RUNS])
def test_workload_lockstep(program, args, max_steps):
    ls = run_elf_lockstep(str(WORKLOADS / program), args, max_steps)
    assert ls.steps > 1000
    assert ls.m.stop_requested and ls.m.exit_status == 0  # stepped to the program's own exit
    ls.compare_memory(RAM_BASE, 0x40000)  # code, data, bss, stacks of the freestanding image


# --------------------------------------------------------------------------- random encodings

CODE = RAM_BASE
DATA_WINDOW = RAM_BASE + 0x10000  # 64 KiB window; memory base registers point at its middle
DATA_MID = DATA_WINDOW + 0x8000
COND = st.sampled_from(list(range(15)))  # every condition but the unconditional space
REG = st.integers(0, 15)  # pc allowed as a source operand (reads as insn + 8)
REG_NO_PC = st.integers(0, 14)


@st.composite
def dp_imm_shift(draw):
    op = draw(st.integers(0, 15))
    s = 1 if 8 <= op <= 11 else draw(st.integers(0, 1))
    rn = 0 if op in (13, 15) else draw(REG)
    rd = 0 if 8 <= op <= 11 else draw(REG_NO_PC)
    imm5, typ, rm = draw(st.integers(0, 31)), draw(st.integers(0, 3)), draw(REG)
    return draw(COND) << 28 | op << 21 | s << 20 | rn << 16 | rd << 12 | imm5 << 7 | typ << 5 | rm


@st.composite
def dp_reg_shift(draw):
    op = draw(st.integers(0, 15))
    s = 1 if 8 <= op <= 11 else draw(st.integers(0, 1))
    rn = 0 if op in (13, 15) else draw(REG_NO_PC)
    rd = 0 if 8 <= op <= 11 else draw(REG_NO_PC)
    rs, typ, rm = draw(REG_NO_PC), draw(st.integers(0, 3)), draw(REG_NO_PC)
    return (draw(COND) << 28 | op << 21 | s << 20 | rn << 16 | rd << 12 | rs << 8 | typ << 5
            | 1 << 4 | rm)


@st.composite
def dp_imm(draw):
    op = draw(st.integers(0, 15))
    s = 1 if 8 <= op <= 11 else draw(st.integers(0, 1))
    rn = 0 if op in (13, 15) else draw(REG)
    rd = 0 if 8 <= op <= 11 else draw(REG_NO_PC)
    return draw(COND) << 28 | 1 << 25 | op << 21 | s << 20 | rn << 16 | rd << 12 | \
        draw(st.integers(0, 0xFFF))


@st.composite
def movw_movt(draw):
    top = draw(st.sampled_from([0x30, 0x34]))
    imm = draw(st.integers(0, 0xFFFF))
    return draw(COND) << 28 | top << 20 | (imm >> 12) << 16 | draw(REG_NO_PC) << 12 | imm & 0xFFF


@st.composite
def multiply(draw):
    kind = draw(st.sampled_from(["mul", "mla", "mls", "umull", "umlal", "smull", "smlal"]))
    s = 0 if kind == "mls" else draw(st.integers(0, 1))
    rd, rn, rm, ra = (draw(REG_NO_PC) for _ in range(4))
    code = {"mul": 0, "mla": 1, "mls": 3, "umull": 4, "umlal": 5, "smull": 6, "smlal": 7}[kind]
    if kind in ("umull", "umlal", "smull", "smlal"):
        lo, hi = draw(st.lists(REG_NO_PC, min_size=2, max_size=2, unique=True))
        return draw(COND) << 28 | code << 21 | s << 20 | hi << 16 | lo << 12 | rm << 8 | 9 << 4 | rn
    if kind == "mul":
        ra = 0
    return draw(COND) << 28 | code << 21 | s << 20 | rd << 16 | ra << 12 | rm << 8 | 9 << 4 | rn


@st.composite
def media(draw):
    cond = draw(COND) << 28
    rd, rn, rm = draw(REG_NO_PC), draw(REG_NO_PC), draw(REG_NO_PC)
    kind = draw(st.sampled_from(["xt", "bfx", "bfi", "rev", "clz", "div"]))
    if kind == "xt":  # SXTAB SXTAH UXTAB UXTAH; Rn = 15 gives SXTB SXTH UXTB UXTH
        top = draw(st.sampled_from([0x6A, 0x6B, 0x6E, 0x6F]))
        rn = draw(st.sampled_from([15, rn]))
        rot = draw(st.integers(0, 3))
        return cond | top << 20 | rn << 16 | rd << 12 | rot << 10 | 0x7 << 4 | rm
    if kind == "bfx":
        lsb = draw(st.integers(0, 31))
        width = draw(st.integers(1, 32 - lsb))
        u = draw(st.integers(0, 1))
        return cond | 0b0111101 << 21 | u << 22 | (width - 1) << 16 | rd << 12 | lsb << 7 | \
            0b101 << 4 | rn
    if kind == "bfi":
        lsb = draw(st.integers(0, 31))
        msb = draw(st.integers(lsb, 31))
        rn = draw(st.sampled_from([15, rn]))  # Rn = 15 is BFC
        return cond | 0b0111110 << 21 | msb << 16 | rd << 12 | lsb << 7 | 0b001 << 4 | rn
    if kind == "rev":
        op2 = draw(st.sampled_from([(0b011, 0b0011), (0b011, 0b1011), (0b111, 0b1011)]))
        return cond | 0b01101 << 23 | op2[0] << 20 | 0xF << 16 | rd << 12 | 0xF << 8 | \
            op2[1] << 4 | rm
    if kind == "clz":
        return cond | 0x016F0F10 | rd << 12 | rm
    u = draw(st.integers(0, 1))  # SDIV / UDIV
    return cond | 0x0710F010 | u << 21 | rd << 16 | rm << 8 | rn


@st.composite
def load_store(draw):
    p, u, b, w, load = (draw(st.integers(0, 1)) for _ in range(5))
    w &= p  # P=0 W=1 is LDRT/STRT (unprivileged): not generated
    rn = draw(st.integers(0, 12))
    rt = draw(REG_NO_PC.filter(lambda r: r != rn))
    if draw(st.booleans()):
        imm = draw(st.integers(0, 0xFFF))
        return draw(COND) << 28 | 0b010 << 25 | p << 24 | u << 23 | b << 22 | w << 21 | \
            load << 20 | rn << 16 | rt << 12 | imm, rn, None, 1
    rm = draw(st.integers(0, 12).filter(lambda r: r != rn))
    shift = draw(st.integers(0, 2))
    return draw(COND) << 28 | 0b011 << 25 | p << 24 | u << 23 | b << 22 | w << 21 | \
        load << 20 | rn << 16 | rt << 12 | shift << 7 | rm, rn, rm, 1


@st.composite
def load_store_extra(draw):
    p, u, w = (draw(st.integers(0, 1)) for _ in range(3))
    w &= p  # P=0 W=1 is LDRHT & co (unprivileged): not generated
    kind = draw(st.sampled_from(["strh", "ldrh", "ldrsb", "ldrsh", "ldrd", "strd"]))
    load, sh = {"strh": (0, 1), "ldrh": (1, 1), "ldrsb": (1, 2), "ldrsh": (1, 3),
                "ldrd": (0, 2), "strd": (0, 3)}[kind]
    rn = draw(st.integers(0, 12))
    if kind in ("ldrd", "strd"):
        rt = draw(st.sampled_from([0, 2, 4, 6, 8, 10]).filter(lambda r: r != rn and r + 1 != rn))
    else:
        rt = draw(REG_NO_PC.filter(lambda r: r != rn))
    align = 8 if kind in ("ldrd", "strd") else 1  # LDRD/STRD fault unless word aligned
    if draw(st.booleans()):
        imm = draw(st.integers(0, 0xFF)) & ~(align - 1)
        return draw(COND) << 28 | p << 24 | u << 23 | 1 << 22 | w << 21 | load << 20 | \
            rn << 16 | rt << 12 | (imm >> 4) << 8 | 1 << 7 | sh << 5 | 1 << 4 | imm & 0xF, \
            rn, None, align
    rm = draw(st.integers(0, 12).filter(lambda r: r not in (rn, rt, rt + 1)))
    return draw(COND) << 28 | p << 24 | u << 23 | w << 21 | load << 20 | rn << 16 | \
        rt << 12 | 1 << 7 | sh << 5 | 1 << 4 | rm, rn, rm, align


@st.composite
def load_store_multiple(draw):
    p, u, w, load = (draw(st.integers(0, 1)) for _ in range(4))
    rn = draw(st.integers(0, 12))
    regs = draw(st.integers(1, 0x7FFF))  # no pc
    if w and load and regs & (1 << rn):
        regs &= ~(1 << rn)
    if w and not load and regs & (1 << rn) and regs & ((1 << rn) - 1):
        regs &= ~(1 << rn)  # STM with writeback storing a non-lowest base: UNPREDICTABLE
    regs = regs or (1 << ((rn + 1) % 13))
    return draw(COND) << 28 | 0b100 << 25 | p << 24 | u << 23 | w << 21 | load << 20 | \
        rn << 16 | regs, rn, None, 4  # LDM/STM fault unless word aligned


@st.composite
def exclusive(draw):
    kind = draw(st.sampled_from(["ldrex", "ldrexb", "ldrexh", "ldrexd", "strex", "strexb",
                                 "strexh", "strexd", "clrex"]))
    if kind == "clrex":
        return 0xF57FF01F, None, None, 1
    size = {"": 0b00, "d": 0b01, "b": 0b10, "h": 0b11}[kind[5:]]
    rn = draw(st.integers(0, 12))
    if kind.endswith("d"):
        rt = draw(st.sampled_from([0, 2, 4, 6, 8, 10]).filter(lambda r: rn not in (r, r + 1)))
    else:
        rt = draw(REG_NO_PC.filter(lambda r: r != rn))
    cond = draw(COND) << 28
    align = {0b00: 4, 0b01: 8, 0b10: 1, 0b11: 2}[size]  # exclusives fault unless aligned
    if kind.startswith("ldrex"):
        return cond | 0x01900F9F | size << 21 | rn << 16 | rt << 12, rn, None, align
    rd = draw(REG_NO_PC.filter(lambda r: r not in (rn, rt, rt + 1)))
    return cond | 0x01800F90 | size << 21 | rn << 16 | rd << 12 | rt, rn, None, align


def plain(strategy):
    """(encoding, base register, index register, base alignment) for a non-memory class."""
    return strategy.map(lambda insn: (insn, None, None, 1))


ENCODINGS = st.one_of(plain(dp_imm_shift()), plain(dp_reg_shift()), plain(dp_imm()),
                      plain(movw_movt()), plain(multiply()), plain(media()), load_store(),
                      load_store_extra(), load_store_multiple(), exclusive())

class Pair:
    """One tcglab machine and one unicorn, reset for every example."""

    def __init__(self):
        self.m = arm_machine("1M")
        self.uc = make_unicorn(1 << 20)
        self.ls = Lockstep(self.m, self.uc, 1 << 20)
        self.cpu = self.m.cpus[0]
        self.fe = self.m.frontend

    def run(self, insn: int, regs: list[int], flags: int, data: bytes):
        m, uc, fe, cpu = self.m, self.uc, self.fe, self.cpu
        code = insn.to_bytes(4, "little") + bytes.fromhex("f000f0e7")  # then an udf
        m.memory.write_bytes(CODE, code)
        uc.mem_write(CODE, code)
        m.memory.write_bytes(DATA_WINDOW, data)
        uc.mem_write(DATA_WINDOW, data)
        m.policy.clrex(cpu)
        for n, value in enumerate(regs):
            fe.set_reg(cpu, n, value)
        fe.set_reg(cpu, 15, CODE)
        fe.cpsr_write(cpu, flags | 0x1D3)
        cpu.run_state = CPURunState.RUNNING
        self.ls.copy_state_to_unicorn()
        uc_error = None
        try:
            uc.emu_start(CODE, CODE + 4, count=1)
        except UcError as exc:
            uc_error = exc
        ours_error = None
        try:
            cpu_exec(m, cpu, 1)
        except (GuestError, GuestException) as exc:
            ours_error = exc
        return uc_error, ours_error


@pytest.fixture(scope="module")
def pair():
    return Pair()


EXAMPLES = int(os.environ.get("TCGLAB_DIFF_EXAMPLES", "3000"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=ENCODINGS, seed=st.integers(0, 2**32 - 1), flags=st.integers(0, 15))
def test_random_encodings_match_unicorn(pair, case, seed, flags):
    insn, base_reg, index_reg, align = case
    rng = random.Random(seed)
    regs = [rng.choice([0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, rng.getrandbits(32),
                        rng.getrandbits(5), rng.getrandbits(8)]) for _ in range(15)]
    if base_reg is not None:
        regs[base_reg] = DATA_MID + rng.randrange(-0x400, 0x400) * rng.choice([1, 1, 4])
        regs[base_reg] &= ~(align - 1)
    if index_reg is not None:
        regs[index_reg] = rng.randrange(0, 0x400) & ~(align - 1)
    data = rng.randbytes(0x10000)
    uc_error, ours_error = pair.run(insn, regs, flags << 28, data)
    where = f"insn {insn:#010x} ({pair.fe.disas(CODE, insn)}), regs {[hex(r) for r in regs]}"
    if uc_error is not None:
        assert ours_error is not None, f"unicorn faulted ({uc_error}) but tcglab did not: {where}"
        assert "\n" not in str(ours_error)
        return
    assert ours_error is None, f"tcglab raised {ours_error!r} where unicorn ran: {where}"
    pc = pair.fe.get_reg(pair.cpu, 15)
    try:
        pair.ls.compare(CODE, insn)
        pair.ls.compare_memory(DATA_WINDOW, 0x10000)
    except Mismatch as exc:
        raise AssertionError(f"{exc}; {where}") from None
    assert pc in (CODE + 4, CODE)


def test_unsupported_encoding_is_a_clean_error(pair):
    # coprocessor 10 (VFP) is not implemented: a one-line undefined-instruction error
    insn = 0xEE300A00  # vadd.f32 s0, s0, s0
    _uc_error, ours = pair.run(insn, [0] * 15, 0, bytes(0x10000))
    assert ours is not None
    assert "undefined instruction 0xee300a00" in str(ours)
    assert f"{CODE:#010x}" in str(ours)
    assert "\n" not in str(ours)
