"""The LL/SC series' (Rigo 2015) exclusive-bitmap policy at IR level: toy-ISA programs on
2-4 vCPUs, slice 1.

What must hold: an LL/SC increment loop keeps an exact total; a store by another vCPU
between LL and SC fails the SC (A->B->A included), a store to another page does not;
a store through a stale TLB entry is caught under the synchronous flush, and slips
through the asynchronous flush's window (documented here, not hidden).
"""

from __future__ import annotations

import threading

import pytest

from core.ir import MemOp
from tests.toyisa import RAM_BASE
from core.softmmu import PAGE_BITS, PAGE_MASK, TLB_EXCL, TLB_SIZE
from plugins.atomic_strategies.exclusive_bitmap import DIRTY_MEMORY_EXCLUSIVE
from tests.support.llsc import FLAGS, ITERS, OTHER_PAGE, X, handshake_program, increment_loop
from tests.support.toy import read32, toy_machine, write32
from tests.toyisa import li

VARIANTS = [
    {"bitmap": "per-vcpu", "protection": "page", "flush": "sync"},
    {"bitmap": "per-vcpu", "protection": "range", "flush": "sync"},
    {"bitmap": "per-vcpu", "protection": "page", "flush": "async", "flush_scope": "page"},
    {"bitmap": "page", "protection": "range", "flush": "sync"},
]


@pytest.mark.parametrize("vcpus", [2, 3, 4])
@pytest.mark.parametrize("schedule", [{"policy": "round-robin"}, {"policy": "random", "seed": 3},
                                      {"policy": "random", "seed": 11}])
@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: "-".join(o.values()))
def test_increment_loop_keeps_exact_total(vcpus, schedule, options):
    m = toy_machine(increment_loop(), vcpus=vcpus, schedule={"slice": 1, **schedule},
                    options=options)
    result = m.run()
    assert result.reason == "deadlock"  # every vCPU ends in HALT with nothing to wake it
    assert read32(m, X) == vcpus * ITERS
    totals = m.policy.totals()
    assert totals["sc_ok"] == vcpus * ITERS
    assert totals["ll"] == totals["sc_ok"] + totals["sc_fail"]
    assert totals["tlb_flushes"] == totals["ll"] * (vcpus - 1)


def test_contention_makes_sc_fail_under_slice_1():
    m = toy_machine(increment_loop(), vcpus=4, schedule={"slice": 1, "policy": "round-robin"})
    m.run()
    assert m.policy.totals()["sc_fail"] > 0  # the loop really was interleaved


def test_v1_single_bit_per_page_loses_updates():
    """v1 (one dirty bit per page) is not correct: B's next LL re-cleans the page B's SC
    dirtied, so A's older reservation succeeds on a stale value.  Per-vCPU bits fix it."""
    v1 = {"bitmap": "page", "protection": "page"}
    m = toy_machine(increment_loop(100), vcpus=4, schedule={"slice": 1, "policy": "random",
                                                              "seed": 3}, options=v1)
    m.run()
    assert read32(m, X) < 400
    assert m.policy.totals()["sc_ok"] == 400  # every vCPU believed all its SCs


def run_handshake(target: int, aba: bool, options: dict | None = None, vcpus: int = 2):
    m = toy_machine(handshake_program(), vcpus=vcpus, schedule={"slice": 1}, options=options)
    write32(m, X, 0xAAAA)
    for cpu in m.cpus[1:]:  # vCPUs beyond 1 are bystanders storing to another page
        cpu.env[9] = target if cpu.index == 1 else OTHER_PAGE + 4 * cpu.index
        cpu.env[11] = int(aba)
    result = m.run()
    assert result.reason == "exit"
    return result.exit_status, m


