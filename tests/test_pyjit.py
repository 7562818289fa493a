"""The pyjit backend: same results as the interpreter, and generated code that is safe.

``hot`` machines compile every TB at its first run (``compile_after = 0``) so the tests
exercise the generated Python, not tier 0; regions then form after REGION_AFTER entries.
"""

from __future__ import annotations

import io
import re
import struct
import tokenize

import pytest

from core.backend import EXIT_BUDGET
from core.builder import Builder
from core.config import parse_config
from core.cpu import StateLayout
from core.errors import GuestError, TcglabError
from core.exec import cpu_exec
from core.hookspecs import hookimpl
from core.ir import I32, CallFlag, Cond, Helper, OpDef, OpFlag, TranslationBlock, cond_eval
from core.loader import load_elf
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from plugins.tcg_backends.pyjit import CompiledTB, PyJitBackend
from plugins.tcg_backends.pyjit.flags import FlagsMode
from plugins.tcg_backends.pyjit.lower import cond_expr
from plugins.tcg_backends.pyjit.region import REGION_AFTER
from tests import toyisa
from tests.support.arm_workloads import WORKLOADS, run_machine
from tests.toyisa import ToyFrontend, assemble, enc

HOT = {"compile_after": 0, "checked_after": 0}


def machine(program, *, backend="pyjit", vcpus=1, schedule=None, pyjit=None, frontend="toy",
            plugins=(), **kw):
    tables = {"pyjit": dict(HOT if pyjit is None else pyjit)} if backend == "pyjit" else {}
    data = {"machine": {"frontend": frontend, "backend": backend, "vcpus": vcpus,
                        "ram_size": "1M", **kw},
            "schedule": {"slice": 100_000, "max_insns": 200_000, **(schedule or {})},
            "plugins": tables}
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), *plugins])
    m = Machine(parse_config(data, "<test>"), pm)
    if program is not None:
        m.memory.write_bytes(RAM_BASE, program if isinstance(program, bytes) else assemble(program))
    return m


def outcome(m, result=None):
    """Everything a run can change, in plain values."""
    return ((result.reason, result.exit_status, result.insns) if result else None,
            [c.env for c in m.cpus], [c.stats for c in m.cpus], [c.run_state for c in m.cpus],
            bytes(m.ram.data), m.translator.invalidated)


def run_both(program, **kw):
    results = []
    for backend in ("interp", "pyjit"):
        m = machine(program, backend=backend, **kw)
        results.append(outcome(m, m.run()))
    return results


def sources(m):
    return [m.backend.describe(tb) for tb in m.translator.cache.values()]


LOOP = [("MOVI", 6, 0, 300), ("MOVI", 5, 0, 0), "loop", ("ADDI", 5, 5, 3), ("ADDI", 6, 6, -1),
        ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]


# --------------------------------------------------------------------------- same as interp


@pytest.mark.parametrize("slice_", [1, 2, 7, 64])
def test_self_loop_matches_interp_at_every_slice(slice_):
    interp, pyjit = run_both(LOOP, schedule={"slice": slice_})
    assert interp == pyjit
    assert interp[0][1] == 900


def test_self_loop_stops_exactly_at_the_budget():
    """The loop stays inside one generated function, yet each budget ends where the
    interpreter's does: pc, registers and counters after every cpu_exec."""
    for budget in (1, 2, 3, 4, 5, 11, 40):
        states = []
        for backend in ("interp", "pyjit"):
            m = machine(LOOP, backend=backend)
            cpu = m.cpus[0]
            for _ in range(6):
                cpu_exec(m, cpu, budget)
                cpu_exec(m, cpu, budget)  # resumed mid-TB, with mid_tb set
            states.append((cpu.env, cpu.stats, cpu.mid_tb))
        assert states[0] == states[1], budget
    m = machine(LOOP)
    cpu = m.cpus[0]
    assert cpu_exec(m, cpu, 500) == 500  # the loop body ran inside the function ...
    body = m.translator.cache[(RAM_BASE + 8, 0)]
    assert "continue" in m.backend.describe(body)  # ... as a Python loop


# A test ISA op that calls a helper: queue work on the vCPU, or ask the machine to stop.
POKE = 0x30


def _poke(cpu, what):
    cpu.arch.setdefault("pokes", []).append(cpu.env[5])
    if what == 1 and len(cpu.arch["pokes"]) == 5:
        cpu.queue_work(lambda c: c.arch.setdefault("work_at", []).append(c.env[5]))
    if what == 2 and len(cpu.arch["pokes"]) == 7:
        cpu.machine.request_exit(3)  # no exception: the TB runs on, the chain must not


helper_poke = Helper("poke", _poke, None, (I32,), CallFlag.NO_RWG)


