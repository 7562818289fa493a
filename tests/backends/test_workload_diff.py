"""Every bundled workload runs the same on every backend as on interp.

For each cell (workload and arguments, vCPUs, memory policy, schedule) the backend must
give interp's output, exit status and stop reason, instruction count (in total and per
vCPU, with the TB counters ``core/backend.py`` makes part of the contract), the policy's
per-vCPU counters (LL, SC, flagged stores, flushes), every vCPU's final registers and
the final guest RAM (a hash of all of it).  Equality with interp is what is checked,
not success: under ``cmpxchg`` and ``none`` some workloads fail their own check or spin
until ``max_insns``, and the backend must fail the same way at the same instruction.
The schedules are round-robin with slice 1 (a slice ends after every instruction, so
inside TBs) and seeded random with slices up to 64; the same seed gives the same
interleaving on every backend.  Interp's result is computed once per cell and shared
by the backends.

Sizing.  The whole file must stay under 150 s with two backends on a 2-core machine,
and these runs are single-threaded Python, so time is CPU time.  Measured (CPython
3.11): interp's references take 25 s, pyjit 23 s and arm-host 42 s over the grid below
(about 90 s in all); interp diffed with itself takes 52 s.  An instruction costs interp
3-6 us at random-64 and 15-30 us at slice 1, where every slice resumes mid-TB.

* counter, spinlock, aba, false_sharing, aba_window (the LL/SC programs): at 4 vCPUs
  the full grid, 6 policies x 2 schedules, with the small arguments of
  ``tests/arm/test_workloads.py`` (20-50 thousand instructions, 0.1-0.3 s a run); cells
  where a policy livelocks (``none``, and ``store-test`` on aba, at slice 1) stop at
  :data:`MAX_INSNS`.  At 1 vCPU there is no interleaving to vary, so each policy runs
  once, on program after program, the schedules alternating (6 cells, not 60).
* hello_newlib and compute run on CPU 0 only and take no LL/SC, so a policy matters
  only through the TLB flags it sets: ``exclusive-bitmap`` (none: stores stay on the
  fast path) and ``store-test`` (every RAM store flagged: every store takes the slow
  path).  Each runs to its end once (hello_newlib 350 thousand instructions of newlib
  start-up, ~1 s; compute with its smallest argument, 1.4 million, ~4 s) under
  exclusive-bitmap at random-64; under store-test for its first :data:`MAX_INSNS`
  instructions; and at slice 1 for its first :data:`PREFIX_INSNS` (hello_newlib also
  at 4 vCPUs there).

RAM is 8 MiB instead of the default 128 MiB so that hashing it costs milliseconds; the
programs fit in far less.
"""

from __future__ import annotations

import functools
import hashlib

import pytest
from attrs import asdict, define

from core.errors import GuestError
from tests.support.arm_workloads import WORKLOADS, run_machine
from tests.support.diff_backends import REFERENCE

MAX_INSNS = 100_000  # where cut and livelocked runs stop
PREFIX_INSNS = 30_000  # the slice-1 runs of the single-threaded programs stop here
TO_THE_END = 2_000_000  # the cap of runs meant to finish (the longest takes 1.45 million)
RAM_SIZE = "8M"
POLICIES = ("exclusive-bitmap", "cmpxchg", "stop-the-world", "store-test", "arm-monitor",
            "none")
SCHEDULES = {"rr1": {"policy": "round-robin", "slice": 1},
             "rnd64": {"policy": "random", "seed": 7, "slice": 64}}
# the counters backend.py makes part of a backend's contract (same seed, same interleaving)
CONTRACT_STATS = ("insns", "tbs_executed", "tb_chain_hits", "tbs_translated", "exceptions")

THREADED = {  # program -> arguments ({n}: the vCPU count)
    "counter": ["{n}", "40"],
    "spinlock": ["{n}", "30"],
    "aba": ["{n}", "20"],
    "false_sharing": ["{n}", "40"],
    "aba_window": ["2"],
}


@define(frozen=True)
class Cell:
    program: str
    args: tuple[str, ...]
    vcpus: int
    policy: str
    schedule: str
    max_insns: int = MAX_INSNS

    @property
    def id(self) -> str:
        end = {TO_THE_END: "-to-the-end", PREFIX_INSNS: "-prefix"}.get(self.max_insns, "")
        return f"{self.program}-{self.vcpus}cpu-{self.policy}-{self.schedule}{end}"


