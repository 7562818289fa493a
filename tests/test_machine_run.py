"""Machine.run keeps the heap that existed before it out of the collector's way, and gives
it back however the run ends (see Machine.run)."""

from __future__ import annotations

import gc

import pytest

import core.machine as machine_mod
from tests.conftest import toy_machine


@pytest.fixture
def frozen_during(monkeypatch):
    """The collector's permanent-generation size seen by each cpu_exec call."""
    seen: list[int] = []
    real = machine_mod.cpu_exec

    def probe(machine, cpu, budget):
        seen.append(gc.get_freeze_count())
        return real(machine, cpu, budget)

    monkeypatch.setattr(machine_mod, "cpu_exec", probe)
    return seen


def test_the_older_heap_is_frozen_while_running_and_thawed_after(frozen_during):
    assert gc.get_freeze_count() == 0
    result = toy_machine([("HALT",)]).run()
    assert result.insns == 1
    assert frozen_during and all(n > 0 for n in frozen_during)
    assert gc.get_freeze_count() == 0


def test_thawed_when_the_run_raises(monkeypatch):
    def boom(machine, cpu, budget):
        assert gc.get_freeze_count() > 0
        raise RuntimeError("a plugin failed")

    monkeypatch.setattr(machine_mod, "cpu_exec", boom)
    with pytest.raises(RuntimeError, match="a plugin failed"):
        toy_machine([("HALT",)]).run()
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freeze_is_left_alone(frozen_during):
    m = toy_machine([("HALT",)])
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        m.run()
        assert gc.get_freeze_count() == before  # not thawed by the run
        assert frozen_during and all(n == before for n in frozen_during)
    finally:
        gc.unfreeze()
