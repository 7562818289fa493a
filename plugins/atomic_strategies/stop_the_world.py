"""QEMU's EXCP_ATOMIC route: the SC completes with every other vCPU stopped.

QEMU falls back to ``cpu_loop_exit_atomic`` / ``start_exclusive`` when it cannot emit a
host atomic (MMIO, unaligned, 64-bit cmpxchg without host support): the instruction is
abandoned, the pc rewound to it, and ``cpu_exec_step_atomic`` runs it again alone.
Here every SC takes that route:

* LL: an ordinary load recording ``(addr, value)``, as cmpxchg does.
* SC to another address than the LL's: fails at once (QEMU's address compare comes
  before the atomic part), no stop.
* SC outside exclusive mode: :func:`core.exec.cpu_loop_exit_atomic`; the reservation is
  kept, and the instruction re-executes under :func:`core.exec.step_atomic` with
  ``machine.exclusive_cpu`` set.
* SC in exclusive mode (counted in ``stop_the_world``): decides and stores alone; the
  reservation is gone afterwards, success or not.  CLREX and exception return drop it.

``[plugins.stop-the-world] check`` chooses what "decides" means:

* ``"reservation"`` (the default, the correct form): the SC succeeds iff no other vCPU
  stored to any reserved byte since the LL.  Stores are observed through the shared
  store trap (``_reservations.StoreTrap``): pages holding reservations get TLB_EXCL, the
  LL flushes them synchronously from every TLB, and ``on_flagged_store`` marks the
  reservations a store overlaps.  A vCPU's own plain stores leave its reservation alone.
  So the A->B->A store pair fails the SC.  ``sc_spurious`` is exact and stays 0: the
  only way to fail a matching reservation is another vCPU's store to its bytes.
* ``"value"`` (the historical QEMU form): the SC succeeds iff memory still holds the
  LL's value, like cmpxchg but with the world stopped: ABA-prone (A->B->A succeeds).
  Nothing is trapped, so ``sc_spurious`` stays 0 (a value mismatch is a real change).
"""

from __future__ import annotations

from attrs import define

from core.config import option
from core.counters import counter
from core.exec import cpu_loop_exit_atomic
from core.hookspecs import hookimpl
from core.ir import MemOp
from core.memory_policy import MemoryPolicy

from ._reservations import NO_RESERVATION, Reservations, StoreTrap, StoreTrapStats, size_mask


@define(frozen=True)
class StopTheWorldOptions:
    check: str = option("reservation", choices=("reservation", "value"),
                        doc="SC succeeds iff no other vCPU stored to the reserved bytes since "
                            "the LL (reservation), or iff memory still holds the LL value "
                            "(value: historical QEMU, ABA-prone)")


@define
class StopTheWorldStats(StoreTrapStats):
    stop_the_world: int = counter("SCs completed with every other vCPU stopped (exclusive "
                                  "steps)")


class StopTheWorldPolicy(MemoryPolicy):
    """Every SC leaves its TB and completes in exclusive mode (EXCP_ATOMIC)."""

    name = "stop-the-world"
    Options = StopTheWorldOptions
    Stats = StopTheWorldStats

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        n = len(machine.cpus)
        self.by_value = self.options.check == "value"
        self.reservations = Reservations(n)
        self.exclusive_val = [0] * n
        self.trap = StoreTrap(machine)

    # ---- softmmu callbacks --------------------------------------------------------------

    def tlb_fill_flags(self, cpu, page: int) -> int:
        return 0 if self.by_value else self.trap.flags(page)

    def on_flagged_store(self, cpu, addr: int, size: int) -> None:
        with self.lock:
            self.stats[cpu.index].slow_stores += 1
            self.reservations.witness(cpu.index, addr, size)

    # ---- LL/SC ------------------------------------------------------------------------

    def load_link(self, cpu, addr: int, memop: int) -> int:
        size, mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            st.ll += 1
            value = cpu.mmu.load(addr, memop)  # faults before anything is reserved
            self._drop(me)
            if not self.by_value and not self.trap.is_ram(addr):
                return value  # MMIO: stores to it cannot be observed, the SC will fail
            self.reservations.set(me, addr, size)
            self.exclusive_val[me] = value & mask
            if not self.by_value:
                st.tlb_flushes += self.trap.hold(cpu, addr)
            return value

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        size, _mask = size_mask(memop)
        me = cpu.index
        with self.lock:
            st = self.stats[me]
            res = self.reservations
            if res.addr[me] != addr:  # no stop for an SC that cannot succeed
                st.sc_fail += 1
                self._drop(me)
                return 1
            if self.machine.exclusive_cpu is not cpu:
                cpu_loop_exit_atomic(cpu)  # keeps the reservation; the SC runs again alone
            st.stop_the_world += 1
            if self.by_value:
                old = cpu.mmu.load(addr, memop & ~int(MemOp.MO_SIGN))
                ok = old == self.exclusive_val[me]
            else:
                ok = res.holds(me, addr, size) and not res.witnessed[me]
            if ok:
                cpu.mmu.store(addr, value, memop)  # a held page: other reservations see it
                st.sc_ok += 1
            else:
                st.sc_fail += 1
                if not self.by_value and res.spurious(me, addr, size):
                    st.sc_spurious += 1  # never, by construction (see the module docstring)
            self._drop(me)
            return 0 if ok else 1

    def clrex(self, cpu) -> None:
        with self.lock:
            self._drop(cpu.index)

    def _drop(self, me: int) -> None:
        addr = self.reservations.drop(me)
        if addr != NO_RESERVATION and not self.by_value:
            self.trap.release(addr)


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(StopTheWorldPolicy)
