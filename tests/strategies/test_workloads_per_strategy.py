"""The bundled ARM workloads under every strategy, 4 vCPUs, small arguments.

Correct strategies pass every program's own check.  cmpxchg and stop-the-world's value
form let ``aba_window``'s STREX succeed (exit 1), and some schedule corrupts ``aba``'s
Treiber stack under them; ``none`` also loses counter updates.  Schedules that break a
strategy are searched for in a small range, not hard-coded.
"""

from __future__ import annotations

import pytest

from tests.support.arm_workloads import WORKLOADS, run_machine

VCPUS = 4
SCHEDULE = {"policy": "random", "seed": 5, "slice": 6}
PROGRAMS = {  # program -> (arguments, what its passing line contains)
    "counter": (["4", "100"], "total=400 OK"),
    "spinlock": (["4", "50"], "shared=200 sum=200 OK"),
    "aba": (["4", "40"], "stack=intact"),
    "aba_window": (["2"], "sc=failed"),
    "false_sharing": (["4", "50"], "OK"),
}
CORRECT = [("stop-the-world", {}), ("store-test", {}), ("arm-monitor", {}),
           ("exclusive-bitmap", {})]


def run_workload(program: str, args: list[str], policy: str, options: dict | None = None, *,
                 schedule: dict = SCHEDULE, max_insns: int = 2_000_000):
    """One bundled workload at VCPUS vCPUs under ``policy`` with its ``options``."""
    return run_machine(WORKLOADS / f"{program}.elf", args, {
        "machine": {"frontend": "arm", "vcpus": VCPUS, "memory_policy": policy},
        "schedule": {"max_insns": max_insns, **schedule},
        "plugins": {policy: options} if options else {}})


def first_failing_schedule(program: str, args: list[str], policy: str, options=None,
                           seeds=range(30), slice_: int = 6, max_insns: int = 300_000):
    for seed in seeds:
        schedule = {"policy": "random", "seed": seed, "slice": slice_}
        text, result, m = run_workload(program, args, policy, options, schedule=schedule,
                                       max_insns=max_insns)
        if result.reason != "exit" or result.exit_status != 0:
            return schedule, text, result, m
    return None


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("policy, options", CORRECT, ids=[p for p, _ in CORRECT])
def test_correct_strategy_passes(policy, options, program):
    args, passing = PROGRAMS[program]
    text, result, m = run_workload(program, args, policy, options)
    assert (result.reason, result.exit_status) == ("exit", 0), text
    assert passing in text
    totals = m.policy.totals()
    assert totals["sc_ok"] > 0 and totals["ll"] >= totals["sc_ok"] + totals["sc_fail"] - 1
    if policy != "store-test":
        assert totals["sc_spurious"] == 0 or program == "false_sharing"


@pytest.mark.parametrize("stride, granule, spurious", [(1, 8, True), (2, 8, False), (2, 64, True),
                                                      (16, 64, False)])
def test_false_sharing_is_spurious_only_within_a_granule(stride, granule, spurious):
    """Each CPU increments its own word of one page, ``stride`` words apart."""
    text, result, m = run_workload("false_sharing", ["4", "50", str(stride)], "arm-monitor",
                                   {"granule": granule}, schedule={"policy": "random", "seed": 1,
                                                                   "slice": 1})
    assert result.exit_status == 0, text
    assert (m.policy.totals()["sc_spurious"] > 0) is spurious


@pytest.mark.parametrize("policy, options",
                         [("cmpxchg", {}), ("stop-the-world", {"check": "value"})],
                         ids=["cmpxchg", "stop-the-world-value"])
def test_value_compare_is_correct_for_counters_and_falls_for_aba(policy, options):
    for program in ("counter", "spinlock"):
        args, passing = PROGRAMS[program]
        text, result, _m = run_workload(program, args, policy, options)
        assert result.exit_status == 0 and passing in text, text
    text, result, _m = run_workload("aba_window", ["2"], policy, options)
    assert result.exit_status == 1
    assert "aba_window: sc=succeeded" in text
    found = first_failing_schedule("aba", ["4", "40"], policy, options)
    assert found is not None, "no schedule in range corrupted the Treiber stack"
    _schedule, text, result, _m = found
    assert (result.reason, result.exit_status) == ("exit", 1)
    assert "stack=CORRUPTED" in text


def test_none_loses_counter_updates_and_fails_aba_window():
    found = first_failing_schedule("counter", ["4", "100"], "none", slice_=1)
    assert found is not None
    _schedule, text, result, m = found
    assert result.exit_status == 1 or result.reason == "max-insns"
    assert m.policy.totals()["sc_fail"] == 0
    text, result, _m = run_workload("aba_window", ["2"], "none", schedule={"slice": 1},
                                    max_insns=300_000)
    assert result.exit_status == 1 and "sc=succeeded" in text
