"""A32 loads and stores: every addressing mode, dual, multiple, and the exclusives."""

from __future__ import annotations

import pytest

from core.errors import GuestError
from tests.support.a32 import CODE, DATA, assemble, load, make_machine, read32, reg, run

M = 0xFFFF_FFFF
B = DATA + 0x100  # base address used by the addressing-mode cases


# --------------------------------------------------------------------------- word / byte


@pytest.mark.parametrize("src,regs,want_regs,want_mem", [
    # immediate offset, pre-indexed, post-indexed; U = 0 and 1
    ("ldr r0, [r1, #4]", {1: B}, {0: 0x1111_0004, 1: B}, {}),
    ("ldr r0, [r1, #-4]", {1: B}, {0: 0x1111_FFFC, 1: B}, {}),
    ("ldr r0, [r1, #4]!", {1: B}, {0: 0x1111_0004, 1: B + 4}, {}),
    ("ldr r0, [r1], #4", {1: B}, {0: 0x1111_0000, 1: B + 4}, {}),
    ("ldr r0, [r1], #-4", {1: B}, {0: 0x1111_0000, 1: B - 4}, {}),
    # register offsets, shifted
    ("ldr r0, [r1, r2]", {1: B, 2: 8}, {0: 0x1111_0008}, {}),
    ("ldr r0, [r1, -r2]", {1: B, 2: 8}, {0: 0x1111_FFF8}, {}),
    ("ldr r0, [r1, r2, lsl #2]", {1: B, 2: 2}, {0: 0x1111_0008}, {}),
    ("ldr r0, [r1, r2, lsl #2]!", {1: B, 2: 1}, {0: 0x1111_0004, 1: B + 4}, {}),
    ("ldr r0, [r1], r2, asr #1", {1: B, 2: (-8) & M}, {0: 0x1111_0000, 1: B - 4}, {}),
    ("ldr r0, [r1, r2, lsr #32]", {1: B, 2: M}, {0: 0x1111_0000}, {}),
    # bytes, halfwords, signed
    ("ldrb r0, [r1, #7]", {1: B}, {0: 0x11}, {}),
    ("ldrsb r0, [r1, #-4]", {1: B}, {0: 0xFFFF_FFFC}, {}),
    ("ldrh r0, [r1, #6]", {1: B}, {0: 0x1111}, {}),
    ("ldrsh r0, [r1, #-2]", {1: B}, {0: 0x1111}, {}),
    ("ldrsh r0, [r1, #-4]", {1: B}, {0: 0xFFFF_FFFC}, {}),
    ("ldrh r0, [r1, r2]!", {1: B, 2: 4}, {0: 0x0004, 1: B + 4}, {}),
    ("ldrsb r0, [r1], #-3", {1: B}, {0: 0, 1: B - 3}, {}),
    # stores
    ("str r0, [r1, #8]", {0: 0xCAFE, 1: B}, {}, {B + 8: 0xCAFE}),
    ("str r0, [r1, #-8]!", {0: 0xCAFE, 1: B}, {1: B - 8}, {B - 8: 0xCAFE}),
    ("str r0, [r1], r2", {0: 0xCAFE, 1: B, 2: 12}, {1: B + 12}, {B: 0xCAFE}),
    ("strb r0, [r1, #1]", {0: 0x1234_56AB, 1: B}, {}, {B: 0x1111_AB00}),
    ("strh r0, [r1, #2]", {0: 0x1234_ABCD, 1: B}, {}, {B: 0xABCD_0000}),
    ("strh r0, [r1], #-2", {0: 0xABCD, 1: B}, {1: B - 2}, {B: 0x1111_ABCD}),
    # unaligned word load (allowed with SCTLR.A = 0)
    ("ldr r0, [r1, #2]", {1: B}, {0: 0x0004_1111}, {}),
    # unprivileged forms behave as post-indexed without an MMU
    ("ldrt r0, [r1], #4", {1: B}, {0: 0x1111_0000, 1: B + 4}, {}),
])
def test_addressing_modes(src, regs, want_regs, want_mem):
    data = {B + off: 0x1111_0000 | (off & 0xFFFF) for off in range(-16, 20, 4)}
    m = run(src + "; wfi", regs, data=data)
    for r, value in want_regs.items():
        assert reg(m, r) == value, (src, r, hex(reg(m, r)))
    for addr, value in want_mem.items():
        assert read32(m, addr) == value, (src, hex(addr))


