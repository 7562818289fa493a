"""Machine.run makes full collections rare while it runs, gives the caller's thresholds
back however the run ends, and leaves earlier machines' garbage collectable (see
Machine.run)."""

from __future__ import annotations

import gc
import weakref

import pytest

import core.machine as machine_mod
from core.errors import ComponentCrash
from tests.support.toy import toy_machine


@pytest.fixture
def thresholds_during(monkeypatch):
    """The collector's thresholds seen by each cpu_exec call."""
    seen: list[tuple[int, int, int]] = []
    real = machine_mod.cpu_exec

    def probe(machine, cpu, budget):
        seen.append(gc.get_threshold())
        return real(machine, cpu, budget)

    monkeypatch.setattr(machine_mod, "cpu_exec", probe)
    return seen


def test_full_collections_are_rare_while_running_and_thresholds_come_back(thresholds_during):
    before = gc.get_threshold()
    result = toy_machine([("HALT",)]).run()
    assert result.insns == 1
    assert thresholds_during and all(
        t == (before[0], before[1], machine_mod.FULL_COLLECTION_EVERY) for t in thresholds_during)
    assert gc.get_threshold() == before


def test_thresholds_come_back_when_the_run_raises(monkeypatch):
    before = gc.get_threshold()

    def boom(machine, cpu, budget):
        assert gc.get_threshold()[2] == machine_mod.FULL_COLLECTION_EVERY
        raise RuntimeError("a plugin failed")

    monkeypatch.setattr(machine_mod, "cpu_exec", boom)
    with pytest.raises(ComponentCrash, match="RuntimeError: a plugin failed") as err:
        toy_machine([("HALT",)]).run()  # one line for the user, the original its cause
    assert isinstance(err.value.__cause__, RuntimeError)
    assert gc.get_threshold() == before


def test_a_callers_higher_threshold_is_kept(thresholds_during):
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], 5 * machine_mod.FULL_COLLECTION_EVERY)
    try:
        toy_machine([("HALT",)]).run()
        assert thresholds_during and all(
            t[2] == 5 * machine_mod.FULL_COLLECTION_EVERY for t in thresholds_during)
        assert gc.get_threshold()[2] == 5 * machine_mod.FULL_COLLECTION_EVERY
    finally:
        gc.set_threshold(*before)


def test_an_earlier_machine_is_collected_by_a_collection_during_a_later_run(monkeypatch):
    """A finished machine is garbage held in cycles (vCPUs point back at it); a full
    collection while the next machine runs frees it and its RAM."""
    first = toy_machine([("HALT",)])
    first.run()
    gone = weakref.ref(first)
    del first
    real = machine_mod.cpu_exec

    def collecting(machine, cpu, budget):
        gc.collect()
        return real(machine, cpu, budget)

    monkeypatch.setattr(machine_mod, "cpu_exec", collecting)
    toy_machine([("HALT",)]).run()
    assert gone() is None
