"""The LL/SC series' strategy (Rigo 2015): an exclusive bitmap in ``ram_list`` plus the TLB_EXCL flag.

From the 2015 series (patches 1-3): a bitmap in ``ram_list`` flags RAM pages that must
not be written through the fast path; a RAM page whose cell is clean gets
``addr_write |= TLB_EXCL`` at TLB refill, so every store to it takes the slow path while
loads stay fast.

* LL: slow-path load; clean the page's bit; flush the other vCPUs' TLBs, so that their
  next refill of the page carries TLB_EXCL (and this vCPU's entry for the page too).
* A store that hits a TLB_EXCL entry dirties the page (``on_flagged_store``).
* SC: succeeds, and stores, only if the page stayed clean since the LL; 0 success,
  1 failure; the reservation is gone either way.

Variants of the series, chosen in ``[plugins.exclusive-bitmap]``:

* ``bitmap = "per-vcpu"`` (the default; mid-2015: one 8-bit cell per page, bit
  ``cpu % 8`` per vCPU, 1 = dirty, all memory starting dirty; with more than 8 vCPUs the
  cell widens to one bit per vCPU instead of aliasing) or ``"page"`` (v1: one bit per
  page).  v1's single bit loses updates: after B's SC dirties the page, B's next LL
  cleans it again, and A's older reservation then succeeds on a stale value.
  ``tests/test_exclusive_bitmap.py`` shows it; per-vCPU bits are the series' fix.
  With one bit, a vCPU's own plain store to the page also dirties it.
* ``protection = "page"`` (the page is the unit of conflict) or ``"range"``
  (mid-2015 ``excl_protected_range``: the page is only the trap unit; a store fails
  only the vCPUs whose reserved byte range it overlaps).
* ``flush = "sync"`` (the other TLBs are flushed before LL returns) or ``"async"``
  (each vCPU flushes at its next TB boundary, as MTTCG's ``async_run_on_cpu``: a store
  through a stale entry in that window is not seen, which is the point of studying it).
* ``flush_scope = "all"`` (the series' ``tlb_flush``) or ``"page"`` (only the page).

All state changes happen under one lock (QEMU's ``tcg_excl_access_lock``).
"""

from __future__ import annotations

from attrs import define

from core.config import option
from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy
from core.softmmu import PAGE_MASK, TLB_EXCL, tlb_flush, tlb_flush_page

from ._reservations import StoreTrapStats

NO_RESERVATION = -1
#: this policy's client name for its bitmap in ``ram_list.dirty_memory`` (the series'
#: DIRTY_MEMORY_EXCLUSIVE)
DIRTY_MEMORY_EXCLUSIVE = "exclusive"


@define(frozen=True)
class ExclusiveBitmapOptions:
    bitmap: str = option("per-vcpu", choices=("page", "per-vcpu"),
                         doc="one dirty bit per vCPU per page (mid-2015) or one per page (v1)")
    protection: str = option("page", choices=("page", "range"),
                             doc="conflict unit: the whole page, or the reserved byte range")
    flush: str = option("sync", choices=("sync", "async"),
                        doc="flush the other vCPUs' TLBs before LL returns, or at their next TB")
    flush_scope: str = option("all", choices=("all", "page"),
                              doc="flush whole TLBs (the series) or only the LL's page")


