"""Hypothesis-generated IR TBs give identical results on every backend and on interp.

Each example (:func:`tests.support.irgen.ir_programs`) is built through the builder
into two fresh machines, one on the backend under test and one on ``interp``, started
from the same state, compiled with ``backend.compile(tb)`` and run once with
``backend.execute(cpu, tb, budget)``.  The backend's TB first goes through the
translator's IR passes, as the translator would send it; interp's does not, so an
optimiser every backend uses is checked against the IR as built.  Compared: the exit (slot, whether ``last`` is the TB, executed count) or
the guest exception (type, excp, pc, executed, fault address/size/access/reason), every
env slot of both vCPUs, all of RAM (a hash, and the data pages byte by byte), the code
pages left, the MMIO device's access log and the memory policy's state (reservations,
bitmap, counters).  A mismatch prints the TB's IR (``tb.dump()``), its initial state and
each differing slot; hypothesis then shrinks it (up to a few minutes) and prints the
smallest.

Examples come from a fixed seed, so a run repeats the last one.  ``TCGLAB_DIFF_EXAMPLES``
(the knob of ``tests/arm/test_diff_unicorn.py``, default 3000 there) scales them: a
tenth of it per backend, 300 by default (about 5 s of interp and the backend's time).
The generator is checked here too, with the diff's seed and default count: the TBs must
use every pure op, condition, load and store shape, and reach every kind of exit, and
run on interp raising nothing but guest exceptions.  (Hypothesis mixes constants from
the loaded modules into its draws, so the examples shift a little as the code changes;
the generator walks the op table so that any few hundred examples cover it.)
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import attrs
from attrs import define
from hypothesis import HealthCheck, Phase, given, seed, settings

from core.backend import EXIT_BUDGET, EXIT_GOTO0, EXIT_GOTO1, EXIT_NOCHAIN
from core.cpu import GuestException
from core.ir import Cond, MemOp, TempKind, oi_memop
from core.machine import Machine
from core.softmmu import PAGE_SIZE
from tests.support.diff_backends import REFERENCE
from tests.support.irgen import (
    DATA,
    DATA_SIZE,
    LAST_PAGE,
    LLSC_OPS,
    PURE_OPS,
    IRProgram,
    apply_initial_state,
    build_tb,
    ir_programs,
    irgen_machine,
)

SEED = 0
DEFAULT_EXAMPLES = 300
EXAMPLES = max(1, int(os.environ.get("TCGLAB_DIFF_EXAMPLES", "3000")) * DEFAULT_EXAMPLES // 3000)
# no "explain" phase: tracing a failing example's coverage takes minutes on these tests
DIFF_SETTINGS = settings(max_examples=EXAMPLES, database=None,
                         deadline=None, suppress_health_check=list(HealthCheck),
                         phases=[Phase.explicit, Phase.generate, Phase.shrink])
EXIT_NAMES = {EXIT_GOTO0: "goto_tb 0", EXIT_GOTO1: "goto_tb 1", EXIT_NOCHAIN: "exit_tb",
              EXIT_BUDGET: "budget"}


@define(frozen=True)
class Outcome:
    """Everything a TB's run can change, in plain values."""

    result: tuple
    env: tuple[tuple[int, ...], ...]
    ram_digest: str  # all of RAM
    windows: tuple[tuple[int, bytes], ...]  # the pages accesses aim at, to show what differs
    code_pages: tuple[int, ...]
    device: tuple
    policy: Any


def plain(value: Any, depth: int = 0) -> Any:
    """A comparable copy of a policy's state: numbers, containers, attrs records, and the
    attributes of helper objects; references back to the machine become their type name."""
    if isinstance(value, (bool, int, str, float, type(None))):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    if attrs.has(type(value)):
        return attrs.asdict(value)
    if depth < 3 and hasattr(value, "__dict__") and type(value).__module__.startswith("plugins."):
        return {k: plain(v, depth + 1) for k, v in vars(value).items()
                if k not in ("machine", "lock", "ram_list", "options")}
    return f"<{type(value).__name__}>"