class PokeFrontend(ToyFrontend):
    name = "toy-poke"

    def translate_insn(self, ctx, b):
        word = ctx.ld_code32(ctx.pc_next)
        if word >> 24 != POKE:
            return super().translate_insn(ctx, b)
        ctx.pc_next += 4
        b.call(helper_poke, None, word & 0xFFFF)


class PokePlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(PokeFrontend)


def poke_loop(what):
    return [("MOVI", 6, 0, 50), ("MOVI", 5, 0, 0), "loop", ("ADDI", 5, 5, 1),
            ("RAW", (POKE << 24) | what), ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"),
            ("EXIT", 0, 5, 0)]


@pytest.mark.parametrize("slice_", [3, 1000])
def test_work_queued_mid_loop_runs_at_the_next_tb_boundary(slice_):
    runs = []
    for backend in ("interp", "pyjit"):
        m = machine(poke_loop(1), backend=backend, frontend="toy-poke",
                    plugins=[("poke", PokePlugin())], schedule={"slice": slice_})
        r = m.run()
        cpu = m.cpus[0]
        runs.append((outcome(m, r), cpu.arch["pokes"], cpu.arch.get("work_at")))
    assert runs[0] == runs[1]
    assert runs[1][2] == [5]  # queued at the 5th iteration, run before the 6th


@pytest.mark.parametrize("slice_", [4, 1000])
def test_stop_request_mid_loop_ends_it_at_the_tb_boundary(slice_):
    runs = []
    for backend in ("interp", "pyjit"):
        m = machine(poke_loop(2), backend=backend, frontend="toy-poke",
                    plugins=[("poke", PokePlugin())], schedule={"slice": slice_})
        r = m.run()
        runs.append((outcome(m, r), m.cpus[0].arch["pokes"]))
    assert runs[0] == runs[1]
    assert runs[1][0][0][:2] == ("exit", 3) and runs[1][0][1][0][5] == 7


def test_multi_tb_loop_becomes_a_region_and_matches_interp():
    """A loop of three TBs (a branch inside the body): after REGION_AFTER entries it runs
    as one function; results equal at a slice that splits it anywhere."""
    prog = [("MOVI", 6, 0, 2 * REGION_AFTER), ("MOVI", 5, 0, 0), ("MOVI", 7, 0, 0), "loop",
            ("ADDI", 5, 5, 1), ("BZ", 7, "skip"), ("ADDI", 5, 5, 100), "skip",
            ("ADDI", 7, 5, 0), ("SUB", 7, 7, 7), ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"),
            ("EXIT", 0, 5, 0)]
    for slice_ in (5, 100_000):
        interp, pyjit = run_both(prog, schedule={"slice": slice_})
        assert interp == pyjit
    m = machine(prog)
    m.run()
    forms = " ".join(sources(m))
    assert "region form" in forms


NESTED = [("MOVI", 6, 0, 300), ("MOVI", 5, 0, 0), ("MOVI", 0, 0, 0), "outer",
          ("ADDI", 6, 6, -1), ("BZ", 6, "done"), ("ADD", 7, 6, 0), ("MOVI", 9, 0, 7), "inner",
          ("ADDI", 5, 5, 3), ("ADDI", 9, 9, -1), ("BZ", 9, "outer"),  # leaves both early
          ("ADDI", 7, 7, -1), ("BNZ", 7, "inner"), ("ADDI", 5, 5, 100), ("B", 0, 0, "outer"),
          "done", ("EXIT", 0, 5, 0)]


@pytest.mark.parametrize("slice_", [3, 17, 100_000])
def test_nested_loops_in_a_region_match_interp(slice_):
    """An inner loop (r6 times, at most 7) inside an outer one, left early for the outer
    loop's head from inside: the region lays the inner loop out as its own ``while``
    (leaving it backwards goes through the test after it); every slice gives the
    interpreter's run."""
    interp, pyjit = run_both(NESTED, schedule={"slice": slice_})
    assert interp == pyjit
    m = machine(NESTED)
    m.run()
    regions = [tb.compiled.sources["region"] for tb in m.translator.cache.values()
               if "region" in tb.compiled.sources]
    nested = [src for src in regions if src.count("while True:") >= 2]
    assert nested and all("if _b < " in src for src in nested)


def _region_cell(m):
    """The cell (``_V``) of the region the machine built."""
    for tb in m.translator.cache.values():
        code = tb.compiled
        if isinstance(code, CompiledTB) and len(code.members) > 1:
            return code, code.full.__globals__["_V"]
    raise AssertionError("no region was built")


