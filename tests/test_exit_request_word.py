"""``CPUState.exit_request``: who sets it, and that the run loop serves it where it should.

What leaves a vCPU's TBs sets the word (queued work, a stop request on the machine, a
run state other than RUNNING, ``cpu_exit``); ``cpu_exec`` clears it only at a TB
boundary of a running vCPU, and leaves the slice without serving it when the vCPU is
stopped or the machine is to stop.  (That every backend leaves its chained TBs when it
is set: tests/backends/test_exit_request.py.)
"""

from __future__ import annotations

from core.config import parse_config
from core.cpu import (EXIT_REQUEST_BACKEND, EXIT_REQUEST_IDLE, EXIT_REQUEST_STOP,
                      EXIT_REQUEST_WORK, CPURunState, cpu_exit)
from core.exec import cpu_exec
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from tests import toyisa

LOOP = [("MOVI", 6, 0, 50), "loop", ("ADDI", 6, 6, -1), ("BNZ", 6, "loop"), ("EXIT", 0, 6, 0)]


def _machine(vcpus: int = 2) -> Machine:
    data = {"machine": {"frontend": "toy", "backend": "interp", "vcpus": vcpus,
                        "ram_size": "1M"}}
    m = Machine(parse_config(data, "<test>"), PluginManager(autoload=False,
                                                            extra=[("toyisa", toyisa)]))
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(LOOP))
    return m


def _served(m: Machine) -> None:
    """Clear every word as the run loop would after serving it (a fresh start)."""
    for cpu in m.cpus:
        cpu.exit_request = 0


def test_what_makes_a_vcpu_leave_sets_its_word():
    m = _machine()
    _served(m)
    cpu0, cpu1 = m.cpus
    cpu0.queue_work(lambda cpu: None)
    assert cpu0.exit_request == EXIT_REQUEST_WORK and cpu1.exit_request == 0
    cpu1.run_state = CPURunState.HALTED
    assert cpu1.exit_request == EXIT_REQUEST_IDLE
    cpu1.run_state = CPURunState.RUNNING  # woken: the word is the run loop's to clear
    assert cpu1.exit_request == EXIT_REQUEST_IDLE
    m.stop_requested = True  # as a platform may set it: every vCPU is told
    assert [c.exit_request & EXIT_REQUEST_STOP for c in m.cpus] == [EXIT_REQUEST_STOP] * 2
    cpu_exit(cpu0, EXIT_REQUEST_BACKEND)
    assert cpu0.exit_request == EXIT_REQUEST_WORK | EXIT_REQUEST_STOP | EXIT_REQUEST_BACKEND


def test_request_exit_tells_every_vcpu():
    m = _machine(3)
    _served(m)
    m.request_exit(3)
    assert all(c.exit_request & EXIT_REQUEST_STOP for c in m.cpus)


def test_the_run_loop_serves_the_word_at_a_tb_boundary_of_a_running_vcpu():
    m = _machine(1)
    cpu = m.cpus[0]
    ran = []
    cpu.queue_work(lambda c: ran.append(c.exit_request))
    assert cpu_exec(m, cpu, 5) == 5
    assert ran == [0]  # cleared before the work ran (work may set it again)
    assert cpu.exit_request == 0


def test_queued_work_waits_while_the_vcpu_is_inside_a_tb():
    m = _machine(1)
    cpu = m.cpus[0]
    cpu_exec(m, cpu, 2)  # MOVI, ADDI: the slice ends inside the loop's TB
    assert cpu.mid_tb
    ran = []
    cpu.queue_work(lambda c: ran.append(c.env[6]))
    cpu_exec(m, cpu, 1)  # the BNZ ends that TB: its first TB boundary, after the slice
    assert ran == [] and cpu.exit_request == EXIT_REQUEST_WORK
    cpu_exec(m, cpu, 1)
    assert ran == [49] and cpu.exit_request == 0


def test_a_stop_request_ends_the_slice_and_leaves_the_word_set():
    m = _machine(1)
    cpu = m.cpus[0]
    ran = []
    cpu.queue_work(lambda c: ran.append(True))
    m.stop_requested = True
    assert cpu_exec(m, cpu, 10) == 0
    assert ran == [] and cpu.exit_request == EXIT_REQUEST_WORK | EXIT_REQUEST_STOP
    m.stop_requested = False  # resumed (as the lockstep tests do): it runs again
    assert cpu_exec(m, cpu, 10) == 10
    assert ran == [True] and cpu.exit_request == 0


def test_a_vcpu_that_is_not_running_runs_nothing():
    m = _machine(2)
    cpu1 = m.cpus[1]
    cpu1.run_state = CPURunState.OFF
    assert cpu_exec(m, cpu1, 10) == 0 and cpu1.exit_request & EXIT_REQUEST_IDLE