class ExclusiveBitmapPolicy(MemoryPolicy):
    """The LL/SC series: exclusive bitmap in ram_list, TLB_EXCL forcing stores onto the slow path."""

    name = "exclusive-bitmap"
    Options = ExclusiveBitmapOptions
    Stats = StoreTrapStats

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.ram_list = machine.memory.ram_list
        n = len(machine.cpus)
        self.per_vcpu = self.options.bitmap == "per-vcpu"
        self.cell_bits = max(8, n) if self.per_vcpu else 8
        self.all_dirty = (1 << self.cell_bits) - 1
        self.bitmap = self.ram_list.dirty_bitmap(DIRTY_MEMORY_EXCLUSIVE, self.cell_bits)
        self.by_range = self.options.protection == "range"
        self.async_flush = self.options.flush == "async"
        self.flush_all = self.options.flush_scope == "all"
        # reservation per vCPU: [addr, addr + size), or NO_RESERVATION
        self.excl_addr = [NO_RESERVATION] * n
        self.excl_size = [0] * n
        # ground truth for the "spurious" counter: did another vCPU write the reserved bytes?
        self.witnessed = [False] * n
        self._applied = False

    # ---- bits -------------------------------------------------------------------------

    def _bit(self, index: int) -> int:
        return 1 << index if self.per_vcpu else 1

    def _cell(self, addr: int) -> int | None:
        return self.ram_list.ram_page(addr)

    def _is_clean(self, cell: int, index: int) -> bool:
        return not self.bitmap[cell] & self._bit(index)

    # ---- softmmu callbacks --------------------------------------------------------------

    def tlb_fill_flags(self, cpu, page: int) -> int:
        cell = self._cell(page)
        if cell is not None and self.bitmap[cell] != self.all_dirty:
            return TLB_EXCL  # some vCPU holds this page clean: trap stores
        return 0

    def on_flagged_store(self, cpu, addr: int, size: int) -> None:
        with self.lock:
            self.stats[cpu.index].slow_stores += 1
            self._store_effects(cpu, addr, size)

    def _store_effects(self, cpu, addr: int, size: int) -> None:
        """A store by ``cpu`` to ``[addr, addr + size)`` of a trapped page."""
        self._applied = True
        cell = self._cell(addr)
        if cell is None:
            return
        page = addr & PAGE_MASK
        me = cpu.index
        for j, r_addr in enumerate(self.excl_addr):
            if r_addr == NO_RESERVATION or r_addr & PAGE_MASK != page:
                continue
            overlaps = addr < r_addr + self.excl_size[j] and r_addr < addr + size
            if j != me and overlaps:
                self.witnessed[j] = True
            if self.by_range and j != me and overlaps:
                self.excl_addr[j] = NO_RESERVATION  # the store resets j's protected range
                self._release(j, cell, page)
        if not self.by_range:
            if self.per_vcpu:  # dirty every other vCPU's bit; the storer's own stays as it was
                mine = self._bit(me)
                self.bitmap[cell] = (self.all_dirty & ~mine) | (self.bitmap[cell] & mine)
            else:
                self.bitmap[cell] = self.all_dirty

    # ---- LL/SC ------------------------------------------------------------------------

    def load_link(self, cpu, addr: int, memop: int) -> int:
        size = 1 << (memop & 3)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            st.ll += 1
            value = cpu.mmu.load_slow(addr, memop)  # faults before anything is reserved
            self._drop(me)  # a new LL replaces the old reservation: release its page
            cell = self._cell(addr)
            if cell is None:  # not RAM (MMIO): nothing to reserve, the SC will fail
                self.excl_addr[me] = NO_RESERVATION
                return value
            self.excl_addr[me] = addr
            self.excl_size[me] = size
            self.witnessed[me] = False
            self.bitmap[cell] &= self.all_dirty & ~self._bit(me)
            page = addr & PAGE_MASK
            cpu.mmu.flush_page(page)  # own refill picks up TLB_EXCL
            for other in self.machine.cpus:
                if other is cpu:
                    continue
                st.tlb_flushes += 1
                if self.flush_all:
                    tlb_flush(other, async_=self.async_flush)
                else:
                    tlb_flush_page(other, page, async_=self.async_flush)
            return value

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        size = 1 << (memop & 3)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            reserved = self.excl_addr[me] == addr and self.excl_size[me] == size
            cell = self._cell(addr)
            # range protection: the reservation itself is the state (an overlapping store
            # reset it); page protection: the page's bit must still be clean.
            ok = reserved and cell is not None and (self.by_range or self._is_clean(cell, me))
            if ok:
                self._applied = False
                cpu.mmu.store_slow(addr, value, memop)
                if not self._applied:  # our own entry lacked TLB_EXCL: apply the store's effects
                    self._store_effects(cpu, addr, size)
                st.sc_ok += 1
            else:
                st.sc_fail += 1
                if reserved and not self.witnessed[me]:
                    st.sc_spurious += 1
            self._drop(me)
            return 0 if ok else 1

    def clrex(self, cpu) -> None:
        with self.lock:
            self._drop(cpu.index)

    def _drop(self, me: int) -> None:
        addr = self.excl_addr[me]
        self.excl_addr[me] = NO_RESERVATION
        self.witnessed[me] = False
        if addr != NO_RESERVATION:
            cell = self._cell(addr)
            if cell is not None:
                self._release(me, cell, addr & PAGE_MASK)

    def _release(self, index: int, cell: int, page: int) -> None:
        """``index`` no longer holds ``page``: let the page stop trapping if nobody does.

        Page protection with one bit per page (v1) leaves the bit alone: only stores
        dirty a page, so another vCPU's reservation on it stays valid.
        """
        if self.per_vcpu:
            self.bitmap[cell] |= self._bit(index)
        elif self.by_range and not any(
                a != NO_RESERVATION and a & PAGE_MASK == page for a in self.excl_addr):
            self.bitmap[cell] = self.all_dirty


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(ExclusiveBitmapPolicy)