def execute(prog: IRProgram, backend: str):
    """Run ``prog`` on a fresh machine with ``backend``; returns (Outcome, machine, tb).

    Guest exceptions are part of the outcome; any other exception propagates.
    """
    m = irgen_machine(backend, prog.policy)
    apply_initial_state(prog, m)
    tb = build_tb(prog, m)
    if backend != REFERENCE:  # the reference runs the IR as built: an IR pass is tested too
        for ir_pass in m.translator.passes:
            ir_pass(tb)
    m.backend.compile(tb)
    cpu = m.cpus[prog.cpu]
    m.current_cpu = cpu
    m.exclusive_cpu = cpu if prog.exclusive else None  # as step_atomic runs an instruction
    try:
        last, exit_slot, executed = m.backend.execute(cpu, tb, prog.budget)
        result: tuple = ("exit", EXIT_NAMES.get(exit_slot, exit_slot), executed,
                         "last is tb" if last is tb else f"last is {last!r}")
    except GuestException as exc:
        addr = getattr(exc, "addr", None)
        result = ("raise", type(exc).__name__, exc.excp.name,
                  None if exc.pc is None else hex(exc.pc), exc.executed,
                  None if addr is None else hex(addr), getattr(exc, "size", None),
                  getattr(exc, "access", None), getattr(exc, "reason", None))
    finally:
        m.exclusive_cpu = None
    ram = m.ram.data
    windows = tuple((base, bytes(ram[base - m.ram.base:base - m.ram.base + size]))
                    for base, size in ((DATA, DATA_SIZE), (LAST_PAGE, PAGE_SIZE)))
    outcome = Outcome(result, tuple(tuple(c.env) for c in m.cpus),
                      hashlib.sha1(ram, usedforsecurity=False).hexdigest(), windows,
                      tuple(sorted(m.memory.ram_list.code_pages)), tuple(m.frontend.device.log),
                      plain(vars(m.policy)))
    return outcome, m, tb


def differences(names: list[str], want: Outcome, got: Outcome, backend: str) -> list[str]:
    """One line per differing env slot, RAM byte or record; ``names`` are the env slots'."""
    out = []
    if want.result != got.result:
        out.append(f"result: {REFERENCE} {want.result}, {backend} {got.result}")
    for index, (a, b) in enumerate(zip(want.env, got.env)):
        for slot, (x, y) in enumerate(zip(a, b)):
            if x != y:
                out.append(f"vCPU {index} env[{slot}] {names[slot]}: {REFERENCE} {x:#x}, "
                           f"{backend} {y:#x}")
    if want.ram_digest != got.ram_digest:
        diff = [(base + i, x, y) for (base, a), (_base, b) in zip(want.windows, got.windows)
                for i, (x, y) in enumerate(zip(a, b)) if x != y]
        shown = ", ".join(f"{addr:#010x}: {x:#04x} vs {y:#04x}" for addr, x, y in diff[:12])
        out.append(f"RAM ({REFERENCE} vs {backend}): {len(diff)} bytes of the data pages "
                   f"differ{': ' + shown if diff else ', so bytes elsewhere do'}"
                   + (" ..." if len(diff) > 12 else ""))
    for what in ("code_pages", "device", "policy"):
        x, y = getattr(want, what), getattr(got, what)
        if x != y:
            out.append(f"{what}: {REFERENCE} {x!r}\n    {backend} {y!r}")
    return out


def report(prog: IRProgram, backend: str, lines: list[str]) -> str:
    tb = build_tb(prog, irgen_machine(REFERENCE, prog.policy))
    return (f"{backend} differs from {REFERENCE} on this TB:\n{tb.dump()}\n"
            f"initial state: {prog.describe()}\ndifferences:\n  " + "\n  ".join(lines))


@seed(SEED)
@DIFF_SETTINGS
@given(prog=ir_programs())
def test_random_tbs_match_interp(ir_diff_backend, prog):
    want, m, _tb = execute(prog, REFERENCE)
    names = m.frontend.layout.names
    del m, _tb  # a failing example's traceback keeps this frame: keep it small
    try:
        got, _m, _tb = execute(prog, ir_diff_backend)
    except Exception as exc:
        raise AssertionError(report(prog, ir_diff_backend, [
            f"{ir_diff_backend} raised {type(exc).__name__}: {exc}; {REFERENCE} gave {want.result}"
        ])) from exc
    del _m, _tb
    lines = differences(names, want, got, ir_diff_backend)
    assert not lines, report(prog, ir_diff_backend, lines)


