"""The arm-host backend: each TB becomes A32 assembly text in the shape of QEMU's
tcg/arm (tcg-target.c.inc), assembled with keystone and run on an ARM "host" emulated by
unicorn, with guest RAM shared with Python.

The package, one job per module:

* :mod:`.layout`   the host address space and the vCPU env block (env, TLB, control words)
* :mod:`.a32`      A32 text: registers, conditions, immediates, the line buffer
* :mod:`.liveness` which TB-local temps are live where (use/def sets for core.flow)
* :mod:`.regalloc` the register allocator (globals loaded from env, synced back)
* :mod:`.codegen`  the TB driver: control flow, calls, exits, budget checks, chaining
* :mod:`.alu`      data-processing ops -> A32 (immediates, compares, bit fields, i64 moves)
* :mod:`.ldst`     qemu_ld/qemu_st: inline TLB lookup, fast access, slow-path stubs
* :mod:`.abi`      where helper arguments go (AAPCS)
* :mod:`.traps`    the Python functions generated code calls (helpers, reference
  semantics, softmmu slow paths)
* :mod:`.assemble` keystone, cached by text
* :mod:`.codebuf`  placement of TB code
* :mod:`.chain`    goto_tb jump patching
* :mod:`.runtime`  the unicorn instance: mappings, TLB mirror, the trap hook, emu_start

This module holds the :class:`~core.backend.Backend` itself and imports neither unicorn
nor keystone: they are loaded when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.backend import EXIT_BUDGET, Backend
from core.cpu import GuestException
from core.errors import TcglabError
from core.hookspecs import hookimpl

from .codegen import TBCodegen
from .layout import EnvLayout
from .traps import TrapTable

if TYPE_CHECKING:
    from core.cpu import CPUState
    from core.ir import TranslationBlock
    from core.machine import Machine

MISSING = ("backend arm-host needs unicorn and keystone-engine, which are not installed: "
           "pip install 'tcglab[arm-host]'")
BUDGET_MAX = 0x7FFF_FFFF  # r5 counts down and is tested for the sign


class ArmHostBackend(Backend):
    """A32 host code mirroring QEMU's tcg/arm, executed on unicorn."""

    name = "arm-host"

    def __init__(self, machine: "Machine", options=None):
        super().__init__(machine, options)
        try:
            import keystone  # noqa: F401
            import unicorn  # noqa: F401
        except ImportError:
            raise TcglabError(MISSING) from None
        from .assemble import Assembler
        from .runtime import HostRuntime

        layout = machine.frontend.layout
        self.env_layout = EnvLayout(len(layout.names))
        self.slot_names = list(layout.names)
        self.traps = TrapTable()
        self.assembler = Assembler()
        self.runtime = HostRuntime(machine, self.env_layout, self.traps, self.assembler)
        self._serial = 0
        for cpu in machine.cpus:
            cpu.mmu.on_change = (lambda index, cpu=cpu: self.runtime.tlb_changed(cpu, index))
            self.runtime.tlb_changed(cpu, -1)

    @property
    def host_stats(self):
        """Per-vCPU :class:`~.runtime.HostStats` (slow-path and helper calls, emu_starts)."""
        return self.runtime.stats

    # ------------------------------------------------------------------ compile

    def compile(self, tb: "TranslationBlock") -> None:
        code = TBCodegen(tb, self.env_layout, self.traps, self.slot_names,
                         self.machine.frontend.pc_slot).generate()
        self._serial += 1
        code.label = f"{self._serial}_{tb.pc:08x}"
        code.code = self.assembler.assemble(code.render("T"), code.size)
        tb.compiled = code
        self._place(tb)

    def _place(self, tb: "TranslationBlock") -> None:
        from .runtime import CodeBufferFull
        try:
            self.runtime.place(tb)
        except CodeBufferFull:
            # QEMU's answer to a full code buffer: tb_flush, then translate again
            translator = getattr(self.machine, "translator", None)
            if translator is not None:
                translator.flush()
            try:
                self.runtime.place(tb)
            except CodeBufferFull:
                raise TcglabError(f"backend arm-host: the code buffer cannot hold the TB at "
                                  f"{tb.pc:#010x} ({tb.compiled.size} bytes)") from None

    def describe(self, tb: "TranslationBlock") -> str:
        code = tb.compiled
        return code.render(code.label) if code is not None else ""

    # ------------------------------------------------------------------ chaining

    def tb_chained(self, src, slot, dest) -> None:
        self.runtime.set_jump(src, slot, dest)

    def tb_unchained(self, src, slot) -> None:
        self.runtime.set_jump(src, slot, None)

    def tb_invalidated(self, tb) -> None:
        self.runtime.free(tb)

    # ------------------------------------------------------------------ execute

    def execute(self, cpu: "CPUState", tb: "TranslationBlock", budget: int):
        rt = self.runtime
        code = tb.compiled
        if code.addr is None:
            self._place(tb)
        translator = getattr(self.machine, "translator", None)
        transient = translator is None or translator.cache.get((tb.pc, tb.flags)) is not tb
        budget = min(budget, BUDGET_MAX)
        rt.env_to_host(cpu)
        try:
            try:
                rt.run(cpu, code.addr, budget)
                return self._leave(cpu, tb, budget)
            finally:
                rt.apply_deferred()  # patches and frees asked for while host code ran
        finally:
            if transient:
                rt.free(tb)  # an uncached TB (an exclusive step): its code will not run again

    def _leave(self, cpu: "CPUState", tb: "TranslationBlock", budget: int):
        rt = self.runtime
        _req, entries, left, exit_value = rt.ctrl(cpu)
        chained = max(entries - 1, 0)  # TBs entered through a patched goto_tb
        cpu.stats.tbs_executed += chained
        cpu.stats.tb_chain_hits += chained
        fault, rt.fault = rt.fault, None
        if fault is not None:
            exc, insn_pc, r5 = fault
            # r5 is decremented as each instruction starts: what ran, the raising
            # instruction included, also for a helper's error (core.backend)
            exc.executed = budget - r5
            if not isinstance(exc, GuestException):
                raise exc  # not the guest's: the run ends here
            if insn_pc is None:
                insn_pc = tb.pc
            if exc.pc is None:
                exc.pc = insn_pc
            if exc.restore:
                self.machine.frontend.restore_state_to_opc(cpu, insn_pc)
            raise exc
        last, kind, pc = rt.exits[exit_value]
        rt.env_to_python(cpu)
        if kind == EXIT_BUDGET:
            self.machine.frontend.set_pc(cpu, pc)
            return last, kind, budget
        return last, kind, budget - left


@hookimpl
def tcglab_register_backends(registry) -> None:
    registry.add_backend(ArmHostBackend)
