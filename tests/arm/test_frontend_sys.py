"""A32 system instructions: status registers and modes, CP15, exceptions, hints, decoding."""

from __future__ import annotations

import random
import struct

import pytest

from core.cpu import CPURunState
from core.errors import GuestError
from plugins.arm import cpu as arm
from plugins.arm.cpu import ArmExcp
from plugins.arm.decode import A32, A32_UNCOND, decode
from tests.support.a32 import CODE, DATA, STACK, assemble, halted, load, make_machine, reg, run

M = 0xFFFF_FFFF
WFI = 0xE320F003


class RecordingPlatform:
    """Stands in for the virt board: records every exception and resumes the guest."""

    def __init__(self, frontend):
        self.frontend = frontend
        self.seen = []

    def handle_exception(self, cpu, exc):
        self.seen.append((exc.excp, exc.info, self.frontend.get_reg(cpu, 15)))
        return exc.excp in (ArmExcp.SEMIHOST, ArmExcp.HVC, ArmExcp.SVC)


def run_recorded(words: list[int], regs: dict[int, int] | None = None):
    m = make_machine(max_insns=100)
    m.platform = RecordingPlatform(m.frontend)
    run(b"", regs, words=words, m=m)
    return m, m.platform.seen


# --------------------------------------------------------------------------- modes, PSRs


def test_reset_state():
    m = make_machine(vcpus=2)
    cpu0, cpu1 = m.cpus
    fe = m.frontend
    assert fe.cpsr_read(cpu0) == 0x1D3
    assert cpu0.run_state is CPURunState.RUNNING and cpu1.run_state is CPURunState.OFF
    assert all(fe.get_reg(cpu0, n) == 0 for n in range(15))
    assert fe.tb_flags(cpu0) == arm.MODE_SVC


def test_msr_mode_switch_banks_sp_and_lr():
    # what newlib's _stack_init does: visit each mode through msr CPSR_c and set its sp
    src = """
        mrs r0, cpsr
        msr cpsr_c, #0xd1
        mov sp, #0x1000
        mov lr, #0x11
        msr cpsr_c, #0xd2
        mov sp, #0x2000
        msr cpsr_c, #0xd7
        mov sp, #0x3000
        msr cpsr_c, #0xdb
        mov sp, #0x4000
        msr cpsr_c, #0xdf
        mov sp, #0x5000
        mov lr, #0x55
        msr cpsr_c, #0xd1
        mov r1, sp
        mov r2, lr
        msr cpsr_c, #0xdb
        mov r3, sp
        msr cpsr_c, #0xdf
        mov r4, sp
        mov r5, lr
        msr cpsr_c, r0
        mov r6, sp
        wfi
    """
    m = run(src)
    assert [reg(m, r) for r in range(1, 7)] == [0x1000, 0x11, 0x4000, 0x5000, 0x55, STACK]
    assert m.frontend.cpsr_read(m.cpus[0]) & 0x1F == arm.MODE_SVC


def test_fiq_banks_r8_to_r12():
    m = run("mov r8, #1; msr cpsr_c, #0xd1; mov r8, #2; msr cpsr_c, #0xd3; mov r9, r8; wfi")
    assert reg(m, 9) == 1
    cpu = m.cpus[0]
    m.frontend.cpsr_write(cpu, arm.MODE_FIQ, arm.CPSR_M)
    assert reg(m, 8) == 2


def test_user_mode_cannot_change_mode_or_masks():
    src = "msr cpsr_c, #0x10; msr cpsr_fc, r1; cpsid if; mrs r0, cpsr; wfi"
    m = run(src, {1: 0xF000_00D3}, cpsr=0x1D3)
    assert reg(m, 0) == 0xF000_0110  # flags written; mode, I, F (and A from reset) kept


