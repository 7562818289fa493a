"""Tests for how the plugin manager loads and calls plugins: pluggy's hook relay, wrappers,
``check_pending()``, ``tcglab_requires``, and one-line errors for what a plugin does wrong.

Each throwaway plugin is a small class instance with ``@hookimpl`` methods, registered
through ``extra`` beside three built-ins (llsc, interp, exclusive-bitmap) and the toy ISA.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from core.builder import Builder
from core.cli import main
from core.config import parse_config
from core.errors import IRError, PluginError, TcglabError
from core.hookspecs import hookimpl
from core.ir import TranslationBlock
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import AUTOLOAD_ENV, BUILTIN_PLUGINS, PluginManager
from core.registry import calling_plugin
from tests import toyisa

ROOT = Path(__file__).resolve().parent.parent
CORE = {"llsc": "plugins.llsc", "interp": "plugins.tcg_backends.interp",
        "exclusive-bitmap": "plugins.atomic_strategies.exclusive_bitmap"}


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch):
    """Only built-ins and the plugins a test passes: no installed distribution."""
    monkeypatch.setenv(AUTOLOAD_ENV, "1")


def load(*plugins: tuple[str, object], disable=()) -> PluginManager:
    return PluginManager(disable, autoload=False, builtins=CORE,
                         extra=[("toyisa", toyisa), *plugins])


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    return message


def run_toy(pm: PluginManager):
    m = Machine(parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>"), pm)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble([("MOVI", 1, 0, 3), ("EXIT", 0, 1)]))
    return m.run()


# -- misspelled hooks ---------------------------------------------------------------------


class Misspelled:
    @hookimpl
    def tcglab_register_backend(self, registry):  # the spec is tcglab_register_backends
        raise AssertionError("never called")


class OptionalElsewhere:
    """A hook another plugin may specify: ``optionalhook=True`` says so, as in pluggy."""

    @hookimpl(optionalhook=True)
    def tcglab_someone_elses_hook(self, machine):
        raise AssertionError("never called")


def test_an_optional_hook_without_a_spec_is_allowed():
    assert "maybe" in load(("maybe", OptionalElsewhere())).plugin_names()


class Undecorated:
    def tcglab_machine_created(self, machine):  # no @hookimpl: pluggy would ignore it
        raise AssertionError("never called")


class MisspelledRequires:
    tcglab_require = ("llsc",)


class WrongArgument:
    @hookimpl
    def tcglab_run_finished(self, machine, reslt):
        raise AssertionError("never called")


def test_an_argument_the_spec_lacks_is_one_line():
    with pytest.raises(PluginError) as info:
        load(("p", WrongArgument()))
    message = one_line(info.value)
    assert message.startswith("plugin 'p': tcglab_run_finished ")
    assert "reslt" in message


# -- wrappers -----------------------------------------------------------------------------


class Recorder:
    """Appends to a shared log when its event hooks run."""

    def __init__(self, log: list):
        self.log = log

    @hookimpl
    def tcglab_run_finished(self, result):
        self.log.append(("plain", result.reason))


class NewStyleWrapper:
    def __init__(self, log: list):
        self.log = log

    @hookimpl(wrapper=True)
    def tcglab_run_finished(self, machine):
        self.log.append("new: before")
        results = yield
        self.log.append(("new: after", results))
        return results


class OldStyleWrapper:
    def __init__(self, log: list):
        self.log = log

    @hookimpl(hookwrapper=True)
    def tcglab_run_finished(self):
        self.log.append("old: before")
        outcome = yield
        self.log.append(("old: after", outcome.get_result()))


def test_wrappers_run_around_the_other_implementations():
    log: list = []
    pm = load(("plain", Recorder(log)), ("new", NewStyleWrapper(log)),
              ("old", OldStyleWrapper(log)))
    result = run_toy(pm)
    assert result.reason == "exit"
    # pluggy's order: the later-registered wrapper is the outer one
    assert log == ["old: before", "new: before", ("plain", "exit"), ("new: after", []),
                   ("old: after", [])]


class RegistrationWrapper:
    @hookimpl(wrapper=True)
    def tcglab_register_backends(self, registry):
        return (yield)


class RaisesInEvent:
    @hookimpl
    def tcglab_run_finished(self, result):
        raise KeyError("insns")


class RaisingTeardown:
    @hookimpl(wrapper=True)
    def tcglab_run_finished(self):
        yield
        raise RuntimeError("teardown\nover two lines")


class RaisingOldTeardown:
    @hookimpl(hookwrapper=True)
    def tcglab_run_finished(self):
        yield
        raise RuntimeError("old teardown")


class NeverYields:
    @hookimpl(wrapper=True)
    def tcglab_run_finished(self):
        if False:
            yield


class SeesTheError:
    """A wrapper sees another plugin's error, already one line, at its yield."""

    def __init__(self):
        self.seen: list[BaseException] = []

    @hookimpl(wrapper=True)
    def tcglab_run_finished(self):
        try:
            return (yield)
        except TcglabError as exc:
            self.seen.append(exc)
            raise


