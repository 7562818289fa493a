"""A32 data processing, multiplies and media arithmetic, checked against the ARM ARM.

Flag results are compared with a transcription of the ARM ARM pseudocode
(AddWithCarry, Shift_C, ConditionPassed) rather than with hand-written numbers where
the space is small enough to sweep.
"""

from __future__ import annotations

import pytest

from tests.support.a32 import C, CODE, N, V, Z, flags, halted, reg, run

M = 0xFFFF_FFFF


# --------------------------------------------------------------------------- reference


def add_with_carry(x: int, y: int, carry: int) -> tuple[int, int]:
    """ARM ARM A2.2.1 AddWithCarry: (result, NZCV bits)."""
    unsigned = x + y + carry
    sx = x - (1 << 32) if x >> 31 else x
    sy = y - (1 << 32) if y >> 31 else y
    signed = sx + sy + carry
    result = unsigned & M
    sr = result - (1 << 32) if result >> 31 else result
    nzcv = (N if result >> 31 else 0) | (Z if result == 0 else 0) | \
        (C if result != unsigned else 0) | (V if sr != signed else 0)
    return result, nzcv


def shift_c(value: int, stype: str, amount: int, carry: int) -> tuple[int, int]:
    """ARM ARM A8.4.3 Shift_C for amounts 0..255 (register shifts)."""
    if amount == 0:
        return value, carry
    if stype == "lsl":
        wide = value << amount
        return wide & M, (wide >> 32) & 1
    if stype == "lsr":
        return (value >> amount) & M, (value >> (amount - 1)) & 1 if amount <= 32 else 0
    if stype == "asr":
        sv = value - (1 << 32) if value >> 31 else value
        return (sv >> amount) & M, (sv >> (min(amount, 32) - 1)) & 1
    n = amount % 32  # ror
    result = ((value >> n) | (value << (32 - n))) & M if n else value
    return result, result >> 31


def condition_passed(cond: int, nzcv: int) -> bool:
    n, z, c, v = bool(nzcv & N), bool(nzcv & Z), bool(nzcv & C), bool(nzcv & V)
    base = [z, c, n, v, c and not z, n == v, not z and n == v, True][cond >> 1]
    return base if cond & 1 == 0 or cond == 15 else not base


CONDS = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"]
VALUES = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, M, 0x1234_5678]


# --------------------------------------------------------------------------- add / subtract


@pytest.mark.parametrize("carry_in", [0, 1])
@pytest.mark.parametrize("op", ["adds", "subs", "adcs", "sbcs", "rsbs", "rscs"])
def test_arith_flags_match_add_with_carry(op, carry_in):
    for x in VALUES:
        for y in VALUES[::2]:
            m = run(f"{op} r0, r1, r2; wfi", {1: x, 2: y}, cpsr=0x1D3 | (C if carry_in else 0))
            a, b = (y, x) if op.startswith("r") else (x, y)
            if op in ("adds",):
                want = add_with_carry(a, b, 0)
            elif op == "adcs":
                want = add_with_carry(a, b, carry_in)
            elif op in ("subs", "rsbs"):
                want = add_with_carry(a, ~b & M, 1)
            else:  # sbcs, rscs
                want = add_with_carry(a, ~b & M, carry_in)
            assert (reg(m, 0), flags(m)) == want, (op, hex(x), hex(y), carry_in)


@pytest.mark.parametrize("src,regs,result,nzcv", [
    ("adds r0, r1, r2", {1: M, 2: 1}, 0, Z | C),
    ("adds r0, r1, r2", {1: 0x7FFF_FFFF, 2: 1}, 0x8000_0000, N | V),
    ("subs r0, r1, r2", {1: 0, 2: 1}, M, N),
    ("subs r0, r1, r2", {1: 5, 2: 5}, 0, Z | C),
    ("subs r0, r1, r2", {1: 0x8000_0000, 2: 1}, 0x7FFF_FFFF, C | V),
    ("cmp r1, r2", {1: 3, 2: 7, 0: 99}, 99, N),
    ("cmn r1, r2", {1: M, 2: 1, 0: 99}, 99, Z | C),
    ("tst r1, r2", {1: 0xF0, 2: 0x0F, 0: 99}, 99, Z),
    ("teq r1, r2", {1: 0x8000_0000, 2: 0, 0: 99}, 99, N),
])
def test_flag_edge_cases(src, regs, result, nzcv):
    m = run(src + "; wfi", regs)
    assert reg(m, 0) == result
    assert flags(m) == nzcv


def test_non_s_forms_leave_flags_alone():
    m = run("add r0, r1, r2; sub r3, r1, r2; adc r4, r1, r2; sbc r5, r1, r2; rsc r6, r1, r2; wfi",
            {1: 10, 2: 3}, cpsr=0x1D3 | N | Z | C | V)
    assert [reg(m, i) for i in (0, 3, 4, 5, 6)] == [13, 7, 14, 7, (3 - 10) & M]
    assert flags(m) == N | Z | C | V


