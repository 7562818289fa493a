"""Tests for the plugin system: hook specs, built-ins, the registry, disabling, entry points, CLI.

A throwaway plugin (:class:`MinePlugin`) registers a backend, a memory policy with
options, a frontend and a new IR op exactly as a third-party plugin would, and a tiny
real distribution built in ``tmp_path`` proves the ``tcglab`` entry-point group.
"""

from __future__ import annotations

import inspect
import json
import re
import sys

import pytest
from attrs import define

import core.plugins
from core import hookspecs
from core.backend import Backend
from core.builder import Builder, IRError
from core.cli import main
from core.config import option, parse_config
from core.errors import ConfigError, PluginError
from core.hookspecs import hookimpl
from core.ir import BASE_OPS, I32, OpDef, OpFlag, TranslationBlock
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.memory_policy import MemoryPolicy, PolicyStats
from core.plugins import AUTOLOAD_ENV, BUILTIN_PLUGINS, PluginManager
from plugins.tcg_backends.interp import InterpBackend
from tests import toyisa
from tests.support.toy import DATA, read32

CORE_PLUGINS = ("exclusive-bitmap", "interp", "llsc")  # the built-ins these tests rely on
LLSC_OPS = [f"qemu_{kind}_i{bits}" for kind in ("ldlink", "stcond") for bits in (8, 16, 32, 64)]


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    return message


@pytest.fixture(autouse=True)
def hermetic(monkeypatch):
    """Only the three core built-ins: no installed plugin (tests opt back in to autoload),
    and no built-in added later (a frontend) changes what these tests expect."""
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    assert set(CORE_PLUGINS) <= set(BUILTIN_PLUGINS)
    for name in set(BUILTIN_PLUGINS) - set(CORE_PLUGINS):
        monkeypatch.delitem(BUILTIN_PLUGINS, name)


# -- hook specs -------------------------------------------------------------------------


