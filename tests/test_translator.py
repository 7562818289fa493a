"""The translator loop, the TB cache, chaining, self-modifying code, translation faults,
the IR-pass seam and the tcglab_tb_translated hook (core/translator.py, core/exec.py)."""

from __future__ import annotations

import pytest
from attrs import define

from core.config import option, parse_config
from core.errors import ConfigError, GuestError
from core.hookspecs import hookimpl
from core.ir import MemOp, TranslationBlock
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from core.softmmu import PAGE_SIZE
from plugins.tcg_backends.interp import InterpBackend
from tests import toyisa
from tests.support.toy import toy_machine, write32
from tests.toyisa import assemble, enc

BIG = {"slice": 100_000, "max_insns": 200_000}  # max_insns: a bug cannot hang


def machine(program, **kw):
    kw.setdefault("schedule", BIG)
    return toy_machine(program, **kw)


def tb_at(m, pc, flags=0):
    return m.translator.cache[(pc, flags)]


def loop(n, body=(("ADDI", 5, 5, 1),)):
    """r6 = n; loop: body; r6 -= 1; bnz r6, loop; exit r0."""
    return [("MOVI", 6, 0, n), ("MOVI", 5, 0, 0), "loop", *body, ("ADDI", 6, 6, -1),
            ("BNZ", 6, "loop"), ("EXIT", 0, 0, 0)]


def set_pc(m, pc, cpu=0):
    m.frontend.set_pc(m.cpus[cpu], pc)


# --------------------------------------------------------------------------- where TBs end


def test_tb_ends_at_branch():
    prog = [("MOVI", 1, 0, 1), ("ADDI", 1, 1, 2), ("B", "next"), ("MOVI", 1, 0, 99),
            "next", ("ADDI", 1, 1, 10), ("EXIT", 0, 0, 0)]
    m = machine(prog)
    m.run()
    assert m.cpus[0].env[1] == 13
    tb = tb_at(m, RAM_BASE)
    assert tb.icount == 3
    assert tb.size == 12
    assert tb.insn_pcs == [RAM_BASE, RAM_BASE + 4, RAM_BASE + 8]
    assert tb.pages == {RAM_BASE}
    assert (RAM_BASE + 12, 0) not in m.translator.cache  # skipped by the branch
    nxt = tb_at(m, RAM_BASE + 16)
    assert nxt.insn_pcs == [RAM_BASE + 16, RAM_BASE + 20]


def test_tb_ends_at_max_insns():
    prog = [("ADDI", 1, 1, 1)] * 10 + [("EXIT", 0, 0, 0)]
    m = machine(prog)
    m.translator.max_insns = 4
    m.run()
    assert m.cpus[0].env[1] == 10
    for start, count in ((0, 4), (16, 4), (32, 3)):
        tb = tb_at(m, RAM_BASE + start)
        assert tb.icount == count
        assert tb.size == 4 * count
        assert tb.insn_pcs == [RAM_BASE + start + 4 * i for i in range(count)]
    assert m.translator.translated == 3


def test_default_max_insns_is_tcg_max():
    from core.translator import TB_MAX_INSNS
    prog = [("ADDI", 1, 1, 1)] * (TB_MAX_INSNS + 3) + [("EXIT", 0, 0, 0)]
    m = machine(prog)
    m.run()
    assert m.cpus[0].env[1] == TB_MAX_INSNS + 3
    assert tb_at(m, RAM_BASE).icount == TB_MAX_INSNS


def test_tb_ends_at_page_boundary():
    start = RAM_BASE + PAGE_SIZE - 16
    m = machine([("B", start - RAM_BASE)])
    m.memory.write_bytes(start, assemble([("ADDI", 1, 1, 1)] * 7 + [("EXIT", 0, 0, 0)]))
    m.run()
    assert m.cpus[0].env[1] == 7
    first = tb_at(m, start)
    assert first.icount == 4
    assert first.size == 16
    assert first.insn_pcs == [start + 4 * i for i in range(4)]
    assert first.pages == {RAM_BASE}
    second = tb_at(m, RAM_BASE + PAGE_SIZE)
    assert second.icount == 4  # three ADDIs and the EXIT
    assert second.pages == {RAM_BASE + PAGE_SIZE}


