"""``tcglab compare`` on the RISC-V workloads shows the ARM findings: cmpxchg lets the
ABA window's SC succeed (and may corrupt the Treiber stack), exclusive-bitmap does not;
the AMO counter passes under every policy (test_workloads)."""

from __future__ import annotations

import json

from rvsupport import plugins

from core import cli
from core import compare as cmp


def test_workloads_registered_with_their_frontend():
    workloads = cmp.bundled_workloads(plugins().registry)
    for name in ("rv-counter", "rv-amo", "rv-aba", "rv-aba_window",
                 "rv-compute"):
        w = workloads[name]
        assert w.frontend == "riscv32" and w.elf.is_file() and not w.in_default_grid
    grid = cmp.resolve_workloads(["rv-aba_window"], 4, catalog=workloads)
    assert grid[0].frontend == "riscv32" and grid[0].args == ("2", "10")


def test_compare_shows_the_aba_window(tmp_path, capsys):
    out = tmp_path / "grid.json"
    status = cli.main(["compare", "rv-aba_window", "--args", "2 3",
                       "--strategies", "exclusive-bitmap,cmpxchg,none", "--seeds", "1",
                       "--jobs", "1", "--no-progress", "--json", str(out),
                       "--set", "machine.frontend=riscv32"])
    assert status == 0
    table = capsys.readouterr().out
    assert "rv-aba_window" in table
    cells = {(c["workload"], c["strategy"]): c for c in json.loads(out.read_text())["cells"]}
    assert cells[("rv-aba_window", "exclusive-bitmap")]["passed_all"]
    assert not cells[("rv-aba_window", "cmpxchg")]["passed_all"]
    assert cells[("rv-aba_window", "cmpxchg")]["failure_reasons"] == ["exit 1"]
    assert not cells[("rv-aba_window", "none")]["passed_all"]


def test_grid_mixes_guests(tmp_path):
    """One grid, two guests: each workload runs on its own frontend (core.compare)."""
    registry = plugins().registry
    catalog = cmp.bundled_workloads(registry)
    workloads = cmp.resolve_workloads(["rv-counter", "counter"], 2, catalog=catalog)
    config_data = {"machine": {"vcpus": 2}, "schedule": {"slice": 8}}
    specs = cmp.grid_specs(workloads, ["exclusive-bitmap"], [0], config_data)
    assert [s.config["machine"].get("frontend", "arm") for s in specs] == ["riscv32", "arm"]
    runs = cmp.run_grid(specs, jobs=1)
    assert all(r["passed"] for r in runs), [(r["workload"], r["message"]) for r in runs]