def _spec_functions():
    return {name: obj for name, obj in vars(hookspecs).items()
            if inspect.isfunction(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")}


def test_every_spec_has_the_project_prefix():
    specs = _spec_functions()
    assert len(specs) >= 7
    assert [n for n in specs if not n.startswith("tcglab_")] == []
    # and everything that looks like a hook in the module is declared as one
    tcglab_functions = {n for n, o in vars(hookspecs).items()
                        if n.startswith("tcglab_") and inspect.isfunction(o)}
    assert tcglab_functions == set(specs)


def test_every_spec_documents_its_parameters():
    undocumented = []
    for name, spec in _spec_functions().items():
        doc = inspect.getdoc(spec) or ""
        lines = doc.splitlines()
        if not lines or not lines[0].strip():
            undocumented.append(f"{name}: no summary line")
            continue
        if len(lines) > 1 and lines[1].strip():
            undocumented.append(f"{name}: summary is not a single line")
        for param in inspect.signature(spec).parameters:
            if not re.search(rf"^:param {param}:", doc, re.MULTILINE):
                undocumented.append(f"{name}: no ':param {param}:'")
    assert undocumented == [], "hook specs lacking documentation: " + "; ".join(undocumented)


def test_specs_are_what_the_plugin_manager_knows():
    pm = PluginManager(autoload=False)
    for name in _spec_functions():
        assert getattr(pm.hook, name).spec is not None, name


# -- built-in plugins -------------------------------------------------------------------


@pytest.fixture
def builtin_pm():
    return PluginManager(autoload=False)


def test_builtins_are_registered_by_name(builtin_pm):
    assert builtin_pm.plugin_names() == ["exclusive-bitmap", "interp", "llsc"]
    assert BUILTIN_PLUGINS["interp"] == InterpBackend.__module__


def test_builtins_fill_the_registry(builtin_pm):
    reg = builtin_pm.registry
    assert [(n, p) for n, _, p in reg.backends] == [("interp", "interp")]
    assert reg.backend("interp") is InterpBackend
    assert [(n, p) for n, _, p in reg.memory_policies] == [("exclusive-bitmap", "exclusive-bitmap")]
    assert list(reg.frontends) == []  # no frontend is built in
    for name in LLSC_OPS:
        assert reg.op_providers[name] == "llsc", name
        assert reg.optable[name].provider == "llsc"
    for opdef in BASE_OPS:
        assert reg.op_providers[opdef.name] == "core"
        assert reg.optable[opdef.name].provider == "core"
    assert len(reg.optable) == len(BASE_OPS) + len(LLSC_OPS)


def test_listing_shape(builtin_pm):
    listing = builtin_pm.registry.listing()
    assert list(listing) == ["frontends", "backends", "memory_policies", "workloads", "ops"]
    for kind, rows in listing.items():
        assert [r["name"] for r in rows] == sorted(r["name"] for r in rows), kind
        for row in rows:
            # a memory policy also says what it counts (its Stats' descriptions)
            extra = {"counters"} if kind == "memory_policies" else set()
            assert set(row) == {"name", "plugin", "description"} | extra
            assert "\n" not in row["description"]
    assert listing["frontends"] == []
    assert listing["backends"] == [{
        "name": "interp", "plugin": "interp",
        "description": "IR interpreter: the reference every other backend is compared with."}]
    assert [(r["name"], r["plugin"]) for r in listing["memory_policies"]] == \
        [("exclusive-bitmap", "exclusive-bitmap")]
    ops = {r["name"]: r for r in listing["ops"]}
    assert ops["qemu_ldlink_i32"]["plugin"] == "llsc"
    assert ops["qemu_ldlink_i32"]["description"].startswith("d = load-link 32 bits")
    assert ops["add_i32"] == {"name": "add_i32", "plugin": "core", "description": "d = a + b"}
    assert len(ops) == len(BASE_OPS) + len(LLSC_OPS)


# -- a throwaway plugin -----------------------------------------------------------------


def _mac(cpu, a, b):
    return (a * 3 + b) & 0xFFFF_FFFF


MAC_OP = OpDef("mine_mac_i32", 1, 2, 0, OpFlag.NONE, _mac, (I32, I32, I32), "d = a * 3 + b")
MAC_OPCODE = 0x40  # not a toy opcode: only MineFrontend decodes it


def enc_mac(rd: int, ra: int, rb: int) -> int:
    return (MAC_OPCODE << 24) | (rd << 20) | (ra << 16) | rb


class CountingInterp(InterpBackend):
    """The interpreter, counting the TBs it compiles."""

    name = "counting-interp"

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        self.compiles = 0

    def compile(self, tb):
        self.compiles += 1
        super().compile(tb)


@define(frozen=True)
class MineOptions:
    sc: str = option("fail", choices=("fail", "succeed"), doc="what every SC does")
    delay: int = option(0, min=0, max=9, doc="unused; shows a range")


class MinePolicy(MemoryPolicy):
    """A policy whose SC always fails, or always stores and succeeds."""

    name = "mine-policy"
    Options = MineOptions

    def store_cond(self, cpu, addr, value, memop):
        if self.options.sc == "fail":
            return super().store_cond(cpu, addr, value, memop)
        self.stats[cpu.index].sc_ok += 1
        cpu.mmu.store_slow(addr, value, memop)
        return 0


class MineFrontend(toyisa.ToyFrontend):
    """The toy ISA plus MAC rd, ra, rb (the plugin's op)."""

    name = "toy-mine"

    def translate_insn(self, ctx, b):
        pc = ctx.pc_next
        word = ctx.ld_code32(pc)
        if word >> 24 != MAC_OPCODE:
            return super().translate_insn(ctx, b)
        ctx.pc_next = pc + 4
        b.mine_mac_i32(self.r[(word >> 20) & 15], self.r[(word >> 16) & 15], self.r[word & 15])


class MinePlugin:
    """A third-party plugin as a class instance with ``@hookimpl`` methods."""

    def __init__(self):
        self.created: list[Machine] = []
        self.finished: list[str] = []

    @hookimpl
    def tcglab_register_ops(self, registry):
        registry.add_op(MAC_OP)

    @hookimpl
    def tcglab_register_backends(self, registry):
        registry.add_backend(CountingInterp)

    @hookimpl
    def tcglab_register_memory_policies(self, registry):
        registry.add_memory_policy(MinePolicy)

    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(MineFrontend)

    @hookimpl
    def tcglab_machine_created(self, machine):
        self.created.append(machine)

    @hookimpl
    def tcglab_run_finished(self, result):  # a hookimpl may take a subset of the arguments
        self.finished.append(result.reason)


@pytest.fixture
def mine():
    """A plugin manager with the toy ISA and MinePlugin; MinePlugin is unregistered after."""
    plugin = MinePlugin()
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("mine", plugin)])
    yield pm, plugin
    pm.pm.unregister(name="mine")
    assert "mine" not in pm.plugin_names()
    assert not pm.has_impl("tcglab_machine_created")


