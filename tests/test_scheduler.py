"""Deterministic scheduling: same config and seed, same run; slice 1 preempts inside a TB."""

from __future__ import annotations

import pytest

from core.config import ScheduleConfig
from core.cpu import CPURunState
from core.scheduler import DEFAULT_SLICE, UNSLICED, Scheduler, slice_for
from tests.support.toy import DATA, read32, toy_machine
from tests.toyisa import li

X = DATA


def racy_increments(n: int = 3) -> list:
    """Non-atomic x += 1, n times, straight-line: one TB per vCPU."""
    body = li(1, X)
    for _ in range(n):
        body += [("LDW", 2, 1, 0), ("ADDI", 2, 2, 1), ("STW", 2, 1, 0)]
    return body + [("HALT",)]


def contended_loop() -> list:
    return li(1, X) + [("MOVI", 3, 0, 40), "loop", ("LL", 2, 1, 0), ("ADDI", 2, 2, 1),
                       ("SC", 4, 2, 1), ("BNZ", 4, "loop"), ("ADDI", 3, 3, -1),
                       ("BNZ", 3, "loop"), ("HALT",)]


def run_and_snapshot(schedule: dict, vcpus: int = 3):
    m = toy_machine(contended_loop(), vcpus=vcpus, schedule=schedule)
    result = m.run()
    return result.insns, result.stats, [list(c.env) for c in m.cpus], \
        m.memory.read_bytes(DATA, 64)


@pytest.mark.parametrize("policy", ["round-robin", "random", "pct"])
def test_same_config_and_seed_give_the_same_run(policy):
    schedule = {"policy": policy, "seed": 7, "slice": 1}
    assert run_and_snapshot(schedule) == run_and_snapshot(schedule)


def test_different_seeds_give_different_interleavings():
    runs = {run_and_snapshot({"policy": "random", "seed": s, "slice": 1})[0] for s in range(6)}
    assert len(runs) > 1


def test_slice_1_preempts_inside_a_tb():
    """Two vCPUs run one straight-line TB each; with slice 1 their loads and stores
    interleave inside those TBs and increments are lost; with a long slice they are not."""
    m = toy_machine(racy_increments(), vcpus=2, schedule={"slice": 1})
    m.run()
    assert read32(m, X) < 6
    m = toy_machine(racy_increments(), vcpus=2, schedule={"slice": 64})
    m.run()
    assert read32(m, X) == 6


def test_slice_counts_guest_instructions_exactly():
    m = toy_machine(racy_increments(), vcpus=2, schedule={"slice": 5, "max_insns": 10})
    result = m.run()
    assert result.reason == "max-insns"
    assert [c.stats.insns for c in m.cpus] == [5, 5]


@pytest.mark.parametrize(("slice_", "vcpus", "expected"),
                         [(0, 1, UNSLICED), (0, 2, DEFAULT_SLICE), (0, 4, DEFAULT_SLICE),
                          (1, 1, 1), (5, 1, 5), (5, 4, 5)])
def test_slice_0_is_64_between_several_vcpus_and_none_for_one(slice_, vcpus, expected):
    assert slice_for(ScheduleConfig(slice=slice_), vcpus) == expected
    assert Scheduler(ScheduleConfig(slice=slice_, jitter=True), vcpus).slice_len() <= expected


def test_a_lone_vcpu_runs_in_one_slice_unless_a_slice_is_set():
    """By default one vCPU runs its loop in a single slice (one cpu_exec), and the same
    run sliced explicitly ends where it would have: the same instructions, state and
    memory, only cut into more slices."""
    prog = li(3, 0) + [("MOVI", 4, 0, 100), "top", ("ADDI", 3, 3, 1), ("ADDI", 4, 4, -1),
                       ("BNZ", 4, "top"), ("HALT",)]
    runs = {}
    for slice_ in (0, 7):
        m = toy_machine(prog, schedule={"slice": slice_})
        calls = []
        real = m.backend.execute

        def counted(cpu, tb, budget, real=real, calls=calls):
            calls.append(budget)
            return real(cpu, tb, budget)

        m.backend.execute = counted
        result = m.run()
        runs[slice_] = (result.reason, result.insns, list(m.cpus[0].env))
        if slice_ == 0:
            assert calls[0] == UNSLICED
        else:
            assert max(calls) <= 7
    assert runs[0] == runs[7]
    assert runs[0][1] > 300


