"""Rules several A32 instruction classes share, checked in every class that applies them.

Each rule is written once in plugins/arm (translate.expand_imm, translate.no_pc, the
base Frontend's exception handling); these tests hold every user of a rule to the ARM
ARM, so a class that grew its own diverging copy fails here:

* ARMExpandImm (ARM ARM A5.2.4): data-processing and MSR immediates are imm8 rotated
  right by twice rot; a flag-setting data-processing instruction takes C from bit 31 of
  the result when rot is not zero, and keeps C when it is.
* An r15 operand where the ARM ARM says UNPREDICTABLE is an undefined instruction, in
  the multiply class (translate_dp) as in the media class (translate_media).
* An exception the platform does not take (``svc`` other than semihosting) stops the run
  in one line; it is never delivered to the guest's vectors.
"""

from __future__ import annotations

import pytest

from core.errors import GuestError
from plugins.arm import cpu as arm
from tests.support.a32 import CODE, C, guest_error_line, make_machine, reg, run

WFI = 0xE320F003
SVC_MODE = 0x1D3  # SVC, A I F masked: the reset state
IMM8 = (0x01, 0x80, 0xA5, 0xFF)


def ror(value: int, n: int) -> int:
    return ((value >> n) | (value << (32 - n))) & 0xFFFF_FFFF if n else value


def cpsr(m) -> int:
    return m.frontend.cpsr_read(m.cpus[0])


@pytest.mark.parametrize("rot", range(16))
def test_modified_immediates_expand_alike_in_data_processing_and_msr(rot):
    for imm8 in IMM8:
        imm12 = rot << 8 | imm8
        want = ror(imm8, 2 * rot)
        m = run(b"", words=[0xE3A00000 | imm12, WFI])  # mov r0, #imm
        assert reg(m, 0) == want, (rot, imm8)
        m = run(b"", words=[0xE328F000 | imm12, WFI])  # msr cpsr_f, #imm
        assert cpsr(m) >> 28 == want >> 28, (rot, imm8)
        for carry_in in (0, C):
            m = run(b"", words=[0xE3B00000 | imm12, WFI], cpsr=SVC_MODE | carry_in)  # movs
            carry = (want >> 31) * C if rot else carry_in
            assert reg(m, 0) == want and cpsr(m) & C == carry, (rot, imm8, carry_in)


# (pc form, the same instruction on r0/r4): multiply class, then media class
PC_OPERANDS = [
    (0xE00F0291, 0xE0000291),  # mul pc, r1, r2
    (0xE0CF0291, 0xE0C40291),  # smull r0, pc, r1, r2
    (0xE70F3211, 0xE7003211),  # smlad pc, r1, r2, r3
    (0xE6AFF071, 0xE6AF0071),  # sxtb pc, r1
    (0xE6EFF071, 0xE6EF0071),  # uxtb pc, r1
    (0xE78FF211, 0xE780F211),  # usad8 pc, r1, r2
    (0xE6BFFF31, 0xE6BF0F31),  # rev pc, r1
]


@pytest.mark.parametrize("with_pc,without", PC_OPERANDS, ids=lambda w: f"{w:#010x}")
def test_an_unpredictable_pc_operand_is_undefined_in_every_class(with_pc, without):
    text = guest_error_line(words=[with_pc, WFI])
    assert f"undefined instruction {with_pc:#010x} at {CODE:#010x}" in text
    m = run(b"", words=[without, WFI])
    assert reg(m, 15) == CODE + 8  # ran, and halted at the wfi


def test_an_svc_the_platform_does_not_take_is_reported_not_vectored():
    m = make_machine()
    with pytest.raises(GuestError) as err:
        run(b"", words=[0xEF000000, WFI], cpsr=arm.MODE_USR, m=m)  # svc #0, User
    text = str(err.value)
    assert "\n" not in text and f"pc={CODE:#010x}" in text, text
    assert cpsr(m) & arm.CPSR_M == arm.MODE_USR  # no SVC entry
    assert reg(m, 15) == CODE + 4  # just past the svc, not at the SVC vector (0x08)