def mine_machine(pm, program, *, backend="interp", policy="exclusive-bitmap", tables=None,
                 optimize=True):
    data = {"machine": {"frontend": "toy-mine", "backend": backend, "memory_policy": policy,
                        "ram_size": "1M", "optimize": optimize},
            "schedule": {"max_insns": 1000},
            "plugins": tables or {}}
    m = Machine(parse_config(data, "<test>"), pm)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(program))
    return m


MAC_PROGRAM = [*toyisa.li(1, 5), *toyisa.li(2, 7), ("RAW", enc_mac(3, 1, 2)), ("EXIT", 0, 3)]


def test_plugin_registers_each_kind_under_its_name(mine):
    pm, _ = mine
    assert pm.plugin_names() == ["exclusive-bitmap", "interp", "llsc", "mine", "toyisa"]
    reg = pm.registry
    assert reg.backend("counting-interp") is CountingInterp
    assert reg.memory_policy("mine-policy") is MinePolicy
    assert reg.frontend("toy-mine") is MineFrontend
    assert reg.frontend("toy") is toyisa.ToyFrontend
    listing = reg.listing()
    assert {"name": "counting-interp", "plugin": "mine",
            "description": "The interpreter, counting the TBs it compiles."} in listing["backends"]
    assert {"name": "mine_mac_i32", "plugin": "mine", "description": "d = a * 3 + b"} in listing["ops"]
    assert ("toy", "toyisa") in [(r["name"], r["plugin"]) for r in listing["frontends"]]
    # the registry stamps the provider on the op; the plugin's OpDef is left alone
    assert reg.optable["mine_mac_i32"].provider == "mine"
    assert MAC_OP.provider == "core"


def test_plugin_op_is_checked_by_the_builder(mine):
    pm, _ = mine
    tb = TranslationBlock(RAM_BASE, 0)
    b = Builder(tb, pm.registry.optable)
    d, x, y = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32()
    op = b.mine_mac_i32(d, x, y)
    assert op.opdef.name == "mine_mac_i32" and tb.ops == [op]
    with pytest.raises(IRError, match="mine_mac_i32: expected 1 outputs, 2 inputs"):
        b.mine_mac_i32(d, x)
    with pytest.raises(IRError, match=r"argument 1 .* is i64, expected i32"):
        b.emit("mine_mac_i32", d, b.temp_new_i64(), y)
    # without the plugin the op does not exist
    bare = Builder(TranslationBlock(RAM_BASE, 0), PluginManager(autoload=False).registry.optable)
    with pytest.raises(AttributeError):
        bare.mine_mac_i32
    with pytest.raises(IRError, match="unknown IR op 'mine_mac_i32'"):
        bare.emit("mine_mac_i32", d, x, y)


@pytest.mark.parametrize("backend", ["interp", "counting-interp"])
@pytest.mark.parametrize("optimize", [False, True])
def test_plugin_op_runs_under_the_interpreter(mine, backend, optimize):
    pm, plugin = mine
    m = mine_machine(pm, MAC_PROGRAM, backend=backend, optimize=optimize)
    assert plugin.created == [m]
    result = m.run()
    assert (result.reason, result.exit_status) == ("exit", 5 * 3 + 7)
    assert plugin.finished == ["exit"]
    ran = any(op.name == "mine_mac_i32" for tb in m.translator.cache.values() for op in tb.ops)
    # the optimiser folds the pure plugin op (constant inputs) with its own semantics
    assert ran is not optimize
    if backend == "counting-interp":
        assert isinstance(m.backend, CountingInterp)
        assert m.backend.compiles == m.translator.translated >= 1
    else:
        assert type(m.backend) is InterpBackend


LLSC_PROGRAM = [*toyisa.li(1, DATA), ("MOVI", 2, 0, 42), ("LL", 3, 1, 0), ("SC", 4, 2, 1),
                ("EXIT", 0, 4)]


