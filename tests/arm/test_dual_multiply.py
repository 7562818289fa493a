"""SMLAD, SMLSD and their X/no-accumulate forms: Q is set by the final sum only.

ARM ARM A8.8.167 and following: the products are added (or subtracted) and then the
accumulator; overflow is checked on the result, once, so an intermediate overflow that
the accumulator brings back sets no Q.
"""

from __future__ import annotations

import pytest

from plugins.arm import cpu as arm
from tests.support.a32 import reg, run

Q = arm.CPSR_Q


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
