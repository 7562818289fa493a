"""The memory-policy interface: the contract every atomic-emulation strategy implements.

A memory policy decides what LL/SC means.  The softmmu calls it when it fills a TLB
entry (the policy may add TLB_EXCL so stores to a page take the slow path) and when a
store hits such a flagged entry; the LL/SC ops of ``plugins/llsc`` call ``load_link``,
``store_cond`` and ``clrex``; the frontend calls ``exception_return``.  Hot paths reach a
policy through plain method calls, never through pluggy.

Policies must be thread-safe (a lock where QEMU would use an atomic), because host
threads per vCPU may come later; counters are per vCPU, each written only by its vCPU.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import define

from .config import NoOptions

if TYPE_CHECKING:
    from .cpu import CPUState
    from .machine import Machine


@define
class PolicyStats:
    """What every policy counts, per vCPU.

    ``sc_spurious`` counts failed SCs for which no other vCPU wrote the reserved bytes
    since the LL (allowed by the architecture, but a cost).
    """

    ll: int = 0
    sc_ok: int = 0
    sc_fail: int = 0
    sc_spurious: int = 0
    slow_stores: int = 0
    tlb_flushes: int = 0
    stop_the_world: int = 0
    helper_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return {a.name: getattr(self, a.name) for a in self.__attrs_attrs__}


class MemoryPolicy:
    """Base class: a policy with no opinions (plain loads, SC that always fails).

    Subclasses set ``name`` (what ``[machine] memory_policy`` selects) and may set
    ``Options`` to an attrs class validated from ``[plugins.<name>]``.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    # True when ``tlb_fill_flags`` flags every RAM page, so that every store takes the
    # slow path: a backend may then leave out an inline store fast path that never hits
    # (pyjit's costs a raised KeyError per miss).  Only speed depends on it.
    flags_every_store: ClassVar[bool] = False

    def __init__(self, machine: "Machine", options: Any = None):
        self.machine = machine
        self.options = options if options is not None else self.Options()
        self.lock = threading.RLock()
        self.stats = [PolicyStats() for _ in machine.cpus]

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
        out = PolicyStats().as_dict()
        for s in self.stats:
            for k, v in s.as_dict().items():
                out[k] += v
        return out