# --------------------------------------------------------------------------- the generator

MUST_COVER = (
    {d.name for d in PURE_OPS} | set(LLSC_OPS)
    | {f"{op}_{t}" for op in ("qemu_ld", "qemu_st", "ld", "st", "brcond") for t in ("i32", "i64")}
    | {"insn_start", "set_label", "br", "goto_tb", "exit_tb", "call", "mb"}
    | {(family, cond) for family in ("setcond/movcond", "brcond") for cond in Cond}
    | {("load", t, size, signed) for t, sizes in (("i32", 3), ("i64", 4))
       for size in range(sizes) for signed in (False, True) if not (size == 3 and signed)}
    | {("store", t, size) for t, sizes in (("i32", 3), ("i64", 4)) for size in range(sizes)}
    | {("const operand", "qemu_ld"), ("const operand", "qemu_st"), "page-crossing access",
       "misaligned access", "aligned access required"}
    | {("exit", name) for name in EXIT_NAMES.values()}
    | {("raise", "GuestFault", "unaligned"), ("raise", "GuestFault", "unmapped"),
       ("raise", "ExitAtomic", None), ("raise", "CpuLoopExit", None)}
    | {"device accessed", "store-conditional succeeded", "store-conditional failed",
       "code page written"}
)


def coverage(prog: IRProgram, tb, outcome: Outcome, m: Machine) -> set:
    """What one program exercised, in the terms of :data:`MUST_COVER`."""
    seen: set = set()
    for op in tb.ops:
        name = op.name
        seen.add(name)
        family = name.rsplit("_", 1)[0]
        outs, ins, consts = op.split()
        if family in ("setcond", "movcond"):
            seen.add(("setcond/movcond", consts[0]))
        if family in ("qemu_ld", "qemu_st"):
            memop, addr = oi_memop(consts[0]), ins[-1]
            size = memop & MemOp.MO_SIZE
            t = name.rsplit("_", 1)[1]
            if family == "qemu_ld":
                seen.add(("load", t, size, bool(memop & MemOp.MO_SIGN)))
            else:
                seen.add(("store", t, size))
            if memop & MemOp.MO_AMASK:
                seen.add("aligned access required")
            if addr.kind is TempKind.CONST:
                seen.add(("const operand", family))
                if addr.value % (1 << size):
                    seen.add("misaligned access")
                if (addr.value % PAGE_SIZE) + (1 << size) > PAGE_SIZE:
                    seen.add("page-crossing access")
    for item in prog.items:
        if item[0] == "brcond":
            seen.add(("brcond", item[1]))
    result = outcome.result
    if result[0] == "exit":
        seen.add(("exit", result[1]))
    else:
        seen.add(("raise", result[1], result[8] if result[1] == "GuestFault" else None))
    if outcome.device:
        seen.add("device accessed")
    totals = m.policy.totals()
    if totals["sc_ok"]:
        seen.add("store-conditional succeeded")
    if totals["sc_fail"]:
        seen.add("store-conditional failed")
    if prog.code_page and not outcome.code_pages:
        seen.add("code page written")
    return seen


def test_generator_covers_every_op_family_and_runs_on_interp():
    seen: set = set()

    @seed(SEED)
    @settings(DIFF_SETTINGS, max_examples=DEFAULT_EXAMPLES)
    @given(prog=ir_programs())
    def run(prog):
        outcome, m, tb = execute(prog, REFERENCE)  # anything but a guest exception fails
        seen.update(coverage(prog, tb, outcome, m))

    run()
    missing = sorted(map(str, MUST_COVER - seen))
    assert not missing, (f"the {DEFAULT_EXAMPLES} TBs of seed {SEED} never exercised {missing}: "
                         "the generator must make them likelier")