@pytest.mark.parametrize("vcpus", [2, 4])
@pytest.mark.parametrize("aba", [False, True], ids=["A-B", "A-B-A"])
@pytest.mark.parametrize("protection", ["page", "range"])
def test_store_by_other_vcpu_between_ll_and_sc_fails_sc(aba, protection, vcpus):
    status, m = run_handshake(X, aba, {"protection": protection}, vcpus=vcpus)
    assert status == 1  # SC failed
    assert read32(m, X) == (0xAAAA if aba else 0xBBBB)  # the failed SC stored nothing
    stats = m.policy.stats[0]
    assert (stats.sc_ok, stats.sc_fail, stats.sc_spurious) == (0, 1, 0)


def test_store_to_another_page_does_not_fail_sc():
    status, m = run_handshake(OTHER_PAGE, aba=False)
    assert status == 0
    assert read32(m, X) == 0xAAAB
    assert m.policy.stats[0].sc_ok == 1


def test_store_to_same_page_other_word_fails_spuriously_under_page_protection():
    status, m = run_handshake(X + 64, aba=False, options={"protection": "page"})
    assert status == 1
    assert m.policy.stats[0].sc_spurious == 1  # nobody wrote the reserved bytes


def test_store_to_same_page_other_word_succeeds_under_range_protection():
    status, m = run_handshake(X + 64, aba=False, options={"protection": "range"})
    assert status == 0
    assert read32(m, X) == 0xAAAB


def stale_tlb_program() -> list:
    """CPU 1 loads x (its TLB now maps x's page without TLB_EXCL), then, in the same
    straight-line TB, waits a few instructions and stores B then A to x; CPU 0's LL
    lands inside that window."""
    return li(1, X) + li(5, FLAGS) + [
        ("CPUID", 0),
        ("BNZ", 0, "cpu1"),
        ("ADDI", 12, 12, 1),  # let CPU 1's load come first
        ("ADDI", 12, 12, 1),
        ("LL", 2, 1, 0),
        "w0",
        ("LDW", 7, 5, 4),
        ("BZ", 7, "w0"),
        ("ADDI", 2, 2, 1),
        ("SC", 4, 2, 1),
        ("EXIT", 0, 4),
        "cpu1",
        ("LDW", 10, 1, 0),  # fills the TLB entry before CPU 0's LL
        ("ADDI", 12, 12, 1),
        ("ADDI", 12, 12, 1),
        ("ADDI", 12, 12, 1),
        ("ADDI", 12, 12, 1),
        ("MOVI", 8, 0, 0xBBBB),
        ("STW", 8, 1, 0),  # B, after CPU 0's LL, through the entry filled above
        ("STW", 10, 1, 0),  # A
        ("MOVI", 6, 0, 1),
        ("STW", 6, 5, 4),
        ("HALT",),
    ]


def test_stale_tlb_entry_is_caught_by_synchronous_flush():
    m = toy_machine(stale_tlb_program(), vcpus=2, schedule={"slice": 1},
                    options={"flush": "sync"})
    write32(m, X, 0xAAAA)
    result = m.run()
    assert result.exit_status == 1  # the SC failed: CPU 1's stores were seen
    assert m.policy.stats[1].slow_stores >= 1


def test_asynchronous_flush_leaves_a_window_for_stale_tlb_stores():
    """The documented hole: with async flushes CPU 1 is still inside the TB that filled
    its entry, so its stores take the fast path and the policy never sees them; CPU 0's
    SC succeeds although another vCPU wrote x (here A->B->A) in between."""
    m = toy_machine(stale_tlb_program(), vcpus=2, schedule={"slice": 1},
                    options={"flush": "async"})
    write32(m, X, 0xAAAA)
    result = m.run()
    assert result.exit_status == 0
    assert read32(m, X) == 0xAAAB
    assert m.policy.stats[1].slow_stores == 0