def test_plugin_policy_with_default_options(mine):
    pm, _ = mine
    m = mine_machine(pm, LLSC_PROGRAM, policy="mine-policy")
    assert isinstance(m.policy, MinePolicy)
    assert m.policy.options == MineOptions("fail", 0)
    result = m.run()
    assert result.exit_status == 1  # SC failed
    assert read32(m, DATA) == 0
    assert result.stats["policy"]["name"] == "mine-policy"
    assert result.stats["policy"]["total"]["sc_fail"] == 1


def test_plugin_policy_options_come_from_its_table(mine):
    pm, _ = mine
    m = mine_machine(pm, LLSC_PROGRAM, policy="mine-policy",
                     tables={"mine-policy": {"sc": "succeed", "delay": 3}})
    assert m.policy.options == MineOptions("succeed", 3)
    result = m.run()
    assert result.exit_status == 0
    assert read32(m, DATA) == 42
    assert result.stats["policy"]["total"]["sc_ok"] == 1


@pytest.mark.parametrize("table, expected", [
    ({"sc": "sucess"}, '<test>: [plugins.mine-policy] sc = "sucess": must be one of fail, succeed '
                       "(did you mean 'succeed'?)"),
    ({"delay": 10}, "<test>: [plugins.mine-policy] delay = 10: must be from 0 to 9"),
    ({"dealy": 1}, "<test>: [plugins.mine-policy] unknown key 'dealy' (did you mean 'delay'?); "
                   "allowed: sc, delay"),
])
def test_plugin_policy_options_are_validated(mine, table, expected):
    pm, _ = mine
    with pytest.raises(ConfigError) as info:
        mine_machine(pm, LLSC_PROGRAM, policy="mine-policy", tables={"mine-policy": table})
    assert one_line(info.value) == expected


# -- disabling --------------------------------------------------------------------------


@pytest.mark.parametrize("disable, expected", [
    (["interp"], ["exclusive-bitmap", "llsc"]),
    (["llsc", "exclusive-bitmap"], ["interp"]),
])
def test_plugin_names_leave_out_disabled_plugins(disable, expected):
    assert PluginManager(disable, autoload=False).plugin_names() == expected


def test_plugin_names_leave_out_a_disabled_extra_plugin():
    pm = PluginManager(["mine"], autoload=False, extra=[("mine", MinePlugin())])
    assert "mine" not in pm.plugin_names()


def test_disabled_builtin_is_not_registered():
    pm = PluginManager(["interp"], autoload=False)
    assert pm.pm.get_plugin("interp") is None and pm.pm.is_blocked("interp")
    assert "interp" not in pm.registry.backends
    assert pm.registry.listing()["backends"] == []
    assert "qemu_ldlink_i32" in pm.registry.optable  # the others are unaffected


def test_machine_without_the_disabled_backend_says_why():
    pm = PluginManager(["interp"], autoload=False, extra=[("toyisa", toyisa)])
    config = parse_config({"machine": {"frontend": "toy"}}, "<test>")
    with pytest.raises(PluginError) as info:
        Machine(config, pm)
    message = one_line(info.value)
    assert message.startswith("<test>: [machine] backend: unknown backend 'interp'")
    assert "registered: none" in message
    assert "may not be installed, or may be disabled" in message


def test_machine_without_the_disabled_policy_lists_what_is_registered():
    plugin = MinePlugin()
    pm = PluginManager(["exclusive-bitmap"], autoload=False,
                       extra=[("toyisa", toyisa), ("mine", plugin)])
    config = parse_config({"machine": {"frontend": "toy"}}, "<test>")
    with pytest.raises(PluginError) as info:
        Machine(config, pm)
    assert one_line(info.value) == (
        "<test>: [machine] memory_policy: unknown memory policy 'exclusive-bitmap'; "
        "registered: mine-policy (a plugin providing it may not be installed, or may be disabled)")


def test_disabling_an_unknown_plugin(monkeypatch):
    monkeypatch.setattr("core.plugins._entry_points", lambda: [])  # installed plugins aside
    with pytest.raises(PluginError) as info:
        PluginManager(["intrep"], autoload=False)
    assert one_line(info.value) == ("[plugins] disable: unknown plugin 'intrep' (did you mean "
                                    "'interp'?); known plugins: exclusive-bitmap, interp, llsc")


def test_disabling_an_extra_plugin():
    pm = PluginManager(["mine"], autoload=False, extra=[("mine", MinePlugin())])
    assert pm.pm.get_plugin("mine") is None
    assert "counting-interp" not in pm.registry.backends


