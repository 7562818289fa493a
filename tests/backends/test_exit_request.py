"""The exit-request word: every backend leaves a chain of TBs at the TB boundary after a
helper asked for it, exactly where the interpreter (one TB per dispatch) does.

The guest is the toy ISA plus ``POKE ra``, which calls the test's ``machine.poke(cpu,
ra)``.  Its loop is two TBs chained to each other (``B`` and ``M`` below), hot enough
for pyjit to compile them into one region and for arm-host to run them chained in host
code, so a backend that ignored the word would run on past the boundary and the work
would see a later iteration.  Checked for queued work (an asynchronous TLB flush, also
when the slice ends inside the TB that queued it: the work then waits for the next TB
boundary), a stop request, a vCPU halting itself, and that the instruction counters
add up (``machine.insns`` is the sum of the vCPUs'), also when a helper's error ends the
run inside a chain (where every backend counts what the interpreter does).  Then a real
workload under the asynchronous flush with slices ending inside TBs, where arm-host once
ran on through chained host code with a flush queued (it did not test the word as it
entered code).
"""

from __future__ import annotations

import pytest

from core.builder import Builder
from core.config import parse_config
from core.cpu import CPURunState
from core.errors import TcglabError
from core.frontend import DisasContext
from core.hookspecs import hookimpl
from core.ir import I32, Helper
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from core.softmmu import tlb_flush
from tests import toyisa
from tests.support.arm_workloads import WORKLOADS, run_machine

POKE = 0x30
N = 1000  # loop iterations
AT = 100  # the poke acts in the iteration whose decremented counter is AT
K0 = N - AT  # that iteration, counted from 1

# r6 counts down from N, r5 counts iterations before the current one's end.  TB "B" is
# the loop head up to its unconditional branch (ADDI, POKE, B), TB "M" the tail (ADDI, BNZ).
PROGRAM = [("MOVI", 6, 0, N), ("MOVI", 5, 0, 0), ("MOVI", 9, 0, 0),
           "loop", ("ADDI", 6, 6, -1), ("RAW", (POKE << 24) | (6 << 16)), ("B", "mid"),
           "mid", ("ADDI", 5, 5, 1), ("BNZ", 6, "loop"),
           ("EXIT", 0, 5, 0)]
MID = RAM_BASE + 6 * 4  # the pc of "mid"
# instructions run when TB B of iteration K0 ends: 3 MOVIs, K0 - 1 whole iterations of
# 5 instructions, and B's 3
AT_BOUNDARY = 3 + 5 * (K0 - 1) + 3
POKED = AT_BOUNDARY - 1  # ... and when the POKE itself has run
# slices of 5 instructions all end right after a POKE, inside TB B: each slice then
# resumes in a TB of the branch alone, hot and chained to M like the rest of the loop
SLICE_AFTER_POKE = 5


def _poke(cpu, value: int) -> None:
    cpu.machine.poke(cpu, value)


helper_poke = Helper("test_poke", _poke, None, (I32,))


class PokeFrontend(toyisa.ToyFrontend):
    """The toy ISA with ``POKE ra`` (opcode 0x30): ``machine.poke(cpu, ra)``."""

    name = "toy-poke"

    def translate_insn(self, ctx: DisasContext, b: Builder) -> None:
        word = ctx.ld_code32(ctx.pc_next)
        if word >> 24 != POKE:
            super().translate_insn(ctx, b)
            return
        ctx.pc_next += 4
        b.call(helper_poke, None, self.r[(word >> 16) & 15])


class PokePlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(PokeFrontend)


def _machine(backend: str, pyjit: dict | None = None, *, vcpus: int = 1,
             schedule: dict | None = None) -> Machine:
    data = {"machine": {"frontend": "toy-poke", "backend": backend, "vcpus": vcpus,
                        "ram_size": "1M"},
            "schedule": {"max_insns": 1_000_000, **(schedule or {})},
            "plugins": {"pyjit": pyjit} if pyjit is not None else {}}
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("poke", PokePlugin())])
    m = Machine(parse_config(data, "<test>"), pm)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(PROGRAM))
    m.poke = lambda cpu, value: None
    return m


def _configs(backend: str) -> list[tuple[str, dict | None]]:
    """The reference, and ``backend`` as configured by default and (pyjit) compiled at
    once (every TB in generated code from its first run)."""
    out = [("interp", None), (backend, None)]
    if backend == "pyjit":
        out.append(("pyjit", {"compile_after": 0, "checked_after": 0}))
    return out


def _where(cpu) -> tuple[int, int, int]:
    """(pc, iterations done, counter) of a vCPU between TBs."""
    fe = cpu.machine.frontend
    return fe.get_pc(cpu), cpu.env[5], cpu.env[6]


@pytest.mark.parametrize("slice_", [0, SLICE_AFTER_POKE],
                         ids=["unsliced", "slices-end-after-the-poke"])