def test_insn_straddling_pages_belongs_to_both_and_ends_tb():
    start = RAM_BASE + PAGE_SIZE - 6  # second insn at page_end - 2 straddles the boundary
    m = machine([])
    m.memory.write_bytes(start, assemble([("ADDI", 1, 1, 1), ("ADDI", 1, 1, 2),
                                          ("ADDI", 1, 1, 4), ("EXIT", 0, 0, 0)]))
    set_pc(m, start)
    m.run()
    assert m.cpus[0].env[1] == 7
    tb = tb_at(m, start)
    assert tb.icount == 2
    assert tb.size == 8
    assert tb.pages == {RAM_BASE, RAM_BASE + PAGE_SIZE}
    # a write to the second page alone invalidates it
    m.memory.write_bytes(RAM_BASE + PAGE_SIZE + 0x100, b"\x00")
    assert tb.invalid
    assert (start, 0) not in m.translator.cache


# --------------------------------------------------------------------------- TB cache


def test_loop_body_translated_once_executed_many_times():
    m = machine(loop(200))
    m.run()
    cpu = m.cpus[0]
    assert cpu.env[5] == 200
    assert m.translator.translated <= 3
    assert cpu.stats.tbs_translated == m.translator.translated
    assert cpu.stats.tbs_executed >= 200
    body = tb_at(m, RAM_BASE + 8)
    assert body.icount == 3


def test_cache_key_includes_flags():
    m = machine(loop(3))
    cpu = m.cpus[0]
    tb0 = m.translator.lookup(cpu, RAM_BASE, 0)
    tb1 = m.translator.lookup(cpu, RAM_BASE, 1)
    assert tb0 is not tb1
    assert (tb0.flags, tb1.flags) == (0, 1)
    assert m.translator.lookup(cpu, RAM_BASE, 0) is tb0
    assert m.translator.lookup(cpu, RAM_BASE, 1) is tb1
    assert m.translator.translated == 2


def test_run_uses_frontend_tb_flags():
    m = machine(loop(3))
    m.frontend.tb_flags = lambda cpu: 5
    m.run()
    assert m.cpus[0].env[5] == 3
    assert m.translator.cache
    assert all(flags == 5 for _pc, flags in m.translator.cache)


def test_single_insn_slices_still_correct():
    m = toy_machine(loop(20), schedule={"slice": 1, "max_insns": 10_000})
    m.run()
    assert m.cpus[0].env[5] == 20
    assert m.cpus[0].env[6] == 0


# --------------------------------------------------------------------------- chaining


def test_loop_chains_to_itself():
    m = machine(loop(50))
    m.run()
    cpu = m.cpus[0]
    assert cpu.stats.tb_chain_hits > 0
    entry, body = tb_at(m, RAM_BASE), tb_at(m, RAM_BASE + 8)
    assert entry.jmp_dest[0] is body  # BNZ taken
    assert body.jmp_dest[0] is body
    assert (entry, 0) in body.jmp_incoming
    assert (body, 0) in body.jmp_incoming
    # most iterations came through the chain, not the cache
    assert cpu.stats.tb_chain_hits >= 45


def _two_page_loop(n):
    """Entry on page 0 branches to a loop on page 1."""
    filler = [("RAW", 0)] * (PAGE_SIZE // 4 - 3)
    return [("MOVI", 6, 0, n), ("MOVI", 5, 0, 0), ("B", "loop"), *filler,
            "loop", ("ADDI", 5, 5, 1), ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 0, 0)]


def test_invalidating_a_tb_unlinks_it():
    m = machine(_two_page_loop(10))
    m.run()
    assert m.cpus[0].env[5] == 10
    entry, body = tb_at(m, RAM_BASE), tb_at(m, RAM_BASE + PAGE_SIZE)
    assert entry.jmp_dest[0] is body
    on_page1 = [tb for tb in m.translator.cache.values() if tb.pages == {RAM_BASE + PAGE_SIZE}]
    assert len(on_page1) == 2  # the loop body and the EXIT
    before = m.translator.invalidated
    m.translator.invalidate_page(RAM_BASE + PAGE_SIZE)
    assert body.invalid
    assert not entry.invalid
    assert entry.jmp_dest[0] is None
    assert body.jmp_incoming == []
    assert (RAM_BASE + PAGE_SIZE, 0) not in m.translator.cache
    assert (RAM_BASE, 0) in m.translator.cache
    assert m.translator.invalidated == before + 2
    assert all(tb.invalid for tb in on_page1)
    # running again retranslates the body and re-chains it
    m.stop_requested = False
    set_pc(m, RAM_BASE)
    m.run()
    assert m.cpus[0].env[5] == 10
    new_body = tb_at(m, RAM_BASE + PAGE_SIZE)
    assert new_body is not body
    assert entry.jmp_dest[0] is new_body