@pytest.mark.parametrize("change", ["invalidate", "relink"])
def test_a_region_stops_vouching_for_its_chains_once_one_changes(change):
    """Transitions under ``w`` skip the chain check: the backend clears the region's cell
    when a chain it was built on is unchained (its target invalidated) or relinked."""
    prog = [("MOVI", 6, 0, 2 * REGION_AFTER), ("MOVI", 5, 0, 0), ("MOVI", 7, 0, 0), "loop",
            ("ADDI", 5, 5, 1), ("BZ", 7, "skip"), ("ADDI", 5, 5, 100), "skip",
            ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]
    m = machine(prog)
    m.run()
    code, cell = _region_cell(m)
    assert cell[0] is True
    src = next(tb for tb in code.members if any(d in code.members for d in tb.jmp_dest))
    slot = next(k for k, d in enumerate(src.jmp_dest) if d in code.members)
    if change == "invalidate":
        m.translator._invalidate(src.jmp_dest[slot])
    else:
        other = next(tb for tb in m.translator.cache.values() if tb not in code.members)
        m.translator.chain(src, slot, other)
    assert cell[0] is False


def test_a_call_budget_cap_below_the_slice_changes_nothing(monkeypatch):
    """A unit is given at most _UNIT_BUDGET instructions per call (so its counters stay
    small ints); where that is below the slice, it returns at a transition and execute
    chains on as the dispatcher would: same run, same counters."""
    import plugins.tcg_backends.pyjit.backend as pyjit_backend

    prog = [("MOVI", 6, 0, 3 * REGION_AFTER), ("MOVI", 5, 0, 0), ("MOVI", 7, 0, 0), "loop",
            ("ADDI", 5, 5, 1), ("BZ", 7, "skip"), ("ADDI", 5, 5, 100), "skip",
            ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]
    reference = run_both(prog)
    assert reference[0] == reference[1]
    monkeypatch.setattr(pyjit_backend, "_UNIT_BUDGET", 37)
    m = machine(prog)
    assert outcome(m, m.run()) == reference[1]
    assert "region form" in " ".join(sources(m))


def test_a_units_budget_and_count_stay_one_cpython_digit():
    """``left`` (budget and chained-TB count in one int) stays below 2**30 however large
    the slice, where CPython 3.11 subtracts and compares ints on its fast paths."""
    import sys

    prog = [("MOVI", 6, 0, 3 * REGION_AFTER), ("MOVI", 5, 0, 0), "loop", ("ADDI", 5, 5, 1),
            ("BZ", 5, "skip"), ("ADDI", 5, 5, 2), "skip", ("ADDI", 6, 6, -1),
            ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]
    seen = []

    def tracer(frame, event, arg):
        if not frame.f_code.co_filename.startswith("<pyjit"):
            return None

        def lines(frame, event, arg):
            if "left" in frame.f_locals:
                seen.append(frame.f_locals["left"])
            return lines
        return lines

    m = machine(prog, schedule={"slice": 10_000_000, "max_insns": 20_000_000})
    sys.settrace(tracer)
    try:
        result = m.run()
    finally:
        sys.settrace(None)
    assert result.exit_status == 3 * 3 * REGION_AFTER
    assert "region form" in " ".join(sources(m))
    assert seen and max(abs(v) for v in seen) < 2 ** 30


@pytest.mark.parametrize("bits", [32, 64])
def test_signed_compares_match_cond_eval_at_every_sign_boundary(bits):
    """The signed orders compare the values as they are (a range test against a
    constant, else by the sign bit of a ^ b): each operand a name or a literal, at the
    values around zero and the sign bit, as core.ir.cond_eval."""
    s = 1 << (bits - 1)
    values = sorted({0, 1, 2, 100, s - 2, s - 1, s, s + 1, s + 100, 2 * s - 2, 2 * s - 1,
                     0x3FFF_FFFF, 0x4000_0000})
    for cond in (Cond.LT, Cond.LE, Cond.GT, Cond.GE):
        for x in values:
            for y in values:
                want = cond_eval(cond, x, y, bits)
                for a, b in (("a", "b"), (str(x), "b"), ("a", str(y)), (str(x), str(y))):
                    source = cond_expr(cond, a, b, bits)
                    assert eval(source, {"a": x, "b": y}) == want, (cond, x, y, source)
                    assert f"^ {s})" not in source  # no sign-flipped copies