@pytest.mark.parametrize("src,regs,result", [
    ("and r0, r1, r2", {1: 0xFF00FF00, 2: 0x0FF00FF0}, 0x0F000F00),
    ("eor r0, r1, r2", {1: 0xFF00FF00, 2: 0x0FF00FF0}, 0xF0F0F0F0),
    ("orr r0, r1, r2", {1: 0xFF00FF00, 2: 0x0FF00FF0}, 0xFFF0FFF0),
    ("bic r0, r1, r2", {1: 0xFF00FF00, 2: 0x0FF00FF0}, 0xF000F000),
    ("mvn r0, r1", {1: 0x0000FFFF}, 0xFFFF0000),
    ("rsb r0, r1, #0", {1: 5}, (-5) & M),
    ("add r0, r1, #0xff000000", {1: 1}, 0xFF000001),
    ("mov r0, #0x3fc", {}, 0x3FC),
    ("movw r0, #0xbeef", {0: 0x12345678}, 0xBEEF),
    ("movt r0, #0xdead", {0: 0x12345678}, 0xDEAD5678),
])
def test_logical_and_moves(src, regs, result):
    assert reg(run(src + "; wfi", regs), 0) == result


# --------------------------------------------------------------------------- shifter


def test_immediate_carry_out_only_when_rotated():
    m = run("movs r0, #0x80000000; wfi", cpsr=0x1D3)
    assert (reg(m, 0), flags(m)) == (0x8000_0000, N | C)
    m = run("ands r0, r1, #0xff; wfi", {1: 0x100}, cpsr=0x1D3 | C)  # no rotation: C kept
    assert (reg(m, 0), flags(m)) == (0, Z | C)
    m = run("orrs r0, r1, #0x40000000; wfi", {1: 0}, cpsr=0x1D3 | C)  # rotated, bit 31 = 0
    assert flags(m) == 0
    m = run("adds r0, r1, #0x80000000; wfi", {1: 0}, cpsr=0x1D3 | C)  # arithmetic: no shifter C
    assert flags(m) == N


@pytest.mark.parametrize("stype", ["lsl", "lsr", "asr", "ror"])
def test_register_shift_results_and_carry(stype):
    for amount in (0, 1, 7, 31, 32, 33, 64, 255, 256, 0x1FF):
        for value in (0x8000_0001, 0x4000_0002, 0xF0F0_0F0F):
            for carry in (0, C):
                m = run(f"movs r0, r1, {stype} r2; wfi", {1: value, 2: amount}, cpsr=0x1D3 | carry)
                want, c = shift_c(value, stype, amount & 0xFF, 1 if carry else 0)
                assert reg(m, 0) == want, (stype, amount, hex(value))
                assert flags(m) & C == (C if c else 0), (stype, amount, hex(value), carry)
                assert flags(m) & N == (N if want >> 31 else 0)


@pytest.mark.parametrize("stype", ["lsl", "lsr", "asr", "ror"])
def test_immediate_shift_results_and_carry(stype):
    amounts = range(1, 32) if stype in ("lsl", "ror") else range(1, 33)
    for amount in amounts:
        for value in (0x8000_0001, 0x7FFF_FFFE):
            m = run(f"movs r0, r1, {stype} #{amount}; wfi", {1: value}, cpsr=0x1D3)
            want, c = shift_c(value, stype, amount, 0)
            assert (reg(m, 0), bool(flags(m) & C)) == (want, bool(c)), (stype, amount)


def test_lsl_zero_and_rrx():
    m = run("movs r0, r1, lsl #0; wfi", {1: 0x8000_0000}, cpsr=0x1D3 | C)
    assert (reg(m, 0), flags(m)) == (0x8000_0000, N | C)
    m = run("movs r0, r1, rrx; wfi", {1: 0x0000_0003}, cpsr=0x1D3 | C)
    assert (reg(m, 0), flags(m)) == (0x8000_0001, N | C)
    m = run("movs r0, r1, rrx; wfi", {1: 0x0000_0002}, cpsr=0x1D3)
    assert (reg(m, 0), flags(m)) == (0x0000_0001, 0)
    m = run("adds r0, r1, r2, rrx; wfi", {1: 1, 2: 4}, cpsr=0x1D3 | C)  # RRX reads old C
    assert reg(m, 0) == 0x8000_0003


