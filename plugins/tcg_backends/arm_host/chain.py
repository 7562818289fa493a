"""TB chaining in host code: the ``bpl`` of each goto_tb slot, patched (tb_set_jmp_target).

A goto_tb slot ends in ``bpl <target>``, reached with the N flag clear only when the
budget is not spent and no exit was requested.  Unchained, the target is the next
instruction (the exit to the dispatcher); chained, it is the destination TB's entry.
Patching is one aligned word store plus dropping unicorn's translation of that word.
While host code runs (a helper is executing), patches and frees are deferred to the
end of ``emu_start`` and the vCPU is told to leave at its next goto_tb (``cpu_exit``:
its exit-request word, mirrored into host memory after the trap), so no stale jump is
ever taken: the dispatcher then does what it would have done without chaining.
"""

from __future__ import annotations

COND_PL = 0x5
BRANCH = 0x0A00_0000


def branch_word(site: int, target: int, cond: int = COND_PL) -> int:
    """The A32 encoding of ``b<cond> target`` at address ``site``."""
    delta = target - (site + 8)
    if delta & 3 or not -(1 << 25) <= delta < (1 << 25):
        raise ValueError(f"branch from {site:#x} to {target:#x} out of range")
    return (cond << 28) | BRANCH | ((delta >> 2) & 0xFF_FFFF)


def goto_target(code, slot: int, dest) -> tuple[int, int]:
    """(site address, target address) of ``code``'s slot: ``dest``'s entry, or the exit."""
    site = code.addr + code.goto_sites[slot]
    return site, (dest.addr if dest is not None else site + 4)
