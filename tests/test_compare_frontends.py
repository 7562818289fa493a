"""``tcglab compare`` runs each workload on the frontend it names, whatever the config's.

One grid can hold several guests' programs; ``check_workloads`` reports a missing
frontend or an ELF of another guest before any run.
"""

from __future__ import annotations

import pytest

from core import compare as cmp
from core.config import parse_config
from core.errors import PluginError, TcglabError
from core.loader import LoaderError
from tests.toyisa import RAM_BASE
from tests.support.hightoy import EM_ARM, EM_RISCV, HIGH_RAM, elf, halt_program, plugins


def test_compare_runs_each_workload_on_its_frontend(tmp_path):
    rv = elf(tmp_path / "rv.elf", EM_RISCV, HIGH_RAM, halt_program())
    arm = elf(tmp_path / "arm.elf", EM_ARM, RAM_BASE, halt_program())
    catalog = {"hi": cmp.Workload("hi", rv, frontend="hightoy"), "lo": cmp.Workload("lo", arm)}
    grid = cmp.resolve_workloads(["hi", "lo"], 1, catalog=catalog, max_insns=1000)
    assert [w.frontend for w in grid] == ["hightoy", ""]
    specs = cmp.grid_specs(grid, ["exclusive-bitmap"], [0], {"machine": {"frontend": "toy"}})
    assert [s.config["machine"]["frontend"] for s in specs] == ["hightoy", "toy"]
    config = parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>")
    cmp.check_workloads(grid, ["exclusive-bitmap", "cmpxchg"], config, plugins())
    swapped = [cmp.GridWorkload("x", str(arm), (), "x", 1000, "hightoy")]
    with pytest.raises(LoaderError, match="'toy'"):
        cmp.check_workloads(swapped, ["exclusive-bitmap"], config, plugins())
    missing = [cmp.GridWorkload("x", str(rv), (), "x", 1000, "riscv-not-installed")]
    with pytest.raises(PluginError, match="unknown frontend"):
        cmp.check_workloads(missing, ["exclusive-bitmap"], config, plugins())
    assert issubclass(PluginError, TcglabError)