def test_config_disable_flows_through_machine(monkeypatch):
    # make the toy ISA a built-in so that Machine(config) builds its own plugin manager
    monkeypatch.setitem(BUILTIN_PLUGINS, "toyisa", "tests.toyisa")
    config = parse_config({"machine": {"frontend": "toy"}, "plugins": {"disable": ["interp"]}},
                          "tcglab.toml")
    with pytest.raises(PluginError) as info:
        Machine(config)
    assert one_line(info.value).startswith("tcglab.toml: [machine] backend: unknown backend 'interp'")

    ok = Machine(parse_config({"machine": {"frontend": "toy"},
                               "plugins": {"disable": ["llsc"]}}, "tcglab.toml"))
    assert ok.plugins.pm.is_blocked("llsc")
    assert "qemu_ldlink_i32" not in ok.registry.optable
    assert isinstance(ok.backend, InterpBackend)


def test_config_disable_of_an_unknown_plugin_fails_in_machine():
    config = parse_config({"plugins": {"disable": ["llcs"]}}, "tcglab.toml")
    with pytest.raises(PluginError, match=r"unknown plugin 'llcs' \(did you mean 'llsc'\?\)"):
        Machine(config)


# -- duplicates -------------------------------------------------------------------------


class _Registers:
    """A plugin whose every registration hook calls ``add`` with ``item``."""

    def __init__(self, hook: str, add: str, item):
        def impl(registry):
            getattr(registry, add)(item)
        setattr(self, hook, hookimpl(impl))


class _DupBackend(InterpBackend):
    name = "interp"


class _DupPolicy(MemoryPolicy):
    name = "exclusive-bitmap"


@pytest.mark.parametrize("hook, add, item, kind, name, first", [
    ("tcglab_register_backends", "add_backend", _DupBackend, "backend", "interp", "interp"),
    ("tcglab_register_memory_policies", "add_memory_policy", _DupPolicy, "memory_policy",
     "exclusive-bitmap", "exclusive-bitmap"),
    ("tcglab_register_ops", "add_op", OpDef("qemu_ldlink_i32", 1, 1, 1, OpFlag.NONE,
                                                       _mac, (I32, I32)), "op", "qemu_ldlink_i32",
     "llsc"),
    ("tcglab_register_ops", "add_op", OpDef("add_i32", 1, 2, 0, OpFlag.NONE, _mac,
                                                       (I32, I32, I32)), "op", "add_i32", "core"),
])
def test_duplicate_names_fail_naming_both_plugins(hook, add, item, kind, name, first):
    with pytest.raises(PluginError) as info:
        PluginManager(autoload=False, extra=[("dup", _Registers(hook, add, item))])
    message = one_line(info.value)
    assert message.startswith(f"{kind} {name!r} is registered by both plugin ")
    assert f"plugin {first!r}" in message and "plugin 'dup'" in message


def test_duplicate_between_two_third_party_plugins():
    with pytest.raises(PluginError) as info:
        PluginManager(autoload=False, extra=[("one", MinePlugin()), ("two", MinePlugin())])
    message = one_line(info.value)
    assert "is registered by both plugin" in message
    assert "'one'" in message and "'two'" in message


@pytest.mark.parametrize("hook, add, item, expected", [
    ("tcglab_register_backends", "add_backend", Backend,
     "plugin 'bad' registered a backend without a name"),
    ("tcglab_register_ops", "add_op", "add_i32", "plugin 'bad' passed 'add_i32' to add_op"),
    ("tcglab_register_ops", "add_op", OpDef("bad_op", 1, 0, 0, OpFlag.NONE, None, (I32,)),
     "plugin 'bad': op 'bad_op' has no reference semantics (impl)"),
    ("tcglab_register_ops", "add_op", OpDef("bad_op", 1, 0, 0, OpFlag.NONE, _mac, ()),
     "plugin 'bad': op 'bad_op': types has 0 entries, expected 1"),
])
def test_malformed_registrations(hook, add, item, expected):
    with pytest.raises(PluginError) as info:
        PluginManager(autoload=False, extra=[("bad", _Registers(hook, add, item))])
    assert one_line(info.value).startswith(expected)


# -- unknown names in [machine] ---------------------------------------------------------