def test_arithmetic_with_shifted_operand_ignores_shifter_carry():
    m = run("adds r0, r1, r2, lsl #1; wfi", {1: 0, 2: 0x8000_0000}, cpsr=0x1D3)
    assert (reg(m, 0), flags(m)) == (0, Z)


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize("nzcv", range(16))
def test_every_condition_against_every_flag_combination(nzcv):
    flags_in = nzcv << 28
    regs = list(range(13)) + [14]
    src = "; ".join(f"mov{cc} r{r}, #1" for cc, r in zip(CONDS, regs)) + "; wfi"
    m = run(src, {r: 0 for r in regs}, cpsr=0x1D3 | flags_in)
    for cond, r in enumerate(regs):
        assert reg(m, r) == int(condition_passed(cond, flags_in)), (CONDS[cond], hex(flags_in))


def test_conditional_flag_setting_and_stores():
    m = run("cmp r0, #5; addeq r1, r1, #1; addne r2, r2, #1; subsgt r3, r3, #1; wfi",
            {0: 5, 1: 10, 2: 20, 3: 30})
    assert [reg(m, i) for i in (1, 2, 3)] == [11, 20, 30]
    assert flags(m) == Z | C


def test_conditional_branch_both_ways():
    src = "cmp r0, #0; beq two; mov r1, #1; b done; two: mov r1, #2; done: wfi"
    assert reg(run(src, {0: 0}), 1) == 2
    assert reg(run(src, {0: 1}), 1) == 1


def test_loop_with_conditional_branch():
    m = run("mov r0, #0; mov r1, #10; loop: add r0, r0, r1; subs r1, r1, #1; bne loop; wfi")
    assert reg(m, 0) == 55 and halted(m)


# --------------------------------------------------------------------------- pc as operand


def test_pc_reads_as_address_plus_8():
    m = run("mov r0, pc; add r1, pc, #4; add r2, r3, pc, lsl #1; wfi", {3: 0})
    assert reg(m, 0) == CODE + 8
    assert reg(m, 1) == CODE + 4 + 8 + 4
    assert reg(m, 2) == ((CODE + 16) << 1) & M


def test_alu_write_to_pc_branches():
    # add pc, pc, r0, lsl #2: a jump table
    src = "add pc, pc, r0, lsl #2; nop; mov r1, #10; mov r1, #11; mov r1, #12; wfi"
    assert reg(run(src, {0: 1}), 1) == 12  # pc+8 = entry 2 ("mov r1, #11"), + 4 -> #12
    assert reg(run(src, {0: 0}), 1) == 12
    assert reg(run("mov lr, pc; mov pc, r5; wfi; mov r0, #7; wfi", {5: CODE + 12}), 0) == 7


def test_subs_pc_lr_returns_from_exception_mode():
    # In SVC mode with SPSR = usr|ARM, "subs pc, lr, #4" restores the CPSR and banks sp.
    src = "msr spsr_fsxc, r0; subs pc, lr, #4; wfi; wfi; mov r2, sp; mrs r3, cpsr; wfi"
    m = run(src, {0: 0x6000_0010, 14: CODE + 16 + 4, 13: 0x1111})
    assert reg(m, 15) == CODE + 28  # stopped after the wfi at +24
    assert reg(m, 3) == 0x6000_0010
    assert reg(m, 2) == 0  # user sp: its bank was never written
    assert m.frontend.cpsr_read(m.cpus[0]) == 0x6000_0010


# --------------------------------------------------------------------------- multiply


@pytest.mark.parametrize("src,regs,want", [
    ("mul r0, r1, r2", {1: 0x10001, 2: 0x10001}, {0: 0x20001}),
    ("mla r0, r1, r2, r3", {1: 3, 2: 4, 3: 5}, {0: 17}),
    ("mls r0, r1, r2, r3", {1: 3, 2: 4, 3: 5}, {0: (5 - 12) & M}),
    ("umull r0, r1, r2, r3", {2: M, 3: M}, {0: 1, 1: 0xFFFF_FFFE}),
    ("smull r0, r1, r2, r3", {2: M, 3: 2}, {0: 0xFFFF_FFFE, 1: M}),
    ("umlal r0, r1, r2, r3", {0: M, 1: 0, 2: 1, 3: 1}, {0: 0, 1: 1}),
    ("smlal r0, r1, r2, r3", {0: 0, 1: 0, 2: M, 3: 1}, {0: M, 1: M}),
    ("umaal r0, r1, r2, r3", {0: M, 1: M, 2: M, 3: M}, {0: M, 1: M}),
    ("smulbb r0, r1, r2", {1: 0x0001_FFFF, 2: 0x0002_0003}, {0: (-3) & M}),
    ("smultt r0, r1, r2", {1: 0xFFFF_0000, 2: 0x0002_0003}, {0: (-2) & M}),
    ("smlawb r0, r1, r2, r3", {1: 0x0001_0000, 2: 0x0000_0004, 3: 1}, {0: 5}),
    ("smmul r0, r1, r2", {1: 0x4000_0000, 2: 8}, {0: 2}),
    ("smuad r0, r1, r2", {1: 0x0002_0003, 2: 0x0004_0005}, {0: 23}),
])
def test_multiplies(src, regs, want):
    m = run(src + "; wfi", regs)
    for r, value in want.items():
        assert reg(m, r) == value, (src, r)


