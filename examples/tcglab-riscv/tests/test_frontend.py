"""Unit tests of the RV32IMA frontend: semantics that the oracles cannot reach or that
must hold under every memory policy (AMOs against reservations), traps and errors."""

from __future__ import annotations

import pytest
from rvsupport import CODE, DATA, plugins, read32, reg, run_snippet, rv_machine
from rvasm import asm

from core.cpu import CPURunState
from core.errors import GuestError
from core.exec import cpu_exec
from tcglab_riscv.disas import disas

A0, A1, A2, A3, A4, A5 = 10, 11, 12, 13, 14, 15
WFI = "wfi"
POLICIES = [name for name, _c, _p in plugins().registry.memory_policies]


def test_registered_through_the_entry_point():
    reg_ = plugins().registry
    assert "riscv32" in reg_.frontends
    assert reg_.frontends.items["riscv32"][1] == "riscv32"  # the entry point's plugin name
    assert {"rv-counter", "rv-aba", "rv-aba_window", "rv-compute"} <= \
        set(reg_.workloads.items)


def test_alu_and_x0():
    m = run_snippet(asm("addi a0, zero, -5", "srai a1, a0, 1", "srli a2, a0, 28",
                        "sltiu a3, a0, 3", "slt a4, a0, zero", "addi zero, zero, 9",
                        "lui a5, 0xfffff", "auipc t0, 1", WFI))
    assert reg(m, A0) == 0xFFFF_FFFB and reg(m, A1) == 0xFFFF_FFFD and reg(m, A2) == 15
    assert reg(m, A3) == 0 and reg(m, A4) == 1 and reg(m, 0) == 0
    assert reg(m, A5) == 0xFFFF_F000 and reg(m, 5) == CODE + 7 * 4 + 0x1000


def test_shift_amount_uses_low_five_bits():
    m = run_snippet(asm("sll a2, a0, a1", "sra a3, a4, a1", WFI),
                    {A0: 1, A1: 33, A4: 0x8000_0000})
    assert reg(m, A2) == 2 and reg(m, A3) == 0xC000_0000


@pytest.mark.parametrize("a,b,div,divu,rem,remu", [
    (7, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 7, 7),                # x / 0
    (0x8000_0000, 0xFFFF_FFFF, 0x8000_0000, 0, 0, 0x8000_0000),  # INT_MIN / -1
    (0xFFFF_FFF9, 2, 0xFFFF_FFFD, 0x7FFF_FFFC, 0xFFFF_FFFF, 1),  # -7 / 2 truncates
    (0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0, 0),
])
def test_division_corner_cases(a, b, div, divu, rem, remu):
    m = run_snippet(asm("div a2, a0, a1", "divu a3, a0, a1", "rem a4, a0, a1",
                        "remu a5, a0, a1", WFI), {A0: a, A1: b})
    assert [reg(m, r) for r in (A2, A3, A4, A5)] == [div, divu, rem, remu]


def test_division_writing_its_own_source():
    m = run_snippet(asm("div a0, a0, a1", "rem a1, a1, a1", WFI), {A0: 9, A1: 0})
    assert reg(m, A0) == 0xFFFF_FFFF and reg(m, A1) == 0


def test_high_products():
    m = run_snippet(asm("mulh a2, a0, a1", "mulhu a3, a0, a1", "mulhsu a4, a0, a1",
                        "mul a5, a0, a1", WFI), {A0: 0xFFFF_FFFE, A1: 3})
    assert reg(m, A2) == 0xFFFF_FFFF  # -2 * 3 = -6
    assert reg(m, A3) == 2  # 0xfffffffe * 3
    assert reg(m, A4) == 0xFFFF_FFFF  # signed -2 * unsigned 3
    assert reg(m, A5) == 0xFFFF_FFFA


def test_loads_and_stores_sign_and_width():
    m = run_snippet(asm("lb a1, 3(a0)", "lbu a2, 3(a0)", "lh a3, 2(a0)", "lhu a4, 2(a0)",
                        "sb a1, 8(a0)", "sh a1, 12(a0)", "sw a1, 16(a0)", WFI),
                    {A0: DATA}, data={DATA: 0x8081_7F01})
    assert reg(m, A1) == 0xFFFF_FF80 and reg(m, A2) == 0x80
    assert reg(m, A3) == 0xFFFF_8081 and reg(m, A4) == 0x8081
    assert read32(m, DATA + 8) == 0x80 and read32(m, DATA + 12) == 0xFF80
    assert read32(m, DATA + 16) == 0xFFFF_FF80