def cells() -> list[Cell]:
    out = []
    programs = list(THREADED)
    for program, args in THREADED.items():
        for policy in POLICIES:
            for schedule in SCHEDULES:
                out.append(Cell(program, tuple(a.format(n=4) for a in args), 4, policy,
                                schedule))
    for i, policy in enumerate(POLICIES):  # 1 vCPU: each policy once, on program after program
        program = programs[i % len(programs)]
        args = tuple(a.format(n=1) for a in THREADED[program])
        out.append(Cell(program, args, 1, policy, tuple(SCHEDULES)[i % 2]))
    hello, compute = ("x", "7"), ("1",)
    out += [Cell("hello_newlib", hello, 1, "exclusive-bitmap", "rnd64", TO_THE_END),
            Cell("hello_newlib", hello, 1, "store-test", "rnd64"),
            Cell("hello_newlib", hello, 1, "exclusive-bitmap", "rr1", PREFIX_INSNS),
            Cell("hello_newlib", hello, 4, "store-test", "rr1", PREFIX_INSNS),
            Cell("compute", compute, 1, "exclusive-bitmap", "rnd64", TO_THE_END),
            Cell("compute", compute, 1, "store-test", "rnd64"),
            Cell("compute", compute, 1, "exclusive-bitmap", "rr1", PREFIX_INSNS)]
    return out


CELLS = cells()
SLOW_PROGRAMS = ("hello_newlib", "compute")  # 10-20 s a cell on arm-host, more loaded


@define(frozen=True)
class WorkloadRun:
    """What a run left behind, small enough to keep one per cell."""

    output: str
    reason: str
    exit_status: int
    message: str
    insns: int
    vcpu_stats: tuple[dict, ...]
    policy_stats: tuple[dict, ...]
    registers: tuple[tuple[int, ...], ...]
    ram_sha1: str


def run_cell(cell: Cell, backend: str) -> WorkloadRun:
    """Run ``cell`` on ``backend``; a guest error (a fault the guest cannot take) is a result."""
    try:
        output, result, m = run_machine(WORKLOADS / f"{cell.program}.elf", cell.args, {
            "machine": {"frontend": "arm", "vcpus": cell.vcpus, "memory_policy": cell.policy,
                        "backend": backend, "ram_size": RAM_SIZE},
            "schedule": {"max_insns": cell.max_insns, **SCHEDULES[cell.schedule]}})
    except GuestError as exc:
        return WorkloadRun("", "guest error", -1, str(exc), -1, (), (), (), "")
    return WorkloadRun(
        output, result.reason, result.exit_status, result.message, result.insns,
        tuple({k: c.stats.as_dict()[k] for k in CONTRACT_STATS} for c in m.cpus),
        tuple(s.as_dict() for s in m.policy.stats),
        tuple(tuple(c.env) for c in m.cpus),
        hashlib.sha1(m.ram.data, usedforsecurity=False).hexdigest())


@functools.lru_cache(maxsize=None)
def reference(cell: Cell) -> WorkloadRun:
    return run_cell(cell, REFERENCE)


def differences(want: WorkloadRun, got: WorkloadRun, backend: str) -> list[str]:
    out = []
    for name, x in asdict(want, recurse=False).items():
        y = getattr(got, name)
        if x == y:
            continue
        if name == "output":
            a, b = x.splitlines(), y.splitlines()
            first = next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b)))
            out.append(f"output differs from line {first + 1}: {REFERENCE} "
                       f"{a[first:first + 3]!r}, {backend} {b[first:first + 3]!r}")
        elif name in ("vcpu_stats", "policy_stats", "registers"):
            for index, (p, q) in enumerate(zip(x, y)):
                if p != q:
                    out.append(f"{name} of vCPU {index}: {REFERENCE} {p}, {backend} {q}")
        else:
            out.append(f"{name}: {REFERENCE} {x!r}, {backend} {y!r}")
    return out


@pytest.mark.parametrize("cell", [
    pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.program in SLOW_PROGRAMS else [])
    for c in CELLS])
def test_workload_matches_interp(diff_backend, cell):
    want = reference(cell)
    got = run_cell(cell, diff_backend)
    lines = differences(want, got, diff_backend)
    assert not lines, (f"{cell.program} {' '.join(cell.args)} at {cell.vcpus} vCPUs, "
                       f"{cell.policy}, {SCHEDULES[cell.schedule]}, max_insns "
                       f"{cell.max_insns}: {diff_backend} differs from {REFERENCE}:\n  "
                       + "\n  ".join(lines))