def test_translator_flush_drops_everything():
    m = machine(loop(5))
    m.run()
    tbs = list(m.translator.cache.values())
    assert tbs
    m.translator.flush()
    assert m.translator.cache == {}
    assert all(tb.invalid for tb in tbs)
    assert all(tb.jmp_incoming == [] for tb in tbs)


# --------------------------------------------------------------------------- self-modifying code


def test_smc_store_over_own_code_executes_new_instruction():
    target = 0x18
    prog = [
        ("MOVI", 5, 0, 0),                              # 0x00
        ("MOVI", 6, 0, 2),                              # 0x04
        *toyisa.li(1, enc("ADDI", 5, 5, 100)),          # 0x08, 0x0c
        *toyisa.li(2, RAM_BASE + target),               # 0x10, 0x14
        "loop",
        ("ADDI", 5, 5, 1),                              # 0x18: overwritten
        ("STW", 1, 2, 0),
        ("ADDI", 6, 6, -1),
        ("BNZ", 6, "loop"),
        ("EXIT", 0, 0, 0),
    ]
    assert assemble(prog)[target:target + 4] == enc("ADDI", 5, 5, 1).to_bytes(4, "little")
    m = machine(prog)
    m.run()
    cpu = m.cpus[0]
    assert cpu.env[5] == 1 + 100  # the stale TB would give 2
    assert m.translator.invalidated > 0
    assert cpu.stats.smc_invalidations > 0
    # the second pass stored over the retranslated code again: invalidated once more
    assert m.translator.invalidated == 2
    assert cpu.stats.smc_invalidations == 2


def test_smc_on_other_vcpu_is_seen():
    """vCPU 1 patches the code vCPU 0 is looping in; vCPU 0 then runs the new code."""
    prog = [
        ("CPUID", 3, 0, 0),                        # 0x00
        ("BNZ", 3, "patcher"),                     # 0x04
        "spin",
        ("ADDI", 5, 5, 1),                         # 0x08: becomes EXIT r0
        ("B", "spin"),                             # 0x0c
        "patcher",
        *toyisa.li(1, enc("EXIT", 0, 0, 0)),
        *toyisa.li(2, RAM_BASE + 8),
        ("STW", 1, 2, 0),
        "idle",
        ("HALT",),
        ("B", "idle"),
    ]
    m = toy_machine(prog, vcpus=2, schedule={"slice": 7, "max_insns": 10_000})
    result = m.run()
    assert result.reason == "exit"  # not max-insns: vCPU 0 left the stale spin loop
    assert m.cpus[1].stats.smc_invalidations > 0
    assert m.translator.invalidated > 0
    assert m.frontend.get_pc(m.cpus[0]) == RAM_BASE + 0xC  # after the patched EXIT at 0x08


def test_debugger_write_over_code_invalidates():
    m = machine([("MOVI", 5, 0, 7), ("EXIT", 0, 0, 0)])
    m.run()
    assert m.cpus[0].env[5] == 7
    tb = tb_at(m, RAM_BASE)
    before = m.translator.invalidated
    write32(m, RAM_BASE, enc("MOVI", 5, 0, 9))
    assert tb.invalid
    assert m.translator.invalidated == before + 1
    assert (RAM_BASE, 0) not in m.translator.cache
    m.stop_requested = False
    set_pc(m, RAM_BASE)
    m.run()
    assert m.cpus[0].env[5] == 9


def test_page_crossing_store_into_code_page_invalidates():
    """Only the second half of the store lands on the code page (page 1)."""
    code = RAM_BASE + PAGE_SIZE
    m = machine([("B", PAGE_SIZE)])  # jump to `code`
    m.memory.write_bytes(code, assemble([("MOVI", 5, 0, 7), ("EXIT", 0, 0, 0)]))
    m.run()
    assert m.cpus[0].env[5] == 7
    tb = tb_at(m, code)
    mmu = m.cpus[0].mmu
    mmu.store(RAM_BASE + 0x800, 0, MemOp.UB)  # page 0's write entry is warm (and plain:
    assert mmu.addr_write[(RAM_BASE >> 12) & 255] == RAM_BASE  # that store dropped its TB)
    mmu.load(code, MemOp.UW)                   # page 1's entry too (TLB_NOTDIRTY)
    before = m.cpus[0].stats.smc_invalidations
    new_movi = enc("MOVI", 5, 0, 9)
    # bytes [code-2, code) get zeros, [code, code+2) the low half of the new MOVI
    mmu.store(code - 2, (new_movi << 16) & 0xFFFFFFFF, MemOp.UL)
    assert tb.invalid
    assert m.cpus[0].stats.smc_invalidations == before + 1
    mmu.store(code + 2, new_movi >> 16, MemOp.UW)
    m.stop_requested = False
    set_pc(m, code)
    m.run()
    assert m.cpus[0].env[5] == 9


