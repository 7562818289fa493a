"""Counters are declared by whoever keeps them: core's PolicyStats holds what every
memory policy counts, a policy's own ``Stats`` adds the rest, and compare's JSON, CSV
and table show for each policy what it declares, and nothing it does not."""

from __future__ import annotations

import csv
import json

import pytest
from attrs import define

import core.cli as cli
from core import report
from core.compare import POLICY_KEYS
from core.counters import Counters, counter
from core.cpu import CPUStats
from core.memory_policy import MemoryPolicy, PolicyStats
from tests.support.toy import make_plugins, toy_machine
from tests.toyisa import li

X = 0x4001_0000
COMMON = ("ll", "sc_ok", "sc_fail", "sc_spurious")


def policies():
    registered = make_plugins().registry.memory_policies.items
    return {name: cls for name, (cls, _plugin) in registered.items()}


def test_core_keeps_only_what_every_policy_counts():
    assert PolicyStats.names() == COMMON == POLICY_KEYS
    assert policies()["none"].Stats is PolicyStats


@pytest.mark.parametrize("name,own", [
    ("exclusive-bitmap", ("slow_stores", "tlb_flushes")),
    ("arm-monitor", ("slow_stores", "tlb_flushes")),
    ("stop-the-world", ("slow_stores", "tlb_flushes", "stop_the_world")),
    ("store-test", ("slow_stores", "helper_calls")),
    ("cmpxchg", ("helper_calls",)),
])
def test_a_policy_declares_its_own_counters_each_with_a_description(name, own):
    stats = policies()[name].Stats
    assert stats.names() == COMMON + own
    assert all(doc and "\n" not in doc for doc in stats.descriptions().values())


def test_every_counter_record_describes_each_counter():
    for record in (CPUStats, PolicyStats):
        assert record.descriptions().keys() == set(record.names())
        assert all(record.descriptions().values())


def test_totals_hold_exactly_the_declared_counters():
    program = li(1, X) + [("LL", 2, 1, 0), ("ADDI", 2, 2, 1), ("SC", 3, 2, 1), ("EXIT", 0, 3)]
    m = toy_machine(program, policy="stop-the-world")
    m.run()
    totals = m.stats()["policy"]["total"]
    assert tuple(totals) == policies()["stop-the-world"].Stats.names()
    assert totals["stop_the_world"] == totals["sc_ok"] == 1
    m = toy_machine(program, policy="none")
    m.run()
    assert tuple(m.stats()["policy"]["total"]) == COMMON


def test_a_third_party_record_sums_and_names_its_counters():
    @define
    class ProbeStats(PolicyStats):
        probes: int = counter("times the probe fired")

    class Probe(MemoryPolicy):
        name = "probe"
        Stats = ProbeStats

    m = toy_machine([("EXIT", 0, 0)], vcpus=3)
    policy = Probe(m)
    for i, st in enumerate(policy.stats):
        st.probes += i + 1
    assert policy.totals() == {"ll": 0, "sc_ok": 0, "sc_fail": 0, "sc_spurious": 0, "probes": 6}
    assert ProbeStats.descriptions()["probes"] == "times the probe fired"
    assert isinstance(policy.stats[0], Counters)


def test_compare_shows_what_each_policy_declares(tmp_path, capsys):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    status = cli.main(["compare", "counter", "--strategies", "none,stop-the-world",
                       "--vcpus", "2", "--seeds", "1", "--jobs", "1", "--no-progress",
                       "--json", str(js), "--csv", str(cs)])
    out = capsys.readouterr().out
    assert status == 0
    data = report.load_json(str(js))
    by_strategy = {r["strategy"]: r["policy"] for r in data["runs"]}
    assert tuple(by_strategy["none"]) == COMMON  # declares nothing of its own
    assert tuple(by_strategy["stop-the-world"]) == COMMON + ("slow_stores", "tlb_flushes",
                                                             "stop_the_world")
    assert by_strategy["stop-the-world"]["stop_the_world"] > 0
    cells = {c["strategy"]: c["policy"] for c in data["cells"]}
    assert "stop_the_world" not in cells["none"] and cells["stop-the-world"]["stop_the_world"]
    with open(cs, newline="") as f:
        rows = {row["strategy"]: row for row in csv.DictReader(f)}
    assert rows["none"]["policy.stop_the_world"] == ""  # not a counter of none's
    assert int(rows["stop-the-world"]["policy.stop_the_world"]) == \
        cells["stop-the-world"]["stop_the_world"]
    assert "helper_calls" not in open(cs).read()  # no policy in the grid declares it
    assert report.load_csv(str(cs)) == data["cells"]
    # the table: core's columns for both, the policy's own counters where it has them
    own = {c["strategy"]: report.own_counters_text(c["policy"]) for c in data["cells"]}
    assert own["none"] == ""
    assert own["stop-the-world"].startswith("slow_stores ") and "stop_the_world " in own[
        "stop-the-world"]
    assert "own counters" in out and "stop_the_world" in out


def test_tcglab_plugins_says_what_each_policy_counts(capsys):
    assert cli.main(["plugins", "--json"]) == 0
    listed = {row["name"]: row["counters"]
              for row in json.loads(capsys.readouterr().out)["memory_policies"]}
    for name, cls in policies().items():
        assert listed[name] == cls.Stats.descriptions()
    assert cli.main(["plugins"]) == 0
    text = capsys.readouterr().out
    table = text[text.index("memory policy counters"):text.index("workloads")]
    # a counter only one policy keeps is credited to it, with what it counts
    row = next(line for line in table.splitlines() if "stop_the_world" in line)
    assert "stop-the-world" in row and "SCs completed" in row
    # two policies that count different things under one name get a row each
    assert sum("helper_calls" in line for line in table.splitlines()) == 2
