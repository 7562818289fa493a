"""Every correct policy keeps an LL/SC increment exact; the negative control does not.

Toy-ISA loop (``LL; ADDI; SC; BNZ``) on 2-4 vCPUs, slice 1, so every instruction
boundary is a possible switch and LL ... SC windows really interleave.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.llsc import CORRECT, X, run_increment, variant_id
from tests.support.toy import read32

ITERS = 40
SCHEDULES = [{"slice": 1, "policy": "round-robin"},
             {"slice": 1, "policy": "random", "seed": 3},
             {"slice": 1, "policy": "random", "seed": 11}]


@pytest.mark.parametrize("vcpus", [2, 4])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s['policy']}-{s.get('seed', 0)}")
@pytest.mark.parametrize("variant", CORRECT, ids=variant_id)
def test_increment_loop_keeps_exact_total(variant, schedule, vcpus):
    m = run_increment(variant, vcpus, schedule, ITERS)
    assert read32(m, X) == vcpus * ITERS
    totals = m.policy.totals()
    assert totals["sc_ok"] == vcpus * ITERS
    assert totals["ll"] == totals["sc_ok"] + totals["sc_fail"]
    assert totals["sc_spurious"] <= totals["sc_fail"]


@pytest.mark.parametrize("variant", CORRECT, ids=variant_id)
def test_three_vcpus_round_robin_contend_and_stay_exact(variant):
    m = run_increment(variant, 3, {"slice": 1, "policy": "round-robin"}, ITERS)
    assert read32(m, X) == 3 * ITERS
    assert m.policy.totals()["sc_fail"] > 0  # the SCs really were contended


def test_none_loses_updates_under_some_schedule():
    """The negative control: every SC succeeds, so interleaved increments get lost."""
    for seed in range(50):
        m = run_increment(("none", {}), 4, {"slice": 1, "policy": "random", "seed": seed}, ITERS)
        if read32(m, X) < 4 * ITERS:
            break
    else:
        pytest.fail("the none policy never lost an update in 50 schedules")
    totals = m.policy.totals()
    assert totals["sc_ok"] == totals["ll"] == 4 * ITERS  # every vCPU believed all its SCs
    assert totals["sc_fail"] == 0


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(variant=st.sampled_from(CORRECT), vcpus=st.integers(2, 4),
       policy=st.sampled_from(["round-robin", "random", "pct"]), seed=st.integers(0, 10_000),
       slice_=st.integers(1, 3))
def test_property_correct_policies_keep_the_total_exact(variant, vcpus, policy, seed, slice_):
    m = run_increment(variant, vcpus, {"slice": slice_, "policy": policy, "seed": seed}, 15)
    assert read32(m, X) == vcpus * 15
    assert m.policy.totals()["sc_ok"] == vcpus * 15
