"""Every bundled workload passes its own check on tcglab with the exclusive-bitmap
strategy of the LL/SC series (Rigo 2015).

1, 2 and 4 vCPUs; round-robin and seeded random schedules; slices of 1 and 64.  The
programs verify themselves (exact totals, intact stack, failed ABA SC) and exit 0 only
if they hold; sizes are scaled down so the whole grid stays quick on the interpreter.
"""

from __future__ import annotations

import pytest

from tests.support.arm_workloads import WORKLOADS, run_tcglab

PROGRAMS = {
    "counter": ["{n}", "40"],
    "spinlock": ["{n}", "30"],
    "aba": ["{n}", "20"],
    "false_sharing": ["{n}", "40"],
    "aba_window": ["2"],
    "hello_newlib": ["x", "7"],
    "compute": ["1"],
}
SCHEDULES = [{"policy": "round-robin", "slice": 1}, {"policy": "round-robin", "slice": 64},
             {"policy": "random", "seed": 1, "slice": 1}, {"policy": "random", "seed": 2,
                                                           "slice": 64}]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s['policy']}-{s['slice']}")
@pytest.mark.parametrize("vcpus", [1, 2, 4])
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_workload_passes_its_own_check(program, vcpus, schedule):
    args = [a.format(n=vcpus) for a in PROGRAMS[program]]
    output, status, result = run_tcglab(WORKLOADS / f"{program}.elf", args, vcpus,
                                        schedule=schedule, max_insns=20_000_000)
    assert result.reason == "exit", (result.reason, result.message, output)
    assert status == 0, output
    if program == "aba_window" and vcpus >= 2:
        assert "sc=failed" in output
    if program == "counter":
        assert f"total={vcpus * 40} OK" in output


    if program == "compute":
        assert output == (WORKLOADS / "expected" / "compute-r1-1.txt").read_text()


def test_same_seed_same_run_bit_for_bit():
    runs = [run_tcglab(WORKLOADS / "counter.elf", ["4", "50"], 4,
                       schedule={"policy": "random", "seed": 9, "slice": 1}) for _ in range(2)]
    (out_a, status_a, a), (out_b, status_b, b) = runs
    assert (out_a, status_a, a.insns, a.stats) == (out_b, status_b, b.insns, b.stats)
    other = run_tcglab(WORKLOADS / "counter.elf", ["4", "50"], 4,
                       schedule={"policy": "random", "seed": 10, "slice": 1})[2]
    assert other.stats != a.stats  # the PRNG seed does change the interleaving