def test_async_flush_queued_inside_a_chain_is_applied_at_the_next_tb_boundary(
        diff_backend, slice_):
    for backend, options in _configs(diff_backend):
        m = _machine(backend, options, schedule={"slice": slice_})
        seen = []

        def poke(cpu, value):
            if value == AT:
                flushes = cpu.stats.tlb_flushes
                tlb_flush(cpu, async_=True)
                # (c.stats.insns: the instructions of the slices before this one)
                cpu.queue_work(lambda c: seen.append((_where(c), c.stats.tlb_flushes - flushes,
                                                      c.stats.insns)))
                assert cpu.stats.tlb_flushes == flushes  # not yet: at the TB boundary

        m.poke = poke
        result = m.run()
        assert (result.reason, result.exit_status) == ("exit", N), backend
        # the flush (queued first) ran, then the probe, with the vCPU between TB B of
        # iteration K0 and TB M: not one instruction further
        assert [s[:2] for s in seen] == [((MID, K0 - 1, AT), 1)], (backend, options)
        # unsliced, in the one slice; else in the slice after the one that ended right
        # after the POKE, inside TB B (the work waited for the TB boundary, which came
        # after one instruction of the next slice)
        assert seen[0][2] == (POKED if slice_ else 0), (backend, options)


def test_stop_requested_by_a_helper_leaves_at_the_next_tb_boundary(diff_backend):
    for backend, options in _configs(diff_backend):
        m = _machine(backend, options)
        m.poke = lambda cpu, value: cpu.machine.request_exit(7) if value == AT else None
        result = m.run()
        assert (result.reason, result.exit_status, result.insns) == ("exit", 7, AT_BOUNDARY), \
            (backend, options)
        assert _where(m.cpus[0]) == (MID, K0 - 1, AT), (backend, options)


def test_a_vcpu_halted_by_a_helper_leaves_at_the_next_tb_boundary(diff_backend):
    for backend, options in _configs(diff_backend):
        m = _machine(backend, options)

        def poke(cpu, value):
            if value == AT:
                cpu.run_state = CPURunState.HALTED

        m.poke = poke
        result = m.run()
        assert (result.reason, result.insns) == ("deadlock", AT_BOUNDARY), (backend, options)
        assert _where(m.cpus[0]) == (MID, K0 - 1, AT), (backend, options)


def test_insns_of_the_machine_are_the_sum_of_the_vcpus(diff_backend):
    """Four vCPUs, slices ending inside TBs: the same per-vCPU counts as the interpreter,
    and the machine's total is their sum (one place counts both)."""
    runs = []
    for backend, options in _configs(diff_backend):
        m = _machine(backend, options, vcpus=4,
                     schedule={"slice": 7, "jitter": True, "policy": "random", "seed": 5})
        result = m.run()
        per_vcpu = [c.stats.insns for c in m.cpus]
        assert m.insns == result.insns == sum(per_vcpu), (backend, options)
        runs.append((result.reason, per_vcpu, [c.stats.as_dict() for c in m.cpus]))
    assert all(run == runs[0] for run in runs[1:])


def _poked(iteration: int) -> int:
    """Instructions started when the POKE of loop iteration ``iteration`` (from 1) runs:
    3 MOVIs, the iterations before of 5 instructions each, and ADDI, POKE."""
    return 3 + 5 * (iteration - 1) + 2


def _in_region(m: Machine, pc: int) -> bool:
    """Whether pyjit runs the TB at ``pc`` as part of a region (a loop of chained TBs
    compiled as one function)."""
    code = m.translator.cache[(pc, 0)].compiled
    return len(getattr(code, "members", ())) > 1


# where the helper error is raised: in the run's first TB (MOVIs, ADDI, POKE, B), in TB B
# of the third iteration (chained to from M in the same backend call: arm-host's host
# code, pyjit's execute loop), and in the hot loop (pyjit: inside a region, which runs
# many chained TBs in one call of its function; compiled at once or by default)
ERROR_AT = {"first-tb": 1, "chained-tb": 3, "hot-loop": K0}


@pytest.mark.parametrize("iteration", ERROR_AT.values(), ids=ERROR_AT.keys())
def test_a_helper_error_counts_the_instructions_the_interpreter_counts(diff_backend, iteration):
    """A helper error (not a guest exception) ends the run: every backend counts what the
    interpreter does, in machine.insns and the vCPU's counters alike: every instruction
    started before the error, the one whose helper raised it included (core.backend)."""
    runs = []
    for backend, options in _configs(diff_backend):
        m = _machine(backend, options)

        def poke(cpu, value):
            if value == N - iteration:
                raise TcglabError("the helper failed")

        m.poke = poke
        with pytest.raises(TcglabError, match="the helper failed"):
            m.run()
        assert m.insns == sum(c.stats.insns for c in m.cpus) == _poked(iteration), \
            (backend, options)
        if backend == "pyjit" and iteration == K0:
            assert _in_region(m, RAM_BASE + 3 * 4), options  # TB B: the error's TB
        runs.append(([c.stats.as_dict() for c in m.cpus], m.cpus[0].env[5:7]))
    assert all(run == runs[0] for run in runs[1:]), runs


def test_async_flush_window_of_a_workload_is_the_interpreters(diff_backend):
    """counter.elf at 4 vCPUs under exclusive-bitmap with the asynchronous flush and
    slices of 1-7 instructions: flushes queued while a vCPU is inside a TB apply at the
    same TB boundary on every backend, so every counter is the interpreter's."""
    runs = []
    for backend in ("interp", diff_backend):
        text, result, m = run_machine(WORKLOADS / "counter.elf", ["4", "60"], {
            "machine": {"frontend": "arm", "vcpus": 4, "backend": backend,
                        "memory_policy": "exclusive-bitmap"},
            "schedule": {"policy": "random", "seed": 3, "slice": 7, "jitter": True,
                         "max_insns": 200_000},
            "plugins": {"exclusive-bitmap": {"flush": "async"}}})
        runs.append((text, result.reason, result.exit_status, m.stats()))
    assert runs[0][1:3] == ("exit", 0)
    assert runs[1] == runs[0]