def test_write_to_data_page_does_not_invalidate():
    m = machine(loop(5))
    m.run()
    before = m.translator.invalidated
    m.memory.write_bytes(RAM_BASE + 0x10000, b"\x01\x02\x03\x04")
    m.cpus[0].mmu.store(RAM_BASE + 0x10000, 5, MemOp.UL)
    assert m.translator.invalidated == before
    assert m.cpus[0].stats.smc_invalidations == 0


# --------------------------------------------------------------------------- guest errors


def test_undefined_instruction_runs_preceding_insns_then_errors():
    prog = [("MOVI", 5, 0, 42), ("ADDI", 5, 5, 1), ("RAW", 0xFF00BEEF), ("MOVI", 5, 0, 0)]
    m = machine(prog)
    with pytest.raises(GuestError) as ei:
        m.run()
    msg = str(ei.value)
    assert "0xff00beef" in msg.lower()
    assert "vCPU 0" in msg
    assert "pc=0x40000008" in msg
    assert "\n" not in msg
    assert m.cpus[0].env[5] == 43


def test_jump_to_unmapped_memory_is_one_line_prefetch_abort():
    m = machine([("MOVI", 5, 0, 1), ("B", -0x10000)])  # to 0x3fff0000, below RAM
    with pytest.raises(GuestError) as ei:
        m.run()
    msg = str(ei.value)
    assert msg == "vCPU 0: prefetch abort, fetch of 4 bytes at 0x3fff0000, pc=0x3fff0000"
    assert m.cpus[0].env[5] == 1


def test_running_off_the_end_of_ram():
    ram_end = RAM_BASE + 0x10000
    start = ram_end - 16
    m = machine([], ram_size="64K")
    m.memory.write_bytes(start, assemble([("ADDI", 5, 5, 1)] * 4))
    set_pc(m, start)
    with pytest.raises(GuestError) as ei:
        m.run()
    assert m.cpus[0].env[5] == 4
    msg = str(ei.value)
    assert msg.startswith("vCPU 0: prefetch abort")
    assert msg.endswith(f"pc={ram_end:#010x}")
    assert "\n" not in msg


def test_fetch_fault_on_later_insn_ends_tb_early():
    ram_end = RAM_BASE + 0x10000
    start = ram_end - 14  # insns at -14, -10, -6; the one at -2 runs off the end of RAM
    m = machine([], ram_size="64K")
    m.memory.write_bytes(start, assemble([("ADDI", 5, 5, 1), ("ADDI", 5, 5, 2),
                                          ("ADDI", 5, 5, 4)]) + b"\x04\x55")
    set_pc(m, start)
    tb = m.translator.lookup(m.cpus[0], start, 0)  # translation itself must not fail
    assert tb.icount == 3
    assert tb.size == 12
    assert tb.insn_pcs == [start, start + 4, start + 8]
    with pytest.raises(GuestError) as ei:
        m.run()
    assert m.cpus[0].env[5] == 7  # all three ran before the abort
    msg = str(ei.value)
    assert msg.startswith("vCPU 0: prefetch abort")
    assert msg.endswith(f"pc={ram_end - 2:#010x}")


# --------------------------------------------------------------------------- seams


def test_ir_pass_sees_each_new_tb_before_compile():
    m = machine(loop(30))
    seen = []

    def spy_pass(tb):
        assert tb.compiled is None  # not compiled yet
        assert tb.ops  # IR is there
        seen.append(tb)

    m.translator.passes.append(spy_pass)
    m.run()
    assert m.cpus[0].env[5] == 30
    assert len(seen) == m.translator.translated
    assert set(map(id, seen)) == set(map(id, m.translator.cache.values()))
    assert all(tb.compiled is not None for tb in seen)


def test_ir_pass_can_rewrite_the_tb():
    """A pass that changes the IR changes what runs: it really runs before compile."""
    m = machine([("MOVI", 5, 0, 7), ("EXIT", 0, 0, 0)])

    def movi_7_becomes_42(tb):
        for i, op in enumerate(tb.ops):
            if op.name == "movi_i32" and op.args[0].name == "r5" and op.args[1] == 7:
                tb.ops[i] = type(op)(op.opdef, (op.args[0], 42))

    m.translator.passes.append(movi_7_becomes_42)
    m.run()
    assert m.cpus[0].env[5] == 42