@pytest.mark.parametrize("key, value, kind, suggestion, registered", [
    ("backend", "intrep", "backend", "interp", "interp"),
    ("memory_policy", "exclusive-bitmp", "memory policy", "exclusive-bitmap", "exclusive-bitmap"),
    ("frontend", "toyy", "frontend", "toy", "toy"),
])
def test_unknown_component_names(key, value, kind, suggestion, registered):
    machine = {"frontend": "toy", key: value}
    config = parse_config({"machine": machine}, "tcglab.toml")
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa)])
    with pytest.raises(PluginError) as info:
        Machine(config, pm)
    assert one_line(info.value) == (
        f"tcglab.toml: [machine] {key}: unknown {kind} {value!r} (did you mean {suggestion!r}?); "
        f"registered: {registered} (a plugin providing it may not be installed, or may be disabled)")


# -- plugins that raise -----------------------------------------------------------------


class _Raises:
    def __init__(self, hook: str, exc: Exception):
        def impl(*args):  # pluggy passes the spec's arguments positionally
            raise exc
        impl.__signature__ = inspect.signature(getattr(hookspecs, hook))
        setattr(self, hook, hookimpl(impl))


@pytest.mark.parametrize("hook", ["tcglab_register_ops", "tcglab_register_frontends",
                                  "tcglab_register_backends", "tcglab_register_memory_policies"])
def test_plugin_raising_in_a_registration_hook(hook):
    with pytest.raises(PluginError) as info:
        PluginManager(autoload=False, extra=[("x", _Raises(hook, ValueError("bad width 7")))])
    assert one_line(info.value) == f"plugin 'x' raised in {hook}: ValueError: bad width 7"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_plugin_raising_a_tcglab_error_keeps_its_message():
    with pytest.raises(ConfigError, match="^mine: no such thing$"):
        PluginManager(autoload=False, extra=[
            ("x", _Raises("tcglab_register_backends", ConfigError("mine: no such thing")))])


def test_plugin_raising_in_machine_created():
    pm = PluginManager(autoload=False, extra=[
        ("toyisa", toyisa), ("x", _Raises("tcglab_machine_created", RuntimeError("no MMIO")))])
    with pytest.raises(PluginError) as info:
        Machine(parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>"), pm)
    assert one_line(info.value) == \
        "plugin 'x' raised in tcglab_machine_created: RuntimeError: no MMIO"


def test_plugin_raising_in_run_finished():
    pm = PluginManager(autoload=False, extra=[
        ("toyisa", toyisa), ("x", _Raises("tcglab_run_finished", KeyError("insns")))])
    m = Machine(parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>"), pm)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble([("MOVI", 1, 0, 3), ("EXIT", 0, 1)]))
    with pytest.raises(PluginError) as info:
        m.run()
    assert one_line(info.value) == "plugin 'x' raised in tcglab_run_finished: KeyError: 'insns'"


def test_plugin_raising_in_tb_translated():
    pm = PluginManager(autoload=False, extra=[
        ("toyisa", toyisa), ("x", _Raises("tcglab_tb_translated", AssertionError("boom")))])
    m = Machine(parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>"), pm)
    assert m.translator._announce
    m.memory.write_bytes(RAM_BASE, toyisa.assemble([("EXIT", 0, 1)]))
    with pytest.raises(PluginError, match="^plugin 'x' raised in tcglab_tb_translated: "
                                          "AssertionError: boom$"):
        m.run()


# -- plugin option tables ---------------------------------------------------------------


def _toy_config(tables, **machine):
    return parse_config({"machine": {"frontend": "toy", "ram_size": "1M", **machine},
                         "plugins": tables}, "tcglab.toml")


def _toy_pm():
    return PluginManager(autoload=False, extra=[("toyisa", toyisa)])


def test_policy_options_reach_the_policy():
    m = Machine(_toy_config({}), _toy_pm())
    assert m.policy.options.flush == "sync" and not m.policy.async_flush
    m = Machine(_toy_config({"exclusive-bitmap": {"flush": "async", "bitmap": "page"}}), _toy_pm())
    assert m.policy.options.flush == "async" and m.policy.async_flush
    assert m.policy.options.bitmap == "page" and not m.policy.per_vcpu


def test_policy_option_with_a_bad_choice():
    with pytest.raises(ConfigError) as info:
        Machine(_toy_config({"exclusive-bitmap": {"flush": "later"}}), _toy_pm())
    assert one_line(info.value) == \
        'tcglab.toml: [plugins.exclusive-bitmap] flush = "later": must be one of sync, async'


def test_options_table_for_an_unknown_plugin():
    with pytest.raises(ConfigError) as info:
        Machine(_toy_config({"nosuch": {"x": 1}}), _toy_pm())
    message = one_line(info.value)
    assert message.startswith("tcglab.toml: unknown plugin table [plugins.nosuch]; known: ")
    assert "known: exclusive-bitmap, interp, llsc, toy, toyisa " in message
    assert "may not be installed, or may be disabled" in message


def test_options_table_with_a_typo_suggests_the_plugin():
    with pytest.raises(ConfigError, match=r"\[plugins.exclusive-bitmp\] \(did you mean "
                                          r"'exclusive-bitmap'\?\)"):
        Machine(_toy_config({"exclusive-bitmp": {"flush": "async"}}), _toy_pm())


def test_options_table_of_a_disabled_plugin_is_unknown():
    pm = PluginManager(["exclusive-bitmap"], autoload=False,
                       extra=[("toyisa", toyisa), ("mine", MinePlugin())])
    config = _toy_config({"exclusive-bitmap": {"flush": "async"}}, memory_policy="mine-policy")
    with pytest.raises(ConfigError, match=r"unknown plugin table \[plugins.exclusive-bitmap\]"):
        Machine(config, pm)


def test_options_table_of_an_unselected_policy_is_still_validated():
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), ("mine", MinePlugin())])
    config = _toy_config({"exclusive-bitmap": {"flsuh": "async"}}, memory_policy="mine-policy")
    with pytest.raises(ConfigError, match=r"unknown key 'flsuh'"):
        Machine(config, pm)


