"""``tcglab compare``: aggregation, writers and readers, atomic files, errors, and small
real grids (determinism against a direct run, ``--jobs 2`` == ``--jobs 1``)."""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import sys

import pytest

from core import cli
from core import compare as cmp
from core import output, report
from core.config import parse_config
from core.errors import TcglabError
from core.loader import load_elf
from core.machine import Machine
from core.plugins import PluginManager

# -- synthetic records ------------------------------------------------------------------


def record(workload="w", strategy="s", seed=0, *, passed=True, reason="exit", status=0,
           insns=1000, wall=0.5, sc_fail=1, slow_loads=3, extra_policy=None, output="w: OK"):
    policy = dict.fromkeys(cmp.POLICY_KEYS, 0)
    policy.update(ll=10, sc_ok=9, sc_fail=sc_fail, **(extra_policy or {}))
    machine = dict.fromkeys(cmp.MACHINE_KEYS, 0)
    machine.update(slow_loads=slow_loads, tlb_flushes=2)
    return {"workload": workload, "program": f"/x/{workload}.elf", "args": ["4", "10"],
            "argv": [workload, "4", "10"], "strategy": strategy, "vcpus": 4, "seed": seed,
            "backend": "interp", "schedule": "random", "slice": 1, "jitter": False,
            "max_insns": 5000,
            "passed": passed, "reason": reason, "exit_status": status,
            "message": "" if passed else "why", "insns": insns, "wall_seconds": wall,
            "policy": policy, "machine": machine, "output": output}


def synthetic_runs():
    return [
        record("a", "good", 0, wall=0.25, insns=100),
        record("a", "good", 1, wall=0.5, insns=300),
        record("a", "none", 0, passed=False, status=1, wall=0.125, insns=100, sc_fail=0),
        record("a", "none", 1, passed=False, reason="max-insns", status=0, wall=0.375,
               insns=5000, sc_fail=0),
        record("b", "good", 0, wall=1.0, insns=1000, extra_policy={"custom": 7}),
        record("b", "good", 1, wall=1.0, insns=1000, extra_policy={"custom": 1}),
    ]


def test_aggregate_sums_flags_and_failed_seeds():
    cells = cmp.aggregate(synthetic_runs(), baseline="none")
    assert [(c["workload"], c["strategy"]) for c in cells] == \
        [("a", "good"), ("a", "none"), ("b", "good")]
    good, none, b = cells
    assert good["runs"] == 2 and good["passed"] == 2 and good["passed_all"]
    assert good["seeds"] == [0, 1] and good["failed_seeds"] == []
    assert good["insns"] == 400 and good["wall_seconds"] == 0.75
    assert good["policy"]["ll"] == 20 and good["policy"]["sc_fail"] == 2
    assert good["machine"]["slow_loads"] == 6 and good["machine"]["tlb_flushes"] == 4
    assert good["mips"] == pytest.approx(400 / 0.75 / 1e6)
    assert not none["passed_all"] and none["passed"] == 0
    assert none["failed_seeds"] == [0, 1]
    assert none["failure_reasons"] == ["exit 1", "max-insns"]
    # overhead: the cell's wall time over the baseline's, same workload
    assert good["baseline"] == "none"
    assert good["overhead"] == pytest.approx(0.75 / 0.5)
    assert good["overhead_per_insn"] == pytest.approx((0.75 / 400) / (0.5 / 5100))
    assert none["overhead"] == 1.0
    # no baseline cell for workload b: no overhead
    assert b["overhead"] is None and b["overhead_per_insn"] is None and b["baseline"] is None
    assert b["policy"]["custom"] == 8  # a policy's own extra counters are summed too
    for c in cells:  # identity fields come from the runs
        assert (c["vcpus"], c["backend"], c["schedule"], c["slice"]) == (4, "interp", "random", 1)


def test_aggregate_without_baseline_in_grid_and_table_dash():
    cells = cmp.aggregate(synthetic_runs(), baseline="absent")
    assert all(c["overhead"] is None for c in cells)
    rows = report.table_rows(cells)
    assert all(row[-2] == "-" and row[-1] == "-" for row in rows)
    assert [row[2] for row in rows] == ["ok", "FAIL 2/2", "ok"]


