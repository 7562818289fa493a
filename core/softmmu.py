"""Guest memory: RAM blocks in ``ram_list``, MMIO regions, and the per-vCPU soft TLB.

This mirrors QEMU's softmmu (``cputlb.c``).  Each vCPU has a direct-mapped TLB of
entries ``(addr_read, addr_write, addend)``: a page tag whose low bits carry flags.  The
fast path is a single compare of the entry with the page of the access; any flag bit
(TLB_INVALID, TLB_NOTDIRTY, TLB_MMIO, TLB_EXCL) makes it miss, and the slow path then
refills the entry or performs the special access:

* TLB_MMIO: the page belongs to a device; call its read/write callback;
* TLB_NOTDIRTY: the page holds translated code; a store invalidates those TBs first
  (self-modifying code) and then the page loses the flag;
* TLB_EXCL: the memory policy asked to see stores to this page (the LL/SC series' flag): the
  slow path calls ``policy.on_flagged_store`` before storing.

Unaligned accesses that need alignment fault; accesses that cross a page are split
into bytes on the slow path.  An access to unmapped memory raises a
:class:`~core.cpu.GuestFault` (``EXCP.DATA_FAULT``), a one-line error unless the
frontend handles it.

No slow path writes an env slot of the vCPU (as QEMU's memory helpers write no TCG
global; devices see only an offset, a size and a value, and policies keep their state to
themselves): a backend that caches globals writes them back before one (it may raise,
or a device or policy may look) but need not reload them after.
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING, Callable

from attrs import define, field

from .cpu import EXCP, GuestFault
from .errors import TcglabError
from .ir import M32, MemOp, memop_align_mask

if TYPE_CHECKING:
    from .cpu import CPUState
    from .machine import Machine

PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS
PAGE_MASK = M32 & ~(PAGE_SIZE - 1)

# TLB flag bits in the low bits of a tag (values of QEMU 2.4 plus the LL/SC series' TLB_EXCL)
TLB_INVALID = 1 << 3
TLB_NOTDIRTY = 1 << 4
TLB_MMIO = 1 << 5
TLB_EXCL = 1 << 6
TLB_FLAGS = TLB_INVALID | TLB_NOTDIRTY | TLB_MMIO | TLB_EXCL

TLB_BITS = 8
TLB_SIZE = 1 << TLB_BITS
TLB_EMPTY = -1  # matches no page tag
_EMPTY_TAGS = (TLB_EMPTY,) * TLB_SIZE
# RAM is also viewed as arrays of 16- and 32-bit little-endian words, where the host's own
# words are those (an item access is cheaper than a struct call for a generated fast path)
WORD_VIEWS = sys.byteorder == "little" and struct.calcsize("H") == 2 and struct.calcsize("I") == 4

# memop -> (size, struct for fast access, compare adjustment, compare mask)
_STRUCT_CHARS = {(0, False): "B", (0, True): "b", (1, False): "H", (1, True): "h",
                 (2, False): "I", (2, True): "i", (3, False): "Q", (3, True): "q"}


def _memop_table() -> dict[int, tuple[int, struct.Struct, struct.Struct, int, int]]:
    table = {}
    for memop in range(256):
        size_log = memop & 3
        size = 1 << size_log
        signed = bool(memop & MemOp.MO_SIGN)
        endian = ">" if memop & MemOp.MO_BSWAP else "<"
        amask = memop_align_mask(memop)
        # QEMU's tlb compare: address of the last byte when alignment is weaker than size,
        # so that a page-crossing access misses; alignment bits kept so misalignment misses.
        adj = size - 1 - amask if amask < size - 1 else 0
        load = struct.Struct(endian + _STRUCT_CHARS[(size_log, signed)])
        store = struct.Struct(endian + _STRUCT_CHARS[(size_log, False)])
        table[memop] = (size, load, store, adj, PAGE_MASK | amask)
    return table


MEMOP_INFO = _memop_table()


@define(eq=False)
class RAMBlock:
    """One RAM region of the guest physical map, with its host bytes."""

    name: str
    base: int
    size: int
    offset: int = 0  # ram_addr of the first byte (blocks laid end to end, as ram_addr_t)
    data: bytearray = field(init=False)
    mv: memoryview = field(init=False)
    page_views: dict[int, tuple] = field(init=False, factory=dict)  # see views_of

    def __attrs_post_init__(self) -> None:
        self.data = bytearray(self.size)
        self.mv = memoryview(self.data)

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size

    def views_of(self, page: int) -> tuple:
        """The block's bytes from guest address ``page`` to the end of that page, as
        8-bit items and (where the host's words are little-endian, ``WORD_VIEWS``) as
        16- and 32-bit ones; made once per page and kept in ``page_views``."""
        off = page - self.base
        b = self.mv[off:off + PAGE_SIZE]
        n = len(b)
        views = ((b, b[:n & ~1].cast("H"), b[:n & ~3].cast("I")) if WORD_VIEWS
                 else (b, None, None))
        self.page_views[page] = views
        return views


@define(eq=False)
class MMIORegion:
    """A device region: ``read(offset, size) -> int`` and ``write(offset, size, value)``."""

    name: str
    base: int
    size: int
    read: Callable[[int, int], int]
    write: Callable[[int, int, int], None]

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size


class RamList:
    """All RAM blocks (QEMU's ``ram_list``) and the per-page bitmaps kept beside them.

    ``dirty_memory`` holds one bitmap per client that tracks RAM pages, by the client's
    name (QEMU's ``ram_list.dirty_memory[DIRTY_MEMORY_*]``): a memory policy that needs
    one allocates it with :meth:`dirty_bitmap`, as the LL/SC series added its exclusive
    bitmap there (Rigo 2015, patch 1/5, "Add new exclusive bitmap to ram_list").
    """

    def __init__(self) -> None:
        self.blocks: list[RAMBlock] = []
        self.total = 0
        self.dirty_memory: dict[str, bytearray | list[int]] = {}
        self.code_pages: set[int] = set()  # guest page addresses holding translated code

    def add(self, name: str, base: int, size: int) -> RAMBlock:
        block = RAMBlock(name, base, size, self.total)
        self.blocks.append(block)
        self.total += size
        return block

    def find(self, addr: int) -> RAMBlock | None:
        for block in self.blocks:  # (block.contains inlined: every TLB fill and LL asks)
            base = block.base
            if base <= addr < base + block.size:
                return block
        return None

    @property
    def n_pages(self) -> int:
        return self.total >> PAGE_BITS

    def ram_page(self, addr: int) -> int | None:
        """Index of the RAM page holding guest address ``addr`` (``ram_addr >> PAGE_BITS``)."""
        block = self.find(addr)
        if block is None:
            return None
        return (block.offset + addr - block.base) >> PAGE_BITS

    def dirty_bitmap(self, client: str, cell_bits: int = 8) -> bytearray | list[int]:
        """``client``'s bitmap: one cell of ``cell_bits`` bits per RAM page (index
        :meth:`ram_page`), made on first use with every bit set (all memory dirty).

        8-bit cells are a bytearray; wider cells (a client with more than 8 bits per
        page, e.g. one per vCPU) a list of ints.  The RAM must be mapped first.
        """
        bitmap = self.dirty_memory.get(client)
        if bitmap is None:
            fill = (1 << cell_bits) - 1
            bitmap = self.dirty_memory[client] = (
                bytearray([fill]) * self.n_pages if cell_bits <= 8 else [fill] * self.n_pages)
        return bitmap


class SystemMemory:
    """The guest physical address space: RAM blocks and MMIO regions, shared by all vCPUs."""

    def __init__(self, elf_machine: str | None = None, elf_class: int = 32) -> None:
        self.ram_list = RamList()
        self.mmio: list[MMIORegion] = []
        # The ELF files whose guest uses this memory (the machine sets them from its
        # frontend): :func:`core.loader.load_elf` checks an image against them.
        self.elf_machine = elf_machine
        self.elf_class = elf_class
        # set by the machine: called with a page address before a store to a code page
        self.on_code_write: Callable[[int], None] = lambda page: None

    def add_ram(self, name: str, base: int, size: int) -> RAMBlock:
        self._check_free(name, base, size)
        return self.ram_list.add(name, base, size)

    def add_mmio(self, name: str, base: int, size: int, read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None]) -> MMIORegion:
        if base % PAGE_SIZE or size % PAGE_SIZE:
            raise TcglabError(f"MMIO region {name!r} at {base:#x} size {size:#x} must be page aligned")
        self._check_free(name, base, size)
        region = MMIORegion(name, base, size, read, write)
        self.mmio.append(region)
        return region

    def _check_free(self, name: str, base: int, size: int) -> None:
        if size <= 0 or base < 0 or base + size > 1 << 32:
            raise TcglabError(f"memory region {name!r} at {base:#x} size {size:#x} is outside "
                              "the 32-bit physical address space")
        for other in list(self.ram_list.blocks) + self.mmio:
            if base < other.base + other.size and other.base < base + size:
                raise TcglabError(f"memory region {name!r} at {base:#x} overlaps {other.name!r}")

    def find_mmio(self, addr: int) -> MMIORegion | None:
        for region in self.mmio:
            if region.contains(addr):
                return region
        return None

    # debugger / loader access: physical, bypasses the TLBs but honours code pages ----------

    def read_bytes(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            block = self.ram_list.find(addr)
            if block is None:
                raise GuestFault(EXCP.DATA_FAULT, addr=addr, size=n, access="load")
            off = addr - block.base
            chunk = min(n, block.size - off)
            out += block.data[off:off + chunk]
            addr += chunk
            n -= chunk
        return bytes(out)

    def write_bytes(self, addr: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            block = self.ram_list.find(addr + pos)
            if block is None:
                raise GuestFault(EXCP.DATA_FAULT, addr=addr + pos, size=len(data) - pos,
                                 access="store")
            off = addr + pos - block.base
            chunk = min(len(data) - pos, block.size - off)
            first, last = (addr + pos) & PAGE_MASK, (addr + pos + chunk - 1) & PAGE_MASK
            for page in range(first, last + 1, PAGE_SIZE):
                if page in self.ram_list.code_pages:
                    self.on_code_write(page)
            block.data[off:off + chunk] = data[pos:pos + chunk]
            pos += chunk


class SoftMMU:
    """One vCPU's soft TLB and its load/store paths (fast path inline, slow path below)."""

    def __init__(self, cpu: "CPUState", machine: "Machine"):
        self.cpu = cpu
        self.machine = machine
        self.memory: SystemMemory = machine.memory
        self.addr_read = [TLB_EMPTY] * TLB_SIZE
        self.addr_write = [TLB_EMPTY] * TLB_SIZE
        self.addr_code = [TLB_EMPTY] * TLB_SIZE
        self.host: list[memoryview | None] = [None] * TLB_SIZE
        self.addend = [0] * TLB_SIZE
        # The same TLB for a generated fast path, which pays for one dict lookup where
        # the compare costs three lines: each entry whose read (write) tag is a bare RAM
        # page, i.e. exactly those a load (store) compare would hit, as page -> that
        # page's bytes (RAMBlock.page_views).  The access's key is its address masked as
        # the compare masks it (alignment bits kept), so a misaligned access, a flagged
        # entry or another page finds nothing and goes on to the compare.
        self.read_pages: dict[int, tuple] = {}
        self.write_pages: dict[int, tuple] = {}
        self.stats = cpu.stats
        # asynchronous flushes requested of this vCPU, applied at its next TB boundary
        self.pending_flush_all = False
        self.pending_pages: set[int] = set()
        self.flush_queued = False
        # whether an entry may have been filled since the last full flush (if not, a
        # flush has nothing to drop)
        self.filled = False
        # Called with the index of an entry after a refill or flush changed it (-1: all of
        # them), so a backend that keeps its own copy of the TLB (in host memory, for an
        # inline lookup) stays exact.  Fills and flushes are slow paths; the fast paths
        # never call it.
        self.on_change: Callable[[int], None] | None = None

    # ------------------------------------------------------------------ fast paths

    def load(self, addr: int, memop: int) -> int:
        """Load (sign- or zero-extended per memop; may be negative when signed)."""
        size, ld, _st, adj, cmpmask = MEMOP_INFO[memop]
        idx = (addr >> PAGE_BITS) & (TLB_SIZE - 1)
        if self.addr_read[idx] == (addr + adj) & cmpmask:
            return ld.unpack_from(self.host[idx], addr + self.addend[idx])[0]
        return self.load_slow(addr, memop)

    def store(self, addr: int, value: int, memop: int) -> None:
        size, _ld, st, adj, cmpmask = MEMOP_INFO[memop]
        idx = (addr >> PAGE_BITS) & (TLB_SIZE - 1)
        if self.addr_write[idx] == (addr + adj) & cmpmask:
            st.pack_into(self.host[idx], addr + self.addend[idx], value & ((1 << (8 * size)) - 1))
            return
        self.store_slow(addr, value, memop)

    # ------------------------------------------------------------------ slow paths

    def _check_align(self, addr: int, memop: int, access: str) -> None:
        amask = memop_align_mask(memop)
        if addr & amask:
            raise GuestFault(EXCP.DATA_FAULT, addr=addr, size=1 << (memop & 3), access=access,
                             reason="unaligned")

    def load_slow(self, addr: int, memop: int) -> int:
        """Slow-path load (``helper_le_ld*_mmu``): refill, MMIO, page-crossing."""
        self.stats.slow_loads += 1
        self._check_align(addr, memop, "load")
        size, ld, _st, _adj, _m = MEMOP_INFO[memop]
        if (addr & ~PAGE_MASK) + size > PAGE_SIZE:
            self._probe_both_pages(addr, False, memop)
            raw = bytes(self.load_slow((addr + i) & M32, MemOp.UB) for i in range(size))
            self.stats.slow_loads -= size  # count the split load once
            return ld.unpack(raw)[0]
        idx, entry = self._entry(addr, False, memop)
        if entry & TLB_MMIO:
            region = self.memory.find_mmio(addr)
            value = region.read(addr - region.base, size)  # the bus is little-endian
            return ld.unpack((value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))[0]
        return ld.unpack_from(self.host[idx], addr + self.addend[idx])[0]

    def _probe_both_pages(self, addr: int, is_write: bool, memop: int) -> None:
        """Fill (or fault on) both pages of a page-crossing access before touching either,
        so a fault names the whole access and the first unmapped byte."""
        self._entry(addr, is_write, memop)
        self._entry(((addr | (PAGE_SIZE - 1)) + 1) & M32, is_write, memop)

    def store_slow(self, addr: int, value: int, memop: int) -> None:
        """Slow-path store (``helper_le_st*_mmu``): refill, MMIO, code pages, TLB_EXCL."""
        self.stats.slow_stores += 1
        self._check_align(addr, memop, "store")
        size, _ld, st, _adj, _m = MEMOP_INFO[memop]
        raw = st.pack(value & ((1 << (8 * size)) - 1))
        if (addr & ~PAGE_MASK) + size > PAGE_SIZE:
            # Store byte by byte after probing both pages, so a fault leaves memory untouched.
            self._probe_both_pages(addr, True, memop)
            for i, byte in enumerate(raw):
                self.store_slow((addr + i) & M32, byte, MemOp.UB)
            self.stats.slow_stores -= size  # count the split store once
            return
        idx, entry = self._entry(addr, True, memop)
        if entry & TLB_MMIO:
            region = self.memory.find_mmio(addr)
            region.write(addr - region.base, size, int.from_bytes(raw, "little"))
            return
        if entry & TLB_NOTDIRTY:
            self.stats.smc_invalidations += 1
            self.memory.on_code_write(addr & PAGE_MASK)
            idx, entry = self._entry(addr, True, memop)  # refilled without NOTDIRTY
        if entry & TLB_EXCL:
            self.machine.policy.on_flagged_store(self.cpu, addr, size)
        host = self.host[idx]
        off = addr + self.addend[idx]
        host[off:off + size] = raw

    def _entry(self, addr: int, is_write: bool, memop: int) -> tuple[int, int]:
        """The TLB entry for ``addr`` (refilled if its tag is for another page)."""
        idx = (addr >> PAGE_BITS) & (TLB_SIZE - 1)
        page = addr & PAGE_MASK
        tags = self.addr_write if is_write else self.addr_read
        entry = tags[idx]
        if entry == TLB_EMPTY or (entry & PAGE_MASK) != page or entry & TLB_INVALID:
            self.tlb_fill(addr, "store" if is_write else "load", 1 << (memop & 3))
            entry = tags[idx]
        return idx, entry

    def tlb_fill(self, addr: int, access: str, size: int) -> None:
        """Refill the entry for ``addr``'s page (``tlb_set_page``) or raise a fault."""
        page = addr & PAGE_MASK
        idx = (addr >> PAGE_BITS) & (TLB_SIZE - 1)
        self.stats.tlb_fills += 1
        self.filled = True
        block = self.memory.ram_list.find(page)
        if block is not None:
            write_flags = self.machine.policy.tlb_fill_flags(self.cpu, page)
            if page in self.memory.ram_list.code_pages:
                write_flags |= TLB_NOTDIRTY
            self._drop_pages(idx)
            self.addr_read[idx] = page
            self.addr_write[idx] = page | write_flags
            self.addr_code[idx] = page
            self.host[idx] = block.mv
            self.addend[idx] = -block.base
            views = self.read_pages[page] = block.page_views.get(page) or block.views_of(page)
            if not write_flags:
                self.write_pages[page] = views
            if self.on_change is not None:
                self.on_change(idx)
            return
        if self.memory.find_mmio(page) is not None:
            self._drop_pages(idx)
            self.addr_read[idx] = self.addr_write[idx] = page | TLB_MMIO
            self.addr_code[idx] = TLB_EMPTY
            self.host[idx] = None
            self.addend[idx] = 0
            if self.on_change is not None:
                self.on_change(idx)
            return
        excp = EXCP.FETCH_FAULT if access == "fetch" else EXCP.DATA_FAULT
        raise GuestFault(excp, addr=addr, size=size, access=access)

    def _drop_pages(self, idx: int) -> None:
        """Take entry ``idx``'s page out of the page dicts: it is being refilled."""
        old = self.addr_read[idx]
        if old != TLB_EMPTY:  # (read and write tags always name the same page)
            self.read_pages.pop(old & PAGE_MASK, None)
            self.write_pages.pop(old & PAGE_MASK, None)

    # ------------------------------------------------------------------ code fetch

    def ld_code(self, addr: int, size: int) -> int:
        """Fetch ``size`` bytes of code (little-endian) for the translator."""
        value = 0
        for i in range(size):
            a = (addr + i) & M32
            idx = (a >> PAGE_BITS) & (TLB_SIZE - 1)
            if self.addr_code[idx] != a & PAGE_MASK:
                self.tlb_fill(a, "fetch", size)
                if self.addr_code[idx] != a & PAGE_MASK:  # MMIO: no execution from devices
                    raise GuestFault(EXCP.FETCH_FAULT, addr=addr, size=size, access="fetch",
                                     reason="device memory")
            value |= self.host[idx][a + self.addend[idx]] << (8 * i)
        return value

    # ------------------------------------------------------------------ flushes

    def flush(self) -> None:
        """Drop every entry (``tlb_flush``).

        Counted whether or not it finds anything, but a TLB with nothing filled since its
        last full flush is left alone: under exclusive-bitmap every LL flushes every other
        vCPU, and a vCPU that has not run since is flushed again and again.
        """
        self.stats.tlb_flushes += 1
        if self.filled:
            self.filled = False
            for tags in (self.addr_read, self.addr_write, self.addr_code):
                tags[:] = _EMPTY_TAGS
            self.read_pages.clear()
            self.write_pages.clear()
        if self.on_change is not None:
            self.on_change(-1)

    def flush_page(self, addr: int) -> None:
        """Drop the entry of ``addr``'s page if present (``tlb_flush_page``)."""
        self.stats.tlb_flushes += 1
        idx = (addr >> PAGE_BITS) & (TLB_SIZE - 1)
        page = addr & PAGE_MASK
        changed = False
        if page in self.read_pages:
            del self.read_pages[page]
            self.write_pages.pop(page, None)
        for tags in (self.addr_read, self.addr_write, self.addr_code):
            if tags[idx] != TLB_EMPTY and tags[idx] & PAGE_MASK == page:
                tags[idx] = TLB_EMPTY
                changed = True
        if changed and self.on_change is not None:
            self.on_change(idx)


# ---------------------------------------------------------------------- flush API


def tlb_flush(cpu: "CPUState", *, async_: bool = False) -> None:
    """Flush ``cpu``'s whole TLB now, or at its next TB boundary when ``async_``."""
    if async_:
        cpu.mmu.pending_flush_all = True
        _schedule_pending(cpu)
    else:
        cpu.mmu.flush()


def tlb_flush_page(cpu: "CPUState", addr: int, *, async_: bool = False) -> None:
    """Flush ``cpu``'s entry for ``addr``'s page now, or at its next TB boundary."""
    if async_:
        cpu.mmu.pending_pages.add(addr & PAGE_MASK)
        _schedule_pending(cpu)
    else:
        cpu.mmu.flush_page(addr)


def _schedule_pending(cpu: "CPUState") -> None:
    """Queue one work item that applies every pending flush, however many accumulate
    (a vCPU that is halted or off for a long time must not collect a closure per LL)."""
    mmu = cpu.mmu
    if not mmu.flush_queued:
        mmu.flush_queued = True
        cpu.queue_work(_apply_pending)


def _apply_pending(cpu: "CPUState") -> None:
    mmu = cpu.mmu
    mmu.flush_queued = False
    if mmu.pending_flush_all:
        mmu.flush()
    else:
        for page in sorted(mmu.pending_pages):
            mmu.flush_page(page)
    mmu.pending_flush_all = False
    mmu.pending_pages.clear()
