"""PSCI over HVC on the A32 frontend and the virt board.

Only ``hvc #0`` is a PSCI call (SMCCC); any other immediate stops the run in one line.
CPU_ON resets the target, which clears its exclusive monitor once.
"""

from __future__ import annotations

import pytest

from core.cpu import CpuLoopExit
from core.errors import GuestError
from plugins.arm.cpu import ArmExcp
from plugins.arm.platform import PSCI_CPU_ON, VirtPlatform
from tests.support.a32 import CODE, guest_error_line, make_machine, reg, run
from tests.support.virt_board import Board, one_line


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
    text = guest_error_line(words=[0xE3A00321, 0xE1400071, 0xE320F003])
    assert text == f"vCPU 0: hvc #0x1 is not a PSCI call, pc={CODE + 4:#010x}"


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