def test_ll_flags_other_vcpus_stores_but_not_their_loads():
    m = toy_machine([("HALT",)], vcpus=2)
    cpu0, cpu1 = m.cpus
    cpu1.mmu.load(X, MemOp.UL)
    m.policy.load_link(cpu0, X, MemOp.UL | MemOp.MO_ALIGN)
    idx = (X >> PAGE_BITS) & (TLB_SIZE - 1)
    assert cpu1.mmu.addr_read[idx] == -1  # flushed
    cpu1.mmu.load(X, MemOp.UL)
    assert cpu1.mmu.addr_read[idx] == X & PAGE_MASK
    cpu1.mmu.store(X + 8, 5, MemOp.UL)
    assert cpu1.mmu.addr_write[idx] & TLB_EXCL
    assert m.policy.stats[1].slow_stores == 1


def test_clrex_drops_the_reservation():
    m = toy_machine([("HALT",)], vcpus=1)
    cpu = m.cpus[0]
    memop = MemOp.UL | MemOp.MO_ALIGN
    m.policy.load_link(cpu, X, memop)
    m.policy.clrex(cpu)
    assert m.policy.store_cond(cpu, X, 7, memop) == 1
    assert read32(m, X) == 0
    m.policy.load_link(cpu, X, memop)
    assert m.policy.store_cond(cpu, X + 4, 7, memop) == 1  # SC to another address fails
    m.policy.load_link(cpu, X, memop)
    assert m.policy.store_cond(cpu, X, 7, memop) == 0
    assert read32(m, X) == 7


def test_more_than_eight_vcpus_get_their_own_bits():
    m = toy_machine(increment_loop(20), vcpus=10, schedule={"slice": 1, "policy": "random",
                                                              "seed": 5})
    m.run()
    assert read32(m, X) == 200
    assert isinstance(m.memory.ram_list.dirty_memory[DIRTY_MEMORY_EXCLUSIVE], list)


def test_policy_is_thread_safe():
    """Host threads calling LL/SC on their own vCPUs keep an exact total (the lock)."""
    m = toy_machine([("HALT",)], vcpus=4, options={"flush": "sync"})
    memop = MemOp.UL | MemOp.MO_ALIGN

    def worker(cpu):
        done = 0
        while done < 300:
            v = m.policy.load_link(cpu, X, memop)
            if m.policy.store_cond(cpu, X, v + 1, memop) == 0:
                done += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in m.cpus]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read32(m, X) == 1200


def test_ram_base_is_virt():
    assert RAM_BASE == 0x4000_0000


def test_own_plain_store_keeps_own_reservation_with_per_vcpu_bits():
    """A vCPU's own store to its reserved page dirties the other vCPUs' bits, not its own."""
    m = toy_machine([("HALT",)], vcpus=2)
    cpu0 = m.cpus[0]
    memop = MemOp.UL | MemOp.MO_ALIGN
    m.policy.load_link(cpu0, X, memop)
    cpu0.mmu.store(X + 0x100, 1, MemOp.UL)
    assert m.policy.store_cond(cpu0, X, 7, memop) == 0
    # and once the reservation is gone, nobody holds the page: stores stop trapping
    cell = m.memory.ram_list.ram_page(X)
    assert m.memory.ram_list.dirty_memory[DIRTY_MEMORY_EXCLUSIVE][cell] == m.policy.all_dirty


def test_a_new_ll_releases_the_old_reservations_page():
    m = toy_machine([("HALT",)], vcpus=2)
    cpu0, cpu1 = m.cpus
    memop = MemOp.UL | MemOp.MO_ALIGN
    m.policy.load_link(cpu0, X, memop)  # page P, then abandoned (a failed CAS: no CLREX)
    m.policy.load_link(cpu0, OTHER_PAGE, memop)
    assert m.policy.store_cond(cpu0, OTHER_PAGE, 1, memop) == 0
    assert m.policy.tlb_fill_flags(cpu1, X & PAGE_MASK) == 0
    slow = cpu1.stats.slow_stores
    for _ in range(10):
        cpu1.mmu.store(X, 5, MemOp.UL)
    assert cpu1.stats.slow_stores - slow <= 1  # at most the refill, then the fast path