def test_mrs_msr_spsr_and_flags():
    m = run("msr spsr_fsxc, r1; mrs r2, spsr; msr apsr_nzcvq, r3; mrs r4, apsr; wfi",
            {1: 0x8000_01D0, 3: 0x6800_0000})
    assert reg(m, 2) == 0x8000_01D0
    assert reg(m, 4) == 0x6800_01D3


def test_mrs_spsr_in_user_mode_is_undefined():
    with pytest.raises(GuestError, match="undefined instruction"):
        run("msr cpsr_c, #0x10; mrs r0, spsr; wfi")


def test_cps():
    m = run("cpsie if; mrs r0, cpsr; cpsid a; mrs r1, cpsr; cps #0x1f; mrs r2, cpsr; wfi")
    assert reg(m, 0) & 0x1FF == 0x113
    assert reg(m, 1) & 0x1FF == 0x113 | arm.CPSR_A
    assert reg(m, 2) & 0x1F == arm.MODE_SYS


def test_cpsr_write_api_banks_registers():
    m = make_machine()
    fe, cpu = m.frontend, m.cpus[0]
    fe.set_reg(cpu, 13, 0x1234)
    fe.cpsr_write(cpu, 0xF000_0010)  # user mode, all flags
    assert fe.get_reg(cpu, 13) == 0
    assert fe.cpsr_read(cpu) == 0xF000_0010
    fe.cpsr_write(cpu, arm.MODE_SVC, arm.CPSR_M)
    assert fe.get_reg(cpu, 13) == 0x1234
    fe.cpsr_write(cpu, arm.MODE_HYP, arm.CPSR_M)  # not a mode this model has: ignored
    assert fe.cpsr_read(cpu) & 0x1F == arm.MODE_SVC
    with pytest.raises(ValueError):
        fe.get_reg(cpu, 16)


def test_start_cpu():
    m = make_machine(vcpus=2)
    fe, cpu1 = m.frontend, m.cpus[1]
    fe.set_reg(cpu1, 5, 99)
    fe.start_cpu(cpu1, 0x4000_0100, 0xC0)
    assert cpu1.run_state is CPURunState.RUNNING
    assert [fe.get_reg(cpu1, n) for n in (15, 0, 5)] == [0x4000_0100, 0xC0, 0]
    assert fe.cpsr_read(cpu1) == 0x1D3


# --------------------------------------------------------------------------- CP15


def test_mrc_identification_registers():
    m = make_machine(vcpus=3, max_insns=20)
    load(m, "mrc p15, 0, r0, c0, c0, 5; mrc p15, 0, r1, c0, c0, 0; "
            "mrc p15, 0, r2, c1, c0, 0; wfi")
    fe = m.frontend
    fe.start_cpu(m.cpus[2], CODE, 0)
    m.run()
    assert reg(m, 0, cpu=0) == 0x8000_0000
    assert reg(m, 0, cpu=2) == 0x8000_0002  # the same TB, another vCPU
    assert reg(m, 1) == 0x414F_C0F0
    assert reg(m, 2) == 0x00C5_0078


def test_thread_id_registers_read_write():
    src = """
        mcr p15, 0, r1, c13, c0, 2
        mcr p15, 0, r2, c13, c0, 3
        mcr p15, 0, r3, c13, c0, 4
        mrc p15, 0, r4, c13, c0, 2
        mrc p15, 0, r5, c13, c0, 3
        mrc p15, 0, r6, c13, c0, 4
    """
    m = run(src, {1: 0x11, 2: 0x22, 3: 0x33}, words=[0xEE070FBA, WFI])  # + CP15DMB
    assert [reg(m, r) for r in (4, 5, 6)] == [0x11, 0x22, 0x33]


def test_user_mode_cp15_permissions():
    m = run("msr cpsr_c, #0x10; mcr p15, 0, r1, c13, c0, 2; mrc p15, 0, r2, c13, c0, 2; "
            "mrc p15, 0, r3, c13, c0, 3; wfi", {1: 5})
    assert (reg(m, 2), reg(m, 3)) == (5, 0)
    with pytest.raises(GuestError, match="undefined instruction"):
        run("msr cpsr_c, #0x10; mcr p15, 0, r1, c13, c0, 3; wfi")
    with pytest.raises(GuestError, match="undefined instruction"):
        run("msr cpsr_c, #0x10; mrc p15, 0, r1, c0, c0, 5; wfi")