def test_multiply_s_forms_set_n_and_z_only():
    m = run("muls r0, r1, r2; wfi", {1: 0, 2: 5}, cpsr=0x1D3 | C | V)
    assert flags(m) == Z | C | V
    m = run("umulls r0, r1, r2, r3; wfi", {2: 0x8000_0000, 3: 2}, cpsr=0x1D3)
    assert (reg(m, 0), reg(m, 1), flags(m)) == (0, 1, 0)
    m = run("smulls r0, r1, r2, r3; wfi", {2: M, 3: 1}, cpsr=0x1D3)
    assert flags(m) == N


def test_saturating_arithmetic_sets_q():
    m = run("qadd r0, r1, r2; mrs r3, apsr; wfi", {1: 0x7FFF_FFFF, 2: 1})
    assert reg(m, 0) == 0x7FFF_FFFF and reg(m, 3) & (1 << 27)
    m = run("qsub r0, r1, r2; wfi", {1: 5, 2: 3})
    assert reg(m, 0) == 2
    m = run("ssat r0, #8, r1; usat r2, #8, r3; wfi", {1: 1000, 3: (-5) & M})
    assert (reg(m, 0), reg(m, 2)) == (127, 0)


# --------------------------------------------------------------------------- divide, bits


@pytest.mark.parametrize("op,a,b,want", [
    (0xE710F110, 7, 2, 3),              # sdiv r0, r0, r1
    (0xE710F110, (-7) & M, 2, (-3) & M),
    (0xE710F110, 0x8000_0000, M, 0x8000_0000),
    (0xE710F110, 5, 0, 0),
    (0xE730F110, M, 2, 0x7FFF_FFFF),    # udiv r0, r0, r1
    (0xE730F110, 5, 0, 0),
])
def test_divide(op, a, b, want):
    m = run("", {0: a, 1: b}, words=[op, 0xE320F003])
    assert reg(m, 0) == want


@pytest.mark.parametrize("src,regs,want", [
    ("clz r0, r1", {1: 0}, 32),
    ("clz r0, r1", {1: 0x0001_0000}, 15),
    ("rev r0, r1", {1: 0x1122_3344}, 0x4433_2211),
    ("rev16 r0, r1", {1: 0x1122_3344}, 0x2211_4433),
    ("revsh r0, r1", {1: 0x0000_0080}, 0xFFFF_8000),
    ("rbit r0, r1", {1: 0x0000_0001}, 0x8000_0000),
    ("uxtb r0, r1, ror #8", {1: 0x1122_3344}, 0x33),
    ("uxth r0, r1", {1: 0x1122_8344}, 0x8344),
    ("sxtb r0, r1", {1: 0x80}, 0xFFFF_FF80),
    ("sxth r0, r1, ror #16", {1: 0x8000_0000}, 0xFFFF_8000),
    ("uxtab r0, r2, r1", {1: 0x1FF, 2: 1}, 0x100),
    ("sxtah r0, r2, r1", {1: 0xFFFF, 2: 1}, 0),
    ("uxtb16 r0, r1", {1: 0x1122_3344}, 0x0022_0044),
    ("ubfx r0, r1, #4, #8", {1: 0x0000_0AB0}, 0xAB),
    ("sbfx r0, r1, #4, #8", {1: 0x0000_0F80}, 0xFFFF_FFF8),
    ("bfi r0, r1, #8, #4", {0: 0xFFFF_FFFF, 1: 0x5}, 0xFFFF_F5FF),
    ("bfc r0, #0, #16", {0: 0x1234_5678}, 0x1234_0000),
    ("pkhbt r0, r1, r2, lsl #16", {1: 0x1111_2222, 2: 0x3333_4444}, 0x4444_2222),
    ("pkhtb r0, r1, r2, asr #16", {1: 0x1111_2222, 2: 0x3333_4444}, 0x1111_3333),
])
def test_misc_arithmetic(src, regs, want):
    assert reg(run(src + "; wfi", regs), 0) == want


def test_parallel_add_sets_ge_and_sel_uses_it():
    m = run("uadd8 r0, r1, r2; sel r3, r4, r5; wfi",
            {1: 0xFF01_FF01, 2: 0x0101_0101, 4: 0xAAAA_AAAA, 5: 0x5555_5555})
    assert reg(m, 0) == 0x0002_0002
    assert reg(m, 3) == 0xAA55_AA55  # GE set for the bytes that carried
