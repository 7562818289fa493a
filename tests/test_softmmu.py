"""The softmmu at unit level: TLB fill and flags, flushes, every access size, alignment,
page crossing, MMIO, unmapped memory, and the physical memory map (core/softmmu.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cpu import EXCP, GuestFault
from core.errors import GuestError, TcglabError
from core.ir import MemOp
from tests.toyisa import RAM_BASE
from core.softmmu import (PAGE_BITS, PAGE_MASK, PAGE_SIZE, TLB_EMPTY, TLB_EXCL, TLB_FLAGS, TLB_MMIO,
                          TLB_NOTDIRTY, TLB_SIZE, RamList, SystemMemory, tlb_flush,
                          tlb_flush_page)
from tests.support.toy import DATA, read32, toy_machine, write32

UNMAPPED = 0x0000_1000
MMIO_BASE = 0x0900_0000
RAM_END = RAM_BASE + (1 << 20)  # toy_machine's default 1M of RAM

EXIT_PROG = [("MOVI", 5, 0, 7), ("EXIT", 0, 0, 0)]


def idx(addr: int) -> int:
    return (addr >> PAGE_BITS) & (TLB_SIZE - 1)


def machine(vcpus: int = 1, program=EXIT_PROG, **kw):
    return toy_machine(program, vcpus=vcpus, schedule={"slice": 1000, "max_insns": 100_000}, **kw)


# --------------------------------------------------------------------------- TLB fill


def test_first_load_fills_then_second_load_hits_fast_path():
    m = machine()
    cpu = m.cpus[0]
    mmu, st = cpu.mmu, cpu.stats
    write32(m, DATA + 8, 0xDEADBEEF)
    assert mmu.addr_read[idx(DATA)] == TLB_EMPTY
    fills, slow = st.tlb_fills, st.slow_loads
    assert mmu.load(DATA + 8, MemOp.UL) == 0xDEADBEEF
    assert st.tlb_fills == fills + 1
    assert st.slow_loads == slow + 1
    # same page, another offset: fast path, no fill, no slow load
    write32(m, DATA + 0x40, 0x01020304)
    assert mmu.load(DATA + 0x40, MemOp.UL) == 0x01020304
    assert mmu.load(DATA + 8, MemOp.UL) == 0xDEADBEEF
    assert st.tlb_fills == fills + 1
    assert st.slow_loads == slow + 1


def bare_pages(tags: list[int]) -> set[int]:
    """The pages whose entry a compare would hit: tags that are a page and no flag."""
    return {t for t in tags if t != TLB_EMPTY and not t & ~PAGE_MASK}


def assert_page_dicts_mirror_tlb(mmu) -> None:
    """read_pages/write_pages hold exactly the entries whose read/write tag is a bare RAM
    page, each with that page's views (what pyjit's one-lookup fast path relies on)."""
    assert set(mmu.read_pages) == bare_pages(mmu.addr_read)
    assert set(mmu.write_pages) == bare_pages(mmu.addr_write)
    block = mmu.memory.ram_list.blocks[0]
    for page, views in [*mmu.read_pages.items(), *mmu.write_pages.items()]:
        assert views is block.page_views[page]


def test_page_dicts_give_the_items_of_the_page_an_aligned_access_reads():
    """pyjit's fast path: read_pages[a & mask][log2 size][(a & 4095) >> log2 size] is the
    byte, halfword or word at ``a``; a key with alignment bits left finds nothing."""
    m = machine()
    mmu = m.cpus[0].mmu
    write32(m, DATA + 0x24, 0x8899AABB)
    mmu.load(DATA, MemOp.UL)  # fill
    views = mmu.read_pages[DATA]
    assert views[2][(DATA + 0x24 & 4095) >> 2] == 0x8899AABB
    assert views[1][(DATA + 0x26 & 4095) >> 1] == 0x8899
    assert views[0][DATA + 0x25 & 4095] == 0xAA
    assert (DATA + 0x26) & (PAGE_MASK | 3) not in mmu.read_pages  # misaligned word
    views[2][(DATA + 0x24 & 4095) >> 2] = 0x01020304  # the views are the RAM itself
    assert read32(m, DATA + 0x24) == 0x01020304
    assert mmu.write_pages[DATA] is views
    assert_page_dicts_mirror_tlb(mmu)


def test_page_dicts_leave_out_flagged_and_device_entries():
    m = machine(vcpus=2)
    m.memory.add_mmio("dev", MMIO_BASE, PAGE_SIZE, lambda a, n: 0, lambda a, n, v: None)
    c0, c1 = m.cpus
    c1.mmu.load(MMIO_BASE, MemOp.UL)
    assert MMIO_BASE not in c1.mmu.read_pages and MMIO_BASE not in c1.mmu.write_pages
    m.policy.load_link(c0, DATA, MemOp.UL | MemOp.MO_ALIGN)
    c1.mmu.load(DATA, MemOp.UL)  # refilled with TLB_EXCL on its write tag
    assert DATA in c1.mmu.read_pages and DATA not in c1.mmu.write_pages
    m.translator.translate(c0, RAM_BASE, 0)  # code on the first page: stores must see it
    c0.mmu.load(RAM_BASE, MemOp.UL)
    assert RAM_BASE in c0.mmu.read_pages and RAM_BASE not in c0.mmu.write_pages
    for mmu in (c0.mmu, c1.mmu):
        assert_page_dicts_mirror_tlb(mmu)


_PAGES = [RAM_BASE, DATA, DATA + PAGE_SIZE, DATA + TLB_SIZE * PAGE_SIZE, MMIO_BASE]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["load", "store", "ll", "flush", "flush_page",
                                            "code", "write_code"]),
                          st.integers(0, 1), st.sampled_from(_PAGES),
                          st.sampled_from([0, 4, 6, 0xFFE])),
                max_size=40))
def test_page_dicts_mirror_the_tlb_through_any_fills_and_flushes(ops):
    """Whatever sequence of loads, stores, LLs (which flush the other vCPU), full and
    page flushes, code translated on a page and stores to that code (which flush the page
    from every TLB), including pages that share a TLB index and a device page."""
    m = machine(vcpus=2, ram_size="2M")
    m.memory.add_mmio("dev", MMIO_BASE, PAGE_SIZE, lambda a, n: 0, lambda a, n, v: None)
    for op, who, page, off in ops:
        cpu = m.cpus[who]
        addr = page + off
        if op == "load":
            cpu.mmu.load(addr, MemOp.UW)
        elif op == "store":
            cpu.mmu.store(addr, 0x1234, MemOp.UW)
        elif op == "ll" and page != MMIO_BASE:
            m.policy.load_link(cpu, page, MemOp.UL | MemOp.MO_ALIGN)
        elif op == "flush":
            tlb_flush(cpu)
        elif op == "flush_page":
            tlb_flush_page(cpu, addr)
        elif op == "code" and page != MMIO_BASE:
            m.translator.translate(cpu, page, 0)
        elif op == "write_code" and page != MMIO_BASE:
            m.memory.write_bytes(page, bytes(4))
        for other in m.cpus:
            assert_page_dicts_mirror_tlb(other.mmu)


def test_on_change_reports_every_entry_a_fill_or_flush_changes():
    """A backend mirroring the TLB in host memory learns of each change, and of no other."""
    m = machine(vcpus=2)
    mmu = m.cpus[0].mmu
    seen: list[int] = []
    mmu.on_change = seen.append
    mmu.load(DATA, MemOp.UL)
    mmu.load(DATA + 4, MemOp.UL)  # fast path: nothing changes
    assert seen[0] == idx(DATA) and seen.count(idx(DATA)) == 1
    seen.clear()
    mmu.flush_page(DATA + PAGE_SIZE)  # not in the TLB: nothing to tell
    assert seen == []
    mmu.flush_page(DATA + 0x10)
    assert seen == [idx(DATA)]
    tlb_flush_page(m.cpus[0], DATA, async_=True)  # deferred: told when it is applied
    mmu.load(DATA, MemOp.UL)
    seen.clear()
    m.cpus[0].run_work()
    assert seen == [idx(DATA)]
    tlb_flush(m.cpus[0])
    assert seen[-1] == -1
    m.cpus[1].mmu.load(DATA, MemOp.UL)  # another vCPU's TLB is not this one's
    assert seen[-1] == -1 and len(seen) == 2


def test_plain_page_entry_tags_have_no_flags():
    m = machine()
    mmu = m.cpus[0].mmu
    mmu.load(DATA + 0x10, MemOp.UB)
    i = idx(DATA)
    assert mmu.addr_read[i] == DATA
    assert mmu.addr_write[i] == DATA
    assert mmu.addr_write[i] & TLB_FLAGS == 0


def test_store_fast_path_after_fill():
    m = machine()
    cpu = m.cpus[0]
    mmu, st = cpu.mmu, cpu.stats
    mmu.store(DATA, 1, MemOp.UL)
    fills, slow = st.tlb_fills, st.slow_stores
    mmu.store(DATA + 4, 0x12345678, MemOp.UL)
    assert (st.tlb_fills, st.slow_stores) == (fills, slow)
    assert read32(m, DATA + 4) == 0x12345678


# --------------------------------------------------------------------------- flags


def test_code_page_gets_notdirty_on_refill():
    m = machine()
    m.run()
    assert m.cpus[0].env[5] == 7
    mmu = m.cpus[0].mmu
    assert RAM_BASE in m.memory.ram_list.code_pages
    mmu.load(RAM_BASE, MemOp.UL)  # refill the code page's entry
    i = idx(RAM_BASE)
    assert mmu.addr_write[i] & TLB_NOTDIRTY
    assert mmu.addr_write[i] & PAGE_MASK == RAM_BASE
    assert mmu.addr_read[i] == RAM_BASE  # loads from code stay on the fast path
    # a data page is unaffected
    mmu.load(DATA, MemOp.UL)
    assert mmu.addr_write[idx(DATA)] == DATA


def test_store_to_code_page_takes_slow_path_and_invalidates():
    m = machine()
    m.run()
    cpu = m.cpus[0]
    before = cpu.stats.smc_invalidations
    cpu.mmu.store(RAM_BASE + 0x100, 0, MemOp.UL)
    assert cpu.stats.smc_invalidations == before + 1
    assert m.translator.invalidated >= 1
    assert RAM_BASE not in m.memory.ram_list.code_pages
    # refilled without the flag: the next store is fast
    assert cpu.mmu.addr_write[idx(RAM_BASE)] == RAM_BASE
    slow = cpu.stats.slow_stores
    cpu.mmu.store(RAM_BASE + 0x104, 0, MemOp.UL)
    assert cpu.stats.slow_stores == slow


def test_ll_sets_excl_on_other_vcpu_write_tag_only():
    m = machine(vcpus=2)
    c0, c1 = m.cpus
    c1.mmu.load(DATA, MemOp.UL)
    assert c1.mmu.addr_write[idx(DATA)] == DATA  # plain before any LL
    m.policy.load_link(c0, DATA, MemOp.UL | MemOp.MO_ALIGN)
    # the LL flushed vCPU 1's entry (sync flush by default)
    assert c1.mmu.addr_read[idx(DATA)] == TLB_EMPTY
    fills = c1.stats.tlb_fills
    c1.mmu.load(DATA, MemOp.UL)
    assert c1.stats.tlb_fills == fills + 1
    i = idx(DATA)
    assert c1.mmu.addr_write[i] & TLB_EXCL
    assert c1.mmu.addr_write[i] & PAGE_MASK == DATA
    assert c1.mmu.addr_read[i] == DATA  # no flag: loads stay fast
    slow = c1.stats.slow_loads
    c1.mmu.load(DATA + 4, MemOp.UL)
    assert c1.stats.slow_loads == slow


def test_store_through_excl_entry_takes_slow_path_other_page_stays_fast():
    m = machine(vcpus=2)
    c0, c1 = m.cpus
    other = DATA + 2 * PAGE_SIZE
    c1.mmu.store(other, 1, MemOp.UL)  # warm the other page
    m.policy.load_link(c0, DATA, MemOp.UL | MemOp.MO_ALIGN)
    c1.mmu.store(other, 1, MemOp.UL)  # refill after the LL's flush
    pol = m.policy.stats[1]
    cpu_slow, pol_slow = c1.stats.slow_stores, pol.slow_stores
    c1.mmu.store(DATA, 0x55, MemOp.UL)
    assert c1.stats.slow_stores == cpu_slow + 1
    assert pol.slow_stores == pol_slow + 1
    c1.mmu.store(DATA + 4, 0x66, MemOp.UL)  # every store to the page, not just the first
    assert c1.stats.slow_stores == cpu_slow + 2
    assert pol.slow_stores == pol_slow + 2
    assert read32(m, DATA) == 0x55 and read32(m, DATA + 4) == 0x66
    c1.mmu.store(other, 2, MemOp.UL)
    assert c1.stats.slow_stores == cpu_slow + 2
    assert pol.slow_stores == pol_slow + 2
    assert read32(m, other) == 2
    # vCPU 1's store dirtied the page: vCPU 0's SC fails
    assert m.policy.store_cond(c0, DATA, 9, MemOp.UL | MemOp.MO_ALIGN) == 1
    assert read32(m, DATA) == 0x55


# --------------------------------------------------------------------------- flushes


def _fill(mmu, *addrs):
    for a in addrs:
        mmu.load(a, MemOp.UB)


def test_flush_empties_everything():
    m = machine()
    mmu = m.cpus[0].mmu
    _fill(mmu, DATA, DATA + PAGE_SIZE, RAM_BASE)
    mmu.ld_code(RAM_BASE, 4)
    flushes = m.cpus[0].stats.tlb_flushes
    mmu.flush()
    assert m.cpus[0].stats.tlb_flushes == flushes + 1
    for tags in (mmu.addr_read, mmu.addr_write, mmu.addr_code):
        assert all(t == TLB_EMPTY for t in tags)
    fills = m.cpus[0].stats.tlb_fills
    mmu.load(DATA, MemOp.UB)
    assert m.cpus[0].stats.tlb_fills == fills + 1


def test_every_flush_counts_and_drops_what_was_filled_since_the_last():
    # a flush of an already empty TLB skips the clearing, never the count, and a fill
    # after a flush (of RAM or of a device page) is dropped by the next one
    m, _dev = mmio_machine()
    mmu = m.cpus[0].mmu
    stats = m.cpus[0].stats
    _fill(mmu, DATA)
    before = stats.tlb_flushes
    mmu.flush()
    mmu.flush()
    assert stats.tlb_flushes == before + 2
    for addr in (DATA + PAGE_SIZE, MMIO_BASE):
        mmu.load(addr, MemOp.UB)
        assert mmu.addr_read[idx(addr)] != TLB_EMPTY
        mmu.flush()
        assert all(t == TLB_EMPTY for tags in (mmu.addr_read, mmu.addr_write, mmu.addr_code)
                   for t in tags)
    assert stats.tlb_flushes == before + 4
    fills = stats.tlb_fills
    mmu.load(DATA, MemOp.UB)
    assert stats.tlb_fills == fills + 1


def test_flush_page_drops_only_that_page():
    m = machine()
    mmu = m.cpus[0].mmu
    _fill(mmu, DATA, DATA + PAGE_SIZE)
    mmu.flush_page(DATA + 0x123)
    assert mmu.addr_read[idx(DATA)] == TLB_EMPTY
    assert mmu.addr_write[idx(DATA)] == TLB_EMPTY
    assert mmu.addr_read[idx(DATA + PAGE_SIZE)] == DATA + PAGE_SIZE
    slow = m.cpus[0].stats.slow_loads
    mmu.load(DATA + PAGE_SIZE, MemOp.UB)
    assert m.cpus[0].stats.slow_loads == slow


def test_flush_page_of_aliasing_page_keeps_entry():
    m = machine()
    mmu = m.cpus[0].mmu
    _fill(mmu, DATA)
    alias = DATA + TLB_SIZE * PAGE_SIZE  # same TLB index, another page
    assert idx(alias) == idx(DATA)
    mmu.flush_page(alias)
    assert mmu.addr_read[idx(DATA)] == DATA


@pytest.mark.parametrize("page_only", [False, True])
def test_async_flush_waits_for_run_work(page_only):
    m = machine()
    cpu = m.cpus[0]
    _fill(cpu.mmu, DATA, DATA + PAGE_SIZE)
    if page_only:
        tlb_flush_page(cpu, DATA, async_=True)
    else:
        tlb_flush(cpu, async_=True)
    assert len(cpu.work) == 1
    assert cpu.mmu.addr_read[idx(DATA)] == DATA  # still there
    cpu.run_work()
    assert cpu.work == []
    assert cpu.mmu.addr_read[idx(DATA)] == TLB_EMPTY
    expect_other = DATA + PAGE_SIZE if page_only else TLB_EMPTY
    assert cpu.mmu.addr_read[idx(DATA + PAGE_SIZE)] == expect_other


@pytest.mark.parametrize("page_only", [False, True])
def test_sync_flush_drops_at_once(page_only):
    m = machine()
    cpu = m.cpus[0]
    _fill(cpu.mmu, DATA, DATA + PAGE_SIZE)
    if page_only:
        tlb_flush_page(cpu, DATA)
    else:
        tlb_flush(cpu)
    assert cpu.work == []
    assert cpu.mmu.addr_read[idx(DATA)] == TLB_EMPTY
    expect_other = DATA + PAGE_SIZE if page_only else TLB_EMPTY
    assert cpu.mmu.addr_read[idx(DATA + PAGE_SIZE)] == expect_other


def test_async_flush_applied_at_tb_boundary_during_run():
    m = machine()
    cpu = m.cpus[0]
    _fill(cpu.mmu, DATA)
    tlb_flush(cpu, async_=True)
    m.run()
    assert cpu.work == []
    assert cpu.mmu.addr_read[idx(DATA)] == TLB_EMPTY


# --------------------------------------------------------------------------- sizes and endianness

BYTES = bytes([0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88])

LOADS = [
    (MemOp.UB, 0x81),
    (MemOp.SB, 0x81 - 0x100),
    (MemOp.UW, 0x8281),
    (MemOp.SW, 0x8281 - 0x10000),
    (MemOp.UL, 0x84838281),
    (MemOp.SL, 0x84838281 - (1 << 32)),
    (MemOp.UQ, 0x8887868584838281),
    (MemOp.BEUW, 0x8182),
    (MemOp.BEUL, 0x81828384),
    (MemOp.BEUQ, 0x8182838485868788),
    (MemOp.SW | MemOp.MO_BSWAP, 0x8182 - 0x10000),
]


@pytest.mark.parametrize("memop,expected", LOADS, ids=[str(int(m)) for m, _ in LOADS])
def test_load_sizes_sign_and_endianness(memop, expected):
    m = machine()
    mmu, st = m.cpus[0].mmu, m.cpus[0].stats
    m.memory.write_bytes(DATA + 0x20, BYTES)
    assert mmu.load(DATA + 0x20, memop) == expected  # slow path (fill)
    slow = st.slow_loads
    assert mmu.load(DATA + 0x20, memop) == expected  # fast path
    assert st.slow_loads == slow


def test_positive_signed_loads_are_not_extended():
    m = machine()
    m.memory.write_bytes(DATA, bytes([0x7F, 0x7F, 0x7F, 0x7F]))
    mmu = m.cpus[0].mmu
    assert mmu.load(DATA, MemOp.SB) == 0x7F
    assert mmu.load(DATA, MemOp.SW) == 0x7F7F
    assert mmu.load(DATA, MemOp.SL) == 0x7F7F7F7F


STORES = [
    (MemOp.UB, 0x1A5, bytes([0xA5])),
    (MemOp.UW, 0x1234, bytes([0x34, 0x12])),
    (MemOp.UW, -2, bytes([0xFE, 0xFF])),
    (MemOp.UL, 0x11223344, bytes([0x44, 0x33, 0x22, 0x11])),
    (MemOp.UQ, 0x1122334455667788, bytes([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])),
    (MemOp.BEUW, 0x1234, bytes([0x12, 0x34])),
    (MemOp.BEUL, 0x11223344, bytes([0x11, 0x22, 0x33, 0x44])),
    (MemOp.BEUQ, 0x1122334455667788, bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])),
]


@pytest.mark.parametrize("warm", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("memop,value,expected", STORES)
def test_store_sizes_and_endianness(memop, value, expected, warm):
    m = machine()
    mmu = m.cpus[0].mmu
    m.memory.write_bytes(DATA + 0x1F, b"\xEE" * 10)
    if warm:
        mmu.store(DATA + 0x100, 0, MemOp.UB)
    slow = m.cpus[0].stats.slow_stores
    mmu.store(DATA + 0x20, value, memop)
    assert m.cpus[0].stats.slow_stores == slow + (0 if warm else 1)
    got = m.memory.read_bytes(DATA + 0x1F, 10)
    n = len(expected)
    assert got == b"\xEE" + expected + b"\xEE" * (9 - n)


# --------------------------------------------------------------------------- alignment and page crossing


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("access", ["load", "store"])
def test_mo_align_at_odd_address_faults(access, warm):
    m = machine()
    mmu = m.cpus[0].mmu
    if warm:
        mmu.store(DATA, 0, MemOp.UL)  # the page is in the TLB: the fast compare must miss too
    memop = MemOp.UL | MemOp.MO_ALIGN
    with pytest.raises(GuestFault) as ei:
        if access == "load":
            mmu.load(DATA + 2, memop)
        else:
            mmu.store(DATA + 2, 0xFFFFFFFF, memop)
    f = ei.value
    assert f.reason == "unaligned"
    assert f.excp is EXCP.DATA_FAULT
    assert (f.addr, f.size, f.access) == (DATA + 2, 4, access)
    assert m.memory.read_bytes(DATA, 8) == bytes(8)


def test_mo_align_aligned_and_explicit_alignment_widths():
    m = machine()
    mmu = m.cpus[0].mmu
    write32(m, DATA + 4, 0xCAFEF00D)
    assert mmu.load(DATA + 4, MemOp.UL | MemOp.MO_ALIGN) == 0xCAFEF00D
    # 2-byte alignment for a 4-byte access: +2 is fine, +1 is not
    m.memory.write_bytes(DATA + 0x10, bytes([1, 2, 3, 4, 5, 6]))
    assert mmu.load(DATA + 0x12, MemOp.UL | MemOp.MO_ALIGN_2) == 0x06050403
    with pytest.raises(GuestFault) as ei:
        mmu.load(DATA + 0x11, MemOp.UL | MemOp.MO_ALIGN_2)
    assert ei.value.reason == "unaligned"


def test_unaligned_without_mo_align_works():
    m = machine()
    mmu = m.cpus[0].mmu
    m.memory.write_bytes(DATA, bytes(range(1, 17)))
    assert mmu.load(DATA + 1, MemOp.UL) == 0x05040302
    assert mmu.load(DATA + 3, MemOp.UW) == 0x0504
    assert mmu.load(DATA + 5, MemOp.UQ) == 0x0D0C0B0A09080706
    mmu.store(DATA + 1, 0xAABBCCDD, MemOp.UL)
    assert m.memory.read_bytes(DATA, 6) == bytes([1, 0xDD, 0xCC, 0xBB, 0xAA, 6])


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_page_crossing_load(warm):
    m = machine()
    mmu = m.cpus[0].mmu
    addr = DATA + PAGE_SIZE - 2
    m.memory.write_bytes(addr, bytes([0x11, 0x22, 0x33, 0x84]))
    if warm:
        _fill(mmu, DATA, DATA + PAGE_SIZE)
    assert mmu.load(addr, MemOp.UL) == 0x84332211
    assert mmu.load(addr, MemOp.BEUL) == 0x11223384
    assert mmu.load(addr, MemOp.SL) == 0x84332211 - (1 << 32)
    assert mmu.load(addr + 1, MemOp.UW) == 0x3322


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_page_crossing_store(warm):
    m = machine()
    mmu = m.cpus[0].mmu
    addr = DATA + PAGE_SIZE - 2
    m.memory.write_bytes(addr - 1, b"\xEE" * 6)
    if warm:
        _fill(mmu, DATA, DATA + PAGE_SIZE)
    mmu.store(addr, 0xA1B2C3D4, MemOp.UL)
    assert m.memory.read_bytes(addr - 1, 3) == bytes([0xEE, 0xD4, 0xC3])  # first page
    assert m.memory.read_bytes(DATA + PAGE_SIZE, 3) == bytes([0xB2, 0xA1, 0xEE])  # second page
    mmu.store(addr, 0xA1B2C3D4, MemOp.BEUL)
    assert m.memory.read_bytes(addr, 4) == bytes([0xA1, 0xB2, 0xC3, 0xD4])


@pytest.mark.parametrize("memop", [MemOp.UW, MemOp.UL, MemOp.UQ, MemOp.UQ | MemOp.MO_ALIGN_4])
def test_page_crossing_access_misses_fast_path_even_when_both_pages_are_warm(memop):
    m = machine()
    mmu, st = m.cpus[0].mmu, m.cpus[0].stats
    _fill(mmu, DATA, DATA + PAGE_SIZE)
    mmu.store(DATA, 0, MemOp.UB)
    mmu.store(DATA + PAGE_SIZE, 0, MemOp.UB)
    addr = DATA + PAGE_SIZE - 4 if memop & MemOp.MO_ALIGN_4 else DATA + PAGE_SIZE - 1
    loads, stores = st.slow_loads, st.slow_stores
    mmu.load(addr, memop)
    mmu.store(addr, 0, memop)
    assert st.slow_loads > loads
    assert st.slow_stores == stores + 1


def test_page_crossing_store_counts_once():
    m = machine()
    st = m.cpus[0].stats
    slow = st.slow_stores
    m.cpus[0].mmu.store(DATA + PAGE_SIZE - 2, 0, MemOp.UL)
    assert st.slow_stores == slow + 1


def test_page_crossing_load_counts_once():
    m = machine()
    st = m.cpus[0].stats
    slow = st.slow_loads
    m.cpus[0].mmu.load(DATA + PAGE_SIZE - 2, MemOp.UL)
    assert st.slow_loads == slow + 1


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_page_crossing_store_into_unmapped_leaves_memory_untouched(warm):
    m = machine()
    addr = RAM_END - 2
    m.memory.write_bytes(addr, b"\x55\x66")
    if warm:
        m.cpus[0].mmu.store(RAM_END - 8, 0, MemOp.UL)
    with pytest.raises(GuestFault) as ei:
        m.cpus[0].mmu.store(addr, 0xFFFFFFFF, MemOp.UL)
    assert ei.value.excp is EXCP.DATA_FAULT
    assert ei.value.access == "store"
    assert m.memory.read_bytes(addr, 2) == b"\x55\x66"


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_page_crossing_load_into_unmapped_faults(warm):
    m = machine()
    if warm:
        m.cpus[0].mmu.load(RAM_END - 8, MemOp.UL)
    with pytest.raises(GuestFault) as ei:
        m.cpus[0].mmu.load(RAM_END - 2, MemOp.UL)
    assert ei.value.excp is EXCP.DATA_FAULT
    assert ei.value.access == "load"


@pytest.mark.parametrize("access", ["load", "store"])
def test_page_crossing_fault_reports_access_size_and_first_unmapped_byte(access):
    m = machine()
    mmu = m.cpus[0].mmu
    with pytest.raises(GuestFault) as ei:
        if access == "load":
            mmu.load(RAM_END - 2, MemOp.UL)
        else:
            mmu.store(RAM_END - 2, 0, MemOp.UL)
    assert (ei.value.addr, ei.value.size) == (RAM_END, 4)


# --------------------------------------------------------------------------- MMIO


class Device:
    """Records accesses; reads return ``value_for(offset, size)``."""

    def __init__(self):
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, int, int]] = []
        self.regs: dict[int, int] = {}

    def read(self, offset: int, size: int) -> int:
        self.reads.append((offset, size))
        return self.regs.get(offset, 0xA0B0C0D0 + offset) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes.append((offset, size, value))
        self.regs[offset] = value


def mmio_machine():
    m = machine()
    dev = Device()
    m.memory.add_mmio("dev", MMIO_BASE, 0x1000, dev.read, dev.write)
    return m, dev


@pytest.mark.parametrize("memop,size", [(MemOp.UB, 1), (MemOp.UW, 2), (MemOp.UL, 4)])
def test_mmio_load_reaches_callback(memop, size):
    m, dev = mmio_machine()
    mmu = m.cpus[0].mmu
    value = mmu.load(MMIO_BASE + 0x10, memop)
    assert dev.reads == [(0x10, size)]
    assert value == (0xA0B0C0E0 & ((1 << (8 * size)) - 1))
    # every access goes to the device, not to a cached host page
    mmu.load(MMIO_BASE + 0x10, memop)
    assert dev.reads == [(0x10, size)] * 2
    i = idx(MMIO_BASE)
    assert mmu.addr_read[i] == MMIO_BASE | TLB_MMIO
    assert mmu.addr_write[i] == MMIO_BASE | TLB_MMIO


@pytest.mark.parametrize("memop,size,value", [(MemOp.UB, 1, 0x1AB), (MemOp.UW, 2, 0xBEEF),
                                              (MemOp.UL, 4, 0xDEADBEEF)])
def test_mmio_store_reaches_callback(memop, size, value):
    m, dev = mmio_machine()
    mmu = m.cpus[0].mmu
    mmu.store(MMIO_BASE + 0x24, value, memop)
    mmu.store(MMIO_BASE + 0x24, value, memop)
    mask = (1 << (8 * size)) - 1
    assert dev.writes == [(0x24, size, value & mask)] * 2
    assert mmu.addr_write[idx(MMIO_BASE)] & TLB_MMIO


def test_mmio_signed_load_is_sign_extended():
    m, dev = mmio_machine()
    dev.regs[0] = 0xFF80
    assert m.cpus[0].mmu.load(MMIO_BASE, MemOp.SW) == -0x80
    assert m.cpus[0].mmu.load(MMIO_BASE, MemOp.SB) == -0x80


def test_mmio_big_endian_store_load_round_trip():
    m, dev = mmio_machine()
    mmu = m.cpus[0].mmu
    mmu.store(MMIO_BASE, 0x11223344, MemOp.BEUL)
    assert dev.writes == [(0, 4, 0x44332211)]  # the device is little-endian, as RAM is
    assert mmu.load(MMIO_BASE, MemOp.BEUL) == 0x11223344


def test_code_fetch_from_mmio_is_prefetch_abort():
    m, dev = mmio_machine()
    with pytest.raises(GuestFault) as ei:
        m.cpus[0].mmu.ld_code(MMIO_BASE, 4)
    assert ei.value.excp is EXCP.FETCH_FAULT
    assert ei.value.access == "fetch"
    assert dev.reads == []


def test_mmio_must_be_page_aligned():
    m = machine()
    with pytest.raises(TcglabError, match="page aligned"):
        m.memory.add_mmio("dev", MMIO_BASE + 4, 0x1000, lambda o, s: 0, lambda o, s, v: None)


# --------------------------------------------------------------------------- unmapped


@pytest.mark.parametrize("memop,size", [(MemOp.UB, 1), (MemOp.UL, 4), (MemOp.UQ, 8)])
def test_unmapped_load_and_store_fault(memop, size):
    m = machine()
    mmu = m.cpus[0].mmu
    with pytest.raises(GuestFault) as ei:
        mmu.load(UNMAPPED, memop)
    f = ei.value
    assert (f.excp, f.addr, f.size, f.access) == (EXCP.DATA_FAULT, UNMAPPED, size, "load")
    with pytest.raises(GuestFault) as ei:
        mmu.store(UNMAPPED, 0, memop)
    f = ei.value
    assert (f.excp, f.addr, f.size, f.access) == (EXCP.DATA_FAULT, UNMAPPED, size, "store")
    assert f.reason == "unmapped"


def test_unmapped_code_fetch_is_prefetch_abort():
    m = machine()
    with pytest.raises(GuestFault) as ei:
        m.cpus[0].mmu.ld_code(UNMAPPED, 4)
    assert ei.value.excp is EXCP.FETCH_FAULT


def test_guest_store_to_unmapped_is_one_line_error():
    prog = [
        ("MOVI", 1, 0, UNMAPPED),  # 0x40000000
        ("MOVHI", 1, 0, 0),        # 0x40000004
        ("MOVI", 2, 0, 5),         # 0x40000008
        ("STW", 2, 1, 0),          # 0x4000000c: faults
        ("EXIT", 0, 0, 0),
    ]
    m = machine(program=prog)
    with pytest.raises(GuestError) as ei:
        m.run()
    msg = str(ei.value)
    assert msg == "vCPU 0: data abort, store of 4 bytes at 0x00001000, pc=0x4000000c"
    assert "\n" not in msg
    assert m.cpus[0].env[2] == 5  # the instructions before it ran


def test_guest_fault_on_second_vcpu_names_it():
    prog = [
        ("CPUID", 3, 0, 0),        # 0x40000000
        ("BZ", 3, "idle"),         # 0x40000004
        ("MOVI", 1, 0, UNMAPPED),  # 0x40000008
        ("LDW", 2, 1, 0),          # 0x4000000c: faults on vCPU 1
        "idle",
        ("HALT",),                 # 0x40000010
        ("B", "idle"),
    ]
    m = toy_machine(prog, vcpus=2, schedule={"slice": 1, "max_insns": 10_000})
    with pytest.raises(GuestError) as ei:
        m.run()
    assert str(ei.value) == "vCPU 1: data abort, load of 4 bytes at 0x00001000, pc=0x4000000c"


# --------------------------------------------------------------------------- SystemMemory, RamList


def test_overlapping_regions_rejected_naming_both():
    m = machine()
    with pytest.raises(TcglabError) as ei:
        m.memory.add_mmio("uart", RAM_BASE + 0x1000, 0x1000, lambda o, s: 0, lambda o, s, v: None)
    assert "'uart'" in str(ei.value) and "'ram'" in str(ei.value)
    mem = SystemMemory()
    mem.add_ram("low", 0x1000, 0x2000)
    with pytest.raises(TcglabError) as ei:
        mem.add_ram("high", 0x2000, 0x1000)
    assert "'high'" in str(ei.value) and "'low'" in str(ei.value)
    mem.add_ram("adjacent", 0x3000, 0x1000)  # touching is not overlapping
    with pytest.raises(TcglabError):
        mem.add_ram("huge", 0xFFFFF000, 0x2000)


def test_read_write_bytes_across_blocks():
    mem = SystemMemory()
    a = mem.add_ram("a", 0x1000, 0x1000)
    b = mem.add_ram("b", 0x2000, 0x1000)
    mem.write_bytes(0x1FFE, b"\x01\x02\x03\x04")
    assert a.data[-2:] == b"\x01\x02"
    assert b.data[:2] == b"\x03\x04"
    assert mem.read_bytes(0x1FFD, 6) == b"\x00\x01\x02\x03\x04\x00"
    with pytest.raises(GuestFault) as ei:
        mem.read_bytes(0x2FFE, 4)  # runs off the end of b
    assert ei.value.addr == 0x3000
    with pytest.raises(GuestFault) as ei:
        mem.write_bytes(0x5000, b"\x00")
    assert ei.value.access == "store"


def test_write_bytes_over_code_page_notifies():
    mem = SystemMemory()
    mem.add_ram("a", 0x1000, 0x2000)
    seen = []
    mem.on_code_write = seen.append
    mem.ram_list.code_pages.add(0x2000)
    mem.write_bytes(0x1000, b"\x00" * 4)
    assert seen == []
    mem.write_bytes(0x1FFE, b"\x00" * 4)
    assert seen == [0x2000]


def test_ram_page_indexes_blocks_end_to_end():
    rl = RamList()
    rl.add("a", 0x1000, 0x2000)
    rl.add("b", 0x10000, 0x3000)
    assert rl.n_pages == 5
    assert rl.ram_page(0x1000) == 0
    assert rl.ram_page(0x2FFF) == 1
    assert rl.ram_page(0x10000) == 2
    assert rl.ram_page(0x12ABC) == 4
    assert rl.ram_page(0x3000) is None
    assert rl.ram_page(0x13000) is None


def test_dirty_bitmap_cells():
    rl = RamList()
    rl.add("a", 0, 4 * PAGE_SIZE)
    bm = rl.dirty_bitmap("client")
    assert isinstance(bm, bytearray)
    assert bm == bytearray([0xFF] * 4)
    assert rl.dirty_bitmap("client") is bm  # allocated once per client
    assert rl.dirty_memory == {"client": bm}
    assert rl.dirty_bitmap("other") is not bm
    wide = RamList()
    wide.add("a", 0, 3 * PAGE_SIZE)
    cells = wide.dirty_bitmap("client", 16)
    assert isinstance(cells, list)
    assert cells == [0xFFFF] * 3


def test_machine_ram_is_at_ram_base():
    m = machine()
    assert m.memory.ram_list.find(RAM_BASE) is m.ram
    assert m.ram.size == 1 << 20
    assert m.memory.ram_list.find(RAM_END) is None


def test_async_flushes_coalesce_into_one_work_item():
    from core.softmmu import tlb_flush, tlb_flush_page
    m = machine()
    cpu = m.cpus[0]
    for i in range(100):
        tlb_flush_page(cpu, DATA + PAGE_SIZE * (i % 3), async_=True)
    assert len(cpu.work) == 1
    tlb_flush(cpu, async_=True)
    assert len(cpu.work) == 1
    cpu.run_work()
    assert cpu.work == [] and not cpu.mmu.pending_pages and not cpu.mmu.pending_flush_all