def test_unknown_coprocessor_register_is_undefined():
    with pytest.raises(GuestError, match=r"undefined instruction 0xee1f0f1f at 0x40000000"):
        run("mrc p15, 0, r0, c15, c15, 0; wfi")
    with pytest.raises(GuestError, match="undefined instruction"):
        run("mrc p14, 0, r0, c0, c0, 0; wfi")


def test_enabling_the_mmu_is_a_clean_error():
    with pytest.raises(GuestError, match="MMU is not supported"):
        run("mov r0, #1; mcr p15, 0, r0, c1, c0, 0; wfi")


# --------------------------------------------------------------------------- exceptions


def test_semihosting_svc_and_hlt_resume_at_the_next_insn():
    m, seen = run_recorded([0xEF123456, 0xE10F0070, WFI])  # svc 0x123456; hlt 0xf000
    assert seen == [(ArmExcp.SEMIHOST, 0x123456, CODE + 4), (ArmExcp.SEMIHOST, 0xF000, CODE + 8)]
    assert halted(m)


def test_svc_and_hvc_exceptions_carry_their_immediates():
    m, seen = run_recorded([0xEF000042, 0xE1401277, WFI])  # svc 0x42; hvc #0x127
    assert seen == [(ArmExcp.SVC, 0x42, CODE + 4), (ArmExcp.HVC, 0x127, CODE + 8)]


def test_unhandled_svc_is_a_one_line_error():
    m = make_machine()
    m.platform = None
    with pytest.raises(GuestError, match="unhandled exception SVC") as info:
        run(b"", words=[0xEF000001, WFI], m=m)
    assert "\n" not in str(info.value)


def test_hvc_in_user_mode_is_undefined():
    with pytest.raises(GuestError, match="undefined instruction 0xe1400070"):
        run_recorded([0xE321F010, 0xE1400070, WFI])  # msr cpsr_c, #0x10; hvc #0


def test_undefined_instruction_message():
    with pytest.raises(GuestError) as info:
        run(b"", words=[0xE1A00000, 0xE7F000F0, WFI])
    text = str(info.value)
    assert "undefined instruction 0xe7f000f0 at 0x40000004" in text
    assert "pc=0x40000004" in text and "\n" not in text


def test_undefined_instruction_is_conditional():
    m = run(b"", {0: 1}, words=[0xE3500000, 0x07F000F0, WFI])  # cmp r0, #0; udfeq (cond 0)
    assert halted(m)


def test_untranslatable_encoding_fails_only_when_executed():
    m = run(b"", words=[0xEA000000, 0xEC000000, WFI])  # b over an LDC/STC-space word
    assert halted(m)


def test_wfi_halts_and_yield_ends_the_slice():
    m = make_machine(max_insns=100, slice_=50)
    load(m, "yield; wfe; sev; nop; wfi; mov r0, #1")
    m.run()
    assert halted(m) and reg(m, 15) == CODE + 20 and reg(m, 0) == 0


def test_bkpt_is_a_clean_error():
    with pytest.raises(GuestError, match="BKPT #0x12"):
        run("bkpt #0x12; wfi")


def test_misaligned_pc_is_a_clean_error():
    with pytest.raises(GuestError, match="misaligned pc 0x40000006"):
        run("bx r0; wfi", {0: CODE + 6})


def test_blx_immediate_to_thumb_sets_lr_then_fails_cleanly():
    m = make_machine()
    load(m, "blx #0x40000100; wfi")
    with pytest.raises(GuestError, match="Thumb state is not supported: execution reached "
                                         "0x40000100"):
        m.run()
    assert reg(m, 14) == CODE + 4


