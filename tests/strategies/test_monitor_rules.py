"""Rules one vCPU can exercise: own stores, CLREX, exception return, mismatched SCs,
and what the store trap must keep true of every TLB (toy ISA and direct policy calls)."""

from __future__ import annotations

import pytest

from core.ir import MemOp
from core.softmmu import PAGE_BITS, PAGE_MASK, PAGE_SIZE, TLB_EXCL, TLB_SIZE
from tests.support.llsc import CORRECT, X, machine, variant_id
from tests.support.toy import read32, write32
from tests.toyisa import li

MEMOP = MemOp.UL | MemOp.MO_ALIGN
ALL = CORRECT + [("none", {})]


def own_store_program(offset: int) -> list:
    """LL x; store 0x55 to x+offset; SC x, LL value + 1; EXIT with the SC's status."""
    return li(1, X) + [("LL", 2, 1, 0), ("MOVI", 6, 0, 0x55), ("STW", 6, 1, offset),
                       ("ADDI", 2, 2, 1), ("SC", 4, 2, 1), ("EXIT", 0, 4)]


def run_alone(program: list, variant) -> tuple[int, object]:
    m = machine(program, variant, vcpus=1)
    result = m.run()
    assert result.reason == "exit"
    return result.exit_status, m


@pytest.mark.parametrize("variant, fails", [
    (("arm-monitor", {}), False),  # Cortex-A9/A55: no effect on the PE's own monitor
    (("arm-monitor", {"same_pe_store_clears": True}), True),
    (("arm-monitor", {"granule": 8, "same_pe_store_clears": True}), False),  # another granule
    (("stop-the-world", {}), False),
    (("store-test", {}), False),
    (("exclusive-bitmap", {}), False),
    (("exclusive-bitmap", {"protection": "range"}), False),
    (("cmpxchg", {}), False),
    (("none", {}), False),
], ids=lambda v: variant_id(v) if isinstance(v, tuple) else str(v))
def test_own_store_to_the_marked_granule_next_to_the_reserved_word(variant, fails):
    # x+8 lies in x's 64-byte granule but outside an 8-byte one
    status, m = run_alone(own_store_program(8), variant)
    st = m.policy.stats[0]
    assert status == int(fails)
    assert read32(m, X) == (0 if fails else 1)
    assert st.sc_spurious == int(fails)  # nobody else wrote anything


@pytest.mark.parametrize("variant, fails, spurious", [
    (("arm-monitor", {}), False, 0),
    (("arm-monitor", {"same_pe_store_clears": True}), True, 1),
    (("stop-the-world", {}), False, 0),  # only other vCPUs' stores break a reservation
    (("stop-the-world", {"check": "value"}), True, 0),  # the value changed
    (("store-test", {}), False, 0),  # the entry holds our own id
    (("exclusive-bitmap", {}), False, 0),  # a store keeps the storer's own bit
    (("exclusive-bitmap", {"protection": "range"}), False, 0),
    (("cmpxchg", {}), True, 0),  # cannot tell: a value mismatch is all it sees
    (("none", {}), False, 0),
], ids=lambda v: variant_id(v) if isinstance(v, tuple) else str(v))
def test_own_store_to_the_reserved_word(variant, fails, spurious):
    status, m = run_alone(own_store_program(0), variant)
    assert status == int(fails)
    assert read32(m, X) == (0x55 if fails else 1)
    assert m.policy.stats[0].sc_spurious == spurious


@pytest.mark.parametrize("variant", [
    ("stop-the-world", {}), ("store-test", {}), ("arm-monitor", {}),
    ("arm-monitor", {"granule": 8}), ("exclusive-bitmap", {}),
    ("exclusive-bitmap", {"protection": "range"}),
], ids=variant_id)
def test_own_store_after_a_conflicting_store_does_not_revive_the_reservation(variant):
    m = machine([("HALT",)], variant, vcpus=2)
    cpu0, cpu1 = m.cpus
    m.exclusive_cpu = cpu0
    m.policy.load_link(cpu0, X, MEMOP)
    cpu1.mmu.store(X, 0xBBBB, MemOp.UL)  # a real conflict
    cpu0.mmu.store(X + 512, 1, MemOp.UL)  # then cpu0's own store elsewhere on the page
    assert m.policy.store_cond(cpu0, X, 1, MEMOP) == 1
    assert read32(m, X) == 0xBBBB


