"""HST, the hash-table store test (Zhao et al., "Enhancing Atomic Instruction Emulation
for Cross-ISA Dynamic Binary Translation", CGO 2021).

A table of ``table_size`` entries, each holding the id of the vCPU that last stored to
(or load-linked) an address hashing to it; the index of byte ``addr`` is
``(addr >> log2(granule)) & (table_size - 1)``.

* Every store writes the storing vCPU's id into the entries of the bytes it writes.
  Here every RAM page's write tag gets TLB_EXCL at refill, so every store takes the
  slow path to ``on_flagged_store``: that is the instrumentation cost, counted in
  ``slow_stores`` and ``helper_calls`` (the paper inlines the tag store, +2.4% over
  plain QEMU on blackscholes; an out-of-line helper per store costs more).
* LL: an ordinary load that claims the entry (writes its own id) and records the
  address.
* SC: succeeds iff the address matches the LL's and the entry still holds the vCPU's id
  (checked and stored under the policy's lock, as HST's SC does under its lock); the
  store writes the id again.  The reservation is gone either way; CLREX drops it.

Conflicts are never missed: a store by another vCPU to the reserved bytes writes its id
over ours.  So ABA fails the SC: B's stores (B, then A again) leave B's id in the entry.
Aliasing only costs spurious failures: a store to another address hashing to the same
entry (a small table, or the same ``granule``), or another vCPU's LL of an address of the
same entry (an LL claims the entry without writing memory), fails the SC although the
reserved bytes were not written; ``sc_spurious`` counts them against the ground truth
(every store is observed, so it is exact).
"""

from __future__ import annotations

from attrs import define

from core.counters import counter
from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy, PolicyStats
from core.softmmu import TLB_EXCL

from ._reservations import Reservations, pow2_option, size_mask

NOBODY = -1


@define(frozen=True)
class StoreTestOptions:
    table_size: int = pow2_option(4096, 1, 1 << 20, "entries of the hash table of store tags")
    granule: int = pow2_option(8, 1, 4096, "bytes that share one hash entry (the address bits "
                                           "below it are not hashed)")


@define
class StoreTestStats(PolicyStats):
    slow_stores: int = counter("stores, every one of which takes the slow path to the policy")
    helper_calls: int = counter("tag-store helper calls (one per store; the paper inlines it)")


class StoreTestPolicy(MemoryPolicy):
    """Every store tags a hash entry with the storing vCPU; an SC checks its own tag."""

    name = "store-test"
    Options = StoreTestOptions
    Stats = StoreTestStats
    flags_every_store = True  # see tlb_fill_flags

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.granule_bits = self.options.granule.bit_length() - 1
        self.index_mask = self.options.table_size - 1
        self.table = [NOBODY] * self.options.table_size
        self.reservations = Reservations(len(machine.cpus))
        self.ram_list = machine.memory.ram_list

    def _entries(self, addr: int, size: int) -> range:
        """Granule numbers of the bytes ``[addr, addr + size)`` (index = number & mask)."""
        return range(addr >> self.granule_bits, ((addr + size - 1) >> self.granule_bits) + 1)

    def _tag(self, me: int, addr: int, size: int) -> None:
        for g in self._entries(addr, size):
            self.table[g & self.index_mask] = me

    # ---- softmmu callbacks --------------------------------------------------------------

    def tlb_fill_flags(self, cpu, page: int) -> int:
        return TLB_EXCL  # only RAM pages are filled with policy flags: every store traps

    def on_flagged_store(self, cpu, addr: int, size: int) -> None:
        with self.lock:
            st = self.stats[cpu.index]
            st.slow_stores += 1
            st.helper_calls += 1
            self._tag(cpu.index, addr, size)
            self.reservations.witness(cpu.index, addr, size)

    # ---- LL/SC ------------------------------------------------------------------------

    def load_link(self, cpu, addr: int, memop: int) -> int:
        size, _mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            self.stats[me].ll += 1
            value = cpu.mmu.load(addr, memop)  # faults before anything is claimed
            self.reservations.drop(me)
            if self.ram_list.find(addr) is not None:  # MMIO stores are not tagged: no LL
                self._tag(me, addr, size)
                self.reservations.set(me, addr, size)
            return value

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        size, _mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            res = self.reservations
            ok = res.holds(me, addr, size) and all(
                self.table[g & self.index_mask] == me for g in self._entries(addr, size))
            if ok:
                cpu.mmu.store(addr, value, memop)  # traps: tags the entry with our id again
                st.sc_ok += 1
            else:
                st.sc_fail += 1
                if res.spurious(me, addr, size):
                    st.sc_spurious += 1
            res.drop(me)
            return 0 if ok else 1

    def clrex(self, cpu) -> None:
        with self.lock:
            self.reservations.drop(cpu.index)


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(StoreTestPolicy)