def synthetic_data():
    runs = synthetic_runs()
    return {"meta": {"tcglab": "0", "grid": {"vcpus": 4, "seeds": [0, 1], "baseline": "none",
                                            "backend": "interp", "schedule": "random",
                                            "slice": 1}},
            "runs": runs, "cells": cmp.aggregate(runs, "none")}


def test_json_round_trip(tmp_path):
    data = synthetic_data()
    path = tmp_path / "out.json"
    output.write_json(str(path), data)
    assert report.load_json(str(path)) == data
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_csv_round_trip_one_row_per_cell(tmp_path):
    cells = synthetic_data()["cells"]
    cells[0]["wall_seconds"] = 0.1 + 0.2  # floats survive exactly
    cells[0]["failure_reasons"] = ['exit 1, "quoted"']
    path = tmp_path / "out.csv"
    report.write_csv(str(path), cells)
    text = path.read_text()
    assert len(text.splitlines()) == 1 + len(cells)
    header = text.splitlines()[0].split(",")
    assert "policy.sc_fail" in header and "machine.slow_loads" in header
    assert "policy.custom" in header  # the union of every cell's counters
    loaded = report.load_csv(str(path))
    assert loaded == cells  # a counter a cell lacks is an empty field, read back as absent


def test_load_csv_rejects_other_files(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(TcglabError, match="not a tcglab compare CSV"):
        report.load_csv(str(path))


def test_atomic_write_failure_leaves_nothing(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(TcglabError) as exc:
        output.write_json(str(tmp_path / "out.json"), synthetic_data())
    where = tmp_path / "out.json"
    assert str(exc.value) == f"--json {where}: cannot write: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_interrupted_leaves_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")

    def write(f):
        f.write("half a fi")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        report.write_atomic(str(path), write, what="--csv")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert path.read_text() == "old\n"


def test_written_files_get_the_usual_mode(tmp_path):
    path = tmp_path / "out.json"
    output.write_json(str(path), synthetic_data())
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- the command line: errors before anything runs -------------------------------------


@pytest.fixture
def no_runs(monkeypatch):
    def refuse(spec):
        raise AssertionError(f"a run started: {spec}")
    monkeypatch.setattr(cmp, "run_one", refuse)


def one_line_error(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status != 0
    assert err.count("\n") == 1 and err.startswith("tcglab: error: "), err
    return err


def test_unknown_workload_lists_the_bundled_ones(capsys, no_runs):
    err = one_line_error(capsys, ["compare", "countr", "--jobs", "1"])
    assert "unknown workload 'countr'" in err and "did you mean 'counter'" in err
    for name in cmp.bundled_workloads():
        assert name in err


def test_missing_elf_path(capsys, no_runs, tmp_path):
    err = one_line_error(capsys, ["compare", str(tmp_path / "nope.elf")])
    assert "no such file" in err and "counter" in err


def test_unknown_strategy_lists_the_registered_ones(capsys, no_runs):
    err = one_line_error(capsys, ["compare", "counter", "--strategies",
                                  "exclusive-bitmap,exclusive-bitmop"])
    assert "unknown memory policy 'exclusive-bitmop'" in err
    registered = [n for n, _c, _p in PluginManager().registry.memory_policies]
    assert all(name in err for name in registered)


def test_unknown_baseline_and_bad_counts(capsys, no_runs):
    assert "unknown memory policy 'nope'" in one_line_error(
        capsys, ["compare", "counter", "--baseline", "nope"])
    assert "--seeds 0: must be >= 1" in one_line_error(capsys, ["compare", "--seeds", "0"])
    assert "--jobs x: expected an integer" in one_line_error(capsys, ["compare", "--jobs", "x"])
    assert "--slice -1:" in one_line_error(capsys, ["compare", "counter", "--slice", "-1"])


def test_bad_plugin_option_is_reported_before_running(capsys, no_runs):
    err = one_line_error(capsys, ["compare", "counter", "--strategies", "exclusive-bitmap",
                                  "--set", "plugins.exclusive-bitmap.flush=never"])
    assert "flush" in err and "never" in err


def test_output_directory_must_exist(capsys, no_runs, tmp_path):
    err = one_line_error(capsys, ["compare", "counter", "--json",
                                  str(tmp_path / "missing" / "out.json")])
    assert "--json" in err and "no such directory" in err


def test_plot_without_matplotlib_fails_first(capsys, no_runs, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    err = one_line_error(capsys, ["compare", "counter", "--plot", str(tmp_path / "p.png")])
    assert "--plot needs matplotlib" in err and "tcglab[plot]" in err
    assert list(tmp_path.iterdir()) == []


def test_plot_with_matplotlib(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.png"
    report.write_plot(str(path), synthetic_data())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


def test_list_workloads(capsys):
    assert cli.main(["compare", "--list"]) == 0
    out = capsys.readouterr().out
    for name, w in cmp.bundled_workloads().items():
        assert name in out
    assert not cmp.bundled_workloads()["compute"].in_default_grid


def test_workload_registry_files_exist():
    workloads = cmp.bundled_workloads()
    assert {"counter", "spinlock", "aba", "aba_window", "false_sharing", "compute"} <= \
        set(workloads)
    for w in workloads.values():
        assert w.elf.is_file(), w.elf
        assert w.description and "\n" not in w.description
        w.guest_args(4)  # the template formats
    assert workloads["false_sharing"].guest_args(4) == ("4", "200", "16")
    assert workloads["counter"].guest_args(2) == ("2", "200")
    assert workloads["counter"].budget(8) == 4 * workloads["counter"].budget(4)


# -- real grids ---------------------------------------------------------------------------


def direct_run(program, argv, strategy, vcpus, seed, max_insns):
    """The same cell run by hand, as tests/arm/workload_cases.py does."""
    config = parse_config({"machine": {"vcpus": vcpus, "memory_policy": strategy},
                           "schedule": {"policy": "random", "slice": 8, "jitter": True,
                                        "seed": seed, "max_insns": max_insns}}, "<direct>")
    m = Machine(config, PluginManager())
    out = io.BytesIO()
    m.platform.stdout = m.platform.stderr = out
    m.frontend.boot(load_elf(program, m.memory), argv)
    return m.run(), out.getvalue().decode()


def test_small_grid_prints_a_table_and_matches_a_direct_run(tmp_path, capsys):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    status = cli.main(["compare", "counter", "--strategies", "exclusive-bitmap", "--vcpus",
                       "2", "--seeds", "2", "--jobs", "1", "--no-progress",
                       "--json", str(js), "--csv", str(cs)])
    out = capsys.readouterr().out
    assert status == 0
    assert "counter" in out and "exclusive-bitmap" in out and " ok " in out
    assert "none is not in the grid" in out
    data = report.load_json(str(js))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json"]
    meta = data["meta"]
    assert meta["grid"]["vcpus"] == 2 and meta["grid"]["seeds"] == [0, 1]
    assert meta["grid"]["schedule"] == "random" and meta["grid"]["slice"] == 8
    assert meta["grid"]["jitter"] is True
    assert {"tcglab", "python", "platform", "cpu_count", "date"} <= meta.keys()
    runs = data["runs"]
    assert [(r["workload"], r["strategy"], r["seed"]) for r in runs] == \
        [("counter", "exclusive-bitmap", 0), ("counter", "exclusive-bitmap", 1)]
    for r in runs:
        assert r["passed"] and r["reason"] == "exit" and r["exit_status"] == 0
        assert r["output"] == "counter: cpus=2 iters=200 total=400 OK"
        result, text = direct_run(r["program"], r["argv"], "exclusive-bitmap", 2, r["seed"],
                                  r["max_insns"])
        assert text.splitlines()[0] == r["output"]
        assert result.insns == r["insns"]
        assert result.stats["policy"]["total"] == r["policy"]
        assert {k: sum(v[k] for v in result.stats["vcpus"]) for k in cmp.MACHINE_KEYS} == \
            r["machine"]
    assert runs[0]["insns"] != runs[1]["insns"]  # the PRNG seed matters
    (cell,) = data["cells"]
    assert cell["passed_all"] and cell["insns"] == runs[0]["insns"] + runs[1]["insns"]
    assert report.load_csv(str(cs)) == data["cells"]


def test_failures_are_data(tmp_path, capsys):
    js = tmp_path / "r.json"
    status = cli.main(["compare", "counter", "--strategies", "exclusive-bitmap", "--vcpus",
                       "2", "--seeds", "1", "--jobs", "1", "--no-progress", "--max-insns",
                       "3000", "--json", str(js)])
    out = capsys.readouterr().out
    assert status == 0
    assert "FAIL 1/1" in out and "max-insns" in out
    (run,) = report.load_json(str(js))["runs"]
    assert (run["passed"], run["reason"], run["insns"]) == (False, "max-insns", 3000)
    assert "3000" in run["message"]


def test_a_crashing_component_is_data(monkeypatch, tmp_path):
    def boom(self):
        raise RuntimeError("policy bug")
    monkeypatch.setattr(Machine, "run", boom)
    wl = cmp.resolve_workloads(["counter"], 2)
    specs = cmp.grid_specs(wl, ["exclusive-bitmap"], [0], {"machine": {"vcpus": 2}})
    (rec,) = cmp.run_grid(specs, jobs=1)
    assert (rec["passed"], rec["reason"], rec["message"]) == \
        (False, "crash", "RuntimeError: policy bug")


def test_elf_path_with_args_and_config_layering(tmp_path, capsys):
    elf = str(cmp.bundled_workloads()["counter"].elf)
    js = tmp_path / "r.json"
    status = cli.main(["compare", elf, "--args", "{vcpus} 20", "--strategies",
                       "exclusive-bitmap", "--set", "machine.vcpus=3", "--set",
                       "schedule.slice=5", "--seeds", "1", "--seed-base", "7", "--jobs", "1",
                       "--no-progress", "--json", str(js)])
    capsys.readouterr()
    assert status == 0
    (run,) = report.load_json(str(js))["runs"]
    assert run["workload"] == elf  # "counter" is a bundled name: the path tells them apart
    assert run["args"] == ["3", "20"] and run["argv"] == [elf, "3", "20"]
    assert (run["vcpus"], run["slice"], run["seed"]) == (3, 5, 7)
    assert run["schedule"] == "random"  # compare's default: the config did not set it
    assert run["max_insns"] == cmp.DEFAULT_MAX_INSNS
    assert run["output"] == "counter: cpus=3 iters=20 total=60 OK"


def test_jobs_2_gives_the_same_records_as_jobs_1():
    wl = cmp.resolve_workloads(["counter", "aba_window"], 2)
    specs = cmp.grid_specs(wl, ["exclusive-bitmap"], [0, 1],
                           {"machine": {"vcpus": 2}, "schedule": {"policy": "random",
                                                                  "slice": 1}})
    seen = []
    serial = cmp.run_grid(specs, jobs=1)
    parallel = cmp.run_grid(specs, jobs=2, on_result=lambda s, r: seen.append(s.index))
    assert sorted(seen) == [0, 1, 2, 3]

    def strip(records):
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in records]
    assert strip(parallel) == strip(serial)
    assert all(r["passed"] for r in serial)


def test_interrupt_in_the_runner_writes_nothing(tmp_path, capsys, monkeypatch):
    calls = []

    def interrupted(spec):
        calls.append(spec)
        raise KeyboardInterrupt
    monkeypatch.setattr(cmp, "run_one", interrupted)
    status = cli.main(["compare", "counter", "--strategies", "exclusive-bitmap", "--jobs", "1",
                       "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")])
    assert status == 130 and len(calls) == 1
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_interrupt_terminates_the_pool():
    wl = cmp.resolve_workloads(["counter"], 2)
    specs = cmp.grid_specs(wl, ["exclusive-bitmap"], [0, 1, 2, 3],
                           {"machine": {"vcpus": 2}})

    def on_result(spec, record):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        cmp.run_grid(specs, jobs=2, on_result=on_result)
    assert multiprocessing.active_children() == []


def _plain_json(text: str):
    """``text`` parsed as RFC 8259 JSON: json.loads alone accepts NaN and Infinity."""
    def refuse(name: str):
        raise AssertionError(f"{name} in the JSON output: not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_is_plain_json(tmp_path):
    path = tmp_path / "x.json"
    output.write_json(str(path), synthetic_data())
    _plain_json(path.read_text())  # nothing Python-specific
    data = synthetic_data()  # non-finite floats: written as plain JSON, or refused
    data["cells"][0]["overhead"], data["cells"][1]["mips"] = math.nan, math.inf
    odd = tmp_path / "odd.json"
    try:
        output.write_json(str(odd), data)
    except (ValueError, TcglabError):
        assert not odd.exists()
    else:
        _plain_json(odd.read_text())