def test_pc_relative_literal_and_store_of_pc():
    m = run("ldr r0, [pc, #4]; wfi; wfi; .word 0xfeedface")
    assert reg(m, 0) == 0xFEEDFACE
    m = run("str pc, [r1]; wfi", {1: DATA})
    assert read32(m, DATA) == CODE + 8


def test_ldr_pc_interworks_and_pop_returns():
    m = run("ldr pc, [r1]; wfi; mov r0, #5; wfi", {1: DATA}, data={DATA: CODE + 8})
    assert reg(m, 0) == 5
    src = "bl func; mov r1, #2; wfi; func: push {r4, lr}; mov r0, #1; pop {r4, pc}"
    m = run(src)
    assert (reg(m, 0), reg(m, 1)) == (1, 2)


def test_branch_to_thumb_is_a_clean_error():
    with pytest.raises(GuestError, match="Thumb state is not supported: execution reached "
                                         "0x40000008"):
        run("ldr pc, [r1]; wfi; wfi", {1: DATA}, data={DATA: CODE + 9})
    with pytest.raises(GuestError, match="Thumb state is not supported") as info:
        run("bx r0; wfi", {0: CODE + 0x101})
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- dual


def test_ldrd_strd():
    m = run("ldrd r2, r3, [r0, #8]!; strd r2, r3, [r1], #-8; wfi", {0: DATA, 1: DATA + 0x40},
            data={DATA + 8: 0x1111_1111, DATA + 12: 0x2222_2222})
    assert (reg(m, 2), reg(m, 3), reg(m, 0), reg(m, 1)) == (0x1111_1111, 0x2222_2222, DATA + 8,
                                                          DATA + 0x38)
    assert (read32(m, DATA + 0x40), read32(m, DATA + 0x44)) == (0x1111_1111, 0x2222_2222)
    m = run("ldrd r4, r5, [r0, -r1]; wfi", {0: DATA + 0x10, 1: 0x10},
            data={DATA: 7, DATA + 4: 9})
    assert (reg(m, 4), reg(m, 5)) == (7, 9)


def test_ldrd_requires_word_alignment():
    with pytest.raises(GuestError, match="unaligned"):
        run("ldrd r2, r3, [r0]; wfi", {0: DATA + 2})


# --------------------------------------------------------------------------- multiple


@pytest.mark.parametrize("mode,first,wb", [
    ("ia", 0, 12), ("ib", 4, 12), ("da", -8, -12), ("db", -12, -12),
])
def test_ldm_stm_modes(mode, first, wb):
    base = DATA + 0x80
    m = run(f"stm{mode} r0!, {{r1, r2, r3}}; ldm{mode} r4, {{r5, r6, r7}}; wfi",
            {0: base, 1: 0xA1, 2: 0xA2, 3: 0xA3, 4: base})
    assert reg(m, 0) == base + wb
    assert [read32(m, base + first + 4 * i) for i in range(3)] == [0xA1, 0xA2, 0xA3]
    assert [reg(m, r) for r in (5, 6, 7)] == [0xA1, 0xA2, 0xA3]
    assert reg(m, 4) == base  # no writeback


def test_push_pop_and_stm_with_pc():
    m = run("push {r0, r1, lr}; pop {r2, r3, r4}", {0: 1, 1: 2, 14: 3, 5: DATA},
            words=[0xE8858001, 0xE320F003])  # stmia r5, {r0, pc}; wfi
    assert [reg(m, r) for r in (2, 3, 4)] == [1, 2, 3]
    assert read32(m, DATA + 4) == CODE + 8 + 8  # the stm is the third instruction


def test_ldm_base_in_list_without_writeback_loads_it():
    m = run("ldmia r0, {r0, r1}; wfi", {0: DATA}, data={DATA: 0x55, DATA + 4: 0x66})
    assert (reg(m, 0), reg(m, 1)) == (0x55, 0x66)


