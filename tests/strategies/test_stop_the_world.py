"""stop-the-world: every SC leaves its TB (EXCP_ATOMIC) and runs again alone, once.

Also the core contract it relies on: ``cpu_loop_exit_atomic`` rewinds the pc, the
abandoned attempt is not counted, ``step_atomic`` counts the re-executed instruction in
both the vCPU's and the machine's instruction counts.
"""

from __future__ import annotations

import pytest

from core.cpu import EXCP
from core.errors import GuestError
from core.exec import ExitAtomic, cpu_loop_exit_atomic
from core.ir import MemOp
from tests.support.llsc import X, increment_loop, machine, run_increment
from tests.support.toy import read32
from tests.toyisa import li

MEMOP = MemOp.UL | MemOp.MO_ALIGN
STW = ("stop-the-world", {})


def test_sc_outside_exclusive_mode_asks_for_it_and_keeps_the_reservation():
    m = machine([("HALT",)], STW, vcpus=2)
    cpu = m.cpus[0]
    m.policy.load_link(cpu, X, MEMOP)
    with pytest.raises(ExitAtomic) as info:
        m.policy.store_cond(cpu, X, 5, MEMOP)
    assert info.value.excp is EXCP.ATOMIC and info.value.restore
    st = m.policy.stats[0]
    assert (st.sc_ok, st.sc_fail, st.stop_the_world, read32(m, X)) == (0, 0, 0, 0)
    m.exclusive_cpu = cpu
    assert m.policy.store_cond(cpu, X, 5, MEMOP) == 0
    assert (st.sc_ok, st.stop_the_world, read32(m, X)) == (1, 1, 5)


def test_sc_that_cannot_succeed_fails_without_stopping_the_world():
    m = machine([("HALT",)], STW, vcpus=2)
    cpu = m.cpus[0]
    m.policy.load_link(cpu, X, MEMOP)
    assert m.policy.store_cond(cpu, X + 4, 5, MEMOP) == 1  # not the LL's address
    assert m.policy.store_cond(cpu, X, 5, MEMOP) == 1  # no reservation left
    assert m.policy.stats[0].stop_the_world == 0


@pytest.mark.parametrize("check", ["reservation", "value"])
def test_sc_reexecutes_exactly_once(check):
    program = li(1, X) + [("LL", 2, 1, 0), ("ADDI", 2, 2, 1), ("SC", 4, 2, 1), ("EXIT", 0, 4)]
    m = machine(program, ("stop-the-world", {"check": check}), vcpus=1)
    result = m.run()
    assert (result.reason, result.exit_status) == ("exit", 0)  # a second run would fail
    assert read32(m, X) == 1
    st, cpu = m.policy.stats[0], m.cpus[0]
    assert (st.ll, st.sc_ok, st.sc_fail, st.stop_the_world) == (1, 1, 0, 1)
    assert cpu.stats.insns == m.insns == result.insns == 6  # MOVI, MOVHI, LL, ADDI, SC, EXIT
    assert cpu.stats.exceptions == 2  # EXCP_ATOMIC, then EXIT


@pytest.mark.parametrize("vcpus", [1, 4])
def test_stopping_the_world_changes_no_instruction_count(vcpus):
    """Same schedule, same decisions as arm-monitor with an 8-byte granule (the increment
    touches one word): every vCPU runs exactly the same instructions."""
    schedule = {"slice": 1, "policy": "round-robin"}
    stw = run_increment(STW, vcpus, schedule, 30)
    ref = run_increment(("arm-monitor", {"granule": 8}), vcpus, schedule, 30)
    assert read32(stw, X) == read32(ref, X) == vcpus * 30
    assert [c.stats.insns for c in stw.cpus] == [c.stats.insns for c in ref.cpus]
    assert stw.insns == ref.insns == sum(c.stats.insns for c in stw.cpus)
    totals, ref_totals = stw.policy.totals(), ref.policy.totals()
    for key in ("ll", "sc_ok", "sc_fail"):
        assert totals[key] == ref_totals[key]
    assert totals["stop_the_world"] == totals["sc_ok"] + totals["sc_fail"]  # every SC matched


def test_slice_budget_counts_the_atomic_step_once():
    """Slices of 3 on 2 vCPUs: the abandoned attempt does not use up budget."""
    m = machine(increment_loop(10), STW, vcpus=2, schedule={"slice": 3})
    m.run()
    assert read32(m, X) == 20
    assert m.insns == sum(c.stats.insns for c in m.cpus)
    ref = machine(increment_loop(10), ("arm-monitor", {}), vcpus=2, schedule={"slice": 3})
    ref.run()
    assert m.insns == ref.insns


def test_a_policy_that_never_completes_in_exclusive_mode_is_a_one_line_error():
    m = machine(li(1, X) + [("LL", 2, 1, 0), ("SC", 4, 2, 1), ("EXIT", 0, 4)], STW, vcpus=1)
    m.policy.store_cond = lambda cpu, addr, value, memop: cpu_loop_exit_atomic(cpu)
    with pytest.raises(GuestError, match=r"^vCPU 0: the instruction at pc=0x4000000c asked "
                                         r"for exclusive mode while running in it"):
        m.run()
    assert m.exclusive_cpu is None


def test_a_fault_in_the_exclusive_step_is_reported_like_any_other():
    from core.cpu import GuestFault

    def store_cond(cpu, addr, value, memop):
        if m.exclusive_cpu is not cpu:
            cpu_loop_exit_atomic(cpu)
        raise GuestFault(EXCP.DATA_FAULT, addr=addr, size=4, access="store")

    m = machine(li(1, X) + [("LL", 2, 1, 0), ("SC", 4, 2, 1), ("EXIT", 0, 4)], STW, vcpus=1)
    m.policy.store_cond = store_cond
    with pytest.raises(GuestError, match=r"^vCPU 0: data abort, store of 4 bytes at 0x40010000, "
                                         r"pc=0x4000000c$"):
        m.run()
    assert m.exclusive_cpu is None


@pytest.mark.parametrize("backend", ["interp", "pyjit", "arm-host"])
def test_an_error_in_the_exclusive_step_counts_the_instructions_up_to_it(backend):
    # the run ends on the policy's error, raised while the SC runs alone: the report's
    # count is every instruction started, the SC included, as for an error anywhere else
    program = li(1, X) + [("LL", 2, 1, 0), ("ADDI", 2, 2, 1), ("SC", 3, 2, 1), ("EXIT", 0, 3)]
    m = machine(program, STW, backend=backend)

    def broken(cpu, addr, value, memop, _real=m.policy.store_cond):
        if m.exclusive_cpu is cpu:
            raise RuntimeError("policy bug")
        return _real(cpu, addr, value, memop)
    m.policy.store_cond = broken
    with pytest.raises(Exception, match="policy bug"):
        m.run()
    sc_number = next(i for i, insn in enumerate(program) if insn[0] == "SC") + 1
    assert m.insns == m.cpus[0].stats.insns == sc_number