def test_a_softmmu_slow_path_writes_back_and_reloads_nothing():
    """Globals go to env before a load's or store's slow path (it may raise, or a device
    or policy may look) and stay in their locals after it: no slow path writes the
    vCPU's env (core.softmmu), as no QEMU memory helper writes a TCG global."""
    prog = [("MOVI", 5, 0, 7), *toyisa.li(2, RAM_BASE + 0x2000), ("STW", 5, 2, 0),
            ("LDW", 3, 2, 0), ("ADDI", 5, 5, 1), ("EXIT", 0, 3, 0)]
    reference = run_both(prog)
    assert reference[0] == reference[1]
    m = machine(prog)
    m.run()
    text = "\n".join(sources(m))
    lines = text.splitlines()
    slow = [k for k, line in enumerate(lines) if "_ls(" in line or "_ss(" in line]
    assert len(slow) >= 2, text
    for k in slow:
        assert "env[" in lines[k - 1] and "= env[" not in lines[k + 1], text


def test_a_load_or_store_looks_its_page_up_unless_the_policy_flags_every_store():
    """The inline fast path is one lookup in the softmmu's page dicts; under a policy whose
    TLB fills flag every store (store-test), a store lookup could only miss and raise, so
    stores keep the tag compare.  Same results as interp either way."""
    prog = [("MOVI", 5, 0, 7), *toyisa.li(2, RAM_BASE + 0x2000), ("STW", 5, 2, 0),
            ("LDW", 3, 2, 0), ("ADDI", 5, 5, 1), ("EXIT", 0, 3, 0)]
    for policy, store_lookups in (("exclusive-bitmap", True), ("store-test", False)):
        reference = run_both(prog, memory_policy=policy)
        assert reference[0] == reference[1]
        m = machine(prog, memory_policy=policy)
        m.run()
        text = "\n".join(sources(m))
        assert "_rp[" in text, text
        assert ("_wp[" in text) is store_lookups, text
        assert ("_aw[_i] ==" in text) is not store_lookups, text


def test_guest_fault_mid_tb_reports_like_interp():
    prog = [("MOVI", 5, 0, 1), ("ADDI", 5, 5, 2), *toyisa.li(2, 0x3000_0000),
            ("LDW", 3, 2, 0), ("MOVI", 5, 0, 99), ("EXIT", 0, 0, 0)]
    messages = []
    for backend in ("interp", "pyjit"):
        m = machine(prog, backend=backend)
        with pytest.raises(GuestError) as info:
            m.run()
        messages.append((str(info.value), outcome(m)))
    assert messages[0] == messages[1]
    assert "pc=0x40000010" in messages[1][0]


@pytest.mark.parametrize("vcpus,slice_", [(1, 1), (1, 64), (4, 1), (4, 64)])
def test_workloads_same_seed_same_run_as_interp(vcpus, slice_):
    for program, args in (("counter", ["4", "60"]), ("aba", ["4", "40"])):
        runs = []
        for backend in ("interp", "pyjit"):
            text, result, m = run_machine(WORKLOADS / f"{program}.elf", args, {
                "machine": {"frontend": "arm", "vcpus": vcpus, "backend": backend},
                "schedule": {"slice": slice_, "policy": "random", "seed": 5},
                "plugins": {"pyjit": HOT} if backend == "pyjit" else {}})
            runs.append((text, result.reason, result.exit_status, result.insns, result.stats,
                         [c.env for c in m.cpus], bytes(m.ram.data)))
        assert runs[0] == runs[1], (program, vcpus, slice_)


# --------------------------------------------------------------------------- self-modifying code


def test_smc_store_over_code_the_tb_already_ran():
    target = 0x18
    prog = [("MOVI", 5, 0, 0), ("MOVI", 6, 0, 2), *toyisa.li(1, enc("ADDI", 5, 5, 100)),
            *toyisa.li(2, RAM_BASE + target), "loop",
            ("ADDI", 5, 5, 1),  # 0x18: overwritten by the store below on the first pass
            ("STW", 1, 2, 0), ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 0, 0)]
    for pyjit in (HOT, {}):  # compiled at once, and after tier 0
        m = machine(prog, pyjit=pyjit)
        m.run()
        assert m.cpus[0].env[5] == 1 + 100  # the stale TB would give 2
        assert m.translator.invalidated == 2


def test_smc_in_a_running_region_leaves_it():
    """A hot loop compiled as a region rewrites one of its own instructions: the next
    pass runs the new code (a stale region would keep adding 1)."""
    n = 3 * REGION_AFTER
    prog = [("MOVI", 6, 0, n), ("MOVI", 5, 0, 0), *toyisa.li(1, enc("ADDI", 5, 5, 1000)),
            *toyisa.li(2, RAM_BASE + 0x1C), ("MOVI", 4, 0, 2 * REGION_AFTER), "loop",
            ("ADDI", 5, 5, 1),  # 0x1c
            ("BNZ", 4, "nopatch"), ("STW", 1, 2, 0), "nopatch", ("ADDI", 4, 4, -1),
            ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 0, 0)]
    interp, pyjit = run_both(prog, schedule={"slice": 100_000, "max_insns": 1_000_000})
    assert interp == pyjit
    r5 = pyjit[1][0][5]
    patched_at = 2 * REGION_AFTER + 1
    assert r5 == patched_at + (n - patched_at) * 1000


