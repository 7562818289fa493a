"""A plugin's own exception while the machine runs (a memory policy, a helper: code on
the hot path, where pluggy does not stand) ends the run as one line naming the plugin,
the function and where it raised, never a traceback; an exception in core's own code
says so."""

from __future__ import annotations

import sys
import types

import pytest

from core import cli
from core.compare import bundled_workloads
from core.config import parse_config
from core.errors import ComponentCrash
from core.machine import Machine
from core.outcome import RunReason, failed_run
from core.plugins import AUTOLOAD_ENV, BUILTIN_PLUGINS, PluginManager
from tests import toyisa
from tests.toyisa import li

BROKEN = '''
from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy


class Broken(MemoryPolicy):
    """A memory policy whose LL raises."""

    name = "broken"

    def load_link(self, cpu, addr, memop):
        raise KeyError("no reservation table")


@hookimpl
def tcglab_register_memory_policies(registry):
    registry.add_memory_policy(Broken)
'''
X = toyisa.RAM_BASE + 0x10000
PROGRAM = li(1, X) + [("LL", 2, 1, 0), ("EXIT", 0, 2)]


def broken_plugin(name: str = "tcglab_broken_policy") -> types.ModuleType:
    """A plugin module made from source, so its code lives in its own module, as an
    installed plugin's does."""
    module = types.ModuleType(name)
    exec(compile(BROKEN, f"{name}.py", "exec"), module.__dict__)
    return module


def broken_machine(backend: str = "interp") -> Machine:
    config = parse_config({"machine": {"frontend": "toy", "backend": backend,
                                       "memory_policy": "broken", "ram_size": "1M"}}, "<test>")
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("broken", broken_plugin())])
    m = Machine(config, pm)
    m.memory.write_bytes(toyisa.RAM_BASE, toyisa.assemble(PROGRAM))
    return m


@pytest.mark.parametrize("backend", ["interp", "pyjit", "arm-host"])
def test_a_policy_that_raises_is_named_in_one_line(backend):
    m = broken_machine(backend)
    with pytest.raises(ComponentCrash) as err:
        m.run()
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("plugin 'broken' raised KeyError: 'no reservation table' in "
                           "load_link (tcglab_broken_policy.py:")
    assert text.endswith(" while vCPU 0 ran")
    assert isinstance(err.value.__cause__, KeyError)  # the original, for a debugger
    assert m.insns == len(PROGRAM) - 1  # counted up to and with the LL, on every backend


def test_compare_records_the_crash_with_the_same_line():
    m = broken_machine()
    with pytest.raises(ComponentCrash) as err:
        m.run()
    result = failed_run(err.value, m, 0.0)
    assert result.reason is RunReason.CRASH and result.message == str(err.value)


def test_an_exception_in_core_says_it_is_tcglabs_own(monkeypatch):
    m = broken_machine()

    def bug(self, *args):
        raise ZeroDivisionError("core bug")
    monkeypatch.setattr(type(m.translator), "lookup", bug)
    with pytest.raises(ComponentCrash, match=r"^tcglab itself \(not a plugin: a bug to "
                                             r"report\) raised ZeroDivisionError: core bug "
                                             r"in bug \("):
        m.run()


def test_tcglab_run_prints_one_line(monkeypatch, capsys):
    module = broken_plugin()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(BUILTIN_PLUGINS, "broken", module.__name__)
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    status = cli.main(["run", "--strategy", "broken", "--vcpus", "2",
                       str(bundled_workloads()["counter"].elf), "2", "10"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("tcglab: error: plugin 'broken' raised KeyError:")


def test_a_component_that_raises_while_the_machine_is_built_is_one_line():
    module = broken_plugin()
    exec(compile("def init(self, machine, options=None):\n    return {}['missing']\n",
                 "tcglab_broken_policy.py", "exec"), module.__dict__)
    module.Broken.__init__ = module.init  # its constructor fails, in the plugin's code
    config = parse_config({"machine": {"frontend": "toy", "memory_policy": "broken",
                                       "ram_size": "1M"}}, "<test>")
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("broken", module)])
    with pytest.raises(ComponentCrash) as err:
        Machine(config, pm)
    assert "\n" not in str(err.value) and not str(err.value).endswith(" ran")
    assert str(err.value).startswith("plugin 'broken' raised KeyError: 'missing' in init ")