@pytest.mark.parametrize("plugin, expected", [
    (RaisesInEvent(), "plugin 'p' raised in tcglab_run_finished: KeyError: 'insns'"),
    (RaisingTeardown(), "plugin 'p' raised in tcglab_run_finished: RuntimeError: teardown; "
                        "over two lines"),
    (RaisingOldTeardown(), "plugin 'p' raised in tcglab_run_finished: RuntimeError: old teardown"),
    (NeverYields(), "plugin 'p': wrapper tcglab_run_finished returned without yielding "
                    "(a wrapper yields once)"),
])
def test_a_plugin_raising_in_an_event_hook_is_one_line(plugin, expected, recwarn):
    with pytest.raises(PluginError) as info:
        run_toy(load(("p", plugin)))
    assert one_line(info.value) == expected
    assert not [w for w in recwarn if "pluggy" in type(w.message).__module__]


def test_a_wrapper_sees_the_raising_plugins_one_line_error():
    wrapper = SeesTheError()
    with pytest.raises(PluginError) as info:
        run_toy(load(("raiser", RaisesInEvent()), ("wrapper", wrapper)))
    assert wrapper.seen == [info.value]
    assert one_line(info.value) == "plugin 'raiser' raised in tcglab_run_finished: KeyError: 'insns'"


# -- the registry learns who registered what through the relay ----------------------------


class RaisesWhileRegistering:
    @hookimpl
    def tcglab_register_ops(self, registry):
        assert registry.current_plugin == "r"
        raise ValueError("bad width 7")


def test_the_calling_plugin_is_set_only_during_its_call():
    assert calling_plugin.get() == "core"
    with pytest.raises(PluginError, match="^plugin 'r' raised in tcglab_register_ops: "
                                          "ValueError: bad width 7$"):
        load(("r", RaisesWhileRegistering()))
    assert calling_plugin.get() == "core"


class TryFirst:
    @hookimpl(tryfirst=True)
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(toyisa.ToyFrontend)


def test_the_registry_names_both_plugins_whatever_the_hook_order():
    with pytest.raises(PluginError) as info:
        load(("first", TryFirst()))
    # tryfirst: the relay calls 'first' before toyisa, so toyisa is the duplicate
    assert one_line(info.value) == \
        "frontend 'toy' is registered by both plugin 'first' and plugin 'toyisa'"


# -- tcglab_requires ----------------------------------------------------------------------


class NeedsLLSC:
    tcglab_requires = ("llsc",)


def test_a_required_plugin_that_is_loaded_is_fine():
    assert "needs" in load(("needs", NeedsLLSC())).plugin_names()


def test_disabling_a_required_plugin_names_both():
    with pytest.raises(PluginError) as info:
        load(("needs", NeedsLLSC()), disable=["llsc"])
    assert one_line(info.value) == ("plugin 'needs' requires plugin 'llsc', which [plugins] "
                                    "disable turns off (enable 'llsc', or disable 'needs' too)")
    # disabling both is a consistent choice
    assert "needs" not in load(("needs", NeedsLLSC()), disable=["llsc", "needs"]).plugin_names()


class NeedsMissing:
    tcglab_requires = ("intrep",)


class NeedsAString:
    tcglab_requires = "llsc"


class NeedsInstalled:
    tcglab_requires = ("demo",)