# --------------------------------------------------------------------------- generated code


HOSTILE = ["__import__('os').system('echo pwned')", 'r0"); import os; ("', "a\nb\\c'd",
           "}; exec(compile('1','x','exec')) #", "pc\x00"]


class HostileFrontend(ToyFrontend):
    """The toy ISA with hostile names for every global, a helper and a plugin op."""

    name = "toy-hostile"

    def __init__(self, machine):
        super().__init__(machine)
        layout = StateLayout()
        for i in range(16):
            layout.add(HOSTILE[i % len(HOSTILE)] + str(i))
        self.pc_slot = layout.add(HOSTILE[0] + "pc", reset=RAM_BASE)
        self.cpuid_slot = layout.add(HOSTILE[1] + "cpuid")
        self.layout = layout
        self.r = [g for g in layout.globals.values()][:16]
        self.pc = layout.globals[HOSTILE[0] + "pc"]

    def translate_insn(self, ctx, b):
        word = ctx.ld_code32(ctx.pc_next)
        if word >> 24 != POKE:
            return super().translate_insn(ctx, b)
        ctx.pc_next += 4
        b.call(hostile_helper, self.r[3], self.r[3])
        b.emit(HOSTILE[2], self.r[4], self.r[3])


hostile_helper = Helper(HOSTILE[3], lambda cpu, a: (a * 3) & 0xFFFF_FFFF, I32, (I32,),
                        doc=HOSTILE[4])


class HostilePlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(HostileFrontend)

    @hookimpl
    def tcglab_register_ops(self, registry):
        registry.add_op(OpDef(HOSTILE[2], 1, 1, 0, OpFlag.NONE,
                              lambda cpu, a: a ^ 0x5A5A, (I32, I32), HOSTILE[0]))


# every identifier the generator writes: keywords, its fixed names, numbered names
KEYWORDS = {"def", "if", "elif", "else", "while", "try", "except", "raise", "return", "and",
            "or", "not", "is", "continue", "break", "pass", "True", "False", "None", "as"}
FIXED_NAMES = {"cpu", "env", "rem", "mm", "ip", "n", "ipc", "left", "it", "lk", "w", "_b",
               "_i", "_k", "_s", "_v", "_e", "_st", "_tb", "_xs", "_xn", "_xm", "_xp", "_ar",
               "_aw", "_hs", "_ad", "_ls", "_ss", "_sn", "_rp", "_wp", "_KE", "_C", "_CNT", "_IPC", "_MI", "_MX",
               "_PC0", "_V", "_BE", "_FALLOFF", "_sp", "_chk", "_fl", "get", "executed",
               "pyjit_pc", "stats", "tbs_executed", "tb_chain_hits", "exit_request"}
NUMBERED_NAME = re.compile(r"g[0-9]+|t[0-9]+(_[0-9]+)?|_[fupk][0-9]+|_[TJ][0-9]+")


def assert_only_generated_names(source):
    for hostile in HOSTILE:
        assert hostile not in source
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        assert tok.type != tokenize.STRING, tok  # no string literal at all
        if tok.type == tokenize.NAME:
            assert (tok.string in KEYWORDS or tok.string in FIXED_NAMES
                    or NUMBERED_NAME.fullmatch(tok.string)), tok


def test_hostile_names_never_reach_the_generated_source():
    words = [("MOVI", 3, 0, 7), ("RAW", POKE << 24), ("B", "mid"), "mid", ("ADDI", 3, 3, 1),
             ("RAW", POKE << 24)]  # two TBs a loop: a region
    prog = [("MOVI", 6, 0, 2 * REGION_AFTER), "loop", *words, ("ADDI", 6, 6, -1),
            ("BNZ", 6, "loop"), ("EXIT", 0, 4, 0)]
    m = machine(prog, frontend="toy-hostile", plugins=[("hostile", HostilePlugin())])
    assert m.run().reason == "exit"
    interp = machine(prog, backend="interp", frontend="toy-hostile",
                     plugins=[("hostile", HostilePlugin())])
    interp.run()
    assert m.cpus[0].env == interp.cpus[0].env
    texts = sources(m)
    assert any("region form" in t for t in texts)  # the loop compiled as a region too
    for text in texts:
        assert text
        assert_only_generated_names(text)
        compile(text, "<generated>", "exec")  # what describe returns is the source itself


