"""The arm-host backend's mechanics: host code that behaves exactly as the interpreter.

What is checked here (the grid over every workload and strategy is tests/backends'):

* the backend module imports without unicorn/keystone and says what to install;
* bundled workloads give the same output, exit status, final RAM, env, per-vCPU
  counters and policy counters as on interp, at 1 and 4 vCPUs, and keep each vCPU's
  host TLB equal to its soft TLB;
* TB chaining in host code, unchained when self-modifying code invalidates the target;
* budget exits in the middle of TBs, in lockstep with the interpreter;
* a guest exception in the middle of a TB: pc restored, dirty globals in env, no host
  code run after the raising helper;
* helper calls see globals synced to env and their writes to globals are reloaded;
* a vCPU leaves chained code at the next TB boundary when a helper queues work for it;
* a store to a TLB_EXCL page goes through the slow-path helper (counted), otherwise not;
* ops without a lowering run their reference semantics, one without either is an error;
* GNU as assembles every TB of every workload, to the bytes keystone produced
  (oracle: skipped without arm-none-eabi-as unless TCGLAB_REQUIRE_ORACLES=1).
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import sys

import pytest

from core.builder import Builder
from core.config import parse_config
from core.cpu import GuestException
from core.errors import GuestError, TcglabError
from core.exec import cpu_exec
from core.hookspecs import hookimpl
from core.ir import BASE_OPS, I32, I64, CallFlag, Helper, OpDef, OpFlag, OpTable, \
    TranslationBlock
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.memory_policy import MemoryPolicy
from core.plugins import PluginManager
from core.softmmu import PAGE_SIZE, TLB_EXCL, TLB_SIZE
from tests import toyisa
from tests.support.arm_workloads import WORKLOADS, cases, deterministic, run_machine
from tests.support.oracles import oracles_required
from tests.support.toy import DATA, read32
from tests.toyisa import enc, li


def _host_missing() -> str | None:
    try:
        import keystone  # noqa: F401
        import unicorn  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


HOST_MISSING = _host_missing()


@pytest.fixture
def host():
    """Tests that run host code need unicorn and keystone (the arm-host extra)."""
    if HOST_MISSING:
        if oracles_required():
            pytest.fail(f"arm-host needs unicorn and keystone: {HOST_MISSING}")
        pytest.skip(f"unicorn/keystone not installed: {HOST_MISSING}")


# --------------------------------------------------------------------------- machines


class _Policies:
    """A throwaway plugin with the test policies below."""

    @hookimpl
    def tcglab_register_memory_policies(self, registry):
        registry.add_memory_policy(FlagPagePolicy)
        registry.add_memory_policy(LinkWorkPolicy)


class FlagPagePolicy(MemoryPolicy):
    """Sets TLB_EXCL on the write tag of the pages in ``flagged``; logs flagged stores."""

    name = "test-flag-page"

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.flagged: set[int] = set()
        self.flagged_stores: list[tuple[int, int, int]] = []

    def tlb_fill_flags(self, cpu, page):
        return TLB_EXCL if page in self.flagged else 0

    def on_flagged_store(self, cpu, addr, size):
        self.flagged_stores.append((cpu.index, addr, size))


class LinkWorkPolicy(MemoryPolicy):
    """The third LL queues work on the vCPU; the work logs the pc it runs at (a TB
    boundary).  LL is a memory op, so the TB doing it has been chained by then (the
    dispatcher does not chain from a TB that left work behind)."""

    name = "test-link-work"

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.ran_at: list[int] = []
        self.links = 0

    def load_link(self, cpu, addr, memop):
        self.links += 1
        if self.links == 3:
            fe = self.machine.frontend
            cpu.queue_work(lambda c: self.ran_at.append(fe.get_pc(c)))
        return super().load_link(cpu, addr, memop)


def toy(program, backend, *, vcpus=1, slice_=1000, policy="exclusive-bitmap") -> Machine:
    config = parse_config({"machine": {"frontend": "toy", "backend": backend, "vcpus": vcpus,
                                       "memory_policy": policy, "ram_size": "1M"},
                           "schedule": {"slice": slice_}}, "<test>")
    m = Machine(config, PluginManager(autoload=False, extra=[("toyisa", toyisa),
                                                             ("test-policies", _Policies())]))
    m.memory.write_bytes(RAM_BASE, program if isinstance(program, bytes)
                         else toyisa.assemble(program))
    return m


def both(program, **kw) -> tuple[Machine, Machine]:
    return toy(program, "interp", **kw), toy(program, "arm-host", **kw)


def state(m: Machine) -> tuple:
    return ([c.env[:] for c in m.cpus], [c.stats.as_dict() for c in m.cpus],
            bytes(m.ram.data[:0x20000]), m.insns)


def host_tlb_matches(m: Machine) -> None:
    """Each vCPU's TLB copy in host memory equals its soft TLB (what the lookup reads)."""
    rt = m.backend.runtime
    for cpu in m.cpus:
        base = rt.map.block_addr(cpu.index) - rt.map.block_addr(0) + rt.env.tlb
        words = struct.unpack_from(f"<{4 * TLB_SIZE}I", rt.data, base)
        mmu = cpu.mmu
        assert list(words[0::4]) == [t & 0xFFFF_FFFF for t in mmu.addr_read]
        assert list(words[1::4]) == [t & 0xFFFF_FFFF for t in mmu.addr_write]