REFUSED = {
    "misspelled hook": (Misspelled(), (
        "plugin 'p' implements unknown hook 'tcglab_register_backend' "
        "(did you mean 'tcglab_register_backends'?); the hooks are those of core.hookspecs")),
    "no @hookimpl": (Undecorated(), (
        "plugin 'p': tcglab_machine_created is not decorated with @hookimpl "
        "(from core.hookspecs), so it would never be called")),
    "misspelled tcglab_requires": (MisspelledRequires(), (
        "plugin 'p': tcglab_require is neither a hook nor tcglab_requires "
        "(did you mean 'tcglab_requires'?)")),
    "wrapper of a registration hook": (RegistrationWrapper(), (
        "plugin 'p': tcglab_register_backends is a registration hook and cannot be a wrapper "
        "(wrapper=True or hookwrapper=True); wrappers are for event hooks")),
    "requires a missing plugin": (NeedsMissing(), (
        "plugin 'p' requires plugin 'intrep', which is not installed (did you mean 'interp'?)")),
    "requires a string": (NeedsAString(), (
        "plugin 'p': tcglab_requires = 'llsc': expected a tuple of plugin names, "
        "e.g. (\"llsc\",)")),
    "requires a plugin autoload skipped": (NeedsInstalled(), (
        f"plugin 'p' requires plugin 'demo', which is installed but not loaded "
        f"({AUTOLOAD_ENV} is set)")),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_plugin_refused_at_load_is_one_line(case, monkeypatch):
    plugin, expected = REFUSED[case]
    installed = [metadata.EntryPoint(name="demo", value="demo_plugin", group="tcglab")]
    monkeypatch.setattr("core.plugins._entry_points", lambda: installed)
    with pytest.raises(PluginError) as info:
        load(("p", plugin))
    assert one_line(info.value) == expected


def test_the_arm_frontend_requires_llsc():
    with pytest.raises(PluginError) as info:
        PluginManager(["llsc"], autoload=False)
    assert one_line(info.value) == ("plugin 'arm' requires plugin 'llsc', which [plugins] "
                                    "disable turns off (enable 'llsc', or disable 'arm' too)")


COUNTER = str(ROOT / "plugins" / "arm" / "workloads" / "counter.elf")


def test_cli_run_with_llsc_disabled_is_one_line(capsys):
    status = main(["run", "--set", 'plugins.disable=["llsc"]', COUNTER, "4", "100"])
    out, err = capsys.readouterr()
    assert status == PluginError.exit_code != 0
    assert out == ""
    assert err == ("tcglab: error: plugin 'arm' requires plugin 'llsc', which [plugins] "
                   "disable turns off (enable 'llsc', or disable 'arm' too)\n")


def test_cli_run_with_a_plugin_raising_in_an_event_hook_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(BUILTIN_PLUGINS, "raiser", __name__)  # this module: see below
    status = main(["run", COUNTER, "1", "10"])
    out, err = capsys.readouterr()
    assert status != 0
    assert err == ("tcglab: error: plugin 'raiser' raised in tcglab_machine_created: "
                   "RuntimeError: no MMIO here\n")


@hookimpl
def tcglab_machine_created(machine):
    """This module is a plugin too, in the CLI test above only (a built-in by monkeypatch)."""
    raise RuntimeError("no MMIO here")


# -- IR errors are user-facing ------------------------------------------------------------


def test_an_unknown_op_is_a_one_line_tcglab_error():
    """What a frontend meets when it emits a disabled plugin's op it did not declare."""
    b = Builder(TranslationBlock(RAM_BASE, 0), load(disable=["llsc"]).registry.optable)
    d, addr = b.temp_new_i32(), b.temp_new_i32()
    with pytest.raises(TcglabError) as info:
        b.emit("qemu_ldlink_i32", d, addr, 0)
    assert isinstance(info.value, (IRError, ValueError))  # ValueError as it always was
    assert one_line(info.value) == "unknown IR op 'qemu_ldlink_i32'"


# -- no plugin imports another --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_PLUGINS))
def test_a_builtin_plugin_loads_no_other_plugin(name):
    """Importing a built-in plugin in a fresh interpreter imports no other plugin's modules:
    what two plugins share lives in core (a package's private helpers, such as the atomic
    strategies' ``_reservations``, are no plugin)."""
    module = BUILTIN_PLUGINS[name]
    code = ("import importlib, sys; importlib.import_module(sys.argv[1]); "
            "print('\\n'.join(m for m in sys.modules if m.startswith('plugins.')))")
    loaded = subprocess.run([sys.executable, "-c", code, module], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    assert module in loaded
    others = [m for m in loaded for other in BUILTIN_PLUGINS.values()
              if other != module and (m == other or m.startswith(other + "."))]
    assert others == []