def _hostile_elf(path, code: bytes, symbols: dict[str, int]) -> None:
    """A minimal ARM ELF: one PT_LOAD segment and a symbol table with these names."""
    base = RAM_BASE
    strtab = b"\0" + b"".join(n.encode() + b"\0" for n in symbols)
    syms = [bytes(16)]
    pos = 1
    for name, value in symbols.items():
        syms.append(struct.pack("<IIIBBH", pos, value, 0, 0x12, 0, 1))  # GLOBAL FUNC, .text
        pos += len(name.encode()) + 1
    symtab = b"".join(syms)
    shstrtab = b"\0.text\0.symtab\0.strtab\0.shstrtab\0"
    text_off = 0x100
    sym_off = text_off + len(code)
    str_off = sym_off + len(symtab)
    shs_off = str_off + len(strtab)
    sh_off = (shs_off + len(shstrtab) + 3) & ~3
    header = struct.pack("<4sBBBBB7sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, bytes(7), 2, 40,
                         1, base, 52, sh_off, 0x05000200, 52, 32, 1, 40, 5, 4)
    phdr = struct.pack("<IIIIIIII", 1, text_off, base, base, len(code), len(code), 5, 0x1000)
    shdrs = [bytes(40),
             struct.pack("<IIIIIIIIII", 1, 1, 6, base, text_off, len(code), 0, 0, 4, 0),
             struct.pack("<IIIIIIIIII", 7, 2, 0, 0, sym_off, len(symtab), 3, 1, 4, 16),
             struct.pack("<IIIIIIIIII", 15, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0),
             struct.pack("<IIIIIIIIII", 23, 3, 0, 0, shs_off, len(shstrtab), 0, 0, 1, 0)]
    blob = bytearray(header + phdr)
    blob += bytes(text_off - len(blob)) + code + symtab + strtab + shstrtab
    blob += bytes(sh_off - len(blob)) + b"".join(shdrs)
    path.write_bytes(bytes(blob))


def test_hostile_elf_symbols_and_section_contents(tmp_path):
    words = [0xE3A0200A,  # mov r2, #10
             0xE2522001,  # loop: subs r2, r2, #1
             0x1AFFFFFD,  # bne loop
             0xE59F300C,  # ldr r3, [pc, #12]: a word of the hostile text below
             0xE3A00018,  # mov r0, #0x18 (SYS_EXIT)
             0xE3001026,  # movw r1, #0x26
             0xE3401002,  # movt r1, #2 (ADP_Stopped_ApplicationExit)
             0xEF123456]  # svc 0x123456
    code = struct.pack(f"<{len(words)}I", *words) + "".join(HOSTILE).encode() + b"\0\0\0\0"
    elf = tmp_path / "hostile.elf"
    names = [h for h in HOSTILE if "\0" not in h]  # a symbol name ends at a NUL
    _hostile_elf(elf, code, {h: RAM_BASE + 4 * k for k, h in enumerate(names)})
    envs = []
    for backend in ("interp", "pyjit"):
        m = Machine(parse_config({"machine": {"frontend": "arm", "backend": backend},
                                  "plugins": {"pyjit": HOT} if backend == "pyjit" else {}},
                                 "<test>"), PluginManager(autoload=False))
        m.platform.stdout = m.platform.stderr = io.BytesIO()
        image = load_elf(elf, m.memory)
        assert set(names) <= set(image.symbols)
        m.frontend.boot(image, [str(elf), *HOSTILE])
        result = m.run()
        assert (result.reason, result.exit_status) == ("exit", 0)
        envs.append(m.cpus[0].env)
        if backend == "pyjit":
            for text in sources(m):
                assert_only_generated_names(text)
    assert envs[0] == envs[1]
    assert envs[1][3] == int.from_bytes(HOSTILE[0][:4].encode(), "little")


def test_op_without_semantics_or_lowering_is_a_one_line_error():
    m = machine(None)
    mystery = OpDef("mystery_op\nline", 1, 1, 0, OpFlag.NONE, None, (I32, I32))
    m.registry.optable.add(mystery)  # around the registry, which refuses it
    tb = TranslationBlock(RAM_BASE)
    b = Builder(tb, m.registry.optable)
    b.insn_start(RAM_BASE)
    b.emit("mystery_op\nline", m.frontend.r[0], m.frontend.r[1])
    b.exit_tb(0)
    with pytest.raises(TcglabError) as info:
        m.backend.compile(tb)
    message = str(info.value)
    assert "\n" not in message
    assert "pyjit" in message and "mystery_op" in message


def test_describe_is_the_source_the_tb_runs():
    m = machine(LOOP, pyjit={})  # not hot: describe compiles it on demand
    tb = m.translator.lookup(m.cpus[0], RAM_BASE, 0)
    assert isinstance(tb.compiled, CompiledTB) and tb.compiled.full is None
    text = m.backend.describe(tb)
    assert "def _tb(cpu, env, rem, mm):" in text
    compile(text, "<describe>", "exec")
    assert tb.compiled.full is not None


