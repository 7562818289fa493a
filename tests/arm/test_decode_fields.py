"""The A32 decoder hands handlers the fields its pattern letters name (core.decodetree).

Three kinds of check: fields of a few encodings against values worked out by hand from
the ARM ARM's encoding diagrams (a split field among them); malformed pattern lines
rejected when the table is built, with one line naming the line; and, for random words
of every class, fields that put back where the letters say give the word again, and
register-only classes that execute as unicorn (QEMU's TCG) executes them.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cpu import CPURunState, GuestException
from core.decodetree import DecodePatternError, Field, compile_pattern, signed
from core.errors import GuestError, TcglabError
from core.exec import cpu_exec
from plugins.arm import translate_dp as dp
from plugins.arm.decode import LETTERS, PATTERNS, REGISTERS, decode, pattern

# --------------------------------------------------------------------------- by hand


def fields(insn: int) -> tuple[str, dict[str, int]]:
    p = decode(insn)
    assert p is not None, hex(insn)
    return p.name, p.extract(insn)


def test_movw_imm16_is_imm4_then_imm12():
    # MOVW r3, #0xabcd: cond 1110, 0011 0000, imm4 = 0xa, Rd = 3, imm12 = 0xbcd
    insn = 0xE << 28 | 0x30 << 20 | 0xA << 16 | 3 << 12 | 0xBCD
    assert fields(insn) == ("movw", {"rd": 3, "imm": 0xABCD})


def test_load_store_bits_and_registers():
    # LDRB r1, [r2, #-0x10]!: 010 P=1 U=0 B=1 W=1 L=1, Rn = 2, Rt = 1, imm12 = 0x10
    insn = 0xE << 28 | 0b010 << 25 | 1 << 24 | 0 << 23 | 1 << 22 | 1 << 21 | 1 << 20 \
        | 2 << 16 | 1 << 12 | 0x10
    assert fields(insn) == ("ldst", {"p": 1, "u": 0, "byte": 1, "w": 1, "load": 1, "rn": 2,
                                     "rt": 1, "imm": 0x10})


def test_halfword_offset_is_imm4h_then_imm4l():
    # LDRSH r0, [r1, #0x5a]: imm4H (11:8) = 5, SH (6:5) = 11, imm4L (3:0) = 0xa
    insn = 0xE << 28 | 1 << 24 | 1 << 23 | 1 << 22 | 1 << 20 | 1 << 16 | 0 << 12 | 5 << 8 \
        | 0b1111 << 4 | 0xA
    assert fields(insn) == ("ldst_extra", {"p": 1, "u": 1, "w": 0, "load": 1, "rn": 1,
                                           "rt": 0, "imm": 0x5A, "op": 3})


def test_branch_offset_is_sign_extended():
    assert fields(0xEAFFFFFE) == ("b", {"link": 0, "imm": -2})  # b .
    assert fields(0xEB7FFFFF) == ("b", {"link": 1, "imm": 0x7F_FFFF})
    assert fields(0xEA800000) == ("b", {"link": 0, "imm": -0x80_0000})
    # BLX with H = 1: 1111 101H imm24
    assert fields(0xFB000001) == ("blx", {"halfword": 1, "imm": 1})


def test_fields_that_share_no_letter_with_their_neighbours():
    # MRC p15, 0, r0, c0, c0, 5 (MPIDR): opc1 23:21, L 20, CRn 19:16, Rt 15:12,
    # coproc 11:8, opc2 7:5, CRm 3:0
    assert fields(0xEE100FB0) == ("mcr_mrc", {"opc1": 0, "read": 1, "crn": 0, "rt": 0,
                                              "coproc": 15, "opc2": 5, "crm": 0})
    # CPSID if: imod 19:18 = 11, M 17 = 0, A I F 8:6 = 011, mode 4:0 = 0
    assert fields(0xF10C00C0) == ("cps", {"imod": 3, "change_mode": 0, "aif": 0b011,
                                          "mode": 0})
    # MSR SPSR_fc, #0x1f: R = 1, mask = 1001, imm12 = 0x01f (rotation 0)
    assert fields(0xE369F01F) == ("msr", {"spsr": 1, "mask": 0b1001, "imm": 0x01F})


def test_the_condition_is_not_a_field():
    name, got = fields(0x10810002)  # addne r0, r1, r2
    assert name == "dp" and "cond" not in got and got["op"] == dp.OP_ADD


# --------------------------------------------------------------------------- malformed lines


def _error(bits: str, handler=dp.trans_movw, **named) -> str:
    with pytest.raises(DecodePatternError) as info:
        pattern(bits, "movw", handler, **named)
    message = str(info.value)
    assert isinstance(info.value, TcglabError) and "\n" not in message
    assert "'movw'" in message
    return message


def test_a_letter_that_names_nothing_is_rejected():
    message = _error("cccc 0011 0000 iiii dddd iiii iqii iiii")
    assert "letter 'q' names no field" in message


def test_a_register_typo_is_rejected():
    # one letter of Rd typed as n: rd is 3 bits, rn 1
    message = _error("cccc 0011 0000 iiii dddn iiii iiii iiii")
    assert "'rd'" in message and "4 adjacent bits" in message


def test_a_field_the_handler_does_not_take_is_rejected():
    message = _error("cccc 0011 0000 iiii dddd iiii iiii aaaa")
    assert "trans_movw takes no 'ra'" in message


def test_an_argument_no_field_gives_is_rejected():
    message = _error("cccc 0011 0000 ---- dddd ---- ---- ----")
    assert "trans_movw needs 'imm'" in message


def test_naming_a_letter_the_line_does_not_use_is_rejected():
    message = _error("cccc 0011 0000 iiii dddd iiii iiii iiii", q="spsr")
    assert "letter 'q'" in message


def test_a_constant_clashing_with_a_field_and_a_short_line_are_rejected():
    assert "'imm' twice" in _error("cccc 0011 0000 iiii dddd iiii iiii iiii", imm=1)
    assert "31 bits" in _error("cccc 0011 0000 iiii dddd iiii iiii iii")


def test_a_line_with_a_split_signed_field_and_a_constant():
    seen = []

    def handler(ctx, rd, imm, kind="plain"):
        seen.append((ctx, rd, imm, kind))

    with pytest.raises(DecodePatternError, match="'imm' twice"):  # two letters, one name
        compile_pattern("---- 1010 iiii dddd ssss ssss iiii iiii", "t", handler,
                        {"d": "rd", "i": "imm"}, s=signed("imm"))
    p = compile_pattern("---- 1010 iiii dddd iiii iiii iiii iiii", "t", handler,
                        {"d": "rd"}, i=signed("imm"), kind="k")
    assert p.fields == (Field("imm", ((20, 4), (0, 16)), True), Field("rd", ((16, 4),)))
    assert p.mask == 0x0F00_0000 and p.value == 0x0A00_0000
    p.translate("ctx", 0x0A85_1234)  # imm = 8:1234 (20 bits, negative), rd = 5
    assert seen == [("ctx", 5, 0x8_1234 - 0x10_0000, "k")]
    assert p.extract(0x0A75_1234) == {"imm": 0x7_1234, "rd": 5}


# --------------------------------------------------------------------------- every class


def place(field: Field, value: int) -> int:
    """The bits of ``value`` where ``field`` lives in the word (the inverse of extract)."""
    word = 0
    shift = field.width
    for lsb, width in field.parts:
        shift -= width
        word |= ((value >> shift) & ((1 << width) - 1)) << lsb
    return word


@st.composite
def class_words(draw):
    """A pattern and a word of its class: the fixed bits, anything elsewhere."""
    p = draw(st.sampled_from(PATTERNS))
    return p, p.value | (draw(st.integers(0, 0xFFFF_FFFF)) & ~p.mask)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(case=class_words())
def test_fields_put_back_where_the_letters_say_give_the_word(case):
    p, insn = case
    got = p.extract(insn)
    assert list(got) == [f.name for f in p.fields]
    word = p.value
    for f in p.fields:
        value = got[f.name]
        low = -(1 << (f.width - 1)) if f.signed else 0
        assert low <= value < low + (1 << f.width), (f.name, value)
        if f.name in REGISTERS:
            assert 0 <= value <= 15
        word |= place(f, value)
    covered = p.mask | sum(place(f, -1) for f in p.fields)  # bits fixed or in a field
    assert word == insn & covered, f"{p.name} {insn:#010x}"


def test_fields_overlap_neither_fixed_bits_nor_each_other():
    assert LETTERS["c"] is None  # the condition is the frontend's, not a field
    for p in PATTERNS:
        bits = sum(place(f, -1) for f in p.fields)
        assert bits & p.mask == 0, p.name  # fields never overlap fixed bits
        widths = [f.width for f in p.fields]
        assert sum(widths) == bin(bits).count("1"), p.name  # nor each other


# --------------------------------------------------------------------------- against unicorn

#: classes that read and write only general registers and flags: their words run as one
#: instruction on both sides with nothing to set up but registers
REGISTER_ONLY = ("dp", "movw", "movt", "mul", "mla", "mls", "umaal", "mull", "clz", "qadd",
                 "smulxy", "parallel", "sel", "usad8", "pkh", "sat", "sat16", "extend", "rev",
                 "rev16", "rbit", "revsh", "smlad", "smlsd", "smlald", "sdiv", "udiv",
                 "smmla", "smmls", "sbfx", "ubfx", "bfi")


@st.composite
def register_only_words(draw):
    """A word of a register-only class, its fields drawn through the decoder's own
    fields; registers r0-r14 (r15 is UNPREDICTABLE in most of them), any condition."""
    p = draw(st.sampled_from([p for p in PATTERNS if p.name in REGISTER_ONLY]))
    insn = p.value | (draw(st.integers(0, 0xFFFF_FFFF)) & ~p.mask)
    for f in p.fields:
        if f.name in REGISTERS:
            insn = insn & ~place(f, -1) | place(f, draw(st.integers(0, 14)))
    return (insn & 0x0FFF_FFFF) | draw(st.integers(0, 14)) << 28


@pytest.fixture(scope="module")
def lockstep():
    from tests.support.oracles import oracle_module

    oracle_module("unicorn", "pip install '.[test]'")
    from tests.support.arm_lockstep import RAM_BASE, Lockstep, arm_machine, make_unicorn

    m = arm_machine("1M")
    uc = make_unicorn(1 << 20)
    return Lockstep(m, uc, 1 << 20), RAM_BASE


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(insn=register_only_words(), seed=st.integers(0, 2**32 - 1), nzcv=st.integers(0, 15))
def test_register_only_classes_match_unicorn(lockstep, insn, seed, nzcv):
    from unicorn import UcError

    ls, code = lockstep
    m, fe, cpu, uc = ls.m, ls.fe, ls.cpu, ls.uc
    rng = random.Random(seed)
    words = insn.to_bytes(4, "little") + bytes.fromhex("f000f0e7")  # then an udf
    m.memory.write_bytes(code, words)
    uc.mem_write(code, words)
    for n in range(15):
        fe.set_reg(cpu, n, rng.choice([0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                       rng.getrandbits(32), rng.getrandbits(5)]))
    fe.set_reg(cpu, 15, code)
    fe.cpsr_write(cpu, nzcv << 28 | 0x1D3)
    cpu.run_state = CPURunState.RUNNING
    ls.copy_state_to_unicorn()
    try:
        uc.emu_start(code, code + 4, count=1)
        theirs = None
    except UcError as exc:
        theirs = exc
    try:
        cpu_exec(m, cpu, 1)
        ours = None
    except (GuestError, GuestException) as exc:
        ours = exc
    where = f"{insn:#010x} ({decode(insn).name})"
    if theirs is not None:
        assert ours is not None and "\n" not in str(ours), f"only unicorn faulted: {where}"
        return
    assert ours is None, f"tcglab raised {ours!r} where unicorn ran: {where}"
    ls.compare(code, insn)
