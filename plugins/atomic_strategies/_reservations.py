"""What the reservation-based policies share: reserved byte ranges and the store trap.

A policy that must see other vCPUs' stores to reserved memory (stop-the-world's
reservation form, arm-monitor; the LL/SC series' exclusive bitmap does the same on its own)
needs three things, factored here:

* :class:`Reservations`: per vCPU, the bytes ``[addr, addr + size)`` its LL read, and
  the ground truth for the ``sc_spurious`` counter: whether another vCPU wrote any of
  those bytes since the LL (``witnessed``).
* :class:`StoreTrap`: the RAM pages holding reservations, reference-counted.  A held
  page gets ``TLB_EXCL`` at TLB refill, so every store to it takes the slow path and
  reaches ``policy.on_flagged_store``; loads stay fast.  When a page becomes held, every
  vCPU's entry for it is flushed synchronously, before the LL returns.
* :func:`pow2_option`: a config option that must be a power of two in a range.
* :class:`StoreTrapStats`: the counters of a policy that traps stores to reserved pages.

Invariant of :class:`StoreTrap`: while a page is held, every vCPU's TLB entry for it
carries TLB_EXCL (all entries were flushed when it became held, and every later refill
adds the flag).  So a later LL of an already held page needs no flush, and every store
to a held page, the SC's own included, is observed.  The flag may outlive the hold
(entries are not flushed again on release): a stale flag only costs slow-path stores.
The own vCPU's entry is flushed too, because its stores can break other vCPUs'
reservations on the page.  ``tlb_flushes`` counts the flushes of other vCPUs' TLBs (the
cross-CPU cost), as the LL/SC series counts them.

Stores the TLB never sees (the loader, the debugger, semihosting writing a guest buffer)
are not observed by any policy.  ``store_slow`` calls ``on_flagged_store`` before it
writes the bytes, outside the policy's lock: exact under the deterministic scheduler;
with host threads per vCPU an LL could fall between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define

from core.config import option
from core.counters import counter
from core.memory_policy import PolicyStats
from core.softmmu import PAGE_MASK, TLB_EXCL

if TYPE_CHECKING:
    from core.cpu import CPUState
    from core.machine import Machine

NO_RESERVATION = -1


def overlaps(a: int, a_size: int, b: int, b_size: int) -> bool:
    """Do the byte ranges ``[a, a + a_size)`` and ``[b, b + b_size)`` share a byte?"""
    return a < b + b_size and b < a + a_size


def size_mask(memop: int) -> tuple[int, int]:
    """``(size in bytes, mask of its bits)`` of a MemOp."""
    size = 1 << (memop & 3)
    return size, (1 << (8 * size)) - 1


def _power_of_two(value: Any) -> Any:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and (value <= 0 or value & (value - 1)):
        raise ValueError("must be a power of two")
    return value  # anything else: the type and range checks that follow report it


def pow2_option(default: int, low: int, high: int, doc: str) -> Any:
    """An int option that must be a power of two from ``low`` to ``high`` (inclusive)."""
    return option(default, min=low, max=high, parse=_power_of_two, doc=doc)


class Reservations:
    """Per vCPU: the bytes its LL reserved, and whether another vCPU wrote them since.

    ``witnessed[j]`` is the ground truth the policies count spurious failures against:
    an SC that fails while ``j`` holds the bytes it names and ``witnessed[j]`` is False
    failed although no other vCPU wrote them.
    """

    def __init__(self, n_cpus: int):
        self.addr = [NO_RESERVATION] * n_cpus
        self.size = [0] * n_cpus
        self.witnessed = [False] * n_cpus

    def set(self, index: int, addr: int, size: int) -> None:
        self.addr[index] = addr
        self.size[index] = size
        self.witnessed[index] = False

    def drop(self, index: int) -> int:
        """Forget ``index``'s reservation; returns its address (or NO_RESERVATION)."""
        addr = self.addr[index]
        self.addr[index] = NO_RESERVATION
        self.witnessed[index] = False
        return addr

    def holds(self, index: int, addr: int, size: int) -> bool:
        """Does ``index`` hold exactly ``[addr, addr + size)`` (what its SC names)?"""
        return self.addr[index] == addr and self.size[index] == size

    def spurious(self, index: int, addr: int, size: int) -> bool:
        """Would a failure of ``index``'s SC of ``[addr, addr + size)`` be spurious?"""
        return self.holds(index, addr, size) and not self.witnessed[index]

    def witness(self, writer: int, addr: int, size: int) -> list[int]:
        """``writer`` stores ``[addr, addr + size)``: mark and return the other vCPUs whose
        reserved bytes it overlaps."""
        hit = []
        for j, r_addr in enumerate(self.addr):
            if j == writer or r_addr == NO_RESERVATION:
                continue
            if overlaps(r_addr, self.size[j], addr, size):
                self.witnessed[j] = True
                hit.append(j)
        return hit


@define
class StoreTrapStats(PolicyStats):
    """The counters of a policy that traps the stores to reserved pages (exclusive-bitmap,
    arm-monitor, stop-the-world's reservation check)."""

    slow_stores: int = counter("stores to a trapped page, which took the slow path to the "
                               "policy")
    tlb_flushes: int = counter("flushes of other vCPUs' TLBs an LL asked for (the cross-CPU "
                               "cost)")


class StoreTrap:
    """RAM pages holding reservations: TLB_EXCL at refill, a synchronous flush when held.

    Call under the policy's lock.  ``tlb_fill_flags`` of the policy returns
    :meth:`flags`; ``hold`` / ``release`` bracket each reservation.
    """

    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.ram_list = machine.memory.ram_list
        self.refs: dict[int, int] = {}  # page address -> reservations on it

    def is_ram(self, addr: int) -> bool:
        """Only RAM can be trapped: MMIO stores never reach ``on_flagged_store``."""
        return self.ram_list.find(addr) is not None

    def flags(self, page: int) -> int:
        return TLB_EXCL if page in self.refs else 0

    def hold(self, cpu: "CPUState", addr: int) -> int:
        """Add a reservation on ``addr``'s page; returns the other vCPUs' TLBs flushed."""
        page = addr & PAGE_MASK
        count = self.refs.get(page, 0)
        self.refs[page] = count + 1
        if count:
            return 0  # already held: every entry for the page carries TLB_EXCL
        flushed = 0
        for other in self.machine.cpus:
            other.mmu.flush_page(page)  # synchronous: the next store refills with TLB_EXCL
            flushed += other is not cpu
        return flushed

    def release(self, addr: int) -> None:
        page = addr & PAGE_MASK
        count = self.refs.get(page, 0)
        if count <= 1:
            self.refs.pop(page, None)
        else:
            self.refs[page] = count - 1