def test_flags_modes():
    toy = machine(None)
    assert toy.backend.flags.mode is FlagsMode.FIXED  # the base tb_flags: always 0
    text, result, arm = run_machine(WORKLOADS / "counter.elf", ["1", "3"],
                                    {"machine": {"frontend": "arm", "backend": "pyjit"}})
    assert arm.backend.flags.mode is FlagsMode.WITNESS  # CPSR mode and T bit: not globals


class GlobalFlagsFrontend(ToyFrontend):
    """Its TB flags are bit 0 of r7: a global.  pyjit must then ask tb_flags each time."""

    name = "toy-global-flags"

    def tb_flags(self, cpu):
        return cpu.env[7] & 1


class GlobalFlagsPlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(GlobalFlagsFrontend)


def test_tb_flags_read_from_a_global_use_the_exact_fallback():
    prog = [("MOVI", 6, 0, 40), "loop", ("ADDI", 7, 7, 1), ("ADDI", 5, 5, 2),
            ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 5, 0)]
    runs = []
    for backend in ("interp", "pyjit"):
        m = machine(prog, backend=backend, frontend="toy-global-flags",
                    plugins=[("gflags", GlobalFlagsPlugin())], schedule={"slice": 3})
        runs.append(outcome(m, m.run()))
    assert runs[0] == runs[1]
    assert m.backend.flags.mode is FlagsMode.CALL
    assert runs[1][2][0].tbs_translated >= 4  # the loop body under both flag values


def test_values_only_exits_read_are_computed_on_exit_paths_only():
    """r7 is set each iteration and read only after the loop: the loop's transition
    skips computing it (see pyjit.sink), every exit computes it from the operand's value
    before the decrement, at any slice (so also when the budget ends the loop)."""
    prog = [("MOVI", 6, 0, 300), ("MOVI", 5, 0, 0), "loop", ("ADDI", 7, 6, 5),
            ("ADDI", 5, 5, 3), ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 7, 0)]
    for slice_ in (1, 7, 100_000):
        interp, pyjit = run_both(prog, schedule={"slice": slice_})
        assert interp == pyjit
        assert pyjit[0][:2] == ("exit", 6)
    m = machine(prog)
    m.run()
    lines = m.translator.cache[(RAM_BASE + 8, 0)].compiled.sources["full"].splitlines()
    loop_back = next(i for i, line in enumerate(lines) if line.strip() == "continue")
    # the loop's own path: the statements at the loop body's depth up to its continue
    loop_path = [line.strip() for line in lines[:loop_back] if re.match(r" {12}\S", line)]
    assert not any(line.startswith("g7 = ") for line in loop_path), loop_path
    assert any(line.strip().startswith("g7 = ") for line in lines[loop_back:])


def test_tier0_and_compiled_agree_and_compiling_is_counted():
    """Default options: a TB runs in tier 0 first, then compiled; same results."""
    cold = machine(LOOP, pyjit={})
    hot = machine(LOOP)
    assert outcome(cold, cold.run())[1:] == outcome(hot, hot.run())[1:]
    body = cold.translator.cache[(RAM_BASE + 8, 0)].compiled
    assert body.full is not None and body.runs > cold.backend.options.compile_after


def test_plugin_registers_the_backend_and_its_options():
    reg = PluginManager(autoload=False).registry
    assert reg.backend("pyjit") is PyJitBackend
    with pytest.raises(Exception, match="compile_after"):
        Machine(parse_config({"machine": {"backend": "pyjit"},
                              "plugins": {"pyjit": {"compile_after": -1}}}, "<test>"),
                PluginManager(autoload=False))


def test_budget_exit_in_tier0_and_checked_form():
    """A slice ending inside a TB: tier 0 before checked_after, the checked form after."""
    for opts in ({"compile_after": 0, "checked_after": 1000}, HOT):
        m = machine(LOOP, pyjit=opts)
        cpu = m.cpus[0]
        cpu_exec(m, cpu, 2 + 3 * 33)  # at the loop's start, a TB boundary
        assert m.frontend.get_pc(cpu) == RAM_BASE + 8
        body = m.translator.lookup(cpu, RAM_BASE + 8, 0)
        last, exit_slot, n = m.backend.execute(cpu, body, 2)
        assert (last, exit_slot, n) == (body, EXIT_BUDGET, 2)
        assert m.frontend.get_pc(cpu) == RAM_BASE + 16 and cpu.env[5] == 3 * 34
        assert (body.compiled.checked is not None) == (opts is HOT)