def test_stm_writeback_stores_the_original_base():
    m = run("stmia r0!, {r0, r1}; wfi", {0: DATA, 1: 7})
    assert read32(m, DATA) == DATA and reg(m, 0) == DATA + 8


def test_ldm_unaligned_base_faults():
    with pytest.raises(GuestError, match="unaligned"):
        run("ldmia r0, {r1, r2}; wfi", {0: DATA + 1})


def test_ldm_exception_return_restores_cpsr():
    # SVC mode; SPSR = SYS mode with Z set; ldmfd sp!, {r0, pc}^ returns into SYS.
    src = "msr spsr_fsxc, r1; ldmfd sp!, {r0, pc}^; wfi; mrs r2, cpsr; wfi"
    m = run(src, {1: 0x4000_001F, 13: DATA}, data={DATA: 0x77, DATA + 4: CODE + 12})
    assert reg(m, 0) == 0x77
    assert reg(m, 2) == 0x4000_001F
    assert m.frontend.cpsr_read(m.cpus[0]) & 0x1F == 0x1F


# --------------------------------------------------------------------------- exclusives


def test_ldrex_strex_pair_succeeds():
    m = run("ldrex r1, [r0]; add r1, r1, #1; strex r2, r1, [r0]; wfi", {0: DATA, 2: 99},
            data={DATA: 41})
    assert (read32(m, DATA), reg(m, 2)) == (42, 0)


def test_strex_without_ldrex_fails():
    m = run("strex r2, r1, [r0]; wfi", {0: DATA, 1: 5, 2: 99}, data={DATA: 41})
    assert (read32(m, DATA), reg(m, 2)) == (41, 1)


def test_clrex_makes_strex_fail():
    m = run("ldrex r1, [r0]; clrex; strex r2, r1, [r0]; wfi", {0: DATA, 2: 99})
    assert reg(m, 2) == 1


def test_second_strex_fails():
    m = run("ldrex r1, [r0]; strex r2, r1, [r0]; strex r3, r1, [r0]; wfi", {0: DATA})
    assert (reg(m, 2), reg(m, 3)) == (0, 1)


def test_ldrexd_strexd_is_one_doubleword():
    src = "ldrexd r2, r3, [r0]; adds r2, r2, #1; adc r3, r3, #0; strexd r4, r2, r3, [r0]; wfi"
    m = run(src, {0: DATA, 4: 99}, data={DATA: M, DATA + 4: 7})
    assert (reg(m, 4), read32(m, DATA), read32(m, DATA + 4)) == (0, 0, 8)


@pytest.mark.parametrize("size,value,want", [("b", 0x1234_56FF, 0x1234_5600),
                                             ("h", 0x1234_FFFF, 0x1234_0000)])
def test_ldrex_byte_and_halfword(size, value, want):
    m = run(f"ldrex{size} r1, [r0]; add r1, r1, #1; strex{size} r2, r1, [r0]; wfi",
            {0: DATA}, data={DATA: value})
    assert (reg(m, 2), read32(m, DATA)) == (0, want)


def test_ldrex_requires_alignment():
    with pytest.raises(GuestError, match="unaligned"):
        run("ldrex r1, [r0]; wfi", {0: DATA + 2})


def test_exclusive_across_two_vcpus():
    # vCPU 1 stores to the reserved word between vCPU 0's LDREX and STREX: the SC fails.
    m = make_machine(vcpus=2, max_insns=200, slice_=1)
    code0 = "ldrex r1, [r0]; nop; nop; strex r2, r1, [r0]; wfi"
    code1 = "nop; str r3, [r0]; wfi"
    load(m, assemble(code0))
    m.memory.write_bytes(CODE + 0x100, assemble(code1, CODE + 0x100))
    fe = m.frontend
    fe.start_cpu(m.cpus[1], CODE + 0x100, 0)
    for cpu in m.cpus:
        fe.set_reg(cpu, 0, DATA)
        fe.set_reg(cpu, 3, 9)
    m.run()
    assert reg(m, 2, cpu=0) == 1
    assert read32(m, DATA) == 9


def test_strex_result_is_conditional():
    m = run("cmp r5, #0; ldrex r1, [r0]; strexne r2, r1, [r0]; wfi", {0: DATA, 2: 77, 5: 0})
    assert reg(m, 2) == 77