def test_options_table_of_a_plugin_without_options_must_be_empty():
    with pytest.raises(ConfigError, match=r"\[plugins.interp\] unknown key 'fast'"):
        Machine(_toy_config({"interp": {"fast": True}}), _toy_pm())


# -- entry points -----------------------------------------------------------------------

DEMO_MODULE = "tcglab_demo_plugin"
BROKEN_MODULE = "tcglab_broken_plugin"

DEMO_SOURCE = '''\
from core.hookspecs import hookimpl
from core.memory_policy import MemoryPolicy


class DemoPolicy(MemoryPolicy):
    """A policy from an installed distribution."""

    name = "demo-policy"


@hookimpl
def tcglab_register_memory_policies(registry):
    registry.add_memory_policy(DemoPolicy)
'''


def make_distribution(root, module, source, ep_name, dist_name):
    """``module.py`` plus ``<module>-0.1.dist-info`` declaring ``[tcglab] ep_name = module``."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[tcglab]\n{ep_name} = {module}\n")


@pytest.fixture
def demo_dist(tmp_path, monkeypatch):
    make_distribution(tmp_path, DEMO_MODULE, DEMO_SOURCE, "demo", "tcglab-demo-plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(AUTOLOAD_ENV)
    yield tmp_path
    sys.modules.pop(DEMO_MODULE, None)
    sys.modules.pop(BROKEN_MODULE, None)


def test_entry_point_plugin_is_autoloaded(demo_dist):
    assert "demo" in [ep.name for ep in core.plugins._entry_points()]
    pm = PluginManager()
    assert "demo" in pm.plugin_names()
    assert pm.registry.memory_policy("demo-policy").__module__ == DEMO_MODULE
    assert {"name": "demo-policy", "plugin": "demo",
            "description": "A policy from an installed distribution.",
            "counters": PolicyStats.descriptions()} in pm.registry.listing()["memory_policies"]


def test_entry_point_plugin_is_selectable_in_config(demo_dist, monkeypatch):
    monkeypatch.setitem(BUILTIN_PLUGINS, "toyisa", "tests.toyisa")
    m = Machine(parse_config({"machine": {"frontend": "toy", "memory_policy": "demo-policy",
                                          "ram_size": "1M"}}, "<test>"))
    assert m.policy.name == "demo-policy"
    assert type(m.policy).__module__ == DEMO_MODULE


@pytest.mark.parametrize("how", ["env", "argument"])
def test_autoload_can_be_turned_off(demo_dist, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv(AUTOLOAD_ENV, "1")
        pm = PluginManager()
    else:
        pm = PluginManager(autoload=False)
    assert "demo" not in pm.plugin_names()
    assert "demo-policy" not in pm.registry.memory_policies
    assert DEMO_MODULE not in sys.modules  # not even imported


def test_config_disable_blocks_an_entry_point_plugin(demo_dist):
    config = parse_config({"plugins": {"disable": ["demo"]}}, "tcglab.toml")
    pm = PluginManager(config.plugins.disable)
    assert pm.pm.get_plugin("demo") is None
    assert "demo-policy" not in pm.registry.memory_policies
    assert DEMO_MODULE not in sys.modules  # not even imported


def test_entry_point_names_are_known_to_disable(demo_dist):
    with pytest.raises(PluginError) as info:
        PluginManager(["dem"])
    known = sorted({*CORE_PLUGINS, *(ep.name for ep in core.plugins._entry_points())})
    assert one_line(info.value) == ("[plugins] disable: unknown plugin 'dem' (did you mean "
                                    f"'demo'?); known plugins: {', '.join(known)}")
    assert "demo" in known


def test_entry_point_that_fails_to_import(demo_dist):
    make_distribution(demo_dist, BROKEN_MODULE, "raise ImportError('needs libfoo')\n",
                      "broken", "tcglab-broken-plugin")
    with pytest.raises(PluginError) as info:
        PluginManager()
    assert one_line(info.value) == (f"plugin 'broken' (entry point {BROKEN_MODULE}) failed to "
                                    "load: ImportError: needs libfoo")
    # disabling the broken plugin is the way out
    pm = PluginManager(["broken"])
    assert pm.pm.get_plugin("broken") is None
    assert "demo-policy" in pm.registry.memory_policies


def test_plugin_names_leave_out_a_disabled_entry_point_plugin(demo_dist):
    assert "demo" not in PluginManager(["demo"]).plugin_names()


# -- the command line -------------------------------------------------------------------


def test_cli_plugins_json(capsys):
    assert main(["plugins", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    listing = json.loads(out)
    assert set(listing) == {"frontends", "backends", "memory_policies", "workloads", "ops",
                            "plugins"}
    assert listing["plugins"] == ["exclusive-bitmap", "interp", "llsc"]

    def plugin_of(kind, name):
        return {r["name"]: r["plugin"] for r in listing[kind]}[name]

    assert plugin_of("backends", "interp") == "interp"
    assert plugin_of("memory_policies", "exclusive-bitmap") == "exclusive-bitmap"
    assert plugin_of("ops", "qemu_ldlink_i32") == "llsc"
    assert plugin_of("ops", "add_i32") == "core"


def test_cli_plugins_json_honours_disable(capsys):
    assert main(["plugins", "--json", "--set", 'plugins.disable=["llsc"]']) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "qemu_ldlink_i32" not in {r["name"] for r in listing["ops"]}
    assert "add_i32" in {r["name"] for r in listing["ops"]}


def test_cli_plugins_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside cells
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for title in ("frontends", "backends", "memory policies", "ops"):
        assert re.search(rf"^{title}\b", out, re.MULTILINE), title
    assert re.search(r"\binterp\b.*\binterp\b.*IR interpreter", out)
    assert re.search(r"\bexclusive-bitmap\b.*\bexclusive-bitmap\b", out)
    assert re.search(r"\bqemu_ldlink_i32\b.*\bllsc\b.*load-link 32 bits", out)
    assert "(none installed)" in out  # no frontend is built in


def test_cli_run_without_a_frontend(capsys):
    status = main(["run", "x.elf"])
    assert status != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("tcglab: error: no guest frontend is installed")
    assert "x.elf" in err and "Traceback" not in err


def test_cli_bad_override(capsys):
    assert main(["plugins", "--set", "machine.vcpus=0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "tcglab: error: --set machine.vcpus=0: [machine] vcpus = 0: must be from 1 to 64\n"


def test_cli_plugins_json_lists_only_enabled_plugins(capsys):
    assert main(["plugins", "--json", "--set", 'plugins.disable=["llsc"]']) == 0
    assert json.loads(capsys.readouterr().out)["plugins"] == ["exclusive-bitmap", "interp"]


def test_cli_unknown_disabled_plugin(capsys):
    assert main(["plugins", "--set", 'plugins.disable=["intrep"]']) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown plugin 'intrep' (did you mean 'interp'?)" in err
