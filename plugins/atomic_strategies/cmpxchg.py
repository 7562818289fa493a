"""Upstream QEMU's strategy (2.8+, target/arm ``gen_load_exclusive`` / ``gen_store_exclusive``).

* LL: an ordinary load that records ``exclusive_addr`` and ``exclusive_val`` (the whole
  64-bit pair for LDREXD).
* SC: if the address is not ``exclusive_addr``, fail without touching memory; else
  compare-and-swap ``(addr, exclusive_val, new)`` (a host atomic in QEMU: here under
  the policy's lock), status = ``old != exclusive_val``.  ``exclusive_addr = -1`` after
  every SC, success or not.
* CLREX (and exception return) set ``exclusive_addr = -1``.

No store is instrumented: plain stores stay on the fast path, and the price is
correctness.  QEMU's own commit message: "Emulating LL/SC with cmpxchg is not correct,
since it can suffer from the ABA problem".  Another vCPU storing B then A between the
LL and the SC leaves the value equal, so the SC succeeds (``aba_window`` exits 1; the
Treiber stack of ``aba`` can be corrupted).

Counters: ``helper_calls`` counts the cmpxchg helper calls (SCs whose address
matched).  ``sc_spurious`` stays 0: the policy sees no stores, and a value mismatch
means another store did change the value, so it cannot tell a spurious failure.  The
SC compares the stored size only (QEMU compares the address, not the size).
"""

from __future__ import annotations

from attrs import define

from core.counters import counter
from core.hookspecs import hookimpl
from core.ir import MemOp
from core.memory_policy import MemoryPolicy, PolicyStats

from ._reservations import NO_RESERVATION, size_mask


@define
class CmpxchgStats(PolicyStats):
    helper_calls: int = counter("cmpxchg helper calls (SCs whose address matched the LL's)")


class CmpxchgPolicy(MemoryPolicy):
    """QEMU's LL/SC: remember the loaded value, SC is a compare-and-swap on it (ABA-prone)."""

    name = "cmpxchg"
    Stats = CmpxchgStats

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        n = len(machine.cpus)
        self.exclusive_addr = [NO_RESERVATION] * n
        self.exclusive_val = [0] * n

    def load_link(self, cpu, addr: int, memop: int) -> int:
        me = cpu.index
        with self.lock:
            self.stats[me].ll += 1
            value = cpu.mmu.load(addr, memop)  # faults before anything is recorded
            self.exclusive_addr[me] = addr
            self.exclusive_val[me] = value & size_mask(memop)[1]
            return value

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            ok = False
            if self.exclusive_addr[me] == addr:
                st.helper_calls += 1  # helper_atomic_cmpxchg
                old = cpu.mmu.load(addr, memop & ~int(MemOp.MO_SIGN))
                ok = old == self.exclusive_val[me]
                if ok:
                    cpu.mmu.store(addr, value, memop)
            self.exclusive_addr[me] = NO_RESERVATION  # QEMU resets it after every SC
            if ok:
                st.sc_ok += 1
            else:
                st.sc_fail += 1
            return 0 if ok else 1

    def clrex(self, cpu) -> None:
        with self.lock:
            self.exclusive_addr[cpu.index] = NO_RESERVATION


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(CmpxchgPolicy)