# --------------------------------------------------------------------------- setup


def test_backend_imports_without_host_libraries_and_says_what_to_install(monkeypatch):
    for name in [n for n in sys.modules if n.split(".")[0] in ("unicorn", "keystone")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "unicorn", None)  # import unicorn -> ImportError
    monkeypatch.setitem(sys.modules, "keystone", None)
    import plugins.tcg_backends.arm_host as arm_host  # the plugin module itself loads
    with pytest.raises(TcglabError) as err:
        toy([("EXIT", 0, 0)], "arm-host")
    assert str(err.value) == arm_host.MISSING
    assert "pip install 'tcglab[arm-host]'" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- workloads


@functools.lru_cache(maxsize=4)
def workload(name: str, vcpus: int, backend: str, policy: str = "exclusive-bitmap",
             schedule: tuple = (), args: tuple = ()) -> tuple:
    elf = WORKLOADS / f"{name}.elf"
    text, result, m = run_machine(elf, list(args), {
        "machine": {"frontend": "arm", "vcpus": vcpus, "backend": backend,
                    "memory_policy": policy},
        "schedule": dict(schedule)})
    observed = (text, result.exit_status, result.reason, result.insns,
                [c.env[:] for c in m.cpus], [c.stats.as_dict() for c in m.cpus],
                result.stats["policy"])
    return observed, m


SAME_AS_INTERP = [
    ("counter", 1, "exclusive-bitmap", (), ()),
    ("spinlock", 1, "store-test", (), ()),
    ("counter", 4, "exclusive-bitmap", (), ()),
    ("spinlock", 4, "exclusive-bitmap", (), ("4", "300")),
    ("aba", 4, "cmpxchg", (), ("4", "300")),
    ("false_sharing", 4, "store-test", (), ("4", "500")),
    # exclusive steps: uncached single-instruction TBs, placed and freed again
    ("counter", 4, "stop-the-world", (("slice", 50),), ("4", "150")),
    # slices of 1..7 instructions: budget exits mid-TB at every vCPU switch
    ("counter", 4, "arm-monitor", (("policy", "random"), ("seed", 5), ("slice", 7),
                                   ("jitter", True)), ("4", "200")),
]


@pytest.mark.parametrize("name,vcpus,policy,schedule,args", SAME_AS_INTERP,
                         ids=[f"{n}-{v}-{p}" for n, v, p, _s, _a in SAME_AS_INTERP])
def test_workload_runs_as_on_interp(host, name, vcpus, policy, schedule, args):
    expected, ref = workload(name, vcpus, "interp", policy, schedule, args)
    observed, m = workload(name, vcpus, "arm-host", policy, schedule, args)
    labels = ("output", "exit status", "reason", "insns", "env", "vCPU counters",
              "policy counters")
    for label, want, got in zip(labels, expected, observed):
        assert got == want, label
    assert m.ram.data == ref.ram.data, "final RAM"
    assert observed[2] == "exit"
    host_tlb_matches(m)
    cached = [tb for tb in m.translator.cache.values()]
    assert m.backend.runtime.codebuf.used == sum((tb.compiled.size + 15) & ~15 for tb in cached)
    if vcpus == 1 or schedule == ():
        # whole chains run inside one call: fewer host entries than TBs executed
        stats = m.backend.host_stats
        assert sum(s.emu_starts for s in stats) < sum(c.stats.tbs_executed for c in m.cpus)