def test_lr_sc_success_and_failure_codes():
    m = run_snippet(asm("lr.w a1, (a0)", "addi a1, a1, 1", "sc.w a2, a1, (a0)",
                        "sc.w a3, a1, (a0)", WFI), {A0: DATA}, data={DATA: 41})
    assert reg(m, A2) == 0 and reg(m, A3) != 0  # the first SC used up the reservation
    assert read32(m, DATA) == 42


@pytest.mark.parametrize("op,old,value,new", [
    ("amoswap.w", 5, 9, 9), ("amoadd.w", 0xFFFF_FFFF, 2, 1), ("amoxor.w", 6, 3, 5),
    ("amoand.w", 6, 3, 2), ("amoor.w", 6, 3, 7), ("amomin.w", 0xFFFF_FFFF, 1, 0xFFFF_FFFF),
    ("amomax.w", 0xFFFF_FFFF, 1, 1), ("amominu.w", 0xFFFF_FFFF, 1, 1),
    ("amomaxu.w", 0xFFFF_FFFF, 1, 0xFFFF_FFFF),
])
def test_amo_semantics(op, old, value, new):
    m = run_snippet(asm(f"{op}.aqrl a2, a1, (a0)", WFI), {A0: DATA, A1: value},
                    data={DATA: old})
    assert reg(m, A2) == old and read32(m, DATA) == new


def test_amo_rd_may_be_a_source():
    m = run_snippet(asm("amoadd.w a1, a1, (a0)", WFI), {A0: DATA, A1: 3}, data={DATA: 10})
    assert reg(m, A1) == 10 and read32(m, DATA) == 13


def test_misaligned_amo_is_a_one_line_error():
    with pytest.raises(GuestError) as info:
        run_snippet(asm("amoadd.w a2, a1, (a0)", WFI), {A0: DATA + 2})
    assert "unaligned" in str(info.value) and f"{CODE:#010x}" in str(info.value)


# ---- AMOs against another hart's reservation, under every policy ------------------------

#: policies whose SC only compares values: an AMO that leaves the value as it was
#: (amoadd of 0) cannot break the reservation; every other policy sees the store
VALUE_COMPARING = {"cmpxchg", "none"}


@pytest.mark.parametrize("amo_mode", ["lock", "exclusive"])
@pytest.mark.parametrize("policy", POLICIES)
def test_amo_store_breaks_another_harts_reservation(policy, amo_mode):
    code0 = asm("lr.w a1, (a0)", "sc.w a2, a1, (a0)", WFI)
    code1 = asm("amoadd.w a3, zero, (a0)", WFI)
    m = rv_machine(2, policy=policy, options={"riscv32": {"amo": amo_mode}})
    m.memory.write_bytes(CODE, code0)
    m.memory.write_bytes(CODE + 0x100, code1)
    h0, h1 = m.cpus
    for cpu, pc in ((h0, CODE), (h1, CODE + 0x100)):
        m.frontend.set_reg(cpu, 32, pc)
        m.frontend.set_reg(cpu, A0, DATA)
        cpu.run_state = CPURunState.RUNNING
    assert cpu_exec(m, h0, 1) == 1  # LR
    assert cpu_exec(m, h1, 1) == 1  # the AMO: same value stored back
    assert cpu_exec(m, h0, 1) == 1  # SC
    sc_failed = reg(m, A2) != 0
    assert sc_failed == (policy not in VALUE_COMPARING), (policy, reg(m, A2))


def test_amo_exclusive_mode_runs_alone():
    m = run_snippet(asm("amoadd.w a2, a1, (a0)", WFI), {A0: DATA, A1: 1}, data={DATA: 1},
                    options={"riscv32": {"amo": "exclusive"}})
    assert read32(m, DATA) == 2 and reg(m, A2) == 1
    assert m.cpus[0].stats.exceptions >= 1  # left the TB for the exclusive step


# ---- CSRs, traps, errors ----------------------------------------------------------------


