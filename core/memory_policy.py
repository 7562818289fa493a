"""The memory-policy interface: the contract every atomic-emulation strategy implements.

A memory policy decides what LL/SC means.  The softmmu calls it when it fills a TLB
entry (the policy may add TLB_EXCL so stores to a page take the slow path) and when a
store hits such a flagged entry; the LL/SC ops of ``plugins/llsc`` call ``load_link``,
``store_cond`` and ``clrex``; the frontend calls ``exception_return``.  Hot paths reach a
policy through plain method calls, never through pluggy.

Policies must be thread-safe (a lock where QEMU would use an atomic), because host
threads per vCPU may come later; counters are per vCPU, each written only by its vCPU.
Core's :class:`PolicyStats` holds what every policy counts; a policy declares the
counters only it keeps in a subclass named by its ``Stats`` (see :mod:`core.counters`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import define

from .config import NoOptions
from .counters import Counters, counter

if TYPE_CHECKING:
    from .cpu import CPUState
    from .machine import Machine


@define
class PolicyStats(Counters):
    """What every policy counts, per vCPU: the LL/SC outcomes.

    ``sc_spurious`` judges each failed SC against what really happened.  It is declared
    here, not by the policies that can fail spuriously, because it is the same question
    for every policy: today each answers it from its own ground truth (those that cannot
    fail spuriously leave it at 0); core may instead judge every SC against the
    architecture's monitor where all of them pass (the LL/SC ops) and write this same
    counter, and the policies' ground-truth code then goes.
    """

    ll: int = counter("LLs (load-link)")
    sc_ok: int = counter("SCs that stored")
    sc_fail: int = counter("SCs that failed (did not store)")
    sc_spurious: int = counter("failed SCs for which no other vCPU wrote the reserved bytes "
                               "since the LL (allowed by the architecture, but a cost)")


class MemoryPolicy:
    """Base class: a policy with no opinions (plain loads, SC that always fails).

    Subclasses set ``name`` (what ``[machine] memory_policy`` selects) and may set
    ``Options`` to an attrs class validated from ``[plugins.<name>]``.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    # The per-vCPU counter record: PolicyStats, or a subclass declaring this policy's own
    # counters (what compare's JSON, CSV and table show for it).
    Stats: ClassVar[type[PolicyStats]] = PolicyStats
    # True when ``tlb_fill_flags`` flags every RAM page, so that every store takes the
    # slow path: a backend may then leave out an inline store fast path that never hits
    # (pyjit's costs a raised KeyError per miss).  Only speed depends on it.
    flags_every_store: ClassVar[bool] = False

    def __init__(self, machine: "Machine", options: Any = None):
        self.machine = machine
        self.options = options if options is not None else self.Options()
        self.lock = threading.RLock()
        self.stats = [self.Stats() for _ in machine.cpus]

    # ---- softmmu callbacks -------------------------------------------------------------

    def tlb_fill_flags(self, cpu: "CPUState", page: int) -> int:
        """Flag bits to add to the write tag of ``page`` when ``cpu`` refills it."""
        return 0

    def on_flagged_store(self, cpu: "CPUState", addr: int, size: int) -> None:
        """A store of ``size`` bytes at ``addr`` hit an entry this policy flagged.

        Called on the slow path before the bytes are written.
        """

    # ---- LL/SC ops -----------------------------------------------------------------

    def load_link(self, cpu: "CPUState", addr: int, memop: int) -> int:
        """LL: load and reserve.  Returns the loaded value (sign per memop)."""
        self.stats[cpu.index].ll += 1
        return cpu.mmu.load_slow(addr, memop)

    def store_cond(self, cpu: "CPUState", addr: int, value: int, memop: int) -> int:
        """SC: store if the reservation holds.  Returns 0 on success, 1 on failure."""
        self.stats[cpu.index].sc_fail += 1
        return 1

    def clrex(self, cpu: "CPUState") -> None:
        """Drop ``cpu``'s reservation (CLREX)."""

    def exception_return(self, cpu: "CPUState") -> None:
        """Exception entry/return: ARM ARM clears the local monitor, as CLREX does."""
        self.clrex(cpu)

    # ---- reporting -----------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        """Each declared counter summed over the vCPUs."""
        return self.Stats.total(self.stats)
