"""The IR optimiser (core/optimize.py): what it rewrites, what it must leave alone, and
that turning it on or off changes nothing a guest can observe."""

from __future__ import annotations

import pytest

from core.builder import Builder
from core.config import parse_config
from core.cpu import StateLayout
from core.ir import BASE_OPS, I32, CallFlag, Cond, Helper, OpDef, OpFlag, OpTable, TranslationBlock
from core.machine import Machine
from core.optimize import optimize_tb
from core.plugins import PluginManager
from tests.support.arm_workloads import WORKLOADS, run_machine
from tests.support.toy import toy_machine

PC = 0x4000_0000


def new_tb(extra_ops=()):
    table = OpTable(list(BASE_OPS) + list(extra_ops))
    layout = StateLayout()
    for name in ("r0", "r1", "r2", "pc"):
        layout.add(name)
    tb = TranslationBlock(PC)
    return tb, Builder(tb, table), layout.globals, table


def names(tb):
    return [op.name for op in tb.ops]


def exit_tb(b, g):
    b.movi(g["pc"], PC + 4)
    b.exit_tb(0)


# --------------------------------------------------------------------------- rewrites


def test_constants_fold_through_pure_ops_with_their_own_semantics():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    t, u = b.temp_new(), b.temp_new()
    b.movi(t, 0xFFFF_FFF0)
    b.add(u, t, 0x20)  # wraps at 32 bits: 0x10
    b.shl(g["r0"], u, 36)  # shift count mod 32: 0x10 << 4
    exit_tb(b, g)
    stats = optimize_tb(tb, table)
    (r0_write,) = [op for op in tb.ops if op.args and op.args[0] is g["r0"]]
    assert r0_write.name == "movi_i32" and r0_write.args[1] == 0x100
    assert stats.folded >= 2 and stats.removed >= 2  # the temps' ops are dead after folding
    assert "add_i32" not in names(tb) and "shl_i32" not in names(tb)


def test_brcond_on_constants_becomes_br_or_disappears():
    for cond, taken in ((Cond.LTU, True), (Cond.GEU, False)):
        tb, b, g, table = new_tb()
        b.insn_start(PC)
        t = b.temp_new()
        b.movi(t, 3)
        skip = b.new_label()
        b.brcond(cond, t, 5, skip)
        b.movi(g["r1"], 7)  # unreachable when the branch is taken
        b.set_label(skip)
        exit_tb(b, g)
        optimize_tb(tb, table)
        assert not any(n.startswith("brcond") for n in names(tb))
        assert ("br" in names(tb)) is taken
        assert any(op.args and op.args[0] is g["r1"] for op in tb.ops) is not taken


def test_copies_propagate_and_the_dead_copy_goes():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    t = b.temp_new()
    b.mov(t, g["r0"])
    b.add(g["r1"], t, g["r2"])
    exit_tb(b, g)
    optimize_tb(tb, table)
    (add,) = [op for op in tb.ops if op.name == "add_i32"]
    assert add.args == (g["r1"], g["r0"], g["r2"])
    assert "mov_i32" not in names(tb)


def test_a_global_write_stays_even_when_overwritten_later_in_another_insn():
    """A slice may end at the second insn_start: env must then hold the first value."""
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    b.add(g["r0"], g["r1"], 1)
    b.insn_start(PC + 4)
    b.movi(g["r0"], 9)
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert "add_i32" in names(tb)


def test_a_global_written_twice_in_one_insn_keeps_only_the_last():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    b.add(g["r0"], g["r1"], 1)
    b.movi(g["r0"], 9)
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert "add_i32" not in names(tb)


def test_coalesces_op_into_a_temp_then_mov_to_global():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    t = b.temp_new()
    b.shl(t, g["r0"], 2)
    b.mov(g["r1"], t)
    exit_tb(b, g)
    stats = optimize_tb(tb, table)
    (shl,) = [op for op in tb.ops if op.name == "shl_i32"]
    assert shl.args[0] is g["r1"] and stats.coalesced == 1


def test_knowledge_stops_at_labels():
    """r0 = 5 before a label that a branch also reaches: after it r0 is unknown."""
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    join = b.new_label()
    b.brcond(Cond.EQ, g["r2"], 0, join)
    b.movi(g["r0"], 5)
    b.set_label(join)
    b.add(g["r1"], g["r0"], 1)
    exit_tb(b, g)
    optimize_tb(tb, table)
    (add,) = [op for op in tb.ops if op.name == "add_i32"]
    assert add.args[1] is g["r0"]


def test_a_call_that_may_write_globals_forgets_what_was_known_of_them():
    seen = []
    writes = Helper("writes", lambda cpu: seen.append(1), None, ())
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    b.movi(g["r0"], 5)
    b.call(writes, None)
    b.add(g["r1"], g["r0"], 1)
    exit_tb(b, g)
    optimize_tb(tb, table)
    (add,) = [op for op in tb.ops if op.name == "add_i32"]
    assert add.args[1] is g["r0"]  # not folded to 6: the helper may have changed r0
    # a helper declared not to write globals keeps the knowledge
    pure_helper = Helper("reads", lambda cpu: None, None, (), CallFlag.NO_WRITE_GLOBALS)
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    b.movi(g["r0"], 5)
    b.call(pure_helper, None)
    b.add(g["r1"], g["r0"], 1)
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert [op for op in tb.ops if op.args and op.args[0] is g["r1"]][0].args[1] == 6


