"""The hart's exception kinds are its own (``RiscvExcp``, the mcause codes), not
another guest's: ecall, ebreak and the semihosting call, handled and unhandled."""

from __future__ import annotations

import pytest
from rvsupport import CODE, reg, rv_machine, run_snippet
from rvasm import asm

from core.cpu import EXCP
from core.errors import GuestError
from tcglab_riscv.helpers import CAUSE_ECALL_M, RiscvExcp

A0, A1 = 10, 11


def _recording(m):
    """Record the kind of every exception the frontend is offered, then offer it."""
    seen = []
    offer = m.frontend.handle_exception

    def handle_exception(cpu, exc):
        seen.append(exc.excp)
        return offer(cpu, exc)

    m.frontend.handle_exception = handle_exception
    return seen


def _load(m, code, handler=None, handler_code=b""):
    m.memory.write_bytes(CODE, code)
    m.frontend.set_reg(m.cpus[0], 32, CODE)
    if handler is not None:
        m.memory.write_bytes(handler, handler_code)
        m.frontend.set_reg(m.cpus[0], 5, handler)


def test_unhandled_ecall_is_the_harts_own_kind():
    m = rv_machine()
    seen = _recording(m)
    _load(m, asm("ecall"))
    with pytest.raises(GuestError, match=r"^vCPU 0: unhandled exception ecall at 0x80000000 "):
        m.run()
    assert seen == [RiscvExcp.ECALL_M]
    assert type(seen[0]) is RiscvExcp and seen[0] not in set(EXCP)


def test_ecall_to_mtvec_sets_mcause_from_the_kind():
    handler = CODE + 0x80
    m = rv_machine()
    seen = _recording(m)
    _load(m, asm("csrrw zero, mtvec, t0", "ecall", "addi a0, zero, 7", "wfi"), handler,
          asm("csrr a1, mcause", "csrr a2, mepc", "addi a2, a2, 4", "csrrw zero, mepc, a2",
              "mret"))
    m.run()
    assert seen[0] is RiscvExcp.ECALL_M
    assert reg(m, A1) == CAUSE_ECALL_M == RiscvExcp.ECALL_M and reg(m, A0) == 7


def test_ebreak_and_the_semihosting_call_are_riscv_kinds():
    m = rv_machine()
    seen = _recording(m)
    _load(m, asm("ebreak"))
    with pytest.raises(GuestError, match="ebreak"):
        m.run()
    assert seen == [RiscvExcp.EBREAK]
    # the semihosting sequence (slli zero; ebreak; srai zero) is served by the board
    m = run_snippet(asm("slli zero, zero, 0x1f", "ebreak", "srai zero, zero, 7", "wfi"),
                    {A0: 0x13, A1: 0})  # SYS_ERRNO: no argument block
    assert m.platform.counters["semihosting_calls"] == 1


def test_a_data_fault_reads_in_core_words():
    with pytest.raises(GuestError) as info:
        run_snippet(asm("lui a1, 0x1", "lw a0, 0(a1)", "wfi"))
    assert str(info.value) == "vCPU 0: data fault, load of 4 bytes at 0x00001000, pc=0x80000004"