def test_max_insns_bounds_a_run():
    m = toy_machine(["top", ("B", "top")], schedule={"slice": 7, "max_insns": 1000})
    result = m.run()
    assert result.reason == "max-insns"
    assert result.insns == 1000


def test_deadlock_is_reported_not_spun_on():
    m = toy_machine([("HALT",)], vcpus=2)
    result = m.run()
    assert result.reason == "deadlock"
    assert "vCPU 0 halted at pc=0x40000004" in result.message
    assert "vCPU 1 halted" in result.message
    assert "\n" not in result.message


def test_all_off_ends_the_run():
    m = toy_machine([("HALT",)], vcpus=2)
    for cpu in m.cpus:
        cpu.run_state = CPURunState.OFF
    assert m.run().reason == "all-off"


def test_exit_status_and_yield():
    m = toy_machine([("YIELD",), ("MOVI", 1, 0, 42), ("EXIT", 0, 1)], vcpus=1)
    result = m.run()
    assert (result.reason, result.exit_status) == ("exit", 42)


def test_round_robin_order():
    s = Scheduler(ScheduleConfig(policy="round-robin"), 4)
    assert [s.pick([0, 1, 2, 3]) for _ in range(6)] == [0, 1, 2, 3, 0, 1]
    assert s.pick([0, 3]) == 3
    assert s.pick([0, 3]) == 0


def test_random_is_seeded():
    a = Scheduler(ScheduleConfig(policy="random", seed=1), 4)
    b = Scheduler(ScheduleConfig(policy="random", seed=1), 4)
    c = Scheduler(ScheduleConfig(policy="random", seed=2), 4)
    seq = lambda s: [s.pick([0, 1, 2, 3]) for _ in range(50)]
    sa, sb, sc = seq(a), seq(b), seq(c)
    assert sa == sb and sa != sc
    assert set(sa) == {0, 1, 2, 3}


def test_pct_runs_highest_priority_and_demotes_at_change_points():
    s = Scheduler(ScheduleConfig(policy="pct", seed=4, pct_depth=3, max_insns=100, slice=1), 3)
    assert sorted(s.priority) == [3, 4, 5]
    assert len(set(s.change_points)) == 2 and all(1 <= k < 100 for k in s.change_points)
    first = s.priority.index(5)
    k = min(s.change_points)
    picks = [s.pick([0, 1, 2]) for _ in range(k)]  # steps 1..k
    assert picks[:-1] == [first] * (k - 1)  # the highest priority runs alone until...
    assert picks[-1] != first  # ...the first change point demotes it
    assert s.priority[first] == 2  # d - 1
    assert picks[-1] == s.priority.index(4)


def test_pct_change_points_repeat_so_spinning_vcpus_are_demoted():
    s = Scheduler(ScheduleConfig(policy="pct", seed=1, pct_depth=2, max_insns=50, slice=1), 2)
    picks = [s.pick([0, 1]) for _ in range(400)]
    assert picks.count(0) > 0 and picks.count(1) > 0
    switches = sum(a != b for a, b in zip(picks, picks[1:]))
    assert switches >= 400 // 50 - 1  # at least one demotion per horizon


def test_pct_finishes_a_spin_wait_program():
    """vCPU 1 waits for a flag vCPU 0 sets; whichever PCT favours, the run ends."""
    flag = DATA + 0x2000
    prog = li(1, flag) + [("CPUID", 0), ("BNZ", 0, "wait"), ("MOVI", 2, 0, 1),
                          ("STW", 2, 1, 0), ("HALT",), "wait", ("LDW", 3, 1, 0),
                          ("BZ", 3, "wait"), ("MOVI", 4, 0, 0), ("EXIT", 0, 4)]
    for seed in range(6):
        m = toy_machine(prog, vcpus=2, schedule={"policy": "pct", "seed": seed, "slice": 1})
        assert m.run().reason == "exit", seed


def test_instructions_before_a_guest_error_are_counted():
    from core.errors import GuestError
    m = toy_machine([("MOVI", 1, 0, 1), ("MOVI", 2, 0, 2), ("RAW", 0xFF000000)],
                    schedule={"slice": 64})
    with pytest.raises(GuestError):
        m.run()
    assert m.insns == 3 and m.cpus[0].stats.insns == 3