def test_unreachable_ops_after_an_exit_are_dropped_until_the_next_label():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    exit_tb(b, g)
    b.movi(g["r0"], 1)  # never runs
    label = b.new_label()
    b.set_label(label)
    b.movi(g["r1"], 2)
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert not any(op.args and op.args[0] is g["r0"] for op in tb.ops)
    assert any(op.args and op.args[0] is g["r1"] for op in tb.ops)


def test_unknown_ops_are_left_alone_but_pure_ones_fold_with_their_impl():
    log = []

    def effect(cpu, a):
        log.append(a)

    def boom(cpu, a):
        raise RuntimeError("needs a vCPU")

    poke = OpDef("plug_poke", 0, 1, 0, OpFlag.SIDE_EFFECTS, effect, (I32,))
    triple = OpDef("plug_triple", 1, 1, 0, OpFlag.NONE, lambda cpu, a: (3 * a) & 0xFFFF_FFFF,
                   (I32, I32))
    odd = OpDef("plug_odd", 1, 1, 0, OpFlag.NONE, boom, (I32, I32))
    tb, b, g, table = new_tb([poke, triple, odd])
    b.insn_start(PC)
    t = b.temp_new()
    b.movi(t, 7)
    b.emit("plug_poke", t)  # not pure: kept, its input becomes the constant
    b.emit("plug_triple", g["r0"], t)  # pure, constant input: folded to 21
    b.emit("plug_odd", g["r1"], t)  # pure but its semantics fail without a vCPU: kept
    exit_tb(b, g)
    optimize_tb(tb, table)
    (p,) = [op for op in tb.ops if op.name == "plug_poke"]
    assert p.args[0].is_const and p.args[0].value == 7
    assert [op for op in tb.ops if op.args and op.args[0] is g["r0"]][0].name == "movi_i32"
    assert "plug_odd" in names(tb)
    assert log == []  # nothing with side effects ran


def test_out_of_range_results_are_not_folded():
    wide = OpDef("plug_wide", 1, 1, 0, OpFlag.NONE, lambda cpu, a: a << 40, (I32, I32))
    tb, b, g, table = new_tb([wide])
    b.insn_start(PC)
    b.emit("plug_wide", g["r0"], b.const_i32(1))
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert "plug_wide" in names(tb)  # movi would mask: not the op's result


def test_i64_identities_keep_the_width():
    tb, b, g, table = new_tb()
    b.insn_start(PC)
    t, u = b.temp_new_i64(), b.temp_new_i64()
    b.ext_i32_i64(t, g["r0"])
    b.binary("and", u, t, 0xFFFF_FFFF_FFFF_FFFF)  # identity at 64 bits
    b.extrh_i64_i32(g["r1"], u)
    exit_tb(b, g)
    optimize_tb(tb, table)
    assert not any(op.name == "and_i64" for op in tb.ops)
    assert any(op.name == "ext_i32_i64" for op in tb.ops)


# --------------------------------------------------------------------------- the whole machine


def test_config_key_enables_the_pass():
    on = Machine(parse_config({}, "<test>"), PluginManager(autoload=False))
    off = Machine(parse_config({"machine": {"optimize": False}}, "<test>"),
                  PluginManager(autoload=False))
    assert [p.__name__ for p in on.translator.passes] == ["optimize"]
    assert off.translator.passes == []


TOY_LOOP = [("MOVI", 6, 0, 40), ("MOVI", 5, 0, 0), ("MOVI", 7, 0, 3), "loop",
            ("ADD", 5, 5, 7), ("ADDI", 5, 5, -1), ("SUB", 8, 5, 7), ("ADDI", 6, 6, -1),
            ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]


@pytest.mark.parametrize("backend", ["interp", "pyjit"])
def test_toy_program_same_with_and_without(backend):
    results = []
    for optimize in (True, False):
        m = toy_machine(TOY_LOOP, backend=backend, optimize=optimize,
                        schedule={"slice": 3, "max_insns": 10_000})
        r = m.run()
        results.append((r.reason, r.exit_status, r.insns, m.cpus[0].env, m.cpus[0].stats))
    assert results[0] == results[1]
    assert results[0][1] == 80


@pytest.mark.parametrize("program,args,vcpus,slice_", [
    ("counter", ["4", "100"], 4, 7),
    ("hello_newlib", ["a", "bc"], 1, 64),
    ("aba_window", ["3"], 4, 5),
])
def test_arm_workloads_same_with_and_without(program, args, vcpus, slice_):
    runs = []
    for optimize in (True, False):
        text, result, m = run_machine(WORKLOADS / f"{program}.elf", args, {
            "machine": {"frontend": "arm", "vcpus": vcpus, "optimize": optimize},
            "schedule": {"slice": slice_, "policy": "random", "seed": 11}})
        runs.append((text, result.exit_status, result.insns, result.stats["vcpus"],
                     [c.env for c in m.cpus], bytes(m.ram.data)))
    assert runs[0] == runs[1]


def test_it_shrinks_real_tbs():
    """The same guest code translated with and without the pass: fewer ops, none added."""
    text, result, m = run_machine(WORKLOADS / "counter.elf", ["1", "50"], {
        "machine": {"frontend": "arm", "optimize": False}})
    assert result.exit_status == 0
    tbs = list(m.translator.cache.values())
    before = after = shrunk = 0
    for tb in tbs:
        copy = TranslationBlock(tb.pc, tb.flags, ops=list(tb.ops))
        optimize_tb(copy, m.registry.optable)
        before += len(tb.ops)
        after += len(copy.ops)
        assert len(copy.ops) <= len(tb.ops)
        shrunk += len(copy.ops) < len(tb.ops)
    assert after < before
    assert shrunk >= len(tbs) // 4
