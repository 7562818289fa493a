"""The code buffer: placement of TB code in the host code region (first fit, coalescing).

QEMU allocates TB code by bumping a pointer and flushes everything when the buffer is
full; TBs here are also freed one by one when invalidated (and transient TBs, such as
the single-instruction TBs of an exclusive step, after they run), so the space is
reused.
"""

from __future__ import annotations

import bisect

ALIGN = 16


class CodeBuffer:
    def __init__(self, base: int, size: int):
        self.base = base
        self.size = size
        self.free: list[tuple[int, int]] = [(base, size)]  # sorted (addr, size)
        self.used = 0

    def alloc(self, size: int) -> int | None:
        size = (size + ALIGN - 1) & ~(ALIGN - 1)
        for i, (addr, n) in enumerate(self.free):
            if n >= size:
                if n == size:
                    del self.free[i]
                else:
                    self.free[i] = (addr + size, n - size)
                self.used += size
                return addr
        return None

    def release(self, addr: int, size: int) -> None:
        size = (size + ALIGN - 1) & ~(ALIGN - 1)
        self.used -= size
        i = bisect.bisect(self.free, (addr, 0))
        self.free.insert(i, (addr, size))
        if i + 1 < len(self.free) and addr + size == self.free[i + 1][0]:
            self.free[i] = (addr, size + self.free[i + 1][1])
            del self.free[i + 1]
        if i > 0 and self.free[i - 1][0] + self.free[i - 1][1] == addr:
            prev = self.free[i - 1]
            self.free[i - 1] = (prev[0], prev[1] + self.free[i][1])
            del self.free[i]
