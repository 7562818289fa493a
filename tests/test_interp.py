"""The interpreter backend on hand-built TBs: ops, branches, memory, helpers, budgets, faults."""

from __future__ import annotations

import pytest

from core.backend import EXIT_BUDGET, EXIT_GOTO1, EXIT_NOCHAIN
from core.builder import Builder
from core.cpu import EXCP, GuestException, GuestFault
from core.ir import I32, I64, CallFlag, Cond, Helper, MemOp, OpDef, OpFlag, OpTable, TranslationBlock
from tests.support.toy import DATA, read32, toy_machine
from tests.toyisa import ToyExcp


@pytest.fixture
def m():
    return toy_machine([("HALT",)])


def new_tb(m, optable=None):
    tb = TranslationBlock(0x4000_0000)
    return tb, Builder(tb, optable or m.registry.optable)


def regs(m):
    return m.frontend.r


def run(m, tb, budget=1000):
    m.backend.compile(tb)
    last, exit_slot, executed = m.backend.execute(m.cpus[0], tb, budget)
    assert last is tb  # the interpreter never follows chained exits by itself
    return exit_slot, executed


def test_arithmetic_and_64bit_products(m):
    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(r[0], 0xFFFF_FFFF)
    b.add(r[1], r[0], 2)  # wraps to 1
    t64 = b.temp_new_i64()
    b.emit("extu_i32_i64", t64, r[0])
    b.mul(t64, t64, t64)
    b.emit("extrh_i64_i32", r[2], t64)
    b.emit("extrl_i64_i32", r[3], t64)
    b.mulu2(r[4], r[5], r[0], r[0])
    b.goto_tb(1)
    assert run(m, tb) == (EXIT_GOTO1, 1)
    env = m.cpus[0].env
    assert env[1] == 1
    assert (env[2], env[3]) == (0xFFFF_FFFE, 1)
    assert (env[5], env[4]) == (0xFFFF_FFFE, 1)


def test_branches_inside_a_tb(m):
    """A counted loop inside one TB: brcond backwards, labels resolved to op indices."""
    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(r[0], 10)
    b.movi(r[1], 0)
    top, done = b.new_label(), b.new_label()
    b.set_label(top)
    b.brcond(Cond.EQ, r[0], 0, done)
    b.add(r[1], r[1], 3)
    b.sub(r[0], r[0], 1)
    b.br(top)
    b.set_label(done)
    b.setcond(Cond.GTU, r[2], r[1], 29)
    b.movcond(Cond.LT, r[3], r[1], 0, 111, 222)
    b.exit_tb(0)
    assert run(m, tb) == (EXIT_NOCHAIN, 1)
    env = m.cpus[0].env
    assert (env[0], env[1], env[2], env[3]) == (0, 30, 1, 222)


def test_guest_memory_and_env_ops(m):
    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(r[0], DATA)
    b.movi(r[1], 0x8081_8283)
    b.qemu_st(r[1], r[0], MemOp.UL)
    b.qemu_ld(r[2], r[0], MemOp.SB)  # 0x83 sign-extended
    b.qemu_ld(r[3], r[0], MemOp.BEUW)  # bytes 83 82 big-endian
    q = b.temp_new_i64()
    b.qemu_ld(q, r[0], MemOp.UQ)
    b.emit("extrl_i64_i32", r[4], q)
    b.ld_env(r[5], m.frontend.cpuid_slot)
    b.st_env(b.const_i32(77), m.frontend.cpuid_slot)
    b.goto_tb(0)
    run(m, tb)
    env = m.cpus[0].env
    assert read32(m, DATA) == 0x8081_8283
    assert env[2] == 0xFFFF_FF83
    assert env[3] == 0x8382
    assert env[4] == 0x8081_8283
    assert env[5] == 0 and env[m.frontend.cpuid_slot] == 77


def test_helper_call_gets_cpu_and_inputs(m):
    seen = []

    def f(cpu, a, b):
        seen.append((cpu.index, a, b))
        return a * 2 + b

    helper = Helper("f", f, I32, (I32, I32), CallFlag.NO_RWG)
    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(r[0], 20)
    b.call(helper, r[1], r[0], 2)
    b.goto_tb(0)
    run(m, tb)
    assert seen == [(0, 20, 2)] and m.cpus[0].env[1] == 42


def test_plugin_op_runs_through_its_reference_semantics(m):
    popcount = OpDef("ctpop_i32", 1, 1, 0, OpFlag.NONE, lambda cpu, a: bin(a).count("1"),
                     (I32, I32), "d = population count of a")
    table = OpTable()
    table.add(popcount)
    r = regs(m)
    tb, b = new_tb(m, table)
    b.insn_start(0x4000_0000)
    b.movi(r[0], 0xF0F0_0001)
    b.ctpop_i32(r[1], r[0])
    b.goto_tb(0)
    run(m, tb)
    assert m.cpus[0].env[1] == 9


def three_insn_tb(m):
    r = regs(m)
    tb, b = new_tb(m)
    for i in range(3):
        b.insn_start(0x4000_0000 + 4 * i)
        b.add(r[0], r[0], 1)
    b.movi(m.frontend.pc, 0x4000_0100)
    b.goto_tb(0)
    return tb


def test_budget_ends_the_tb_between_instructions(m):
    tb = three_insn_tb(m)
    assert run(m, tb, budget=2) == (EXIT_BUDGET, 2)
    assert m.cpus[0].env[0] == 2
    assert m.cpus[0].env[m.frontend.pc_slot] == 0x4000_0008  # resumes at the third
    assert run(m, tb, budget=3) == (0, 3)


def test_fault_reports_the_instruction_and_rewinds_pc(m):
    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(r[0], 0x1000)
    b.insn_start(0x4000_0004)
    b.qemu_st(r[0], r[0], MemOp.UL)
    b.goto_tb(0)
    with pytest.raises(GuestFault) as info:
        run(m, tb)
    exc = info.value
    assert (exc.excp, exc.pc, exc.executed, exc.addr, exc.access) == \
        (EXCP.DATA_FAULT, 0x4000_0004, 2, 0x1000, "store")
    assert m.cpus[0].env[m.frontend.pc_slot] == 0x4000_0004


def test_helper_exception_keeps_pc_written_by_frontend(m):
    def boom(cpu):
        raise GuestException(ToyExcp.TRAP, message="svc")

    r = regs(m)
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    b.movi(m.frontend.pc, 0x4000_0004)
    b.call(Helper("boom", boom, None, ()), None)
    b.goto_tb(0)
    with pytest.raises(GuestException) as info:
        run(m, tb)
    assert info.value.pc == 0x4000_0000
    assert m.cpus[0].env[m.frontend.pc_slot] == 0x4000_0004
    assert r[0].index == 0


def test_i64_ops(m):
    tb, b = new_tb(m)
    b.insn_start(0x4000_0000)
    x, y = b.temp_new_i64(), b.temp_new_i64()
    b.movi(x, 0x8000_0000_0000_0000)
    b.sar(y, x, 63)
    out = regs(m)
    b.emit("extrl_i64_i32", out[0], y)
    b.rotl(y, x, 1)
    b.emit("extrl_i64_i32", out[1], y)
    b.add2(x, y, b.const_i64(2**64 - 1), b.const_i64(0), b.const_i64(1), b.const_i64(0))
    b.emit("extrl_i64_i32", out[2], y)
    b.goto_tb(0)
    run(m, tb)
    env = m.cpus[0].env
    assert (env[0], env[1], env[2]) == (0xFFFF_FFFF, 1, 1)
    assert I64.mask == 2**64 - 1