class Spy:
    def __init__(self):
        self.tbs = []
        self.machines = []

    @hookimpl
    def tcglab_tb_translated(self, machine, tb):
        self.machines.append(machine)
        self.tbs.append(tb)


def test_tb_translated_hook_sees_every_tb():
    spy = Spy()
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("spy", spy)])
    config = parse_config({"machine": {"frontend": "toy", "backend": "interp",
                                       "memory_policy": "exclusive-bitmap", "ram_size": "1M"},
                           "schedule": BIG}, "<test>")
    m = Machine(config, pm)
    m.memory.write_bytes(RAM_BASE, assemble(loop(25)))
    m.run()
    assert m.cpus[0].env[5] == 25
    assert len(spy.tbs) == m.translator.translated >= 3
    assert set(map(id, spy.tbs)) == set(map(id, m.translator.cache.values()))
    assert all(mm is m for mm in spy.machines)
    assert all(tb.compiled is not None for tb in spy.tbs)


# --------------------------------------------------------------------------- backend seams


class RecordingInterp(InterpBackend):
    """The interpreter, recording what the translator tells a code-patching backend."""

    name = "recording-interp"

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.events: list[tuple] = []

    def tb_chained(self, src, slot, dest):
        self.events.append(("chain", src, slot, dest))

    def tb_unchained(self, src, slot):
        self.events.append(("unchain", src, slot))

    def tb_invalidated(self, tb):
        self.events.append(("invalid", tb))


class _RecordingPlugin:
    @staticmethod
    @hookimpl
    def tcglab_register_backends(registry):
        registry.add_backend(RecordingInterp)


def recording_machine(program):
    config = parse_config({"machine": {"frontend": "toy", "backend": "recording-interp",
                                       "ram_size": "1M"}, "schedule": BIG}, "<test>")
    m = Machine(config, PluginManager(autoload=False, extra=[("toyisa", toyisa),
                                                             ("recording", _RecordingPlugin)]))
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(program))
    return m


def test_backend_is_told_of_each_chain_once_and_of_unchaining_on_invalidation():
    m = recording_machine(_two_page_loop(10))
    m.run()
    entry, body = tb_at(m, RAM_BASE), tb_at(m, RAM_BASE + PAGE_SIZE)
    chains = [e for e in m.backend.events if e[0] == "chain"]
    assert ("chain", entry, 0, body) in chains
    assert ("chain", body, 0, body) in chains
    assert len(chains) == len({(e[1].pc, e[2]) for e in chains})  # each slot patched once
    m.backend.events.clear()
    m.translator.invalidate_page(RAM_BASE + PAGE_SIZE)
    events = m.backend.events
    assert ("unchain", entry, 0) in events
    assert ("invalid", body) in events
    assert not any(e[0] == "invalid" and e[1] is entry for e in events)
    assert body.jmp_dest == [None, None]  # the dropped TB no longer points anywhere


def test_rechaining_a_slot_moves_it_off_the_old_destination():
    m = recording_machine(loop(3))
    a, b, c = (TranslationBlock(RAM_BASE + 4 * i) for i in range(3))
    m.translator.chain(a, 0, b)
    m.translator.chain(a, 0, c)
    assert a.jmp_dest[0] is c and (a, 0) in c.jmp_incoming and (a, 0) not in b.jmp_incoming
    b.invalid = True
    m.translator.chain(a, 1, b)  # never chain to a dropped TB
    assert a.jmp_dest[1] is None
    assert [e[0] for e in m.backend.events] == ["chain", "chain"]


def test_backend_options_come_from_its_plugin_table():
    @define(frozen=True)
    class Opts:
        speed: int = option(1, min=1, max=9, doc="how fast")

    class WithOptions(RecordingInterp):
        name = "with-options"
        Options = Opts

    class Plugin:
        @staticmethod
        @hookimpl
        def tcglab_register_backends(registry):
            registry.add_backend(WithOptions)

    def build(table):
        return Machine(parse_config({"machine": {"frontend": "toy", "backend": "with-options"},
                                     "plugins": {"with-options": table}}, "<test>"),
                       PluginManager(autoload=False, extra=[("toyisa", toyisa), ("w", Plugin)]))

    assert build({"speed": 3}).backend.options == Opts(3)
    assert build({}).backend.options == Opts(1)
    with pytest.raises(ConfigError, match=r"\[plugins.with-options\] speed"):
        build({"speed": 30})
