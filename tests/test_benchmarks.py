"""The benchmark script runs end to end in its quick mode (benchmarks/guest_mips.py).

Its numbers are not asserted (speed is measured, never tested); what is tested is that
every engine it promises ran the program to the same output, that the ratios are
computed against the interpreter of the same run, and that the README table is replaced
between its markers and nowhere else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.plugins import PluginManager
from tests.support.oracles import oracles_required

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "guest_mips.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    readme = out / "README.md"
    readme.write_text("# title\n\nbefore\n<!-- benchmarks:begin -->\nold table\n"
                      "<!-- benchmarks:end -->\nafter\n")
    done = run("--quick", "--out", str(out), "--readme", str(readme))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "guest_mips.json").read_text()), out, readme, done


@pytest.mark.slow
def test_every_engine_ran_and_ratios_are_against_this_runs_interp(quick):
    results, _out, _readme, _done = quick
    assert results["mode"] == "quick"
    assert results["machine"]["cores"] >= 1
    engines = {(r["engine"], r["workload"]) for r in results["engines"]}
    for backend in PluginManager(autoload=False).registry.backends.items:
        if f"tcglab {backend}" not in {e for e, _w in engines}:
            # only a backend whose runtime is missing may be left out, and not under CI
            assert not oracles_required(), f"backend {backend} missing from the benchmark"
    try:
        import unicorn  # noqa: F401
        have_unicorn = True
    except ImportError:
        have_unicorn = False
        assert not oracles_required(), "unicorn is required"
    if have_unicorn:
        for mode in ("native", "code-hook", "write-hook"):
            assert (f"unicorn {mode}", "compute") in engines
    if shutil.which("qemu-system-arm"):
        assert ("qemu-system-arm", "compute") in engines
    else:
        assert not oracles_required(), "qemu-system-arm is required"
    for r in results["engines"]:
        interp = next(b for b in results["engines"]
                      if b["engine"] == "tcglab interp" and b["workload"] == r["workload"])
        assert r["insns"] > 0 and r["seconds"] > 0
        assert r["mips"] == pytest.approx(r["insns"] / r["seconds"] / 1e6, rel=1e-3)
        assert r["vs_interp"] == pytest.approx(r["mips"] / interp["mips"], abs=0.01)
        if r["vcpus"] == 1:  # single-CPU runs execute the same instructions everywhere
            assert r["insns"] == interp["insns"]


@pytest.mark.slow
def test_strategy_rows_cover_every_strategy_relative_to_none(quick):
    results = quick[0]
    strategies = set(PluginManager(autoload=False).registry.memory_policies.items)
    rows = results["strategies"]
    assert {r["strategy"] for r in rows} == strategies
    for r in rows:
        none = next(b for b in rows if b["workload"] == r["workload"] and b["strategy"] == "none")
        assert r["time_vs_none"] == pytest.approx(r["seconds"] / none["seconds"], abs=0.01)
    assert all(r["passed"] for r in rows if r["strategy"] in ("exclusive-bitmap", "arm-monitor"))


@pytest.mark.slow
def test_markdown_table_written_and_readme_replaced_between_markers_only(quick):
    results, out, readme, done = quick
    table = (out / "guest_mips.md").read_text()
    assert table in done.stdout
    engine_lines = [line for line in table.splitlines() if line.startswith("| tcglab")
                    or line.startswith("| unicorn") or line.startswith("| qemu")]
    assert len(engine_lines) == len(results["engines"])
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n<!-- benchmarks:begin -->\n")
    assert text.endswith("<!-- benchmarks:end -->\nafter\n")
    assert "old table" not in text and table in text


def test_bad_output_directory_and_readme_without_markers_are_one_line_errors(tmp_path):
    done = run("--quick", "--out", str(tmp_path / "missing"))
    assert done.returncode == 2 and "no such directory" in done.stderr
    assert "Traceback" not in done.stderr
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    done = run("--quick", "--out", str(tmp_path), "--readme", str(readme))
    assert done.returncode == 2 and "markers" in done.stderr.splitlines()[-1]
    assert readme.read_text() == "no markers here\n"  # untouched
    assert not (tmp_path / "guest_mips.json").exists()  # failed before measuring
