"""Encodings next to an instruction class are undefined, never a crash or a silent write.

The A32 decoder carves exceptions out of classes (MSR and the hints inside the
TST/TEQ/CMP/CMN space with S = 0, the banked MRS/MSR beside the plain ones); any 32-bit
word, and above all the words next to a decode pattern, either executes or stops the run
with a one-line :class:`GuestError` / :class:`GuestException`.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.cpu import CPURunState, GuestException
from core.errors import GuestError
from core.exec import cpu_exec
from plugins.arm import cpu as arm
from plugins.arm import translate_sys
from plugins.arm.decode import A32, A32_UNCOND, decode
from tests.support.a32 import CODE, DATA, guest_error_line, make_machine, reg, run


# --------------------------------------------------------------------------- TST/TEQ/CMP/CMN, S = 0


@pytest.mark.parametrize("insn", [
    0xE36C062E,  # cmn #imm, S = 0, Rd = 0: crashed translation (b.add(None, ...))
    0xE3630321,  # the same class, found by fuzzing
    0xE3210000,  # teq #imm, S = 0, Rd = 0: silently wrote N
    0xE32F0001,  # teq #imm, S = 0, Rd = 0, Rn = 15
    0xE3610000,  # cmn #imm, S = 0, Rd = 0
])
def test_test_ops_without_s_that_are_not_msr_are_undefined(insn):
    text = guest_error_line(words=[insn])
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


# --------------------------------------------------------------------------- MRS/MSR


def test_mrs_and_msr_register_patterns_exclude_the_banked_forms():
    """Bit 9 set (MRS/MSR banked register) never reaches trans_mrs / trans_msr_reg."""
    for insn in (0xE10F0000, 0xE14F0000, 0xE120F000, 0xE160F000):  # mrs/msr, cpsr/spsr
        assert decode(insn).handler in (translate_sys.trans_mrs, translate_sys.trans_msr_reg)
        banked = decode(insn | 1 << 9)
        assert banked is None or banked.handler not in (translate_sys.trans_mrs,
                                                        translate_sys.trans_msr_reg)
