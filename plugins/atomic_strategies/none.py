"""The negative control: LL is a plain load and every SC stores and succeeds.

What angr, miasm (AArch64) and icicle (AArch64) do (background.md section 5).  No
reservation, no store instrumentation, so no failure of any kind: ``sc_fail`` and
``sc_spurious`` stay 0.  An LDREX/STREX increment loop loses updates as soon as two
vCPUs interleave between the LL and the SC; the tests must catch that, which is what
this policy is for.
"""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy


class NoAtomicityPolicy(MemoryPolicy):
    """LL = load, SC = store, always status 0: the control that proves tests can fail."""

    name = "none"

    def load_link(self, cpu, addr: int, memop: int) -> int:
        with self.lock:
            self.stats[cpu.index].ll += 1
        return cpu.mmu.load(addr, memop)

    def store_cond(self, cpu, addr: int, value: int, memop: int) -> int:
        cpu.mmu.store(addr, value, memop)
        with self.lock:
            self.stats[cpu.index].sc_ok += 1
        return 0


@hookimpl
def tcglab_register_memory_policies(registry) -> None:
    registry.add_memory_policy(NoAtomicityPolicy)