@pytest.mark.parametrize("variant", ALL, ids=variant_id)
def test_clrex_between_ll_and_sc_fails_the_sc(variant):
    program = li(1, X) + [("LL", 2, 1, 0), ("CLREX",), ("ADDI", 2, 2, 1), ("SC", 4, 2, 1),
                          ("EXIT", 0, 4)]
    status, m = run_alone(program, variant)
    if variant[0] == "none":
        assert (status, read32(m, X)) == (0, 1)
        return
    assert (status, read32(m, X)) == (1, 0)
    st = m.policy.stats[0]
    assert (st.sc_fail, st.sc_spurious) == (1, 0)  # no reservation left to be spurious about


@pytest.mark.parametrize("variant", CORRECT, ids=variant_id)
def test_exception_return_sc_without_ll_and_sc_elsewhere_fail(variant):
    m = machine([("HALT",)], variant, vcpus=1)
    cpu, policy = m.cpus[0], m.policy
    m.exclusive_cpu = cpu  # let stop-the-world decide in place (see test_stop_the_world)
    assert policy.store_cond(cpu, X, 7, MEMOP) == 1  # no LL yet
    policy.load_link(cpu, X, MEMOP)
    policy.exception_return(cpu)  # ARM ARM: exception return clears the local monitor
    assert policy.store_cond(cpu, X, 7, MEMOP) == 1
    policy.load_link(cpu, X, MEMOP)
    assert policy.store_cond(cpu, X + 2048, 7, MEMOP) == 1  # another granule, another word
    policy.load_link(cpu, X, MEMOP)
    assert policy.store_cond(cpu, X, 7, MEMOP) == 0
    assert policy.store_cond(cpu, X, 8, MEMOP) == 1  # the SC consumed the reservation
    assert read32(m, X) == 7
    st = policy.stats[0]
    assert (st.ll, st.sc_ok, st.sc_fail, st.sc_spurious) == (3, 1, 4, 0)


def test_arm_monitor_strex_to_another_word_of_the_marked_granule_passes():
    """The monitors tag granules, so the address within the granule is not checked."""
    m = machine([("HALT",)], ("arm-monitor", {"granule": 64}), vcpus=1)
    cpu = m.cpus[0]
    m.policy.load_link(cpu, X, MEMOP)
    assert m.policy.store_cond(cpu, X + 60, 9, MEMOP) == 0
    assert read32(m, X + 60) == 9


def test_ll_of_a_64_bit_pair_reserves_all_eight_bytes():
    """LDREXD/STREXD: one 8-byte monitor operation; a store to the high word breaks it."""
    q = MemOp.UQ | MemOp.MO_ALIGN
    for variant in [("arm-monitor", {"granule": 8}), ("stop-the-world", {}), ("store-test", {}),
                    ("cmpxchg", {})]:
        m = machine([("HALT",)], variant, vcpus=2)
        cpu0, cpu1 = m.cpus
        m.exclusive_cpu = cpu0
        write32(m, X + 4, 0x1234)
        assert m.policy.load_link(cpu0, X, q) == 0x1234 << 32
        cpu1.mmu.store(X + 4, 0x5678, MemOp.UL)
        assert m.policy.store_cond(cpu0, X, 1, q) == 1, variant
        assert m.policy.load_link(cpu0, X, q) == 0x5678 << 32
        assert m.policy.store_cond(cpu0, X, (1 << 63) | 1, q) == 0, variant
        assert m.memory.read_bytes(X, 8) == ((1 << 63) | 1).to_bytes(8, "little")


# ---- the store trap ---------------------------------------------------------------------

TRAPPING = [("arm-monitor", {}), ("stop-the-world", {})]


def _entry(cpu, addr: int) -> int:
    return cpu.mmu.addr_write[(addr >> PAGE_BITS) & (TLB_SIZE - 1)]


