"""The op-property table on OpDef (core/ir.py): the one definition of what an op is
(pure, a label, a branch, an exit, a CPU-state write ...) that the optimiser, the
backends and the frontends all ask, checked against the op flags it is computed from
and against what the optimiser does with it."""

from __future__ import annotations

import pytest

from core.builder import Builder
from core.cpu import StateLayout
from core.ir import (
    BASE_OPS,
    I32,
    I64,
    CallFlag,
    Helper,
    MemOp,
    Op,
    OpDef,
    OpFlag,
    OpTable,
    TranslationBlock,
)
from core.optimize import optimize_tb
from core.plugins import PluginManager

PC = 0x4000_0000
_IMPURE = (OpFlag.SIDE_EFFECTS | OpFlag.BB_END | OpFlag.CALL_CLOBBER | OpFlag.BB_EXIT
           | OpFlag.MEMORY | OpFlag.ENV)


def registered_ops() -> list[OpDef]:
    """Every op the installed plugins register (the core's and the LL/SC plugin's ...)."""
    return list(PluginManager().registry.optable)


def test_the_registry_holds_plugin_ops_too():
    names = {d.name for d in registered_ops()}
    assert "add_i32" in names and "qemu_stcond_i32" in names


@pytest.mark.parametrize("d", registered_ops(), ids=lambda d: d.name)
def test_every_registered_ops_properties_agree_with_its_flags(d: OpDef):
    flags = d.flags
    assert d.pure == (not flags & _IMPURE)
    assert d.foldable == (d.pure and d.impl is not None)
    assert d.cond_branch == (OpFlag.COND_BRANCH in flags)
    assert d.bb_exit == (OpFlag.BB_EXIT in flags)
    assert d.env_access == (OpFlag.ENV in flags)
    assert d.i64 == (OpFlag.I64 in flags)
    assert d.any_i64 == (I64 in d.types)
    if d.pure:
        assert not (d.branch or d.sets_label or d.bb_exit or d.ends_block or d.writes_state
                    or d.observes_state or d.touches_state)
        assert d.falls_through
    if d.branch or d.bb_exit:
        assert d.ends_block and not d.sets_label
    if d.bb_exit:
        assert not d.falls_through and d.observes_state  # globals must be in env at an exit
    if OpFlag.MEMORY in flags:
        # the softmmu never writes env: a guest memory access may raise, not change state
        assert not d.writes_state and d.observes_state and not d.touches_state
    if d.writes_state:
        assert d.observes_state and d.touches_state and not d.pure
    if d.cond_branch:
        assert d.branch and d.falls_through


def _base(name: str) -> OpDef:
    return {d.name: d for d in BASE_OPS}[name]


def test_set_label_is_a_label_not_a_branch():
    label = _base("set_label")
    assert label.sets_label and not label.branch and not label.cond_branch
    assert not label.ends_block and label.falls_through  # it starts a block
    assert not label.observes_state and not label.writes_state


def test_br_is_a_branch_nothing_falls_through():
    br = _base("br")
    assert br.branch and not br.cond_branch and br.ends_block and not br.falls_through
    assert not br.sets_label and not br.bb_exit


def test_control_and_state_of_the_core_ops():
    assert _base("brcond_i32").branch and _base("brcond_i32").falls_through
    for name in ("goto_tb", "exit_tb"):
        d = _base(name)
        assert d.bb_exit and d.ends_block and not d.falls_through and not d.branch
        assert not d.writes_state
    assert _base("st_i32").writes_state and not _base("ld_i32").writes_state
    assert _base("ld_i32").observes_state and _base("ld_i32").touches_state
    for name in ("insn_start", "mb", "qemu_ld_i32", "qemu_st_i64", "call"):
        assert not _base(name).writes_state, name
    assert not _base("qemu_ld_i32").i64 and _base("qemu_ld_i64").i64
    assert _base("extrl_i64_i32").any_i64 and not _base("extrl_i64_i32").i64


def test_a_plugin_op_with_side_effects_may_write_state_a_memory_op_may_not():
    other = OpDef("poke", 0, 1, 0, OpFlag.SIDE_EFFECTS, lambda cpu, a: None, (I32,))
    memory = OpDef("peek", 1, 1, 0, OpFlag.SIDE_EFFECTS | OpFlag.MEMORY,
                   lambda cpu, a: 0, (I32, I32))
    assert other.writes_state and other.observes_state and other.touches_state
    assert not memory.writes_state and memory.observes_state and not memory.touches_state


def _helper(flags: CallFlag) -> Helper:
    return Helper("h", lambda cpu: None, None, (), flags)


@pytest.mark.parametrize("flags, writes_globals, writes_state", [
    (CallFlag.NONE, True, True),
    (CallFlag.NO_WRITE_GLOBALS, False, True),  # may write env that is no global (Q bit)
    (CallFlag.NO_RWG, False, True),  # may still have side effects
    (CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS, False, False),
    (CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_SIDE_EFFECTS, False, True),  # reads globals
])
def test_a_call_asks_its_helper(flags, writes_globals, writes_state):
    helper = _helper(flags)
    op = Op(_base("call"), (helper,))
    assert helper.writes_globals == writes_globals and op.writes_globals == writes_globals
    assert helper.pure == (not writes_state) and op.writes_state == writes_state


def test_other_ops_answer_from_their_definition():
    st = Op(_base("st_i32"), (None, 3))
    add = Op(_base("add_i32"), (None, None, None))
    assert st.writes_globals and st.writes_state
    assert not add.writes_globals and not add.writes_state


# ---------------------------------------------------------------- the optimiser uses it


def _tb():
    table = OpTable(BASE_OPS)
    layout = StateLayout()
    for name in ("r0", "r1", "r2", "pc"):
        layout.add(name)
    tb = TranslationBlock(PC)
    return tb, Builder(tb, table), layout.globals, table


@pytest.mark.parametrize("between, kept", [
    ("qemu_ld", True),  # a guest memory access writes no global
    ("pure_helper", True),
    ("helper_no_wg", True),
    ("helper", False),  # may write r0: what was known about it is gone
    ("st_env", False),
])
def test_what_the_optimiser_knows_about_a_global_survives_only_ops_that_cannot_write_it(
        between, kept):
    tb, b, g, table = _tb()
    b.insn_start(PC)
    b.movi(g["r0"], 5)
    if between == "qemu_ld":
        b.qemu_ld(g["r2"], g["r1"], MemOp.UL)
    elif between == "st_env":
        b.st_env(g["r1"], 0)
    else:
        flags = {"pure_helper": CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS,
                 "helper_no_wg": CallFlag.NO_WRITE_GLOBALS, "helper": CallFlag.NONE}[between]
        b.call(_helper(flags), None)
    b.add(g["r1"], g["r0"], 1)
    b.movi(g["pc"], PC + 4)
    b.exit_tb(0)
    optimize_tb(tb, table)
    (r1_write,) = [op for op in tb.ops if g["r1"] in op.split()[0]]
    if kept:
        assert r1_write.name == "movi_i32" and r1_write.args[1] == 6
    else:
        assert r1_write.name == "add_i32"
