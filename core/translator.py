"""The translator loop and the TB cache (``translator_loop``, ``tb_gen_code``, ``tb_htable``).

Translating a TB: the frontend decodes guest instructions one at a time into IR through
the builder, until it ends the TB (a branch), the TB reaches ``max_insns``, or the next
instruction is on another page; then IR passes (optimisers) run, and the backend
compiles it.  TBs are cached by ``(pc, flags)``.  Every page a TB's code came from is
marked as a code page, so that a store to it (TLB_NOTDIRTY on the slow path)
invalidates the TBs there: self-modifying code retranslates instead of running stale.
A store into the TB that is running takes effect when that TB ends, not inside it: ARM
requires an ISB (which ends a TB) before modified code may be relied on, as QEMU
assumes for every target without precise SMC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .builder import Builder
from .cpu import CPUState, GuestFault
from .frontend import DisasContext, DisasJump
from .ir import TranslationBlock
from .optimize import make_optimizer
from .softmmu import PAGE_MASK, PAGE_SIZE

if TYPE_CHECKING:
    from .machine import Machine

TB_MAX_INSNS = 512  # TCG_MAX_INSNS

IRPass = Callable[[TranslationBlock], None]


class Translator:
    """Owns the TB cache; turns guest code at (pc, flags) into compiled TBs."""

    def __init__(self, machine: "Machine", max_insns: int = TB_MAX_INSNS):
        self.machine = machine
        self.frontend = machine.frontend
        self.backend = machine.backend
        self.optable = machine.registry.optable
        self.max_insns = max_insns
        self.passes: list[IRPass] = []  # IR optimisers every backend can use
        config = getattr(machine, "config", None)
        if config is None or config.machine.optimize:  # [machine] optimize
            self.passes.append(make_optimizer(self.optable))
        self.cache: dict[tuple[int, int], TranslationBlock] = {}
        self.page_tbs: dict[int, list[TranslationBlock]] = {}
        self.translated = 0
        self.invalidated = 0
        self._announce = machine.plugins.has_impl("tcglab_tb_translated")

    def lookup(self, cpu: CPUState, pc: int, flags: int) -> TranslationBlock:
        tb = self.cache.get((pc, flags))
        if tb is None:
            tb = self.translate(cpu, pc, flags)
        return tb

    def translate(self, cpu: CPUState, pc: int, flags: int, max_insns: int | None = None,
                  cache: bool = True) -> TranslationBlock:
        """Translate and compile the TB at ``pc`` (``tb_gen_code``)."""
        max_insns = max_insns or self.max_insns
        tb = TranslationBlock(pc, flags)
        b = Builder(tb, self.optable)
        ctx = DisasContext(tb, cpu, pc, pc, max_insns)
        fe = self.frontend
        fe.tb_start(ctx, b)
        while True:
            insn_pc = ctx.pc_next
            mark = len(tb.ops)
            b.insn_start(insn_pc)
            try:
                fe.translate_insn(ctx, b)
            except GuestFault:
                if ctx.num_insns == 0:
                    raise  # the TB's first instruction cannot be fetched: prefetch abort
                # a later instruction is unreachable: end the TB before it; the fault is
                # raised when (if) execution gets there, as in QEMU.
                del tb.ops[mark:]
                ctx.pc_next = insn_pc
                ctx.is_jmp = DisasJump.TOO_MANY
                break
            ctx.num_insns += 1
            tb.insn_pcs.append(insn_pc)
            tb.pages.add(insn_pc & PAGE_MASK)
            tb.pages.add((ctx.pc_next - 1) & PAGE_MASK)
            if ctx.is_jmp is not DisasJump.NEXT:
                break
            if ctx.num_insns >= max_insns or (ctx.pc_next & PAGE_MASK) != (pc & PAGE_MASK):
                ctx.is_jmp = DisasJump.TOO_MANY
                break
        fe.tb_stop(ctx, b)
        tb.icount = ctx.num_insns
        tb.size = ctx.pc_next - pc
        for ir_pass in self.passes:
            ir_pass(tb)
        self.backend.compile(tb)
        self.translated += 1
        cpu.stats.tbs_translated += 1
        if cache:
            self.cache[(pc, flags)] = tb
            for page in tb.pages:
                self._protect_code(page)
                self.page_tbs.setdefault(page, []).append(tb)
        if self._announce:
            self.machine.plugins.call_event("tcglab_tb_translated", machine=self.machine, tb=tb)
        return tb

    def _protect_code(self, page: int) -> None:
        """``tlb_protect_code``: stores to this page must take the slow path from now on."""
        ram = self.machine.memory.ram_list
        if page not in ram.code_pages:
            ram.code_pages.add(page)
            for cpu in self.machine.cpus:
                cpu.mmu.flush_page(page)

    def invalidate_page(self, page: int) -> None:
        """A store hit code at ``page``: drop its TBs and unchain them (``tb_invalidate_phys_page``)."""
        ram = self.machine.memory.ram_list
        ram.code_pages.discard(page)
        for tb in self.page_tbs.pop(page, []):
            self._invalidate(tb)
        for cpu in self.machine.cpus:
            cpu.mmu.flush_page(page)  # refill without TLB_NOTDIRTY

    def _invalidate(self, tb: TranslationBlock) -> None:
        if tb.invalid:
            return
        tb.invalid = True
        self.invalidated += 1
        if self.cache.get((tb.pc, tb.flags)) is tb:
            del self.cache[(tb.pc, tb.flags)]
        for src, slot in tb.jmp_incoming:
            if src.jmp_dest[slot] is tb:
                src.jmp_dest[slot] = None
                self.backend.tb_unchained(src, slot)
        tb.jmp_incoming.clear()
        for slot, dest in enumerate(tb.jmp_dest):
            if dest is not None:  # its own exits: the destinations forget it
                tb.jmp_dest[slot] = None
                dest.jmp_incoming[:] = [e for e in dest.jmp_incoming if e[0] is not tb]
        self.backend.tb_invalidated(tb)
        for other_page in tb.pages:
            tbs = self.page_tbs.get(other_page)
            if tbs and tb in tbs:
                tbs.remove(tb)

    def flush(self) -> None:
        """Drop every TB (``tb_flush``)."""
        for tb in list(self.cache.values()):
            self._invalidate(tb)
        self.cache.clear()
        self.page_tbs.clear()

    def chain(self, src: TranslationBlock, slot: int, dest: TranslationBlock) -> None:
        """Patch ``src``'s goto_tb ``slot`` to jump straight to ``dest`` (``tb_add_jump``)."""
        if src.jmp_dest[slot] is not dest and not src.invalid and not dest.invalid:
            old = src.jmp_dest[slot]
            if old is not None:
                old.jmp_incoming[:] = [e for e in old.jmp_incoming if e != (src, slot)]
            src.jmp_dest[slot] = dest
            dest.jmp_incoming.append((src, slot))
            self.backend.tb_chained(src, slot, dest)


__all__ = ["Translator", "TB_MAX_INSNS", "PAGE_SIZE"]
