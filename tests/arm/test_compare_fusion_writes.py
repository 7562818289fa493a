"""The compare fusion (ArmDisas.sub_compare) ends where an op may write a global: it asks
:attr:`core.ir.Op.writes_globals`, the IR's one definition, not a list of its own."""

from __future__ import annotations

from tests.support.a32 import CODE, assemble, make_machine


def first_brcond(body: str) -> str:
    m = make_machine()
    m.memory.write_bytes(CODE, assemble(body, CODE))
    cpu = m.cpus[0]
    tb = m.translator.translate(cpu, CODE, m.frontend.tb_flags(cpu), cache=False)
    return next(str(op) for op in tb.ops if op.name.startswith("brcond"))


def test_a_helper_that_writes_no_global_keeps_the_compare():
    # QADD's helper is NO_WRITE_GLOBALS (it sets only the Q bit, which is no IR global)
    assert first_brcond("cmp r0, r1\nqadd r3, r4, r5\nmovgt r2, #1").startswith(
        "brcond_i32 r0,r1,")


def test_a_guest_load_keeps_the_compare():
    assert first_brcond("cmp r0, r1\nldr r3, [r4]\nmovgt r2, #1").startswith(
        "brcond_i32 r0,r1,")


def test_a_helper_that_may_write_globals_ends_it():
    # LDM ^ of r8 (outside User mode) goes through arm_set_user_reg (CallFlag.NONE)
    brcond = first_brcond("cmp r0, r1\nldm r4, {r8}^\nmovgt r2, #1")
    assert not brcond.startswith("brcond_i32 r0,r1,")
    assert first_brcond("cmp r0, r1\nldm r4, {r8}\nmovgt r2, #1").startswith(
        "brcond_i32 r0,r1,")  # the same load without ^ writes r8 as an output only
