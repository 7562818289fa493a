"""CPSR.E (big-endian data) is refused in one line, however it would be set.

tcglab runs little-endian data only: MSR with E = 1 and an exception return restoring an
SPSR with E = 1 stop the run naming the pc; the other bits MSR writes are unaffected,
and User mode cannot reach E at all.
"""

from __future__ import annotations

import pytest

from plugins.arm import cpu as arm
from tests.support.a32 import CODE, guest_error_line, reg, run


@pytest.mark.parametrize("src,at", [
    ("msr cpsr_x, #0x200; wfi", CODE),
    ("mov r0, #0x200; msr cpsr_x, r0; wfi", CODE + 4),
    ("mrs r0, cpsr; orr r0, r0, #0x200; msr cpsr_fsxc, r0; wfi", CODE + 8),
    # an exception return restoring an SPSR with E = 1
    ("mrs r0, cpsr; orr r0, r0, #0x200; msr spsr_fsxc, r0; add lr, pc, #0; movs pc, lr; wfi",
     CODE + 16),
])
def test_big_endian_via_msr_or_exception_return_is_refused(src, at):
    text = guest_error_line(src)
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