def test_a_double_word_add_of_the_one_before_is_one_sum():
    """add2/sub2 into the outputs of the add2/sub2 just before, reading them (ADC, SBC:
    ``add2 NF, CF, a, 0, CF, 0; add2 NF, CF, NF, CF, b, 0``) is one sum of the three
    operands; one that reads the first's low output as its own operand is left alone."""
    m = machine(None)
    fe, cpu = m.frontend, m.cpus[0]
    r = fe.r
    tb = TranslationBlock(RAM_BASE)
    b = Builder(tb, m.registry.optable)
    b.insn_start(RAM_BASE)
    b.add2(r[5], r[6], r[1], 0, r[6], 0)  # ADC: r5:r6 = r1 + carry in r6 + r2
    b.add2(r[5], r[6], r[5], r[6], r[2], 0)
    b.sub2(r[7], r[8], r[1], r[3], r[2], 0)  # r7:r8 = (r3:r1) - r2 - r4, wrapping
    b.sub2(r[7], r[8], r[7], r[8], r[4], 0)
    b.add2(r[9], r[10], r[1], 0, r[2], 0)  # the second reads r9 as b: not a chain
    b.add2(r[9], r[10], r[9], r[10], r[9], 0)
    b.add2(r[11], r[12], r[1], 0, r[2], 0)  # its high output is overwritten unread ...
    b.movi(r[12], 5)
    b.exit_tb(0)
    m.backend.compile(tb)
    text = m.backend.describe(tb)
    sums = [line.strip() for line in text.splitlines() if line.strip().startswith("_s = ")]
    assert sums[0] == "_s = g1 + g6 + g2", text  # no split into g5, g6 and rejoin
    assert len(sums) == 5, text
    assert "g12 = _s" not in text  # ... so that line goes (a step's other lines stay)
    M, W = 0xFFFFFFFF, (1 << 64) - 1
    for a, c, d, e, carry in [(M, M, 5, M, 1), (0, 1, 0, 0x80000000, 0), (7, 9, 3, 2, 1),
                              (0x80000000, 0x80000000, M, M, 0)]:
        cpu.env[1:5] = [a, c, d, e]
        cpu.env[6] = carry
        m.backend.execute(cpu, tb, 10)
        s = a + carry + c
        assert cpu.env[5:7] == [s & M, s >> 32]
        w = (((d << 32) | a) - c - e) & W
        assert cpu.env[7:9] == [w & M, w >> 32]
        t = a + c
        t = (t & M) + (t & M) + ((t >> 32) << 32)
        assert cpu.env[9:11] == [t & M, (t >> 32) & M]
        assert cpu.env[11:13] == [(a + c) & M, 5]


def test_a_masked_value_fused_into_wrapping_arithmetic_loses_its_own_mask():
    """(b + ((a << 3) & M)) & M is (b + (a << 3)) & M: fuse drops masks that the reader's
    own mask makes redundant, and keeps those a right shift would see."""
    m = machine(None)
    fe, cpu = m.frontend, m.cpus[0]
    tb = TranslationBlock(RAM_BASE)
    b = Builder(tb, m.registry.optable)
    t = [b.temp_new_i32() for _ in range(7)]
    b.insn_start(RAM_BASE)
    b.shl_i32(t[0], fe.r[1], b.const_i32(3))
    b.add_i32(t[1], fe.r[2], t[0])
    b.mul_i32(t[2], t[1], fe.r[3])
    b.neg_i32(t[3], t[2])
    b.sub_i32(fe.r[5], fe.r[4], t[3])
    b.shl_i32(t[5], fe.r[1], b.const_i32(2))
    b.shr_i32(fe.r[6], t[5], b.const_i32(1))  # sees bits 32 and up: the mask stays
    b.exit_tb(0)
    m.backend.compile(tb)
    text = m.backend.describe(tb)
    r5 = next(line for line in text.splitlines() if line.strip().startswith("g5 = "))
    r6 = next(line for line in text.splitlines() if line.strip().startswith("g6 = "))
    assert r5.count("& 4294967295") == 1, r5
    assert "& 4294967295" in r6, r6
    M = 0xFFFFFFFF
    for a, bb, c, d in [(0xFFFFFFFF, 0xFFFFFFF0, 0x80000001, 7), (0x9E3779B9, 1, M, M),
                        (0x20000000, 0xE0000000, 3, 0)]:
        cpu.env[1:5] = [a, bb, c, d]
        m.backend.execute(cpu, tb, 10)
        want5 = (d - (-(((bb + ((a << 3) & M)) & M) * c & M) & M)) & M
        assert cpu.env[5] == want5
        assert cpu.env[6] == ((a << 2) & M) >> 1