def test_csr_reads_and_scratch():
    m = run_snippet(asm("csrr a1, mhartid", "csrr a2, misa", "csrrw a3, mscratch, a0",
                        "csrrs a4, mscratch, zero", "csrrci a5, mscratch, 1", "csrr t0, mscratch",
                        "csrr t1, mstatus", WFI), {A0: 0x1235})
    assert reg(m, A1) == 0 and reg(m, A2) == 0x4000_1101
    assert reg(m, A3) == 0 and reg(m, A4) == 0x1235 and reg(m, A5) == 0x1235
    assert reg(m, 5) == 0x1234 and reg(m, 6) & 0x1800 == 0x1800


def test_mhartid_per_hart():
    m = rv_machine(3)
    m.memory.write_bytes(CODE, asm("csrr a1, mhartid", WFI))
    for cpu in m.cpus:
        m.frontend.set_reg(cpu, 32, CODE)
        cpu.run_state = CPURunState.RUNNING
    m.run()
    assert [reg(m, A1, i) for i in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("code,words", [
    ("csrw mhartid, a0", None), ("csrr a0, 0x7c0", None), (None, [0x0000_0000]),
    (None, [0x0000_4501]),  # a compressed encoding: there is no C extension
])
def test_illegal_instruction_is_a_one_line_error(code, words):
    import struct

    program = asm(code) if code else b"".join(struct.pack("<I", w) for w in words)
    with pytest.raises(GuestError) as info:
        run_snippet(program + asm(WFI))
    text = str(info.value)
    assert "\n" not in text and "vCPU 0" in text and f"{CODE:#010x}" in text


def test_trap_to_mtvec_and_mret():
    handler = CODE + 0x80
    code = asm("csrrw zero, mtvec, t0", ".word 0x00000000", "addi a3, zero, 7", WFI)
    handler_code = asm("csrr a1, mcause", "csrr a2, mepc", "addi a2, a2, 4",
                       "csrrw zero, mepc, a2", "mret")
    m = rv_machine()
    m.memory.write_bytes(CODE, code)
    m.memory.write_bytes(handler, handler_code)
    m.frontend.set_reg(m.cpus[0], 32, CODE)
    m.frontend.set_reg(m.cpus[0], 5, handler)
    m.run()
    assert reg(m, A1) == 2 and reg(m, A2) == CODE + 8 and reg(m, A3) == 7


def test_ecall_without_handler_and_misaligned_jump():
    with pytest.raises(GuestError, match="ecall"):
        run_snippet(asm("ecall"))
    with pytest.raises(GuestError, match="misaligned"):
        run_snippet(asm("addi a0, zero, 6", "jalr ra, 0(a0)"))


def test_semihosting_console_and_exit_status():
    # a0 = SYS_WRITE0, a1 = string; then SYS_EXIT_EXTENDED (a1 -> [reason, status])
    sh = ["slli zero, zero, 31", "ebreak", "srai zero, zero, 7"]
    code = asm("addi a0, zero, 4", "addi a1, s0, 0", *sh,
               "addi a0, zero, 0x20", "addi a1, s1, 0", *sh, WFI)
    m = rv_machine()
    m.memory.write_bytes(CODE, code)
    m.memory.write_bytes(DATA, b"hi rv\n\0")
    m.memory.write_bytes(DATA + 64, (0x20026).to_bytes(4, "little") + (5).to_bytes(4, "little"))
    m.frontend.set_reg(m.cpus[0], 32, CODE)
    m.frontend.set_reg(m.cpus[0], 8, DATA)
    m.frontend.set_reg(m.cpus[0], 9, DATA + 64)
    result = m.run()
    assert m.platform.stdout.getvalue() == b"hi rv\n"
    assert result.reason == "exit" and result.exit_status == 5


def test_plain_ebreak_is_a_breakpoint():
    with pytest.raises(GuestError, match="ebreak"):
        run_snippet(asm("ebreak"))


def test_disassembly():
    assert disas(CODE, 0x100726AF) == "lr.w a3, (a4)"
    assert disas(CODE, 0x0C0727AF | (1 << 26)) == "amoswap.w.aq a5, zero, (a4)"
    assert disas(CODE, 0xF1402573) == "csrrs a0, mhartid, zero"
    assert disas(CODE, 0x02B50533) == "mul a0, a0, a1"
    assert disas(CODE, 0x0000_0000) == ".word 0x00000000"
