"""The reference: the ARM ARM's local and global exclusive monitors.

ARMv7 ARM A3.4 ("Synchronization and semaphores"), background.md section 4.  Each PE has

* a local monitor: Open, or Exclusive with a tagged granule address;
* a global monitor entry (all RAM is treated as shareable): Open, or a tagged granule.

The tag is the address rounded down to the Exclusives Reservation Granule
(``[plugins.arm-monitor] granule``, 8..2048 bytes, a power of two; Cortex-A9: 32,
Cortex-A55/A76: 64, the default).

* LDREX marks both monitors for the granule of its address.
* STREX passes iff the local monitor is Exclusive for the STREX's granule and the PE's
  global monitor still tags it; status 0 = stored, 1 = failed, nothing written on
  failure.  ARM ARM A3.4.5: the local monitor is cleared whether or not it passes.
* Any store (plain or a passing STREX) by PE X clears every OTHER PE's global monitor
  whose granule holds one of the written bytes.  Whether it clears X's own monitors is
  IMPLEMENTATION DEFINED: ``same_pe_store_clears`` (default false: "a plain store by the
  same PE to its marked address has no effect" on Cortex-A9/A55).
* CLREX and exception return clear the local monitor.

Once the local monitor is Open no STREX can pass until the next LDREX, which re-marks
the global monitor too; so the model drops the global mark with the local one, which no
program can tell apart and keeps the store trap short-lived.

Stores are observed with the shared store trap (``_reservations.StoreTrap``): the page
of a marked granule gets TLB_EXCL at refill and is flushed synchronously from every TLB
when it becomes held, so every store to it reaches ``on_flagged_store``.

``sc_spurious``: a STREX to the LDREX's bytes that fails although no other PE wrote any
of those bytes since (another PE's store elsewhere in the granule, or the PE's own store
with ``same_pe_store_clears``).  Exact, since every store to a marked page is seen.
"""

from __future__ import annotations

from attrs import define

from core.config import option
from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy

from ._reservations import (NO_RESERVATION, Reservations, StoreTrap, StoreTrapStats, overlaps,
                            pow2_option, size_mask)

OPEN = NO_RESERVATION  # a monitor in the Open Access state tags nothing


@define(frozen=True)
class ArmMonitorOptions:
    granule: int = pow2_option(64, 8, 2048, "Exclusives Reservation Granule in bytes "
                                            "(Cortex-A9: 32, Cortex-A55/A76: 64)")
    same_pe_store_clears: bool = option(False, doc="a PE's own store to its marked granule "
                                                   "clears its monitors (IMPLEMENTATION "
                                                   "DEFINED; false as on Cortex-A9/A55)")


class ArmMonitorPolicy(MemoryPolicy):
    """Local and global exclusive monitors per PE, granule-tagged (the ARM ARM model)."""

    name = "arm-monitor"
    Options = ArmMonitorOptions
    Stats = StoreTrapStats

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        n = len(machine.cpus)
        self.granule = self.options.granule
        self.own_store_clears = self.options.same_pe_store_clears
        self.local = [OPEN] * n  # local monitor: OPEN or the tagged granule
        self.global_ = [OPEN] * n  # this PE's global monitor entry
        self.reservations = Reservations(n)  # the bytes each LDREX read: the ground truth
        self.trap = StoreTrap(machine)

    def _granule(self, addr: int) -> int:
        return addr & ~(self.granule - 1)

    # ---- softmmu callbacks --------------------------------------------------------------

    def tlb_fill_flags(self, cpu, page: int) -> int:
        return self.trap.flags(page)

    def on_flagged_store(self, cpu, addr: int, size: int) -> None:
        with self.lock:
            self.stats[cpu.index].slow_stores += 1
            self._store_effects(cpu.index, addr, size)

    def _store_effects(self, writer: int, addr: int, size: int) -> None:
        self.reservations.witness(writer, addr, size)
        for j, tag in enumerate(self.global_):
            if tag == OPEN or not overlaps(tag, self.granule, addr, size):
                continue
            if j != writer:
                self.global_[j] = OPEN
            elif self.own_store_clears:
                self.global_[j] = self.local[j] = OPEN

    # ---- LL/SC ------------------------------------------------------------------------

    def load_link(self, cpu, addr: int, memop: int) -> int:
        size, _mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            st.ll += 1
            value = cpu.mmu.load(addr, memop)  # faults before anything is marked
            self._clear(me)
            if not self.trap.is_ram(addr):
                return value  # MMIO: stores cannot be observed, the STREX will fail
            tag = self._granule(addr)
            self.local[me] = self.global_[me] = tag
            self.reservations.set(me, addr, size)
            st.tlb_flushes += self.trap.hold(cpu, tag)
            return value

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        size, _mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            tag = self._granule(addr)
            ok = self.local[me] == tag and self.global_[me] == tag
            if ok:
                cpu.mmu.store(addr, value, memop)  # a held page: clears other PEs' marks
                st.sc_ok += 1
            else:
                st.sc_fail += 1
                if self.reservations.spurious(me, addr, size):
                    st.sc_spurious += 1
            self._clear(me)  # A3.4.5: STREX clears the local monitor either way
            return 0 if ok else 1

    def clrex(self, cpu) -> None:
        with self.lock:
            self._clear(cpu.index)

    def _clear(self, me: int) -> None:
        """Local monitor to Open (and the global mark with it: see the module docstring)."""
        self.local[me] = self.global_[me] = OPEN
        addr = self.reservations.drop(me)
        if addr != NO_RESERVATION:
            self.trap.release(addr)


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(ArmMonitorPolicy)