@pytest.mark.parametrize("variant", TRAPPING, ids=variant_id)
def test_ll_flushes_the_page_from_every_tlb_once(variant):
    m = machine([("HALT",)], variant, vcpus=4)
    cpus, policy = m.cpus, m.policy
    for c in cpus:
        c.mmu.store(X + 256, 1, MemOp.UL)  # every TLB maps x's page, without TLB_EXCL
        assert _entry(c, X) == X & PAGE_MASK
    policy.load_link(cpus[0], X, MEMOP)
    assert policy.stats[0].tlb_flushes == 3  # the other vCPUs' TLBs
    for c in cpus:
        assert _entry(c, X) == -1  # flushed, own entry included
        c.mmu.store(X + 256, 2, MemOp.UL)
        assert _entry(c, X) & TLB_EXCL
        assert policy.stats[c.index].slow_stores == 1
    policy.load_link(cpus[1], X + 16, MEMOP)  # the page is already trapped everywhere
    assert policy.stats[1].tlb_flushes == 0
    cpus[0].mmu.load(X + 256, MemOp.UL)  # loads stay on the fast path
    assert cpus[0].mmu.addr_read[(X >> PAGE_BITS) & (TLB_SIZE - 1)] == X & PAGE_MASK


@pytest.mark.parametrize("variant", TRAPPING, ids=variant_id)
def test_second_ll_on_a_held_page_still_sees_the_first_holders_stores(variant):
    """cpu0's entry was filled unflagged before anything was reserved; cpu1's LL flushed
    it; cpu0's own later LL of the page flushes nothing, yet cpu0's store is seen."""
    m = machine([("HALT",)], variant, vcpus=2)
    cpu0, cpu1 = m.cpus
    policy = m.policy
    cpu0.mmu.store(X, 5, MemOp.UL)
    policy.load_link(cpu1, X, MEMOP)
    policy.load_link(cpu0, X + 8, MEMOP)
    cpu0.mmu.store(X, 6, MemOp.UL)  # through a refilled, flagged entry
    m.exclusive_cpu = cpu1
    assert policy.store_cond(cpu1, X, 99, MEMOP) == 1
    assert read32(m, X) == 6
    assert policy.stats[1].sc_spurious == 0


@pytest.mark.parametrize("variant", TRAPPING, ids=variant_id)
def test_pages_stop_being_held_when_every_reservation_is_gone(variant):
    m = machine([("HALT",)], variant, vcpus=2)
    cpu0, cpu1 = m.cpus
    policy = m.policy
    policy.load_link(cpu0, X, MEMOP)
    policy.load_link(cpu1, X + PAGE_SIZE, MEMOP)
    policy.load_link(cpu1, X + 4, MEMOP)  # a new LL replaces the old reservation
    assert policy.trap.refs == {X & PAGE_MASK: 2}
    policy.clrex(cpu0)
    m.exclusive_cpu = cpu1
    policy.store_cond(cpu1, X + 4, 1, MEMOP)
    assert policy.trap.refs == {}


def test_store_test_instruments_every_store():
    program = li(1, X) + [("STW", 1, 1, 4 * i) for i in range(5)] + [("HALT",)]
    m = machine(program, ("store-test", {}), vcpus=1)
    m.run()
    st = m.policy.stats[0]
    assert st.slow_stores == st.helper_calls == 5
    assert m.cpus[0].stats.slow_stores == 5
    m = machine(program, ("arm-monitor", {}), vcpus=1)  # no reservation: no trap
    m.run()
    assert m.policy.stats[0].slow_stores == 0
    assert m.cpus[0].stats.slow_stores == 1  # the refill only


def test_store_test_entry_holds_the_last_writer():
    m = machine([("HALT",)], ("store-test", {"table_size": 16, "granule": 8}), vcpus=3)
    cpus, policy = m.cpus, m.policy
    cpus[2].mmu.store(X + 8 * 16 + 4, 1, MemOp.UL)  # aliases x's entry, another granule
    assert policy.table[(X >> 3) & 15] == 2
    policy.load_link(cpus[0], X, MEMOP)
    assert policy.table[(X >> 3) & 15] == 0
    policy.load_link(cpus[1], X, MEMOP)  # another LL claims the entry: cpu0 loses it
    assert policy.store_cond(cpus[0], X, 1, MEMOP) == 1
    assert policy.stats[0].sc_spurious == 1  # no store by anybody: an LL-LL conflict
    assert policy.store_cond(cpus[1], X, 2, MEMOP) == 0
