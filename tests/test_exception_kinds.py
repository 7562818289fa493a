"""Exception kinds: core declares only its own; a frontend declares the guest's.

The toy ISA (tests/toyisa.py) is the third-party frontend here: it declares ``ToyExcp``
and raises ``TRAP`` through core's ``helper_raise_exception``, which nothing handles.
"""

from __future__ import annotations

import enum

import pytest

from core.config import parse_config
from core.cpu import EXCP, FIRST_CORE_EXCP, ExceptionKind
from core.errors import GuestError, PluginError
from core.hookspecs import hookimpl
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from tests import toyisa
from tests.support.toy import toy_machine
from tests.toyisa import ToyExcp

BACKENDS = ("interp", "pyjit")
UNMAPPED = 0x1000


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unhandled_frontend_kind_is_a_one_line_error_naming_it(backend):
    m = toy_machine([("MOVI", 1, 0, 5), ("TRAP",), ("EXIT", 0, 0)], backend=backend)
    with pytest.raises(GuestError) as info:
        m.run()
    assert str(info.value) == "vCPU 0: unhandled exception TRAP, pc=0x40000004"
    assert m.cpus[0].env[1] == 5  # the instruction before it ran


def test_the_frontend_sees_its_own_kind_first():
    seen = []

    def handle_exception(cpu, exc):
        seen.append(exc.excp)
        cpu.machine.request_exit(0)
        return True

    m = toy_machine([("TRAP",), ("EXIT", 0, 0)])
    m.frontend.handle_exception = handle_exception
    m.run()
    assert seen == [ToyExcp.TRAP] and type(seen[0]) is ToyExcp


def test_core_kinds_are_only_the_generic_ones():
    assert {k.name for k in EXCP} == {"HLT", "YIELD", "ATOMIC", "EXIT", "FETCH_FAULT",
                                      "DATA_FAULT"}
    assert all(k >= FIRST_CORE_EXCP for k in EXCP)


def test_of_resolves_core_numbers_to_core_kinds_and_the_rest_to_the_frontend():
    assert ToyExcp.of(int(EXCP.YIELD)) is EXCP.YIELD
    assert ToyExcp.of(2) is ToyExcp.TRAP
    with pytest.raises(PluginError) as err:
        ToyExcp.of(99)  # the frontend's mistake, said in one line
    assert "\n" not in str(err.value)
    assert "exception number 0x63 is not a kind of tests.toyisa.ToyExcp (declared: " in \
        str(err.value)
    with pytest.raises(PluginError, match="0x10099 is not a kind of core.cpu.EXCP"):
        ToyExcp.of(0x10099)


def test_a_frontend_kind_in_core_numbers_is_refused_when_declared():
    with pytest.raises(ValueError, match=r"BadExcp.CLASH = 0x10004: .* below 0x10000"):
        class BadExcp(ExceptionKind):
            FINE = 1
            CLASH = int(EXCP.YIELD)


def test_kinds_of_two_frontends_with_the_same_number_stay_apart():
    class OtherExcp(ExceptionKind):
        TRAP = int(ToyExcp.TRAP)

    assert OtherExcp.TRAP is not ToyExcp.TRAP
    assert isinstance(ToyExcp.TRAP, enum.IntEnum)


# --------------------------------------------------------------------------- faults


class PlainToy(toyisa.ToyFrontend):
    """The toy ISA without words of its own for core's faults."""

    name = "toy-plain"
    fault_names = {}


class _PlainToyPlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(PlainToy)


def _plain_machine(program):
    data = {"machine": {"frontend": "toy-plain", "backend": "interp", "ram_size": "1M"}}
    pm = PluginManager((), autoload=False, extra=[("toyisa", toyisa),
                                                  ("toy-plain", _PlainToyPlugin())])
    m = Machine(parse_config(data, "<test>"), pm)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(program))
    return m


def test_core_faults_read_in_core_words_unless_the_frontend_names_them():
    program = [("MOVI", 1, 0, UNMAPPED), ("LDW", 2, 1, 0), ("EXIT", 0, 0)]
    with pytest.raises(GuestError) as plain:
        _plain_machine(program).run()
    assert str(plain.value) == "vCPU 0: data fault, load of 4 bytes at 0x00001000, pc=0x40000004"
    with pytest.raises(GuestError) as named:  # the toy names them as ARM does
        toy_machine(program).run()
    assert str(named.value) == "vCPU 0: data abort, load of 4 bytes at 0x00001000, pc=0x40000004"


def test_a_fetch_fault_in_core_words():
    with pytest.raises(GuestError) as info:
        _plain_machine([("B", -0x10000)]).run()  # to 0x3fff0000, below RAM
    assert str(info.value) == "vCPU 0: fetch fault, fetch of 4 bytes at 0x3fff0000, pc=0x3fff0000"
