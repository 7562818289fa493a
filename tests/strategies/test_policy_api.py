"""Registration, options and thread safety of the atomic strategies."""

from __future__ import annotations

import threading

import pytest

from core.config import describe_options, parse_config
from core.errors import ConfigError
from core.exec import ExitAtomic
from core.ir import MemOp
from core.machine import Machine
from tests.support.llsc import CORRECT, X, machine, variant_id
from tests.support.toy import make_plugins, read32

POLICIES = ("arm-monitor", "cmpxchg", "exclusive-bitmap", "none", "stop-the-world", "store-test")
MEMOP = MemOp.UL | MemOp.MO_ALIGN


def test_every_policy_is_a_builtin_plugin_of_its_own_name():
    reg = make_plugins().registry
    assert sorted((n, p) for n, _cls, p in reg.memory_policies) == [(n, n) for n in POLICIES]


def test_options_as_documented():
    from plugins.atomic_strategies.arm_monitor import ArmMonitorOptions
    from plugins.atomic_strategies.stop_the_world import StopTheWorldOptions
    from plugins.atomic_strategies.store_test import StoreTestOptions

    rows = {cls.__name__: [r[:4] for r in describe_options(cls)]
            for cls in (ArmMonitorOptions, StopTheWorldOptions, StoreTestOptions)}
    assert rows == {
        "ArmMonitorOptions": [("granule", "int", "64", "from 8 to 2048"),
                              ("same_pe_store_clears", "bool", "false", "")],
        "StopTheWorldOptions": [("check", "str", '"reservation"', "one of reservation, value")],
        "StoreTestOptions": [("table_size", "int", "4096", "from 1 to 1048576"),
                             ("granule", "int", "8", "from 1 to 4096")],
    }


@pytest.mark.parametrize("variant", [
    ("exclusive-bitmap", {"bitmap": "page", "protection": "range", "flush": "async",
                          "flush_scope": "page"}),
    ("arm-monitor", {"granule": 2048, "same_pe_store_clears": True}),
    ("store-test", {"table_size": 1, "granule": 1}),
    ("stop-the-world", {"check": "value"}),
], ids=variant_id)
def test_variants_are_reachable_from_the_config(variant):
    m = machine([("HALT",)], variant)
    for key, value in variant[1].items():
        assert getattr(m.policy.options, key) == value


def build(policy: str, tables: dict) -> Machine:
    config = parse_config({"machine": {"frontend": "toy", "memory_policy": policy,
                                       "ram_size": "1M"}, "plugins": tables}, "t.toml")
    return Machine(config, make_plugins())


@pytest.mark.parametrize("plugin, table, message", [
    ("arm-monitor", {"granule": 48}, "granule = 48: must be a power of two"),
    ("arm-monitor", {"granule": 4}, "granule = 4: must be from 8 to 2048"),
    ("arm-monitor", {"granule": 4096}, "granule = 4096: must be from 8 to 2048"),
    ("arm-monitor", {"granule": "64"}, 'granule = "64": expected an integer'),
    ("arm-monitor", {"granule": True}, "granule = true: expected an integer"),
    ("arm-monitor", {"same_pe_store_clears": 1},
     "same_pe_store_clears = 1: expected a boolean (true or false)"),
    ("store-test", {"table_size": 1000}, "table_size = 1000: must be a power of two"),
    ("store-test", {"table_size": 0}, "table_size = 0: must be a power of two"),
    ("store-test", {"table_size": 1 << 21}, "table_size = 2097152: must be from 1 to 1048576"),
    ("store-test", {"granule": 12}, "granule = 12: must be a power of two"),
    ("store-test", {"granule": -8}, "granule = -8: must be a power of two"),
    ("stop-the-world", {"check": "values"},
     "check = \"values\": must be one of reservation, value (did you mean 'value'?)"),
    ("cmpxchg", {"granule": 8}, "unknown key 'granule'; allowed: (none)"),
    ("none", {"x": 1}, "unknown key 'x'; allowed: (none)"),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(map(str, v.values())))
def test_bad_options_are_one_line_errors(plugin, table, message):
    # every [plugins.<name>] table is checked, whichever policy the machine uses
    for policy in (plugin, "exclusive-bitmap"):
        with pytest.raises(ConfigError) as info:
            build(policy, {plugin: table})
        text = str(info.value)
        assert "\n" not in text
        assert text.startswith(f"t.toml: [plugins.{plugin}] ")
        assert text.endswith(message), text


@pytest.mark.parametrize("variant", CORRECT, ids=variant_id)
def test_policy_is_thread_safe(variant):
    """Host threads LL/SC-incrementing through the policy API on their own vCPUs.

    stop-the-world's SC asks for exclusive mode: the thread then stops the world (a
    lock shared by the threads) and runs the SC alone, as ``step_atomic`` would."""
    m = machine([("HALT",)], variant, vcpus=4)
    policy = m.policy
    world = threading.Lock()

    def store_cond(cpu, value):
        try:
            return policy.store_cond(cpu, X, value, MEMOP)
        except ExitAtomic:
            with world:
                m.exclusive_cpu = cpu
                try:
                    return policy.store_cond(cpu, X, value, MEMOP)
                finally:
                    m.exclusive_cpu = None

    def worker(cpu):
        done = 0
        while done < 200:
            v = policy.load_link(cpu, X, MEMOP)
            if store_cond(cpu, v + 1) == 0:
                done += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in m.cpus]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert read32(m, X) == 800
    assert policy.totals()["sc_ok"] == 800