# --------------------------------------------------------------------------- chaining


def smc_program() -> list:
    """A loop whose TB at ``loop`` (page 0) chains to ``body`` (page 1); after three
    rounds a store rewrites ``body``'s first instruction (MOVI r5, 1 -> MOVI r5, 2) and
    the loop runs again.  Exit status: r3 = 3 * 1 + 3 * 2 = 9; a stale chained jump to
    the old ``body`` gives 6."""
    head = li(1, RAM_BASE + PAGE_SIZE) + li(7, enc("MOVI", 5, 0, 2)) + [("MOVI", 2, 0, 3)]
    loop = ["loop", ("ADDI", 2, 2, -1), ("B", "body")]
    pad = [("RAW", 0)] * (PAGE_SIZE // 4 - (len(head) + 2))
    body = ["body", ("MOVI", 5, 0, 1), ("ADD", 3, 3, 5), ("BNZ", 2, "loop"),
            ("BNZ", 4, "done"), ("MOVI", 4, 0, 1), ("STW", 7, 1, 0), ("MOVI", 2, 0, 3),
            ("B", "loop"), "done", ("EXIT", 0, 3)]
    return head + loop + pad + body


def test_chained_tbs_are_unchained_when_code_is_modified(host):
    ref, m = both(smc_program())
    assert ref.run().exit_status == 9
    result = m.run()
    assert result.exit_status == 9
    assert state(m) == state(ref)
    cpu = m.cpus[0]
    assert cpu.stats.smc_invalidations == 1 and m.translator.invalidated >= 2
    assert cpu.stats.tb_chain_hits >= 4
    assert m.backend.host_stats[0].emu_starts < cpu.stats.tbs_executed
    # the loop TB survived the store; its slot 0 now leads to the retranslated body
    loop_tb = m.translator.cache[(RAM_BASE + 20, 0)]
    body_tb = m.translator.cache[(RAM_BASE + PAGE_SIZE, 0)]
    assert loop_tb.jmp_dest[0] is body_tb
    assert loop_tb.compiled.chained[0] is body_tb.compiled


def patch_target_program() -> list:
    """``S`` (page 0) stores MOVI r5, i over the first instruction of ``T`` (page 1), the
    TB it is chained to, then jumps there: five rounds, exit status 1 + 2 + ... + 5 = 15.
    Leaving ``S`` at its goto_tb after the store (the invalidation asks for it) is what
    keeps it off the stale ``T``."""
    head = li(1, RAM_BASE + PAGE_SIZE) + li(7, enc("MOVI", 5, 0, 0)) + [("MOVI", 2, 0, 5)]
    store = ["S", ("ADDI", 7, 7, 1), ("STW", 7, 1, 0), ("B", "T")]
    pad = [("RAW", 0)] * (PAGE_SIZE // 4 - (len(head) + 3))
    target = ["T", ("MOVI", 5, 0, 0), ("ADD", 3, 3, 5), ("ADDI", 2, 2, -1), ("BNZ", 2, "S"),
              ("EXIT", 0, 3)]
    return head + store + pad + target


def test_a_store_into_the_chained_tb_leaves_before_jumping_there(host):
    ref, m = both(patch_target_program())
    assert ref.run().exit_status == 15
    assert m.run().exit_status == 15
    assert state(m) == state(ref)
    assert m.cpus[0].stats.smc_invalidations == 4  # the first store precedes T's translation


def loop_program() -> list:
    """Loads, stores and branches over two pages of data; exits with a checksum."""
    return li(1, DATA) + li(6, DATA + PAGE_SIZE - 8) + [("MOVI", 2, 0, 40)] + [
        "loop",
        ("LDW", 3, 1, 0), ("ADDI", 3, 3, 3), ("STW", 3, 1, 0), ("ADD", 4, 4, 3),
        ("STW", 4, 6, 4), ("LDW", 5, 6, 4), ("SUB", 4, 4, 2), ("ADDI", 2, 2, -1),
        ("BZ", 2, "out"), ("ADDI", 6, 6, 4), ("B", "loop"),
        "out", ("EXIT", 0, 4)]


def test_budget_exits_mid_tb_in_lockstep_with_interp(host):
    ref, m = both(loop_program())
    budgets = [1, 2, 3, 5, 8, 13, 4, 7, 64]
    step = 0
    budget_exits = 0
    while not ref.stop_requested:
        k = budgets[step % len(budgets)]
        step += 1
        n_ref = cpu_exec(ref, ref.cpus[0], k)
        n = cpu_exec(m, m.cpus[0], k)
        assert (n, m.cpus[0].mid_tb, m.stop_requested) == \
            (n_ref, ref.cpus[0].mid_tb, ref.stop_requested), f"step {step}"
        assert state(m) == state(ref), f"step {step}"
        budget_exits += ref.cpus[0].mid_tb
    assert budget_exits > 10 and step > 40


# --------------------------------------------------------------------------- exceptions


def test_fault_mid_tb_restores_the_pc_and_syncs_globals(host):
    program = li(1, 0x10) + [("MOVI", 3, 0, 7), ("ADDI", 4, 4, 1), ("LDW", 2, 1, 0),
                             ("MOVI", 5, 0, 9), ("EXIT", 0, 5)]
    errors = []
    machines = both(program)
    for m in machines:
        with pytest.raises(GuestError) as err:
            m.run()
        errors.append(str(err.value))
    ref, m = machines
    assert errors[1] == errors[0] == \
        "vCPU 0: data abort, load of 4 bytes at 0x00000010, pc=0x40000010"
    assert state(m) == state(ref)
    env = m.cpus[0].env
    assert (env[3], env[4], env[5], env[16]) == (7, 1, 0, RAM_BASE + 16)


def _ir_machine(backend: str):
    """A toy machine whose TBs the test builds by hand, and its globals."""
    m = toy([("EXIT", 0, 0)], backend)
    fe = m.frontend
    return m, fe.r, fe.pc


def _build(m, ops_fn) -> TranslationBlock:
    tb = TranslationBlock(RAM_BASE)
    b = Builder(tb, m.registry.optable)
    ops_fn(b)
    return tb


def _run_tb(m, tb, budget=100):
    m.backend.compile(tb)
    return m.backend.execute(m.cpus[0], tb, budget)


def _raise_udef(cpu, code):
    raise GuestException(toyisa.ToyExcp.UDEF, message=f"test raise {code}")


helper_raise = Helper("test_raise", _raise_udef, None, (I32,),
                      CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_RETURN)


def test_exception_in_a_helper_leaves_the_tb_there(host):
    results = []
    for backend in ("interp", "arm-host"):
        m, r, pc = _ir_machine(backend)

        def ops(b):
            b.insn_start(RAM_BASE)
            b.movi(r[1], 5)
            b.add(r[2], r[1], r[1])
            b.insn_start(RAM_BASE + 4)
            b.movi(pc, RAM_BASE + 4)
            b.call(helper_raise, None, 42)
            b.insn_start(RAM_BASE + 8)
            addr = b.temp_new_i32()
            b.movi(addr, DATA)
            b.qemu_st(r[2], addr, 2)  # must not happen
            b.movi(r[3], 1)
            b.movi(pc, RAM_BASE + 12)
            b.goto_tb(0)
        with pytest.raises(GuestException) as err:
            _run_tb(m, _build(m, ops))
        exc = err.value
        results.append(((exc.excp, exc.pc, exc.executed, exc.message), state(m)))
        assert read32(m, DATA) == 0
        assert m.cpus[0].env[1:4] == [5, 10, 0]
    assert results[1] == results[0]
    assert results[0][0] == (toyisa.ToyExcp.UDEF, RAM_BASE + 4, 2, "test raise 42")


def _bump(cpu):
    """Reads r1 from env, writes r0 and r1: a helper that reads and writes globals."""
    env = cpu.env
    env[0] = env[1] * 10
    env[1] = 7


def _peek(cpu, slot):
    return cpu.env[slot]


helper_bump = Helper("test_bump", _bump, None, (), CallFlag.NONE)
helper_peek = Helper("test_peek", _peek, I32, (I32,), CallFlag.NO_WRITE_GLOBALS)


def test_helpers_see_synced_globals_and_their_writes_are_reloaded(host):
    envs = []
    for backend in ("interp", "arm-host"):
        m, r, pc = _ir_machine(backend)

        def ops(b):
            b.insn_start(RAM_BASE)
            b.movi(r[0], 5)
            b.add(r[1], r[0], 1)  # 6, dirty in a host register
            b.call(helper_bump, None)  # r0 = 60, r1 = 7 in env
            b.add(r[2], r[0], r[1])  # 67: both reloaded after the call
            b.call(helper_peek, r[3], 2)  # reads env[r2]: synced before the call
            b.add(r[4], r[3], r[2])  # r2 still valid in its register
            b.movi(pc, RAM_BASE + 4)
            b.exit_tb(0)
        last, exit_slot, executed = _run_tb(m, _build(m, ops))
        envs.append(m.cpus[0].env[:])
        assert (exit_slot, executed) == (2, 1)
    assert envs[1] == envs[0]
    assert envs[0][:5] == [60, 7, 67, 67, 134]


def link_program() -> list:
    """Three TBs per round, chained, the first doing LL (whose work logs the next pc)."""
    return li(1, DATA) + [("MOVI", 2, 0, 6), "a", ("LL", 4, 1), ("ADDI", 3, 3, 1), ("B", "b"),
                          "b", ("ADDI", 3, 3, 2), ("B", "c"),
                          "c", ("ADDI", 2, 2, -1), ("BNZ", 2, "a"), ("EXIT", 0, 3)]


def test_queued_work_stops_chained_code_at_the_next_tb_boundary(host):
    ref, m = both(link_program(), policy="test-link-work")
    ref.run()
    m.run()
    assert m.policy.ran_at == ref.policy.ran_at == [RAM_BASE + 24]
    assert state(m) == state(ref)
    assert m.cpus[0].stats.tb_chain_hits > 0
    assert m.backend.host_stats[0].emu_starts < m.cpus[0].stats.tbs_executed


# --------------------------------------------------------------------------- slow paths


def store_loop(n: int) -> list:
    return li(1, DATA) + [("MOVI", 2, 0, n), "loop", ("STW", 2, 1, 0), ("LDW", 3, 1, 0),
                          ("ADDI", 2, 2, -1), ("BNZ", 2, "loop"), ("EXIT", 0, 3)]


@pytest.mark.parametrize("flagged", [False, True])
def test_stores_to_an_excl_page_take_the_slow_path_helper(host, flagged):
    n = 25
    machines = both(store_loop(n), policy="test-flag-page")
    for m in machines:
        if flagged:
            m.policy.flagged.add(DATA)
        assert m.run().reason == "exit"
    ref, m = machines
    assert state(m) == state(ref)
    assert m.policy.flagged_stores == ref.policy.flagged_stores == \
        ([(0, DATA, 4)] * n if flagged else [])
    counters = m.backend.host_stats[0]
    # without the flag only the first store misses (the TLB refill); loads never miss
    assert counters.slow_stores == (n if flagged else 1)
    assert counters.slow_loads == 0
    assert m.cpus[0].stats.slow_stores == ref.cpus[0].stats.slow_stores
    host_tlb_matches(m)


# --------------------------------------------------------------------------- ops


def _popcount(cpu, a):
    return bin(a).count("1")


def _divmod(cpu, a, b):
    return (a // b, a % b) if b else (0, a)


def _wide(cpu, a, b):
    return (a * 0x1_0000_0001 + b) & 0xFFFF_FFFF_FFFF_FFFF


PLUGIN_OPS = [
    OpDef("popcount_i32", 1, 1, 0, OpFlag.NONE, _popcount, (I32, I32), provider="test"),
    OpDef("divmodu_i32", 2, 2, 0, OpFlag.NONE, _divmod, (I32, I32, I32, I32), provider="test"),
    OpDef("wide_i64", 1, 2, 0, OpFlag.I64, _wide, (I64, I64, I32), provider="test"),
]


def test_ops_without_a_lowering_run_their_reference_semantics(host):
    envs = []
    for backend in ("interp", "arm-host"):
        m, r, pc = _ir_machine(backend)
        table = OpTable(list(BASE_OPS) + PLUGIN_OPS)

        def ops(b):
            b.insn_start(RAM_BASE)
            b.movi(r[0], 0xF0F0_0001)
            b.add(r[0], r[0], r[15])  # not a constant any more
            b.emit("popcount_i32", r[1], r[0])
            b.emit("divmodu_i32", r[2], r[3], r[0], b.const_i32(1000))
            q = b.temp_new_i64()
            b.emit("wide_i64", q, b.const_i64(0x1234_5678_9ABC_DEF0), r[1])
            b.emit("add_i64", q, q, q)  # i64 arithmetic: reference semantics too
            b.emit("extrl_i64_i32", r[4], q)
            b.emit("extrh_i64_i32", r[5], q)
            b.movi(pc, RAM_BASE + 4)
            b.goto_tb(0)
        tb = TranslationBlock(RAM_BASE)
        ops(Builder(tb, table))
        _run_tb(m, tb)
        envs.append(m.cpus[0].env[:6])
        if backend == "arm-host":
            assert m.backend.host_stats[0].op_fallbacks == 4
    a = 0xF0F0_0001
    wide = (0x1234_5678_9ABC_DEF0 * 0x1_0000_0001 + 9) * 2 & (2 ** 64 - 1)
    assert envs[1] == envs[0] == [a, 9, a // 1000, a % 1000, wide & 0xFFFF_FFFF, wide >> 32]


def test_an_op_without_lowering_or_semantics_is_a_one_line_error(host):
    m, r, pc = _ir_machine("arm-host")
    frob = OpDef("frob_i32", 1, 1, 0, OpFlag.NONE, None, (I32, I32), provider="test")
    tb = TranslationBlock(RAM_BASE)
    b = Builder(tb, OpTable(list(BASE_OPS) + [frob]))
    b.insn_start(RAM_BASE)
    b.emit("frob_i32", r[1], r[0])
    b.movi(pc, RAM_BASE + 4)
    b.goto_tb(0)
    with pytest.raises(TcglabError) as err:
        m.backend.compile(tb)
    message = str(err.value)
    assert "'frob_i32'" in message and "arm-host" in message and "\n" not in message


# --------------------------------------------------------------------------- GNU as


AS, OBJCOPY = shutil.which("arm-none-eabi-as"), shutil.which("arm-none-eabi-objcopy")


@pytest.fixture
def gnu_as():
    if AS is None or OBJCOPY is None:
        if oracles_required():
            pytest.fail("arm-none-eabi-as/objcopy not found (binutils-arm-none-eabi)")
        pytest.skip("arm-none-eabi-as not installed (binutils-arm-none-eabi)")


def _single_cpu_case(program: str):
    return next(c for c in cases() if c.program == program and c.smp == 1 and not c.args)


@pytest.mark.oracle
@pytest.mark.parametrize("program", sorted(p.stem for p in WORKLOADS.glob("*.elf")))
def test_every_tb_of_every_workload_assembles_with_gnu_as(host, gnu_as, program, tmp_path):
    observed, m = workload(program, 1, "arm-host")
    case = _single_cpu_case(program)
    assert deterministic(observed[0]) + f"exit={observed[1]}\n" == case.expected()
    tbs = list(m.translator.cache.values())
    source = tmp_path / f"{program}.s"
    source.write_text("".join(m.backend.describe(tb) for tb in tbs))
    run = subprocess.run([AS, "--fatal-warnings", "-o", tmp_path / "t.o", source],
                         capture_output=True, text=True)
    assert run.returncode == 0 and not run.stderr, run.stderr[:3000]
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", tmp_path / "t.o",
                    tmp_path / "t.bin"], check=True)
    gas_bytes = (tmp_path / "t.bin").read_bytes()
    keystone_bytes = b"".join(tb.compiled.code for tb in tbs)
    assert gas_bytes == keystone_bytes  # the assembler that runs it agrees with GNU as
    text = m.backend.describe(tbs[0])
    assert ".arch armv7-a" in text and "r6" in text and "bx r1" not in text


def test_a_full_code_buffer_flushes_the_translator(host, monkeypatch):
    from plugins.tcg_backends.arm_host import runtime
    monkeypatch.setattr(runtime, "CODE_SIZE", 16 << 10)  # a third of what counter needs
    text, result, m = run_machine(WORKLOADS / "counter.elf", [], {
        "machine": {"frontend": "arm", "backend": "arm-host"}})
    assert text + f"exit={result.exit_status}\n" == _single_cpu_case("counter").expected()
    assert m.translator.invalidated > 0  # tb_flush, then translation went on
    assert m.backend.runtime.codebuf.used <= 16 << 10