def test_barriers_and_hints_are_harmless():
    m = run("dmb ish; dsb sy; isb; pld [r0]; clrex; nop; mov r1, #3; wfi", {0: DATA})
    assert reg(m, 1) == 3


# --------------------------------------------------------------------------- decoding


def _linear(table, insn):
    for p in table.patterns:
        if insn & p.mask == p.value:
            return p
    return None


def test_bucketed_lookup_equals_a_linear_scan():
    rng = random.Random(1234)
    for _ in range(20000):
        insn = rng.getrandbits(32)
        table = A32_UNCOND if insn >> 28 == 0xF else A32
        assert table.lookup(insn) is _linear(table, insn), hex(insn)


def test_every_decode_class_translates_without_crashing():
    # Any word must translate: implemented, UNDEF, or unpredictable -> clean error.
    rng = random.Random(99)
    m = make_machine(max_insns=1)
    words = [p.value | (rng.getrandbits(32) & ~p.mask) for p in A32.patterns + A32_UNCOND.patterns
             for _ in range(8)]
    words += [rng.getrandbits(32) for _ in range(300)]
    for i, word in enumerate(words):
        m.memory.write_bytes(CODE + 4 * i, struct.pack("<I", word))
    cpu = m.cpus[0]
    for flags in (arm.MODE_SVC, arm.MODE_USR, arm.MODE_SYS, arm.MODE_FIQ):
        for i in range(len(words)):
            tb = m.translator.translate(cpu, CODE + 4 * i, flags, max_insns=1, cache=False)
            assert tb.icount == 1


def test_disassembly_text():
    fe = make_machine().frontend
    assert fe.disas(CODE, 0xE0810002).startswith("add")
    assert "0xe7f000f0" not in fe.disas(CODE, 0xE0810002)
    assert decode(0xE0810002).name == "dp"


def test_assembler_round_trip_sanity():
    assert assemble("wfi") == struct.pack("<I", WFI)


def test_tbs_use_each_goto_tb_slot_at_most_once():
    rng = random.Random(7)
    m = make_machine(max_insns=1)
    words = [p.value | (rng.getrandbits(32) & ~p.mask) for p in A32.patterns + A32_UNCOND.patterns
             for _ in range(4)]
    for i, word in enumerate(words):
        m.memory.write_bytes(CODE + 4 * i, struct.pack("<I", word))
    cpu = m.cpus[0]
    for i in range(len(words)):
        tb = m.translator.translate(cpu, CODE + 4 * i, arm.MODE_SVC, cache=False)
        slots = [op.args[0] for op in tb.ops if op.name == "goto_tb"]
        assert sorted(slots) == sorted(set(slots)), hex(words[i])


def test_tb_flags_carry_mode_and_thumb():
    m = make_machine()
    fe, cpu = m.frontend, m.cpus[0]
    fe.cpsr_write(cpu, arm.MODE_USR | arm.CPSR_T, arm.CPSR_M | arm.CPSR_T)
    assert fe.tb_flags(cpu) == arm.MODE_USR | arm.CPSR_T


def test_frontend_is_registered_by_the_arm_plugin():
    from core.plugins import PluginManager
    reg = PluginManager(autoload=False).registry
    assert [(name, plugin) for name, _cls, plugin in reg.frontends] == [("arm", "arm")]


@pytest.mark.parametrize("slice_", [1, 3, 1000])
def test_results_do_not_depend_on_the_slice(slice_):
    src = """
        mov r0, #0
        mov r1, #37
    loop:
        tst r1, #1
        addne r0, r0, r1
        subeq r0, r0, #1
        str r0, [r2], #4
        subs r1, r1, #1
        bgt loop
        ldmdb r2, {r3, r4}
        wfi
    """
    m = make_machine(max_insns=10_000, slice_=slice_)
    run(src, {2: DATA}, m=m)
    assert [reg(m, r) for r in (0, 1, 3, 4)] == [343, 0, 342, 343]
